/**
 * C-ECHO and C-FIND as SCU: study search with filters, automatic splitting of
 * queries the node truncates or rejects as too broad, and series and image
 * level queries for study details (PS3.4 annexes A and C).
 */
import { DimseStatusError, formatStatus, statusClass } from '../../dicom/network';
import { SopClass, TransferSyntax } from '../../dicom/uid';
import { normalizeDate } from '../../dicom/values';
import { matchSearchText } from '../archive/query-matching';
import { createLogger } from '../logger';
import { describeCancelledFind, FindIncompleteError, FindSession, shortInstanceListError } from './find-session';
import type { FindSessionOptions } from './find-session';
import type { DecodedIdentifier, RequestKey } from './identifiers';
import { connectToNode, explainPeerAbort, hasQuirk, QUIRK } from './remote-node';
import type { LocalIdentity, RemoteNode } from './remote-node';
import { describeNode } from './statuses';
import { formatDateRange, needsLocalNameCheck, normalizeModalities, parseDateFilter, patientNameKey, splitDateRange, surroundWithWildcards } from './study-filters';
import type { DateRange, StudyFilters } from './study-filters';

const logger = createLogger('loader.query');

export interface StudyMatch {
  studyInstanceUid: string;
  patientName: string;
  patientId: string;
  patientBirthDate: string;
  patientSex: string;
  /** YYYYMMDD; legacy forms such as 1999.05.24 are normalized. */
  studyDate: string;
  studyTime: string;
  accessionNumber: string;
  studyDescription: string;
  modalitiesInStudy: string[];
  numberOfStudyRelatedSeries?: number;
  numberOfStudyRelatedInstances?: number;
  retrieveAeTitle: string;
  /** Specific Character Set the node declared for this match. */
  characterSets: string[];
}

export interface SeriesMatch {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  modality: string;
  seriesNumber: string;
  seriesDescription: string;
  numberOfSeriesRelatedInstances?: number;
}

export interface InstanceMatch {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  sopClassUid: string;
  instanceNumber: string;
  /** Transfer syntaxes the node can return the instance in, when it reports them (0008,3002). */
  availableTransferSyntaxes: string[];
}

/** Something the caller should know about a query that still produced results. */
export interface QueryNotice {
  /**
   * Kind of notice. 'unsupported-keys' comes once per search, when the node sent matches with status FF01.
   * 'undated-not-listed' comes when a search without a date filter had to be split into Study Date ranges,
   * so the results lack the studies without Study Date and are known to be incomplete.
   */
  kind: 'split' | 'incomplete' | 'client-filter' | 'undeclared-charset' | 'unsupported-keys' | 'undated-not-listed';
  message: string;
}

export interface FindOptions {
  /** Aborting sends C-CANCEL-RQ and ends the iteration. */
  signal?: AbortSignal;
  onNotice?: (notice: QueryNotice) => void;
  /** Overrides the node's max-results quirk. */
  maxResults?: number;
  /** Clock for date presets; tests set it. */
  now?: Date;
}

/**
 * Failure statuses that mean the query was too broad for the node: A7xx "out
 * of resources" and C001 "unable to process" (PS3.4 table C.4-1), which PACS
 * servers return when a query would exceed their limits.
 */
function isTooBroadStatus(status: number): boolean {
  return (status & 0xff00) === 0xa700 || status === 0xc001;
}

/** Upper bound on the sub-queries of one split search, so a node that rejects every query is not asked forever. */
const MAX_SUB_QUERIES = 256;

export interface EchoResult {
  status: number;
  /** Round trip of association, C-ECHO and release, in milliseconds. */
  durationMs: number;
}

/** Sends C-ECHO to the node. Throws when the association fails or the status is not success. */
export async function echoNode(node: RemoteNode, local: LocalIdentity): Promise<EchoResult> {
  const started = Date.now();
  const association = await connectToNode(node, local, [
    { abstractSyntax: SopClass.Verification, transferSyntaxes: [TransferSyntax.ExplicitVRLittleEndian, TransferSyntax.ImplicitVRLittleEndian] },
  ]);
  try {
    const result = await association.echo().catch((error: unknown) => {
      throw explainPeerAbort(error, node, local, 'during C-ECHO');
    });
    if (statusClass(result.status) !== 'success') {
      throw new DimseStatusError(result.status, `C-ECHO to ${node.name} returned status ${formatStatus(result.status)}`);
    }
    return { status: result.status, durationMs: Date.now() - started };
  } finally {
    if (association.isOpen) await association.release();
  }
}

