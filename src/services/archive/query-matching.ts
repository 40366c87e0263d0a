/**
 * Translates C-FIND key values into SQL conditions (PS3.4 section C.2.2.2):
 * universal, single value, wildcard, list of UIDs and range matching.
 *
 * Wildcard and person name matching run in a JavaScript function registered
 * on the connection, because SQLite's LIKE folds case only for ASCII and
 * person names such as Cyrillic ones need Unicode case folding. A second
 * function pads stored times, so that times are compared as moments of the day.
 */

import type Database from 'better-sqlite3';
import { normalizeDate, normalizeTime, trimPersonName } from '../../dicom/values';
import { QueryError } from './errors';
import type { QueryAttribute } from './query-attributes';

/** SQL function name: dicom_match(pattern, value, caseInsensitive, personName) → 0 or 1. */
export const MATCH_FUNCTION = 'dicom_match';

/** SQL function name: loader_search_match(query, value, personName, wholeWords) → 0 or 1; see matchSearchText. */
export const SEARCH_MATCH_FUNCTION = 'loader_search_match';

/** SQL function name: dicom_time_key(time) → the time as HHMMSS.FFFFFF, or '' for ''; see timeKey. */
export const TIME_KEY_FUNCTION = 'dicom_time_key';

export interface SqlCondition {
  sql: string;
  parameters: unknown[];
}

export interface MatchOptions {
  /** Fold case (Unicode) when matching; used for person names by default and for free-text search. */
  caseInsensitive: boolean;
}

/**
 * Returns the condition for one key, or undefined when the key matches every
 * record: an empty value (universal matching) or a value of only '*', which
 * also matches records whose value is empty. A value of '""' selects the
 * records whose value is empty (see EMPTY_VALUE_KEY). A key with several
 * values matches a record that any of its values matches (see
 * anyValueCondition).
 *
 * @throws QueryError 'value-too-long' for a value longer than its VR allows,
 * and 'invalid-key' for a malformed date or time range.
 */
export function buildCondition(
  keyword: string,
  attribute: QueryAttribute,
  value: string,
  options: MatchOptions,
): SqlCondition | undefined {
  checkValueLength(keyword, attribute, value);
  if (isUniversalMatch(value)) return undefined;
  if (value === EMPTY_VALUE_KEY && attribute.vr !== 'UI') return emptyValueCondition(attribute);
  if (value.includes('\\') && attribute.match !== 'uid' && attribute.match !== 'member') {
    return anyValueCondition(keyword, attribute, value, options);
  }

  switch (attribute.match) {
    case 'uid':
      return uidCondition(attribute.column, value);
    case 'date':
      return rangeCondition(keyword, attribute.column, value, (text) => normalizeDate(text), false);
    case 'time':
      return rangeCondition(keyword, `${TIME_KEY_FUNCTION}(${attribute.column})`, value, (text) => normalizeTime(text), true);
    case 'member':
      return memberCondition(attribute, value);
    case 'integer':
      return integerCondition(attribute.column, value);
    case 'person-name': {
      // Trailing empty components may be omitted (PS3.5 6.2.1.1), so 'Doe^John^^' is 'Doe^John', and '^^' is empty.
      const name = trimPersonName(value);
      if (isUniversalMatch(name)) return undefined;
      return {
        sql: `${MATCH_FUNCTION}(?, ${attribute.column}, ?, 1)`,
        parameters: [name, options.caseInsensitive ? 1 : 0],
      };
    }
    case 'text':
      return textCondition(attribute.column, value, options.caseInsensitive, WILDCARD_VRS.has(attribute.vr));
  }
}

/**
 * Maximum values of one key that anyValueCondition joins with OR, because
 * SQLite rejects an expression nested deeper than 1000 levels
 * (SQLITE_MAX_EXPR_DEPTH) and a long list is more likely an error than a query.
 */
const MAX_ALTERNATIVE_VALUES = 100;

