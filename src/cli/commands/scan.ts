/**
 * `loader scan PATH...`: loads local folders and DICOMDIR files into the
 * archive index, reading headers only. Bad files are counted and reported;
 * they never stop the scan.
 */
import type { Command } from 'commander';

import { LocalArchive, scanPaths } from '../../services/archive';
import type { ScanReport } from '../../services/archive';
import { ExitCode, resolveArchiveRoot } from '../context';
import type { GlobalOptions } from '../context';
import { formatTable, ProgressLine } from '../terminal';

function printReport(report: ScanReport): void {
  const out = (line: string) => process.stdout.write(line + '\n');
  out(
    `scanned ${report.scanned} files: ${report.indexed} indexed, ${report.imported} imported, ` +
      `${report.duplicates} already stored, ${report.conflicts} conflicts kept aside, ` +
      `${report.notDicom.length} not DICOM, ${report.damaged.length} damaged`,
  );
  for (const item of report.notDicom) out(`not DICOM: ${item.path}: ${item.reason}`);
  for (const item of report.damaged) out(`damaged: ${item.path}: ${item.reason}`);
  if (report.studies.length > 0) {
    out('');
    out(
      formatTable(
        ['STUDY DATE', 'PATIENT ID', 'MODALITIES', 'DESCRIPTION', 'INSTANCES', 'STUDY INSTANCE UID'],
        report.studies.map((study) => [
          study.studyDate ?? '',
          study.patientId ?? '',
          (study.modalitiesInStudy ?? []).join('\\'),
          study.studyDescription ?? '',
          String(study.numberOfInstances ?? ''),
          study.studyInstanceUid,
        ]),
        64,
      ),
    );
  }
}

export function registerScan(program: Command, globals: () => GlobalOptions): void {
  program
    .command('scan <paths...>')
    .description('index DICOM files in folders and DICOMDIRs (headers only); --import copies them into the archive')
    .option('--import', 'copy files into the archive instead of indexing them where they are')
    .option('--json', 'print the report as JSON')
    .action(async (paths: string[], options: { import?: boolean; json?: boolean }) => {
      const archive = LocalArchive.open(resolveArchiveRoot(globals()));
      const progress = new ProgressLine();
      try {
        const report = await scanPaths(archive, paths, {
          import: Boolean(options.import),
          onProgress: (state) =>
            progress.update(`scanning: ${state.scanned} files, ${state.indexed} indexed, ${state.failed} bad — ${state.currentPath ?? ''}`),
        });
        progress.done();
        if (options.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
        else printReport(report);
        if (report.notDicom.length + report.damaged.length > 0) process.exitCode = ExitCode.PartialSuccess;
      } finally {
        archive.close();
      }
    });
}
