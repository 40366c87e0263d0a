/**
 * Retrieve of studies into the local archive by C-GET or C-MOVE (PS3.4 C.4.2
 * and C.4.3), with fallback to the other service when the node rejects the
 * chosen one, and a check of the counts received against C-FIND's.
 */
import { acceptSupportedContexts, AssociationClosedError, AssociationRejectedError, DicomServer, formatStatus, statusClass } from '../../dicom/network';
import type { ClientAssociation, RetrieveResult } from '../../dicom/network';
import { LOADER_IMPLEMENTATION_CLASS_UID, LOADER_IMPLEMENTATION_VERSION_NAME, SopClass, STORAGE_SOP_CLASSES } from '../../dicom/uid';
import type { LocalArchive } from '../archive';
import { createLogger } from '../logger';
import { explainNetworkErrors } from '../network-errors';
import { emptyReport, outcomeOf } from '../transfers/report';
import type { TransferOutcome, TransferReport } from '../transfers/report';
import { ArchiveReceiver } from './archive-receiver';
import { findInstancesOn, findSeriesOn } from './find';
import { FindSession } from './find-session';
import { encodeRequestIdentifier, QUERY_TRANSFER_SYNTAXES } from './identifiers';
import { checkMissedDelivery, describeMissedDelivery } from './move-deliveries';
import type { MissedDelivery } from './move-deliveries';
import { connectToNode } from './remote-node';
import type { LocalIdentity, RemoteNode } from './remote-node';
import { planGetContexts } from './storage-contexts';
import { describeNode, describeStatusFailure, describeStatusMeaning, describeStudyNotFound } from './statuses';
import type { MoveDestination } from './statuses';

const logger = createLogger('loader.retrieve');

export type RetrieveMethod = 'get' | 'move';

export interface StudyRetrieveReport extends TransferReport {
  studyInstanceUid: string;
  /** The service that retrieved the study, after any fallback. */
  method: RetrieveMethod;
  /** Status of the final C-GET or C-MOVE response. */
  status?: number;
  /** Source of `total`: the instances an IMAGE level C-FIND listed, or NumberOfStudyRelatedInstances. */
  expectedFrom?: 'image-query' | 'study-query';
  stored: number;
  duplicates: number;
  conflicts: number;
  /**
   * Set for a C-MOVE whose completed sub-operations did not reach this retrieve's C-STORE SCP,
   * with the number of the study's instances that the archive lists (counted in `completed`).
   */
  missedDelivery?: MissedDelivery;
  outcome: TransferOutcome;
}

export interface RetrieveReport {
  studies: StudyRetrieveReport[];
  notes: string[];
  outcome: TransferOutcome;
}

export interface RetrieveProgressEvent {
  studyInstanceUid: string;
  /** Instances received for this study so far. */
  received: number;
  expected?: number;
}

export interface RetrieveOptions {
  /** Service tried first; default 'get'. */
  method?: RetrieveMethod;
  /** Try the other service when the node rejects the first; default true. */
  fallback?: boolean;
  signal?: AbortSignal;
  onProgress?: (event: RetrieveProgressEvent) => void;
  onNotice?: (message: string) => void;
}

/** Failure statuses after which the other service may work: not supported, not authorized, unknown destination. */
const FALLBACK_STATUSES = new Set([0x0122, 0x0124, 0x0211, 0xa801]);

interface RetrievePlan {
  expected: Map<string, { count: number; from: 'image-query' | 'study-query' }>;
  /**
   * Studies that both the STUDY and the IMAGE level C-FIND ran for and did not list.
   * NOTE: it stays empty when C-FIND fails, so a retrieve of an unknown study that
   * the node completes with success and no sub-operations then still reports success.
   */
  notFound: Set<string>;
  /** SOP classes seen in the studies, with the transfer syntaxes the node reported for them (often none). */
  seenClasses: Map<string, Set<string>>;
  /** SOP Instance UIDs that the IMAGE level C-FIND listed, by study. */
  instanceUids: Map<string, Set<string>>;
}

