/**
 * Texts of the deletion of a Local panel's studies: the confirmation dialog
 * and the status bar's outcome. This module does not import NodeGui, so the
 * texts can be tested without a window.
 */
import type { DeletionPlan, DeletionReport } from '../../services/archive';
import { formatSize } from '../../services/format-size';
import { formatPersonName } from '../controllers/app-controller';
import type { TransferFailure } from '../controllers/app-controller';
import type { Translate } from '../i18n';
import { selectedPatientsText } from './status-texts';

/**
 * Returns the question of the deletion dialog: the number of studies,
 * instances and bytes that `plan` deletes from `archive`, and the patients as
 * the send dialog names them. Instances indexed in place and copies kept
 * aside in .conflicts get a paragraph each.
 */
export function deletionConfirmText(t: Translate, plan: DeletionPlan, archive: string): string {
  const paragraphs = [t('delete.confirm', { count: plan.studies.length, instances: plan.instances, size: formatSize(plan.bytes), archive })];
  const rows = plan.studies.map(({ study }) => ({ studyInstanceUid: study.studyInstanceUid, patientName: formatPersonName(study.patientName), patientId: study.patientId }));
  const patients = selectedPatientsText(t, rows, rows.map((row) => row.studyInstanceUid));
  if (patients !== '') paragraphs.push(patients);
  if (plan.inPlaceInstances > 0) paragraphs.push(t('delete.confirm.inPlace', { count: plan.inPlaceInstances }));
  if (plan.keptCopies.length > 0) {
    const keptBytes = plan.keptCopies.reduce((total, copy) => total + copy.size, 0);
    paragraphs.push(t('delete.confirm.keptCopies', { count: plan.keptCopies.length, size: formatSize(keptBytes) }));
  }
  paragraphs.push(t('delete.confirm.final'));
  return paragraphs.join('\n');
}

/** Returns the status bar text of a finished deletion: what it removed, then each other count that is not zero. */
export function deletionResultText(t: Translate, report: DeletionReport): string {
  const parts = [t('delete.done', { studies: report.studies.length, instances: report.instances, size: formatSize(report.bytes) })];
  if (report.inPlaceInstances > 0) parts.push(t('delete.done.inPlace', { count: report.inPlaceInstances }));
  if (report.keptCopies > 0) parts.push(t('delete.done.keptCopies', { count: report.keptCopies }));
  const grown = report.studies.filter((study) => study.remainingInstances > 0).length;
  if (grown > 0) parts.push(t('delete.done.remaining', { count: grown }));
  if (report.failures.length > 0) parts.push(t('delete.done.failures', { count: report.failures.length }));
  return parts.join(', ');
}

/** Returns the status bar's list entries of the files that a deletion did not remove: path and error. */
export function deletionFailures(report: DeletionReport): TransferFailure[] {
  return report.failures.map((failure) => ({ uid: failure.path, reason: failure.error }));
}
