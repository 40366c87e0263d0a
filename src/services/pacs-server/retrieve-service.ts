/**
 * C-MOVE and C-GET SCP (PS3.4 annex C.4.2 and C.4.3): resolves the request
 * identifier to stored instances and sends each one as a C-STORE sub-operation.
 * The stored bytes go verbatim when the peer accepted their transfer syntax,
 * otherwise they are converted, or decompressed, to an uncompressed syntax it
 * accepted (see openSubOperationData).
 */
import type {
  DimseResult,
  GetRequestContext,
  MoveRequestContext,
  QueryRequestContext,
  RetrieveResult,
} from '../../dicom/network';
import { AssociationClosedError, DimseStatusError } from '../../dicom/network';
import type { Dataset } from '../../dicom/dataset';
import { Tags } from '../../dicom/tags';
import type { InstanceFilter, LocalArchive, StoredInstance } from '../archive';
import type { Logger } from '../logger';
import { checkLevel, informationModelOf } from './find-service';
import type { InformationModel, QueryLevel } from './find-service';
import { decodeIdentifier, IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS, abbreviateRequestValue } from './identifier-codec';
import { MoveDestinationSender, openSubOperationData } from './move-destination';
import { StoredFileMissingError } from '../transfers/stored-file-check';
import type { PacsNode } from '../settings/settings-types';

/** Statuses of PS3.4 tables C.4-2 and C.4-3. */
export const RetrieveStatus = {
  Success: 0x0000,
  SubOperationsCompleteWithFailures: 0xb000,
  UnableToPerformSubOperations: 0xa702,
  MoveDestinationUnknown: 0xa801,
  Cancel: 0xfe00,
} as const;

export function isSuccess(status: number): boolean {
  return status === 0x0000;
}

export function isWarning(status: number): boolean {
  return status === 0x0001 || (status & 0xf000) === 0xb000;
}

/** Requested UIDs listed one by one in a log line; more are logged as a count. */
const MAX_LOGGED_UIDS = 4;

/** A C-MOVE or C-GET request: its level, the instances it names and the log fields that describe it. */
export interface RetrieveRequest {
  level: QueryLevel;
  instances: StoredInstance[];
  /** Query/Retrieve Level and the requested UIDs, or their count; a Patient ID only as a count. */
  logFields: Record<string, string | number>;
  /** Parent Unique Keys that excluded instances which the retrieve-level key matched, one entry per key. */
  unmatchedParentKeys: UnmatchedParentKey[];
}

function uidsForLog(uids: string[]): string | number {
  if (uids.length > MAX_LOGGED_UIDS) return uids.length;
  return uids.map(abbreviateRequestValue).join(',');
}

/** Unique Key of each Query/Retrieve Level, with its name for Error Comments. */
const UNIQUE_KEYS: { level: QueryLevel; tag: number; name: string }[] = [
  { level: 'PATIENT', tag: Tags.PatientID, name: 'PatientID' },
  { level: 'STUDY', tag: Tags.StudyInstanceUID, name: 'StudyInstanceUID' },
  { level: 'SERIES', tag: Tags.SeriesInstanceUID, name: 'SeriesInstanceUID' },
  { level: 'IMAGE', tag: Tags.SOPInstanceUID, name: 'SOPInstanceUID' },
];

/**
 * Returns the values of the Unique Keys of a C-MOVE or C-GET identifier, from
 * the top level of the information model down to `level`. The baseline
 * (hierarchical) retrieve of PS3.4 C.4.2.2.1 (C-MOVE) and C.4.3.2.1 (C-GET)
 * asks for a single value at each level above the retrieve level, and at the
 * retrieve level for one value or a list of UIDs. Unique Keys take neither
 * '*' nor '?', because a retrieve names its entities and only C-FIND matches
 * patterns. Without these checks such a request retrieved nothing and still
 * answered Success.
 * NOTE: a list of Patient IDs at PATIENT level is accepted and retrieves each
 * patient, although the baseline asks for a single value there.
 *
 * @throws DimseStatusError A900 (Identifier does not match SOP Class) naming the key.
 */