/** Lists the studies' instances with C-FIND, for the expected counts and the SOP classes to propose for C-GET. */
async function planRetrieve(node: RemoteNode, local: LocalIdentity, studyUids: string[], notify: (message: string) => void, signal?: AbortSignal): Promise<RetrievePlan> {
  const plan: RetrievePlan = { expected: new Map(), notFound: new Set(), seenClasses: new Map(), instanceUids: new Map() };
  let session: FindSession;
  try {
    session = await FindSession.open(node, local);
  } catch (error) {
    notify(`cannot list the instances with C-FIND (${(error as Error).message}); counts are not checked`);
    return plan;
  }
  try {
    for (const studyUid of studyUids) {
      try {
        let studyMatches = 0;
        for await (const match of session.find('STUDY', [{ keyword: 'StudyInstanceUID', value: studyUid }, { keyword: 'NumberOfStudyRelatedInstances', value: '' }], signal)) {
          studyMatches++;
          const count = Number(match.values.NumberOfStudyRelatedInstances);
          if (match.values.NumberOfStudyRelatedInstances && Number.isInteger(count)) plan.expected.set(studyUid, { count, from: 'study-query' });
        }
        const seriesUids: string[] = [];
        for await (const series of findSeriesOn(session, studyUid, signal)) seriesUids.push(series.seriesInstanceUid);
        let images = 0;
        const instanceUids = new Set<string>();
        for (const seriesUid of seriesUids) {
          for await (const instance of findInstancesOn(session, studyUid, seriesUid, signal)) {
            images++;
            if (instance.sopInstanceUid !== '') instanceUids.add(instance.sopInstanceUid);
            if (instance.sopClassUid === '') continue;
            const syntaxes = plan.seenClasses.get(instance.sopClassUid) ?? new Set<string>();
            for (const uid of instance.availableTransferSyntaxes) syntaxes.add(uid);
            plan.seenClasses.set(instance.sopClassUid, syntaxes);
          }
        }
        if (images > 0) plan.expected.set(studyUid, { count: images, from: 'image-query' });
        if (instanceUids.size > 0) plan.instanceUids.set(studyUid, instanceUids);
        if (studyMatches === 0 && images === 0 && !signal?.aborted) plan.notFound.add(studyUid);
      } catch (error) {
        notify(`cannot list the instances of study ${studyUid} with C-FIND (${(error as Error).message})`);
      }
    }
  } finally {
    await session.close().catch(() => undefined);
  }
  return plan;
}

/** A study the first service could not retrieve, with the reason to show. */
interface Fallback {
  studyUid: string;
  reason: string;
}

interface RunContext {
  node: RemoteNode;
  local: LocalIdentity;
  archive: LocalArchive;
  plan: RetrievePlan;
  receiver: ArchiveReceiver;
  reports: Map<string, StudyRetrieveReport>;
  options: RetrieveOptions;
  notify: (message: string) => void;
}

function retrieveIdentifier(node: RemoteNode, studyUid: string, transferSyntax: string): Buffer {
  return encodeRequestIdentifier('STUDY', [{ keyword: 'StudyInstanceUID', value: studyUid }], node.characterSets, transferSyntax);
}

/**
 * Fills the study's report from the final response and what the archive received. `missed` counts
 * the instances of a C-MOVE that reached the archive without passing through this retrieve.
 */
function recordResult(run: RunContext, studyUid: string, method: RetrieveMethod, result: RetrieveResult, failuresBefore: number, missed?: MissedDelivery): void {
  const counters = run.receiver.countersFor(studyUid);
  const expected = run.plan.expected.get(studyUid);
  const received = counters.stored + counters.duplicates + (missed?.foundInArchive ?? 0);
  const report: StudyRetrieveReport = {
    ...emptyReport(expected?.count ?? result.completed + result.warning + result.failed),
    studyInstanceUid: studyUid,
    method,
    status: result.status,
    expectedFrom: expected?.from,
    stored: counters.stored,
    duplicates: counters.duplicates,
    conflicts: counters.conflicts,
    completed: received,
    ...(missed ? { missedDelivery: missed } : {}),
    outcome: 'success',
  };
  const previous = run.reports.get(studyUid);
  if (previous) report.notes.push(...previous.notes);
  if (missed) report.notes.push(describeMissedDelivery(run.node, run.local, missed));

  const kind = statusClass(result.status);
  const service = method === 'get' ? 'C-GET' : 'C-MOVE';
  const notFound = received === 0 && run.plan.notFound.has(studyUid);
  if (notFound) report.notes.unshift(`${describeStudyNotFound(describeNode(run.node))}: its C-FIND lists neither the study nor any instance of it`);
  if (kind === 'warning') {
    const meaning = describeStatusMeaning(result.status);
    const comment = result.errorComment ? `: ${result.errorComment}` : '';
    report.notes.push(`${service} on ${describeNode(run.node)} finished with warning status ${formatStatus(result.status)}${meaning ? ` (${meaning})` : ''}${comment}; ${result.completed} completed, ${result.failed} failed, ${result.warning} with warnings`);
  } else if (kind === 'failure') {
    report.notes.push(describeStatusFailure(service, run.node, result.status, result.errorComment, method === 'move' ? moveDestinationOf(run.local) : undefined));
  } else if (kind === 'cancel') {
    report.notes.push('cancelled');
  }
  if (result.warning > 0) report.warnings.push({ sopInstanceUid: '', status: result.status, reason: `${result.warning} sub-operations completed with warnings at ${run.node.name}` });
  for (const uid of result.failedSopInstanceUids) {
    report.failures.push({ sopInstanceUid: uid, reason: `${run.node.name} lists it in Failed SOP Instance UID List` });
  }
  report.failures.push(...run.receiver.failures.slice(failuresBefore));
  if (result.failed > 0 && result.failedSopInstanceUids.length === 0) {
    report.notes.push(`${run.node.name} reported ${result.failed} failed sub-operations without naming them`);
  }
  if (counters.conflicts > 0) report.notes.push(`${counters.conflicts} received instances differ from the archive's copies and were kept aside`);
  if (expected !== undefined && received !== expected.count) {
    const source = expected.from === 'image-query' ? 'an IMAGE level C-FIND' : 'NumberOfStudyRelatedInstances';
    report.notes.push(`received ${received} of ${expected.count} instances listed by ${source}`);
  }
  report.outcome = (kind === 'failure' || notFound) && received === 0 ? 'failure' : outcomeOf(report);
  run.reports.set(studyUid, report);
}

