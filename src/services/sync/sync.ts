/**
 * Synchronization of two endpoints: compare them over a selection, then copy
 * what either end lacks through the migration job engine, one job per
 * direction, so transfers get the engine's retries, verification and
 * persisted state. Studies under different Patient IDs on the two ends are
 * reported as conflicts and never transferred.
 *
 * An anonymizing sync copies from A to B only. Its comparison looks up each
 * study of A on B under the anonymized Study Instance UID, which follows
 * from the job secret, and compares instance counts.
 */
import { createHash } from 'node:crypto';

import type { LocalArchive } from '../archive';
import { createLogger } from '../logger';
import { UidMapper } from '../../dicom/anonymizer/job-keys';
import { canonicalSelection, checkSelection, generateJobSecret, jobSecretSource, runMigration, validateJobName } from '../migration';
import type { BackoffOptions, Endpoint, JobClaim, JobOptions, JobSelection, JobStore, MigrationAnonymization, MigrationOutcome, MigrationReport } from '../migration';
import type { LocalIdentity, QueryNotice } from '../query-retrieve';
import { compareAnonymized, compareEndpoints } from './compare';
import type { SyncComparison } from './compare';

const logger = createLogger('loader.sync');

export type SyncDirection = 'a-to-b' | 'b-to-a' | 'both';

export const SYNC_DIRECTIONS: readonly SyncDirection[] = ['a-to-b', 'b-to-a', 'both'];

export interface SyncRequest {
  a: Endpoint;
  b: Endpoint;
  selection: JobSelection;
  direction: SyncDirection;
  /** Compare and print the plan only: nothing is transferred or recorded. */
  dryRun?: boolean;
  /** Base of the job names, given with --job; default: derived from the ends and the selection. */
  jobName?: string;
  options: JobOptions;
  local: LocalIdentity;
  archive: LocalArchive;
  store: JobStore;
  /** Anonymize what goes from A to B; the direction must then be a-to-b. */
  anonymize?: MigrationAnonymization;
  backoff?: BackoffOptions;
  signal?: AbortSignal;
  onProgress?: (detail: string) => void;
  onNotice?: (message: string) => void;
}

/** The transfer of one direction: the studies the comparison found lacking on the destination, and the job's report. */
export interface SyncTransfer {
  direction: 'a-to-b' | 'b-to-a';
  jobId: string;
  source: string;
  destination: string;
  /** Studies to copy: those only on the source and those on both where the destination lacks instances. */
  studyInstanceUids: string[];
  /** Instances the destination lacks, from the comparison; studies whose count the source does not report add nothing. */
  missingInstances: number;
  /** Studies only on the source whose instance count the source does not report, so `missingInstances` leaves them out. */
  uncountedStudies: number;
  /** Absent in a dry run and when there is nothing to copy. */
  report?: MigrationReport;
}

/** 'nothing-to-do': both ends contain the same studies with the same instance counts. A run that finds a conflict is 'partial' or 'failure'. */
export type SyncOutcome = MigrationOutcome | 'nothing-to-do';

export interface SyncReport {
  a: string;
  b: string;
  direction: SyncDirection;
  dryRun: boolean;
  comparison: SyncComparison;
  transfers: SyncTransfer[];
  summary: {
    /** Studies copied in this run, in either direction. */
    transferred: number;
    /** Studies a job found complete on the destination when it checked again. */
    alreadyPresent: number;
    failed: number;
    pending: number;
    conflicts: number;
  };
  /**
   * Outcome of the run. A conflict leaves a study different on the two ends,
   * so it turns 'success' and 'nothing-to-do' into 'partial', which matches
   * exit code 3. Instances held back by --anonymize make a run 'partial' as
   * well, or 'failure' when no study reached the destination. A dry run
   * counts planned transfers as 'success'. An end that could not list its
   * studies without Study Date (undatedNotListed) turns 'success' and
   * 'nothing-to-do' into 'partial' too, because such studies were not compared.
   */
  outcome: SyncOutcome;
  /** True when the study search on A or B was split by Study Date, so studies without Study Date were not compared. */
  undatedNotListed: boolean;
  /** Origin of the secret of the anonymizing job from A to B (see MigrationReport.secretSource); undefined without --anonymize. */
  secretSource?: MigrationReport['secretSource'];
  notes: string[];
}

/**
 * Returns the job id of one direction: `<job>-a-to-b` with --job, otherwise
 * derived from both ends and the selection, so the same command reuses the
 * same jobs. A selection of all studies gets ids of its own, apart from the
 * ids of a sync without filters. Throws JobStoreError when the result is not a valid job name.
 */