/**
 * Returns a function that passes a notice to options.onNotice, which shows it,
 * and logs it at debug level, or at info level when there is no onNotice, so that it is printed once.
 */
function createNotifier(node: RemoteNode, options: FindOptions): (notice: QueryNotice) => void {
  return (notice) => {
    const log = options.onNotice ? logger.debug : logger.info;
    log(notice.message, { node: node.name, kind: notice.kind });
    options.onNotice?.(notice);
  };
}

/**
 * Returns the session options that report the first match with status FF01
 * as an 'unsupported-keys' notice. Sessions that share the options report once in all.
 */
function reportUnsupportedKeys(node: RemoteNode, notify: (notice: QueryNotice) => void): FindSessionOptions {
  let reported = false;
  return {
    onUnsupportedKeys: () => {
      if (reported) return;
      reported = true;
      // FF01: the node did not support one or more optional keys for existence or matching (PS3.4 table C.4-1).
      // NOTE: only Modalities in Study is checked again on the client, so other ignored filters stay unapplied.
      const message = `${describeNode(node)} did not support one or more optional keys of the query (C-FIND status 0xFF01), so matches may ignore a filter or lack some values`;
      notify({ kind: 'unsupported-keys', message });
    },
  };
}

/** Returns the Study level keys for the filters, with the date limited to `range`. */
export function buildStudyKeys(node: RemoteNode, filters: StudyFilters, range: DateRange | undefined, now?: Date): RequestKey[] {
  const modalities = normalizeModalities(filters.modalities);
  const keys: RequestKey[] = [
    { keyword: 'StudyInstanceUID', value: filters.studyInstanceUids ?? '' },
    { keyword: 'PatientName', value: filters.patientName ? patientNameKey(filters.patientName) : '' },
    { keyword: 'PatientID', value: filters.patientId ?? '' },
    { keyword: 'PatientBirthDate', value: '' },
    { keyword: 'PatientSex', value: '' },
    { keyword: 'StudyDate', value: range ? formatDateRange(range, hasQuirk(node, QUIRK.noWildcardInDates), now) : '' },
    { keyword: 'StudyTime', value: '' },
    { keyword: 'AccessionNumber', value: filters.accessionNumber ?? '' },
    { keyword: 'StudyDescription', value: filters.studyDescription ? surroundWithWildcards(filters.studyDescription) : '' },
    { keyword: 'NumberOfStudyRelatedSeries', value: '' },
    { keyword: 'NumberOfStudyRelatedInstances', value: '' },
  ];
  if (!hasQuirk(node, QUIRK.noModalitiesInStudy)) keys.push({ keyword: 'ModalitiesInStudy', value: modalities });
  return keys;
}

function optionalNumber(text: string | undefined): number | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

export function toStudyMatch(identifier: DecodedIdentifier): StudyMatch {
  const values = identifier.values;
  const rawDate = values.StudyDate ?? '';
  return {
    studyInstanceUid: values.StudyInstanceUID ?? '',
    patientName: values.PatientName ?? '',
    patientId: values.PatientID ?? '',
    patientBirthDate: values.PatientBirthDate ?? '',
    patientSex: values.PatientSex ?? '',
    studyDate: normalizeDate(rawDate) ?? rawDate,
    studyTime: values.StudyTime ?? '',
    accessionNumber: values.AccessionNumber ?? '',
    studyDescription: values.StudyDescription ?? '',
    modalitiesInStudy: (values.ModalitiesInStudy ?? '').split('\\').filter((code) => code !== ''),
    numberOfStudyRelatedSeries: optionalNumber(values.NumberOfStudyRelatedSeries),
    numberOfStudyRelatedInstances: optionalNumber(values.NumberOfStudyRelatedInstances),
    retrieveAeTitle: values.RetrieveAETitle ?? '',
    characterSets: identifier.characterSets,
  };
}

