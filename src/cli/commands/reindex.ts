/**
 * `loader reindex`: rebuilds the SQLite index from the archive's folder tree.
 */
import type { Command } from 'commander';

import { reindexArchive } from '../../services/archive';
import { countOf, ExitCode, requireExistingArchive, resolveArchiveRoot } from '../context';
import type { GlobalOptions } from '../context';

export function registerReindex(program: Command, globals: () => GlobalOptions): void {
  program
    .command('reindex')
    .description('rebuild the archive index from the files in the archive folder')
    .option('--json', 'print the report as JSON')
    .action(async (options: { json?: boolean }) => {
      const root = resolveArchiveRoot(globals());
      requireExistingArchive(root);
      const report = await reindexArchive(root);
      if (options.json) {
        process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      } else {
        // Files indexed in place (scan without --import) are outside the archive folder, and the index keeps their rows.
        const inPlace = report.inPlaceInstances > 0 ? ` in the archive folder and kept ${countOf(report.inPlaceInstances, 'instance')} indexed in place outside it` : '';
        process.stdout.write(`indexed ${countOf(report.indexed, 'instance')}${inPlace}\n`);
        for (const failure of report.unreadable) process.stdout.write(`unreadable: ${failure.path}: ${failure.reason}\n`);
      }
      if (report.unreadable.length > 0) process.exitCode = ExitCode.PartialSuccess;
    });
}