/** Runs C-GET for the studies on one association; returns the studies to retry with C-MOVE. */
async function runGet(run: RunContext, studyUids: string[]): Promise<Fallback[]> {
  const getClass = SopClass.StudyRootQueryRetrieveGet;
  const plan = planGetContexts([{ abstractSyntax: getClass, transferSyntaxes: [...QUERY_TRANSFER_SYNTAXES] }], run.plan.seenClasses);
  if (plan.omittedSeenClasses.length > 0) run.notify(`${plan.omittedSeenClasses.length} SOP classes of the studies did not fit into one C-GET association`);

  let association: ClientAssociation;
  try {
    association = await connectToNode(run.node, run.local, plan.contexts, { roleSelections: plan.roleSelections });
  } catch (error) {
    if (!(error instanceof AssociationRejectedError) && !/accepted none/.test((error as Error).message)) throw error;
    return studyUids.map((studyUid) => ({ studyUid, reason: `${run.node.name} rejected the C-GET association: ${(error as Error).message}` }));
  }
  const context = association.findContext(getClass);
  if (!context) {
    await association.release();
    return studyUids.map((studyUid) => ({ studyUid, reason: `${run.node.name} rejected the Study Root C-GET presentation context` }));
  }

  const fallbacks: Fallback[] = [];
  try {
    for (const [index, studyUid] of studyUids.entries()) {
      if (run.options.signal?.aborted) break;
      const failuresBefore = run.receiver.failures.length;
      let result: RetrieveResult;
      try {
        result = await association.get({
          contextId: context.id,
          identifier: retrieveIdentifier(run.node, studyUid, context.transferSyntax),
          onStore: run.receiver.store,
          signal: run.options.signal,
        });
      } catch (error) {
        if (!(error instanceof AssociationClosedError)) throw error;
        fallbacks.push(...abortedRetrieve(run, 'get', studyUids.slice(index), error));
        break;
      }
      if (FALLBACK_STATUSES.has(result.status) && result.completed === 0) {
        fallbacks.push({ studyUid, reason: describeStatusFailure('C-GET', run.node, result.status, result.errorComment) });
        continue;
      }
      recordResult(run, studyUid, 'get', result, failuresBefore);
    }
  } finally {
    if (association.isOpen) await association.release();
  }
  return fallbacks;
}

/** Accepts every storage SOP class in the transfer syntax the node prefers, and Verification. */
function moveDestinationContexts(): Map<string, string[]> {
  const supported = new Map<string, string[]>(STORAGE_SOP_CLASSES.map((info) => [info.uid, []]));
  supported.set(SopClass.Verification, []);
  return supported;
}

