/**
 * The remote application entity of a query, retrieve or send: a node from the
 * registry or one given by host, port and AE title, with its character set,
 * timeouts, quirks and credentials, and the loader's own identity as the calling AE.
 */
import { AssociationClosedError, AssociationRejectedError, connect } from '../../dicom/network';
import type { ClientAssociation, ConnectOptions } from '../../dicom/network';
import { parseSpecificCharacterSet } from '../../dicom/charset';
import { LOADER_IMPLEMENTATION_CLASS_UID, LOADER_IMPLEMENTATION_VERSION_NAME } from '../../dicom/uid';
import type { SettingsStore } from '../settings/settings-store';
import { DEFAULT_NODE_TIMEOUTS } from '../settings/settings-types';
import type { NodeTimeouts, PacsNode } from '../settings/settings-types';
import { validateAeTitle, validateCharacterSet, validateHost, validatePort } from '../settings/validation';
import { createLogger } from '../logger';
import { explainRejection, USER_IDENTITY_RESPONSE_QUIRK, wantsPositiveResponse } from '../pacs-server/user-identity';
import type { NodeCredentials } from '../pacs-server/user-identity';

const logger = createLogger('loader.query');

/** Quirk words understood by the query and retrieve services. */
export const QUIRK = {
  /** The node rejects '*' or open ranges in date keys: open ranges are closed with explicit dates. */
  noWildcardInDates: 'no-wildcard-in-dates',
  /** The node does not support Modalities in Study (0008,0061): modalities are matched on the series. */
  noModalitiesInStudy: 'no-modalities-in-study',
  /** Prefix of "max-results-N": the node returns at most N matches per C-FIND. */
  maxResultsPrefix: 'max-results-',
  /** The node is asked to confirm the user identity (positive response requested, PS3.7 D.3.3.7). */
  userIdentityResponse: USER_IDENTITY_RESPONSE_QUIRK,
} as const;

/** Both spellings of the date quirk: the `nodes add` help names the first, and it still accepts the older second one. */
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
  /** Login for user identity negotiation, from the registry. */
  login?: string;
  /**
   * The login with its password, set by the caller after reading the password
   * (see resolveNodeCredentials). Without it, a node with a login gets the login only.
   */
  credentials?: NodeCredentials;
}

/** The loader as the calling application entity. */
export interface LocalIdentity {
  aeTitle: string;
  /** Port of the temporary C-STORE SCP that receives the sub-operations of our C-MOVE requests. */
  moveScuPort: number;
  /** Address that temporary SCP listens on. */
  moveScuHost: string;
  /**
   * Port of the loader's PACS server (pacs.port) when it has this AE title too. Used only in hints:
   * a node whose move destination for the AE title names this port sends C-MOVE sub-operations there.
   */
  serverPort?: number;
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
    ...(node.login !== undefined ? { login: node.login } : {}),
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
  const aeTitle = callingAeTitle === undefined ? pacs.aeTitle : validateAeTitle('--aet', callingAeTitle);
  return {
    aeTitle,
    moveScuPort: pacs.moveScuPort,
    moveScuHost: pacs.host,
    ...(aeTitle === pacs.aeTitle ? { serverPort: pacs.port } : {}),
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
    userIdentity: userIdentityOf(node),
    implementationClassUid: LOADER_IMPLEMENTATION_CLASS_UID,
    implementationVersionName: LOADER_IMPLEMENTATION_VERSION_NAME,
    timeouts: {
      connectMs: node.timeouts.connectSeconds * 1000,
      associationMs: node.timeouts.associationSeconds * 1000,
      dimseMs: node.timeouts.dimseSeconds * 1000,
    },
  };
}

/** Returns the user identity item for the node: its credentials, or its login alone, or none. */
function userIdentityOf(node: RemoteNode): ConnectOptions['userIdentity'] {
  const positiveResponseRequested = wantsPositiveResponse(node.quirks);
  if (node.credentials) return node.credentials.toUserIdentity(positiveResponseRequested);
  if (node.login === undefined) return undefined;
  return { type: 1, primaryField: Buffer.from(node.login, 'utf8'), positiveResponseRequested };
}

/**
 * Opens an association to the node with connectOptionsFor(). An A-ASSOCIATE-RJ
 * is rethrown as AssociationRejectedError whose message names the node and,
 * when a user identity was sent, adds that the credentials may be wrong.
 */
export async function connectToNode(
  node: RemoteNode,
  local: LocalIdentity,
  contexts: ConnectOptions['contexts'],
  extra: Pick<ConnectOptions, 'roleSelections'> = {},
): Promise<ClientAssociation> {
  const options = connectOptionsFor(node, local, contexts, extra);
  let association: ClientAssociation;
  try {
    association = await connect(options);
  } catch (error) {
    if (error instanceof AssociationRejectedError) throw explainRejection(error, node.name, options.userIdentity);
    throw explainPeerAbort(error, node, local, 'before accepting it');
  }
  if (options.userIdentity?.positiveResponseRequested && association.userIdentityServerResponse === undefined) {
    // NOTE: PS3.7 leaves the reaction to a missing response to the requestor; the loader only warns.
    logger.warn('node did not confirm the user identity it was asked to confirm', { node: node.name });
  }
  return association;
}

/**
 * Adds the likely cause to an A-ABORT from the node: nodes such as Orthanc 1.10
 * abort, instead of rejecting, a calling AE title they do not know. Returns
 * every other error unchanged. The result keeps the AssociationClosedError
 * class and reason, so retry decisions do not change.
 */
export function explainPeerAbort(error: unknown, node: RemoteNode, local: LocalIdentity, when: string): unknown {
  if (!(error instanceof AssociationClosedError) || error.reason !== 'peer-aborted') return error;
  const message = `${node.name} aborted the association ${when} (${error.message}); the node may not know the calling AE title ${local.aeTitle}: register it on the node`;
  return new AssociationClosedError(message, error.reason);
}
