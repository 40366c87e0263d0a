/**
 * Text output of scan reports, shared by `loader scan` and `loader ssh get`:
 * problem lists and the table of the studies found.
 */
import path from 'node:path';

import type { FileProblem, ScanReport } from '../services/archive';
import type { RemoteProblem } from '../services/ssh';
import { countOf } from './context';
import { formatStudyTable, sortNewestFirst } from './study-table';
import { escapeControlCharacters } from './terminal';

/** Problem lines printed per list; --json lists them all. */
export const MAX_LISTED_PROBLEMS = 20;

/**
 * Prints up to MAX_LISTED_PROBLEMS lines of `label: path: reason`, then a count
 * of the rest. Control characters in paths and reasons are shown as escapes, so
 * a file name with a newline cannot print a line of its own.
 */
export function printProblems(out: (line: string) => void, label: string, problems: Array<RemoteProblem | FileProblem>): void {
  for (const item of problems.slice(0, MAX_LISTED_PROBLEMS)) {
    const where = 'remotePath' in item ? item.remotePath : item.path;
    out(`${label}: ${escapeControlCharacters(where)}: ${escapeControlCharacters(item.reason)}`);
  }
  const more = problems.length - MAX_LISTED_PROBLEMS;
  if (more > 0) out(`${label}: … and ${more} more (use --json for all)`);
}

/** Paths, or file name extensions, that a summary line names before it counts the rest. */
const MAX_SUMMARY_ITEMS = 3;

/**
 * Prints the counts of links not followed and index entries replaced, then
 * every problem list of a scan. With `summarizeNotDicom`, non-DICOM files get
 * one line with their count by file name extension instead of one line each.
 */
export function printScanProblems(out: (line: string) => void, report: ScanReport, summarizeNotDicom = false): void {
  if (report.otherPatient.length > 0) {
    out(`${countOf(report.otherPatient.length, 'file')} of another patient than the study or series indexed under its UIDs`);
  }
  if (report.studiesWithOtherPatientName > 0) {
    const studies = countOf(report.studiesWithOtherPatientName, 'study', 'studies');
    const verb = report.studiesWithOtherPatientName === 1 ? 'carries' : 'carry';
    out(`${studies} ${verb} another Patient's Name than the patient record of their Patient ID (see the warnings in the log)`);
  }
  if (report.skippedLinks.length > 0) out(`${countOf(report.skippedLinks.length, 'symbolic link')} not followed`);
  const overwritten = report.replaced.filter((file) => file.sopInstanceUid !== '').length;
  if (overwritten > 0) out(`${countOf(overwritten, 'instance')} removed from the index: another instance overwrote its file`);
  const broken = report.replaced.length - overwritten;
  if (broken > 0) out(`${countOf(broken, 'instance')} removed from the index: its file is now damaged or not DICOM`);
  printUnreferenced(out, report.unreferenced);
  if (summarizeNotDicom) printNotDicomSummary(out, report.notDicom);
  else printProblems(out, 'not DICOM', report.notDicom);
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

/** Prints one line per DICOMDIR whose folder contains files that it does not reference, and one for those among them that start with DICM. */
function printUnreferenced(out: (line: string) => void, unreferenced: ScanReport['unreferenced']): void {
  for (const entry of unreferenced) {
    const dicomdir = escapeControlCharacters(entry.dicomdir);
    out(`DICOMDIR ${dicomdir}: ${countOf(entry.count, 'file')} in its folder that no directory record references, not scanned`);
    const dicomLike = entry.dicomLike;
    if (dicomLike.length === 0) continue;
    out(
      `DICOMDIR ${dicomdir}: ${dicomLike.length} of them ${dicomLike.length === 1 ? 'starts' : 'start'} with DICM, so the DICOMDIR may lack their records: ` +
        `${listSome(dicomLike)}. Give their paths to "loader scan" to index them`,
    );
  }
}

/** Prints the number of non-DICOM files by file name extension, and a few of their paths. */
function printNotDicomSummary(out: (line: string) => void, notDicom: readonly FileProblem[]): void {
  if (notDicom.length === 0) return;
  const byExtension = new Map<string, number>();
  for (const file of notDicom) {
    const extension = path.extname(file.path).toLowerCase() || 'no extension';
    byExtension.set(extension, (byExtension.get(extension) ?? 0) + 1);
  }
  const counts = [...byExtension].sort((a, b) => b[1] - a[1]).map(([extension, count]) => `${count} ${extension}`);
  const shownCounts = counts.length > MAX_SUMMARY_ITEMS ? [...counts.slice(0, MAX_SUMMARY_ITEMS), 'other extensions'] : counts;
  out(`not DICOM: ${countOf(notDicom.length, 'file')} (${shownCounts.join(', ')}), such as ${listSome(notDicom.map((file) => file.path))}; --json lists each with the reason`);
}

/** Joins up to MAX_SUMMARY_ITEMS paths, control characters escaped, and counts the rest. */
function listSome(paths: readonly string[]): string {
  const shownPaths = paths.slice(0, MAX_SUMMARY_ITEMS).map(escapeControlCharacters).join(', ');
  const more = paths.length - MAX_SUMMARY_ITEMS;
  return more > 0 ? `${shownPaths} and ${more} more` : shownPaths;
}

/**
 * Returns true when a file was not indexed, or was indexed under another
 * patient. `loader scan` then exits with 3. Non-DICOM files count only when
 * `countNotDicom` is set, as for `loader ssh get`, whose files were all
 * chosen for download. Links not followed, special files, files that a
 * DICOMDIR does not reference and replaced index entries are listed but do
 * not count.
 */
export function scanHasProblems(report: ScanReport, countNotDicom = true): boolean {
  const lists = [report.damaged, report.unreadable, report.missing, report.notIndexed, report.skippedRecords, report.otherPatient];
  if (countNotDicom) lists.push(report.notDicom);
  return lists.some((list) => list.length > 0);
}

/** Prints a blank line and the table of studies in the report, newest first, or nothing when it has none. */
export function printStudies(out: (line: string) => void, scan: ScanReport): void {
  if (scan.studies.length === 0) return;
  out('');
  out(formatStudyTable(sortNewestFirst(scan.studies)));
}
