/**
 * File system steps of storing an instance: durable writes, no-clobber
 * placement and comparison of data set bytes.
 */

import fs from 'node:fs';
import fsp from 'node:fs/promises';

const COMPARE_CHUNK_SIZE = 64 * 1024;

/** Flushes a file's data to disk. */
export async function fsyncFile(file: string): Promise<void> {
  const handle = await fsp.open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export function fsyncFileSync(file: string): void {
  const fd = fs.openSync(file, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Flushes a directory entry (after a rename or link) to disk. */
export async function fsyncDirectory(directory: string): Promise<void> {
  const handle = await fsp.open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export function fsyncDirectorySync(directory: string): void {
  const fd = fs.openSync(directory, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Returns the target that the symbolic link `link` names, as it names it, or '(unreadable)'. */
export function readLinkTarget(link: string): string {
  try {
    return fs.readlinkSync(link);
  } catch {
    return '(unreadable)';
  }
}

/** Returns true when `file` is a symbolic link itself, and false when it is anything else or cannot be examined. */
export function isSymbolicLinkSync(file: string): boolean {
  try {
    return fs.lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Deletes a file, ignoring a file that is already gone. */
export async function removeFileQuietly(file: string): Promise<void> {
  await fsp.rm(file, { force: true });
}

export function removeFileQuietlySync(file: string): void {
  fs.rmSync(file, { force: true });
}

/**
 * Moves `source` to `target` atomically unless `target` exists. Returns false
 * when `target` exists, and then leaves both files unchanged.
 *
 * A hard link fails with EEXIST instead of replacing the target, as a plain
 * rename would. On file systems without hard links this falls back to rename
 * after an existence check, which is not atomic against another process.
 */
export async function moveNoReplace(source: string, target: string): Promise<boolean> {
  try {
    await fsp.link(source, target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw error;
    if (await exists(target)) return false;
    await fsp.rename(source, target);
    return true;
  }
  await fsp.unlink(source);
  return true;
}

/** Result of linkNoReplaceSync. */
export type LinkOutcome = 'linked' | 'moved' | 'exists';

/**
 * Gives `source` the name `target` unless `target` exists, as moveNoReplace
 * does, but synchronously. Returns 'exists' when `target` exists (nothing
 * changed), 'moved' when `source` is gone, and 'linked' when `keepSource` was
 * set and both names now refer to the file. Without hard links the file is
 * renamed, so the result is then 'moved' even with `keepSource`.
 */
export function linkNoReplaceSync(source: string, target: string, options: { keepSource: boolean }): LinkOutcome {
  try {
    fs.linkSync(source, target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return 'exists';
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw error;
    if (fs.existsSync(target)) return 'exists';
    fs.renameSync(source, target);
    return 'moved';
  }
  if (options.keepSource) return 'linked';
  fs.unlinkSync(source);
  return 'moved';
}

export async function exists(file: string): Promise<boolean> {
  try {
    await fsp.access(file);
    return true;
  } catch {
    return false;
  }
}

/** A file and the byte offset where its data set starts (after the file meta information). */
export interface DatasetLocation {
  path: string;
  datasetOffset: number;
}

/** Returns true when both files contain the same bytes from their data set offsets to the end. */
export async function datasetBytesEqual(a: DatasetLocation, b: DatasetLocation): Promise<boolean> {
  const [handleA, handleB] = await Promise.all([fsp.open(a.path, 'r'), fsp.open(b.path, 'r')]);
  try {
    const [statA, statB] = await Promise.all([handleA.stat(), handleB.stat()]);
    const length = statA.size - a.datasetOffset;
    if (length !== statB.size - b.datasetOffset) return false;

    const bufferA = Buffer.alloc(COMPARE_CHUNK_SIZE);
    const bufferB = Buffer.alloc(COMPARE_CHUNK_SIZE);
    for (let done = 0; done < length; ) {
      const size = Math.min(COMPARE_CHUNK_SIZE, length - done);
      const [readA, readB] = await Promise.all([
        handleA.read(bufferA, 0, size, a.datasetOffset + done),
        handleB.read(bufferB, 0, size, b.datasetOffset + done),
      ]);
      if (readA.bytesRead !== size || readB.bytesRead !== size) return false;
      if (!bufferA.subarray(0, size).equals(bufferB.subarray(0, size))) return false;
      done += size;
    }
    return true;
  } finally {
    await Promise.all([handleA.close(), handleB.close()]);
  }
}

export function datasetBytesEqualSync(a: DatasetLocation, b: DatasetLocation): boolean {
  const fdA = fs.openSync(a.path, 'r');
  try {
    const fdB = fs.openSync(b.path, 'r');
    try {
      const length = fs.fstatSync(fdA).size - a.datasetOffset;
      if (length !== fs.fstatSync(fdB).size - b.datasetOffset) return false;

      const bufferA = Buffer.alloc(COMPARE_CHUNK_SIZE);
      const bufferB = Buffer.alloc(COMPARE_CHUNK_SIZE);
      for (let done = 0; done < length; ) {
        const size = Math.min(COMPARE_CHUNK_SIZE, length - done);
        const readA = fs.readSync(fdA, bufferA, 0, size, a.datasetOffset + done);
        const readB = fs.readSync(fdB, bufferB, 0, size, b.datasetOffset + done);
        if (readA !== size || readB !== size) return false;
        if (!bufferA.subarray(0, size).equals(bufferB.subarray(0, size))) return false;
        done += size;
      }
      return true;
    } finally {
      fs.closeSync(fdB);
    }
  } finally {
    fs.closeSync(fdA);
  }
}
