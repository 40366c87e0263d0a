/**
 * C-MOVE sub-operations that the node reports as completed but that never
 * reached the retrieve's own C-STORE SCP on pacs.moveScuPort. The node then
 * sends them to another port or AE title. When that is a loader PACS server
 * that stores into the same archive (`loader serve`, or the window's server
 * on pacs.port), the archive has the instances all the same.
 */
import { setTimeout as delay } from 'node:timers/promises';

import type { LocalArchive } from '../archive';
import type { LocalIdentity, RemoteNode } from './remote-node';
import { describeNode } from './statuses';

/**
 * Time to wait for the index rows of instances that another receiver stored. A server with
 * pacs.storeDurability process-crash commits its rows in batches up to 20 ms after its C-STORE
 * response, and one in another process may be slower still under load.
 */
const ARCHIVE_SETTLE_MS = 1_000;
const ARCHIVE_POLL_MS = 100;

/** A C-MOVE whose completed sub-operations did not reach this retrieve's C-STORE SCP. */
export interface MissedDelivery {
  /** Sub-operations that the node reports as completed, with or without warnings. */
  reported: number;
  /** Instances of the study that the archive lists afterwards; counted in the study's `completed`. */
  foundInArchive: number;
}

export interface MissedDeliveryCheck {
  node: RemoteNode;
  local: LocalIdentity;
  archive: LocalArchive;
  studyInstanceUid: string;
  reported: number;
  /** SOP Instance UIDs that the node's IMAGE level C-FIND listed; when given, only these are counted. */
  expectedUids?: ReadonlySet<string>;
  signal?: AbortSignal;
}

/** Words of every describeMissedDelivery note, which isMissedDeliveryNote looks for. */
const NOTE_MARKER = 'completed sub-operations, but none reached this retrieve on port';

/**
 * Counts the study's instances in the archive after the node reported `reported` completed
 * sub-operations that this retrieve did not receive. Polls until that many are listed, for at
 * most ARCHIVE_SETTLE_MS, or until `signal` aborts.
 */
export async function checkMissedDelivery(check: MissedDeliveryCheck): Promise<MissedDelivery> {
  const deadline = Date.now() + ARCHIVE_SETTLE_MS;
  let found = countArchived(check);
  while (found < check.reported && Date.now() < deadline && !check.signal?.aborted) {
    await delay(ARCHIVE_POLL_MS);
    found = countArchived(check);
  }
  return { reported: check.reported, foundInArchive: found };
}

function countArchived(check: MissedDeliveryCheck): number {
  const listed = check.archive.listInstances({ studyInstanceUid: check.studyInstanceUid });
  const expected = check.expectedUids;
  if (expected === undefined || expected.size === 0) return listed.length;
  return listed.filter((instance) => expected.has(instance.sopInstanceUid)).length;
}

/** Returns the note that names where the instances of a missed delivery probably went and what to check. */
export function describeMissedDelivery(node: RemoteNode, local: LocalIdentity, missed: MissedDelivery): string {
  const { aeTitle, moveScuPort, serverPort } = local;
  const server = serverPort !== undefined && serverPort !== moveScuPort ? serverPort : undefined;
  const start = `${describeNode(node)} reported ${missed.reported} ${NOTE_MARKER} ${moveScuPort} (pacs.moveScuPort)`;

  if (missed.foundInArchive > 0) {
    const receiver = server === undefined ? 'a loader PACS server that stores into this archive' : `the loader's PACS server on port ${server} (pacs.port), if it stores into this archive,`;
    return (
      `${start}. The archive lists ${missed.foundInArchive} instances of the study, so ${receiver} probably received them, unless the archive had them already. ` +
      `The node's move destination for ${aeTitle} is then that server instead of port ${moveScuPort}`
    );
  }

  const serverHint = server === undefined ? '' : `. If the node has port ${server} (pacs.port), the loader's PACS server received them into the archive that server uses`;
  return (
    `${start}, and the archive does not list them: the node probably sends them to another host, port or AE title. ` +
    `Check the host and port that the node has for ${aeTitle}: they must be this computer's address and port ${moveScuPort}${serverHint}`
  );
}

/** Returns true for a note of describeMissedDelivery, so that a caller who accounts for the instances can drop it. */
export function isMissedDeliveryNote(note: string): boolean {
  return note.includes(NOTE_MARKER);
}
