/**
 * The transfers of one study: C-MOVE from the source straight to the
 * destination, retrieve into the local archive, and send from the archive.
 * A relay is a retrieve followed by a send.
 */
import { AssociationRejectedError, formatStatus, statusClass } from '../../dicom/network';
import type { ClientAssociation, RetrieveResult } from '../../dicom/network';
import { SopClass } from '../../dicom/uid';
import type { LocalArchive, StoredInstance } from '../archive';
import { connectToNode, encodeRequestIdentifier, retrieveStudies } from '../query-retrieve';
import type { LocalIdentity, RemoteNode } from '../query-retrieve';
import { QUERY_TRANSFER_SYNTAXES } from '../query-retrieve/identifiers';
import { sendInstances } from '../transfers';
import type { DecompressedInstances, InstanceTransform, TransferReport, TransformResult } from '../transfers';
import { CancelledError, isOutOfResourcesStatus, isTransientText, MigrationError } from './retry';

/** C-MOVE failure statuses after which a relay may still work: SOP class not supported, not authorized, move destination unknown. */
const MOVE_UNAVAILABLE_STATUSES = new Set([0x0122, 0x0124, 0xa801]);

/** The source cannot C-MOVE to the destination; a relay through the archive may still work. */
export class MoveUnavailableError extends Error {
  override readonly name = 'MoveUnavailableError';
}

/**
 * Asks `source` to C-MOVE the study to `destinationAeTitle` on one
 * association. Throws MoveUnavailableError when the source rejects the
 * C-MOVE association or context, or returns a failure status other than A7xx
 * without moving anything. Throws MigrationError for the other failures
 * (transient for A7xx), and connection errors as they are.
 */
export async function moveStudyDirect(source: RemoteNode, local: LocalIdentity, destinationAeTitle: string, studyInstanceUid: string, signal?: AbortSignal): Promise<RetrieveResult> {
  const moveClass = SopClass.StudyRootQueryRetrieveMove;
  let association: ClientAssociation;
  try {
    association = await connectToNode(source, local, [{ abstractSyntax: moveClass, transferSyntaxes: [...QUERY_TRANSFER_SYNTAXES] }]);
  } catch (error) {
    if (error instanceof AssociationRejectedError && error.result !== 2) throw new MoveUnavailableError(`${source.name} rejected the C-MOVE association: ${error.message}`);
    if (/accepted none/.test((error as Error).message)) throw new MoveUnavailableError(`${source.name} rejected Study Root Query/Retrieve - MOVE`);
    throw error;
  }
  try {
    const context = association.findContext(moveClass);
    if (!context) throw new MoveUnavailableError(`${source.name} rejected Study Root Query/Retrieve - MOVE`);
    const identifier = encodeRequestIdentifier('STUDY', [{ keyword: 'StudyInstanceUID', value: studyInstanceUid }], source.characterSets, context.transferSyntax);
    const result = await association.move({ contextId: context.id, destination: destinationAeTitle, identifier, signal });
    const comment = result.errorComment ? ` (${result.errorComment})` : '';
    if (MOVE_UNAVAILABLE_STATUSES.has(result.status) && result.completed === 0) {
      const unknown = result.status === 0xa801 ? `: ${source.name} does not know ${destinationAeTitle} as a move destination` : '';
      throw new MoveUnavailableError(`C-MOVE failed with status ${formatStatus(result.status)}${unknown}${comment}`);
    }
    const kind = statusClass(result.status);
    // Orthanc 1.10 returns C000 rather than A801 for a destination it does not know, so any
    // failure other than A7xx that reports no completed sub-operation may still leave the relay open.
    // The count in the response may be 0 although the destination received instances, so the caller counts the destination.
    if (kind === 'failure' && result.completed === 0 && !isOutOfResourcesStatus(result.status)) {
      throw new MoveUnavailableError(`C-MOVE to ${destinationAeTitle} failed with status ${formatStatus(result.status)}${comment} and reported no completed sub-operations`);
    }
    if (kind === 'failure' || kind === 'cancel') {
      // FE00 ends sub-operations after our own C-CANCEL (PS3.4 table C.4-2), so it is no failure of the node.
      const ending = kind === 'cancel' ? `was cancelled (status ${formatStatus(result.status)})` : `failed with status ${formatStatus(result.status)}`;
      throw new MigrationError(
        `C-MOVE from ${source.name} to ${destinationAeTitle} ${ending}${comment}: ${result.completed} completed, ${result.failed} failed`,
        isOutOfResourcesStatus(result.status),
      );
    }
    return result;
  } finally {
    if (association.isOpen) await association.release().catch(() => undefined);
  }
}

