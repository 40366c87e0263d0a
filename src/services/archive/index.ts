/** Public API of the local archive. */

export { LocalArchive, toArchiveError, type ImportOptions, type OpenArchiveOptions, type ReceiveRequest } from './archive';
export type {
  InstanceFilter,
  StoredInstance,
  StudyConflict,
  StudySummary,
} from './catalog';
export { conflictingUid } from './catalog';
export type { DeletedStudy, DeletionFailure, DeletionPlan, DeletionReport, DeletionSelection, KeptCopy, SeriesToDelete, StudyToDelete } from './deletion';
export { deleteStudiesWithDeleteAccess, openArchiveForDeletion, type DeletionOpenOptions } from './delete-access';
export { ArchiveError, QueryError, type ArchiveErrorCode, type QueryErrorCode } from './errors';
export { relativeInstancePath, CONFLICTS_FOLDER, INCOMING_FOLDER, INDEX_FILE, TRASH_FOLDER } from './layout';
export type { StoreOutcome, StoreOutcomeKind } from './placement';
export { QueryEngine, type QueryKey, type QueryLevel, type QueryOptions, type StudySearchFilters } from './query';
export { reindexArchive, type ReindexOptions, type ReindexReport } from './reindex';
export { scanPaths, type FileProblem, type ScanOptions, type ScanProgress, type ScanReport } from './scan';
export { SCHEMA_VERSION, openIndexDatabase } from './schema';
