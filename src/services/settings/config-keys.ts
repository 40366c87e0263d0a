/**
 * Dotted keys of the settings that `loader config set KEY VALUE` changes,
 * with the parsing of the command-line text for each key. Validation stays in
 * the store, so a value set here obeys the same rules as a value loaded from the file.
 */
import type { SettingsStore } from './settings-store';
import type { InterfaceSettings, PacsSettings } from './settings-types';
import { SettingsValidationError, validatePort, validateSwitch } from './validation';

type ValueKind = 'text' | 'port' | 'count' | 'switch';

interface ConfigKey {
  section: 'pacs' | 'interface';
  field: keyof PacsSettings | keyof InterfaceSettings;
  kind: ValueKind;
  description: string;
}

export const CONFIG_KEYS: Record<string, ConfigKey> = {
  'pacs.aeTitle': { section: 'pacs', field: 'aeTitle', kind: 'text', description: 'AE title of this loader, 1-16 characters' },
  'pacs.host': { section: 'pacs', field: 'host', kind: 'text', description: 'address the server listens on; 0.0.0.0 for every interface' },
  'pacs.port': { section: 'pacs', field: 'port', kind: 'port', description: 'TCP port of the server' },
  'pacs.scuPort': { section: 'pacs', field: 'scuPort', kind: 'port', description: 'local port of outgoing associations; 0 lets the system choose' },
  'pacs.moveScuPort': { section: 'pacs', field: 'moveScuPort', kind: 'port', description: 'port that receives the C-STORE sub-operations of our C-MOVE requests' },
  'pacs.acceptAnyCallingAeTitle': {
    section: 'pacs',
    field: 'acceptAnyCallingAeTitle',
    kind: 'switch',
    description: 'accept calling AE titles that are not registered; AE titles are not authentication (on|off)',
  },
  'pacs.checkCalledAeTitle': { section: 'pacs', field: 'checkCalledAeTitle', kind: 'switch', description: 'reject associations called with another AE title (on|off)' },
  'pacs.checkCallingAeHost': {
    section: 'pacs',
    field: 'checkCallingAeHost',
    kind: 'switch',
    description:
      'accept a registered calling AE title only from the host of its node, because any program can send any AE title (on|off)',
  },
  'pacs.maxAssociations': { section: 'pacs', field: 'maxAssociations', kind: 'count', description: 'concurrent associations the server accepts' },
  'pacs.maxAssociationsPerAe': {
    section: 'pacs',
    field: 'maxAssociationsPerAe',
    kind: 'count',
    description: 'concurrent associations the server accepts from one calling AE title',
  },
  'pacs.storeDurability': {
    section: 'pacs',
    field: 'storeDurability',
    kind: 'text',
    description: 'what is flushed to disk before a C-STORE is answered: full (survives power loss) or process-crash (no fsync)',
  },
  'pacs.requireUserIdentity': {
    section: 'pacs',
    field: 'requireUserIdentity',
    kind: 'switch',
    description: 'reject associations without the username and password of a server account, see "loader users" (on|off)',
  },
  'pacs.startWithWindow': {
    section: 'pacs',
    field: 'startWithWindow',
    kind: 'switch',
    description: 'start the server when the desktop window opens; loader serve always starts it (on|off)',
  },
  'pacs.legacyCharacterSet': {
    section: 'pacs',
    field: 'legacyCharacterSet',
    kind: 'text',
    description:
      'character set of names and descriptions in files that declare none and are not UTF-8: ' +
      'latin1, windows-1251, koi8-r or iso-8859-5; until set, windows-1251 for the Russian interface language ' +
      'and latin1 otherwise; run loader reindex after a change',
  },
  'interface.language': { section: 'interface', field: 'language', kind: 'text', description: 'language of the interface: ru or en' },
  'interface.theme': { section: 'interface', field: 'theme', kind: 'text', description: 'color theme: dark or light' },
  'interface.trayIcon': { section: 'interface', field: 'trayIcon', kind: 'switch', description: 'show the tray icon (on|off)' },
};

/** Other spellings accepted on the command line. */
const KEY_ALIASES: Record<string, string> = {
  'pacs.ip': 'pacs.host',
  'interface.tray': 'interface.trayIcon',
};

function parseValue(key: string, kind: ValueKind, text: string): unknown {
  switch (kind) {
    case 'text':
      return text;
    case 'port':
      return validatePort(key, text, { allowZero: key === 'pacs.scuPort' });
    case 'count':
      return /^\d+$/.test(text) ? Number(text) : text;
    case 'switch':
      return validateSwitch(key, text);
  }
}

/** Returns the canonical key for a key or alias, ignoring case; throws for an unknown key. */
export function resolveConfigKey(key: string): string {
  const lowerKey = key.toLowerCase();
  const all = [...Object.keys(CONFIG_KEYS), ...Object.keys(KEY_ALIASES)];
  const match = all.find((candidate) => candidate.toLowerCase() === lowerKey);
  if (match === undefined) {
    throw new SettingsValidationError(
      key,
      `unknown setting ${JSON.stringify(key)}: use one of ${Object.keys(CONFIG_KEYS).join(', ')}`,
    );
  }
  return KEY_ALIASES[match] ?? match;
}

/** Parses, validates and saves one value; returns the canonical key and the stored value. */
export function setConfigValue(store: SettingsStore, key: string, text: string): { key: string; value: unknown } {
  const canonical = resolveConfigKey(key);
  const { section, field, kind } = CONFIG_KEYS[canonical];
  const value = parseValue(canonical, kind, text);
  const saved =
    section === 'pacs'
      ? store.updatePacs({ [field]: value } as Partial<PacsSettings>, { typed: true })
      : store.updateInterface({ [field]: value } as Partial<InterfaceSettings>);
  return { key: canonical, value: (saved as unknown as Record<string, unknown>)[field] };
}
