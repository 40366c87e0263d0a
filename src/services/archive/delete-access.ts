/**
 * Deletion through an archive opened with access 'delete', the path of both
 * `loader delete` and the window's Delete. That access also opens an archive
 * whose disk is full, because it removes the space reserve first
 * (space-reserve.ts), and deleting studies is how a technician frees space.
 */
import { LocalArchive, type OpenArchiveOptions } from './archive';
import type { DeletionPlan, DeletionReport } from './deletion';

/** Options of openArchiveForDeletion: those of LocalArchive.open, whose access is always 'delete'. */
export type DeletionOpenOptions = Omit<OpenArchiveOptions, 'access'>;

/**
 * Opens the archive at `root` with access 'delete'. The caller closes it,
 * and close() creates the space reserve again where there is room.
 *
 * @throws ReadOnlyArchiveError when this process may not write to the
 *   archive, or its disk is full and it has no space reserve to remove.
 */
export function openArchiveForDeletion(root: string, options: DeletionOpenOptions = {}): LocalArchive {
  return LocalArchive.open(root, { ...options, access: 'delete' });
}

/**
 * Deletes the studies and series of `plan` from the archive at `root` through
 * an archive opened with access 'delete' for this deletion only, then closes
 * it. Another open archive on the same root may have made `plan`, such as the
 * window's read-only archive on a full disk, because deleteStudies selects
 * the index rows again by UID.
 */
export async function deleteStudiesWithDeleteAccess(root: string, plan: DeletionPlan, options: DeletionOpenOptions = {}): Promise<DeletionReport> {
  const archive = openArchiveForDeletion(root, options);
  try {
    return await archive.deleteStudies(plan);
  } finally {
    archive.close();
  }
}
