/** DICOM PS3.15 annex E anonymizer: see job.ts. */
export {
  BUILT_IN_SAFE_PRIVATE_CREATORS,
  createAnonymizationJob,
  DicomdirNotAnonymizedError,
  OutputExistsError,
} from './job';
export { holdBackReason } from './hold-back';
export type { AnonymizationJob, AnonymizeFileOptions, AnonymizationOptions, AnonymizationReport, HeldBackInstance, InstanceResult, NewUids, WrittenPatient } from './job';
export type { DateMode } from './profile';
export type { Pseudonym, PseudonymScheme } from './job-keys';
export { AnonymizationError } from './rules';
export { MAX_HEADER_BYTES } from './part10';