/** Runs C-MOVE to our own AE title, receiving on a temporary server; returns the studies to retry with C-GET. */
async function runMove(run: RunContext, studyUids: string[]): Promise<Fallback[]> {
  const { node, local } = run;
  const supported = moveDestinationContexts();
  const server = new DicomServer({
    aeTitle: local.aeTitle,
    implementationClassUid: LOADER_IMPLEMENTATION_CLASS_UID,
    implementationVersionName: LOADER_IMPLEMENTATION_VERSION_NAME,
    decide: (request) =>
      request.calledAeTitle === local.aeTitle
        ? acceptSupportedContexts(request, supported)
        : { accept: false, result: 1, source: 1, reason: 7, logMessage: `called AE title ${request.calledAeTitle} is not ${local.aeTitle}` },
    handlers: { store: run.receiver.store, echo: async () => ({ status: 0 }) },
    timeouts: { associationMs: node.timeouts.associationSeconds * 1000, dimseMs: node.timeouts.dimseSeconds * 1000, idleMs: node.timeouts.idleSeconds * 1000 },
  });
  try {
    await server.listen(local.moveScuPort, local.moveScuHost);
  } catch (error) {
    return studyUids.map((studyUid) => ({ studyUid, reason: `cannot receive C-MOVE sub-operations on port ${local.moveScuPort}: ${(error as Error).message}` }));
  }

  const fallbacks: Fallback[] = [];
  try {
    const moveClass = SopClass.StudyRootQueryRetrieveMove;
    let association: ClientAssociation;
    try {
      association = await connectToNode(node, local, [{ abstractSyntax: moveClass, transferSyntaxes: [...QUERY_TRANSFER_SYNTAXES] }]);
    } catch (error) {
      if (!(error instanceof AssociationRejectedError) && !/accepted none/.test((error as Error).message)) throw error;
      return studyUids.map((studyUid) => ({ studyUid, reason: `${node.name} rejected the C-MOVE association: ${(error as Error).message}` }));
    }
    const context = association.findContext(moveClass)!;
    try {
      for (const [index, studyUid] of studyUids.entries()) {
        if (run.options.signal?.aborted) break;
        const failuresBefore = run.receiver.failures.length;
        let result: RetrieveResult;
        try {
          result = await association.move({
            contextId: context.id,
            destination: local.aeTitle,
            identifier: retrieveIdentifier(node, studyUid, context.transferSyntax),
            signal: run.options.signal,
          });
        } catch (error) {
          if (!(error instanceof AssociationClosedError)) throw error;
          fallbacks.push(...abortedRetrieve(run, 'move', studyUids.slice(index), error));
          break;
        }
        if (FALLBACK_STATUSES.has(result.status) && result.completed === 0) {
          const unknown = result.status === 0xa801 ? `; ${node.name} does not know ${local.aeTitle} as a move destination, so register ${local.aeTitle} with port ${local.moveScuPort} on the node` : '';
          fallbacks.push({ studyUid, reason: describeStatusFailure('C-MOVE', node, result.status, result.errorComment) + unknown });
          continue;
        }
        recordResult(run, studyUid, 'move', result, failuresBefore, await findMissedDelivery(run, studyUid, result));
      }
    } finally {
      if (association.isOpen) await association.release();
    }
  } finally {
    await server.close({ timeoutMs: node.timeouts.dimseSeconds * 1000 });
  }
  return fallbacks;
}

function moveDestinationOf(local: LocalIdentity): MoveDestination {
  return { aeTitle: local.aeTitle, port: local.moveScuPort };
}

/**
 * Returns what the archive lists of a study whose C-MOVE the node reports as
 * completed in part or in full, when none of it reached this retrieve's
 * C-STORE SCP; otherwise undefined. A node whose move destination for our AE
 * title is a `loader serve` on the same archive delivers the study that way.
 */
async function findMissedDelivery(run: RunContext, studyUid: string, result: RetrieveResult): Promise<MissedDelivery | undefined> {
  const counters = run.receiver.countersFor(studyUid);
  const reported = result.completed + result.warning;
  if (reported === 0 || counters.stored + counters.duplicates + counters.conflicts > 0) return undefined;

  const missed = await checkMissedDelivery({
    node: run.node,
    local: run.local,
    archive: run.archive,
    studyInstanceUid: studyUid,
    reported,
    expectedUids: run.plan.instanceUids.get(studyUid),
    signal: run.options.signal,
  });
  logger.warn('C-MOVE sub-operations completed, but none reached this retrieve', {
    node: run.node.name,
    studyInstanceUid: studyUid,
    reported,
    foundInArchive: missed.foundInArchive,
    moveScuPort: run.local.moveScuPort,
  });
  return missed;
}