/**
 * Matches a key with several values, such as PatientID 'P1\\P2', when any of
 * its values matches, each value by the rules of its VR.
 *
 * PS3.4 section C.2.2.2.8 (2024b edition), note 4: without Extended
 * Negotiation of Multiple Value Matching, which the loader does not offer,
 * the meaning of several values in a key is undefined. The loader reads them
 * as alternatives, as List of UID Matching (C.2.2.2.2) does for UIDs and as
 * Orthanc 1.10.1 does for every key. DCMTK 3.6.7 dcmqrscp compares the whole
 * value, backslash included, so such a key there matches nothing.
 * An empty value in the list is skipped, and a value of only '*' makes the
 * whole key universal.
 */
function anyValueCondition(keyword: string, attribute: QueryAttribute, value: string, options: MatchOptions): SqlCondition | undefined {
  const items = splitValues(value);
  if (items.length > MAX_ALTERNATIVE_VALUES) {
    throw new QueryError(
      'invalid-key',
      `${keyword} has ${items.length} values; at most ${MAX_ALTERNATIVE_VALUES} are matched, so split the query`,
      keyword,
    );
  }

  const alternatives: SqlCondition[] = [];
  for (const item of items) {
    const condition = buildCondition(keyword, attribute, item, options);
    if (!condition) return undefined;
    alternatives.push(condition);
  }
  if (alternatives.length === 0) return undefined;
  return {
    sql: alternatives.map((condition) => `(${condition.sql})`).join(' OR '),
    parameters: alternatives.flatMap((condition) => condition.parameters),
  };
}

/**
 * Key value of Empty Value Matching (PS3.4 C.2.2.2.7): two QUOTATION MARK
 * characters. It matches the entities whose attribute is empty or absent.
 * The loader applies it to every key except UIDs, which have List of UID
 * matching, and sequences, which the index does not match.
 * NOTE: the loader applies it to every request, with no Extended Negotiation,
 * because otherwise '""' would match only the literal value '""'.
 */
export const EMPTY_VALUE_KEY = '""';

/**
 * Returns the condition that the attribute is empty or absent. A study
 * matches ModalitiesInStudy '""' when none of its series has a Modality, and
 * a person name matches when it has only component and group delimiters.
 */
function emptyValueCondition(attribute: QueryAttribute): SqlCondition {
  switch (attribute.match) {
    case 'member':
      return { sql: `NOT EXISTS (SELECT 1 FROM (${attribute.members}))`, parameters: [] };
    case 'person-name':
      return { sql: `rtrim(COALESCE(${attribute.column}, ''), '^= ') = ''`, parameters: [] };
    default:
      return { sql: `COALESCE(${attribute.column}, '') = ''`, parameters: [] };
  }
}

/**
 * An IS value (PS3.5 table 6.2-1): decimal digits with an optional leading
 * '+' or '-', padded with spaces on either side.
 */
const INTEGER_STRING = /^ *[+-]?[0-9]+ *$/;

/**
 * Single value matching of an IS key, compared as an integer, so '+2', '02'
 * and ' 2' all match a stored 2. PS3.4 C.2.2.2.1 leaves the comparison of IS
 * values to the implementation. A key that is not a valid IS value, such as
 * one with '?', matches nothing. The stored column is an integer or '' (see
 * QUERY_ATTRIBUTES), so CAST never turns text into 0.
 */
function integerCondition(column: string, value: string): SqlCondition {
  if (!INTEGER_STRING.test(value)) return { sql: '0', parameters: [] };
  return { sql: `${column} <> '' AND CAST(${column} AS INTEGER) = ?`, parameters: [Number.parseInt(value.trim(), 10)] };
}

/**
 * VRs on which '*' and '?' are wildcards (PS3.4 C.2.2.2.4). On other VRs,
 * such as IS, a value with them is matched literally, so it matches nothing,
 * and only a value of '*' alone is universal matching.
 */
const WILDCARD_VRS = new Set(['AE', 'CS', 'LO', 'LT', 'PN', 'SH', 'ST', 'UC', 'UR', 'UT']);

/**
 * Maximum characters of one key value per VR (PS3.5 table 6.2-1). DA and TM
 * have the lengths of a range query ("A-B"), widened for the dotted ACR-NEMA
 * forms (YYYY.MM.DD, HH:MM:SS.FFFFFF) that the date and time parsers accept.
 * PN is per component group.
 */
