/**
 * `loader scan PATH...`: loads local folders and DICOMDIR files into the
 * archive index, reading headers only. Bad files are counted and reported;
 * they never stop the scan.
 */
import fs from 'node:fs';
import path from 'node:path';

import type { Command } from 'commander';

import { scanPaths } from '../../services/archive';
import type { ScanReport } from '../../services/archive';
import { ExitCode, countOf, openWritableArchive, resolveArchiveRoot, resolveLegacyCharacterSetWithSource, UsageError } from '../context';
import type { GlobalOptions } from '../context';
import { printScanProblems, printStudies, scanHasProblems } from '../scan-report';
import { abortOnInterrupt } from './echo';
import { ProgressLine } from '../terminal';

function describeConflicts(report: ScanReport, imported: boolean): string {
  if (imported) return `${countOf(report.conflicts, 'conflict')} kept aside in the archive's .conflicts folder`;
  return `${report.conflicts} not indexed (another file with the same SOP Instance UID is indexed, or the study belongs to another Patient ID)`;
}

function printReport(report: ScanReport, imported: boolean): void {
  const out = (line: string) => process.stdout.write(line + '\n');
  const counts = [
    `${report.indexed} indexed`,
    `${report.updated} indexed again (changed since the last scan)`,
    `${report.imported} imported`,
    `${report.duplicates} already stored`,
    describeConflicts(report, imported),
    `${report.notDicom.length} not DICOM`,
    `${report.damaged.length} damaged`,
    `${report.unreadable.length} unreadable`,
    `${countOf(report.skippedRecords.length, 'DICOMDIR record')} skipped`,
    `${countOf(report.specialFiles.length, 'special file')} skipped (not a regular file)`,
  ];
  out(`scanned ${countOf(report.scanned, 'file')}: ${counts.join(', ')}`);
  // Missing files do not exist, so they are not part of the scanned count above.
  if (report.missing.length > 0) out(`${countOf(report.missing.length, 'file')} missing: given or referenced by a DICOMDIR, but not found`);
  if (report.cancelled) {
    out('scan cancelled: files after the last one counted were not examined; run the same scan again to index them (files indexed so far stay indexed)');
  }
  printScanProblems(out, report, true);
  printStudies(out, report);
}

/**
 * Returns the exit code of a scan: 3 for problems and for a cancelled scan
 * that stored some files, and 1 for a cancelled scan that stored none (as
 * for a cancelled `get`). Non-DICOM files are no problem (see EXIT_CODE_HELP).
 */
function exitCodeOf(report: ScanReport): number {
  if (report.cancelled) {
    const stored = report.indexed + report.updated + report.imported + report.duplicates;
    return stored > 0 ? ExitCode.PartialSuccess : ExitCode.Failure;
  }
  return scanHasProblems(report, false) ? ExitCode.PartialSuccess : ExitCode.Success;
}

const EXIT_CODE_HELP = `
A folder that contains a DICOMDIR is read as DICOM media: only the files that
its directory records reference are scanned. The other files there (a viewer
program, AUTORUN.INF) are counted, and those that start with DICM are listed.

Exit codes:
  0  every file found was indexed or imported, or was already stored, or is
     not DICOM (no DICM prefix and no data set at its start): non-DICOM files
     are counted and summarized but do not change the exit code
  1  failure, such as an archive that cannot be opened, or a scan cancelled
     before any file was stored
  2  wrong usage, such as none of the given paths exists
  3  partial success: some files are damaged DICOM or unreadable, a given
     path or a file that a DICOMDIR references does not exist, DICOMDIR
     records with unsafe paths were skipped, files were not indexed because
     of a conflict or another Patient ID, or the scan was cancelled after
     some files were stored`;

/** Raises a UsageError when none of the given paths exist; the scan reports the missing ones when some do. */
function requireAnyPathExists(paths: string[]): void {
  if (paths.some((given) => fs.existsSync(given))) return;
  const names = paths.map((given) => path.resolve(given)).join(', ');
  throw new UsageError(`nothing to scan: ${paths.length === 1 ? 'the given path does not' : 'none of the given paths'} exist: ${names}`);
}

export function registerScan(program: Command, globals: () => GlobalOptions): void {
  program
    .command('scan <paths...>')
    .description(
      'index DICOM files in folders and DICOMDIRs (headers only); --import copies them into the archive. ' +
        'Symbolic links to folders are followed only when they lead to a folder inside the given paths that the scan has not entered yet.',
    )
    .option('--import', 'copy files into the archive instead of indexing them where they are')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', EXIT_CODE_HELP)
    .action(async (paths: string[], options: { import?: boolean; json?: boolean }) => {
      requireAnyPathExists(paths);
      const archive = openWritableArchive(resolveArchiveRoot(globals()), resolveLegacyCharacterSetWithSource(globals()));
      const progress = new ProgressLine();
      const interrupt = abortOnInterrupt();
      try {
        const report = await scanPaths(archive, paths, {
          import: Boolean(options.import),
          signal: interrupt.signal,
          onProgress: (state) =>
            progress.update(`scanning: ${state.scanned} files, ${state.indexed} indexed, ${state.failed} bad — ${state.currentPath ?? ''}`),
        });
        progress.done();
        if (options.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
        else printReport(report, Boolean(options.import));
        process.exitCode = exitCodeOf(report);
      } finally {
        interrupt.dispose();
        archive.close();
      }
    });
}
