/**
 * `loader find`: C-FIND on a node. Study matches are printed as they arrive;
 * --level SERIES and IMAGE list the series and instances of one study. Also
 * the study filter options shared with get, move and send.
 */
import type { Command } from 'commander';

import { FilterError, findInstances, findSeries, findStudies, normalizeModalities, parseDateFilter, validateUids } from '../../services/query-retrieve';
import type { QueryNotice, StudyFilters, StudyMatch } from '../../services/query-retrieve';
import { countOf, ExitCode, UsageError } from '../context';
import { explainNetworkErrors } from '../instance-problems';
import type { GlobalOptions } from '../context';
import { fitToWidth } from '../terminal';
import { abortOnInterrupt, addNodeOptions, resolveTarget } from './echo';
import type { NodeOptions } from './echo';

/** Help text of --date, shared by every command that filters studies by date. */
export const DATE_OPTION_HELP = 'study date: YYYYMMDD, YYYYMMDD-YYYYMMDD (either end may be left out), today, yesterday, last-7-days or last-30-days';

export interface FilterOptions {
  name?: string;
  patientId?: string;
  date?: string;
  modality?: string[];
  description?: string;
  accession?: string;
  studyUid?: string[];
}

/** Adds the study filter options. */
export function addFilterOptions(command: Command): Command {
  return command
    .option('--name <text>', "patient name; free text matches any part ('иван' is sent as '*иван*'), * and ? are wildcards")
    .option('--patient-id <id>', 'patient ID; * and ? are wildcards')
    .option('--date <date>', DATE_OPTION_HELP)
    .option('--modality <codes...>', 'modalities in study, e.g. CT MR; a study matches when it has any of them')
    .option('--description <text>', 'study description; free text matches any part')
    .option('--accession <number>', 'accession number')
    .option('--study-uid <uids...>', 'Study Instance UIDs');
}

/** Converts filter options into StudyFilters, checking the date and modalities; throws UsageError on bad values. */
export function filtersFrom(options: FilterOptions): StudyFilters {
  try {
    if (options.date !== undefined) parseDateFilter(options.date, new Date(), '--date');
    if (options.studyUid !== undefined) validateUids('--study-uid', options.studyUid);
    const modalities = normalizeModalities(options.modality);
    return {
      patientName: options.name,
      patientId: options.patientId,
      date: options.date,
      modalities: modalities.length > 0 ? modalities : undefined,
      studyDescription: options.description,
      accessionNumber: options.accession,
      studyInstanceUids: options.studyUid,
    };
  } catch (error) {
    if (error instanceof FilterError) throw new UsageError(error.message);
    throw error;
  }
}

function validateSeriesUid(uid: string): void {
  try {
    validateUids('--series-uid', [uid]);
  } catch (error) {
    if (error instanceof FilterError) throw new UsageError(error.message);
    throw error;
  }
}

/** True when any filter is set, so a retrieve or send does not silently take everything. */
export function hasAnyFilter(filters: StudyFilters): boolean {
  return Object.values(filters).some((value) => value !== undefined && value !== '' && !(Array.isArray(value) && value.length === 0));
}

/** Singular and plural of a match at each query level, for the closing count. */
const MATCH_NOUNS: Record<string, [string, string]> = {
  STUDY: ['study', 'studies'],
  SERIES: ['series', 'series'],
  IMAGE: ['instance', 'instances'],
};

interface FindOptions extends NodeOptions, FilterOptions {
  level: string;
  seriesUid?: string;
  maxResults?: string;
}

/**
 * Formats one match. Matches are printed as they arrive, so the columns have
 * fixed widths, and a longer value is cut with an ellipsis. UIDs stay whole,
 * and so does every value in --json output.
 */
function studyLine(match: StudyMatch): string {
  const cells = [
    fitToWidth(match.patientName, 28),
    fitToWidth(match.patientId, 14),
    match.studyDate.padEnd(8),
    fitToWidth(match.modalitiesInStudy.join('\\'), 8),
    fitToWidth(match.studyDescription, 28),
    String(match.numberOfStudyRelatedInstances ?? '').padStart(6),
    match.studyInstanceUid,
  ];
  return cells.join('  ').trimEnd();
}

function seriesLine(series: { seriesNumber: string; modality: string; seriesDescription: string; numberOfSeriesRelatedInstances?: number; seriesInstanceUid: string }): string {
  return [series.seriesNumber.padStart(6), series.modality.padEnd(8), fitToWidth(series.seriesDescription, 32), String(series.numberOfSeriesRelatedInstances ?? '').padStart(6), series.seriesInstanceUid].join('  ');
}

