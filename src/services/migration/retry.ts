/**
 * Transient and permanent failures of a study migration, and the back-off
 * between attempts.
 */
import { AssociationClosedError, AssociationRejectedError, DimseStatusError } from '../../dicom/network';
import type { TransferMethod } from './job-store';
import type { StudyPatientConflict } from './patient-check';

/** A failure with a known kind; `transient` failures are retried. */
export class MigrationError extends Error {
  override readonly name = 'MigrationError';
  constructor(
    message: string,
    readonly transient: boolean,
  ) {
    super(message);
  }
}

/**
 * A transfer that ended with success, after which the destination lacked
 * instances. It is transient: dcmqrscp lost one of two concurrent C-MOVEs
 * into it that way, and an archive that indexes stored instances in the
 * background lists them only later. `method` is the transfer method that ran.
 */
export class VerificationError extends MigrationError {
  constructor(
    message: string,
    readonly method: TransferMethod,
  ) {
    super(message, true);
  }
}

/** A transfer stopped because the run was cancelled. The message starts with "cancelled" and states how far the transfer got. */
export class CancelledError extends MigrationError {
  constructor(message: string) {
    super(message, false);
  }
}

/**
 * A study that the source and the destination store under different Patient
 * IDs. It is permanent, so a later run fails the study again until one end is
 * corrected. The message names both Patient IDs for the report, and
 * `logMessage` leaves them out of the log.
 */
export class PatientConflictError extends MigrationError {
  readonly logMessage = 'Patient ID conflict: the destination stores the study under another Patient ID; nothing was sent';

  constructor(
    message: string,
    readonly conflict: StudyPatientConflict,
  ) {
    super(message, false);
  }
}

/**
 * A study that the source stores under more than one Patient ID, so a copy
 * would split it on the destination too. It is permanent until the source is
 * corrected. The message names the Patient IDs for the report, and
 * `logMessage` leaves them out of the log.
 */
export class SourcePatientSplitError extends MigrationError {
  readonly logMessage = 'Patient ID conflict: the source stores the study under more than one Patient ID; nothing was sent';

  constructor(
    message: string,
    /** Number of instances under each Patient ID on the source. */
    readonly instancesPerPatientId: Map<string, number>,
  ) {
    super(message, false);
  }
}

/** Text of failures that a later attempt may not have: out of resources, transient rejection, timeouts, refused or reset connections. */
const TRANSIENT_TEXT = /0xA7[0-9A-F]{2}|rejected transiently|timed out|ECONNREFUSED|ECONNRESET|EPIPE|EHOSTUNREACH|ENETUNREACH|Failed to connect|connection closed|connection-closed/i;

/** True for a DIMSE status in the A7xx "out of resources" range (PS3.4 annex C), such as A702 for C-MOVE. */
export function isOutOfResourcesStatus(status: number): boolean {
  return (status & 0xff00) === 0xa700;
}

/**
 * Classifies an error: out of resources (A7xx), transient association
 * rejection (result 2), timeouts, refused, reset or lost connections are
 * transient. Everything else is permanent.
 */
export function isTransientError(error: unknown): boolean {
  if (error instanceof MigrationError) return error.transient;
  if (error instanceof AssociationRejectedError) return error.result === 2;
  if (error instanceof DimseStatusError) return isOutOfResourcesStatus(error.status);
  if (error instanceof AssociationClosedError) return error.reason === 'timeout' || error.reason === 'connection-closed' || error.reason === 'peer-aborted';
  return TRANSIENT_TEXT.test(error instanceof Error ? error.message : String(error));
}

/** True when a reason given as text (a report note or failure reason) describes a transient failure. */
export function isTransientText(text: string): boolean {
  return TRANSIENT_TEXT.test(text);
}

export interface BackoffOptions {
  /** Delay before the first retry, in milliseconds. */
  baseDelayMs: number;
  /** Upper bound of one delay, in milliseconds. */
  maxDelayMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseDelayMs: 1_000, maxDelayMs: 60_000 };

/** Returns the delay before retry number `retry` (1 for the first): base × 2^(retry−1), capped at the maximum. */
export function backoffDelay(retry: number, options: BackoffOptions = DEFAULT_BACKOFF): number {
  return Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** Math.max(0, retry - 1));
}

/** Waits `ms` milliseconds; resolves early when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