/**
 * Searches studies and yields each match as it arrives, each Study Instance
 * UID once. A query that the node rejects as too broad (A7xx, C001), ends
 * with status FE00 (Cancel) without a C-CANCEL from the loader, or that
 * returns exactly the node's maximum number of matches is repeated for the two
 * halves of its date range, recursively; an absent date filter counts as
 * 19000101 to today for the first split, and the first and last halves keep
 * their open ends. Study Date ranges may not match studies without Study Date,
 * so a split search without a date filter that received no such study sends an
 * 'undated-not-listed' notice at the end. A one-day query that still ends with FE00 throws
 * FindIncompleteError. Modalities are checked again on the client when the node
 * returns Modalities in Study. They are matched per series for nodes with the
 * 'no-modalities-in-study' quirk, and for each match that the node returned
 * with Modalities in Study empty. A patient name search of several words,
 * or with е or ё, yields only the matches that `loader studies` would list
 * (see patientNameKey).
 */
export async function* findStudies(node: RemoteNode, local: LocalIdentity, filters: StudyFilters, options: FindOptions = {}): AsyncGenerator<StudyMatch> {
  const notify = createNotifier(node, options);
  const sessionOptions = reportUnsupportedKeys(node, notify);
  const modalities = normalizeModalities(filters.modalities);
  const maxResults = options.maxResults ?? node.maxResults;
  const baseRange = filters.date ? parseDateFilter(filters.date, options.now) : undefined;
  const nameQuery = filters.patientName !== undefined && needsLocalNameCheck(filters.patientName) ? filters.patientName : undefined;
  const seriesModalities = modalities.length > 0 && hasQuirk(node, QUIRK.noModalitiesInStudy);
  if (seriesModalities) notify({ kind: 'client-filter', message: `${node.name} does not support Modalities in Study; matching modalities per series` });

  const session = await FindSession.open(node, local, sessionOptions);
  let seriesSession: FindSession | undefined;
  const seen = new Set<string>();
  const pending: (DateRange | undefined)[] = [baseRange];
  let subQueries = 0;
  let undeclaredCharsetNoticed = false;
  let emptyModalitiesNoticed = false;
  let splitWithoutDate = false;
  let undatedMatched = false;
  try {
    while (pending.length > 0) {
      if (options.signal?.aborted) return;
      const range = pending.shift();
      subQueries++;
      let count = 0;
      let tooBroad: string | undefined;
      let truncated: FindIncompleteError | undefined;
      try {
        for await (const identifier of session.find('STUDY', buildStudyKeys(node, filters, range, options.now), options.signal)) {
          count++;
          if (identifier.assumedCharacterSet && !undeclaredCharsetNoticed) {
            undeclaredCharsetNoticed = true;
            notify({ kind: 'undeclared-charset', message: `${node.name} sent non-ASCII text without Specific Character Set; decoded it as ${node.characterSets.join('\\')}` });
          }
          const match = toStudyMatch(identifier);
          if (match.studyDate === '') undatedMatched = true;
          if (match.studyInstanceUid === '' || seen.has(match.studyInstanceUid)) continue;
          seen.add(match.studyInstanceUid);
          // The node matched a wider key than the search (see patientNameKey), so the whole search is checked here.
          if (nameQuery !== undefined && !matchSearchText(nameQuery, match.patientName, true)) continue;
          if (modalities.length > 0) {
            // A node may ignore the key and return Modalities in Study empty (DCMTK 3.6.7 dcmqrscp does), which verifies nothing.
            const unverified = !seriesModalities && match.modalitiesInStudy.length === 0;
            if (unverified && !emptyModalitiesNoticed) {
              emptyModalitiesNoticed = true;
              notify({
                kind: 'client-filter',
                message: `${node.name} returned Modalities in Study empty; matching modalities per series (register the node with the ${QUIRK.noModalitiesInStudy} quirk to skip the study-level key)`,
              });
            }
            if (seriesModalities || unverified) {
              seriesSession ??= await FindSession.open(node, local, sessionOptions);
              match.modalitiesInStudy = await collectSeriesModalities(seriesSession, match.studyInstanceUid, options.signal);
            }
            if (match.modalitiesInStudy.length > 0 && !match.modalitiesInStudy.some((code) => modalities.includes(code.toUpperCase()))) continue;
          }
          yield match;
        }
        if (maxResults !== undefined && count >= maxResults) tooBroad = `returned ${count} matches, the node's maximum`;
      } catch (error) {
        if (error instanceof FindIncompleteError && error.level === 'STUDY') {
          truncated = error;
          tooBroad = `ended the query with status 0xFE00 (Cancel) after ${error.received} matches without a C-CANCEL from the loader`;
        } else {
          if (!(error instanceof DimseStatusError) || !isTooBroadStatus(error.status)) throw error;
          tooBroad = `rejected the query with status ${formatStatus(error.status)}`;
        }
      }
      if (tooBroad === undefined || options.signal?.aborted) continue;

      const described = range ? formatDateRange(range) : 'without a date';
      const halves = splitDateRange(range ?? {}, options.now);
      if (!halves && truncated) {
        // A node that cut the list short for a single day leaves studies unknown, so the search fails.
        const advice = `the query for study date ${described} is one day and cannot be split; raise the node's limit on C-FIND matches (Orthanc: LimitFindResults, 0 for no limit) or narrow the filters`;
        throw new FindIncompleteError(node, 'STUDY', truncated.received, describeCancelledFind(node, 'STUDY', truncated.received, advice));
      }
      if (!halves) {
        notify({ kind: 'incomplete', message: `${node.name} ${tooBroad} for study date ${described}, which is one day and cannot be split; results for that day may be incomplete` });
        continue;
      }
      if (subQueries + pending.length + 2 > MAX_SUB_QUERIES) {
        throw new Error(`${node.name} ${tooBroad} for study date ${described} after ${subQueries} split queries; narrow the filters`);
      }
      notify({ kind: 'split', message: `${node.name} ${tooBroad} for study date ${described}; querying ${formatDateRange(halves[0])} and ${formatDateRange(halves[1])} separately` });
      if (range === undefined) splitWithoutDate = true;
      pending.unshift(...halves);
    }
    // Orthanc 1.10 compares dates as text, so its open-start range "-B" matches an empty Study Date too.
    // A node that returned such a match lists them, so only a split search without one sends the notice.
    if (splitWithoutDate && !undatedMatched && !options.signal?.aborted) notify({ kind: 'undated-not-listed', message: describeUndatedNotListed(node) });
  } finally {
    await seriesSession?.close().catch(() => undefined);
    await session.close();
  }
}

