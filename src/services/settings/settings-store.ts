/**
 * Persisted settings, stored as JSON by `conf` in the user's configuration
 * folder (or the folder given with --config-dir / LOADER_CONFIG_DIR).
 *
 * Loading never loses valid settings: a file that is not valid JSON is moved
 * aside and replaced by defaults, and a single invalid field falls back to its
 * default while the rest of the file is kept. Each recovery is logged.
 */
import fs from 'node:fs';
import path from 'node:path';

import Conf from 'conf';
import envPaths from 'env-paths';

import { createLogger } from '../logger';
import { defaultSettings, SETTINGS_SCHEMA_VERSION } from './settings-types';
import type { InterfaceSettings, PacsNode, PacsSettings, ServerAccount, Settings, SshNode } from './settings-types';
import {
  SettingsValidationError,
  validateInterfaceSettings,
  validateLanguage,
  validatePacsNode,
  validatePacsSettings,
  validateServerAccount,
  validateSshNode,
  validateSwitch,
  validateTheme,
} from './validation';
import type { NamedLocation } from './validation';

const log = createLogger('loader.settings');

const PROJECT_NAME = 'sciberia-loader';
const CONFIG_NAME = 'settings';

type Migration = (stored: Record<string, unknown>) => Record<string, unknown>;

/** Migrations keyed by the schema version they upgrade from. */
const MIGRATIONS: Record<number, Migration> = {};

export class SettingsStore {
  private readonly conf: Conf<Record<string, unknown>>;
  private current: Settings;
  readonly warnings: string[] = [];
  /** Set by load() when invalid values fell back to defaults, so the constructor writes the repaired file once. */
  private repairOnOpen = false;

  constructor(options: { configDir?: string } = {}) {
    this.conf = createConf(resolveConfigDir(options.configDir), this.warnings);
    this.current = this.load();
    if (this.repairOnOpen) this.save();
  }

  get path(): string {
    return this.conf.path;
  }

  get settings(): Settings {
    return structuredClone(this.current);
  }

  updatePacs(changes: Partial<PacsSettings>): PacsSettings {
    const pacs = validatePacsSettings({ ...this.current.pacs, ...changes });
    this.current.pacs = pacs;
    this.save();
    return pacs;
  }

  updateInterface(changes: Partial<InterfaceSettings>): InterfaceSettings {
    const settings = validateInterfaceSettings({ ...this.current.interface, ...changes });
    this.current.interface = settings;
    this.save();
    return settings;
  }

  listPacsNodes(): PacsNode[] {
    return structuredClone(this.current.locations.pacs);
  }

  findPacsNode(name: string): PacsNode | undefined {
    const wanted = name.toLowerCase();
    return this.current.locations.pacs.find((node) => node.name.toLowerCase() === wanted);
  }

  /** Returns the registered nodes that use this AE title (case-sensitive, as AE titles are). */
  findPacsNodesByAeTitle(aeTitle: string): PacsNode[] {
    return this.current.locations.pacs.filter((node) => node.aeTitle === aeTitle.trim());
  }

  addPacsNode(node: PacsNode): PacsNode {
    const valid = validatePacsNode(node, this.allLocations());
    this.current.locations.pacs.push(valid);
    this.save();
    log.info('registered node', { name: valid.name, aeTitle: valid.aeTitle, host: valid.host, port: valid.port });
    return valid;
  }

  removePacsNode(name: string): boolean {
    const before = this.current.locations.pacs.length;
    this.current.locations.pacs = this.current.locations.pacs.filter(
      (node) => node.name.toLowerCase() !== name.toLowerCase(),
    );
    if (this.current.locations.pacs.length === before) return false;
    this.save();
    log.info('removed node', { name });
    return true;
  }

  listSshNodes(): SshNode[] {
    return structuredClone(this.current.locations.ssh);
  }

  findSshNode(name: string): SshNode | undefined {
    const wanted = name.toLowerCase();
    return this.current.locations.ssh.find((node) => node.name.toLowerCase() === wanted);
  }