const MAX_VALUE_LENGTH: Record<string, number> = {
  AE: 16,
  CS: 16,
  DA: 21,
  IS: 12,
  LO: 64,
  PN: 64,
  SH: 16,
  TM: 31,
  UI: 64,
};

/** A person name has at most three component groups: alphabetic, ideographic and phonetic (PS3.5 section 6.2.1). */
const MAX_COMPONENT_GROUPS = 3;

/**
 * Rejects a key value longer than its VR allows, so a hostile query cannot
 * make matching slow or a message huge. '*' is not counted, because free-text
 * search surrounds a full-length value with '*' and runs of '*' are merged
 * before matching, so a pattern is still at most twice the maximum plus one
 * character. A key with several values is checked value by value, because
 * PS3.5 table 6.2-1 limits the length of each value.
 *
 * @throws QueryError 'value-too-long'
 */
export function checkValueLength(keyword: string, attribute: QueryAttribute, value: string): void {
  const maximum = MAX_VALUE_LENGTH[attribute.vr] ?? MAX_VALUE_LENGTH.LO;
  const counted = (text: string) => {
    let count = 0;
    for (const character of text) if (character !== '*') count += 1;
    return count;
  };

  for (const item of value.split('\\')) {
    if (attribute.vr === 'PN') {
      checkPersonNameLength(keyword, item, maximum, counted);
      continue;
    }
    const count = counted(item);
    if (count > maximum) throw new QueryError('value-too-long', `${keyword} value has ${count} characters; ${attribute.vr} allows ${maximum}`, keyword);
  }
}

function checkPersonNameLength(keyword: string, value: string, maximum: number, counted: (text: string) => number): void {
  const groups = value.split('=');
  if (groups.length > MAX_COMPONENT_GROUPS) {
    throw new QueryError('value-too-long', `${keyword} has ${groups.length} component groups; PN allows ${MAX_COMPONENT_GROUPS}`, keyword);
  }
  for (const group of groups) {
    const count = counted(group);
    if (count > maximum) throw new QueryError('value-too-long', `${keyword} has ${count} characters in a group; PN allows ${maximum}`, keyword);
  }
}

function textCondition(column: string, value: string, caseInsensitive: boolean, allowsWildcards: boolean): SqlCondition {
  if (!allowsWildcards || (!caseInsensitive && !hasWildcard(value))) return { sql: `${column} = ?`, parameters: [value] };
  return { sql: `${MATCH_FUNCTION}(?, ${column}, ?, 0)`, parameters: [value, caseInsensitive ? 1 : 0] };
}

/** Matches a single UID or any UID of a backslash-separated list (PS3.4 section C.2.2.2.2). */
function uidCondition(column: string, value: string): SqlCondition {
  const uids = splitValues(value);
  if (uids.length === 1) return { sql: `${column} = ?`, parameters: [uids[0]] };
  return { sql: `${column} IN (SELECT value FROM json_each(?))`, parameters: [JSON.stringify(uids)] };
}

/**
 * ModalitiesInStudy and SOPClassesInStudy: the record matches when any member
 * of the study's set matches any listed value. A listed value may contain
 * wildcards where the VR allows them, so in ModalitiesInStudy (CS) but not in
 * SOPClassesInStudy (UI).
 */
function memberCondition(attribute: QueryAttribute, value: string): SqlCondition {
  const values = splitValues(value);
  const isPattern = (item: string) => WILDCARD_VRS.has(attribute.vr) && hasWildcard(item);
  return anyMemberCondition(attribute.members!, 'member', values.filter((item) => !isPattern(item)), values.filter(isPattern));
}

/**
 * Returns the condition that some row of `members` has `memberSql` equal to
 * one of `exact` or matching one of `patterns` (C-FIND patterns, compared
 * case-sensitively).
 */
