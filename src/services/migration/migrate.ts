/**
 * Migration of studies from one endpoint to another as a resumable job.
 *
 * Each study goes through: count its instances on the source, count them on
 * the destination (equal counts mean already present, and nothing is sent),
 * transfer, and count again on the destination to verify. A node-to-node
 * study goes by C-MOVE straight from the source to the destination when the
 * source can do that, and otherwise through the local archive. Transient
 * failures, and a destination that lacks instances after a transfer that
 * succeeded, are retried with exponential back-off. Every state change is
 * written to the job store first, so a killed run resumes where it stopped.
 * A run claims its job in the store first, so a second run of the same job
 * fails while the first one runs.
 *
 * An anonymizing job sends anonymized copies from the archive (send or
 * relay, never a direct C-MOVE) and checks the destination under the
 * replacement UIDs, which follow from the job secret. Instances the
 * anonymizer holds back are recorded with their reasons and left out of the
 * checks, so such a study is done although the destination lacks them.
 */
import type { AnonymizationOptions } from '../../dicom/anonymizer';
import { LEGACY_HASH_PSEUDONYM_HEX_DIGITS } from '../../dicom/anonymizer/job-keys';
import type { LocalArchive } from '../archive';
import { createLogger } from '../logger';
import { AnonymizingTransform } from '../transfers';
import type { DecompressedInstances, TransformResult } from '../transfers';
import { describeStudyNotFound, echoNode } from '../query-retrieve';
import type { LocalIdentity } from '../query-retrieve';
import { describeEndpoint, explainQueryRejection, listStudyInstances, selectStudies } from './endpoints';
import type { Endpoint } from './endpoints';
import { checkSelection, generateJobSecret } from './job-store';
import type { JobClaim, JobOptions, JobSecretSource, JobSelection, JobState, JobStore, StudyRecord, StudyState, TransferMethod } from './job-store';
import { NodeLimiter } from './node-limiter';
import { countInstancesPerPatientId, findPatientConflict, listStudyPatientIds } from './patient-check';
import type { StudyPatientConflict } from './patient-check';
import { backoffDelay, CancelledError, DEFAULT_BACKOFF, isTransientError, MigrationError, PatientConflictError, sleep, SourcePatientSplitError, VerificationError } from './retry';
import type { BackoffOptions } from './retry';
import { moveStudyDirect, MoveUnavailableError, retrieveStudy, sendMissingInstances } from './transfer';
import type { StoredInstance } from '../archive';

const logger = createLogger('loader.migrate');

export interface MigrationProgress {
  /** Studies finished in this run, in any final state. */
  finished: number;
  /** Studies this run works on. */
  total: number;
  /** Description of the most recent step, e.g. "study 1.2.3: sent 4 of 20 to pacs". */
  detail: string;
}

export interface MigrationRequest {
  jobId: string;
  source: Endpoint;
  destination: Endpoint;
  selection: JobSelection;
  /**
   * Studies to work on in this run, chosen by the caller (as `loader sync`
   * does) in place of searching the source with `selection`. They are queued
   * again even when an earlier run finished them, and the other studies of
   * the job are neither retried nor verified again nor reported.
   */
  studyInstanceUids?: string[];
  options: JobOptions;
  local: LocalIdentity;
  /** The archive of relays; also the source or destination when either is 'local'. */
  archive: LocalArchive;
  /** Persistent store of the job; a dry run reads nothing from it and writes nothing. */
  store: JobStore;
  /**
   * The caller's claim of the job (JobStore.claimJob), which runSync takes
   * before it compares the ends. Without it a run that is no dry run claims
   * the job itself and releases it at the end.
   */
  claim?: JobClaim;
  /** Count on both ends and report what would be transferred, without transferring or persisting anything. */
  dryRun?: boolean;
  backoff?: BackoffOptions;
  /**
   * Anonymizes each instance before it is sent from the archive. When set,
   * node-to-node studies always go through the archive, because a direct
   * C-MOVE cannot change the instances, and the destination must be a node.
   */
  anonymize?: MigrationAnonymization;
  signal?: AbortSignal;
  onProgress?: (progress: MigrationProgress) => void;
  onNotice?: (message: string) => void;
}

/** Anonymization of a migration job. */
export interface MigrationAnonymization {
  /** Anonymizer options; the job records them, and every later run of the job must give the same ones. */
  options: Omit<AnonymizationOptions, 'jobSecret' | 'pseudonymScheme' | 'pseudonymHexDigits'>;
  /**
   * Secret of the job. The CLI gives the recorded one for a job that exists, and for a new job the installation
   * secret, --job-secret-file or a one-off secret. Default: the secret stored with the job, or a new random one for a new job.
   */
  jobSecret?: Buffer;
  /** Origin of jobSecret, recorded with a new job; default: job-secret-file when jobSecret is given, otherwise one-off. */
  secretSource?: JobSecretSource;
  /** Folder for the temporary anonymized copies; default: a new folder under the system's temporary folder. */
  tempDir?: string;
}

/** An instance the anonymizer held back, so the destination lacks it on purpose. */
export interface HeldBackReport {
  studyInstanceUid: string;
  sopInstanceUid: string;
  reason: string;
}

