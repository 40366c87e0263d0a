/**
 * Status bar texts of transfers and scans. This module does not import
 * NodeGui, so the texts can be tested without a window.
 */
import type { ScanSummary, TransferProgress, TransferResult } from '../controllers/app-controller';
import type { MessageKey, Translate } from '../i18n';

/** Direction of a transfer between the panels: a send with C-STORE, or a retrieve (C-GET, C-MOVE or an SSH copy). */
export type TransferDirection = 'send' | 'retrieve';

/** Returns the progress text of a transfer and the share of instances done, in percent. */
export function progressText(t: Translate, direction: TransferDirection, progress: TransferProgress): { text: string; percent: number } {
  const percent = progress.instancesTotal ? Math.min(100, Math.round((progress.instancesDone / progress.instancesTotal) * 100)) : Math.round((progress.studiesDone / Math.max(1, progress.studiesTotal)) * 100);
  const key = direction === 'send' ? 'status.progress' : 'status.retrieveProgress';
  return { text: t(key, { studies: `${progress.studiesDone}/${progress.studiesTotal}`, instances: progress.instancesDone, percent }), percent };
}

/** Returns the text of a finished transfer, which counts instances sent for a send and instances received for a retrieve. */
export function transferResultText(t: Translate, direction: TransferDirection, result: Pick<TransferResult, 'instances' | 'failures' | 'outcome'>): string {
  const counts = { instances: result.instances, failures: result.failures.length };
  if (result.outcome === 'success') return t('status.done', counts);
  if (direction === 'send') return t(result.outcome === 'partial' ? 'status.sendPartial' : 'status.sendFailed', counts);
  return t(result.outcome === 'partial' ? 'status.partial' : 'status.transferFailed', counts);
}

/** Counts of a scan that the status bar shows only when they are not zero, in the order shown. */
const SCAN_COUNTS: [keyof ScanSummary, MessageKey][] = [
  ['duplicates', 'scan.done.duplicates'],
  ['damaged', 'scan.done.damaged'],
  ['unreadable', 'scan.done.unreadable'],
  ['notDicom', 'scan.done.notDicom'],
  ['conflicts', 'scan.done.conflicts'],
  ['missing', 'scan.done.missing'],
  ['specialFiles', 'scan.done.specialFiles'],
];

/** Returns the text of a finished scan: files scanned and indexed, then each other count that is not zero. */
export function scanDoneText(t: Translate, summary: ScanSummary): string {
  const parts = [t('scan.done', { scanned: summary.scanned, indexed: summary.indexed })];
  for (const [field, key] of SCAN_COUNTS) {
    if (summary[field] > 0) parts.push(t(key, { count: summary[field] }));
  }
  return parts.join(', ');
}
