/**
 * Small tmpfs mounts for tests of a full archive disk. Mounting needs root
 * (CAP_SYS_ADMIN), so callers skip their tests when the mount fails.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

/** Mounts a tmpfs of `sizeMiB` MiB on the empty folder `mountPoint`; returns the reason when the mount fails. */
export function mountSmallTmpfs(mountPoint: string, sizeMiB: number): { mountPoint?: string; failure?: string } {
  const result = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=700`, 'tmpfs', mountPoint], { encoding: 'utf8' });
  if (result.status === 0) return { mountPoint };
  return { failure: `mount -t tmpfs failed (${(result.stderr || result.error?.message || `exit ${result.status}`).trim()})` };
}

/** Appends zeros to `filler` until its file system has no space left, then frees `leaveBytes` of them again. */
export function fillFileSystem(filler: string, leaveBytes = 0): void {
  const chunk = Buffer.alloc(16 * 1024);
  const fd = fs.openSync(filler, 'a');
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    fs.closeSync(fd);
  }
  if (leaveBytes > 0) fs.truncateSync(filler, Math.max(0, fs.statSync(filler).size - leaveBytes));
}