function checkUniqueKeys(dataset: Dataset, level: QueryLevel, model: InformationModel): Partial<Record<QueryLevel, string[]>> {
  const top = model === 'STUDY' ? 1 : 0;
  const depth = UNIQUE_KEYS.findIndex((key) => key.level === level);
  const values: Partial<Record<QueryLevel, string[]>> = {};

  for (const key of UNIQUE_KEYS.slice(top, depth + 1)) {
    const found = dataset.getStrings(key.tag).filter((value) => value !== '');
    const isRetrieveLevel = key.level === level;
    if (found.length === 0) {
      const comment = isRetrieveLevel ? `${level} retrieve needs ${key.name}` : `${level} retrieve needs ${key.name} of its ${key.level.toLowerCase()}`;
      throw new DimseStatusError(IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS, comment);
    }
    if (found.some((value) => value.includes('*') || value.includes('?'))) {
      throw new DimseStatusError(IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS, `Wildcards are not allowed in ${key.name} of a retrieve`);
    }
    if (!isRetrieveLevel && found.length > 1) {
      throw new DimseStatusError(IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS, `${level} retrieve needs a single ${key.name}`);
    }
    values[key.level] = found;
  }
  return values;
}

/** Decodes a C-MOVE or C-GET identifier and finds the stored instances it names. */
export function resolveRequest(archive: LocalArchive, context: QueryRequestContext): RetrieveRequest {
  const request = decodeIdentifier(context.identifier, context.presentationContext.transferSyntax, archive.legacyCharacterSet);
  const model = informationModelOf(context.presentationContext.abstractSyntax);
  const level = checkLevel(request.level, model);
  const dataset = request.dataset;

  const logFields: Record<string, string | number> = { level };
  const uidKeys = [
    [Tags.StudyInstanceUID, 'studyInstanceUid'],
    [Tags.SeriesInstanceUID, 'seriesInstanceUid'],
    [Tags.SOPInstanceUID, 'sopInstanceUid'],
  ] as const;
  for (const [tag, field] of uidKeys) {
    const values = dataset.getStrings(tag);
    if (values.length > 0) logFields[field] = uidsForLog(values);
  }
  const patientIds = dataset.getStrings(Tags.PatientID);
  if (patientIds.length > 0) logFields.patientIds = patientIds.length;

  const keys = checkUniqueKeys(dataset, level, model);
  const parentKeys = parentKeysOf(keys, level);
  let instances: StoredInstance[] = [];
  const unmatchedParentKeys: UnmatchedParentKey[] = [];
  for (const filter of levelFilters(keys, level)) {
    const matched = archive.listInstances({ ...parentKeys, ...filter });
    instances = instances.concat(matched);

    const unmatched = findUnmatchedParentKey(archive, filter, parentKeys, matched.length);
    if (!unmatched) continue;
    const earlier = unmatchedParentKeys.find((entry) => entry.name === unmatched.name);
    if (earlier) earlier.excluded += unmatched.excluded;
    else unmatchedParentKeys.push(unmatched);
  }
  return { level, instances, logFields, unmatchedParentKeys };
}

/**
 * Returns the Unique Keys of the levels above `level` as one filter. In the
 * baseline (hierarchical) retrieve they identify the parent entities of the
 * requested ones (PS3.4 C.4.2.2.1 and C.4.3.2.1), so an instance is sent only
 * when it matches them too. A Study Instance UID of one patient with another
 * patient's Patient ID matches nothing.
 */
function parentKeysOf(keys: Partial<Record<QueryLevel, string[]>>, level: QueryLevel): InstanceFilter {
  const filter: InstanceFilter = {};
  if (level !== 'PATIENT' && keys.PATIENT) filter.patientId = keys.PATIENT[0];
  if ((level === 'SERIES' || level === 'IMAGE') && keys.STUDY) filter.studyInstanceUid = keys.STUDY[0];
  if (level === 'IMAGE' && keys.SERIES) filter.seriesInstanceUid = keys.SERIES[0];
  return filter;
}

