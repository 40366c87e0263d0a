/**
 * `loader studies`: searches the archive index for studies.
 */
import type { Command } from 'commander';

import { QueryError } from '../../services/archive';
import type { LocalArchive, StudySearchFilters, StudySummary } from '../../services/archive';
import { countOf, openExistingArchive, resolveArchiveRoot, UsageError } from '../context';
import type { GlobalOptions } from '../context';
import { formatTable } from '../terminal';

interface StudiesOptions {
  name?: string;
  patientId?: string;
  date?: string;
  modality?: string[];
  description?: string;
  json?: boolean;
}

const DATE_FILTER = /^(\d{8})?(-(\d{8})?)?$/;

function isCalendarDate(text: string): boolean {
  const year = Number(text.slice(0, 4));
  const month = Number(text.slice(4, 6));
  const day = Number(text.slice(6, 8));
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** Raises a UsageError naming --date when the value is malformed, names an impossible date or is a reversed range. */
function checkDateFilter(value: string): void {
  const match = DATE_FILTER.exec(value);
  if (value === '' || !match) {
    throw new UsageError(`--date "${value}" is invalid: use YYYYMMDD, YYYYMMDD-YYYYMMDD, YYYYMMDD- or -YYYYMMDD`);
  }
  const [, start, , end] = match;
  for (const date of [start, end]) {
    if (date !== undefined && !isCalendarDate(date)) {
      throw new UsageError(`--date "${value}" is invalid: ${date} is not a calendar date`);
    }
  }
  if (start !== undefined && end !== undefined && start > end) {
    throw new UsageError(`--date "${value}" is invalid: the range starts after it ends; write it as ${end}-${start}`);
  }
}

/** The option of `loader studies` that sets each key of the study search. */
const OPTION_OF_KEY: Record<string, string> = {
  PatientName: '--name',
  PatientID: '--patient-id',
  StudyDate: '--date',
  ModalitiesInStudy: '--modality',
  StudyDescription: '--description',
};

/** Runs the search; a filter value the query engine rejects becomes a UsageError naming its option. */
function searchOrExplain(archive: LocalArchive, filters: StudySearchFilters): StudySummary[] {
  try {
    return archive.searchStudies(filters);
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
    .option('--name <text>', 'patient name, any part, case-insensitive; * and ? are wildcards')
    .option('--patient-id <id>', 'patient ID; * and ? are wildcards')
    .option('--date <date>', 'study date YYYYMMDD or range YYYYMMDD-YYYYMMDD (either end may be open)')
    .option('--modality <codes...>', 'one or more modalities, e.g. CT MR')
    .option('--description <text>', 'study description, any part, case-insensitive')
    .option('--json', 'print JSON')
    .action((options: StudiesOptions) => {
      if (options.date !== undefined) checkDateFilter(options.date);
      const archive = openExistingArchive(resolveArchiveRoot(globals()));
      try {
        const studies = searchOrExplain(archive, {
          name: options.name,
          patientId: options.patientId,
          date: options.date,
          modalities: options.modality?.flatMap((value) => value.split(/[,\\]/)).filter(Boolean),
          description: options.description,
        });
        if (options.json) {
          process.stdout.write(JSON.stringify(studies, null, 2) + '\n');
          return;
        }
        const rows = studies.map((study) => [
          study.patientName ?? '',
          study.patientId ?? '',
          study.patientBirthDate ?? '',
          (study.modalitiesInStudy ?? []).join('\\'),
          study.studyDate ?? '',
          study.studyDescription ?? '',
          String(study.numberOfInstances ?? ''),
        ]);
        process.stdout.write(
          formatTable(['PATIENT NAME', 'PATIENT ID', 'BIRTH DATE', 'MODALITY', 'STUDY DATE', 'DESCRIPTION', 'INSTANCES'], rows) +
            `\n${countOf(studies.length, 'study', 'studies')}\n`,
        );
      } finally {
        archive.close();
      }
    });
}