function anyMemberCondition(members: string, memberSql: string, exact: string[], patterns: string[]): SqlCondition {
  const alternatives: string[] = [];
  const parameters: unknown[] = [];
  if (exact.length > 0) {
    alternatives.push(`${memberSql} IN (SELECT value FROM json_each(?))`);
    parameters.push(JSON.stringify(exact));
  }
  for (const pattern of patterns) {
    alternatives.push(`${MATCH_FUNCTION}(?, ${memberSql}, 0, 0)`);
    parameters.push(pattern);
  }
  return {
    sql: `EXISTS (SELECT 1 FROM (${members}) WHERE ${alternatives.join(' OR ')})`,
    parameters,
  };
}

/**
 * Range matching "A-B", "A-" and "-B" (inclusive), or single value matching,
 * on normalized text compared lexically. An empty value never matches.
 *
 * For times (`isTime`), `column` must yield timeKey of the stored value, so
 * that "08", "0800" and "080000" are the same moment (PS3.4 C.2.2.2.5 compares
 * times within a day directly). A single value and a lower bound are padded
 * the same way. An upper bound such as "1030" also admits every time it
 * prefixes (103059.5), so the whole minute is inside.
 */
function rangeCondition(
  keyword: string,
  column: string,
  value: string,
  normalize: (text: string) => string | undefined,
  isTime: boolean,
): SqlCondition {
  const parse = (text: string): string => {
    const normalized = normalize(text.trim());
    if (normalized === undefined) {
      throw new QueryError('invalid-key', `Invalid ${keyword} value "${value}": "${text}" is not a valid date or time`);
    }
    return normalized;
  };
  const parseBound = (text: string): string => (isTime ? timeKey(parse(text)) : parse(text));

  const dash = value.indexOf('-');
  if (dash < 0) return { sql: `${column} = ?`, parameters: [parseBound(value)] };

  const lower = value.slice(0, dash);
  const upper = value.slice(dash + 1);
  if (lower === '' && upper === '') {
    throw new QueryError('invalid-key', `Invalid ${keyword} range "${value}": both bounds are empty`);
  }
  const lowerBound = lower === '' ? undefined : parseBound(lower);
  let upperBound: string | undefined;
  if (upper !== '') {
    // U+FFFF sorts after every digit and '.', so "1030\uffff" is above "103059.500000".
    upperBound = isTime ? parse(upper) + '\uffff' : parse(upper);
  }

  // PS3.4 C.2.2.2.5 defines a range only from the earlier to the later value, and range matching of
  // times does not cross midnight, so a reversed range is an error rather than an empty match.
  if (lowerBound !== undefined && upperBound !== undefined && lowerBound > upperBound) {
    const advice = isTime ? 'a time range cannot cross midnight, so query two ranges (such as 2300-2359 and 0000-0100)' : 'swap the two dates';
    throw new QueryError('invalid-key', `Invalid ${keyword} range "${value}": it starts after it ends; ${advice}`);
  }

  const conditions = [`${column} <> ''`];
  const parameters: string[] = [];
  if (lowerBound !== undefined) {
    conditions.push(`${column} >= ?`);
    parameters.push(lowerBound);
  }
  if (upperBound !== undefined) {
    conditions.push(`${column} <= ?`);
    parameters.push(upperBound);
  }
  return { sql: conditions.join(' AND '), parameters };
}

/**
 * Returns a normalized time (HH[MM[SS[.F{1,6}]]]) padded with zeros to
 * HHMMSS.FFFFFF, so that text order is time order and "08" equals "080000".
 * Returns '' for ''.
 */
export function timeKey(time: string): string {
  if (time === '') return '';
  const [clock, fraction = ''] = time.split('.');
  return `${clock.padEnd(6, '0')}.${fraction.padEnd(6, '0')}`;
}

/**
 * True for a key value that matches every record: an empty value (universal
 * matching, PS3.4 C.2.2.2.3) or a value of only '*' (C.2.2.2.4).
 */
export function isUniversalMatch(value: string): boolean {
  return value === '' || /^\*+$/.test(value);
}

export function hasWildcard(value: string): boolean {
  return value.includes('*') || value.includes('?');
}