export interface StudyReport extends StudyRecord {
  /** True when this run checked or transferred the study; false for a study a previous run finished. */
  processedThisRun: boolean;
  /** In a dry run: how a pending study would be transferred. */
  plannedMethod?: TransferMethod;
}

export type MigrationOutcome = 'success' | 'partial' | 'failure';

export interface MigrationReport {
  jobId: string;
  source: string;
  destination: string;
  dryRun: boolean;
  studies: StudyReport[];
  summary: { migrated: number; alreadyPresent: number; failed: number; pending: number };
  /**
   * success: every study is migrated or already present and no instance was
   * held back. failure: no study reached the destination, where a study held
   * back whole counts as not reached. partial otherwise, and also when the
   * source could not list its studies without Study Date (see the notes).
   */
  outcome: MigrationOutcome;
  /** Instances held back by the anonymizer in the studies of this report. Such studies count as migrated but are incomplete on purpose, so the outcome is not success. */
  heldBack: HeldBackReport[];
  /** Patients given a pseudonym by the job so far; 0 without anonymization. */
  pseudonymizedPatients: number;
  /** Origin of the job's secret: see JobSecretSource, or 'recorded' for a job created before origins were recorded. Undefined without anonymization. */
  secretSource?: JobSecretSource | 'recorded';
  notes: string[];
}