/** Joins the reasons of a transfer's failures, at most `limit` of them, for one message. */
function summarizeFailures(report: TransferReport, limit = 3): string {
  const reasons = [...new Set(report.failures.map((failure) => failure.reason))];
  const listed = reasons.slice(0, limit).join('; ');
  return reasons.length > limit ? `${listed}; and ${reasons.length - limit} more reasons` : listed;
}

/**
 * Retrieves the study from `source` into the archive (C-GET first, C-MOVE to
 * our own AE title when the source rejects C-GET). `sourceCount` is the
 * number of instances the source listed. Throws CancelledError when `signal`
 * aborts first, and MigrationError when any instance did not arrive: permanent
 * when the archive rejected a received instance or the source listed the
 * instances it could not send (isListedSubOperationFailure), otherwise
 * transient when the reasons are.
 */
export async function retrieveStudy(
  source: RemoteNode,
  local: LocalIdentity,
  archive: LocalArchive,
  studyInstanceUid: string,
  sourceCount: number,
  signal?: AbortSignal,
  onProgress?: (received: number, expected?: number) => void,
): Promise<void> {
  const report = await retrieveStudies(source, local, archive, [studyInstanceUid], {
    signal,
    onProgress: (event) => onProgress?.(event.received, event.expected),
  });
  const study = report.studies[0];
  if (study.outcome === 'success') return;
  if (signal?.aborted) {
    if (study.notStarted) throw new CancelledError(`cancelled before the retrieve from ${source.name} started; the source lists ${sourceCount} instances`);
    throw new CancelledError(`cancelled after ${study.completed} of ${sourceCount} instances arrived from ${source.name}`);
  }
  const rejected = study.failures.filter((failure) => failure.rejectedByReceiver);
  const others = study.failures.filter((failure) => !failure.rejectedByReceiver);
  const reasons = [...study.notes, ...others.map((failure) => `${failure.sopInstanceUid}: ${failure.reason}`)];
  const text = reasons.length > 0 ? reasons.join('; ') : 'no reason given';
  const outcome = `${study.outcome}, ${study.completed} of ${study.total} instances`;
  if (rejected.length > 0) {
    // The source sends the same instances again on every attempt, so a retry would be rejected the same way.
    const causes = rejected.map((failure) => `${failure.sopInstanceUid}: ${failure.reason}`).join('; ');
    throw new MigrationError(
      `retrieve from ${source.name} into the archive: the archive rejected ${rejected.length} received instances (${causes}); ` +
        `correct them on ${source.name} and run the job again. Retrieve: ${outcome} (${text})`,
      false,
    );
  }
  // The text of a listed sub-operation failure contains its A7xx status, which alone would count as transient.
  const transient = study.listedSubOperationFailure === undefined && isTransientText(text);
  throw new MigrationError(`retrieve from ${source.name} into the archive: ${outcome} (${text})`, transient);
}

/** An instance the transform held back, with the reason. */
export interface HeldBackInstance {
  sopInstanceUid: string;
  reason: string;
}