function splitValues(value: string): string[] {
  return value
    .split('\\')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

const PATTERN_CACHE_LIMIT = 256;
const patternCache = new Map<string, CompiledPattern>();

/** Pattern token for '*': any sequence of characters, including none. */
const ANY_SEQUENCE = -1;
/** Pattern token for '?': any single character. */
const ANY_CHARACTER = -2;

/**
 * A C-FIND pattern as code points, with ANY_SEQUENCE and ANY_CHARACTER for
 * the wildcards and each run of '*' merged into one ANY_SEQUENCE.
 */
type CompiledPattern = readonly number[];

/**
 * Compiles a C-FIND pattern: '*' matches any sequence, '?' any single
 * character, and every other character itself (PS3.4 C.2.2.2.4). With
 * `caseInsensitive` the characters are case-folded, so 'иванов' matches 'Иванов'.
 */
export function compilePattern(pattern: string, caseInsensitive: boolean): CompiledPattern {
  const cacheKey = (caseInsensitive ? 'i' : 's') + pattern;
  let compiled = patternCache.get(cacheKey);
  if (!compiled) {
    const tokens: number[] = [];
    for (const character of pattern) {
      if (character === '*') {
        if (tokens[tokens.length - 1] !== ANY_SEQUENCE) tokens.push(ANY_SEQUENCE);
      } else if (character === '?') {
        tokens.push(ANY_CHARACTER);
      } else {
        tokens.push(caseInsensitive ? foldCase(character) : character.codePointAt(0)!);
      }
    }
    compiled = tokens;
    if (patternCache.size >= PATTERN_CACHE_LIMIT) patternCache.clear();
    patternCache.set(cacheKey, compiled);
  }
  return compiled;
}

/**
 * Tests a value against a compiled pattern with the greedy two-pointer
 * wildcard match. When a character does not match, it goes back to the last
 * '*' and lets that '*' take one more character of the value. The time is
 * therefore at most the product of the two lengths, and no input makes it
 * backtrack exponentially as a regular expression can.
 */
function matchCompiled(pattern: CompiledPattern, value: string, caseInsensitive: boolean): boolean {
  const characters = toCodePoints(value, caseInsensitive);
  let patternIndex = 0;
  let valueIndex = 0;
  let starIndex = -1;
  let starValueIndex = 0;

  while (valueIndex < characters.length) {
    const token = pattern[patternIndex];
    if (patternIndex < pattern.length && token === ANY_SEQUENCE) {
      starIndex = patternIndex;
      starValueIndex = valueIndex;
      patternIndex += 1;
    } else if (patternIndex < pattern.length && (token === ANY_CHARACTER || token === characters[valueIndex])) {
      patternIndex += 1;
      valueIndex += 1;
    } else if (starIndex >= 0) {
      patternIndex = starIndex + 1;
      starValueIndex += 1;
      valueIndex = starValueIndex;
    } else {
      return false;
    }
  }
  while (patternIndex < pattern.length && pattern[patternIndex] === ANY_SEQUENCE) patternIndex += 1;
  return patternIndex === pattern.length;
}

function toCodePoints(value: string, caseInsensitive: boolean): number[] {
  const codePoints: number[] = [];
  for (const character of value) codePoints.push(caseInsensitive ? foldCase(character) : character.codePointAt(0)!);
  return codePoints;
}

const FOLD_CACHE_LIMIT = 4096;
const foldCache = new Map<string, number>();

/**
 * Returns the case-folded code point of one character: the lower case of its
 * upper case, so that 'ς', 'σ' and 'Σ' fold alike. A character whose upper or
 * lower case has more than one code point ('ß' becomes 'SS') stays as it is.
 * NOTE: this differs from Unicode simple case folding for a few characters,
 * for example dotless 'ı' folds to 'i' here.
 */
function foldCase(character: string): number {
  const code = character.codePointAt(0)!;
  if (code < 0x80) return code >= 0x41 && code <= 0x5a ? code + 0x20 : code;

  const cached = foldCache.get(character);
  if (cached !== undefined) return cached;
  const upper = character.toUpperCase();
  const base = [...upper].length === 1 ? upper : character;
  const lower = base.toLowerCase();
  const folded = [...lower].length === 1 ? lower.codePointAt(0)! : code;
  if (foldCache.size < FOLD_CACHE_LIMIT) foldCache.set(character, folded);
  return folded;
}

/**
 * Matches one value. An empty value never matches here, because buildCondition
 * has already turned '*' into "no condition". A person name is compared
 * without trailing empty components. A person name key without '=' also
 * matches when one of the value's component groups (alphabetic, ideographic,
 * phonetic) matches. A key with '=' is matched group by group (see
 * matchComponentGroups).
 */
export function matchValue(pattern: string, value: string | null, caseInsensitive: boolean, personName: boolean): boolean {
  if (value === null || value === '') return false;
  if (personName) value = trimPersonName(value);
  if (personName && pattern.includes('=')) return matchComponentGroups(pattern, value, caseInsensitive);
  const compiled = compilePattern(pattern, caseInsensitive);
  if (matchCompiled(compiled, value, caseInsensitive)) return true;
  if (!personName || !value.includes('=')) return false;
  return value.split('=').some((group) => group !== '' && matchCompiled(compiled, group, caseInsensitive));
}

/**
 * Matches a person name key that has component groups against a value, each
 * group against the value's group at the same position. A group that the key
 * leaves empty or omits matches any value, so 'Yamada^Tarou=山田^太郎' and
 * '=山田^太郎' match 'Yamada^Tarou=山田^太郎=やまだ^たろう'. PS3.5 section
 * 6.2 (PN) lets any component group be absent and trailing groups be omitted,
 * and PS3.4 section C.2.2.2.4 leaves wild card matching of PN to the
 * implementation. A key group that is not empty does not match an empty or
 * missing value group, as a key that is not empty does not match an empty value.
 */
function matchComponentGroups(pattern: string, value: string, caseInsensitive: boolean): boolean {
  const keyGroups = pattern.split('=');
  const valueGroups = value.split('=');
  for (let i = 0; i < keyGroups.length; i++) {
    const keyGroup = keyGroups[i].replace(/\^+$/, '');
    if (keyGroup === '' || /^\*+$/.test(keyGroup)) continue;
    const valueGroup = valueGroups[i] ?? '';
    if (valueGroup === '' || !matchCompiled(compilePattern(keyGroup, caseInsensitive), valueGroup, caseInsensitive)) return false;
  }
  return true;
}

/**
 * Returns the condition of a free-text filter of `loader studies` (--name,
 * --description) on the attribute's column, or undefined when `query`
 * matches every record. See matchSearchText for how the text matches, and
 * for `wordMatching`, which applies to person names only.
 *
 * @throws QueryError 'value-too-long' for a query longer than the VR allows.
 */
export function searchTextCondition(keyword: string, attribute: QueryAttribute, query: string, wordMatching: SearchWordMatching = 'contained'): SqlCondition | undefined {
  checkValueLength(keyword, attribute, query);
  const personName = attribute.match === 'person-name';
  const separators = personName ? /[\s^=]+/ : /\s+/;
  if (isUniversalMatch(query.replace(new RegExp(separators, 'g'), ''))) return undefined;
  return { sql: `${SEARCH_MATCH_FUNCTION}(?, ${attribute.column}, ?, ?)`, parameters: [query, personName ? 1 : 0, wordMatching === 'whole' ? 1 : 0] };
}

/**
 * Returns the condition of --modality of `loader studies`: the study has a
 * series of any of `codes`. Unlike C-FIND matching, which compares CS values
 * as stored, case is ignored, so a modality stored as "mr" is found by MR.
 */
export function searchModalityCondition(attribute: QueryAttribute, codes: string[]): SqlCondition {
  const upperCodes = codes.map((code) => code.trim().toUpperCase()).filter((code) => code !== '');
  if (upperCodes.length === 0) return { sql: '1', parameters: [] };
  const exact = upperCodes.filter((code) => !hasWildcard(code));
  return anyMemberCondition(attribute.members!, 'upper(member)', exact, upperCodes.filter(hasWildcard));
}

/** Replaces ё with е, as Russian search usually does, because many records are typed without ё. */
function foldYo(text: string): string {
  return text.replace(/[ёЁ]/g, (letter) => (letter === 'ё' ? 'е' : 'Е'));
}

/** Returns `text` with ё folded to е and every character case-folded, for substring comparison. */
function foldForSearch(text: string): string {
  return String.fromCodePoint(...toCodePoints(foldYo(text), true));
}

/**
 * Returns the component groups of a person name as a user types them, with
 * trailing empty components removed and components ('^') separated by single
 * spaces. 'Иванов^Иван^Петрович' becomes ['Иванов Иван Петрович'].
 */
function personNameGroups(value: string): string[] {
  return trimPersonName(value)
    .split('=')
    .map((group) => group.split(/[\s^]+/).filter((part) => part !== '').join(' '))
    .filter((group) => group !== '');
}

/**
 * Word matching of a person name filter without * or ?. With 'contained',
 * each word occurs anywhere in the name, so 'иванов' also finds
 * Иванова^Анна. With 'whole', each word equals a whole word of the name, as
 * `loader delete --name` selects.
 */
export type SearchWordMatching = 'contained' | 'whole';

/**
 * Matches one value against a free-text filter of `loader studies`. Case is
 * ignored and ё matches е. Without * or ?, every word of `query` must occur
 * somewhere in the value, in any order, and for a person name '^' and '='
 * in the query separate words as spaces do. With `wordMatching` 'whole', each
 * word of a person name query must instead equal its own word of one
 * component group of the name. With * or ?, the query is a C-FIND pattern
 * that must match the whole value, or for a person name one whole component
 * group. In a person name pattern, '^' and runs of spaces are compared as
 * one space, in the query and in the name alike.
 */
export function matchSearchText(query: string, value: string | null, personName: boolean, wordMatching: SearchWordMatching = 'contained'): boolean {
  if (value === null || value === '') return false;
  const candidates = personName ? personNameGroups(value) : [value];

  if (hasWildcard(query)) {
    const pattern = personName ? query.trim().split(/[\s^]+/).join(' ') : query.trim();
    const compiled = compilePattern(foldYo(pattern), true);
    return candidates.some((candidate) => matchCompiled(compiled, foldYo(candidate), true));
  }

  const words = personName ? query.split(/[\s^=]+/).filter((word) => word !== '') : [query.trim()];
  if (personName && wordMatching === 'whole') {
    return candidates.some((candidate) => containsWholeWords(candidate.split(' '), words));
  }
  const folded = foldForSearch(candidates.join(' '));
  return words.every((word) => folded.includes(foldForSearch(word)));
}

/**
 * Returns true when each word of `queryWords` equals a word of `nameWords`,
 * ignoring case and ё, and no two query words take the same name word, so
 * 'иван иван' matches Иван^Иван but not Иванов^Иван.
 */
function containsWholeWords(nameWords: string[], queryWords: string[]): boolean {
  const remaining = nameWords.map(foldForSearch);
  for (const word of queryWords) {
    const index = remaining.indexOf(foldForSearch(word));
    if (index < 0) return false;
    remaining.splice(index, 1);
  }
  return true;
}

/** Registers MATCH_FUNCTION, SEARCH_MATCH_FUNCTION and TIME_KEY_FUNCTION on a connection. */
export function registerMatchFunctions(db: Database.Database): void {
  db.function(SEARCH_MATCH_FUNCTION, { deterministic: true }, (query, value, personName, wholeWords) =>
    matchSearchText(String(query), value === null ? null : String(value), personName === 1, wholeWords === 1 ? 'whole' : 'contained') ? 1 : 0,
  );
  db.function(MATCH_FUNCTION, { deterministic: true }, (pattern, value, caseInsensitive, personName) =>
    matchValue(String(pattern), value === null ? null : String(value), caseInsensitive === 1, personName === 1) ? 1 : 0,
  );
  db.function(TIME_KEY_FUNCTION, { deterministic: true }, (time) => (time === null ? '' : timeKey(String(time))));
}
