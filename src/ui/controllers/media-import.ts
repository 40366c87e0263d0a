/**
 * Discs and USB sticks in the window: a media folder is browsed from an index
 * in memory, so nothing is written to it, and its files are imported into an
 * archive as copies, as `loader scan --import` does. It imports nothing from
 * Qt, so tests drive it without a display.
 */
import fs from 'node:fs';
import path from 'node:path';

import type { LocalArchive, ScanReport } from '../../services/archive';
import { INDEX_FILE } from '../../services/archive';
import { findReadOnlyReason } from '../../services/archive/read-only';
import type { ScanSummary, TransferFailure, TransferProgress, TransferResult } from './app-controller';

/**
 * Returns true when a Local panel should show `folder` from an index in
 * memory: the folder has no index.sqlite, and it is read-only or has a
 * DICOMDIR, which marks DICOM media. Opening it as an
 * archive would create an index and the archive's folders in it.
 */
export function isMediaFolder(folder: string): boolean {
  if (fs.existsSync(path.join(folder, INDEX_FILE))) return false;
  if (findReadOnlyReason(folder) !== undefined) return true;
  return hasDicomdir(folder);
}

/** Returns true when `folder` contains a file named DICOMDIR, in any case, as discs written on other systems name it. */
function hasDicomdir(folder: string): boolean {
  try {
    return fs.readdirSync(folder).some((name) => name.toUpperCase() === 'DICOMDIR');
  } catch {
    return false;
  }
}

/** Returns the counts that the status bar shows for a scan, an import or a media read. */
export function summarizeScan(report: ScanReport): ScanSummary {
  return {
    scanned: report.scanned,
    indexed: report.indexed + report.updated + report.imported,
    duplicates: report.duplicates,
    damaged: report.damaged.length,
    unreadable: report.unreadable.length,
    notDicom: report.notDicom.length,
    conflicts: report.conflicts,
    missing: report.missing.length,
    specialFiles: report.specialFiles.length,
    unreferenced: sum(report.unreferenced.map((entry) => entry.count)),
    unreferencedDicomLike: sum(report.unreferenced.map((entry) => entry.dicomLike.length)),
  };
}

/**
 * Lists the files of a scan report that were not indexed or copied, by path,
 * for the status bar's failure list: not DICOM, damaged, unreadable, missing,
 * kept aside because of a conflict, and of another patient.
 */
export function scanProblems(report: ScanReport): TransferFailure[] {
  const problems = [...report.notDicom, ...report.damaged, ...report.unreadable, ...report.missing, ...report.skippedRecords, ...report.notIndexed, ...report.otherPatient];
  return problems.map((problem) => ({ uid: problem.path, reason: problem.reason }));
}

/** A finished import of a folder: the counts of the scan and the files that were not copied. */
export interface ImportSummary {
  summary: ScanSummary;
  problems: TransferFailure[];
}

/** Copies the DICOM files under `folder` into `archive`, as `loader scan --import` does, and writes nothing to `folder`. */
export async function importFolder(archive: LocalArchive, folder: string, onProgress: (scanned: number, copied: number) => void): Promise<ImportSummary> {
  const report = await archive.scanPaths([path.resolve(folder)], { import: true, onProgress: (progress) => onProgress(progress.scanned, progress.imported) });
  return { summary: summarizeScan(report), problems: scanProblems(report) };
}

/**
 * Copies the files of the selected studies of `source` into `target`, as an
 * import of those files. Instances that `target` has already count as done.
 * Files that fail are listed by path, and a study without any instance in
 * `source` is listed by its Study Instance UID.
 */
export async function copyStudies(source: LocalArchive, target: LocalArchive, studyUids: string[], onProgress: (progress: TransferProgress) => void): Promise<TransferResult> {
  const failures: TransferFailure[] = [];
  const files: string[] = [];
  for (const studyInstanceUid of studyUids) {
    const instances = source.listInstances({ studyInstanceUid });
    if (instances.length === 0) failures.push({ uid: studyInstanceUid, reason: `the folder ${source.root} no longer lists this study` });
    for (const instance of instances) files.push(instance.path);
  }
  const instancesTotal = files.length;
  onProgress({ studiesDone: 0, studiesTotal: studyUids.length, instancesDone: 0, instancesTotal });
  const report = await target.scanPaths(files, {
    import: true,
    onProgress: (progress) => onProgress({ studiesDone: 0, studiesTotal: studyUids.length, instancesDone: progress.imported + progress.duplicates, instancesTotal }),
  });
  failures.push(...scanProblems(report));
  const instances = report.imported + report.duplicates;
  onProgress({ studiesDone: studyUids.length, studiesTotal: studyUids.length, instancesDone: instances, instancesTotal });
  let outcome: TransferResult['outcome'] = 'failure';
  if (failures.length === 0) outcome = 'success';
  else if (instances > 0) outcome = 'partial';
  return { instances, failures, outcome };
}

/** Returns the sum of `values`. */
export function sum(values: Iterable<number>): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}