function instanceLine(instance: { instanceNumber: string; sopClassUid: string; sopInstanceUid: string }): string {
  return [instance.instanceNumber.padStart(6), instance.sopClassUid.padEnd(30), instance.sopInstanceUid].join('  ');
}

/** Column headings of the text output, printed before the first match and padded to the widths of its columns. */
const HEADINGS: Record<string, string> = {
  STUDY: ['PATIENT NAME'.padEnd(28), 'PATIENT ID'.padEnd(14), 'DATE'.padEnd(8), 'MODALITY', 'DESCRIPTION'.padEnd(28), 'IMAGES', 'STUDY INSTANCE UID'].join('  '),
  SERIES: ['NUMBER', 'MODALITY', 'DESCRIPTION'.padEnd(32), 'IMAGES', 'SERIES INSTANCE UID'].join('  '),
  IMAGE: ['NUMBER', 'SOP CLASS UID'.padEnd(30), 'SOP INSTANCE UID'].join('  '),
};

export function registerFind(program: Command, globals: () => GlobalOptions): void {
  const command = program
    .command('find [node]')
    .description('query a node with C-FIND: studies by filters, or the series and instances of one study')
    .option('--level <level>', 'STUDY, SERIES or IMAGE; SERIES and IMAGE need one --study-uid', 'STUDY')
    .option('--series-uid <uid>', 'Series Instance UID for --level IMAGE (default: every series of the study)')
    .option('--max-results <count>', "matches at which the node truncates a query; such queries are split by date (default: the node's max-results-N quirk)");
  addNodeOptions(addFilterOptions(command)).action(async (name: string | undefined, options: FindOptions) => {
    const { node, local } = await resolveTarget(globals(), name, options);
    const filters = filtersFrom(options);
    if (options.seriesUid !== undefined) validateSeriesUid(options.seriesUid);
    const level = options.level.toUpperCase();
    let maxResults: number | undefined;
    if (options.maxResults !== undefined) {
      if (!/^\d+$/.test(options.maxResults) || Number(options.maxResults) < 1) throw new UsageError(`--max-results "${options.maxResults}" is invalid: give a whole number, 1 or more`);
      maxResults = Number(options.maxResults);
    }
    const interrupt = abortOnInterrupt();
    const signal = interrupt.signal;
    const json: unknown[] = [];
    const emit = (item: unknown, line: string) => {
      if (options.json) json.push(item);
      else process.stdout.write(`${count === 1 ? `${HEADINGS[level]}\n` : ''}${line}\n`);
    };
    let count = 0;
    let undatedNotListed = false;
    const onNotice = (notice: QueryNotice) => {
      if (notice.kind === 'undated-not-listed') undatedNotListed = true;
      const prefix = notice.kind === 'unsupported-keys' || notice.kind === 'undated-not-listed' ? 'warning: ' : '';
      process.stderr.write(`loader: ${prefix}${explainNetworkErrors(notice.message)}\n`);
    };
    try {
      if (level === 'STUDY') {
        for await (const match of findStudies(node, local, filters, { signal, onNotice, maxResults })) {
          count++;
          emit(match, studyLine(match));
        }
      } else if (level === 'SERIES' || level === 'IMAGE') {
        if (filters.studyInstanceUids?.length !== 1) throw new UsageError(`--level ${level} needs exactly one --study-uid`);
        const studyUid = filters.studyInstanceUids[0];
        if (level === 'SERIES') {
          for await (const series of findSeries(node, local, studyUid, { signal, onNotice })) {
            count++;
            emit(series, seriesLine(series));
          }
        } else {
          for await (const instance of findInstances(node, local, studyUid, options.seriesUid, { signal, onNotice })) {
            count++;
            emit(instance, instanceLine(instance));
          }
        }
      } else {
        throw new UsageError(`--level "${options.level}" is invalid: use STUDY, SERIES or IMAGE`);
      }
    } finally {
      interrupt.dispose();
    }
    if (options.json) process.stdout.write(JSON.stringify(json, null, 2) + '\n');
    else process.stderr.write(`${countOf(count, ...MATCH_NOUNS[level])}${signal.aborted ? ' (cancelled)' : ''}${undatedNotListed ? ' with a Study Date; studies without Study Date are not listed (see the warning above)' : ''}\n`);
    // The list lacks the studies without Study Date, so it is a partial result.
    if (undatedNotListed) process.exitCode = ExitCode.PartialSuccess;
  });
}