/** Returns one filter per requested entity at `level`, or one filter with the SOP Instance UID list at IMAGE level. */
function levelFilters(keys: Partial<Record<QueryLevel, string[]>>, level: QueryLevel): InstanceFilter[] {
  switch (level) {
    case 'PATIENT':
      return keys.PATIENT!.map((patientId) => ({ patientId }));
    case 'STUDY':
      return keys.STUDY!.map((studyInstanceUid) => ({ studyInstanceUid }));
    case 'SERIES':
      return keys.SERIES!.map((seriesInstanceUid) => ({ seriesInstanceUid }));
    case 'IMAGE':
      return [{ sopInstanceUids: keys.IMAGE! }];
  }
}

/** The parent Unique Key whose value excluded instances that the retrieve-level key matched. */
export interface UnmatchedParentKey {
  name: 'PatientID' | 'StudyInstanceUID' | 'SeriesInstanceUID';
  /** Instances that match the retrieve-level key but not this key. */
  excluded: number;
}

/**
 * Finds which parent key of `parentKeys` excluded instances that `filter`
 * alone matches, or returns undefined when none was excluded. The keys are
 * added from the nearest parent upward, and the first one that lowers the
 * count is named. Only a request with an excluded instance runs more than one
 * extra query.
 */
function findUnmatchedParentKey(archive: LocalArchive, filter: InstanceFilter, parentKeys: InstanceFilter, matched: number): UnmatchedParentKey | undefined {
  if (Object.keys(parentKeys).length === 0) return undefined;
  const unfiltered = archive.listInstances(filter).length;
  if (unfiltered === matched) return undefined;

  const steps: [UnmatchedParentKey['name'], InstanceFilter][] = [
    ['SeriesInstanceUID', { seriesInstanceUid: parentKeys.seriesInstanceUid }],
    ['StudyInstanceUID', { studyInstanceUid: parentKeys.studyInstanceUid }],
    ['PatientID', { patientId: parentKeys.patientId }],
  ];
  let narrowed: InstanceFilter = { ...filter };
  let count = unfiltered;
  for (const [name, step] of steps) {
    if (Object.values(step)[0] === undefined) continue;
    narrowed = { ...narrowed, ...step };
    const stepCount = archive.listInstances(narrowed).length;
    if (stepCount < count) return { name, excluded: unfiltered - matched };
    count = stepCount;
  }
  return undefined;
}

type SendOne = (instance: StoredInstance) => Promise<DimseResult>;

/** Error Comment (0000,0902) of a sub-operation whose instance `loader delete` removed after the request listed it; at most 64 characters. */
const DELETED_DURING_RETRIEVE = 'Instance deleted from the archive during this retrieve';

interface SubOperationsOptions {
  operation: 'C-MOVE' | 'C-GET';
  /** Returns true when the index still lists the SOP Instance UID. */
  isIndexed: (sopInstanceUid: string) => boolean;
  /** Returns false once the C-MOVE destination association has ended; C-GET sends on the request's own association. */
  isDestinationOpen?: () => boolean;
}

/** The result of the sub-operations, and why they stopped early when the request's association ended. */
interface SubOperationsOutcome {
  result: RetrieveResult;
  /** Set when the association of the C-MOVE or C-GET request ended before the last sub-operation; no response can be sent then. */
  associationEnded?: AssociationClosedError;
}

/**
 * Runs one C-STORE sub-operation per instance, reporting pending progress after
 * each. One failing instance never stops the others, but a C-CANCEL stops
 * before the next one, and so does the end of the request's association. When
 * `isDestinationOpen` returns false after a failure, the instances not yet sent
 * are counted as failed at once and logged in one line, because every further
 * C-STORE on that association would fail the same way. Instances whose file
 * and index row a deletion removed after the request listed them fail
 * without a line each, and one line per request gives their count.
 */
