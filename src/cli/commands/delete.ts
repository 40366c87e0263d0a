/**
 * `loader delete`: deletes studies or series from the archive, from the index,
 * the archive folder and the copies kept aside in .conflicts. See
 * src/services/archive/deletion.ts for the steps and their crash safety.
 */
import type { Command } from 'commander';

import { describeUidProblem } from '../../dicom/uid';
import { openArchiveForDeletion, QueryError } from '../../services/archive';
import type { DeletionPlan, DeletionReport, LocalArchive, StudySearchFilters, StudyToDelete } from '../../services/archive';
import { formatSize } from '../../services/format-size';
import { FilterError, formatDateRange, normalizeModalities, parseDateFilter } from '../../services/query-retrieve';
import { checkArchiveFolder, countOf, ExitCode, resolveArchiveRoot, resolveLegacyCharacterSet, UsageError } from '../context';
import type { GlobalOptions } from '../context';
import { askYesNo } from '../prompt';
import { formatTable } from '../terminal';
import { DATE_OPTION_HELP } from './find';

interface DeleteOptions {
  studyUid?: string[];
  seriesUid?: string[];
  name?: string;
  patientId?: string;
  date?: string;
  modality?: string[];
  description?: string;
  allMatching?: boolean;
  yes?: boolean;
  json?: boolean;
}

/** The studies and series to delete: given by UID, or found by a search of the index. */
type Selection =
  | { kind: 'uids'; studyInstanceUids: string[]; seriesInstanceUids: string[] }
  | { kind: 'search'; filters: StudySearchFilters };

export function registerDelete(program: Command, globals: () => GlobalOptions): void {
  program
    .command('delete')
    .description(
      'delete studies or series from the archive: its index rows, its files and the copies kept aside in .conflicts for their UIDs. ' +
        'Shows what will be deleted and asks first unless --yes is given',
    )
    .option('--study-uid <uids...>', 'Study Instance UIDs of the studies to delete')
    .option('--series-uid <uids...>', 'Series Instance UIDs of the series to delete; a study without series left is deleted too')
    .option('--patient-id <id>', 'delete every study of this Patient ID (whole value, case-sensitive); with * or ? it is a search and needs --all-matching')
    .option(
      '--name <text>',
      'with --all-matching: patient name words in any order, each equal to a whole word of the name (case and ё/е ignored), ' +
        'so "ivanov ivan" selects IVANOV^IVAN but not IVANOVA^ANNA; with * or ? a pattern for the whole name, as `loader studies --name` matches it',
    )
    .option('--date <date>', `with --all-matching: ${DATE_OPTION_HELP}`)
    .option('--modality <codes...>', 'with --all-matching: one or more modalities, e.g. CT MR; a study matches when it has any of them')
    .option('--description <text>', 'with --all-matching: study description, matched as `loader studies --description` matches it')
    .option('--all-matching', 'delete every study that `loader studies` lists for the same filters, except that --name words must equal whole words of the name')
    .option('--yes', 'delete without asking; needed when stdin is not a terminal')
    .option('--json', 'print the result as JSON')
    .action(async (options: DeleteOptions) => {
      const selection = selectionOf(options);
      if (!options.yes && !process.stdin.isTTY) {
        throw new UsageError('stdin is not a terminal, so the deletion cannot be confirmed; add --yes to delete without asking');
      }
      const root = resolveArchiveRoot(globals());
      if (checkArchiveFolder(root) === 'empty') {
        // An empty archive holds none of the given UIDs.
        const missing = selection.kind === 'uids' ? selection : { studyInstanceUids: [], seriesInstanceUids: [] };
        finishWithoutMatches(selection, { missingStudyInstanceUids: missing.studyInstanceUids, missingSeriesInstanceUids: missing.seriesInstanceUids }, options.json);
        return;
      }
      // Access 'delete' opens an archive on a full disk too, by releasing its space reserve, because deleting is how space is freed.
      const archive = openArchiveForDeletion(root, { legacyCharacterSet: resolveLegacyCharacterSet(globals()) });
      try {
        await deleteSelection(archive, selection, options);
      } finally {
        archive.close();
      }
    });
}

