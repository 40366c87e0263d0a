/**
 * Translates C-FIND key values into SQL conditions (PS3.4 section C.2.2.2):
 * universal, single value, wildcard, list of UIDs and range matching.
 *
 * Wildcard and person name matching run in a JavaScript function registered
 * on the connection, because SQLite's LIKE folds case only for ASCII and
 * person names such as Cyrillic ones need Unicode case folding.
 */

import type Database from 'better-sqlite3';
import { normalizeDate, normalizeTime } from '../../dicom/values';
import { QueryError } from './errors';
import type { QueryAttribute } from './query-attributes';

/** SQL function name: dicom_match(pattern, value, caseInsensitive, personName) → 0 or 1. */
export const MATCH_FUNCTION = 'dicom_match';

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
 * also matches records whose value is empty.
 *
 * @throws QueryError 'invalid-key' for a malformed date or time range.
 */
export function buildCondition(
  keyword: string,
  attribute: QueryAttribute,
  value: string,
  options: MatchOptions,
): SqlCondition | undefined {
  if (value === '' || /^\*+$/.test(value)) return undefined;

  switch (attribute.match) {
    case 'uid':
      return uidCondition(attribute.column, value);
    case 'date':
      return rangeCondition(keyword, attribute.column, value, (text) => normalizeDate(text), false);
    case 'time':
      return rangeCondition(keyword, attribute.column, value, (text) => normalizeTime(text), true);
    case 'member':
      return memberCondition(attribute, value);
    case 'person-name':
      return {
        sql: `${MATCH_FUNCTION}(?, ${attribute.column}, ?, 1)`,
        parameters: [value, options.caseInsensitive ? 1 : 0],
      };
    case 'text':
      return textCondition(attribute.column, value, options.caseInsensitive);
  }
}

function textCondition(column: string, value: string, caseInsensitive: boolean): SqlCondition {
  if (!caseInsensitive && !hasWildcard(value)) return { sql: `${column} = ?`, parameters: [value] };
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
 * of the study's set matches any listed value; each listed value may contain wildcards.
 */
function memberCondition(attribute: QueryAttribute, value: string): SqlCondition {
  const values = splitValues(value);
  const exact = values.filter((item) => !hasWildcard(item));
  const patterns = values.filter((item) => hasWildcard(item));

  const alternatives: string[] = [];
  const parameters: unknown[] = [];
  if (exact.length > 0) {
    alternatives.push('member IN (SELECT value FROM json_each(?))');
    parameters.push(JSON.stringify(exact));
  }
  for (const pattern of patterns) {
    alternatives.push(`${MATCH_FUNCTION}(?, member, 0, 0)`);
    parameters.push(pattern);
  }
  return {
    sql: `EXISTS (SELECT 1 FROM (${attribute.members}) WHERE ${alternatives.join(' OR ')})`,
    parameters,
  };
}

/**
 * Range matching "A-B", "A-" and "-B" (inclusive), or single value matching,
 * on normalized text compared lexically. An empty value never matches.
 * With `extendUpperBound` an upper bound such as the time "1030" also admits
 * every longer value it prefixes (103059.5), so the whole minute is inside.
 */
function rangeCondition(
  keyword: string,
  column: string,
  value: string,
  normalize: (text: string) => string | undefined,
  extendUpperBound: boolean,
): SqlCondition {
  const parse = (text: string): string => {
    const normalized = normalize(text.trim());
    if (normalized === undefined) {
      throw new QueryError('invalid-key', `Invalid ${keyword} value "${value}": "${text}" is not a valid date or time`);
    }
    return normalized;
  };

  const dash = value.indexOf('-');
  if (dash < 0) return { sql: `${column} = ?`, parameters: [parse(value)] };

  const lower = value.slice(0, dash);
  const upper = value.slice(dash + 1);
  if (lower === '' && upper === '') {
    throw new QueryError('invalid-key', `Invalid ${keyword} range "${value}": both bounds are empty`);
  }
  const conditions = [`${column} <> ''`];
  const parameters: string[] = [];
  if (lower !== '') {
    conditions.push(`${column} >= ?`);
    parameters.push(parse(lower));
  }
  if (upper !== '') {
    conditions.push(`${column} <= ?`);
    // U+FFFF sorts after every digit and '.', so "1030\uffff" is above "103059.5".
    parameters.push(extendUpperBound ? parse(upper) + '\uffff' : parse(upper));
  }
  return { sql: conditions.join(' AND '), parameters };
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
const patternCache = new Map<string, RegExp>();

/**
 * Compiles a C-FIND pattern: '*' matches any sequence, '?' any single
 * character, and every other character itself. The 'u' and 'i' flags give
 * Unicode simple case folding, so 'иванов' matches 'Иванов'.
 */
export function compilePattern(pattern: string, caseInsensitive: boolean): RegExp {
  const cacheKey = (caseInsensitive ? 'i' : 's') + pattern;
  let expression = patternCache.get(cacheKey);
  if (!expression) {
    let source = '';
    for (const character of pattern) {
      if (character === '*') source += '.*';
      else if (character === '?') source += '.';
      else source += character.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    }
    expression = new RegExp(`^${source}$`, caseInsensitive ? 'isu' : 'su');
    if (patternCache.size >= PATTERN_CACHE_LIMIT) patternCache.clear();
    patternCache.set(cacheKey, expression);
  }
  return expression;
}

/**
 * Matches one value. An empty value never matches here, because buildCondition
 * has already turned '*' into "no condition". A person name also matches when
 * one of its component groups (alphabetic, ideographic, phonetic, separated by '=') matches.
 */
export function matchValue(pattern: string, value: string | null, caseInsensitive: boolean, personName: boolean): boolean {
  if (value === null || value === '') return false;
  const expression = compilePattern(pattern, caseInsensitive);
  if (expression.test(value)) return true;
  if (!personName || !value.includes('=')) return false;
  return value.split('=').some((group) => group !== '' && expression.test(group));
}

/** Registers MATCH_FUNCTION on a connection. */
export function registerMatchFunctions(db: Database.Database): void {
  db.function(MATCH_FUNCTION, { deterministic: true }, (pattern, value, caseInsensitive, personName) =>
    matchValue(String(pattern), value === null ? null : String(value), caseInsensitive === 1, personName === 1) ? 1 : 0,
  );
}
