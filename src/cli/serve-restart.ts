/**
 * The note that `loader config set` prints for a setting that a running
 * server reads only when it starts. Node registry changes need no note,
 * because the server reads the registry on every association.
 */
import { otherArchiveUserDetails } from '../services/archive/archive-users';
import { resolveArchiveRoot, type GlobalOptions } from './context';

/** Settings that `loader serve` and the desktop window's server read only when they start. */
export const KEYS_READ_AT_SERVER_START: ReadonlySet<string> = new Set([
  'pacs.aeTitle',
  'pacs.host',
  'pacs.port',
  'pacs.acceptAnyCallingAeTitle',
  'pacs.checkCalledAeTitle',
  'pacs.checkCallingAeHost',
  'pacs.maxAssociations',
  'pacs.maxAssociationsPerAe',
  'pacs.storeDurability',
  'pacs.requireUserIdentity',
  'pacs.legacyCharacterSet',
]);

/** Commands whose process runs the PACS server, as archive-users.ts records them. */
const SERVER_COMMANDS = new Set(['loader serve', 'loader start']);

/**
 * Returns the note for a changed `key`, or undefined when a running server
 * applies it at once. The note names the processes that run a server on the
 * archive of `globals`.
 *
 * NOTE: a server on another archive folder, or on a full or read-only
 * archive (which gets no process marker), is not found, so the note then
 * names no process.
 */
export function describeServerRestart(key: string, globals: GlobalOptions): string | undefined {
  if (!KEYS_READ_AT_SERVER_START.has(key)) return undefined;
  const servers = otherArchiveUserDetails(resolveArchiveRoot(globals), 'open').filter(
    (user) => user.command !== undefined && SERVER_COMMANDS.has(user.command),
  );
  const running =
    servers.length === 0
      ? 'no server runs on this archive now'
      : `running now: ${servers.map((server) => `PID ${server.pid} "${server.command}"`).join(', ')}`;
  return `restart loader serve to apply: a running server reads ${key} only at start (${running})`;
}
