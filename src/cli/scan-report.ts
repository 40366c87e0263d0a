/**
 * Text output of scan reports, shared by `loader scan` and `loader ssh get`:
 * problem lists and the table of the studies found.
 */
import type { FileProblem, ScanReport } from '../services/archive';
import type { RemoteProblem } from '../services/ssh';
import { countOf } from './context';
import { formatTable } from './terminal';

/** Problem lines printed per list; --json lists them all. */
export const MAX_LISTED_PROBLEMS = 20;

/** Prints up to MAX_LISTED_PROBLEMS lines of `label: path: reason`, then a count of the rest. */
export function printProblems(out: (line: string) => void, label: string, problems: Array<RemoteProblem | FileProblem>): void {
  for (const item of problems.slice(0, MAX_LISTED_PROBLEMS)) {
    const where = 'remotePath' in item ? item.remotePath : item.path;
    out(`${label}: ${where}: ${item.reason}`);
  }
  const more = problems.length - MAX_LISTED_PROBLEMS;
  if (more > 0) out(`${label}: … and ${more} more (use --json for all)`);
}

/** Prints the counts of links not followed and index entries replaced, then every problem list of a scan. */
export function printScanProblems(out: (line: string) => void, report: ScanReport): void {
  if (report.otherPatient.length > 0) {
    out(`${countOf(report.otherPatient.length, 'file')} of another patient than the study or series indexed under its UIDs`);
  }
  if (report.skippedLinks.length > 0) out(`${countOf(report.skippedLinks.length, 'symbolic link')} not followed`);
  const overwritten = report.replaced.filter((file) => file.sopInstanceUid !== '').length;
  if (overwritten > 0) out(`${countOf(overwritten, 'instance')} removed from the index: another instance overwrote its file`);
  const broken = report.replaced.length - overwritten;
  if (broken > 0) out(`${countOf(broken, 'instance')} removed from the index: its file is now damaged or not DICOM`);
  printProblems(out, 'not DICOM', report.notDicom);
  printProblems(out, 'damaged', report.damaged);
  printProblems(out, 'unreadable', report.unreadable);
  printProblems(out, 'missing', report.missing);
  printProblems(out, 'not indexed', report.notIndexed);
  printProblems(out, 'DICOMDIR record skipped', report.skippedRecords);
  printProblems(out, 'other patient', report.otherPatient);
  printProblems(out, 'link not followed', report.skippedLinks);
  printProblems(out, 'special file', report.specialFiles);
  printProblems(out, 'replaced', report.replaced);
}

/**
 * Returns true when a problem list is not empty: a file was not indexed, or indexed under another patient. The exit code is then 3.
 * Links not followed, special files and replaced index entries are listed but do not count as problems.
 */
export function scanHasProblems(report: ScanReport): boolean {
  const lists = [report.notDicom, report.damaged, report.unreadable, report.missing, report.notIndexed, report.skippedRecords, report.otherPatient];
  return lists.some((list) => list.length > 0);
}

/** Prints a blank line and the table of studies in the report, or nothing when it has none. */
export function printStudies(out: (line: string) => void, scan: ScanReport): void {
  if (scan.studies.length === 0) return;
  out('');
  out(
    formatTable(
      ['STUDY DATE', 'PATIENT NAME', 'PATIENT ID', 'MODALITIES', 'DESCRIPTION', 'INSTANCES', 'STUDY INSTANCE UID'],
      scan.studies.map((study) => [
        study.studyDate ?? '',
        study.patientName ?? '',
        study.patientId ?? '',
        (study.modalitiesInStudy ?? []).join('\\'),
        study.studyDescription ?? '',
        String(study.numberOfInstances ?? ''),
        study.studyInstanceUid,
      ]),
      64,
      // The UID is what later commands take, so it is never cut.
      [6],
    ),
  );
}
