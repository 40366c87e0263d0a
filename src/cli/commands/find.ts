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
import { formatStudyTable, rowFromMatch, sortNewestFirst } from '../study-table';
import { fitToWidth, ProgressLine } from '../terminal';
import { abortOnInterrupt, addNodeOptions, resolveTarget } from './echo';
import type { NodeOptions } from './echo';

/** Help text of --date, shared by every command that filters studies by date. */
export const DATE_OPTION_HELP = 'study date: YYYYMMDD, YYYYMMDD-YYYYMMDD (either end may be left out), today, yesterday, last-7-days or last-30-days';

/** Help text of --name where the archive index is searched: `loader studies` and `loader send`. */
export const NAME_OPTION_HELP =
  'patient name: words in any order, each matching any part of the name, case-insensitive, е matches ё ("иван петров" finds Петров^Иван); ' +
  'text with * or ? is a pattern for the whole name, e.g. "Петров^Ив*"';

/** Help text of --name where a node may be queried; patientNameKey in study-filters.ts builds the key. */
const NODE_NAME_OPTION_HELP =
  `${NAME_OPTION_HELP}. On a node, a pattern is sent as given and a search of words sends the longest word as *word*, both with * in place of е and ё; ` +
  'the loader keeps the matches that have every word, so a node that matches names case-sensitively finds that word only in the case typed';

/** Help text of --accession, shared by every command that filters studies. */
export const ACCESSION_OPTION_HELP = 'accession number, whole value, case-sensitive; * and ? are wildcards';

export interface FilterOptions {
  name?: string;
  patientId?: string;
  date?: string;
  modality?: string[];
  description?: string;
  accession?: string;
  studyUid?: string[];
}

/**
 * Adds the study filter options. `searched` is 'archive' when the filters
 * match only the archive index (send), and 'node', the default, when they
 * may go to a node in a C-FIND (find, get, move, and migrate and sync).
 */
export function addFilterOptions(command: Command, searched: 'node' | 'archive' = 'node'): Command {
  return command
    .option('--name <text>', searched === 'node' ? NODE_NAME_OPTION_HELP : NAME_OPTION_HELP)
    .option('--patient-id <id>', 'patient ID, whole value, case-sensitive; * and ? are wildcards')
    .option('--date <date>', DATE_OPTION_HELP)
    .option('--modality <codes...>', 'modalities in study, e.g. CT MR; a study matches when it has any of them')
    .option('--description <text>', 'study description; free text matches any part')
    .option('--accession <number>', ACCESSION_OPTION_HELP)
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

function seriesLine(series: { seriesNumber: string; modality: string; seriesDescription: string; numberOfSeriesRelatedInstances?: number; seriesInstanceUid: string }): string {
  return [series.seriesNumber.padStart(6), series.modality.padEnd(8), fitToWidth(series.seriesDescription, 32), String(series.numberOfSeriesRelatedInstances ?? '').padStart(6), series.seriesInstanceUid].join('  ');
}

function instanceLine(instance: { instanceNumber: string; sopClassUid: string; sopInstanceUid: string }): string {
  return [instance.instanceNumber.padStart(6), instance.sopClassUid.padEnd(30), instance.sopInstanceUid].join('  ');
}

/**
 * Column headings of the series and instance lists, printed before the first
 * match and padded to the widths of its columns. These lists are printed as
 * the matches arrive, so a longer value is cut with an ellipsis. UIDs stay
 * whole, and so does every value in --json output.
 */
const HEADINGS: Record<string, string> = {
  SERIES: ['NUMBER', 'MODALITY', 'DESCRIPTION'.padEnd(32), 'IMAGES', 'SERIES INSTANCE UID'].join('  '),
  IMAGE: ['NUMBER', 'SOP CLASS UID'.padEnd(30), 'SOP INSTANCE UID'].join('  '),
};

export function registerFind(program: Command, globals: () => GlobalOptions): void {
  const command = program
    .command('find [node]')
    .description('query a node with C-FIND: studies by filters (newest first), or the series and instances of one study')
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
        // Studies are listed newest first, so the list is printed when the search ends.
        const studies: StudyMatch[] = [];
        const progress = new ProgressLine();
        try {
          for await (const match of findStudies(node, local, filters, { signal, onNotice, maxResults })) {
            studies.push(match);
            progress.update(`found ${countOf(studies.length, 'study', 'studies')}`);
          }
        } finally {
          progress.done();
          count = studies.length;
          const sorted = sortNewestFirst(studies);
          if (options.json) json.push(...sorted);
          else if (sorted.length > 0) process.stdout.write(`${formatStudyTable(sorted.map(rowFromMatch))}\n`);
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