export function syncJobId(a: string, b: string, selection: JobSelection, direction: 'a-to-b' | 'b-to-a', jobName?: string, anonymized = false): string {
  if (jobName !== undefined) return validateJobName(`${jobName}-${direction}`);
  const parts: unknown[] = [a.toLowerCase(), b.toLowerCase(), canonicalSelection(selection)];
  if (anonymized) parts.push('anonymized');
  const key = JSON.stringify(parts);
  return `sync-${createHash('sha256').update(key).digest('hex').slice(0, 12)}-${direction}`;
}

/** Lists what one direction copies, from the comparison. */
function planTransfer(request: SyncRequest, comparison: SyncComparison, direction: 'a-to-b' | 'b-to-a'): SyncTransfer {
  const toB = direction === 'a-to-b';
  const onlyOnSource = toB ? comparison.missingOnB : comparison.missingOnA;
  const partial = comparison.mismatched.filter((study) => (toB ? study.missingOnB : study.missingOnA) > 0);
  const source = toB ? request.a : request.b;
  const destination = toB ? request.b : request.a;
  return {
    direction,
    jobId: syncJobId(request.a.name, request.b.name, request.selection, direction, request.jobName, request.anonymize !== undefined),
    source: source.name,
    destination: destination.name,
    studyInstanceUids: [...onlyOnSource.map((study) => study.studyInstanceUid), ...partial.map((study) => study.studyInstanceUid)],
    missingInstances:
      onlyOnSource.reduce((sum, study) => sum + (study.instances ?? 0), 0) + partial.reduce((sum, study) => sum + (toB ? study.missingOnB : study.missingOnA), 0),
    uncountedStudies: onlyOnSource.filter((study) => study.instances === undefined).length,
  };
}

function summarize(comparison: SyncComparison, transfers: SyncTransfer[]): SyncReport['summary'] {
  const summary = { transferred: 0, alreadyPresent: 0, failed: 0, pending: 0, conflicts: comparison.conflicts.length };
  for (const transfer of transfers) {
    if (!transfer.report) continue;
    summary.transferred += transfer.report.summary.migrated;
    summary.alreadyPresent += transfer.report.summary.alreadyPresent;
    summary.failed += transfer.report.summary.failed;
    summary.pending += transfer.report.summary.pending;
  }
  return summary;
}

function outcomeOf(transfers: SyncTransfer[], summary: SyncReport['summary'], dryRun: boolean, undatedNotListed: boolean): SyncOutcome {
  const transferOutcome = transferOutcomeOf(transfers, summary, dryRun);
  if ((summary.conflicts > 0 || undatedNotListed) && transferOutcome !== 'failure') return 'partial';
  return transferOutcome;
}

/**
 * Classifies the transfers. Instances held back by the anonymizer make a run
 * partial, as failed studies do, and a run whose every migration report is a
 * failure is a failure.
 */
function transferOutcomeOf(transfers: SyncTransfer[], summary: SyncReport['summary'], dryRun: boolean): SyncOutcome {
  if (transfers.every((transfer) => transfer.studyInstanceUids.length === 0)) return 'nothing-to-do';
  if (dryRun) return 'success';
  const heldBack = transfers.some((transfer) => (transfer.report?.heldBack.length ?? 0) > 0);
  if (summary.failed === 0 && summary.pending === 0 && !heldBack) return 'success';
  const reached = transfers.some((transfer) => transfer.report !== undefined && transfer.report.outcome !== 'failure');
  return reached ? 'partial' : 'failure';
}

/**
 * Compares A and B over the selection and, unless this is a dry run, copies
 * the missing studies in the requested directions: A to B first, then B to A.
 * Only the studies the comparison lists are handed to the engine, so a run
 * with nothing new transfers nothing. Throws JobStoreError when the selection
 * is all studies together with filters, and JobRunningError when another run
 * has the job of a direction.
 */
export async function runSync(request: SyncRequest): Promise<SyncReport> {
  const { a, b, direction } = request;
  if (a.name.toLowerCase() === b.name.toLowerCase()) throw new Error(`both ends are "${a.name}": give two different ends`);
  checkSelection(request.selection);
  const claims = request.dryRun ? new Map<string, JobClaim>() : claimDirectionJobs(request);
  try {
    return await compareAndCopy(request, claims);
  } finally {
    for (const claim of claims.values()) claim.release();
  }
}

/**
 * Claims the job of each direction before the comparison, so a second sync of
 * the same ends fails at once and not after comparing them. Releases the
 * claims already taken when one fails.
 */
