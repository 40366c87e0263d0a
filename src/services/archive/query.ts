/**
 * C-FIND query engine over the archive index (PS3.4 annex C), used by the
 * C-FIND SCP, and the study search of `loader studies`.
 */

import type Database from 'better-sqlite3';
import { STUDY_SUMMARY_COLUMNS, toStudySummary, type StudySummary } from './catalog';
import { QueryError } from './errors';
import {
  LEVEL_DEPTH,
  LEVEL_FROM,
  LEVEL_ORDER,
  QUERY_ATTRIBUTES,
  UNIQUE_KEY,
  queryAttributeAt,
  type QueryLevel,
} from './query-attributes';
import {
  buildCondition,
  isUniversalMatch,
  registerMatchFunctions,
  searchModalityCondition,
  searchTextCondition,
  type SearchWordMatching,
  type SqlCondition,
} from './query-matching';

export type { QueryLevel } from './query-attributes';

/** One key of a C-FIND identifier. */
export interface QueryKey {
  /** DICOM keyword, for example 'PatientName' or 'ModalitiesInStudy'. */
  keyword: string;
  /** Decoded value as in the request; '' means universal matching (a return key). */
  value: string;
}

export interface QueryOptions {
  /** Information model of the C-FIND SOP class: Patient Root or Study Root. */
  model: 'PATIENT' | 'STUDY';
  /** Match person names without regard to case (Unicode). Default true. */
  caseInsensitivePersonNames?: boolean;
}

/** Filters of searchStudies. The text filters match as matchSearchText describes. */
export interface StudySearchFilters {
  /** Words of the patient name in any order, or a pattern with * and ? for the whole name. */
  name?: string;
  /** Word matching of `name` against the patient name, 'contained' by default; see SearchWordMatching. */
  nameWordMatching?: SearchWordMatching;
  /** Patient ID, exact and case-sensitive unless it contains * or ?. */
  patientId?: string;
  /** 'YYYYMMDD' or a range 'A-B', 'A-', '-B'. */
  date?: string;
  /** The study matches when it has a series of any of these modalities, in any case. */
  modalities?: string[];
  /** Part of the study description, or a pattern with * and ? for the whole description. */
  description?: string;
  /** Accession Number, exact and case-sensitive unless it contains * or ?. */
  accessionNumber?: string;
}

export class QueryEngine {
  constructor(private readonly db: Database.Database) {
    registerMatchFunctions(db);
  }

  /**
   * Returns the records at `level` matching every key. Each record has every
   * requested keyword ('' when unknown or not stored at this level) and the
   * unique key of the level. SpecificCharacterSet is left to the caller.
   *
   * In a hierarchical query the unique keys of the levels above must be
   * present with a value other than '' or '*': StudyInstanceUID for SERIES
   * and IMAGE, SeriesInstanceUID for IMAGE, and PatientID below PATIENT in
   * the Patient Root model. Keys of the levels above may also be matched.
   * Keys of lower levels are returned empty and not matched, a unique key of a
   * lower level with a value is rejected, and Modality at STUDY level matches
   * as Modalities in Study (see matchingKeysAt).
   *
   * @throws QueryError 'invalid-level', 'missing-unique-key', 'key-below-level' or 'invalid-key'.
   */
  findRecords(level: QueryLevel, requestKeys: QueryKey[], options: QueryOptions): IterableIterator<Record<string, string>> {
    const keys = matchingKeysAt(level, requestKeys);
    checkHierarchy(level, keys, options.model);
    const caseInsensitivePersonNames = options.caseInsensitivePersonNames ?? true;

    const returned = keys.map((key) => key.keyword);
    if (!returned.includes(UNIQUE_KEY[level])) returned.push(UNIQUE_KEY[level]);
    const uniqueReturned = [...new Set(returned)];

    const selectable = uniqueReturned.filter((keyword) => isAvailable(keyword, level));
    const columns = selectable.map((keyword, index) => `${queryAttributeAt(keyword, level).column} AS c${index}`);
    const conditions = this.conditionsFor(level, keys, caseInsensitivePersonNames);

    const sql = `SELECT ${columns.length > 0 ? columns.join(', ') : '1'} ${LEVEL_FROM[level]}
      ${whereClause(conditions)} ORDER BY ${LEVEL_ORDER[level]}`;
    // NOTE: rows are read at once rather than with iterate(), because an open
    // iterator keeps the connection busy and a C-STORE arriving while the
    // responses are sent would fail.
    const rows = this.db
      .prepare(sql)
      .raw()
      .all(...conditions.flatMap((condition) => condition.parameters)) as unknown[][];

    return (function* () {
      for (const row of rows) {
        const record: Record<string, string> = {};
        for (const keyword of uniqueReturned) record[keyword] = '';
        selectable.forEach((keyword, index) => {
          record[keyword] = row[index] === null || row[index] === undefined ? '' : String(row[index]);
        });
        yield record;
      }
    })();
  }

