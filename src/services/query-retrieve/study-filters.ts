/**
 * Study filters of `loader find` and the retrieve commands, turned into C-FIND
 * matching keys (PS3.4 C.2.2.2): patient name, study date, modalities and
 * study description.
 */

import { describeUidProblem } from '../../dicom/uid';

export interface StudyFilters {
  /**
   * Patient name: words that must all occur in the name, in any order, or a
   * pattern with * or ? for the whole name. See patientNameKey.
   */
  patientName?: string;
  patientId?: string;
  /** 'YYYYMMDD', a range 'A-B' ('A-' and '-B' are open), or a preset: today, yesterday, last-7-days, last-30-days. */
  date?: string;
  /** Matches studies with any of these modalities. */
  modalities?: string[];
  /** Study description; free text gets '*' on both sides unless it already has a wildcard. */
  studyDescription?: string;
  accessionNumber?: string;
  studyInstanceUids?: string[];
}

/** An inclusive date range; an undefined end is open. Dates are YYYYMMDD. */
export interface DateRange {
  from?: string;
  to?: string;
}

export class FilterError extends Error {
  override readonly name = 'FilterError';
}

const DATE = /^\d{8}$/;

/** Preset names accepted for the date filter, with the number of days back from today that they start. */
const DATE_PRESETS: Record<string, number> = {
  today: 0,
  yesterday: 1,
  'last-7-days': 6,
  'last-30-days': 29,
};

/** Formats a local calendar date as YYYYMMDD. */
export function formatDicomDate(date: Date): string {
  const month = String(date.getMonth() + 1).padStart(2, '0');
  const day = String(date.getDate()).padStart(2, '0');
  return `${date.getFullYear()}${month}${day}`;
}

function parseDicomDate(text: string): Date {
  return new Date(Number(text.slice(0, 4)), Number(text.slice(4, 6)) - 1, Number(text.slice(6, 8)));
}

function isValidCalendarDate(text: string): boolean {
  return DATE.test(text) && formatDicomDate(parseDicomDate(text)) === text;
}

function addDays(text: string, days: number): string {
  const date = parseDicomDate(text);
  date.setDate(date.getDate() + days);
  return formatDicomDate(date);
}

/**
 * Parses the date filter into a range. Accepts YYYYMMDD or YYYY-MM-DD for one
 * day, A-B with YYYYMMDD ends (either may be missing), and the presets today,
 * yesterday, last-7-days and last-30-days (local time; both ends included).
 * `label` names the value in errors, e.g. the option "--date".
 */
export function parseDateFilter(text: string, now: Date = new Date(), label = 'Date'): DateRange {
  const invalid = (problem: string) => new FilterError(`${label} "${text}" is invalid: ${problem}`);
  const value = text.trim().toLowerCase();
  if (value in DATE_PRESETS) {
    const today = formatDicomDate(now);
    const from = addDays(today, -DATE_PRESETS[value]);
    return { from, to: value === 'yesterday' ? from : today };
  }
  const isoDay = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const single = isoDay ? `${isoDay[1]}${isoDay[2]}${isoDay[3]}` : value;
  if (DATE.test(single)) {
    if (!isValidCalendarDate(single)) throw invalid(`${single} is not a calendar date`);
    return { from: single, to: single };
  }
  const range = /^(\d{8})?-(\d{8})?$/.exec(value);
  if (!range || (range[1] === undefined && range[2] === undefined)) {
    throw invalid('use YYYYMMDD, YYYYMMDD-YYYYMMDD (either end may be left out), today, yesterday, last-7-days or last-30-days');
  }
  for (const end of [range[1], range[2]]) {
    if (end !== undefined && !isValidCalendarDate(end)) throw invalid(`${end} is not a calendar date`);
  }
  if (range[1] !== undefined && range[2] !== undefined && range[1] > range[2]) {
    throw invalid(`the range starts after it ends; write it as ${range[2]}-${range[1]}`);
  }
  return { from: range[1], to: range[2] };
}

/**
 * Formats a range as a DA matching key (PS3.4 C.2.2.2.5). With `closeOpenEnds`
 * an open start becomes 19000101 and an open end becomes today, for nodes that
 * mishandle open ranges.
 * NOTE: closing the end at today leaves out studies dated after today, also in the last half of a split.
 */
export function formatDateRange(range: DateRange, closeOpenEnds = false, now: Date = new Date()): string {
  const from = range.from ?? (closeOpenEnds ? '19000101' : '');
  const to = range.to ?? (closeOpenEnds ? formatDicomDate(now) : '');
  if (from !== '' && from === to) return from;
  return `${from}-${to}`;
}

/**
 * Splits a range into two halves that share no day, for a query the node
 * truncated or rejected. An open start is taken as 19000101 and an open end as
 * today, or as 99991231 when the range starts after today, to find the middle.
 * The halves keep the open ends, so the last half still matches study dates
 * after today. Returns undefined for a single day, which cannot be split.
 */