async function runSubOperations(
  instances: StoredInstance[],
  sendOne: SendOne,
  context: MoveRequestContext | GetRequestContext,
  log: Logger,
  options: SubOperationsOptions,
): Promise<SubOperationsOutcome> {
  const deleted: string[] = [];
  try {
    return await runEachSubOperation(instances, sendOne, context, log, options, deleted);
  } finally {
    if (deleted.length > 0) {
      log.warn(`${options.operation}: ${deleted.length} instances were deleted from the archive after the request listed them; counted them as failed`, {
        callingAeTitle: context.association.callingAeTitle,
        deletedInstances: deleted.length,
        firstSopInstanceUid: deleted[0],
      });
    }
  }
}

/** Runs the sub-operations for runSubOperations and collects in `deleted` the SOP Instance UIDs that a deletion removed meanwhile. */
async function runEachSubOperation(
  instances: StoredInstance[],
  sendOne: SendOne,
  context: MoveRequestContext | GetRequestContext,
  log: Logger,
  options: SubOperationsOptions,
  deleted: string[],
): Promise<SubOperationsOutcome> {
  const isDestinationOpen = options.isDestinationOpen ?? (() => true);
  const progress = { remaining: instances.length, completed: 0, failed: 0, warning: 0 };
  const failedSopInstanceUids: string[] = [];
  let firstFailure: string | undefined;

  for (const [index, instance] of instances.entries()) {
    if (context.signal.aborted) {
      // The response with status Cancel goes out only when the association is still open.
      const result = { status: RetrieveStatus.Cancel, ...progress, failedSopInstanceUids };
      const reason: unknown = context.signal.reason;
      return { result, associationEnded: reason instanceof AssociationClosedError ? reason : undefined };
    }

    let result: DimseResult;
    let deletedMeanwhile = false;
    try {
      result = await sendOne(instance);
    } catch (error) {
      // The instance in flight when the request's association ended is not counted, since its outcome is unknown.
      if (context.signal.reason instanceof AssociationClosedError) continue;
      // A missing file whose row is gone was deleted on purpose, so the hint to reindex in the error does not apply.
      deletedMeanwhile = error instanceof StoredFileMissingError && !options.isIndexed(error.sopInstanceUid);
      result = { status: 0xc000, errorComment: deletedMeanwhile ? DELETED_DURING_RETRIEVE : (error as Error).message };
    }

    progress.remaining -= 1;
    if (isSuccess(result.status)) {
      progress.completed += 1;
    } else if (isWarning(result.status)) {
      progress.warning += 1;
    } else {
      progress.failed += 1;
      failedSopInstanceUids.push(instance.sopInstanceUid);
      firstFailure ??= result.errorComment ?? `C-STORE sub-operation failed with status ${statusText(result.status)}`;
      if (deletedMeanwhile) {
        deleted.push(instance.sopInstanceUid);
      } else {
        log.warn('C-STORE sub-operation failed', {
          callingAeTitle: context.association.callingAeTitle,
          sopInstanceUid: instance.sopInstanceUid,
          status: statusText(result.status),
          error: result.errorComment,
        });
      }

      if (progress.remaining > 0 && !isDestinationOpen()) {
        const notSent = instances.slice(index + 1);
        log.warn(`C-MOVE destination association ended; counted the ${notSent.length} instances not yet sent as failed`, {
          callingAeTitle: context.association.callingAeTitle,
          notSent: notSent.length,
          error: result.errorComment,
        });
        progress.failed += notSent.length;
        progress.remaining = 0;
        failedSopInstanceUids.push(...notSent.map((unsent) => unsent.sopInstanceUid));
        firstFailure = `Move destination association ended: ${result.errorComment ?? statusText(result.status)}`;
        break;
      }
    }
    if (progress.remaining > 0) context.sendPending({ ...progress });
  }

  let status: number = RetrieveStatus.Success;
  if (progress.failed > 0) {
    status = progress.completed + progress.warning > 0
      ? RetrieveStatus.SubOperationsCompleteWithFailures
      : RetrieveStatus.UnableToPerformSubOperations;
  } else if (progress.warning > 0) {
    status = RetrieveStatus.SubOperationsCompleteWithFailures;
  }
  return { result: { status, ...progress, failedSopInstanceUids, errorComment: firstFailure } };
}