interface RunContext {
  request: MigrationRequest;
  limiter: NodeLimiter;
  /**
   * One retrieve into the archive at a time, because a C-MOVE retrieve listens on the single
   * pacs.moveScuPort. Relays and node-to-local jobs therefore retrieve one study at a time.
   */
  retrieveLock: NodeLimiter;
  /** Reason the source cannot C-MOVE to the destination, once seen; later studies relay at once. */
  moveUnavailable?: string;
  /** The anonymizer of an anonymizing job. */
  transform?: AnonymizingTransform;
  notes: string[];
  /** True when the search on the source was split by Study Date, so studies without Study Date were not selected. */
  undatedNotListed: boolean;
  /** This run's claim of the job; undefined in a dry run. */
  claim?: JobClaim;
  /** Instances this run sent decompressed, over all studies. */
  decompressed: DecompressedInstances;
  processed: Set<string>;
  finished: number;
  total: number;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Adds a note to the report and passes it to onNotice, which shows it. The log gets it at info level only when there is no onNotice, so it is printed once. */
function notify(run: RunContext, message: string): void {
  run.notes.push(message);
  const log = run.request.onNotice ? logger.debug : logger.info;
  log(message, { job: run.request.jobId });
  run.request.onNotice?.(message);
}

/**
 * Adds a note to the report without passing it to onNotice. It is for notes
 * made just before the report is returned, so the CLI prints them once, with the report.
 */
function addReportNote(run: RunContext, message: string): void {
  run.notes.push(message);
  logger.debug(message, { job: run.request.jobId });
}

function progress(run: RunContext, detail: string): void {
  run.request.onProgress?.({ finished: run.finished, total: run.total, detail });
}

/** Runs `operation` holding a slot of each node endpoint among `endpoints`; the local archive has no limit. */
function withNodes<T>(run: RunContext, endpoints: Endpoint[], operation: () => Promise<T>): Promise<T> {
  const names = endpoints.filter((endpoint) => endpoint.kind === 'node').map((endpoint) => endpoint.name);
  return run.limiter.run(names, operation);
}

async function countOn(run: RunContext, endpoint: Endpoint, studyInstanceUid: string): Promise<string[]> {
  try {
    return await withNodes(run, [endpoint], () => listStudyInstances(endpoint, run.request.local, studyInstanceUid, run.request.signal));
  } catch (error) {
    throw explainQueryRejection(endpoint, error);
  }
}

/**
 * Throws a transient MigrationError when the destination does not respond to
 * C-ECHO after a C-MOVE to it failed. Orthanc 1.10 returns 0xC000 both for a
 * destination it does not know and for one it cannot reach, so only a
 * destination that responds shows that the source is the problem and a relay may work.
 */
async function requireReachableDestination(run: RunContext, destination: Endpoint, moveError: MoveUnavailableError): Promise<void> {
  if (destination.kind !== 'node') return;
  try {
    await withNodes(run, [destination], () => echoNode(destination.node, run.request.local));
  } catch (error) {
    if (!isTransientError(error)) return;
    throw new MigrationError(
      `${moveError.message}, and ${destination.name} did not respond to C-ECHO either (${errorMessage(error)}), so the study was not relayed; check that ${describeEndpoint(destination)} runs`,
      true,
    );
  }
}

/** Retrieves the study into the archive unless the archive already has as many instances as the source. */
async function retrieveIntoArchive(run: RunContext, studyInstanceUid: string, sourceCount: number): Promise<void> {
  const { source, archive, local, signal } = run.request;
  if (source.kind !== 'node') return;
  if (archive.listInstances({ studyInstanceUid }).length === sourceCount) return;
  await run.retrieveLock.run(['move-scp'], () =>
    withNodes(run, [source], () =>
      retrieveStudy(source.node, local, archive, studyInstanceUid, sourceCount, signal, (received, expected) =>
        progress(run, `study ${studyInstanceUid}: retrieved ${received}${expected === undefined ? '' : ` of ${expected}`} from ${source.name}`),
      ),
    ),
  );
}

/** Records what the anonymizer did with one instance, so later runs know its destination UID or that it is held back. */
function recordTransformed(run: RunContext, studyInstanceUid: string, source: StoredInstance, result: TransformResult): void {
  run.request.store.recordInstance(run.request.jobId, {
    studyInstanceUid,
    sopInstanceUid: source.sopInstanceUid,
    destinationSopInstanceUid: result.status === 'transformed' ? result.sopInstanceUid : undefined,
    heldReason: result.status === 'held' ? result.reason : undefined,
  });
  if (result.status === 'held') logger.info('Instance held back by the anonymizer', { job: run.request.jobId, study: studyInstanceUid, instance: source.sopInstanceUid, reason: result.reason });
}

/** Returns the source SOP Instance UIDs of the study that earlier attempts recorded as held back. */
function heldInstances(run: RunContext, studyInstanceUid: string): Set<string> {
  if (!run.transform) return new Set();
  const records = run.request.store.listInstances(run.request.jobId, studyInstanceUid);
  return new Set(records.filter((record) => record.heldReason !== undefined).map((record) => record.sopInstanceUid));
}

async function sendFromArchive(run: RunContext, studyInstanceUid: string, present: Set<string>): Promise<void> {
  const { destination, archive, local, signal } = run.request;
  if (destination.kind !== 'node') return;
  const result = await withNodes(run, [destination], () =>
    sendMissingInstances(destination.node, local, archive, studyInstanceUid, present, {
      transform: run.transform,
      knownHeld: heldInstances(run, studyInstanceUid),
      onTransformed: (source, result) => recordTransformed(run, studyInstanceUid, source, result),
      signal,
      onProgress: (done, total) => progress(run, `study ${studyInstanceUid}: sent ${done} of ${total} to ${destination.name}`),
    }),
  );
  recordDecompressed(run, studyInstanceUid, result.decompressed);
}

/** Logs the instances of a study that went decompressed, and adds them to the run's count for the report note. */
function recordDecompressed(run: RunContext, studyInstanceUid: string, decompressed: DecompressedInstances): void {
  if (decompressed.count === 0) return;
  const total = run.decompressed;
  total.count += decompressed.count;
  for (const name of decompressed.storedSyntaxes) if (!total.storedSyntaxes.includes(name)) total.storedSyntaxes.push(name);
  for (const name of decompressed.acceptedSyntaxes) if (!total.acceptedSyntaxes.includes(name)) total.acceptedSyntaxes.push(name);
  logger.info('Instances sent decompressed because the destination did not accept their stored transfer syntax', {
    job: run.request.jobId,
    study: studyInstanceUid,
    destination: run.request.destination.name,
    instances: decompressed.count,
    stored: decompressed.storedSyntaxes.join(', '),
    accepted: decompressed.acceptedSyntaxes.join(', '),
  });
}

/** Returns the report note on the instances this run sent decompressed. */
function describeDecompressed(run: RunContext): string {
  const { count, storedSyntaxes, acceptedSyntaxes } = run.decompressed;
  const instances = count === 1 ? '1 instance was' : `${count} instances were`;
  return (
    `${instances} sent decompressed, because ${run.request.destination.name} did not accept ${storedSyntaxes.join(', ')}, ` +
    `the transfer syntax they are stored in, and accepted ${acceptedSyntaxes.join(', ')} for them`
  );
}

/** Returns how a study would go: send, retrieve, C-MOVE or relay. */
function plannedMethod(run: RunContext): TransferMethod {
  const { source, destination, options } = run.request;
  if (source.kind === 'local') return 'send';
  if (destination.kind === 'local') return 'retrieve';
  if (options.method === 'relay' || run.transform !== undefined || (options.method === 'auto' && run.moveUnavailable !== undefined)) return 'relay';
  return 'move';
}

/** Records the method a transfer starts with, so that a study whose transfer fails shows the method attempted. */
function recordMethod(run: RunContext, studyInstanceUid: string, method: TransferMethod): void {
  run.request.store.updateStudy(run.request.jobId, studyInstanceUid, { method });
}

/**
 * Transfers one study and returns the method used. `present` contains the
 * SOP Instance UIDs the destination listed before, the anonymized ones when
 * the job anonymizes.
 */
async function transferStudy(run: RunContext, studyInstanceUid: string, sourceCount: number, present: Set<string>): Promise<TransferMethod> {
  const { source, destination, local, signal, options } = run.request;
  const method = plannedMethod(run);
  if (method === 'send') {
    recordMethod(run, studyInstanceUid, method);
    await sendFromArchive(run, studyInstanceUid, present);
    return method;
  }
  if (method === 'retrieve') {
    recordMethod(run, studyInstanceUid, method);
    await retrieveIntoArchive(run, studyInstanceUid, sourceCount);
    return method;
  }
  if (method === 'move' && source.kind === 'node' && destination.kind === 'node') {
    // NOTE: C-MOVE sends the whole study, also the instances the destination already lists.
    // dcmqrscp 3.6.7 keeps one copy per SOP Instance UID; a destination that stores copies twice would list them twice.
    recordMethod(run, studyInstanceUid, 'move');
    try {
      progress(run, `study ${studyInstanceUid}: C-MOVE from ${source.name} to ${destination.node.aeTitle}`);
      await withNodes(run, [source, destination], () => moveStudyDirect(source.node, local, destination.node.aeTitle, studyInstanceUid, signal));
      return 'move';
    } catch (error) {
      if (!(error instanceof MoveUnavailableError)) throw error;
      await requireReachableDestination(run, destination, error);
      if (options.method === 'move') throw new MigrationError(`${error.message}; use --method auto or relay to go through the local archive`, false);
      if (run.moveUnavailable === undefined) {
        run.moveUnavailable = error.message;
        notify(run, `${source.name} cannot C-MOVE to ${destination.name} (${error.message}); relaying studies through the local archive`);
      }
    }
  }
  recordMethod(run, studyInstanceUid, 'relay');
  await retrieveIntoArchive(run, studyInstanceUid, sourceCount);
  await sendFromArchive(run, studyInstanceUid, present);
  return 'relay';
}

/**
 * Returns how many SOP Instance UIDs of the source the destination does not
 * list. A study is complete when this is 0, so a destination that also has
 * instances the source lacks (a two-way sync) still counts as complete.
 */
function countMissing(sourceUids: string[], destinationUids: string[]): number {
  const present = new Set(destinationUids);
  return new Set(sourceUids.filter((uid) => !present.has(uid))).size;
}

/** Returns the Study Instance UID of the study on the destination: the anonymized one when the job anonymizes. */
function destinationStudyUid(run: RunContext, studyInstanceUid: string): string {
  return run.transform ? run.transform.destinationUid(studyInstanceUid) : studyInstanceUid;
}

/**
 * Returns the SOP Instance UIDs that the destination must list for the study
 * to be complete: the source's, without held-back instances and mapped to
 * their anonymized UIDs when the job anonymizes.
 */
function expectedOnDestination(run: RunContext, studyInstanceUid: string, sourceUids: string[]): { expected: string[]; held: number } {
  if (!run.transform) return { expected: sourceUids, held: 0 };
  const held = heldInstances(run, studyInstanceUid);
  const transform = run.transform;
  const expected = sourceUids.filter((uid) => !held.has(uid)).map((uid) => transform.destinationUid(uid));
  return { expected, held: sourceUids.filter((uid) => held.has(uid)).length };
}

async function listPatientIdsOn(run: RunContext, endpoint: Endpoint, studyInstanceUid: string): Promise<string[]> {
  const { local, signal } = run.request;
  try {
    return await withNodes(run, [endpoint], () => listStudyPatientIds(endpoint, local, studyInstanceUid, signal));
  } catch (error) {
    throw explainQueryRejection(endpoint, error);
  }
}

/**
 * Returns the Patient IDs under which the source stores the study, and throws
 * SourcePatientSplitError when there is more than one, because a copy would
 * split the study on the destination too. Anonymizing jobs are checked as
 * well, since each Patient ID would get its own pseudonym. The local archive
 * files each study under one patient, so only a node fails this check.
 */
async function requireOnePatientOnSource(run: RunContext, studyInstanceUid: string): Promise<string[]> {
  const { source, local, signal } = run.request;
  // NOTE: a node that returns one STUDY level match per Study Instance UID hides a split. Orthanc 1.10 and dcmqrscp 3.6.7 return one match per Patient ID.
  const patientIds = await listPatientIdsOn(run, source, studyInstanceUid);
  if (patientIds.length <= 1 || source.kind !== 'node') return patientIds;

  let counts: Map<string, number>;
  try {
    counts = await withNodes(run, [source], () => countInstancesPerPatientId(source.node, local, studyInstanceUid, signal));
  } catch (error) {
    throw explainQueryRejection(source, error);
  }
  throw new SourcePatientSplitError(describeSourceSplit(run, studyInstanceUid, patientIds, counts), counts);
}

/** Returns the failure reason of a study that the source stores under several Patient IDs: each Patient ID with its instance count, and what to do. */
function describeSourceSplit(run: RunContext, studyInstanceUid: string, patientIds: string[], counts: Map<string, number>): string {
  const { source } = run.request;
  const listed = [...new Set([...patientIds, ...counts.keys()])].sort().map((id) => {
    const count = counts.get(id);
    return count === undefined ? `"${id}"` : `"${id}" (${count === 1 ? '1 instance' : `${count} instances`})`;
  });
  const joined = listed.length === 2 ? listed.join(' and ') : `${listed.slice(0, -1).join(', ')} and ${listed.at(-1)}`;
  return (
    `Patient ID conflict on the source: ${describeEndpoint(source)} stores study ${studyInstanceUid} under ${listed.length} Patient IDs: ${joined}. ` +
    `Nothing was sent, because one Study Instance UID cannot belong to two patients, and a copy would split the study on the destination too. ` +
    `Correct the Patient ID of the wrong instances on ${source.name} with its own tools, or delete them there, then run the job again`
  );
}

/**
 * Throws PatientConflictError when the destination stores the study under
 * another Patient ID than the source. Call it only when the destination lists
 * instances of the study, because an end without the study cannot conflict.
 * An anonymizing job is not checked, because the destination stores pseudonyms.
 */
async function requireSamePatient(run: RunContext, studyInstanceUid: string, sourcePatientIds: string[]): Promise<void> {
  if (run.transform) return;
  const conflict = findPatientConflict(studyInstanceUid, sourcePatientIds, await listPatientIdsOn(run, run.request.destination, studyInstanceUid));
  if (conflict) throw new PatientConflictError(describePatientConflict(run, conflict), conflict);
}

/** Returns the failure reason of a study with a Patient ID conflict: both Patient IDs, never the patient names, and what to do. */
function describePatientConflict(run: RunContext, conflict: StudyPatientConflict): string {
  const { source, destination } = run.request;
  const ids = (patientIds: string[]) => patientIds.map((id) => `"${id}"`).join(' and ');
  return (
    `Patient ID conflict: ${describeEndpoint(source)} stores study ${conflict.studyInstanceUid} under Patient ID ${ids(conflict.sourcePatientIds)}, ` +
    `${describeEndpoint(destination)} under ${ids(conflict.destinationPatientIds)}. Nothing was sent, because one Study Instance UID cannot belong to two patients. ` +
    `Find out which Patient ID is right, correct or delete the study on the wrong end, then run the job again`
  );
}

/** Time limit of the count after a failed or cancelled transfer, which runs also when the run's signal has aborted. */
const RECOUNT_TIMEOUT_MS = 30_000;

/**
 * Counts the destination again after a transfer that failed or was
 * cancelled, because part of the study may have arrived. When that count
 * fails, the stored count is cleared, so the report shows it as unknown and
 * not as the count from before the transfer.
 */
async function recountDestination(run: RunContext, studyInstanceUid: string, targetStudyUid: string): Promise<void> {
  const { destination, local, store, jobId } = run.request;
  try {
    const uids = await withNodes(run, [destination], () => listStudyInstances(destination, local, targetStudyUid, AbortSignal.timeout(RECOUNT_TIMEOUT_MS)));
    store.updateStudy(jobId, studyInstanceUid, { destinationCount: uids.length });
  } catch (error) {
    store.updateStudy(jobId, studyInstanceUid, { destinationCount: null });
    notify(run, `study ${studyInstanceUid}: the instances on ${describeEndpoint(destination)} were not counted after the transfer stopped (${errorMessage(error)}), so the count is unknown`);
  }
}

/** Makes one attempt (count, skip or transfer, verify) and writes the counts to the store as they become known. */
async function attemptStudy(run: RunContext, studyInstanceUid: string): Promise<{ state: StudyState; method?: TransferMethod }> {
  const { source, destination, store, jobId } = run.request;
  progress(run, `study ${studyInstanceUid}: counting instances`);
  const sourceUids = await countOn(run, source, studyInstanceUid);
  if (sourceUids.length === 0) throw new MigrationError(`${describeStudyNotFound(describeEndpoint(source))}: it lists no instances of the study`, false);
  const targetStudyUid = destinationStudyUid(run, studyInstanceUid);
  store.updateStudy(jobId, studyInstanceUid, { sourceCount: sourceUids.length, destinationStudyUid: run.transform ? targetStudyUid : undefined });
  const sourcePatientIds = await requireOnePatientOnSource(run, studyInstanceUid);

  const before = await countOn(run, destination, targetStudyUid);
  if (before.length > 0) await requireSamePatient(run, studyInstanceUid, sourcePatientIds);
  const planned = expectedOnDestination(run, studyInstanceUid, sourceUids);
  store.updateStudy(jobId, studyInstanceUid, { destinationCount: before.length, heldBack: run.transform ? planned.held : undefined });
  if (countMissing(planned.expected, before) === 0) return { state: 'already-present' };

  let method: TransferMethod;
  try {
    method = await transferStudy(run, studyInstanceUid, sourceUids.length, new Set(before));
  } catch (error) {
    await recountDestination(run, studyInstanceUid, targetStudyUid);
    throw error;
  }
  if (run.request.signal?.aborted) {
    await recountDestination(run, studyInstanceUid, targetStudyUid);
    throw new CancelledError(`cancelled after the ${method} transfer, before ${destination.name} was checked`);
  }

  const after = await countOn(run, destination, targetStudyUid);
  const { expected, held } = expectedOnDestination(run, studyInstanceUid, sourceUids);
  store.updateStudy(jobId, studyInstanceUid, { destinationCount: after.length, heldBack: run.transform ? held : undefined });
  const missing = countMissing(expected, after);
  if (missing > 0) {
    const where = run.transform ? ` under anonymized Study Instance UID ${targetStudyUid}` : '';
    throw new VerificationError(
      `verification failed: ${describeEndpoint(destination)} has ${after.length} instances${where} and lacks ${missing} of the ${expected.length} expected from ${describeEndpoint(source)}`,
      method,
    );
  }
  return { state: 'done', method };
}

/** Migrates one study with retries; records the final state, or leaves it pending when the run is cancelled. */
async function migrateStudy(run: RunContext, studyInstanceUid: string): Promise<void> {
  const { store, jobId, options, signal } = run.request;
  run.processed.add(studyInstanceUid);
  // The method of an earlier attempt whose transfer the verification found incomplete.
  let transferredBy: TransferMethod | undefined;
  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) {
      store.updateStudy(jobId, studyInstanceUid, { state: 'pending', lastError: 'cancelled before it finished' });
      return;
    }
    store.startAttempt(jobId, studyInstanceUid);
    try {
      const outcome = await attemptStudy(run, studyInstanceUid);
      // A study that an earlier attempt sent, and that the destination listed only later, was transferred by this job.
      const state = outcome.state === 'already-present' && transferredBy ? 'done' : outcome.state;
      const method = outcome.method ?? transferredBy;
      store.updateStudy(jobId, studyInstanceUid, { state, method, lastError: null });
      logger.info('Study finished', { job: jobId, study: studyInstanceUid, state, method, attempt });
      break;
    } catch (error) {
      if (error instanceof VerificationError) transferredBy = error.method;
      const message = errorMessage(error);
      if (signal?.aborted) {
        const reason = error instanceof CancelledError ? message : `cancelled: ${message}`;
        store.updateStudy(jobId, studyInstanceUid, { state: 'pending', lastError: reason });
        return;
      }
      const transient = isTransientError(error);
      if (transient && attempt <= options.retries) {
        const delayMs = backoffDelay(attempt, run.request.backoff ?? DEFAULT_BACKOFF);
        logger.warn('Study attempt failed; retrying', { job: jobId, study: studyInstanceUid, attempt, delayMs, error: message });
        store.updateStudy(jobId, studyInstanceUid, { lastError: message });
        progress(run, `study ${studyInstanceUid}: retrying in ${Math.round(delayMs / 1000)} s after: ${message}`);
        await sleep(delayMs, signal);
        continue;
      }
      const reason = transient ? `${message} (gave up after ${attempt} attempts)` : message;
      store.updateStudy(jobId, studyInstanceUid, { state: 'failed', lastError: reason });
      // Patient IDs stay out of the log; the job store and the report returned to the caller contain them.
      const logged = error instanceof PatientConflictError || error instanceof SourcePatientSplitError ? error.logMessage : message;
      logger.error('Study failed', { job: jobId, study: studyInstanceUid, attempt, transient, error: logged });
      break;
    }
  }
  run.finished++;
  progress(run, `study ${studyInstanceUid}: finished`);
}