function claimDirectionJobs(request: SyncRequest): Map<string, JobClaim> {
  const directions: Array<'a-to-b' | 'b-to-a'> = request.direction === 'both' ? ['a-to-b', 'b-to-a'] : [request.direction];
  const claims = new Map<string, JobClaim>();
  try {
    for (const way of directions) {
      const jobId = syncJobId(request.a.name, request.b.name, request.selection, way, request.jobName, request.anonymize !== undefined);
      claims.set(jobId, request.store.claimJob(jobId));
    }
  } catch (error) {
    for (const claim of claims.values()) claim.release();
    throw error;
  }
  return claims;
}

async function compareAndCopy(request: SyncRequest, claims: Map<string, JobClaim>): Promise<SyncReport> {
  const { a, b, direction } = request;
  const notes: string[] = [];
  const notice = (message: string) => {
    notes.push(message);
    request.onNotice?.(message);
  };

  let anonymize = request.anonymize;
  let secretSource: SyncReport['secretSource'];
  if (anonymize !== undefined && direction !== 'a-to-b') throw new Error(`an anonymizing sync copies from A to B only: give --direction a-to-b, not ${direction}`);
  if (anonymize !== undefined) {
    // The comparison needs the anonymized UIDs before the job runs, so the secret is settled here and handed to the job.
    const jobId = syncJobId(a.name, b.name, request.selection, 'a-to-b', request.jobName, true);
    const recorded = request.store.getJobSecret(jobId);
    if (anonymize.jobSecret === undefined && recorded !== undefined) anonymize = { ...anonymize, jobSecret: recorded };
    else if (anonymize.jobSecret === undefined) anonymize = { ...anonymize, jobSecret: generateJobSecret(), secretSource: 'one-off' };
    secretSource = jobSecretSource(anonymize, request.store, jobId);
  }

  const started = Date.now();
  let undatedNotListed = false;
  const onQueryNotice = (queryNotice: QueryNotice) => {
    if (queryNotice.kind === 'undated-not-listed') undatedNotListed = true;
    notice(queryNotice.message);
  };
  const compareOptions = { signal: request.signal, onNotice: onQueryNotice, onProgress: request.onProgress };
  const comparison = anonymize?.jobSecret
    ? await compareAnonymized(a, b, request.local, request.selection, new UidMapper(anonymize.jobSecret), compareOptions)
    : await compareEndpoints(a, b, request.local, request.selection, compareOptions);
  // Patient IDs stay out of the log; the report returned to the caller contains them.
  for (const conflict of comparison.conflicts) {
    logger.warn('Study has different Patient IDs on the two ends; not transferred', { study: conflict.studyInstanceUid, a: a.name, b: b.name });
  }

  const directions: Array<'a-to-b' | 'b-to-a'> = direction === 'both' ? ['a-to-b', 'b-to-a'] : [direction];
  const transfers = directions.map((way) => planTransfer(request, comparison, way));

  if (!request.dryRun) {
    for (const transfer of transfers) {
      if (transfer.studyInstanceUids.length === 0 || request.signal?.aborted) continue;
      const toB = transfer.direction === 'a-to-b';
      transfer.report = await runMigration({
        jobId: transfer.jobId,
        source: toB ? a : b,
        destination: toB ? b : a,
        selection: request.selection,
        studyInstanceUids: transfer.studyInstanceUids,
        options: request.options,
        local: request.local,
        archive: request.archive,
        store: request.store,
        claim: claims.get(transfer.jobId),
        anonymize,
        backoff: request.backoff,
        signal: request.signal,
        onProgress: (progress) => request.onProgress?.(`${transfer.source} to ${transfer.destination}: ${progress.finished} of ${progress.total} studies; ${progress.detail}`),
        onNotice: notice,
      });
    }
  }

  const summary = summarize(comparison, transfers);
  const outcome = outcomeOf(transfers, summary, request.dryRun === true, undatedNotListed);
  logger.info('Sync finished', {
    a: a.name,
    b: b.name,
    direction,
    dryRun: request.dryRun === true,
    studiesOnA: comparison.studiesOnA,
    studiesOnB: comparison.studiesOnB,
    missingOnA: comparison.missingOnA.length,
    missingOnB: comparison.missingOnB.length,
    mismatched: comparison.mismatched.length,
    ...summary,
    outcome,
    undatedNotListed,
    durationMs: Date.now() - started,
  });
  return { a: a.name, b: b.name, direction, dryRun: request.dryRun === true, comparison, transfers, summary, outcome, undatedNotListed, secretSource, notes };
}