/**
 * Logs a C-MOVE or C-GET whose own association ended before its last
 * sub-operation, with the counts so far. Nothing is sent in reply, so the
 * requester never learns them. The end is logged at info level when the
 * requester released, aborted or dropped the connection, and at warn level
 * for a timeout or a protocol error.
 */
function logAssociationEnded(log: Logger, operation: 'C-MOVE' | 'C-GET', ended: AssociationClosedError, result: RetrieveResult, fields: Record<string, string | number>): void {
  const byRequester = ended.reason === 'released' || ended.reason === 'peer-aborted' || ended.reason === 'connection-closed';
  const message = byRequester
    ? `${operation} stopped because the requester ended the association`
    : `${operation} stopped because its association ended`;
  log[byRequester ? 'info' : 'warn'](message, {
    ...fields,
    reason: ended.reason,
    completed: result.completed,
    failed: result.failed,
    warning: result.warning,
    notSent: result.remaining,
    error: ended.message,
  });
}

export interface RetrieveDependencies {
  archive: LocalArchive;
  aeTitle: string;
  findDestination(aeTitle: string): PacsNode | undefined;
  log: Logger;
}

export function createMoveHandler(deps: RetrieveDependencies) {
  return async function handleMove(context: MoveRequestContext): Promise<RetrieveResult> {
    const destinationAeTitle = context.moveDestination.trim();
    const request = resolveRequest(deps.archive, context);
    const fields = {
      callingAeTitle: context.association.callingAeTitle,
      moveDestination: abbreviateRequestValue(destinationAeTitle),
      ...request.logFields,
    };
    const destination = deps.findDestination(destinationAeTitle);
    if (!destination) {
      deps.log.warn('C-MOVE destination unknown; register it with "loader nodes add"', fields);
      throw new DimseStatusError(RetrieveStatus.MoveDestinationUnknown, `Move destination unknown: ${abbreviateRequestValue(destinationAeTitle)}`);
    }

    const instances = request.instances;
    deps.log.info('C-MOVE started', { ...fields, instances: instances.length, host: destination.host, port: destination.port });
    logUnmatchedParentKeys(deps.log, 'C-MOVE', request, fields);
    if (instances.length === 0) {
      const result = emptyResult();
      deps.log.info('C-MOVE finished', { ...fields, ...summarize(result) });
      return result;
    }

    const sender = new MoveDestinationSender(destination, deps.aeTitle, instances, deps.log);
    try {
      await sender.open();
    } catch (error) {
      const message = (error as Error).message;
      deps.log.error('C-MOVE cannot reach its destination', { ...fields, host: destination.host, port: destination.port, error: message });
      const result = unreachableDestinationResult(instances, destination.aeTitle, message);
      deps.log.info('C-MOVE finished', { ...fields, ...summarize(result) });
      return result;
    }

    try {
      const originator = { aeTitle: context.association.callingAeTitle, messageId: context.messageId };
      const sendOne = (instance: StoredInstance) => sender.send(instance, originator);
      const { result, associationEnded } = await runSubOperations(instances, sendOne, context, deps.log, {
        operation: 'C-MOVE',
        isIndexed: (sopInstanceUid) => deps.archive.getInstancePath(sopInstanceUid) !== undefined,
        isDestinationOpen: () => sender.isOpen,
      });
      if (associationEnded) logAssociationEnded(deps.log, 'C-MOVE', associationEnded, result, fields);
      else deps.log.info('C-MOVE finished', { ...fields, ...summarize(result) });
      return result;
    } finally {
      await sender.close();
    }
  };
}