/**
 * Counts the destination again for the finished studies that `include`
 * selects, so the report shows that they are still complete. A mismatch marks
 * the study failed.
 */
async function verifyFinishedStudies(run: RunContext, include: (study: StudyRecord) => boolean): Promise<void> {
  const { store, jobId, destination, source } = run.request;
  for (const study of store.listStudies(jobId)) {
    if (!include(study) || (study.state !== 'done' && study.state !== 'already-present')) continue;
    if (run.request.signal?.aborted) return;
    progress(run, `study ${study.studyInstanceUid}: verifying on ${destination.name}`);
    try {
      const sourceCount = study.sourceCount ?? (await countOn(run, source, study.studyInstanceUid)).length;
      const count = (await countOn(run, destination, destinationStudyUid(run, study.studyInstanceUid))).length;
      // Only counts are stored, so a destination with more instances than the source passes. Held-back instances are missing on purpose.
      if (count >= sourceCount - (study.heldBack ?? 0)) {
        store.updateStudy(jobId, study.studyInstanceUid, { destinationCount: count, sourceCount });
      } else {
        const reason = `verification failed: ${describeEndpoint(destination)} has ${count} instances, ${describeEndpoint(source)} had ${sourceCount}`;
        store.updateStudy(jobId, study.studyInstanceUid, { state: 'failed', destinationCount: count, sourceCount, lastError: reason });
        logger.warn('Finished study is no longer complete on the destination', { job: jobId, study: study.studyInstanceUid, destinationCount: count, sourceCount });
      }
    } catch (error) {
      notify(run, `study ${study.studyInstanceUid} was not verified again: ${errorMessage(error)}`);
    }
  }
}