export function splitDateRange(range: DateRange, now: Date = new Date()): [DateRange, DateRange] | undefined {
  const from = range.from ?? '19000101';
  const today = formatDicomDate(now);
  const to = range.to ?? (from < today ? today : '99991231');
  const days = Math.round((parseDicomDate(to).getTime() - parseDicomDate(from).getTime()) / 86_400_000);
  if (days < 1) return undefined;
  const middle = addDays(from, Math.floor(days / 2));
  return [
    { from: range.from, to: middle },
    { from: addDays(middle, 1), to: range.to },
  ];
}

/** True when the text has a C-FIND wildcard (* or ?). */
export function hasWildcard(text: string): boolean {
  return /[*?]/.test(text);
}

/** Adds '*' on both sides of free text ('иван' becomes '*иван*'); text with a wildcard is used as given. */
export function surroundWithWildcards(text: string): string {
  const trimmed = text.trim();
  if (trimmed === '' || hasWildcard(trimmed)) return trimmed;
  return `*${trimmed}*`;
}

/** Separators of the words of a patient name search: spaces, and the '^' and '=' delimiters of a PN value. */
const NAME_WORD_SEPARATORS = /[\s^=]+/;

/** Returns the words of a patient name search, or none for text with * or ?, which is a pattern. */
export function patientNameWords(text: string): string[] {
  if (hasWildcard(text)) return [];
  return text.split(NAME_WORD_SEPARATORS).filter((word) => word !== '');
}

/** The letters е and ё in both cases: a name may be stored with either, because many records are typed without ё. */
const YO_LETTERS = /[еёЕЁ]/g;

/**
 * Replaces е, ё, Е and Ё with '*', so that a node finds the name spelled with
 * either letter. '?' would not do, because DCMTK 3.6.7 dcmqrscp matches it
 * against one byte, and each of these letters is two bytes in UTF-8
 * (ISO_IR 192). '*' is ASCII, so it is valid in every character set the
 * loader sends, such as ISO_IR 192 and ISO_IR 144.
 */
function widenYoLetters(key: string): string {
  return key.replace(YO_LETTERS, '*').replace(/\*{2,}/g, '*');
}

/**
 * Returns the Patient's Name matching key sent to a node for a patient name
 * search. Text with * or ? is a pattern for the whole name. Otherwise every
 * word must occur in the name, in any order and in any component, as in
 * `loader studies`. One C-FIND key cannot express that, because a key such as
 * *Иван*Иванов* fixes the order of the words. So the longest word is sent as
 * *word* (Wild Card Matching, PS3.4 C.2.2.2.4). In the key, '*' replaces each
 * е and ё, so the node also returns names spelled with the other letter (see
 * widenYoLetters). findStudies then keeps only the matches that
 * `loader studies` would list (see needsLocalNameCheck).
 * NOTE: a node that matches names case-sensitively misses names written in
 * another case than typed, which `loader studies` finds in the archive.
 */
export function patientNameKey(text: string): string {
  if (hasWildcard(text)) return widenYoLetters(text.trim());
  const words = patientNameWords(text);
  if (words.length === 0) return '';
  const longest = words.reduce((best, word) => ([...word].length > [...best].length ? word : best));
  return widenYoLetters(`*${longest}*`);
}

/**
 * True when the matches of patientNameKey(text) must be checked on the client:
 * for several words, because the key has only the longest one, and for text
 * with е or ё, because the key has '*' in place of those letters.
 */
export function needsLocalNameCheck(text: string): boolean {
  return patientNameWords(text).length > 1 || /[еёЕЁ]/.test(text);
}

/** Splits modality arguments given as "CT MR", "CT,MR" or "CT\\MR" into upper-case codes without duplicates. */
export function normalizeModalities(values: string[] | undefined): string[] {
  const codes = (values ?? []).flatMap((value) => value.split(/[\s,\\]+/)).map((code) => code.trim().toUpperCase());
  const unique = [...new Set(codes.filter((code) => code !== ''))];
  for (const code of unique) {
    if (!/^[A-Z0-9_ ]{1,16}$/.test(code)) throw new FilterError(`Modality "${code}" is invalid: use codes such as CT, MR, US`);
  }
  return unique;
}

/**
 * Checks Study or Series Instance UIDs given by the user. UID matching has no
 * wildcards (PS3.4 C.2.2.2.2), so a node would return nothing or a failure
 * status for '1.2.*'.
 *
 * @throws FilterError naming the option and the value.
 */
export function validateUids(option: string, uids: string[]): void {
  for (const uid of uids) {
    if (hasWildcard(uid)) {
      throw new FilterError(`${option} "${uid}" is invalid: UID matching allows no wildcards (* or ?); give whole UIDs`);
    }
    const problem = describeUidProblem(uid);
    if (problem) throw new FilterError(`${option} "${uid}" is not a valid UID: it ${problem}`);
  }
}
