/**
 * Retrieve of studies into the local archive by C-GET or C-MOVE (PS3.4 C.4.2
 * and C.4.3), with fallback to the other service when the node rejects the
 * chosen one, and a check of the counts received against C-FIND's.
 */
import { acceptSupportedContexts, AssociationClosedError, AssociationRejectedError, DicomServer, formatStatus, statusClass } from '../../dicom/network';
import type { ClientAssociation, RetrieveProgress, RetrieveResult } from '../../dicom/network';
import { LOADER_IMPLEMENTATION_CLASS_UID, LOADER_IMPLEMENTATION_VERSION_NAME, SopClass, STORAGE_SOP_CLASSES } from '../../dicom/uid';
import type { LocalArchive } from '../archive';
import { createLogger } from '../logger';
import { explainNetworkErrors } from '../network-errors';
import { emptyReport, outcomeOf } from '../transfers/report';
import type { TransferOutcome, TransferReport } from '../transfers/report';
import { ArchiveReceiver } from './archive-receiver';
import { findStudyInstancesOn } from './find';
import { FindSession } from './find-session';
import { encodeRequestIdentifier, QUERY_TRANSFER_SYNTAXES } from './identifiers';
import { checkMissedDelivery, describeMissedDelivery } from './move-deliveries';
import type { MissedDelivery } from './move-deliveries';
import { connectToNode } from './remote-node';
import type { LocalIdentity, RemoteNode } from './remote-node';
import { planGetContexts } from './storage-contexts';
import { describeListedSubOperationFailure, describeNode, describeStatusFailure, describeStatusMeaning, describeStudyNotFound, isListedSubOperationFailure } from './statuses';
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
  /** Set for a study that no C-GET or C-MOVE request was sent for before the user cancelled the retrieve. */
  notStarted?: true;
  /**
   * Set when the final C-GET response matched isListedSubOperationFailure: the
   * node could not send the instances it listed, so retrying fails the same way.
   */
  listedSubOperationFailure?: true;
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
  if (signal?.aborted) return plan;
  let session: FindSession;
  try {
    session = await FindSession.open(node, local);
  } catch (error) {
    notify(`cannot list the instances with C-FIND (${(error as Error).message}); counts are not checked`);
    return plan;
  }
  try {
    for (const studyUid of studyUids) {
      if (signal?.aborted) break;
      try {
        await listStudy(session, plan, studyUid, signal);
      } catch (error) {
        notify(`cannot list the instances of study ${studyUid} with C-FIND (${(error as Error).message})`);
      }
    }
  } finally {
    await session.close().catch(() => undefined);
  }
  return plan;
}

/**
 * Adds one study's expected count, SOP classes and SOP Instance UIDs to the plan. A listing
 * that the signal cut short adds no IMAGE level count, because it would be too low.
 */
async function listStudy(session: FindSession, plan: RetrievePlan, studyUid: string, signal?: AbortSignal): Promise<void> {
  let studyMatches = 0;
  let studyCount: number | undefined;
  for await (const match of session.find('STUDY', [{ keyword: 'StudyInstanceUID', value: studyUid }, { keyword: 'NumberOfStudyRelatedInstances', value: '' }], signal)) {
    studyMatches++;
    const count = Number(match.values.NumberOfStudyRelatedInstances);
    // Orthanc lists a study that it split by Patient ID once per part, each with the part's count.
    if (match.values.NumberOfStudyRelatedInstances && Number.isInteger(count)) studyCount = (studyCount ?? 0) + count;
  }
  if (studyCount !== undefined) plan.expected.set(studyUid, { count: studyCount, from: 'study-query' });

  let images = 0;
  const instanceUids = new Set<string>();
  for await (const instance of findStudyInstancesOn(session, studyUid, signal)) {
    images++;
    if (instance.sopInstanceUid !== '') instanceUids.add(instance.sopInstanceUid);
    if (instance.sopClassUid === '') continue;
    const syntaxes = plan.seenClasses.get(instance.sopClassUid) ?? new Set<string>();
    for (const uid of instance.availableTransferSyntaxes) syntaxes.add(uid);
    plan.seenClasses.set(instance.sopClassUid, syntaxes);
  }
  if (signal?.aborted) return;
  if (images > 0) plan.expected.set(studyUid, { count: images, from: 'image-query' });
  if (instanceUids.size > 0) plan.instanceUids.set(studyUid, instanceUids);
  if (studyMatches === 0 && images === 0) plan.notFound.add(studyUid);
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
  /** The largest number of sub-operations that a C-GET or C-MOVE response reported per study (remaining, completed, failed and warning). */
  responseTotals: Map<string, number>;
  /** Studies that a C-GET or C-MOVE request was sent for. */
  started: Set<string>;
}