function summarize(studies: StudyReport[]): MigrationReport['summary'] {
  const count = (states: StudyState[]) => studies.filter((study) => states.includes(study.state)).length;
  return { migrated: count(['done']), alreadyPresent: count(['already-present']), failed: count(['failed']), pending: count(['pending', 'running']) };
}

/** Lists the held-back instances of the given studies with their reasons, from the job store. */
function listHeldBack(run: RunContext, studies: StudyReport[]): HeldBackReport[] {
  if (!run.transform) return [];
  const held: HeldBackReport[] = [];
  for (const study of studies) {
    for (const record of run.request.store.listInstances(run.request.jobId, study.studyInstanceUid)) {
      if (record.heldReason !== undefined) held.push({ studyInstanceUid: study.studyInstanceUid, sopInstanceUid: record.sopInstanceUid, reason: record.heldReason });
    }
  }
  return held;
}

/**
 * Classifies a run as `loader send` does. Held-back instances are missing on
 * the destination, so they make a run partial. A study held back whole counts
 * as not reached, so a run in which no other study reached the destination is
 * a failure.
 */
function outcomeOf(studies: StudyReport[], heldBack: HeldBackReport[]): MigrationOutcome {
  const complete = studies.filter((study) => study.state === 'done' || study.state === 'already-present');
  if (complete.length === studies.length && heldBack.length === 0) return 'success';
  const heldPerStudy = new Map<string, number>();
  for (const instance of heldBack) heldPerStudy.set(instance.studyInstanceUid, (heldPerStudy.get(instance.studyInstanceUid) ?? 0) + 1);
  const reached = complete.filter((study) => study.sourceCount === undefined || (heldPerStudy.get(study.studyInstanceUid) ?? 0) < study.sourceCount);
  return reached.length === 0 ? 'failure' : 'partial';
}