/**
 * Handles an association that ended during a retrieve request. Orthanc 1.10,
 * for one, aborts the association when the calling AE may not use C-GET or
 * C-MOVE. The studies that received nothing yet go to the other service; a
 * study that was partly received is reported as failed.
 */
function abortedRetrieve(run: RunContext, method: RetrieveMethod, studyUids: string[], error: AssociationClosedError): Fallback[] {
  const service = method === 'get' ? 'C-GET' : 'C-MOVE';
  const reason = `${run.node.name} ended the association during ${service} (${error.message}); the node may not allow ${service} for ${run.local.aeTitle}`;
  const fallbacks: Fallback[] = [];
  for (const studyUid of studyUids) {
    const counters = run.receiver.countersFor(studyUid);
    if (counters.stored + counters.duplicates + counters.conflicts === 0) {
      fallbacks.push({ studyUid, reason });
    } else {
      run.reports.set(studyUid, { ...failedStudy(run, studyUid, method, [reason]), ...counters, completed: counters.stored + counters.duplicates, outcome: 'partial' });
    }
  }
  return fallbacks;
}

function failedStudy(run: RunContext, studyUid: string, method: RetrieveMethod, notes: string[]): StudyRetrieveReport {
  const expected = run.plan.expected.get(studyUid);
  return {
    ...emptyReport(expected?.count ?? 0),
    notes,
    studyInstanceUid: studyUid,
    method,
    expectedFrom: expected?.from,
    stored: 0,
    duplicates: 0,
    conflicts: 0,
    outcome: 'failure',
  };
}

/**
 * Retrieves studies into the archive. The first service is options.method,
 * C-GET by default. When the node rejects it, the study goes to the other
 * service, and the study's notes give the reason.
 */
export async function retrieveStudies(node: RemoteNode, local: LocalIdentity, archive: LocalArchive, studyUids: string[], options: RetrieveOptions = {}): Promise<RetrieveReport> {
  const notes: string[] = [];
  const notify = (message: string) => {
    // Only the log line is explained. The notes keep Node's error codes, as do the study notes that migration retries match.
    notes.push(message);
    logger.info(explainNetworkErrors(message), { node: node.name });
    options.onNotice?.(message);
  };
  const uniqueUids = [...new Set(studyUids)];
  const plan = await planRetrieve(node, local, uniqueUids, notify, options.signal);
  const receiver = new ArchiveReceiver(archive, node.aeTitle);
  receiver.onReceived = (_total, studyInstanceUid) => {
    const counters = receiver.countersFor(studyInstanceUid);
    options.onProgress?.({ studyInstanceUid, received: counters.stored + counters.duplicates + counters.conflicts, expected: plan.expected.get(studyInstanceUid)?.count });
  };
  const run: RunContext = { node, local, archive, plan, receiver, reports: new Map(), options, notify };

  const first = options.method ?? 'get';
  const second: RetrieveMethod = first === 'get' ? 'move' : 'get';
  const runMethod = (method: RetrieveMethod, uids: string[]) => (method === 'get' ? runGet(run, uids) : runMove(run, uids));

  let fallbacks = await runMethod(first, uniqueUids);
  if (fallbacks.length > 0 && options.fallback !== false && !options.signal?.aborted) {
    for (const fallback of fallbacks) {
      const message = `study ${fallback.studyUid}: ${fallback.reason}; retrying with C-${second.toUpperCase()}`;
      notify(message);
      run.reports.set(fallback.studyUid, failedStudy(run, fallback.studyUid, second, [`${first === 'get' ? 'C-GET' : 'C-MOVE'} not used: ${fallback.reason}`]));
    }
    const reasons = new Map(fallbacks.map((fallback) => [fallback.studyUid, fallback.reason]));
    fallbacks = (await runMethod(second, [...reasons.keys()])).map((fallback) => ({ ...fallback, reason: `${reasons.get(fallback.studyUid)}; then ${fallback.reason}` }));
  }
  for (const fallback of fallbacks) run.reports.set(fallback.studyUid, failedStudy(run, fallback.studyUid, options.fallback === false ? first : second, [fallback.reason]));

  const studies = uniqueUids.map((uid) => run.reports.get(uid) ?? failedStudy(run, uid, first, ['not retrieved: cancelled']));
  const outcomes = new Set(studies.map((study) => study.outcome));
  const outcome: TransferOutcome = outcomes.size === 1 ? [...outcomes][0] : 'partial';
  return { studies, notes, outcome };
}
