/**
 * The check of pacs.checkCallingAeHost: a registered calling AE title is
 * accepted only from the host of its node. AE titles are not authentication,
 * because any program can send any AE title, so without this check any
 * machine that can reach the server could call with a registered node's
 * title and retrieve every study. The check is like Orthanc's
 * DicomCheckModalityHost. It does not stop a peer that can also use the
 * node's IP address; user identity (pacs.requireUserIdentity) or a firewall does.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

import type { PacsNode } from '../settings/settings-types';

/** Resolves a host name or address to its IP addresses. */
export type HostLookup = (host: string) => Promise<string[]>;

/** Resolves `host` with the system resolver (getaddrinfo), as outgoing associations do. */
export async function lookupHostAddresses(host: string): Promise<string[]> {
  if (isIP(host) !== 0) return [host];
  const results = await lookup(host, { all: true, verbatim: true });
  return results.map((result) => result.address);
}

export type CallingHostCheck = { accepted: true } | { accepted: false; logMessage: string };

/**
 * Checks that `remoteAddress` is an address of one of `nodes`, the
 * registered nodes with the calling AE title. Host names are resolved once
 * per call, so once per association. An IPv4 address matches its
 * IPv4-mapped IPv6 form (::ffff:10.0.0.5), in which a dual-stack socket
 * reports IPv4 peers. A host name that cannot be resolved matches nothing.
 */
export async function checkCallingHost(
  callingAeTitle: string,
  remoteAddress: string,
  nodes: readonly PacsNode[],
  lookupHost: HostLookup = lookupHostAddresses,
): Promise<CallingHostCheck> {
  const allowed = new BlockList();
  const failures: string[] = [];
  for (const node of nodes) {
    try {
      for (const address of await lookupHost(node.host)) allowed.addAddress(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
    } catch (error) {
      failures.push(`${node.host} could not be resolved (${error instanceof Error ? error.message : String(error)})`);
    }
  }

  const family = isIP(remoteAddress) === 6 ? 'ipv6' : 'ipv4';
  if (isIP(remoteAddress) !== 0 && allowed.check(remoteAddress, family)) return { accepted: true };

  const registered = [...new Set(nodes.map((node) => node.host))].join(', ');
  return {
    accepted: false,
    logMessage:
      `calling AE title not recognized: ${callingAeTitle} is registered for host ${registered}, ` +
      `but the association comes from ${remoteAddress}` +
      (failures.length > 0 ? ` (${failures.join('; ')})` : '') +
      `; if the node sends from this address, change its host with "loader nodes remove" and "loader nodes add", ` +
      `or turn the check off with "loader config set pacs.checkCallingAeHost off"`,
  };
}