/** Counts both ends of each study without transferring or persisting anything. */
async function dryRun(run: RunContext, studyUids: string[]): Promise<StudyReport[]> {
  const now = new Date().toISOString();
  const reports: StudyReport[] = [];
  for (const studyInstanceUid of studyUids) {
    const report: StudyReport = { studyInstanceUid, state: 'pending', attempts: 0, createdAt: now, updatedAt: now, processedThisRun: true };
    try {
      const sourceUids = await countOn(run, run.request.source, studyInstanceUid);
      const destinationUids = await countOn(run, run.request.destination, destinationStudyUid(run, studyInstanceUid));
      report.sourceCount = sourceUids.length;
      report.destinationCount = destinationUids.length;
      if (report.sourceCount > 0) {
        const sourcePatientIds = await requireOnePatientOnSource(run, studyInstanceUid);
        if (destinationUids.length > 0) await requireSamePatient(run, studyInstanceUid, sourcePatientIds);
      }
      if (report.sourceCount === 0) {
        report.state = 'failed';
        report.lastError = describeStudyNotFound(describeEndpoint(run.request.source));
      } else if (countMissing(run.transform ? sourceUids.map((uid) => run.transform!.destinationUid(uid)) : sourceUids, destinationUids) === 0) {
        report.state = 'already-present';
      } else {
        report.plannedMethod = plannedMethod(run);
      }
    } catch (error) {
      report.state = 'failed';
      report.lastError = errorMessage(error);
    }
    reports.push(report);
    run.finished++;
    progress(run, `study ${studyInstanceUid}: counted`);
  }
  const { source, destination, options } = run.request;
  if (options.method === 'auto' && reports.some((report) => report.plannedMethod === 'move')) {
    // Only a C-MOVE shows whether the source accepts the destination's AE title as a move destination, and a dry run sends none.
    addReportNote(
      run,
      `"would move" is not checked: the run tries a C-MOVE from ${source.name} to ${destination.name} and relays through the local archive ` +
        `when ${source.name} rejects it, for example because it does not know ${destination.name} as a move destination`,
    );
  }
  return reports;
}