function subOperationTotal(progress: RetrieveProgress): number {
  return progress.remaining + progress.completed + progress.failed + progress.warning;
}

/** Records the sub-operation total of one C-GET or C-MOVE response. */
function noteResponseTotal(run: RunContext, studyUid: string, progress: RetrieveProgress): void {
  run.responseTotals.set(studyUid, Math.max(run.responseTotals.get(studyUid) ?? 0, subOperationTotal(progress)));
}

/** Returns the study's expected instance count: the C-FIND listing's, else the largest total a retrieve response reported, else undefined. */
function expectedCount(run: RunContext, studyUid: string): number | undefined {
  return run.plan.expected.get(studyUid)?.count ?? run.responseTotals.get(studyUid);
}

/** Returns "N of M" when M is known, else "N". */
function countOf(received: number, expected: number | undefined): string {
  return expected === undefined ? `${received}` : `${received} of ${expected}`;
}

/** Note of a study that the user cancelled the retrieve before it began. */
const NOT_STARTED_NOTE = 'not started: the retrieve was cancelled by the user';

function describeUserCancel(received: number, expected: number | undefined): string {
  if (received === 0) return 'cancelled by the user before any instance arrived';
  return `cancelled by the user after ${countOf(received, expected)} instances arrived`;
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
  noteResponseTotal(run, studyUid, result);
  const expected = run.plan.expected.get(studyUid);
  const received = counters.stored + counters.duplicates + (missed?.foundInArchive ?? 0);
  const kind = statusClass(result.status);
  // A node that ignores C-CANCEL and sends everything finishes with success, which needs no note.
  const cancelledByUser = run.options.signal?.aborted === true && kind !== 'success';
  const report: StudyRetrieveReport = {
    ...emptyReport(expectedCount(run, studyUid) ?? 0),
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

  const service = method === 'get' ? 'C-GET' : 'C-MOVE';
  const notFound = received === 0 && run.plan.notFound.has(studyUid);
  if (notFound) report.notes.unshift(`${describeStudyNotFound(describeNode(run.node))}: its C-FIND lists neither the study nor any instance of it`);
  if (kind === 'warning') {
    const meaning = describeStatusMeaning(result.status);
    const comment = result.errorComment ? `: ${result.errorComment}` : '';
    report.notes.push(`${service} on ${describeNode(run.node)} finished with warning status ${formatStatus(result.status)}${meaning ? ` (${meaning})` : ''}${comment}; ${result.completed} completed, ${result.failed} failed, ${result.warning} with warnings`);
  } else if (kind === 'failure' && method === 'get' && isListedSubOperationFailure(result)) {
    report.listedSubOperationFailure = true;
    report.notes.push(describeListedSubOperationFailure(run.node, result.status, result.failedSopInstanceUids.length, result.completed, result.errorComment));
  } else if (kind === 'failure') {
    report.notes.push(describeStatusFailure(service, run.node, result.status, result.errorComment, method === 'move' ? moveDestinationOf(run.local) : undefined));
  }
  if (cancelledByUser) {
    report.notes.push(describeUserCancel(received, expectedCount(run, studyUid)));
  } else if (kind === 'cancel') {
    report.notes.push(`${service} on ${describeNode(run.node)} ended with status ${formatStatus(result.status)} (cancelled) after ${countOf(received, expectedCount(run, studyUid))} instances arrived`);
  }
  if (result.warning > 0) report.warnings.push({ sopInstanceUid: '', status: result.status, reason: `${result.warning} sub-operations completed with warnings at ${run.node.name}` });
  for (const uid of result.failedSopInstanceUids) {
    report.failures.push({ sopInstanceUid: uid, reason: `${run.node.name} lists it in Failed SOP Instance UID List` });
  }
  report.failures.push(...run.receiver.failures.slice(failuresBefore));
  if (result.failed > 0 && result.failedSopInstanceUids.length === 0) {
    report.notes.push(`${run.node.name} reported ${result.failed} failed sub-operations without naming them`);
  }
  if (counters.patientConflicts > 0) {
    report.notes.push(`Patient ID conflict: the archive stores ${counters.patientConflicts} received instances, or their study or series, under another Patient ID, so they were kept aside`);
  }
  const otherContent = counters.conflicts - counters.patientConflicts;
  if (otherContent > 0) report.notes.push(`${otherContent} received instances differ from the archive's copies and were kept aside`);
  if (expected !== undefined && received !== expected.count && !cancelledByUser) {
    const source = expected.from === 'image-query' ? 'an IMAGE level C-FIND' : 'NumberOfStudyRelatedInstances';
    report.notes.push(`received ${received} of ${expected.count} instances listed by ${source}`);
  }
  if ((kind === 'failure' || notFound || cancelledByUser) && received === 0) report.outcome = 'failure';
  else if (cancelledByUser && expectedCount(run, studyUid) === undefined) report.outcome = 'partial';
  else report.outcome = outcomeOf(report);
  run.reports.set(studyUid, report);
}

/** Runs C-GET for the studies on one association; returns the studies to retry with C-MOVE. */
async function runGet(run: RunContext, studyUids: string[]): Promise<Fallback[]> {
  const getClass = SopClass.StudyRootQueryRetrieveGet;
  const plan = planGetContexts([{ abstractSyntax: getClass, transferSyntaxes: [...QUERY_TRANSFER_SYNTAXES] }], run.plan.seenClasses);
  if (plan.omittedSeenClasses.length > 0) run.notify(`${plan.omittedSeenClasses.length} SOP classes of the studies did not fit into one C-GET association`);
  if (run.options.signal?.aborted) return [];

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
  // Set once the node has completed a C-GET request on this association, which shows that it allows C-GET.
  let responded = false;
  try {
    for (const [index, studyUid] of studyUids.entries()) {
      if (run.options.signal?.aborted) break;
      const failuresBefore = run.receiver.failures.length;
      let result: RetrieveResult;
      run.started.add(studyUid);
      try {
        result = await association.get({
          contextId: context.id,
          identifier: retrieveIdentifier(run.node, studyUid, context.transferSyntax),
          onStore: run.receiver.store,
          onPending: (progress) => noteResponseTotal(run, studyUid, progress),
          signal: run.options.signal,
        });
      } catch (error) {
        if (!(error instanceof AssociationClosedError)) throw error;
        fallbacks.push(...abortedRetrieve(run, 'get', studyUids.slice(index), error, responded));
        break;
      }
      if (FALLBACK_STATUSES.has(result.status) && result.completed === 0) {
        fallbacks.push({ studyUid, reason: describeStatusFailure('C-GET', run.node, result.status, result.errorComment) });
        continue;
      }
      responded = true;
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
  if (run.options.signal?.aborted) return [];
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
    // Set once the node has completed a C-MOVE request on this association, which shows that it allows C-MOVE.
    let responded = false;
    try {
      for (const [index, studyUid] of studyUids.entries()) {
        if (run.options.signal?.aborted) break;
        const failuresBefore = run.receiver.failures.length;
        let result: RetrieveResult;
        run.started.add(studyUid);
        try {
          result = await association.move({
            contextId: context.id,
            destination: local.aeTitle,
            identifier: retrieveIdentifier(node, studyUid, context.transferSyntax),
            onPending: (progress) => noteResponseTotal(run, studyUid, progress),
            signal: run.options.signal,
          });
        } catch (error) {
          if (!(error instanceof AssociationClosedError)) throw error;
          fallbacks.push(...abortedRetrieve(run, 'move', studyUids.slice(index), error, responded));
          break;
        }
        if (FALLBACK_STATUSES.has(result.status) && result.completed === 0) {
          const unknown = result.status === 0xa801 ? `; ${node.name} does not know ${local.aeTitle} as a move destination, so register ${local.aeTitle} with port ${local.moveScuPort} on the node` : '';
          fallbacks.push({ studyUid, reason: describeStatusFailure('C-MOVE', node, result.status, result.errorComment) + unknown });
          continue;
        }
        responded = true;
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
 * Handles an association that ended during a retrieve request; `studyUids` starts with the
 * study whose request was running. Orthanc 1.10, for one, aborts the association (A-ABORT)
 * when the calling AE may not use C-GET or C-MOVE. So the studies go to the other service after
 * a peer abort that came before any instance or any final response other than a rejection. Any
 * other end, such as a node that stops or loses the connection, fails the studies with what
 * arrived so far.
 */
function abortedRetrieve(run: RunContext, method: RetrieveMethod, studyUids: string[], error: AssociationClosedError, responded: boolean): Fallback[] {
  const service = method === 'get' ? 'C-GET' : 'C-MOVE';
  const [current, ...rest] = studyUids;
  const counters = run.receiver.countersFor(current);
  const received = counters.stored + counters.duplicates;
  const arrivedAny = received + counters.conflicts > 0;
  const previousNotes = (studyUid: string) => run.reports.get(studyUid)?.notes ?? [];

  if (run.options.signal?.aborted) {
    const note = describeUserCancel(received, expectedCount(run, current));
    run.reports.set(current, { ...failedStudy(run, current, method, [...previousNotes(current), note]), ...counters, completed: received, outcome: received > 0 ? 'partial' : 'failure' });
    return [];
  }
  if (error.reason === 'peer-aborted' && !responded && !arrivedAny) {
    const reason = `${run.node.name} aborted the association during ${service} before any instance arrived (${error.message}); the node may not allow ${service} for ${run.local.aeTitle}`;
    return studyUids.map((studyUid) => ({ studyUid, reason }));
  }

  const advice = abortAdvice(run, service, error);
  const ended = `the association with ${run.node.name} ended during ${service} after ${countOf(received, expectedCount(run, current))} instances arrived (${error.message})`;
  run.reports.set(current, {
    ...failedStudy(run, current, method, [...previousNotes(current), `${ended}; ${advice}`]),
    ...counters,
    completed: received,
    outcome: received > 0 ? 'partial' : 'failure',
  });
  for (const studyUid of rest) {
    run.reports.set(studyUid, failedStudy(run, studyUid, method, [...previousNotes(studyUid), `not retrieved: the association with ${run.node.name} ended during ${service} of study ${current}; ${advice}`]));
  }
  return [];
}

/**
 * Returns what to do after an association ended during a retrieve. An end for invalid data
 * (PS3.8 section 9.3 for PDUs, PS3.7 section 6.3 for messages) usually comes back on every run, so
 * checking the network or running the command again does not help there.
 */
function abortAdvice(run: RunContext, service: 'C-GET' | 'C-MOVE', error: AssociationClosedError): string {
  const keptNote = 'the instances already stored are kept';
  if (error.reason !== 'protocol-error') {
    return `check that ${describeNode(run.node)} is running and reachable, then run the same command again: ${keptNote}`;
  }
  const other = service === 'C-GET' ? 'C-MOVE' : 'C-GET';
  return (
    `${run.node.name} sent data that breaks the DICOM message rules, so the loader aborted the association, and running the same command again likely ends the same way: ` +
    `${keptNote}; retrieve the study with ${other} instead, and send the error and a log written with LOADER_LOG_LEVEL=debug to the vendor of ${run.node.name}`
  );
}

function failedStudy(run: RunContext, studyUid: string, method: RetrieveMethod, notes: string[]): StudyRetrieveReport {
  const expected = run.plan.expected.get(studyUid);
  return {
    ...emptyReport(expectedCount(run, studyUid) ?? 0),
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
 * Returns the study's report. A study that no request was sent for before the user cancelled
 * is marked notStarted, with the notes of an earlier service that the node rejected.
 */
function studyReport(run: RunContext, studyUid: string, first: RetrieveMethod): StudyRetrieveReport {
  const report = run.reports.get(studyUid);
  if (!run.options.signal?.aborted || run.started.has(studyUid)) {
    // Only a cancel leaves a study without a report, because every other path records one.
    return report ?? failedStudy(run, studyUid, first, [NOT_STARTED_NOTE]);
  }
  return { ...(report ?? failedStudy(run, studyUid, first, [])), notes: [...(report?.notes ?? []), NOT_STARTED_NOTE], notStarted: true };
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
  const run: RunContext = { node, local, archive, plan, receiver, reports: new Map(), options, notify, responseTotals: new Map(), started: new Set() };

  const first = options.method ?? 'get';
  const second: RetrieveMethod = first === 'get' ? 'move' : 'get';
  const runMethod = (method: RetrieveMethod, uids: string[]) => (method === 'get' ? runGet(run, uids) : runMove(run, uids));

  let fallbacks = await runMethod(first, uniqueUids);
  if (fallbacks.length > 0 && options.fallback !== false && !options.signal?.aborted) {
    for (const fallback of fallbacks) {
      const message = `study ${fallback.studyUid}: ${fallback.reason}; retrying with C-${second.toUpperCase()}`;
      notify(message);
      // The first service did not retrieve it, so a cancel before the second starts leaves it not started.
      run.started.delete(fallback.studyUid);
      run.reports.set(fallback.studyUid, failedStudy(run, fallback.studyUid, second, [`${first === 'get' ? 'C-GET' : 'C-MOVE'} not used: ${fallback.reason}`]));
    }
    const reasons = new Map(fallbacks.map((fallback) => [fallback.studyUid, fallback.reason]));
    fallbacks = (await runMethod(second, [...reasons.keys()])).map((fallback) => ({ ...fallback, reason: `${reasons.get(fallback.studyUid)}; then ${fallback.reason}` }));
  }
  for (const fallback of fallbacks) run.reports.set(fallback.studyUid, failedStudy(run, fallback.studyUid, options.fallback === false ? first : second, [fallback.reason]));

  const studies = uniqueUids.map((uid) => studyReport(run, uid, first));
  const outcomes = new Set(studies.map((study) => study.outcome));
  const outcome: TransferOutcome = outcomes.size === 1 ? [...outcomes][0] : 'partial';
  return { studies, notes, outcome };
}
