/**
 * Text output of scan reports, shared by `loader scan` and `loader ssh get`:
 * problem lists and the table of the studies found.
 */
import type { FileProblem, ScanReport } from '../services/archive';
import type { RemoteProblem } from '../services/ssh';
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
