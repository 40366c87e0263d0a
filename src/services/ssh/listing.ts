/** Listing of a remote folder for `loader ssh ls`: folders first, then files, by name. */
import path from 'node:path';

import type { Stats } from 'ssh2';

import type { SshSession } from './connection';
import { describeSftpError } from './errors';
import { checkLinkTarget, checkRemoteName } from './remote-names';
import { readdir, realpath, stat } from './sftp';

export type RemoteEntryType = 'folder' | 'file' | 'link' | 'other';

export interface RemoteEntry {
  name: string;
  type: RemoteEntryType;
  /** For a symbolic link: the type of its target, or 'broken' when it cannot be resolved. */
  linkTarget?: 'folder' | 'file' | 'other' | 'broken';
  /** Size in bytes (of the link target for a link). */
  size: number;
  /** Date modified, ISO 8601 in UTC. */
  modified: string;
  /** Reason why `loader ssh get` rejects this name, if it does. */
  unsafeName?: string;
  /**
   * For a symbolic link that `loader ssh get` does not follow: the reason,
   * "leads outside the folder" (the listed folder).
   */
  linkRejected?: string;
  /** For a symbolic link: its resolved absolute target path, when it can be resolved. */
  linkTargetPath?: string;
}

export interface RemoteListing {
  /** Absolute path of the folder, after resolving "." and symbolic links. */
  path: string;
  entries: RemoteEntry[];
}

/** SFTP file type bits (the S_IFMT part of the POSIX mode). */
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

function entryType(mode: number): RemoteEntryType {
  const kind = mode & S_IFMT;
  if (kind === S_IFDIR) return 'folder';
  if (kind === S_IFREG) return 'file';
  if (kind === S_IFLNK) return 'link';
  return 'other';
}

function targetType(stats: Stats): 'folder' | 'file' | 'other' {
  if (stats.isDirectory()) return 'folder';
  if (stats.isFile()) return 'file';
  return 'other';
}

/** Sorts folders (and links to folders) first, then by name as the user's locale orders them. */
export function sortEntries(entries: RemoteEntry[]): RemoteEntry[] {
  const isFolder = (entry: RemoteEntry) => entry.type === 'folder' || entry.linkTarget === 'folder';
  return [...entries].sort((a, b) => Number(isFolder(b)) - Number(isFolder(a)) || a.name.localeCompare(b.name));
}

/**
 * Adds the target type, size and resolved path of a symbolic link in the
 * resolved folder `folder`, and marks a link that `ssh get` does not follow.
 */
async function describeLink(session: SshSession, folder: string, entry: RemoteEntry): Promise<void> {
  const link = path.posix.join(folder, entry.name);
  try {
    const target = await stat(session.sftp, link);
    entry.linkTarget = targetType(target);
    entry.size = target.size;
    entry.linkTargetPath = await realpath(session.sftp, link);
  } catch {
    entry.linkTarget = 'broken';
    return;
  }
  const rejected = checkLinkTarget(folder, entry.linkTargetPath);
  if (rejected !== undefined) entry.linkRejected = rejected;
}

/** Lists `remotePath`, resolved against the login's home folder when relative. */
export async function listFolder(session: SshSession, remotePath: string): Promise<RemoteListing> {
  let absolute: string;
  let list;
  try {
    absolute = await realpath(session.sftp, remotePath);
    list = await readdir(session.sftp, absolute);
  } catch (error) {
    throw describeSftpError(error, remotePath, session.endpoint);
  }

  const entries: RemoteEntry[] = [];
  for (const item of list) {
    if (item.filename === '.' || item.filename === '..') continue;
    const entry: RemoteEntry = {
      name: item.filename,
      type: entryType(item.attrs.mode),
      size: item.attrs.size,
      modified: new Date(item.attrs.mtime * 1000).toISOString(),
    };
    const unsafe = checkRemoteName(item.filename);
    if (unsafe !== undefined) entry.unsafeName = unsafe;
    if (entry.type === 'link' && unsafe === undefined) await describeLink(session, absolute, entry);
    entries.push(entry);
  }
  return { path: absolute, entries: sortEntries(entries) };
}
