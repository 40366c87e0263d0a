/**
 * Markers of the processes that use an archive. Each process that opens an
 * archive keeps a marker file <root>/.processes/open.<pid>.<tag> until it
 * closes it, and `loader reindex` keeps reindex.<pid>.<tag> while it
 * rebuilds the index.
 * Reindex replaces the index file, and a process that has the old file open
 * would go on writing rows into a deleted database. So reindex refuses to
 * start while another process has the archive open, and opening an archive
 * fails while a reindex runs.
 *
 * A marker contains the command of its process, such as "loader scan", so a
 * refusal can name it. Markers of older versions are empty.
 *
 * A marker whose process no longer runs is left by a crash and is deleted
 * when it is found.
 *
 * NOTE: a process is recognized by its ID on this machine, so processes in
 * another PID namespace (another container or machine sharing the archive
 * folder) count as stopped. One archive must be used from one machine.
 */

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { FILE_MODE, FOLDER_MODE, processesFolder } from './layout';
import { diskFullReason, ReadOnlyArchiveError, writeDenialReason } from './read-only';

/** Random tag of this process, drawn once, that distinguishes it from an earlier process with the same ID. */
export const PROCESS_TAG = randomBytes(6).toString('hex');

export type ArchiveUse = 'open' | 'reindex';

/** A running process that uses an archive. */
export interface ArchiveUser {
  pid: number;
  /** The loader command the process runs, such as "loader serve"; undefined for markers of older versions. */
  command?: string;
}

/** Options of the loader CLI that take a value before the command name. */
const GLOBAL_OPTIONS_WITH_VALUE = new Set(['--archive', '--config-dir']);

const MARKER_NAME = /^(?<use>open|reindex)\.(?<pid>\d+)\.(?<tag>[0-9a-f]{12})$/;

/**
 * Returns true when the process `pid` runs: another process with that ID, or
 * this process when `tag` is its tag. A file with this process's ID and
 * another tag is from an earlier process that had the same ID. With
 * `startIdentity` (see processStartIdentity), another process with that ID
 * that started at another time is a later process that reuses the ID, so it
 * does not count.
 */
export function isRunningProcess(pid: number, tag: string, startIdentity?: string): boolean {
  if (pid === process.pid) return tag === PROCESS_TAG;
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (startIdentity === undefined) return true;
  const current = processStartIdentity(pid);
  return current === undefined || current === startIdentity;
}

/**
 * Returns when the process `pid` started, as "<boot id>:<start time>": the
 * kernel's boot ID and field 22 of /proc/<pid>/stat (clock ticks after boot).
 * A later process with the same ID gets another value, also after a reboot,
 * unless it starts within the same clock tick.
 * Returns undefined where /proc is missing (not Linux) or the process is gone.
 */
export function processStartIdentity(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name in field 2 is in brackets and may contain spaces, so fields are counted after its closing bracket.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const startTicks = fields[19];
    const bootId = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return startTicks === undefined ? undefined : `${bootId}:${startTicks}`;
  } catch {
    return undefined;
  }
}

/**
 * Number of uses of each marker of this process that are not released yet. One
 * process may open an archive twice, as the window does for a deletion while
 * its Local panel keeps the archive open, and the marker must stay until the
 * last use ends.
 */
const markerUses = new Map<string, number>();

/**
 * Creates this process's marker for `use`, unless this process already has
 * it, and returns a function that releases this use. The marker is removed
 * when its last use is released. A failed write removes the marker, which a
 * full file system leaves empty.
 *
 * @throws ReadOnlyArchiveError when the file system is read-only or full,
 *   or this user may not write to the .processes folder.
 */
export function markArchiveUse(root: string, use: ArchiveUse): () => void {
  const folder = processesFolder(root);
  const marker = path.join(folder, `${use}.${process.pid}.${PROCESS_TAG}`);
  const uses = markerUses.get(marker) ?? 0;
  if (uses === 0) writeMarker(root, folder, marker);
  markerUses.set(marker, uses + 1);

  let released = false;
  return () => {
    if (released) return;
    released = true;
    const remaining = (markerUses.get(marker) ?? 1) - 1;
    if (remaining > 0) {
      markerUses.set(marker, remaining);
      return;
    }
    markerUses.delete(marker);
    fs.rmSync(marker, { force: true });
  };
}

