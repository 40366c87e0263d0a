/**
 * Messages for failure statuses of C-FIND, C-GET and C-MOVE that name the
 * node, the status and its meaning (PS3.4 tables C.4-1 to C.4-3, PS3.7 annex C).
 */
import { formatStatus } from '../../dicom/network';
import type { RemoteNode } from './remote-node';

export type QueryRetrieveService = 'C-FIND' | 'C-GET' | 'C-MOVE';

/** Returns the node's name and AE title for messages: "main (MAIN_PACS)", or the name alone when it already contains the AE title. */
export function describeNode(node: Pick<RemoteNode, 'name' | 'aeTitle'>): string {
  return node.name.startsWith(`${node.aeTitle}@`) ? node.name : `${node.name} (${node.aeTitle})`;
}

/**
 * Returns the message for a study that a node or the archive does not list,
 * shared by retrieve and migration. `where` is a describeNode() label or "the local archive".
 */
export function describeStudyNotFound(where: string): string {
  return `study not found on ${where}`;
}

/** Returns the meaning of a Query/Retrieve status, or undefined for a code the standard does not list. */
export function describeStatusMeaning(status: number): string | undefined {
  switch (status) {
    case 0x0110:
      return 'processing failure';
    case 0x0122:
      return 'SOP class not supported';
    case 0x0124:
      return 'refused: not authorized';
    case 0x0211:
      return 'unrecognized operation';
    case 0xa700:
      return 'refused: out of resources';
    case 0xa701:
      return 'refused: out of resources, unable to calculate the number of matches';
    case 0xa702:
      return 'refused: out of resources, unable to perform sub-operations';
    case 0xa801:
      return 'refused: move destination unknown';
    case 0xa900:
      return 'identifier does not match SOP class';
    case 0xb000:
      return 'sub-operations complete, one or more failures';
    case 0xfe00:
      return 'cancelled';
  }
  if ((status & 0xff00) === 0xa700) return 'refused: out of resources';
  if ((status & 0xf000) === 0xc000) return 'unable to process';
  return undefined;
}

/** The AE title and port where a C-MOVE retrieve receives its sub-operations. */
export interface MoveDestination {
  aeTitle: string;
  port: number;
}

/** Returns a likely cause of a status that the node's error comment may not give, or undefined. */
function likelyCause(service: QueryRetrieveService, status: number, destination?: MoveDestination): string | undefined {
  if (status === 0x0122) return `the node does not support Study Root ${service}`;
  if (status === 0x0124) return 'the node does not allow this calling AE title; register it on the node';
  if (status === 0xa702 && service === 'C-MOVE') {
    // dcmqrscp 3.6.7, for one, returns A702 when it cannot open the association to the move destination.
    const check =
      destination === undefined
        ? 'check the host and port that the node has for our AE title'
        : `check the host and port that the node has for ${destination.aeTitle}: they must be this computer's address and port ${destination.port}`;
    return `the node cannot connect to the move destination, or it is busy, or the request is too broad; ${check}, or narrow the request or try later`;
  }
  if ((status & 0xff00) === 0xa700) return 'the node is busy or the request is too broad; narrow it or try later';
  if (status === 0xa900) return 'the node rejected a key value, for example one that is too long or has a wildcard where none is allowed';
  return undefined;
}

/**
 * True for a final C-GET response with an out of resources status (A7xx) that
 * lists instances in Failed SOP Instance UID List (0008,0058) and has no
 * sub-operation left: none completed or none remaining. The node then tried to
 * send those instances and could not, so it is not short of resources.
 * dcmqrscp 3.6.7 returns such a response when it cannot convert an instance to a
 * transfer syntax the retrieving side accepted, such as RLE Lossless to an
 * uncompressed one.
 */
export function isListedSubOperationFailure(result: { status: number; completed: number; remaining: number; failedSopInstanceUids: readonly string[] }): boolean {
  if ((result.status & 0xff00) !== 0xa700 || result.failedSopInstanceUids.length === 0) return false;
  return result.completed === 0 || result.remaining === 0;
}

/**
 * Returns the message of a C-GET that isListedSubOperationFailure matches,
 * such as "C-GET on main (MAIN) failed with status 0xA702 (…): the node could
 * not send 3 instances that it lists in Failed SOP Instance UID List …".
 */
export function describeListedSubOperationFailure(node: Pick<RemoteNode, 'name' | 'aeTitle'>, status: number, failed: number, completed: number, errorComment?: string): string {
  const meaning = describeStatusMeaning(status);
  const comment = errorComment ? `: ${errorComment}` : '';
  const instances = failed === 1 ? '1 instance' : `${failed} instances`;
  return (
    `C-GET on ${describeNode(node)} failed with status ${formatStatus(status)}${meaning ? ` (${meaning})` : ''}${comment}: ` +
    `the node could not send ${instances} that it lists in Failed SOP Instance UID List (0008,0058), and sent ${completed}. ` +
    `The node's own log gives the reason, for example a transfer syntax that it cannot convert to one that the loader accepted`
  );
}

/**
 * Returns a message such as "C-FIND on main (MAIN) failed with status 0xC000
 * (unable to process): <error comment>; likely cause: …". `destination` is
 * where a C-MOVE sends its sub-operations, named in the hint for status A702.
 */
export function describeStatusFailure(
  service: QueryRetrieveService,
  node: Pick<RemoteNode, 'name' | 'aeTitle'>,
  status: number,
  errorComment?: string,
  destination?: MoveDestination,
): string {
  const meaning = describeStatusMeaning(status);
  const parts = [`${service} on ${describeNode(node)} failed with status ${formatStatus(status)}${meaning ? ` (${meaning})` : ''}`];
  if (errorComment) parts.push(`: ${errorComment}`);
  const cause = likelyCause(service, status, destination);
  if (cause) parts.push(`; likely cause: ${cause}`);
  return parts.join('');
}
