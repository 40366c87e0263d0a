/**
 * Export and import of registered locations (PACS and SSH entries) as JSON,
 * for moving a node list between installations.
 *
 * Passwords and passphrases live in the OS keychain and are never exported.
 * An imported entry that carries a password field is imported without it,
 * and the report names it, so that the user can store the secret with `loader secrets set`.
 */
import type { SettingsStore } from './settings-store';
import type { PacsNode, Settings, SshNode } from './settings-types';
import { quoteValue, SettingsValidationError, validatePacsNode, validateSshNode } from './validation';
import type { NamedLocation } from './validation';

export const LOCATIONS_FORMAT = 'sciberia-loader-locations';
export const LOCATIONS_FORMAT_VERSION = 1;

export interface LocationsFile {
  format: typeof LOCATIONS_FORMAT;
  version: number;
  pacs: PacsNode[];
  ssh: SshNode[];
}

export interface RejectedEntry {
  kind: 'pacs' | 'ssh';
  /** Name as written in the file, or "#<index>" when the entry has no usable name. */
  name: string;
  reason: string;
}

export interface ImportReport {
  imported: { kind: 'pacs' | 'ssh'; name: string }[];
  /** Registered entries that an imported entry of the same name replaced (only with `replace`). */
  replaced: string[];
  rejected: RejectedEntry[];
  /** Entries whose password fields were dropped. */
  passwordsIgnored: string[];
}

/** Field names that may carry a secret in a hand-written or foreign file. */
const SECRET_FIELDS = ['password', 'passphrase', 'secret'];

export function exportLocations(store: SettingsStore): LocationsFile {
  const { locations } = store.settings;
  // Re-validating keeps only the known fields, so nothing else can leak into the export.
  const pacs: PacsNode[] = [];
  for (const node of locations.pacs) pacs.push(validatePacsNode(node, pacs, 'stored'));
  const ssh: SshNode[] = [];
  for (const node of locations.ssh) ssh.push(validateSshNode(node, [...pacs, ...ssh], 'stored'));
  return { format: LOCATIONS_FORMAT, version: LOCATIONS_FORMAT_VERSION, pacs, ssh };
}

/** Parses the text of a locations file; throws SettingsValidationError when it is not one. */
export function parseLocationsFile(text: string, source: string): { pacs: unknown[]; ssh: unknown[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new SettingsValidationError(source, `${source} is not valid JSON: ${(error as Error).message}`);
  }
  const file = parsed as Partial<Record<keyof LocationsFile, unknown>>;
  if (typeof parsed !== 'object' || parsed === null || file.format !== LOCATIONS_FORMAT) {
    throw new SettingsValidationError(
      source,
      `${source} is not a locations file: expected "format": "${LOCATIONS_FORMAT}" (written by "loader nodes export")`,
    );
  }
  if (typeof file.version !== 'number' || file.version > LOCATIONS_FORMAT_VERSION) {
    throw new SettingsValidationError(
      source,
      `${source} has version ${JSON.stringify(file.version)}; this loader reads version ${LOCATIONS_FORMAT_VERSION}: update the loader`,
    );
  }
  for (const key of ['pacs', 'ssh'] as const) {
    if (file[key] !== undefined && !Array.isArray(file[key])) {
      throw new SettingsValidationError(source, `${source}: "${key}" must be a list of entries`);
    }
  }
  return { pacs: (file.pacs as unknown[] | undefined) ?? [], ssh: (file.ssh as unknown[] | undefined) ?? [] };
}

function entryName(entry: unknown, index: number): string {
  const name = (entry as { name?: unknown } | null)?.name;
  return typeof name === 'string' && name.trim() !== '' ? name.trim() : `#${index + 1}`;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Adds the valid entries of a locations file and reports the invalid ones by
 * name and rule. Without `replace`, an entry whose name is registered already
 * is rejected as a duplicate; with it, the imported entry takes its place.
 */
export function importLocations(
  store: SettingsStore,
  file: { pacs: unknown[]; ssh: unknown[] },
  options: { replace?: boolean } = {},
): ImportReport {
  const report: ImportReport = { imported: [], replaced: [], rejected: [], passwordsIgnored: [] };
  const current = store.settings.locations;
  const incomingNames = new Set<string>();
  const kinds = [
    { kind: 'pacs' as const, entries: file.pacs },
    { kind: 'ssh' as const, entries: file.ssh },
  ];

  // Names that appear in the file, so `replace` can drop the registered entries they replace.
  for (const { entries } of kinds) {
    entries.forEach((entry, index) => incomingNames.add(entryName(entry, index).toLowerCase()));
  }
  const keep = (node: NamedLocation) => !(options.replace && incomingNames.has(node.name.toLowerCase()));
  const next: Settings['locations'] = { pacs: current.pacs.filter(keep), ssh: current.ssh.filter(keep) };
  if (options.replace) {
    for (const node of [...current.pacs, ...current.ssh]) if (!keep(node)) report.replaced.push(node.name);
  }

  for (const { kind, entries } of kinds) {
    entries.forEach((entry, index) => {
      const name = entryName(entry, index);
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
        report.rejected.push({ kind, name, reason: `${kind} entry ${name} is not an object` });
        return;
      }
      if (SECRET_FIELDS.some((field) => field in entry)) report.passwordsIgnored.push(name);
      if (!options.replace && [...current.pacs, ...current.ssh].some((node) => node.name.toLowerCase() === name.toLowerCase())) {
        // Named here rather than by validation, because only an import can overwrite a node with --replace.
        report.rejected.push({ kind, name, reason: `node name ${quoteValue(name)} is already registered: import with --replace to overwrite it, or remove the existing node first` });
        return;
      }
      const others = [...next.pacs, ...next.ssh];
      try {
        if (kind === 'pacs') next.pacs.push(validatePacsNode(entry as PacsNode, others));
        else next.ssh.push(validateSshNode(entry as SshNode, others));
        report.imported.push({ kind, name });
      } catch (error) {
        report.rejected.push({ kind, name, reason: describe(error) });
      }
    });
  }

  // A replaced entry whose replacement was rejected stays registered.
  for (const rejected of report.rejected) {
    const lowerName = rejected.name.toLowerCase();
    const previous = [...current.pacs, ...current.ssh].find((node) => node.name.toLowerCase() === lowerName);
    if (previous === undefined || [...next.pacs, ...next.ssh].some((node) => node.name.toLowerCase() === lowerName)) continue;
    if (current.pacs.includes(previous as PacsNode)) next.pacs.push(previous as PacsNode);
    else next.ssh.push(previous as SshNode);
    report.replaced = report.replaced.filter((name) => name.toLowerCase() !== lowerName);
  }

  if (report.imported.length > 0 || report.replaced.length > 0) store.replaceLocations(next);
  return report;
}
