/**
 * Shape of the persisted settings. Bump SETTINGS_SCHEMA_VERSION and add a
 * migration in settings-store.ts whenever a stored field changes meaning.
 */

import { DEFAULT_LEGACY_CHARACTER_SET, type LegacyCharacterSet } from '../../dicom/charset';
import type { ArchiveDurability } from '../archive/durability';

export const SETTINGS_SCHEMA_VERSION = 1;

/**
 * Default of pacs.maxAssociationsPerAe: a quarter of the default pacs.maxAssociations (32). A node
 * can still run up to 8 associations in parallel, and when one node uses all 8, 24 slots stay free
 * for other nodes. A stored maxAssociations below 8 lowers it to that value.
 */
export const DEFAULT_MAX_ASSOCIATIONS_PER_AE = 8;

/** The loader's own DICOM identity and its server options. */
export interface PacsSettings {
  /** AE title of the loader: the called AE title of its server and the calling AE title of its client. */
  aeTitle: string;
  /** Address the server listens on; 0.0.0.0 means every interface. */
  host: string;
  /** TCP port of the server (the DICOM registered port is 11112; 104 needs root). */
  port: number;
  /** Local port for outgoing associations; 0 lets the system choose. */
  scuPort: number;
  /** Port where C-STORE sub-operations of our own C-MOVE requests arrive. */
  moveScuPort: number;
  /** Accept associations from calling AE titles that are not in the node registry. */
  acceptAnyCallingAeTitle: boolean;
  /** Reject associations whose called AE title is not ours. */
  checkCalledAeTitle: boolean;
  /**
   * Accept a registered calling AE title only from the host its node is
   * registered with. AE titles are not authentication, because any program
   * can send any AE title, so this keeps another machine from using a node's
   * title. On by default; a node that sends from another address than it is
   * registered with needs its host changed or this setting off.
   */
  checkCallingAeHost: boolean;
  /** Concurrent associations the server accepts before rejecting with "local limit exceeded". */
  maxAssociations: number;
  /**
   * Concurrent associations the server accepts from one calling AE title, at most maxAssociations,
   * so that one node cannot hold every slot. The default is DEFAULT_MAX_ASSOCIATIONS_PER_AE.
   */
  maxAssociationsPerAe: number;
  /**
   * What the archive flushes to disk before the server answers a C-STORE:
   * 'full' survives a power loss, 'process-crash' only a crash of the loader.
   * See src/services/archive/durability.ts.
   */
  storeDurability: ArchiveDurability;
  /**
   * Reject associations without a valid user identity (username and passcode
   * of a server account, PS3.7 annex D.3.3.7).
   */
  requireUserIdentity: boolean;
  /**
   * Start the server when the desktop window opens. Only the window reads it:
   * `loader serve` and a `loader start` without a display always start the server.
   */
  startWithWindow: boolean;
  /**
   * Character set of names and descriptions in data sets that declare no
   * Specific Character Set (0008,0005), or only ISO_IR 6, and are not valid
   * UTF-8. It applies wherever the loader indexes or matches such text: the
   * server's C-STORE and C-FIND, scan, reindex, get and move. Until it is set,
   * it follows the interface language (defaultLegacyCharacterSet).
   */
  legacyCharacterSet: LegacyCharacterSet;
}

export type Language = 'ru' | 'en';
export type Theme = 'dark' | 'light';

export interface InterfaceSettings {
  language: Language;
  theme: Theme;
  trayIcon: boolean;
}

/** Timeouts in seconds for associations with one node. */
export interface NodeTimeouts {
  connectSeconds: number;
  associationSeconds: number;
  dimseSeconds: number;
  idleSeconds: number;
}

/** A registered DICOM node: a PACS, a modality or a viewer. */
export interface PacsNode {
  name: string;
  aeTitle: string;
  host: string;
  port: number;
  /** Login for user identity negotiation; its password lives in the OS keychain, never here. */
  login?: string;
  /** Specific Character Set used in queries to this node, e.g. ISO_IR 192 or ISO_IR 144. */
  characterSet: string;
  timeouts?: Partial<NodeTimeouts>;
  /** Known deviations of this node, e.g. no '*' in date fields. */
  quirks?: string[];
}

export interface SshNode {
  name: string;
  host: string;
  port: number;
  login: string;
  /** Private key file; a password or passphrase lives in the OS keychain. */
  keyFile?: string;
  defaultFolder?: string;
}

/** An account of the loader's PACS server for user identity negotiation; its password lives in the OS keychain. */
export interface ServerAccount {
  name: string;
}

export interface Settings {
  schemaVersion: number;
  pacs: PacsSettings;
  interface: InterfaceSettings;
  locations: { pacs: PacsNode[]; ssh: SshNode[] };
  serverAccounts: ServerAccount[];
}

export const DEFAULT_NODE_TIMEOUTS: NodeTimeouts = {
  connectSeconds: 10,
  associationSeconds: 30,
  dimseSeconds: 60,
  idleSeconds: 300,
};

/** Returns the locale variable that systemLanguage() reads, as "LANG=ru_RU.UTF-8", or undefined when none is set. */
export function localeVariable(): string | undefined {
  const name = ['LC_ALL', 'LC_MESSAGES', 'LANG'].find((variable) => process.env[variable]);
  return name === undefined ? undefined : `${name}=${process.env[name]}`;
}

function systemLanguage(): Language {
  const locale = process.env.LC_ALL || process.env.LC_MESSAGES || process.env.LANG || '';
  return locale.toLowerCase().startsWith('ru') ? 'ru' : 'en';
}

/**
 * Returns pacs.legacyCharacterSet for an installation that never set it:
 * windows-1251 for the Russian interface language, because older equipment
 * in Russian-speaking countries writes names in it, and Latin-1 otherwise.
 */
export function defaultLegacyCharacterSet(language: Language): LegacyCharacterSet {
  return language === 'ru' ? 'windows-1251' : DEFAULT_LEGACY_CHARACTER_SET;
}

export function defaultSettings(): Settings {
  const language = systemLanguage();
  return {
    schemaVersion: SETTINGS_SCHEMA_VERSION,
    pacs: {
      aeTitle: 'LOADER',
      host: '0.0.0.0',
      port: 11112,
      scuPort: 0,
      moveScuPort: 11113,
      acceptAnyCallingAeTitle: false,
      checkCalledAeTitle: true,
      checkCallingAeHost: true,
      maxAssociations: 32,
      maxAssociationsPerAe: DEFAULT_MAX_ASSOCIATIONS_PER_AE,
      storeDurability: 'full',
      requireUserIdentity: false,
      startWithWindow: true,
      legacyCharacterSet: defaultLegacyCharacterSet(language),
    },
    interface: { language, theme: 'light', trayIcon: true },
    locations: { pacs: [], ssh: [] },
    serverAccounts: [],
  };
}