/**
 * Runs or resumes the migration job: selects the studies on the source, adds
 * new ones to the job as pending, migrates every study that is pending,
 * running (left by a killed run) or failed, and at the end counts every
 * finished study on the destination again. Studies that are done or already
 * present are not transferred again. Throws JobStoreError when the
 * selection is all studies together with filters.
 */
export async function runMigration(request: MigrationRequest): Promise<MigrationReport> {
  const run: RunContext = {
    request,
    limiter: new NodeLimiter(request.options.concurrency),
    retrieveLock: new NodeLimiter(1),
    notes: [],
    undatedNotListed: false,
    processed: new Set(),
    finished: 0,
    total: 0,
    decompressed: { count: 0, storedSyntaxes: [], acceptedSyntaxes: [] },
  };
  checkSelection(request.selection);
  if (request.anonymize !== undefined && request.destination.kind !== 'node') {
    throw new MigrationError('anonymization needs a node as destination: the local archive keeps the original instances', false);
  }
  // Claimed before the source is searched, so a second run of the job fails at once.
  const ownClaim = request.dryRun || request.claim !== undefined ? undefined : request.store.claimJob(request.jobId);
  run.claim = request.claim ?? ownClaim;
  try {
    return await runJob(run);
  } finally {
    run.transform?.close();
    ownClaim?.release();
  }
}

/**
 * Returns the hex digits of the pseudonyms a job has recorded, so that a job started before pseudonyms
 * got HASH_PSEUDONYM_HEX_DIGITS digits keeps giving its patients the shorter ones, or undefined for the default.
 */
function recordedPseudonymHexDigits(store: JobStore, jobId: string, prefix: string): number | undefined {
  const [first] = store.listPseudonyms(jobId).values();
  if (first === undefined || !first.patientId.startsWith(prefix)) return undefined;
  const digits = first.patientId.length - prefix.length;
  return digits === LEGACY_HASH_PSEUDONYM_HEX_DIGITS ? digits : undefined;
}

/** Creates the anonymizer of the run with the job's secret: the given one, the stored one, or a new one for a new job or a dry run. */
function startAnonymizer(run: RunContext): Buffer | undefined {
  const { anonymize, store, jobId } = run.request;
  if (anonymize === undefined) return undefined;
  const secret = anonymize.jobSecret ?? store.getJobSecret(jobId) ?? generateJobSecret();
  run.transform = new AnonymizingTransform({
    ...anonymize.options,
    pseudonymHexDigits: recordedPseudonymHexDigits(store, jobId, anonymize.options.pseudonymPrefix ?? 'ANON'),
    jobSecret: secret,
    tempDir: anonymize.tempDir,
    onPseudonym: run.request.dryRun ? undefined : (entry) => store.recordPseudonym(jobId, entry.patientKeyHash, entry.patientName, entry.patientId),
  });
  if (run.request.source.kind === 'node') run.moveUnavailable = 'instances are anonymized before sending';
  return secret;
}