  addSshNode(node: SshNode): SshNode {
    const valid = validateSshNode(node, this.allLocations());
    this.current.locations.ssh.push(valid);
    this.save();
    log.info('registered SSH node', { name: valid.name, host: valid.host, port: valid.port });
    return valid;
  }

  removeSshNode(name: string): boolean {
    const before = this.current.locations.ssh.length;
    this.current.locations.ssh = this.current.locations.ssh.filter(
      (node) => node.name.toLowerCase() !== name.toLowerCase(),
    );
    if (this.current.locations.ssh.length === before) return false;
    this.save();
    log.info('removed SSH node', { name });
    return true;
  }

  listServerAccounts(): ServerAccount[] {
    return structuredClone(this.current.serverAccounts);
  }

  /** Returns the server account with this name; the lookup ignores case, as for node names. */
  findServerAccount(name: string): ServerAccount | undefined {
    const wanted = name.toLowerCase();
    return this.current.serverAccounts.find((account) => account.name.toLowerCase() === wanted);
  }

  addServerAccount(account: ServerAccount): ServerAccount {
    const valid = validateServerAccount(account, this.current.serverAccounts);
    this.current.serverAccounts.push(valid);
    this.save();
    log.info('added server account', { name: valid.name });
    return valid;
  }

  removeServerAccount(name: string): boolean {
    const before = this.current.serverAccounts.length;
    this.current.serverAccounts = this.current.serverAccounts.filter((account) => account.name.toLowerCase() !== name.toLowerCase());
    if (this.current.serverAccounts.length === before) return false;
    this.save();
    log.info('removed server account', { name });
    return true;
  }

  /**
   * Replaces both location lists at once, for imports. Every entry is
   * validated against the ones before it, and nothing is saved when one fails.
   */
  replaceLocations(locations: Settings['locations']): void {
    const valid: Settings['locations'] = { pacs: [], ssh: [] };
    for (const node of locations.pacs) valid.pacs.push(validatePacsNode(node, valid.pacs));
    for (const node of locations.ssh) valid.ssh.push(validateSshNode(node, [...valid.pacs, ...valid.ssh]));
    this.current.locations = valid;
    this.save();
    log.info('replaced locations', { pacs: valid.pacs.length, ssh: valid.ssh.length });
  }

  private allLocations(): NamedLocation[] {
    return [...this.current.locations.pacs, ...this.current.locations.ssh];
  }

  private save(): void {
    this.conf.store = structuredClone(this.current) as unknown as Record<string, unknown>;
  }

  private load(): Settings {
    let stored = this.conf.store as Record<string, unknown>;
    const defaults = defaultSettings();
    if (Object.keys(stored).length === 0) return defaults;

    let version = typeof stored.schemaVersion === 'number' ? stored.schemaVersion : 1;
    if (version > SETTINGS_SCHEMA_VERSION) {
      this.warn(
        `settings file ${this.conf.path} has schema version ${version}, newer than this loader's ` +
          `${SETTINGS_SCHEMA_VERSION}: unknown fields are ignored; update the loader to use them`,
      );
    }
    while (version < SETTINGS_SCHEMA_VERSION) {
      const migrate = MIGRATIONS[version];
      if (migrate) stored = migrate(stored);
      version += 1;
    }

    const warningsBefore = this.warnings.length;
    const settings = this.recoverFields(stored, defaults);
    settings.schemaVersion = SETTINGS_SCHEMA_VERSION;
    if (this.warnings.length > warningsBefore) {
      this.keepCopyOfInvalidFile();
      this.repairOnOpen = true;
    }
    return settings;
  }

