/**
 * Keys of the settings file that this version does not know, such as a typo
 * ("maxAssociation" for "maxAssociations"). The store warns about each one
 * at load with the closest known key. Unknown keys at the top level and in
 * the pacs, interface and locations sections are written back unchanged, so
 * a key of a newer version survives a change made with this one. Unknown
 * fields of node and account entries are dropped when the settings are
 * saved, because an entry keeps only its known fields (see validatePacsNode).
 */
import type { Settings } from './settings-types';

/** A key of the settings file that this version does not read. */
export interface UnknownKey {
  /** Dotted path, such as "pacs.maxAssociation" or "locations.pacs[PACS1].hostname". */
  path: string;
  /** The known key with the nearest spelling, as a dotted path, when one is close enough. */
  closest?: string;
  /** True when saving the settings keeps the key. */
  keptOnSave: boolean;
}

const TOP_LEVEL_KEYS = ['schemaVersion', 'pacs', 'interface', 'locations', 'serverAccounts'];
const LOCATION_KEYS = ['pacs', 'ssh'];
const PACS_NODE_KEYS = ['name', 'aeTitle', 'host', 'port', 'login', 'characterSet', 'timeouts', 'quirks'];
const SSH_NODE_KEYS = ['name', 'host', 'port', 'login', 'keyFile', 'defaultFolder'];
const ACCOUNT_KEYS = ['name'];

/** The sections whose unknown keys save() keeps. */
type KeptSection = 'pacs' | 'interface' | 'locations';

/** Returns the unknown keys of `stored`, the parsed settings file, in file order. */
export function findUnknownKeys(stored: Record<string, unknown>, defaults: Settings): UnknownKey[] {
  const sectionKeys: Record<KeptSection, string[]> = {
    pacs: Object.keys(defaults.pacs),
    interface: Object.keys(defaults.interface),
    locations: LOCATION_KEYS,
  };
  // A section key at the top level, such as "aeTitle", is matched against the keys of the sections too.
  const everyKnownPath = [
    ...TOP_LEVEL_KEYS,
    ...Object.entries(sectionKeys).flatMap(([section, keys]) => keys.map((key) => `${section}.${key}`)),
  ];

  const unknown: UnknownKey[] = [];
  for (const key of Object.keys(stored)) {
    if (!TOP_LEVEL_KEYS.includes(key)) unknown.push({ path: key, closest: closestKey(key, everyKnownPath), keptOnSave: true });
  }
  for (const section of Object.keys(sectionKeys) as KeptSection[]) {
    const value = stored[section];
    if (!isObject(value)) continue;
    for (const key of Object.keys(value)) {
      if (sectionKeys[section].includes(key)) continue;
      const closest = closestKey(key, sectionKeys[section]);
      unknown.push({ path: `${section}.${key}`, closest: closest === undefined ? undefined : `${section}.${closest}`, keptOnSave: true });
    }
  }

  const locations = isObject(stored.locations) ? stored.locations : {};
  unknown.push(...findUnknownEntryKeys(locations.pacs, 'locations.pacs', PACS_NODE_KEYS));
  unknown.push(...findUnknownEntryKeys(locations.ssh, 'locations.ssh', SSH_NODE_KEYS));
  unknown.push(...findUnknownEntryKeys(stored.serverAccounts, 'serverAccounts', ACCOUNT_KEYS));
  return unknown;
}

/** Describes an unknown key for a warning that names the settings file. */
export function describeUnknownKey(key: UnknownKey, file: string): string {
  const suggestion = key.closest === undefined ? '' : ` (did you mean ${key.closest}?)`;
  const fate = key.keptOnSave ? 'it is ignored' : 'it is ignored, and the next change of the settings removes it';
  return `settings file ${file} has the unknown key ${key.path}${suggestion}: ${fate}; fix or remove it in that file`;
}

/**
 * Copies the unknown keys that save() keeps from `stored`, the parsed
 * settings file, into `output`, the settings about to be written. Known keys
 * of `output` are never replaced.
 */
export function copyKeptUnknownKeys(stored: Record<string, unknown>, output: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(stored)) {
    if (!(key in output)) output[key] = structuredClone(value);
  }
  for (const section of ['pacs', 'interface', 'locations'] as const) {
    const storedSection = stored[section];
    const outputSection = output[section];
    if (!isObject(storedSection) || !isObject(outputSection)) continue;
    for (const [key, value] of Object.entries(storedSection)) {
      if (!(key in outputSection)) outputSection[key] = structuredClone(value);
    }
  }
}

function findUnknownEntryKeys(entries: unknown, listPath: string, knownKeys: string[]): UnknownKey[] {
  if (!Array.isArray(entries)) return [];
  const unknown: UnknownKey[] = [];
  entries.forEach((entry, index) => {
    if (!isObject(entry)) return;
    const label = typeof entry.name === 'string' && entry.name.trim() !== '' ? entry.name.trim() : `#${index + 1}`;
    for (const key of Object.keys(entry)) {
      if (knownKeys.includes(key)) continue;
      const closest = closestKey(key, knownKeys);
      unknown.push({ path: `${listPath}[${label}].${key}`, closest: closest === undefined ? undefined : `${listPath}[${label}].${closest}`, keptOnSave: false });
    }
  });
  return unknown;
}

/**
 * Returns the candidate nearest to `key` by edit distance, ignoring case,
 * when at most a third of the key's characters differ. A candidate path
 * such as "pacs.aeTitle" is compared by its last part.
 */
function closestKey(key: string, candidates: readonly string[]): string | undefined {
  const maxDistance = Math.max(1, Math.floor(key.length / 3));
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(key.toLowerCase(), candidate.slice(candidate.lastIndexOf('.') + 1).toLowerCase());
    if (distance <= maxDistance && (best === undefined || distance < best.distance)) best = { candidate, distance };
  }
  return best?.candidate;
}

/** Levenshtein distance: the insertions, deletions and substitutions that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
