/**
 * `loader reindex`: rebuilds the SQLite index from the archive's folder tree.
 */
import type { Command } from 'commander';

import { reindexArchive } from '../../services/archive';
import type { ReindexProblemKind, ReindexReport } from '../../services/archive/reindex';
import { countOf, ExitCode, requireExistingArchive, resolveArchiveRoot, resolveLegacyCharacterSet } from '../context';
import type { GlobalOptions } from '../context';
import { escapeControlCharacters } from '../terminal';

/** Folders of unreachable files named in the text report; --json lists every file. */
const MAX_FOLDERS_LISTED = 5;

/** Hints on each kind of skipped file, printed once after the files of that kind. */
const HINTS: Record<ReindexProblemKind, string> = {
  duplicate: 'a duplicate is a second copy of an instance that is indexed from another file; delete the copy or move it out of the archive folder',
  unreadable: 'an unreadable file is not DICOM, is damaged or lacks a valid UID; move it out of the archive folder, or replace it with a good copy and run loader reindex again',
  conflict: 'a conflicting file belongs to a series that is indexed under another study; check which study is right and move the other file out of the archive folder',
  misplaced:
    'a misplaced file has UIDs that do not match its path, and the path of its UIDs contains another file; compare the two files and delete the copy in .conflicts that is not needed',
  removed: 'the index no longer lists these files indexed in place; run loader scan PATH to index a folder again',
  dropped: 'as --drop-unreachable requested, the index no longer lists these unreachable files; run loader scan PATH to index them again',
};

/**
 * Hint on a conflict whose study or series is indexed under another Patient ID.
 * Reindex gives a study to its oldest file (by modification time), which may not be the right patient.
 */
const OTHER_PATIENT_HINT =
  'a conflicting file has another Patient ID than its study or series, which reindex indexed under the Patient ID of its oldest file; ' +
  'check which patient is right, move the files of the wrong Patient ID out of the archive folder, then run loader reindex again';

export function registerReindex(program: Command, globals: () => GlobalOptions): void {
  program
    .command('reindex')
    .description('rebuild the archive index from the files in the archive folder and the files indexed in place')
    .option('--drop-unreachable', 'drop files indexed in place whose disc or folder is missing, instead of keeping them in the index')
    .option('--json', 'print the report as JSON')
    .action(async (options: { json?: boolean; dropUnreachable?: boolean }) => {
      const root = resolveArchiveRoot(globals());
      requireExistingArchive(root);
      const report = await reindexArchive(root, {
        dropUnreachable: options.dropUnreachable,
        legacyCharacterSet: resolveLegacyCharacterSet(globals()),
      });
      if (options.json) {
        process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      } else {
        printReport(report, (line) => process.stdout.write(line));
      }
      // Rows dropped on request are what the user asked for, so they alone leave the exit code at 0.
      const problems = report.skipped.filter((problem) => problem.kind !== 'dropped');
      if (problems.length > 0 || report.unreachable.length > 0 || report.moved.length > 0 || report.unreadable.length > 0) {
        process.exitCode = ExitCode.PartialSuccess;
      }
    });
}

function printReport(report: ReindexReport, write: (line: string) => void): void {
  // Files indexed in place (scan without --import) are outside the archive folder, and the index keeps their rows.
  const inPlace = report.inPlaceInstances > 0 ? ` in the archive folder and kept ${countOf(report.inPlaceInstances, 'instance')} indexed in place outside it` : '';
  write(`indexed ${countOf(report.indexed, 'instance')}${inPlace}\n`);

  if (report.unreachable.length > 0) {
    const folders = report.unreachableFolders.slice(0, MAX_FOLDERS_LISTED).map(escapeControlCharacters).join(', ');
    const more = report.unreachableFolders.length > MAX_FOLDERS_LISTED ? ` and ${report.unreachableFolders.length - MAX_FOLDERS_LISTED} more folders` : '';
    write(
      `kept ${countOf(report.unreachable.length, 'instance')} indexed in place without checking ` +
        (report.unreachable.length === 1 ? 'it, because its file is not reachable ' : 'them, because their files are not reachable ') +
        `(missing or unreadable: ${folders}${more})\n`,
    );
    write('  hint: insert the disc or mount the folder, then run loader reindex again to check them; loader reindex --drop-unreachable drops them from the index\n');
  }

  for (const moved of report.moved) write(`moved: ${escapeControlCharacters(moved.from)}: its UIDs do not match its path; moved to ${moved.to} and indexed there\n`);
  if (report.moved.length > 0) write('  hint: the archive keeps each instance at <archive>/<Study Instance UID>/<Series Instance UID>/<SOP Instance UID>.dcm; do not copy files into the archive folder by hand\n');

  for (const entry of report.unreadable) {
    write(`unreadable: ${escapeControlCharacters(entry.path)}: ${escapeControlCharacters(entry.reason)}; kept ${countOf(entry.keptInstances, 'instance')} indexed as before without checking\n`);
  }
  if (report.unreadable.some((entry) => entry.permission)) {
    write("  hint: give the user running loader reindex read access to these folders and files (chmod, chown), or run loader reindex as the archive's owner, then run loader reindex again to check them\n");
  }
  if (report.unreadable.some((entry) => !entry.permission)) {
    write('  hint: check the disc or file system of these folders and files, then run loader reindex again to check them\n');
  }

  for (const kind of Object.keys(HINTS) as ReindexProblemKind[]) {
    const problems = report.skipped.filter((problem) => problem.kind === kind);
    if (problems.length === 0) continue;
    for (const problem of problems) write(`${kind}: ${problem.path}: ${problem.reason}\n`);
    // A conflict of Patient IDs gets its own hint, and the series hint only when a series conflict is listed too.
    if (kind !== 'conflict' || problems.some((problem) => !problem.otherPatient)) write(`  hint: ${HINTS[kind]}\n`);
    if (kind === 'conflict' && problems.some((problem) => problem.otherPatient)) write(`  hint: ${OTHER_PATIENT_HINT}\n`);
  }
}