/**
 * Returns the note for a search without a date filter that was split into
 * Study Date ranges. Range matching (PS3.4 C.2.2.2.5) does not match a study
 * without Study Date. A key of "" that would match only empty values returns
 * no studies from Orthanc 1.10.1 or dcmqrscp 3.6.7, so the loader cannot ask
 * for such studies.
 */
function describeUndatedNotListed(node: RemoteNode): string {
  return (
    `studies without Study Date on ${describeNode(node)} are not listed: the search for all study dates was split into Study Date ranges, which match no study without Study Date. ` +
    `Raise the node's limit on C-FIND matches (Orthanc: LimitFindResults, 0 for no limit) so that one query lists all studies, or list the studies without Study Date on the node itself`
  );
}

async function collectSeriesModalities(session: FindSession, studyInstanceUid: string, signal?: AbortSignal): Promise<string[]> {
  const found = new Set<string>();
  for await (const identifier of session.find('SERIES', [{ keyword: 'StudyInstanceUID', value: studyInstanceUid }, { keyword: 'SeriesInstanceUID', value: '' }, { keyword: 'Modality', value: '' }], signal)) {
    const modality = identifier.values.Modality;
    if (modality) found.add(modality);
  }
  return [...found];
}

/** Lists the series of a study. */
export async function* findSeries(node: RemoteNode, local: LocalIdentity, studyInstanceUid: string, options: FindOptions = {}): AsyncGenerator<SeriesMatch> {
  const session = await FindSession.open(node, local, reportUnsupportedKeys(node, createNotifier(node, options)));
  try {
    yield* findSeriesOn(session, studyInstanceUid, options.signal);
  } finally {
    await session.close();
  }
}

export async function* findSeriesOn(session: FindSession, studyInstanceUid: string, signal?: AbortSignal): AsyncGenerator<SeriesMatch> {
  const keys: RequestKey[] = [
    { keyword: 'StudyInstanceUID', value: studyInstanceUid },
    { keyword: 'SeriesInstanceUID', value: '' },
    { keyword: 'Modality', value: '' },
    { keyword: 'SeriesNumber', value: '' },
    { keyword: 'SeriesDescription', value: '' },
    { keyword: 'NumberOfSeriesRelatedInstances', value: '' },
  ];
  for await (const identifier of session.find('SERIES', keys, signal)) {
    const values = identifier.values;
    yield {
      studyInstanceUid: values.StudyInstanceUID || studyInstanceUid,
      seriesInstanceUid: values.SeriesInstanceUID ?? '',
      modality: values.Modality ?? '',
      seriesNumber: values.SeriesNumber ?? '',
      seriesDescription: values.SeriesDescription ?? '',
      numberOfSeriesRelatedInstances: optionalNumber(values.NumberOfSeriesRelatedInstances),
    };
  }
}

