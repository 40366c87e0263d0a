/**
 * `loader studies`: searches the archive index for studies.
 */
import type { Command } from 'commander';

import { QueryError } from '../../services/archive';
import type { StudySearchFilters, StudySummary } from '../../services/archive';
import { FilterError, formatDateRange, normalizeModalities, parseDateFilter } from '../../services/query-retrieve';
import { checkArchiveFolder, countOf, openExistingArchive, resolveArchiveRoot, resolveLegacyCharacterSet, UsageError } from '../context';
import type { GlobalOptions } from '../context';
import { formatStudyTable, sortNewestFirst } from '../study-table';
import { ACCESSION_OPTION_HELP, DATE_OPTION_HELP, NAME_OPTION_HELP } from './find';

interface StudiesOptions {
  name?: string;
  patientId?: string;
  date?: string;
  modality?: string[];
  description?: string;
  accession?: string;
  json?: boolean;
}

/** Converts --date (a date, a range or a preset such as today) into the archive's DA range form. */
function archiveDateRange(value: string): string {
  return formatDateRange(parseDateFilter(value, new Date(), '--date'));
}

/** Splits and upper-cases --modality codes, as find does, so that "ct" matches CT. */
function modalityCodes(values: string[] | undefined): string[] | undefined {
  const codes = normalizeModalities(values);
  return codes.length > 0 ? codes : undefined;
}

/** Prints the studies found, newest first, as JSON or as a table with a count. */
function printStudies(found: StudySummary[], json: boolean | undefined): void {
  const studies = sortNewestFirst(found);
  if (json) {
    process.stdout.write(JSON.stringify(studies, null, 2) + '\n');
    return;
  }
  process.stdout.write(`${formatStudyTable(studies)}\n${countOf(studies.length, 'study', 'studies')}\n`);
}

/** The option of `loader studies` that sets each key of the study search. */
const OPTION_OF_KEY: Record<string, string> = {
  PatientName: '--name',
  PatientID: '--patient-id',
  StudyDate: '--date',
  ModalitiesInStudy: '--modality',
  StudyDescription: '--description',
  AccessionNumber: '--accession',
};

/**
 * Runs an archive search and turns a filter value that the query engine
 * rejects into a UsageError naming its option. `loader send --all-matching`
 * uses it too.
 */
export function searchOrExplain(search: () => StudySummary[]): StudySummary[] {
  try {
    return search();
  } catch (error) {
    if (!(error instanceof QueryError)) throw error;
    const option = error.keyword === undefined ? undefined : OPTION_OF_KEY[error.keyword];
    const problem = error.code === 'value-too-long' ? 'is too long' : 'is invalid';
    throw new UsageError(option === undefined ? `invalid filter: ${error.message}` : `${option} ${problem}: ${error.message}`);
  }
}

export function registerStudies(program: Command, globals: () => GlobalOptions): void {
  program
    .command('studies')
    .description('search studies in the archive')
    .option('--name <text>', NAME_OPTION_HELP)
    .option('--patient-id <id>', 'patient ID, whole value, case-sensitive; * and ? are wildcards')
    .option('--date <date>', DATE_OPTION_HELP)
    .option('--modality <codes...>', 'one or more modalities, e.g. CT MR, case-insensitive')
    .option('--description <text>', 'study description, any part, case-insensitive; text with * or ? must match the whole description')
    .option('--accession <number>', ACCESSION_OPTION_HELP)
    .option('--json', 'print JSON, newest study first')
    .action((options: StudiesOptions) => {
      let date: string | undefined;
      let modalities: string[] | undefined;
      try {
        date = options.date === undefined ? undefined : archiveDateRange(options.date);
        modalities = modalityCodes(options.modality);
      } catch (error) {
        if (error instanceof FilterError) throw new UsageError(error.message);
        throw error;
      }
      const root = resolveArchiveRoot(globals());
      if (checkArchiveFolder(root) === 'empty') {
        printStudies([], options.json);
        return;
      }
      const archive = openExistingArchive(root, resolveLegacyCharacterSet(globals()));
      try {
        const filters: StudySearchFilters = {
          name: options.name,
          patientId: options.patientId,
          date,
          modalities,
          description: options.description,
          accessionNumber: options.accession,
        };
        const studies = searchOrExplain(() => archive.searchStudies(filters));
        printStudies(studies, options.json);
      } finally {
        archive.close();
      }
    });
}