  /**
   * Finds studies for `loader studies` and the Local panel of the window.
   * Name and description match as matchSearchText describes, modalities in
   * any case, Patient ID and Accession Number as C-FIND matches them, and
   * date accepts the forms of StudyDate.
   *
   * @throws QueryError naming the keyword of an invalid or too long filter.
   */
  searchStudies(filters: StudySearchFilters): StudySummary[] {
    const keys: QueryKey[] = [];
    if (filters.patientId) keys.push({ keyword: 'PatientID', value: filters.patientId });
    if (filters.date) keys.push({ keyword: 'StudyDate', value: filters.date });
    if (filters.accessionNumber) keys.push({ keyword: 'AccessionNumber', value: filters.accessionNumber });
    const conditions = this.conditionsFor('STUDY', keys, true);

    const textFilters: [string, string | undefined, SearchWordMatching | undefined][] = [
      ['PatientName', filters.name, filters.nameWordMatching],
      ['StudyDescription', filters.description, undefined],
    ];
    for (const [keyword, query, wordMatching] of textFilters) {
      const condition = query ? searchTextCondition(keyword, queryAttributeAt(keyword, 'STUDY'), query, wordMatching) : undefined;
      if (condition) conditions.push(condition);
    }
    if (filters.modalities && filters.modalities.length > 0) {
      conditions.push(searchModalityCondition(QUERY_ATTRIBUTES.ModalitiesInStudy, filters.modalities));
    }

    const rows = this.db
      .prepare(`SELECT ${STUDY_SUMMARY_COLUMNS} ${LEVEL_FROM.STUDY} ${whereClause(conditions)} ORDER BY ${LEVEL_ORDER.STUDY}`)
      .all(...conditions.flatMap((condition) => condition.parameters)) as Parameters<typeof toStudySummary>[0][];
    return rows.map(toStudySummary);
  }

  private conditionsFor(level: QueryLevel, keys: QueryKey[], caseInsensitivePersonNames: boolean): SqlCondition[] {
    const conditions: SqlCondition[] = [];
    for (const key of keys) {
      if (!isAvailable(key.keyword, level)) continue;
      const attribute = queryAttributeAt(key.keyword, level);
      const caseInsensitive = attribute.match === 'person-name' && caseInsensitivePersonNames;
      const condition = buildCondition(key.keyword, attribute, key.value, { caseInsensitive });
      if (condition) conditions.push(condition);
    }
    return conditions;
  }
}

/**
 * Returns the keywords of keys with a matching value that findRecords ignores
 * at `level`: attributes the index does not store, and attributes of a level
 * below `level`. Keys with universal matching (an empty value or only '*')
 * are return keys and are not listed.
 */
export function findUnsupportedMatchingKeys(level: QueryLevel, keys: QueryKey[]): string[] {
  return matchingKeysAt(level, keys)
    .filter((key) => !isUniversalMatch(key.value) && !isAvailable(key.keyword, level))
    .map((key) => key.keyword);
}

/**
 * Returns `keys` with a STUDY level Modality key matched as Modalities in Study, and Modality
 * kept as an empty return key. Modality is a SERIES level attribute, but some SCUs send it in
 * STUDY level queries to find studies by modality (fo-dicom did until its pull request 166 of 2015).
 */
