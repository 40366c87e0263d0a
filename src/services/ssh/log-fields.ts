/**
 * Log fields that identify a remote file or folder without its path, because
 * paths on a physician's workstation often contain patient names. The user
 * sees the full paths in the command's report on standard output.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';

import type { LogFields } from '../logger';
import type { SshEndpoint } from './errors';

/**
 * Returns the first 12 hex digits of the SHA-256 of the UTF-8 path, so that
 * lines about one file can be matched, also across runs. An administrator
 * finds the file of a line with `printf '%s' PATH | sha256sum | cut -c1-12`.
 * NOTE: the hash has no key, so someone who guesses a whole path can confirm the guess with it.
 */
export function remotePathHash(remotePath: string): string {
  return createHash('sha256').update(remotePath, 'utf8').digest('hex').slice(0, 12);
}

/** Returns the host and port of the SSH server, for the log lines of a download. */
export function endpointFields(endpoint: SshEndpoint): LogFields {
  return { host: endpoint.host, port: endpoint.port };
}

/** Returns the fields of a file's log lines: the server, "file 57 of 300" in the run's order, and the path hash. */
export function remoteFileFields(endpoint: SshEndpoint, remotePath: string, position: number, total: number): LogFields {
  return { ...endpointFields(endpoint), file: `${position} of ${total}`, pathHash: remotePathHash(remotePath) };
}

/** A staged file and the remote file it is a copy of. */
export interface StagedCopy {
  localPath: string;
  remotePath: string;
}

/**
 * Returns a function that replaces each path below `filesRoot` (the staging
 * folder's files/, which mirrors remote paths) in a text with "remote path
 * hash " and the remotePathHash of the remote path. A staged file listed in
 * `copies` gets the hash of its remote path, so it matches the download's log
 * lines even when a symbolic link gave it another local name. Any other path
 * gets the hash of the remote path that its place below files/ mirrors.
 */
export function stagedPathRedactor(filesRoot: string, copies: StagedCopy[]): (text: string) => string {
  const root = path.resolve(filesRoot);
  const remoteOf = new Map(copies.map((copy) => [path.resolve(copy.localPath), copy.remotePath]));
  const label = (local: string) => `remote path hash ${remotePathHash(remoteOf.get(local) ?? `/${path.relative(root, local)}`)}`;
  // Longest first, so that a file's path is replaced before the path of its folder.
  const known = [...remoteOf.keys()].sort((a, b) => b.length - a.length);
  const escapedRoot = root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  // NOTE: a path that is not in `copies` is taken to end at a quote, a comma or the end of the text,
  // so the part of a name after such a character stays in the text.
  const otherPath = new RegExp(`${escapedRoot}/[^'",]*`, 'g');
  return (text) => {
    if (!text.includes(root)) return text;
    let redacted = text;
    for (const local of known) redacted = redacted.split(local).join(label(local));
    return redacted.replace(otherPath, (local) => label(local));
  };
}
