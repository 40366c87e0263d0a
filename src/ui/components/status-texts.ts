/**
 * Status bar texts of transfers and scans. This module does not import
 * NodeGui, so the texts can be tested without a window.
 */
import { escapeControlCharacters } from '../../services/control-characters';
import type { ScanSummary, StudyRow, TransferProgress, TransferResult } from '../controllers/app-controller';
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
  // The DICM count follows the unreferenced count, because its text says "of them".
  ['unreferenced', 'scan.done.unreferenced'],
  ['unreferencedDicomLike', 'scan.done.unreferencedDicomLike'],
  ['specialFiles', 'scan.done.specialFiles'],
];

/** Returns the text of a finished scan: files scanned and indexed, then each other count that is not zero. */
export function scanDoneText(t: Translate, summary: ScanSummary): string {
  return countsText(t('scan.done', { scanned: summary.scanned, indexed: summary.indexed }), t, summary);
}

/** Returns the text of a finished import into the archive: files scanned and copied, then each other count that is not zero. */
export function importDoneText(t: Translate, summary: ScanSummary): string {
  return countsText(t('import.done', { scanned: summary.scanned, copied: summary.indexed }), t, summary);
}

/** Returns the text of a disc or USB folder read into an index in memory: files scanned and listed, each other count that is not zero, then the next steps. */
export function mediaReadText(t: Translate, summary: ScanSummary): string {
  return `${countsText(t('media.read', { scanned: summary.scanned, indexed: summary.indexed }), t, summary)}. ${t('media.readHint')}`;
}

function countsText(head: string, t: Translate, summary: ScanSummary): string {
  const parts = [head];
  for (const [field, key] of SCAN_COUNTS) {
    if (summary[field] > 0) parts.push(t(key, { count: summary[field] }));
  }
  return parts.join(', ');
}

/** Number of patients that the send dialog names before it counts the rest. */
export const SHOWN_PATIENTS = 3;

/**
 * Returns the lines of the send dialog that name the patients of the selected
 * studies: a heading, then "name, Patient ID id" for each distinct pair, in
 * the order of the selection, up to SHOWN_PATIENTS, then the number of the others.
 * Selected UIDs without a row are skipped, and the text is empty when none has one.
 */
export function selectedPatientsText(t: Translate, rows: Pick<StudyRow, 'studyInstanceUid' | 'patientName' | 'patientId'>[], selectedUids: string[]): string {
  const rowsByUid = new Map(rows.map((row) => [row.studyInstanceUid, row]));
  const patients = new Map<string, string>();
  for (const uid of selectedUids) {
    const row = rowsByUid.get(uid);
    if (!row) continue;
    // Control characters show as escapes, so a newline in a name cannot split the patient's line in two.
    const name = row.patientName.trim() === '' ? t('transfer.noPatientName') : escapeControlCharacters(row.patientName);
    const id = row.patientId.trim() === '' ? t('transfer.noPatientId') : escapeControlCharacters(row.patientId);
    patients.set(`${row.patientName}\u0000${row.patientId}`, t('transfer.patient', { name, id }));
  }
  const patientLines = [...patients.values()];
  if (patientLines.length === 0) return '';
  const lines = [t('transfer.patients'), ...patientLines.slice(0, SHOWN_PATIENTS)];
  if (patientLines.length > SHOWN_PATIENTS) lines.push(t('transfer.patientsMore', { count: patientLines.length - SHOWN_PATIENTS }));
  return lines.join('\n');
}