export function createGetHandler(deps: RetrieveDependencies) {
  return async function handleGet(context: GetRequestContext): Promise<RetrieveResult> {
    const request = resolveRequest(deps.archive, context);
    const fields = { callingAeTitle: context.association.callingAeTitle, ...request.logFields };
    const instances = request.instances;
    deps.log.info('C-GET started', { ...fields, instances: instances.length });
    logUnmatchedParentKeys(deps.log, 'C-GET', request, fields);

    const sendOne = async (instance: StoredInstance): Promise<DimseResult> => {
      const prepared = await openSubOperationData(instance, context.association.acceptedContexts, deps.log);
      if ('failure' in prepared) {
        // The short reason comes first, because Error Comment keeps only its first 64 characters.
        const errorComment = `${context.association.callingAeTitle} accepted no context that fits ${instance.sopClassUid}; ${prepared.failure}`;
        return { status: RetrieveStatus.UnableToPerformSubOperations, errorComment };
      }
      return context.store({
        contextId: prepared.contextId,
        sopClassUid: instance.sopClassUid,
        sopInstanceUid: instance.sopInstanceUid,
        data: prepared.data,
      });
    };

    const { result, associationEnded } = await runSubOperations(instances, sendOne, context, deps.log, {
      operation: 'C-GET',
      isIndexed: (sopInstanceUid) => deps.archive.getInstancePath(sopInstanceUid) !== undefined,
    });
    if (associationEnded) logAssociationEnded(deps.log, 'C-GET', associationEnded, result, fields);
    else deps.log.info('C-GET finished', { ...fields, ...summarize(result) });
    return result;
  };
}

/**
 * Logs each parent Unique Key that excluded instances which the retrieve-level
 * key matched. The request gets the same response as one for an unknown UID,
 * which is Success without those instances.
 */
function logUnmatchedParentKeys(log: Logger, operation: 'C-MOVE' | 'C-GET', request: RetrieveRequest, fields: Record<string, string | number>): void {
  const levelKey = UNIQUE_KEYS.find((key) => key.level === request.level)!.name;
  for (const unmatched of request.unmatchedParentKeys) {
    log.warn(
      `${operation} did not send instances whose ${levelKey} matched but whose ${unmatched.name} differs from the identifier. ` +
        `Retry with the ${unmatched.name} that C-FIND returns for them`,
      { ...fields, unmatchedKey: unmatched.name, excludedInstances: unmatched.excluded },
    );
  }
}

/**
 * Returns the final result of a C-MOVE whose destination association could
 * not be opened: Refused A702 with every instance counted as a failed
 * sub-operation and listed in Failed SOP Instance UID List (0008,0058).
 * PS3.4 C.4.2.2.1 has the final response count the failed sub-operations, and
 * C.4.2.1.4.2 has a Refused or Failure response list their UIDs.
 */
function unreachableDestinationResult(instances: StoredInstance[], destinationAeTitle: string, message: string): RetrieveResult {
  // client.ts puts the peer's address first in this message; the AE title and the reason fit the 64 characters of LO.
  const errorComment = /accepted none of the/.test(message)
    ? `${destinationAeTitle} accepted none of the proposed presentation contexts`
    : message;
  return {
    status: RetrieveStatus.UnableToPerformSubOperations,
    remaining: 0,
    completed: 0,
    failed: instances.length,
    warning: 0,
    failedSopInstanceUids: instances.map((instance) => instance.sopInstanceUid),
    errorComment,
  };
}

function emptyResult(): RetrieveResult {
  return { status: RetrieveStatus.Success, remaining: 0, completed: 0, failed: 0, warning: 0, failedSopInstanceUids: [] };
}

function statusText(status: number): string {
  return `0x${status.toString(16).padStart(4, '0')}`;
}

function summarize(result: RetrieveResult) {
  return {
    status: statusText(result.status),
    completed: result.completed,
    failed: result.failed,
    warning: result.warning,
  };
}
