/**
 * Peers and nodes for the query/retrieve client tests: Orthanc with UTF-8
 * studies, dcmqrscp with ISO_IR 144 studies, and RemoteNode values for them.
 */
import { DEFAULT_NODE_TIMEOUTS } from '../../src/services/settings/settings-types';
import type { LocalIdentity, RemoteNode } from '../../src/services/query-retrieve';
import { LOOPBACK } from '../support/peers';
import type { DicomNode } from '../support/peers';

export const LOADER_AE = 'LOADERQR';

/** A RemoteNode for a test peer, with short timeouts. */
export function nodeFor(peer: DicomNode, options: { characterSet?: string[]; quirks?: string[]; maxResults?: number } = {}): RemoteNode {
  return {
    name: peer.aeTitle,
    aeTitle: peer.aeTitle,
    host: peer.host,
    port: peer.port,
    characterSets: options.characterSet ?? ['ISO_IR 192'],
    timeouts: { ...DEFAULT_NODE_TIMEOUTS, connectSeconds: 5, associationSeconds: 10, dimseSeconds: 30 },
    quirks: options.quirks ?? [],
    maxResults: options.maxResults,
  };
}

export function localIdentity(moveScuPort = 0, aeTitle = LOADER_AE): LocalIdentity {
  return { aeTitle, moveScuPort, moveScuHost: LOOPBACK };
}

/** Collects an async iterable into an array. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}
