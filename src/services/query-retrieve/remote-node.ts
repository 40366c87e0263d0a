/**
 * The remote application entity of a query, retrieve or send: a node from the
 * registry or one given by host, port and AE title, with its character set,
 * timeouts and quirks, and the loader's own identity as the calling AE.
 */
import type { ConnectOptions } from '../../dicom/network';
import { parseSpecificCharacterSet } from '../../dicom/charset';
import { LOADER_IMPLEMENTATION_CLASS_UID, LOADER_IMPLEMENTATION_VERSION_NAME } from '../../dicom/uid';
import type { SettingsStore } from '../settings/settings-store';
import { DEFAULT_NODE_TIMEOUTS } from '../settings/settings-types';
import type { NodeTimeouts, PacsNode } from '../settings/settings-types';
import { validateAeTitle, validateCharacterSet, validateHost, validatePort } from '../settings/validation';

/** Quirk words understood by the query and retrieve services. */
export const QUIRK = {
  /** The node rejects '*' or open ranges in date keys: open ranges are closed with explicit dates. */
  noWildcardInDates: 'no-wildcard-in-dates',
  /** The node does not support Modalities in Study (0008,0061): modalities are matched on the series. */
  noModalitiesInStudy: 'no-modalities-in-study',
  /** Prefix of "max-results-N": the node returns at most N matches per C-FIND. */
  maxResultsPrefix: 'max-results-',
} as const;

/** Spellings of the date quirk used elsewhere in the project (the `nodes add` help names the second). */
const NO_DATE_WILDCARD_QUIRKS = new Set([QUIRK.noWildcardInDates, 'no-date-wildcard']);

export interface RemoteNode {
  /** Registry name, or "AE@host:port" for a node given on the command line. */
  name: string;
  aeTitle: string;
  host: string;
  port: number;
  /** Specific Character Set terms of our queries to this node. */
  characterSets: string[];
  timeouts: NodeTimeouts;
  quirks: string[];
  /** Number of matches at which the node truncates a C-FIND; undefined when unknown. */
  maxResults?: number;
}

/** The loader as the calling application entity. */
export interface LocalIdentity {
  aeTitle: string;
  /** Port of the temporary C-STORE SCP that receives the sub-operations of our C-MOVE requests. */
  moveScuPort: number;
  /** Address that temporary SCP listens on. */
  moveScuHost: string;
}

/** Converts a registry entry into a RemoteNode. */
export function remoteNodeFromSettings(node: PacsNode): RemoteNode {
  const quirks = node.quirks ?? [];
  return {
    name: node.name,
    aeTitle: node.aeTitle,
    host: node.host,
    port: node.port,
    characterSets: parseSpecificCharacterSet(node.characterSet || 'ISO_IR 192'),
    timeouts: { ...DEFAULT_NODE_TIMEOUTS, ...node.timeouts },
    quirks,
    maxResults: maxResultsFromQuirks(quirks),
  };
}

export interface AdHocNode {
  host: string;
  port: number | string;
  aeTitle: string;
  characterSet?: string;
  quirks?: string[];
}

/** Builds a RemoteNode from a host, port and AE title typed by the user; throws SettingsValidationError on bad values. */
export function remoteNodeFromAddress(address: AdHocNode): RemoteNode {
  const aeTitle = validateAeTitle('--aec', address.aeTitle);
  const host = validateHost('--host', address.host);
  const port = validatePort('--port', address.port);
  const characterSet = validateCharacterSet('--charset', address.characterSet ?? 'ISO_IR 192');
  const quirks = address.quirks ?? [];
  return {
    name: `${aeTitle}@${host}:${port}`,
    aeTitle,
    host,
    port,
    characterSets: parseSpecificCharacterSet(characterSet),
    timeouts: { ...DEFAULT_NODE_TIMEOUTS },
    quirks,
    maxResults: maxResultsFromQuirks(quirks),
  };
}

/** Looks a node up by registry name (case-insensitive); throws when it is not registered. */
export function findRemoteNode(settings: SettingsStore, name: string): RemoteNode {
  const node = settings.findPacsNode(name);
  if (!node) {
    const known = settings.listPacsNodes().map((entry) => entry.name);
    const hint = known.length > 0 ? `registered nodes: ${known.join(', ')}` : 'no nodes are registered; add one with "loader nodes add"';
    throw new Error(`Node "${name}" is not registered (${hint}), or give --host, --port and --aec`);
  }
  return remoteNodeFromSettings(node);
}

/** Returns the loader's calling identity from the settings, with an optional AE title override. */
export function localIdentityFromSettings(settings: SettingsStore, callingAeTitle?: string): LocalIdentity {
  const pacs = settings.settings.pacs;
  return {
    aeTitle: callingAeTitle === undefined ? pacs.aeTitle : validateAeTitle('--aet', callingAeTitle),
    moveScuPort: pacs.moveScuPort,
    moveScuHost: pacs.host,
  };
}

export function hasQuirk(node: RemoteNode, quirk: string): boolean {
  if (quirk === QUIRK.noWildcardInDates) return node.quirks.some((entry) => NO_DATE_WILDCARD_QUIRKS.has(entry));
  return node.quirks.includes(quirk);
}

function maxResultsFromQuirks(quirks: string[]): number | undefined {
  for (const quirk of quirks) {
    if (!quirk.startsWith(QUIRK.maxResultsPrefix)) continue;
    const count = Number(quirk.slice(QUIRK.maxResultsPrefix.length));
    if (Number.isInteger(count) && count > 0) return count;
  }
  return undefined;
}

/** Returns connect() options for an association from `local` to `node`. */
export function connectOptionsFor(
  node: RemoteNode,
  local: LocalIdentity,
  contexts: ConnectOptions['contexts'],
  extra: Pick<ConnectOptions, 'roleSelections'> = {},
): ConnectOptions {
  return {
    host: node.host,
    port: node.port,
    callingAeTitle: local.aeTitle,
    calledAeTitle: node.aeTitle,
    contexts,
    roleSelections: extra.roleSelections,
    implementationClassUid: LOADER_IMPLEMENTATION_CLASS_UID,
    implementationVersionName: LOADER_IMPLEMENTATION_VERSION_NAME,
    timeouts: {
      connectMs: node.timeouts.connectSeconds * 1000,
      associationMs: node.timeouts.associationSeconds * 1000,
      dimseMs: node.timeouts.dimseSeconds * 1000,
    },
  };
}
