/**
 * `loader ssh get` as a service: download into the staging folder, then import
 * and index the files into the local archive as a local scan with import does.
 */
import fs from 'node:fs';
import path from 'node:path';

import { scanPaths } from '../archive';
import type { FileProblem, LocalArchive, ScanProgress, ScanReport } from '../archive';
import type { OtherPatientFile } from '../archive/scan';
import { downloadPaths } from './download';
import type { DownloadOptions, DownloadReport, SessionFactory } from './download';
import { stagedPathRedactor } from './log-fields';

export interface FetchOptions extends DownloadOptions {
  /** Keep the downloaded copies in the staging folder after the import (default false). */
  keepStaging?: boolean;
  onScanProgress?: (progress: ScanProgress) => void;
}

/** A downloaded file the import skipped: `path` is the staged copy, which is removed after the import unless keepStaging is set. */
export interface FetchedFileProblem extends FileProblem {
  /** The file on the SSH server; absent for a file that the staging folder contained from an earlier run. */
  remotePath?: string;
}

export interface FetchReport {
  download: DownloadReport;
  /**
   * The import of the downloaded files; its studies are the ones the files
   * contain. It runs after a cancelled download too, on the files completed.
   */
  scan: Omit<ScanReport, 'notDicom' | 'damaged' | 'notIndexed' | 'otherPatient'> & {
    notDicom: FetchedFileProblem[];
    damaged: FetchedFileProblem[];
    notIndexed: FetchedFileProblem[];
    otherPatient: Array<OtherPatientFile & FetchedFileProblem>;
  };
}

/** Adds the remote path of each problem whose staged copy this download wrote. */
function withRemotePaths<T extends FileProblem>(problems: T[], remoteOf: Map<string, string>): Array<T & FetchedFileProblem> {
  return problems.map((problem) => {
    const remotePath = remoteOf.get(path.resolve(problem.path));
    return remotePath === undefined ? problem : { ...problem, remotePath };
  });
}

/** Removes the given files and then every folder below `root` that became empty. */
function removeStagedFiles(root: string, files: string[]): void {
  const folders = new Set<string>();
  for (const file of files) {
    fs.rmSync(file, { force: true });
    for (let folder = path.dirname(file); folder.startsWith(root + path.sep); folder = path.dirname(folder)) folders.add(folder);
  }
  // Deeper folders first, so a parent is empty by the time it is tried.
  for (const folder of [...folders].sort((a, b) => b.length - a.length)) {
    try {
      fs.rmdirSync(folder);
    } catch {
      // The folder is not empty because it still contains files of another job.
    }
  }
}

/**
 * Downloads `remotePaths` and imports the received files into `archive`. The
 * staged copies are removed after the import unless keepStaging is set. When
 * the download or the import raises, they stay so that a retry can reuse them.
 */
export async function fetchIntoArchive(
  openSession: SessionFactory,
  remotePaths: string[],
  archive: LocalArchive,
  options: FetchOptions,
): Promise<FetchReport> {
  const download = await downloadPaths(openSession, remotePaths, options);
  const localFiles = download.files.map((file) => file.localPath);
  // NOTE: a staged folder may also contain complete files left by an earlier run with a failed import or keepStaging.
  // The scan imports them too, and those already in the archive count as duplicates.
  const scan = await scanPaths(archive, download.stagedPaths, {
    import: true,
    onProgress: options.onScanProgress,
    redactLogText: stagedPathRedactor(path.join(options.stagingDir, 'files'), download.files),
  });
  if (!options.keepStaging) removeStagedFiles(path.resolve(options.stagingDir), localFiles);
  const remoteOf = new Map(download.files.map((file) => [path.resolve(file.localPath), file.remotePath]));
  return {
    download,
    scan: {
      ...scan,
      notDicom: withRemotePaths(scan.notDicom, remoteOf),
      damaged: withRemotePaths(scan.damaged, remoteOf),
      notIndexed: withRemotePaths(scan.notIndexed, remoteOf),
      otherPatient: withRemotePaths(scan.otherPatient, remoteOf),
    },
  };
}