/**
 * Returns the selection of the options.
 *
 * @throws UsageError when no selection is given, UIDs and filters are mixed,
 *   a UID is invalid, or filters other than one plain --patient-id lack --all-matching.
 */
function selectionOf(options: DeleteOptions): Selection {
  const studyInstanceUids = options.studyUid ?? [];
  const seriesInstanceUids = options.seriesUid ?? [];
  for (const [option, uids] of [['--study-uid', studyInstanceUids], ['--series-uid', seriesInstanceUids]] as const) {
    for (const uid of uids) {
      const problem = describeUidProblem(uid);
      if (problem !== undefined) throw new UsageError(`${option} ${uid} is not a valid UID: it ${problem}`);
    }
  }

  const filters = searchFiltersOf(options);
  const searching = Object.values(filterValues(filters)).some((value) => value !== undefined);
  const byUid = studyInstanceUids.length > 0 || seriesInstanceUids.length > 0;
  if (byUid && searching) throw new UsageError('give either --study-uid and --series-uid, or --patient-id and the search filters, not both');
  if (byUid) {
    if (options.allMatching) throw new UsageError('--all-matching goes with search filters, not with --study-uid or --series-uid');
    return { kind: 'uids', studyInstanceUids, seriesInstanceUids };
  }
  if (!searching) {
    throw new UsageError('give the studies to delete: --study-uid UID..., --series-uid UID..., --patient-id ID, or search filters with --all-matching');
  }
  const onePatient = Object.entries(filterValues(filters)).every(([key, value]) => key === 'patientId' || value === undefined) && !/[*?]/.test(filters.patientId ?? '');
  if (!onePatient && !options.allMatching) {
    throw new UsageError(
      'a search may match many studies; add --all-matching to delete every study that `loader studies` lists for the same filters, except that --name words must equal whole words of the name',
    );
  }
  return { kind: 'search', filters };
}

/** Converts the search options as `loader studies` does; --date becomes a DA range and --modality upper-case codes. */
function searchFiltersOf(options: DeleteOptions): StudySearchFilters {
  try {
    const modalities = normalizeModalities(options.modality);
    return {
      name: emptyToUndefined(checkNotUniversal('--name', options.name)),
      // A deletion selects by whole name words, so 'ivanov' does not also delete IVANOVA; see describeNameRule.
      nameWordMatching: 'whole',
      patientId: emptyToUndefined(checkNotUniversal('--patient-id', options.patientId)),
      date: options.date === undefined ? undefined : formatDateRange(parseDateFilter(options.date, new Date(), '--date')),
      modalities: modalities.length > 0 ? modalities : undefined,
      description: emptyToUndefined(checkNotUniversal('--description', options.description)),
    };
  } catch (error) {
    if (error instanceof FilterError) throw new UsageError(error.message);
    throw error;
  }
}

/**
 * Rejects a filter value that has text but no letter or digit, such as '^', '*' or '=':
 * it matches every study, so a script that builds "$LAST^$FIRST" from empty variables
 * would delete the whole archive.
 */
function checkNotUniversal(option: string, value: string | undefined): string | undefined {
  if (value === undefined || value.trim() === '' || /[\p{L}\p{N}]/u.test(value)) return value;
  throw new UsageError(`${option} ${JSON.stringify(value)} has no letter or digit, so it matches every study; give a value to match, or leave the option out`);
}

/** Returns the filters that select studies, without nameWordMatching, which only sets how --name matches. */
function filterValues(filters: StudySearchFilters): Omit<StudySearchFilters, 'nameWordMatching'> {
  const { nameWordMatching: _nameWordMatching, ...values } = filters;
  return values;
}