function writeMarker(root: string, folder: string, marker: string): void {
  try {
    fs.mkdirSync(folder, { recursive: true, mode: FOLDER_MODE });
    // The command line may contain a patient name (a --name filter), so the marker is for the owner only.
    fs.writeFileSync(marker, JSON.stringify({ command: commandOfThisProcess() }), { mode: FILE_MODE });
  } catch (error) {
    removeFailedMarker(marker);
    const fullReason = diskFullReason(error, root);
    if (fullReason !== undefined) throw new ReadOnlyArchiveError(root, fullReason, { cause: error, diskFull: true });
    const reason = writeDenialReason(error, folder);
    if (reason === undefined) throw error;
    throw new ReadOnlyArchiveError(root, reason, { cause: error });
  }
}

/** Removes a marker whose write failed. Removing a file needs no free space, so only a denied removal leaves it behind. */
function removeFailedMarker(marker: string): void {
  try {
    fs.rmSync(marker, { force: true });
  } catch {
    // A marker that stays behind is deleted as stale once this process has stopped (otherArchiveUserDetails).
  }
}

/**
 * Returns the IDs of other running processes that use the archive for `use`,
 * and deletes the markers of stopped processes on the way, where this
 * process may write to the archive.
 */
export function otherArchiveUsers(root: string, use: ArchiveUse): number[] {
  return otherArchiveUserDetails(root, use).map((user) => user.pid);
}

/** Returns the other running processes that use the archive for `use`, with their commands, like otherArchiveUsers. */
export function otherArchiveUserDetails(root: string, use: ArchiveUse): ArchiveUser[] {
  let names: string[];
  try {
    names = fs.readdirSync(processesFolder(root));
  } catch {
    return [];
  }

  const users: ArchiveUser[] = [];
  for (const name of names) {
    const marker = MARKER_NAME.exec(name)?.groups;
    if (!marker) continue;
    const pid = Number(marker.pid);
    const markerPath = path.join(processesFolder(root), name);
    if (!isRunningProcess(pid, marker.tag)) {
      removeStaleMarker(markerPath);
      continue;
    }
    const self = pid === process.pid && marker.tag === PROCESS_TAG;
    if (marker.use === use && !self) users.push({ pid, command: readMarkerCommand(markerPath) });
  }
  return users;
}

/**
 * Describes processes for a message, such as `another loader process (PID 5492) that runs "loader scan"`.
 * A process of an older version is named by its PID only.
 */
export function describeArchiveUsers(users: readonly ArchiveUser[]): string {
  if (users.length === 1) {
    const [user] = users;
    return `another loader process (PID ${user.pid})${user.command ? ` that runs "${user.command}"` : ''}`;
  }
  const described = users.map((user) => (user.command ? `PID ${user.pid} runs "${user.command}"` : `PID ${user.pid}`));
  return `other loader processes (${described.join(', ')})`;
}

/**
 * Returns "loader" and the command name from this process's arguments, such
 * as "loader scan". Arguments after the command name are left out because
 * they can contain paths with patient names. A process that is not the
 * loader CLI, such as a test runner, is named by its script file.
 */
export function commandOfThisProcess(argv: readonly string[] = process.argv): string {
  const script = path.basename(argv[1] ?? 'node');
  if (script !== 'loader.js' && script !== 'main.js' && script !== 'main.ts') return script;

  for (let i = 2; i < argv.length; i++) {
    const argument = argv[i];
    if (GLOBAL_OPTIONS_WITH_VALUE.has(argument)) {
      i++;
      continue;
    }
    if (!argument.startsWith('-')) return `loader ${argument}`;
  }
  return 'loader';
}

/** Returns the command stored in a marker, or undefined for an empty marker of an older version or one that cannot be read. */
function readMarkerCommand(marker: string): string | undefined {
  try {
    const content = fs.readFileSync(marker, 'utf8');
    if (content === '') return undefined;
    const command = (JSON.parse(content) as { command?: unknown }).command;
    return typeof command === 'string' && command !== '' ? command : undefined;
  } catch {
    return undefined;
  }
}

/** Deletes the marker of a stopped process. On a read-only archive it stays, and a later writer deletes it. */
function removeStaleMarker(marker: string): void {
  try {
    fs.rmSync(marker, { force: true });
  } catch (error) {
    if (writeDenialReason(error, marker) === undefined) throw error;
  }
}