  /** Keeps each valid section and node; replaces invalid ones with defaults and records a warning. */
  private recoverFields(stored: Record<string, unknown>, defaults: Settings): Settings {
    const settings = structuredClone(defaults);

    const pacs = { ...defaults.pacs, ...(stored.pacs as Partial<PacsSettings> | undefined) };
    for (const key of Object.keys(defaults.pacs) as (keyof PacsSettings)[]) {
      try {
        validatePacsSettings({ ...defaults.pacs, [key]: pacs[key] });
        (settings.pacs as unknown as Record<string, unknown>)[key] = pacs[key];
      } catch (error) {
        this.warn(`${describeError(error)}; using the default ${JSON.stringify(defaults.pacs[key])}`);
      }
    }

    const storedInterface = (stored.interface ?? {}) as Partial<Record<keyof InterfaceSettings, unknown>>;
    const interfaceFields = {
      language: (value: unknown) => (settings.interface.language = validateLanguage('interface.language', value)),
      theme: (value: unknown) => (settings.interface.theme = validateTheme('interface.theme', value)),
      trayIcon: (value: unknown) => (settings.interface.trayIcon = validateSwitch('interface.trayIcon', value)),
    };
    for (const [key, apply] of Object.entries(interfaceFields) as [keyof InterfaceSettings, (value: unknown) => void][]) {
      if (storedInterface[key] === undefined) continue;
      try {
        apply(storedInterface[key]);
      } catch (error) {
        this.warn(`${describeError(error)}; using the default ${JSON.stringify(defaults.interface[key])}`);
      }
    }

    const locations = stored.locations as Partial<Settings['locations']> | undefined;
    for (const node of Array.isArray(locations?.pacs) ? locations.pacs : []) {
      try {
        settings.locations.pacs.push(validatePacsNode(node, settings.locations.pacs));
      } catch (error) {
        this.warn(`${describeError(error)}; this node entry was skipped`);
      }
    }
    for (const node of Array.isArray(locations?.ssh) ? locations.ssh : []) {
      try {
        settings.locations.ssh.push(validateSshNode(node, [...settings.locations.pacs, ...settings.locations.ssh]));
      } catch (error) {
        this.warn(`${describeError(error)}; this SSH entry was skipped`);
      }
    }
    for (const account of Array.isArray(stored.serverAccounts) ? stored.serverAccounts : []) {
      try {
        settings.serverAccounts.push(validateServerAccount(account as ServerAccount, settings.serverAccounts));
      } catch (error) {
        this.warn(`${describeError(error)}; this server account was skipped`);
      }
    }
    return settings;
  }

  /**
   * Copies the file as loaded, because the next save drops the entries that
   * failed validation and the user may want to repair them by hand.
   */
  private keepCopyOfInvalidFile(): void {
    const copy = `${this.conf.path}.invalid-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    try {
      fs.copyFileSync(this.conf.path, copy);
      this.warn(`kept a copy of the settings file with its invalid values at ${copy}`);
    } catch (error) {
      this.warn(`could not copy the settings file to ${copy}: ${(error as Error).message}`);
    }
  }

  private warn(message: string): void {
    this.warnings.push(message);
    log.warn(message);
  }
}

function describeError(error: unknown): string {
  return error instanceof SettingsValidationError || error instanceof Error ? error.message : String(error);
}

/** Returns the folder of the settings file: the one given, or the user's configuration folder. */
export function resolveConfigDir(configDir?: string): string {
  return configDir ?? process.env.LOADER_CONFIG_DIR ?? envPaths(PROJECT_NAME, { suffix: '' }).config;
}

/**
 * Opens the conf store. A file that is not valid JSON is renamed to
 * settings.json.corrupt-<time> first, so that nothing is lost, and a fresh file is started.
 */
function createConf(configDir: string, warnings: string[]): Conf<Record<string, unknown>> {
  const file = path.join(configDir, `${CONFIG_NAME}.json`);
  if (fs.existsSync(file)) {
    try {
      JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (error) {
      const aside = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      fs.renameSync(file, aside);
      const message =
        `settings file ${file} is not valid JSON (${(error as Error).message}); ` +
        `moved it to ${aside} and started from defaults`;
      warnings.push(message);
      log.warn(message);
    }
  }
  return new Conf<Record<string, unknown>>({ projectName: PROJECT_NAME, configName: CONFIG_NAME, cwd: configDir });
}