function matchingKeysAt(level: QueryLevel, keys: QueryKey[]): QueryKey[] {
  const modality = keys.find((key) => key.keyword === 'Modality');
  if (level !== 'STUDY' || modality === undefined || isUniversalMatch(modality.value)) return keys;

  const withoutModality = keys.filter((key) => key.keyword !== 'Modality');
  const modalitiesInStudy = keys.find((key) => key.keyword === 'ModalitiesInStudy');
  if (modalitiesInStudy !== undefined && !isUniversalMatch(modalitiesInStudy.value)) {
    throw new QueryError(
      'key-below-level',
      'Both Modality and Modalities in Study have a value in a STUDY level query; Modality is a SERIES level key, so leave it empty or out',
      'Modality',
    );
  }
  return [...withoutModality.filter((key) => key.keyword !== 'ModalitiesInStudy'), { keyword: 'ModalitiesInStudy', value: modality.value }, { keyword: 'Modality', value: '' }];
}

/** True when the index stores `keyword` at `level` or a level above it. */
function isAvailable(keyword: string, level: QueryLevel): boolean {
  const attribute = Object.prototype.hasOwnProperty.call(QUERY_ATTRIBUTES, keyword) ? QUERY_ATTRIBUTES[keyword] : undefined;
  return attribute !== undefined && LEVEL_DEPTH[attribute.level] <= LEVEL_DEPTH[level];
}

/** Checks the level against the model and the unique keys of the levels above it. */
function checkHierarchy(level: QueryLevel, keys: QueryKey[], model: 'PATIENT' | 'STUDY'): void {
  if (!(level in LEVEL_DEPTH)) {
    throw new QueryError('invalid-level', `Invalid Query/Retrieve Level "${String(level)}"; expected PATIENT, STUDY, SERIES or IMAGE`);
  }
  if (model === 'STUDY' && level === 'PATIENT') {
    throw new QueryError('invalid-level', 'The Study Root information model has no PATIENT level; use STUDY, SERIES or IMAGE');
  }

  const required: string[] = [];
  if (model === 'PATIENT' && LEVEL_DEPTH[level] > LEVEL_DEPTH.PATIENT) required.push('PatientID');
  if (LEVEL_DEPTH[level] > LEVEL_DEPTH.STUDY) required.push('StudyInstanceUID');
  if (LEVEL_DEPTH[level] > LEVEL_DEPTH.SERIES) required.push('SeriesInstanceUID');

  for (const keyword of required) {
    const key = keys.find((candidate) => candidate.keyword === keyword);
    // A key of a level above names one entity by single value or UID list, and '*' alone would be universal matching.
    if (!key || isUniversalMatch(key.value)) {
      throw new QueryError(
        'missing-unique-key',
        `A query at ${level} level in the ${model === 'STUDY' ? 'Study' : 'Patient'} Root model requires ${keyword} with a value other than '*'`,
      );
    }
  }

  // A hierarchical query matches keys of its own level and the unique keys above it (PS3.4 C.4.1.2.1). Other keys of
  // lower levels are ignored with warning FF01 (findUnsupportedMatchingKeys). A unique key of a lower level requests the
  // study that holds one series or instance, and answering every record of the level would mislead, so it is rejected.
  for (const [lowerLevel, keyword] of Object.entries(UNIQUE_KEY) as [QueryLevel, string][]) {
    if (LEVEL_DEPTH[lowerLevel] <= LEVEL_DEPTH[level]) continue;
    const key = keys.find((candidate) => candidate.keyword === keyword);
    if (key === undefined || isUniversalMatch(key.value)) continue;
    throw new QueryError(
      'key-below-level',
      `${keyword} is the unique key of the ${lowerLevel} level, but the query is at ${level} level; query at ${lowerLevel} level or leave the key empty`,
      keyword,
    );
  }
}

function whereClause(conditions: SqlCondition[]): string {
  return conditions.length > 0 ? `WHERE ${conditions.map((condition) => `(${condition.sql})`).join(' AND ')}` : '';
}
