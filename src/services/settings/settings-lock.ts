/**
 * The lock file settings.json.lock, which lets one process at a time reread,
 * change and write the settings. Without it, four `loader nodes add` started
 * at once all read the file before any of them wrote it, and each write
 * dropped the nodes of the others.
 *
 * The lock file is created with O_EXCL and contains the PID and the tag of the
 * process that holds it. A lock whose process no longer runs was left by a
 * crash, and the next process that wants the lock removes it.
 *
 * NOTE: a process is recognized by its ID on this machine, so a lock taken in
 * another PID namespace (another container or machine that shares the
 * settings folder) counts as stale and is removed.
 */
import fs from 'node:fs';
import path from 'node:path';

import { isRunningProcess, PROCESS_TAG } from '../archive/archive-users';
import { createLogger } from '../logger';
import { makePrivateFolder, PRIVATE_FILE_MODE } from '../private-files';

const log = createLogger('loader.settings');

/** Default maximum wait in milliseconds for a lock that another process holds. */
export const SETTINGS_LOCK_TIMEOUT_MS = 10_000;

/** First and maximum pause in milliseconds between two attempts to take the lock. */
const FIRST_RETRY_DELAY_MS = 5;
const MAX_RETRY_DELAY_MS = 200;

/**
 * Age in milliseconds after which a lock file without a PID is stale. The
 * holder writes its PID right after creating the file, so only a process that
 * stopped between the two steps leaves such a file.
 */
const UNREADABLE_LOCK_MAX_AGE_MS = 5_000;

const LOCK_CONTENT = /^(?<pid>\d+) (?<tag>[0-9a-f]+)\n?$/;

/** Raised when another process holds the settings lock for longer than the timeout. */
export class SettingsLockTimeoutError extends Error {
  constructor(
    readonly lockPath: string,
    readonly holderPid: number | undefined,
    timeoutMs: number,
  ) {
    const holder = holderPid === undefined ? 'a process that wrote no PID into it' : `process ${holderPid}`;
    const fix =
      holderPid === undefined
        ? 'try again, and remove the lock file if it stays'
        : `wait for that process to finish and try again, or remove the lock file if process ${holderPid} is not a loader`;
    super(
      `settings were not changed: timed out after ${timeoutMs / 1000} s waiting for the lock file ${lockPath}, ` +
        `which ${holder} holds; ${fix}`,
    );
    this.name = 'SettingsLockTimeoutError';
  }
}

/** Returns the path of the lock file of a settings file: the same path with `.lock` appended. */
export function settingsLockPath(settingsPath: string): string {
  return `${settingsPath}.lock`;
}

/**
 * Runs `action` while this process holds the lock file `lockPath`, and
 * removes the lock file afterwards, also when `action` throws.
 *
 * @throws SettingsLockTimeoutError when another running process holds the lock for more than `timeoutMs`.
 */
export function withSettingsLock<T>(lockPath: string, timeoutMs: number, action: () => T): T {
  const content = acquireLock(lockPath, timeoutMs);
  try {
    return action();
  } finally {
    releaseLock(lockPath, content);
  }
}

/** Creates the lock file, waiting while a running process holds it, and returns the content written. */
function acquireLock(lockPath: string, timeoutMs: number): string {
  const content = `${process.pid} ${PROCESS_TAG}\n`;
  const deadline = Date.now() + timeoutMs;
  let delayMs = FIRST_RETRY_DELAY_MS;
  for (;;) {
    if (tryCreateLock(lockPath, content)) return content;

    const holder = readLock(lockPath);
    // The holder released the lock after the create failed, so the next attempt may take it.
    if (holder === undefined) continue;
    if (isStale(holder)) {
      removeStaleLock(lockPath, holder);
      continue;
    }

    const remainingMs = deadline - Date.now();
    if (remainingMs <= 0) throw new SettingsLockTimeoutError(lockPath, holder.pid, timeoutMs);
    // Blocks this thread, because the settings store and its callers are synchronous.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.min(delayMs, remainingMs));
    delayMs = Math.min(delayMs * 2, MAX_RETRY_DELAY_MS);
  }
}

/** Creates the lock file with this process's PID; returns false when it exists. */
function tryCreateLock(lockPath: string, content: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(lockPath, 'wx', PRIVATE_FILE_MODE);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'ENOENT') throw error;
    // The settings folder was removed since the store opened it, and writing the settings creates it again.
    makePrivateFolder(path.dirname(lockPath));
    return false;
  }
  try {
    fs.writeSync(fd, content);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

/** A lock file as read: its content, and the PID and tag of its holder when the content has them. */
interface LockHolder {
  content: string;
  modifiedMs: number;
  pid?: number;
  tag?: string;
}

/** Reads the lock file; returns undefined when it does not exist. */
function readLock(lockPath: string): LockHolder | undefined {
  let content: string;
  let modifiedMs: number;
  try {
    content = fs.readFileSync(lockPath, 'utf8');
    modifiedMs = fs.statSync(lockPath).mtimeMs;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const match = LOCK_CONTENT.exec(content)?.groups;
  if (!match) return { content, modifiedMs };
  return { content, modifiedMs, pid: Number(match.pid), tag: match.tag };
}

function isStale(holder: LockHolder): boolean {
  if (holder.pid === undefined || holder.tag === undefined) {
    return Date.now() - holder.modifiedMs > UNREADABLE_LOCK_MAX_AGE_MS;
  }
  return !isRunningProcess(holder.pid, holder.tag);
}

/**
 * Removes a stale lock file. It is renamed aside first and compared with what
 * was read, because another process may have removed the same stale lock and
 * taken a new one since. A new lock found that way is put back.
 *
 * NOTE: when a third process takes the lock between the rename and putting it
 * back, the put-back fails and two processes hold the lock. That needs three
 * processes that change the settings at once just after a crash.
 */
function removeStaleLock(lockPath: string, stale: LockHolder): void {
  const aside = `${lockPath}.stale-${process.pid}-${PROCESS_TAG}`;
  try {
    fs.renameSync(lockPath, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }

  try {
    const moved = fs.readFileSync(aside, 'utf8');
    if (moved === stale.content) {
      log.warn('removed a stale settings lock', { file: lockPath, pid: stale.pid ?? 'none' });
      return;
    }
    try {
      fs.linkSync(aside, lockPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      log.warn('failed to put back a settings lock that another process took while a stale one was removed', { file: lockPath });
    }
  } finally {
    fs.rmSync(aside, { force: true });
  }
}

/** Removes the lock file when it is still the one this process created. */
function releaseLock(lockPath: string, content: string): void {
  const holder = readLock(lockPath);
  if (holder?.content === content) {
    fs.rmSync(lockPath, { force: true });
    return;
  }
  log.warn('settings lock was removed by another process while this process held it', { file: lockPath });
}
