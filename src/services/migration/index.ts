/** Migration of studies between DICOM nodes and the local archive, as resumable jobs. */

export * from './endpoints';
export * from './job-store';
export * from './migrate';
export { NodeLimiter } from './node-limiter';
export { findPatientConflict, listStudyPatientIds, patientIdsDiffer } from './patient-check';
export type { StudyPatientConflict } from './patient-check';
export { backoffDelay, DEFAULT_BACKOFF, isTransientError, MigrationError, PatientConflictError, SourcePatientSplitError } from './retry';
export type { BackoffOptions } from './retry';
export { moveStudyDirect, MoveUnavailableError } from './transfer';
export type { HeldBackInstance } from './transfer';
export type { InstanceTransform, TransformResult } from '../transfers';