function emptyToUndefined(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

async function deleteSelection(archive: LocalArchive, selection: Selection, options: DeleteOptions): Promise<void> {
  const plan = await archive.planDeletion(
    selection.kind === 'uids'
      ? { studyInstanceUids: selection.studyInstanceUids, seriesInstanceUids: selection.seriesInstanceUids }
      : { studyInstanceUids: searchStudies(archive, selection.filters) },
  );
  for (const uid of plan.missingStudyInstanceUids) process.stderr.write(`loader: study ${uid} is not in the archive\n`);
  for (const uid of plan.missingSeriesInstanceUids) process.stderr.write(`loader: series ${uid} is not in the archive\n`);
  if (plan.studies.length === 0) {
    finishWithoutMatches(selection, plan, options.json);
    return;
  }

  if (!options.yes) {
    if (selection.kind === 'search' && selection.filters.name !== undefined) process.stderr.write(describeNameRule(selection.filters.name));
    process.stderr.write(describePlan(plan));
    if (!(await askYesNo(`Delete ${describeTotals(plan)}? [y/N] `))) {
      process.stderr.write('Nothing was deleted.\n');
      process.exitCode = ExitCode.Failure;
      return;
    }
  }

  const report = await archive.deleteStudies(plan);
  printReport(plan, report, options.json);
  const missing = plan.missingStudyInstanceUids.length + plan.missingSeriesInstanceUids.length;
  if (report.instances === 0) process.exitCode = ExitCode.Failure;
  else if (report.failures.length > 0 || missing > 0) process.exitCode = ExitCode.PartialSuccess;
}

/** Returns the Study Instance UIDs that `loader studies` lists for `filters`; a value the query engine rejects becomes a UsageError. */
function searchStudies(archive: LocalArchive, filters: StudySearchFilters): string[] {
  try {
    return archive.searchStudies(filters).map((study) => study.studyInstanceUid);
  } catch (error) {
    if (error instanceof QueryError) throw new UsageError(`invalid filter: ${error.message}`);
    throw error;
  }
}

/**
 * Reports that nothing matched. Given UIDs that are not in the archive are a
 * failure (exit code 1). A search that finds no study is not, as for
 * `loader studies`, so a script that deletes old studies every day succeeds
 * on a day without any.
 */
function finishWithoutMatches(selection: Selection, missing: MissingUids, json: boolean | undefined): void {
  if (json) process.stdout.write(JSON.stringify(emptyJsonReport(missing), null, 2) + '\n');
  if (selection.kind === 'uids') {
    process.stderr.write('loader: no given study or series is in the archive; nothing was deleted\n');
    process.exitCode = ExitCode.Failure;
    return;
  }
  if (!json) process.stdout.write('No study matches the filters; nothing was deleted.\n');
}

/** Returns the confirmation line that names the rule by which --name selected the studies. */
function describeNameRule(name: string): string {
  if (/[*?]/.test(name)) {
    return `Patient name ${JSON.stringify(name)} is a pattern with * or ?: it matches the whole name, or one whole component group, case and ё/е ignored.\n`;
  }
  return `Patient name ${JSON.stringify(name)}: each word must equal a whole word of the name, in any order, case and ё/е ignored; a name word that only starts with a typed word is not selected (add * for that).\n`;
}

/** Returns the table of the studies and series in `plan` and its totals, for the confirmation. */
function describePlan(plan: DeletionPlan): string {
  const rows = plan.studies.map((study) => [
    study.study.patientName,
    study.study.patientId,
    study.study.studyDate,
    describeStudyPart(study),
    String(study.series.length),
    String(study.instances),
    formatSize(study.bytes),
    study.study.studyInstanceUid,
  ]);
  const lines = [formatTable(['PATIENT NAME', 'PATIENT ID', 'STUDY DATE', 'DESCRIPTION', 'SERIES', 'INSTANCES', 'SIZE', 'STUDY INSTANCE UID'], rows, undefined, [7])];
  for (const study of plan.studies.filter((candidate) => !candidate.wholeStudy)) {
    for (const series of study.series) {
      const label = [series.modality, series.seriesNumber ?? '', series.seriesDescription].filter((part) => part !== '').join(' ');
      lines.push(`  series ${series.seriesInstanceUid} (${label || 'no description'}, ${countOf(series.instances, 'instance')}) of study ${study.study.studyInstanceUid}`);
    }
  }
  if (plan.inPlaceInstances > 0) {
    lines.push(
      `${countOf(plan.inPlaceInstances, 'instance is', 'instances are')} indexed in place: their index rows are removed and their files outside the archive folder stay, ` +
        'so a later `loader scan` of their folder indexes them again',
    );
  }
  if (plan.keptCopies.length > 0) {
    const keptBytes = plan.keptCopies.reduce((total, copy) => total + copy.size, 0);
    const verb = plan.keptCopies.length === 1 ? 'is' : 'are';
    lines.push(`${countOf(plan.keptCopies.length, 'copy', 'copies')} kept aside in .conflicts for these UIDs (${formatSize(keptBytes)}) ${verb} deleted too`);
  }
  return lines.join('\n') + '\n';
}

/** Describes what of a study goes: the whole study with its description, or the number of its series. */
function describeStudyPart(study: StudyToDelete): string {
  if (study.wholeStudy) return study.study.studyDescription;
  return `${countOf(study.series.length, 'series', 'series')} of ${study.study.numberOfSeries}: ${study.study.studyDescription}`;
}

function describeTotals(plan: DeletionPlan): string {
  const series = plan.studies.reduce((total, study) => total + study.series.length, 0);
  return `${countOf(plan.studies.length, 'study', 'studies')}, ${countOf(series, 'series', 'series')}, ${countOf(plan.instances, 'instance')} (${formatSize(plan.bytes)})`;
}

type MissingUids = Pick<DeletionPlan, 'missingStudyInstanceUids' | 'missingSeriesInstanceUids'>;

function emptyJsonReport(missing: MissingUids): Record<string, unknown> {
  return {
    studies: [],
    instances: 0,
    files: 0,
    bytes: 0,
    inPlaceInstances: 0,
    keptCopies: 0,
    keptCopyBytes: 0,
    failures: [],
    missingStudyInstanceUids: missing.missingStudyInstanceUids,
    missingSeriesInstanceUids: missing.missingSeriesInstanceUids,
  };
}

function printReport(plan: DeletionPlan, report: DeletionReport, json: boolean | undefined): void {
  if (json) {
    const output = { ...report, missingStudyInstanceUids: plan.missingStudyInstanceUids, missingSeriesInstanceUids: plan.missingSeriesInstanceUids };
    process.stdout.write(JSON.stringify(output, null, 2) + '\n');
    return;
  }
  process.stdout.write(`Deleted ${describeDeleted(report)}: ${countOf(report.instances, 'instance')}, ${formatSize(report.bytes)} freed.\n`);
  if (report.keptCopies > 0) {
    process.stdout.write(`Removed ${countOf(report.keptCopies, 'copy', 'copies')} kept aside in .conflicts for the deleted UIDs (${formatSize(report.keptCopyBytes)}).\n`);
  }
  if (report.inPlaceInstances > 0) {
    process.stdout.write(`${countOf(report.inPlaceInstances, 'instance was', 'instances were')} indexed in place: the index no longer lists them, and their files stay where they are.\n`);
  }
  // Only a whole study should be empty afterwards; a study that lost some series keeps the others.
  for (const study of report.studies.filter((candidate) => candidate.wholeStudy && candidate.remainingInstances > 0)) {
    process.stdout.write(`Study ${study.studyInstanceUid} still has ${countOf(study.remainingInstances, 'instance')}, stored while it was deleted.\n`);
  }
  for (const failure of report.failures) {
    process.stderr.write(`loader: failed to remove ${failure.path}: ${failure.error}; the next start of the loader on this archive tries again\n`);
  }
}

/** Names what went: "2 studies", "3 series of 1 study", or "1 study and 2 series of 1 other study". */
function describeDeleted(report: DeletionReport): string {
  const whole = report.studies.filter((study) => study.wholeStudy).length;
  const partial = report.studies.filter((study) => !study.wholeStudy);
  if (partial.length === 0) return countOf(whole, 'study', 'studies');
  const series = partial.reduce((total, study) => total + study.seriesInstanceUids.length, 0);
  const seriesText = countOf(series, 'series', 'series');
  if (whole === 0) return `${seriesText} of ${countOf(partial.length, 'study', 'studies')}`;
  return `${countOf(whole, 'study', 'studies')} and ${seriesText} of ${countOf(partial.length, 'other study', 'other studies')}`;
}