/** Lists the instances of one series, or of every series of the study when `seriesInstanceUid` is undefined. */
export async function* findInstances(
  node: RemoteNode,
  local: LocalIdentity,
  studyInstanceUid: string,
  seriesInstanceUid: string | undefined,
  options: FindOptions = {},
): AsyncGenerator<InstanceMatch> {
  const session = await FindSession.open(node, local, reportUnsupportedKeys(node, createNotifier(node, options)));
  try {
    if (seriesInstanceUid !== undefined) yield* findInstancesOn(session, studyInstanceUid, seriesInstanceUid, options.signal);
    else yield* findStudyInstancesOn(session, studyInstanceUid, options.signal);
  } finally {
    await session.close();
  }
}

/**
 * Lists the instances of every series of a study, each SOP Instance UID once. Orthanc
 * stores a study whose instances came with different Patient IDs as several studies
 * with one Study Instance UID, so its C-FIND lists such a series, and each of its
 * instances, once per Patient ID. A match without a SOP Instance UID is yielded as it is.
 * Throws FindIncompleteError when the IMAGE level lists fewer instances of a series than
 * the SERIES level reported as Number of Series Related Instances (0020,1209), because
 * a node that truncates its matches without saying so leaves the list incomplete.
 */
export async function* findStudyInstancesOn(session: FindSession, studyInstanceUid: string, signal?: AbortSignal): AsyncGenerator<InstanceMatch> {
  // Reported instances by Series Instance UID, summed over the matches of a series that Orthanc lists once per Patient ID.
  const reportedCounts = new Map<string, number | undefined>();
  for await (const series of findSeriesOn(session, studyInstanceUid, signal)) {
    const count = series.numberOfSeriesRelatedInstances;
    if (!reportedCounts.has(series.seriesInstanceUid)) {
      reportedCounts.set(series.seriesInstanceUid, count);
    } else {
      const previous = reportedCounts.get(series.seriesInstanceUid);
      reportedCounts.set(series.seriesInstanceUid, previous === undefined || count === undefined ? undefined : previous + count);
    }
  }
  const seenInstances = new Set<string>();
  for (const [seriesUid, reported] of reportedCounts) {
    if (signal?.aborted) return;
    let listed = 0;
    for await (const instance of findInstancesOn(session, studyInstanceUid, seriesUid, signal)) {
      listed++;
      if (instance.sopInstanceUid !== '') {
        if (seenInstances.has(instance.sopInstanceUid)) continue;
        seenInstances.add(instance.sopInstanceUid);
      }
      yield instance;
    }
    if (signal?.aborted) return;
    if (reported !== undefined && listed < reported) throw shortInstanceListError(session.node, seriesUid, listed, reported);
  }
}

export async function* findInstancesOn(session: FindSession, studyInstanceUid: string, seriesInstanceUid: string, signal?: AbortSignal): AsyncGenerator<InstanceMatch> {
  const keys: RequestKey[] = [
    { keyword: 'StudyInstanceUID', value: studyInstanceUid },
    { keyword: 'SeriesInstanceUID', value: seriesInstanceUid },
    { keyword: 'SOPInstanceUID', value: '' },
    { keyword: 'SOPClassUID', value: '' },
    { keyword: 'InstanceNumber', value: '' },
  ];
  for await (const identifier of session.find('IMAGE', keys, signal)) {
    const values = identifier.values;
    yield {
      studyInstanceUid,
      seriesInstanceUid,
      sopInstanceUid: values.SOPInstanceUID ?? '',
      sopClassUid: values.SOPClassUID ?? '',
      instanceNumber: values.InstanceNumber ?? '',
      availableTransferSyntaxes: (values.AvailableTransferSyntaxUID ?? '').split('\\').filter((uid) => uid !== ''),
    };
  }
}
