/**
 * Persisted settings, stored as JSON by `conf` in the user's configuration
 * folder (or the folder given with --config-dir / LOADER_CONFIG_DIR).
 *
 * Loading never loses settings: a file that is not valid JSON is moved aside
 * and replaced by defaults. An invalid field falls back to its default and an
 * invalid entry is ignored, with a warning on every run, but both stay in the
 * file as they are until the user fixes or replaces them. Apart from moving a
 * corrupt file aside, opening the store never writes; only a change does.
 */
import fs from 'node:fs';
import path from 'node:path';

import type Conf from 'conf';
import envPaths from 'env-paths';

import { createLogger } from '../logger';
import { makePrivateFolder, OTHERS_WRITE, PRIVATE_FILE_MODE, tightenFileMode } from '../private-files';
import { findSharedSecretVariables, recordSharedSecretVariables } from '../secrets/env-secrets';
import { SETTINGS_LOCK_TIMEOUT_MS, settingsLockPath, withSettingsLock } from './settings-lock';
import { DEFAULT_MAX_ASSOCIATIONS_PER_AE, defaultLegacyCharacterSet, defaultSettings, localeVariable, SETTINGS_SCHEMA_VERSION } from './settings-types';
import type { InterfaceSettings, PacsNode, PacsSettings, ServerAccount, Settings, SshNode } from './settings-types';
import type { LegacyCharacterSetSource } from '../archive/legacy-charset-notice';
import {
  followsNodeNameRule,
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
import { copyKeptUnknownKeys, describeUnknownKey, findUnknownKeys } from './unknown-keys';

const log = createLogger('loader.settings');

const PROJECT_NAME = 'sciberia-loader';
const CONFIG_NAME = 'settings';

type Migration = (stored: Record<string, unknown>) => Record<string, unknown>;

/** Migrations keyed by the schema version they upgrade from. */
const MIGRATIONS: Record<number, Migration> = {};

/**
 * Stored values that failed validation at load, kept so that saving writes
 * them back unchanged instead of dropping them.
 */
interface InvalidStoredValues {
  pacs: Partial<Record<keyof PacsSettings, unknown>>;
  interface: Partial<Record<keyof InterfaceSettings, unknown>>;
  pacsNodes: unknown[];
  sshNodes: unknown[];
  serverAccounts: unknown[];
}

export class SettingsStore {
  private readonly file: SettingsFile;
  private current: Settings;
  readonly warnings: string[] = [];
  private readonly invalid: InvalidStoredValues = { pacs: {}, interface: {}, pacsNodes: [], sshNodes: [], serverAccounts: [] };

  private readonly logWarnings: boolean;
  private readonly configDir: string;
  private readonly lockTimeoutMs: number;

  /**
   * Whether interface.language was stored or set. Until then it follows the
   * locale of each process (LANG), and save() leaves it out of the file, so a
   * `loader config set` run from an English shell does not fix the window of a
   * Russian desktop to English.
   */
  private languageChosen = false;

  /**
   * Whether pacs.legacyCharacterSet was stored or set to another value. Until
   * then it follows the interface language (defaultLegacyCharacterSet), and
   * save() leaves it out of the file, as it does interface.language.
   */
  private legacyCharacterSetChosen = false;

  /** The settings file as loaded, whose unknown keys save() writes back (unknown-keys.ts). */
  private loadedFile: Record<string, unknown> = {};

  /**
   * Opens the settings file. With `logWarnings: false` the warnings about
   * invalid values are only collected in `warnings`, for a caller that reopens
   * the file often and logs each warning once. `lockTimeoutMs` is the maximum
   * wait of a change for the settings lock that another process holds.
   */
  constructor(options: { configDir?: string; logWarnings?: boolean; lockTimeoutMs?: number } = {}) {
    this.logWarnings = options.logWarnings ?? true;
    this.lockTimeoutMs = options.lockTimeoutMs ?? SETTINGS_LOCK_TIMEOUT_MS;
    const configDir = resolveConfigDir(options.configDir);
    this.configDir = configDir;
    try {
      this.file = new SettingsFile(configDir);
      this.current = this.load(this.file.readOrSetAside(this.warnings));
      this.warnAboutNodeNames();
      this.recordSharedSecretVariables();
    } catch (error) {
      throw describeFolderError(error, configDir);
    }
  }

  get path(): string {
    return this.file.path;
  }

  get settings(): Settings {
    return structuredClone(this.current);
  }

  /** Returns the stored PACS values that failed validation, which `settings` replaces with defaults, by field. */
  get invalidPacsValues(): Partial<Record<keyof PacsSettings, unknown>> {
    return structuredClone(this.invalid.pacs);
  }

  /**
   * Runs a change under the settings lock (see settings-lock.ts): reads the
   * file again, applies `apply`, which ends with save(), and releases the lock.
   * So what another process writes before or during this change is kept: a
   * `loader nodes add` while the window runs, or several at once.
   *
   * @throws SettingsLockTimeoutError when another process holds the lock for longer than lockTimeoutMs.
   */
  private change<T>(apply: () => T): T {
    return withSettingsLock(settingsLockPath(this.file.path), this.lockTimeoutMs, () => {
      this.reload();
      return apply();
    });
  }

  /**
   * Reads the file again, for a process that keeps the store open while another one may change the file, such as
   * the window while `loader nodes add` runs. Warnings about stored values were given at the first open.
   */
  reload(): void {
    const fresh = new SettingsStore({ configDir: this.configDir, logWarnings: false });
    this.current = fresh.current;
    Object.assign(this.invalid, fresh.invalid);
    this.languageChosen = fresh.languageChosen;
    this.legacyCharacterSetChosen = fresh.legacyCharacterSetChosen;
    this.loadedFile = fresh.loadedFile;
  }

  /**
   * Returns where pacs.legacyCharacterSet comes from, for `loader config show`:
   * the settings file, or the default for the interface language and the
   * setting or locale variable that chose that language.
   */
  describeLegacyCharacterSetSource(): string {
    if (this.legacyCharacterSetChosen) return `set in ${this.file.path}`;
    const language = this.current.interface.language;
    const languageSource = this.languageChosen ? `interface.language ${language}` : `locale ${localeVariable() ?? 'not set'}`;
    return `default for the ${language === 'ru' ? 'Russian' : 'non-Russian'} interface language (${languageSource})`;
  }

  /** Returns where pacs.legacyCharacterSet comes from, and whether it was set rather than defaulted. */
  legacyCharacterSetSource(): LegacyCharacterSetSource {
    return { chosen: this.legacyCharacterSetChosen, description: this.describeLegacyCharacterSetSource() };
  }

  /**
   * Saves `changes` to the PACS settings. `typed` marks changes that an operator typed field by field
   * (`loader config set`), so a pacs.legacyCharacterSet equal to the default is stored as set.
   */
  updatePacs(changes: Partial<PacsSettings>, options: { typed?: boolean } = {}): PacsSettings {
    return this.change(() => {
      const pacs = validatePacsSettings({ ...this.current.pacs, ...changes });
      // The settings window saves every PACS field, so there only a different value fixes the character set.
      if (changes.legacyCharacterSet !== undefined && (options.typed || changes.legacyCharacterSet !== this.current.pacs.legacyCharacterSet)) {
        this.legacyCharacterSetChosen = true;
      }
      this.current.pacs = pacs;
      for (const key of Object.keys(changes) as (keyof PacsSettings)[]) delete this.invalid.pacs[key];
      this.save();
      return pacs;
    });
  }

  updateInterface(changes: Partial<InterfaceSettings>): InterfaceSettings {
    return this.change(() => {
      const settings = validateInterfaceSettings({ ...this.current.interface, ...changes });
      this.current.interface = settings;
      if (changes.language !== undefined) this.languageChosen = true;
      if (!this.legacyCharacterSetChosen) this.current.pacs.legacyCharacterSet = defaultLegacyCharacterSet(settings.language);
      for (const key of Object.keys(changes) as (keyof InterfaceSettings)[]) delete this.invalid.interface[key];
      this.save();
      return settings;
    });
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
    return this.change(() => {
      const valid = validatePacsNode(node, this.allLocations());
      this.current.locations.pacs.push(valid);
      // A valid entry replaces an invalid stored entry of the same name, which is how a user repairs one.
      this.invalid.pacsNodes = withoutName(this.invalid.pacsNodes, valid.name);
      this.save();
      log.info('registered node', { name: valid.name, aeTitle: valid.aeTitle, host: valid.host, port: valid.port });
      return valid;
    });
  }

  /** Removes the node of this name, and any invalid stored entry of that name. */
  removePacsNode(name: string): boolean {
    return this.change(() => {
      const before = this.current.locations.pacs.length + this.invalid.pacsNodes.length;
      this.current.locations.pacs = this.current.locations.pacs.filter(
        (node) => node.name.toLowerCase() !== name.toLowerCase(),
      );
      this.invalid.pacsNodes = withoutName(this.invalid.pacsNodes, name);
      if (this.current.locations.pacs.length + this.invalid.pacsNodes.length === before) return false;
      this.save();
      log.info('removed node', { name });
      return true;
    });
  }

  listSshNodes(): SshNode[] {
    return structuredClone(this.current.locations.ssh);
  }

  findSshNode(name: string): SshNode | undefined {
    const wanted = name.toLowerCase();
    return this.current.locations.ssh.find((node) => node.name.toLowerCase() === wanted);
  }

  addSshNode(node: SshNode): SshNode {
    return this.change(() => {
      const valid = validateSshNode(node, this.allLocations());
      this.current.locations.ssh.push(valid);
      this.invalid.sshNodes = withoutName(this.invalid.sshNodes, valid.name);
      this.save();
      log.info('registered SSH node', { name: valid.name, host: valid.host, port: valid.port });
      return valid;
    });
  }

  /** Removes the SSH node of this name, and any invalid stored entry of that name. */
  removeSshNode(name: string): boolean {
    return this.change(() => {
      const before = this.current.locations.ssh.length + this.invalid.sshNodes.length;
      this.current.locations.ssh = this.current.locations.ssh.filter(
        (node) => node.name.toLowerCase() !== name.toLowerCase(),
      );
      this.invalid.sshNodes = withoutName(this.invalid.sshNodes, name);
      if (this.current.locations.ssh.length + this.invalid.sshNodes.length === before) return false;
      this.save();
      log.info('removed SSH node', { name });
      return true;
    });
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
    return this.change(() => {
      const valid = validateServerAccount(account, this.current.serverAccounts);
      this.current.serverAccounts.push(valid);
      this.invalid.serverAccounts = withoutName(this.invalid.serverAccounts, valid.name);
      this.save();
      log.info('added server account', { name: valid.name });
      return valid;
    });
  }

  removeServerAccount(name: string): boolean {
    return this.change(() => {
      const before = this.current.serverAccounts.length + this.invalid.serverAccounts.length;
      this.current.serverAccounts = this.current.serverAccounts.filter((account) => account.name.toLowerCase() !== name.toLowerCase());
      this.invalid.serverAccounts = withoutName(this.invalid.serverAccounts, name);
      if (this.current.serverAccounts.length + this.invalid.serverAccounts.length === before) return false;
      this.save();
      log.info('removed server account', { name });
      return true;
    });
  }

  /**
   * Replaces both location lists at once, for imports. Every entry is
   * validated against the ones before it, and nothing is saved when one fails.
   */
  replaceLocations(locations: Settings['locations']): void {
    this.change(() => {
      const valid: Settings['locations'] = { pacs: [], ssh: [] };
      // Registered entries may have names that only an earlier version accepted; importLocations checks the new ones.
      for (const node of locations.pacs) valid.pacs.push(validatePacsNode(node, valid.pacs, 'stored'));
      for (const node of locations.ssh) valid.ssh.push(validateSshNode(node, [...valid.pacs, ...valid.ssh], 'stored'));
      this.current.locations = valid;
      for (const node of [...valid.pacs, ...valid.ssh]) {
        this.invalid.pacsNodes = withoutName(this.invalid.pacsNodes, node.name);
        this.invalid.sshNodes = withoutName(this.invalid.sshNodes, node.name);
      }
      this.save();
      log.info('replaced locations', { pacs: valid.pacs.length, ssh: valid.ssh.length });
    });
  }

  private allLocations(): NamedLocation[] {
    return [...this.current.locations.pacs, ...this.current.locations.ssh];
  }

  /** Writes the settings, with the invalid stored values and entries put back as they were loaded. */
  private save(): void {
    const stored = structuredClone(this.current) as unknown as Record<string, unknown> & Settings;
    Object.assign(stored.pacs, structuredClone(this.invalid.pacs));
    if (!this.languageChosen) delete (stored.interface as Partial<InterfaceSettings>).language;
    if (!this.legacyCharacterSetChosen) delete (stored.pacs as Partial<PacsSettings>).legacyCharacterSet;
    Object.assign(stored.interface, structuredClone(this.invalid.interface));
    (stored.locations.pacs as unknown[]).push(...structuredClone(this.invalid.pacsNodes));
    (stored.locations.ssh as unknown[]).push(...structuredClone(this.invalid.sshNodes));
    (stored.serverAccounts as unknown[]).push(...structuredClone(this.invalid.serverAccounts));
    copyKeptUnknownKeys(this.loadedFile, stored);
    this.file.write(stored);
    this.recordSharedSecretVariables();
  }

  /** Tells resolveNodeSecret which secret variables several registered nodes map to. */
  private recordSharedSecretVariables(): void {
    recordSharedSecretVariables(findSharedSecretVariables(this.allLocations().map((node) => node.name)));
  }

  /**
   * Warns about stored node names that new entries may no longer have: names
   * with other characters, and names that share a secret variable.
   */
  private warnAboutNodeNames(): void {
    const names = this.allLocations().map((node) => node.name);
    for (const name of names.filter((each) => !followsNodeNameRule(each))) {
      this.warn(
        `node name ${JSON.stringify(name)} has characters other than letters, digits, '-', '_' and '.': it still works, ` +
          `but new names may not have them; to rename it, remove it with "loader nodes remove" and add it again`,
      );
    }
    for (const [variable, sharing] of findSharedSecretVariables(names)) {
      this.warn(
        `nodes ${sharing.join(' and ')} map to the same password variable ${variable}, so no password is read from ` +
          `that variable for them: use the keychain ("loader secrets set NODE"), or remove all but one with ` +
          `"loader nodes remove NAME" and register them again under names that map to different variables`,
      );
    }
  }

  private load(stored: Record<string, unknown>): Settings {
    const defaults = defaultSettings();
    if (Object.keys(stored).length === 0) return defaults;

    let version = typeof stored.schemaVersion === 'number' ? stored.schemaVersion : 1;
    if (version > SETTINGS_SCHEMA_VERSION) {
      this.warn(
        `settings file ${this.file.path} has schema version ${version}, newer than this loader's ` +
          `${SETTINGS_SCHEMA_VERSION}: unknown fields are ignored; update the loader to use them`,
      );
    }
    while (version < SETTINGS_SCHEMA_VERSION) {
      const migrate = MIGRATIONS[version];
      if (migrate) stored = migrate(stored);
      version += 1;
    }

    const settings = this.recoverFields(stored, defaults);
    settings.schemaVersion = SETTINGS_SCHEMA_VERSION;
    this.loadedFile = stored;
    // A newer version's fields were announced by the warning above as a group.
    if (version <= SETTINGS_SCHEMA_VERSION) {
      for (const key of findUnknownKeys(stored, defaults)) this.warn(describeUnknownKey(key, this.file.path));
    }
    return settings;
  }

  /**
   * Keeps each valid field and entry. An invalid field falls back to its
   * default and an invalid entry is left out, each with a warning, and both
   * are remembered so that save() writes them back unchanged.
   */
  private recoverFields(stored: Record<string, unknown>, defaults: Settings): Settings {
    const settings = structuredClone(defaults);

    const pacs = { ...defaults.pacs, ...(stored.pacs as Partial<PacsSettings> | undefined) };
    for (const key of Object.keys(defaults.pacs) as (keyof PacsSettings)[]) {
      if (key === 'maxAssociationsPerAe') continue;
      try {
        // A per-AE limit of 1 lets every valid maxAssociations pass the check against it.
        validatePacsSettings({ ...defaults.pacs, maxAssociationsPerAe: 1, [key]: pacs[key] });
        (settings.pacs as unknown as Record<string, unknown>)[key] = pacs[key];
      } catch (error) {
        this.invalid.pacs[key] = pacs[key];
        this.warnInvalidField(error, `pacs.${key}`, defaults.pacs[key]);
      }
    }
    this.recoverMaxAssociationsPerAe(settings.pacs, (stored.pacs as Partial<Record<keyof PacsSettings, unknown>> | undefined)?.maxAssociationsPerAe);

    const storedInterface = (stored.interface ?? {}) as Partial<Record<keyof InterfaceSettings, unknown>>;
    const interfaceFields = {
      language: (value: unknown) => (settings.interface.language = validateLanguage('interface.language', value)),
      theme: (value: unknown) => (settings.interface.theme = validateTheme('interface.theme', value)),
      trayIcon: (value: unknown) => (settings.interface.trayIcon = validateSwitch('interface.trayIcon', value)),
    };
    for (const [key, apply] of Object.entries(interfaceFields) as [keyof InterfaceSettings, (value: unknown) => void][]) {
      if (storedInterface[key] === undefined) continue;
      if (key === 'language') this.languageChosen = true;
      try {
        apply(storedInterface[key]);
      } catch (error) {
        this.invalid.interface[key] = storedInterface[key];
        this.warnInvalidField(error, `interface.${key}`, defaults.interface[key]);
      }
    }

    if ((stored.pacs as Partial<PacsSettings> | undefined)?.legacyCharacterSet !== undefined) this.legacyCharacterSetChosen = true;
    else settings.pacs.legacyCharacterSet = defaultLegacyCharacterSet(settings.interface.language);

    const locations = stored.locations as Partial<Settings['locations']> | undefined;
    // Entries are checked in file order, so of two nodes with one name or AE title the first is kept.
    const pacsNodes = Array.isArray(locations?.pacs) ? locations.pacs : [];
    pacsNodes.forEach((node, index) => {
      try {
        settings.locations.pacs.push(validatePacsNode(node, settings.locations.pacs, 'stored'));
      } catch (error) {
        this.invalid.pacsNodes.push(node);
        this.warnInvalidEntry(error, 'node', node, index, 'loader nodes remove');
      }
    });
    const sshNodes = Array.isArray(locations?.ssh) ? locations.ssh : [];
    sshNodes.forEach((node, index) => {
      try {
        settings.locations.ssh.push(validateSshNode(node, [...settings.locations.pacs, ...settings.locations.ssh], 'stored'));
      } catch (error) {
        this.invalid.sshNodes.push(node);
        this.warnInvalidEntry(error, 'SSH node', node, index, 'loader nodes remove');
      }
    });
    const accounts = Array.isArray(stored.serverAccounts) ? stored.serverAccounts : [];
    accounts.forEach((account, index) => {
      try {
        settings.serverAccounts.push(validateServerAccount(account as ServerAccount, settings.serverAccounts));
      } catch (error) {
        this.invalid.serverAccounts.push(account);
        this.warnInvalidEntry(error, 'server account', account, index, 'loader users remove');
      }
    });
    return settings;
  }

  /**
   * Sets pacs.maxAssociationsPerAe from the stored value, checked against the maxAssociations already
   * recovered. A file without it, such as one written before the setting existed, gets
   * DEFAULT_MAX_ASSOCIATIONS_PER_AE, lowered to maxAssociations when that is smaller.
   */
  private recoverMaxAssociationsPerAe(pacs: PacsSettings, stored: unknown): void {
    const fallback = Math.min(DEFAULT_MAX_ASSOCIATIONS_PER_AE, pacs.maxAssociations);
    pacs.maxAssociationsPerAe = fallback;
    if (stored === undefined) return;
    try {
      validatePacsSettings({ ...pacs, maxAssociationsPerAe: stored as number });
      pacs.maxAssociationsPerAe = stored as number;
    } catch (error) {
      this.invalid.pacs.maxAssociationsPerAe = stored;
      this.warnInvalidField(error, 'pacs.maxAssociationsPerAe', fallback);
    }
  }

  private warnInvalidField(error: unknown, key: string, defaultValue: unknown): void {
    this.warn(
      `${describeError(error)}; using the default ${JSON.stringify(defaultValue)} until the value in ${this.file.path} ` +
        `is fixed or replaced with "loader config set ${key} VALUE"`,
    );
  }

  private warnInvalidEntry(error: unknown, kind: string, entry: unknown, index: number, removeCommand: string): void {
    const name = entryName(entry);
    const label = name === undefined ? `${kind} entry #${index + 1}` : `${kind} ${name}`;
    const fix = name === undefined ? 'is fixed' : `is fixed or removed with "${removeCommand} ${name}"`;
    this.warn(`${describeError(error)}; ${label} is ignored until its entry in ${this.file.path} ${fix}`);
  }

  private warn(message: string): void {
    this.warnings.push(message);
    if (this.logWarnings) log.warn(message);
  }
}

function describeError(error: unknown): string {
  return error instanceof SettingsValidationError || error instanceof Error ? error.message : String(error);
}

/** Returns the trimmed name of a stored entry, or undefined when it has none. */
function entryName(entry: unknown): string | undefined {
  const name = (entry as { name?: unknown } | null)?.name;
  return typeof name === 'string' && name.trim() !== '' ? name.trim() : undefined;
}

function withoutName(entries: unknown[], name: string): unknown[] {
  return entries.filter((entry) => entryName(entry)?.toLowerCase() !== name.trim().toLowerCase());
}

/**
 * Turns a file system error on the settings folder into a message that names
 * the folder and the fix; other errors are returned unchanged.
 */
function describeFolderError(error: unknown, configDir: string): unknown {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  const elsewhere = 'or choose another settings folder with --config-dir or LOADER_CONFIG_DIR';
  if (code === 'ENOTDIR' || code === 'EEXIST') {
    return new Error(
      `settings folder ${configDir} is not a folder: a file has that name or is part of its path; ` +
        `rename or remove that file, ${elsewhere}`,
      { cause: error },
    );
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new Error(
      `settings folder ${configDir} cannot be read or created: permission denied; ` +
        `give this user access to it, ${elsewhere}`,
      { cause: error },
    );
  }
  return error;
}

/** Returns the folder of the settings file: the one given, or the user's configuration folder. */
export function resolveConfigDir(configDir?: string): string {
  return configDir ?? process.env.LOADER_CONFIG_DIR ?? envPaths(PROJECT_NAME, { suffix: '' }).config;
}

/**
 * The settings file. Reading parses the JSON here, and `conf` is loaded only
 * for the first write. Requiring conf 10 loads ajv and semver, which took
 * about 35 ms of every command's start (Node 20 on a 2-core AMD EPYC), and
 * most commands only read the settings.
 */
class SettingsFile {
  readonly path: string;
  private conf?: Conf<Record<string, unknown>>;

  constructor(private readonly configDir: string) {
    this.path = path.resolve(configDir, `${CONFIG_NAME}.json`);
  }

  /**
   * Returns the stored object as conf 10 reads it: a missing file is an empty
   * store and creates the settings folder. A file that is not valid JSON is
   * renamed to settings.json.corrupt-<time> first, so that nothing is lost,
   * and reading starts from an empty store.
   */
  readOrSetAside(warnings: string[]): Record<string, unknown> {
    let text: string;
    try {
      text = fs.readFileSync(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      makePrivateFolder(path.dirname(this.path));
      return Object.create(null) as Record<string, unknown>;
    }
    // conf 10 wrote the file with mode 0666 whatever the umask, so files of earlier versions may be writable by every user.
    tightenFileMode(this.path, OTHERS_WRITE, log);
    try {
      return Object.assign(Object.create(null) as Record<string, unknown>, JSON.parse(text));
    } catch (error) {
      const aside = `${this.path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      fs.renameSync(this.path, aside);
      const message =
        `settings file ${this.path} is not valid JSON (${(error as Error).message}); ` +
        `moved it to ${aside} and started from defaults`;
      warnings.push(message);
      log.warn(message);
      return Object.create(null) as Record<string, unknown>;
    }
  }

  /** Replaces the file's content; conf writes it atomically (a temporary file, then a rename). */
  write(stored: Record<string, unknown>): void {
    if (!this.conf) {
      const { default: ConfStore } = require('conf') as typeof import('conf');
      // new Conf() reads the file again, and clearInvalidConfig keeps a file damaged since the open from blocking the write.
      this.conf = new ConfStore<Record<string, unknown>>({ projectName: PROJECT_NAME, configName: CONFIG_NAME, cwd: this.configDir, clearInvalidConfig: true, configFileMode: PRIVATE_FILE_MODE });
    }
    this.conf.store = stored;
  }
}