/** Returns the origin of the job's secret: the recorded one for a job that exists, otherwise the one `anonymize` gives. */
export function jobSecretSource(anonymize: MigrationAnonymization | undefined, store: JobStore, jobId: string): JobSecretSource | 'recorded' | undefined {
  if (anonymize === undefined) return undefined;
  if (store.getJobSecret(jobId) !== undefined) return store.getJobSecretSource(jobId) ?? 'recorded';
  return anonymize.secretSource ?? (anonymize.jobSecret ? 'job-secret-file' : 'one-off');
}

async function runJob(run: RunContext): Promise<MigrationReport> {
  const request = run.request;
  const { source, destination, store, jobId, options } = request;
  const secretSource = jobSecretSource(request.anonymize, store, jobId);
  const secret = startAnonymizer(run);

  const chosen = request.studyInstanceUids === undefined ? undefined : new Set(request.studyInstanceUids);
  let selected: string[];
  if (request.studyInstanceUids !== undefined) {
    selected = [...new Set(request.studyInstanceUids)];
  } else {
    progress(run, `selecting studies on ${source.name}`);
    selected = await selectStudies(source, request.local, request.selection, {
      signal: request.signal,
      onNotice: (notice) => {
        if (notice.kind === 'undated-not-listed') run.undatedNotListed = true;
        notify(run, notice.message);
      },
    });
  }
  const inThisRun = (study: StudyRecord) => chosen === undefined || chosen.has(study.studyInstanceUid);
  const base = { jobId, source: source.name, destination: destination.name, notes: run.notes, secretSource };

  if (request.dryRun) {
    run.total = selected.length;
    const studies = await dryRun(run, selected);
    const summary = summarize(studies);
    // Pending studies are the ones a real run would transfer, so only failures count against a dry run.
    let outcome: MigrationOutcome = run.undatedNotListed ? 'partial' : 'success';
    if (summary.failed > 0) outcome = summary.failed === studies.length ? 'failure' : 'partial';
    return { ...base, dryRun: true, studies, summary, outcome, heldBack: [], pseudonymizedPatients: 0 };
  }

  // openJob records secretSource only for a new job, and a job that exists has a recorded origin or none.
  const anonymization =
    request.anonymize && secret ? { settings: { ...request.anonymize.options }, secret, secretSource: secretSource === 'recorded' ? undefined : secretSource } : undefined;
  store.openJob(jobId, source.name, destination.name, request.selection, options, anonymization);
  if (chosen === undefined) store.addStudies(jobId, selected);
  else store.requeueStudies(jobId, selected);
  const todo = store
    .listStudies(jobId)
    .filter(inThisRun)
    .filter((study) => study.state === 'pending' || study.state === 'running' || study.state === 'failed');
  // This run owns the job, so a study in state running was left by a run that stopped.
  const leftRunning = todo.filter((study) => study.state === 'running').length;
  if (leftRunning > 0) {
    const stopped = run.claim?.stoppedOwner;
    const by = stopped === undefined ? 'an interrupted run' : `an interrupted run (loader process ${stopped.pid}, which has stopped)`;
    notify(run, `${leftRunning === 1 ? '1 study was' : `${leftRunning} studies were`} left running by ${by}; migrating ${leftRunning === 1 ? 'it' : 'them'} again`);
  }
  run.total = todo.length;
  logger.info('Migration started', {
    job: jobId,
    source: source.name,
    destination: destination.name,
    selected: selected.length,
    todo: todo.length,
    method: options.method,
    concurrency: options.concurrency,
    anonymize: run.transform !== undefined,
  });

  const queue = todo.map((study) => study.studyInstanceUid);
  const worker = async () => {
    while (queue.length > 0 && !request.signal?.aborted) await migrateStudy(run, queue.shift()!);
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, queue.length) }, worker));
  // Studies of this run are counted once more too: a destination may delete them while later ones arrive,
  // as Orthanc does when it recycles its oldest patients to stay within MaximumStorageSize or MaximumPatientCount.
  // NOTE: this repeats the IMAGE level C-FIND of every study the run finished.
  await verifyFinishedStudies(run, (study) => chosen === undefined || run.processed.has(study.studyInstanceUid));
  if (run.decompressed.count > 0) addReportNote(run, describeDecompressed(run));

  const studies: StudyReport[] = store.listStudies(jobId).filter(inThisRun).map((study) => ({ ...study, processedThisRun: run.processed.has(study.studyInstanceUid) }));
  const summary = summarize(studies);
  const heldBack = listHeldBack(run, studies);
  let outcome = outcomeOf(studies, heldBack);
  // Studies the source could not list are not migrated, so a run that missed them does not count as complete.
  if (run.undatedNotListed && outcome === 'success') outcome = 'partial';
  const jobState: JobState = request.signal?.aborted ? 'interrupted' : outcome === 'success' ? 'done' : outcome === 'partial' ? 'partial' : 'failed';
  store.setJobState(jobId, jobState);
  logger.info('Migration finished', { job: jobId, state: jobState, ...summary, heldBack: heldBack.length });
  const pseudonymizedPatients = run.transform ? store.listPseudonyms(jobId).size : 0;
  return { ...base, dryRun: false, studies, summary, outcome, heldBack, pseudonymizedPatients };
}