export interface SendMissingOptions {
  /** Changes each instance before it is sent; the destination is then checked under the transform's UIDs. */
  transform?: InstanceTransform;
  /** Source SOP Instance UIDs held back by an earlier run; they are not transformed again. */
  knownHeld?: Set<string>;
  /** Called for each instance the transform wrote or held back, before anything is sent. */
  onTransformed?: (source: StoredInstance, result: TransformResult) => void;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/** Result of sendMissingInstances: the count of instances sent, those of them sent decompressed, and the instances held back. */
export interface SendMissingResult {
  sent: number;
  decompressed: DecompressedInstances;
  heldBack: HeldBackInstance[];
}

const NONE_DECOMPRESSED: DecompressedInstances = { count: 0, storedSyntaxes: [], acceptedSyntaxes: [] };

/**
 * Sends the archived instances of the study that the destination does not
 * list yet. With a transform, `presentOnDestination` contains destination
 * UIDs, each missing instance is transformed first, and instances the
 * transform holds back are returned and not sent. Throws MigrationError when
 * the archive has none of the study's instances, or any transform or send fails.
 */
export async function sendMissingInstances(
  destination: RemoteNode,
  local: LocalIdentity,
  archive: LocalArchive,
  studyInstanceUid: string,
  presentOnDestination: Set<string>,
  options: SendMissingOptions = {},
): Promise<SendMissingResult> {
  const { transform } = options;
  const archived = archive.listInstances({ studyInstanceUid });
  if (archived.length === 0) throw new MigrationError(`the local archive has no instances of study ${studyInstanceUid}`, false);
  const destinationUid = (uid: string) => (transform ? transform.destinationUid(uid) : uid);
  const missing = archived.filter((instance) => !presentOnDestination.has(destinationUid(instance.sopInstanceUid)) && !options.knownHeld?.has(instance.sopInstanceUid));
  if (missing.length === 0) return { sent: 0, decompressed: NONE_DECOMPRESSED, heldBack: [] };
  if (!transform) return { ...(await sendOrThrow(destination, local, missing, options)), heldBack: [] };

  // NOTE: the copies of the whole missing part of the study are written before sending, so the temporary folder needs room for them.
  const results: TransformResult[] = [];
  const heldBack: HeldBackInstance[] = [];
  const copies: StoredInstance[] = [];
  try {
    for (const instance of missing) {
      if (options.signal?.aborted) throw new CancelledError(`cancelled while anonymizing, before any instance was sent to ${destination.name}`);
      let result: TransformResult;
      try {
        result = await transform.transform(instance);
      } catch (error) {
        throw new MigrationError(`anonymizing instance ${instance.sopInstanceUid} of ${instance.path} failed: ${(error as Error).message}`, false);
      }
      results.push(result);
      options.onTransformed?.(instance, result);
      if (result.status === 'held') heldBack.push({ sopInstanceUid: instance.sopInstanceUid, reason: result.reason });
      else copies.push(result.instance);
    }
    const sent = copies.length === 0 ? { sent: 0, decompressed: NONE_DECOMPRESSED } : await sendOrThrow(destination, local, copies, options);
    return { ...sent, heldBack };
  } finally {
    for (const result of results) transform.discard(result);
  }
}

/**
 * Sends the instances and returns how many were sent, and sent decompressed. Throws MigrationError when any send
 * fails or the run is cancelled before all are sent.
 */
async function sendOrThrow(
  destination: RemoteNode,
  local: LocalIdentity,
  instances: StoredInstance[],
  options: SendMissingOptions,
): Promise<Omit<SendMissingResult, 'heldBack'>> {
  const report = await sendInstances(destination, local, instances, {
    signal: options.signal,
    onProgress: (progress) => options.onProgress?.(progress.done, progress.total),
  });
  if (report.failures.length > 0) {
    const text = summarizeFailures(report);
    throw new MigrationError(`sent ${report.completed} of ${report.total} instances to ${destination.name}; ${report.failures.length} failed: ${text}`, isTransientText(text));
  }
  if (options.signal?.aborted && report.completed < report.total) {
    throw new CancelledError(`cancelled after ${report.completed} of ${report.total} instances were sent to ${destination.name}`);
  }
  return { sent: report.completed, decompressed: report.decompressed };
}
