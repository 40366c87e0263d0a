/**
 * Field rules for settings. Every message names the field, the rejected value
 * and the rule, so that a user can fix the value without reading code.
 */
import { isIP } from 'node:net';

import {
  findUnknownCharacterSets,
  isLegacyCharacterSet,
  LEGACY_CHARACTER_SETS,
  parseSpecificCharacterSet,
  type LegacyCharacterSet,
} from '../../dicom/charset';
import { secretEnvVarName } from '../secrets/env-secrets';
import { ARCHIVE_DURABILITY_MODES, isArchiveDurability, type ArchiveDurability } from '../archive/durability';
import { DEFAULT_NODE_TIMEOUTS } from './settings-types';
import type { InterfaceSettings, NodeTimeouts, PacsNode, PacsSettings, ServerAccount, SshNode } from './settings-types';

/**
 * The broken rule of a settings value, for an interface that shows the error
 * in its own language in place of the English message. Values are as given.
 */
export type SettingsRule =
  | { rule: 'aeTitleLength'; value: string }
  | { rule: 'aeTitleCharacters'; value: string }
  | { rule: 'host'; value: string }
  | { rule: 'port'; value: string; minimum: number }
  | { rule: 'nodeName'; value: string }
  | { rule: 'nameTaken'; name: string }
  | { rule: 'secretVariableTaken'; name: string; variable: string; owner: string }
  | { rule: 'aeTitleTaken'; aeTitle: string; owner: string; host: string; port: number };

export class SettingsValidationError extends Error {
  constructor(
    readonly field: string,
    message: string,
    /** The broken rule of an error that the settings window translates, or undefined for other errors. */
    readonly broken?: SettingsRule,
  ) {
    super(message);
    this.name = 'SettingsValidationError';
  }
}

/** Quotes a value for an error message, with control characters made visible. */
export function quoteValue(value: unknown): string {
  return JSON.stringify(String(value));
}

/**
 * Checks an AE title: 1-16 characters of the default repertoire without
 * backslash or control characters, and not only spaces (PS3.5 table 6.2-1, VR AE).
 */
export function validateAeTitle(field: string, value: unknown): string {
  if (typeof value !== 'string') {
    throw new SettingsValidationError(field, `${field} must be text, got ${quoteValue(value)}`);
  }
  const trimmed = value.trim();
  if (trimmed.length === 0 || value.length > 16) {
    throw new SettingsValidationError(
      field,
      `${field} ${quoteValue(value)} is invalid: an AE title has 1 to 16 characters`,
      { rule: 'aeTitleLength', value },
    );
  }
  if (/[\\\x00-\x1f\x7f]/.test(value) || /[^\x20-\x7e]/.test(value)) {
    throw new SettingsValidationError(
      field,
      `${field} ${quoteValue(value)} is invalid: use printable ASCII without backslash or control characters`,
      { rule: 'aeTitleCharacters', value },
    );
  }
  return trimmed;
}

export function validatePort(field: string, value: unknown, options: { allowZero?: boolean } = {}): number {
  const port = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  const minimum = options.allowZero ? 0 : 1;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < minimum || port > 65535) {
    throw new SettingsValidationError(
      field,
      `${field} ${quoteValue(value)} is invalid: a port is a whole number from ${minimum} to 65535`,
      { rule: 'port', value: String(value), minimum },
    );
  }
  return port;
}

/**
 * Accepts an IPv4 or IPv6 address or a host name of RFC 1123 labels. A name
 * whose last label is all digits is rejected, because RFC 1123 section 2.1
 * keeps the dotted-decimal form for addresses, so "999.1.1.1" is an invalid
 * address and not a host name.
 */
export function validateHost(field: string, value: unknown): string {
  const host = typeof value === 'string' ? value.trim() : '';
  const hostName = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
  const numericLastLabel = /(^|\.)\d+$/;
  if (isIP(host) === 0 && (!hostName.test(host) || numericLastLabel.test(host))) {
    throw new SettingsValidationError(
      field,
      `${field} ${quoteValue(value)} is invalid: give an IPv4 address (four numbers from 0 to 255, such as 10.0.0.5), ` +
        "an IPv6 address, or a host name of letters, digits, '-' and '.' whose last part is not all digits",
      { rule: 'host', value: String(value) },
    );
  }
  return host;
}

export function validateName(field: string, value: unknown): string {
  const name = typeof value === 'string' ? value.trim() : '';
  if (name.length === 0 || name.length > 64 || /[\x00-\x1f\x7f]/.test(name)) {
    throw new SettingsValidationError(
      field,
      `${field} ${quoteValue(value)} is invalid: a name has 1 to 64 characters without control characters`,
    );
  }
  return name;
}

/**
 * Letters of any script, digits, '-', '_' and '.', starting with a letter or
 * digit, so names stay usable as command arguments. A name that also
 * passes checkUniqueSecretVariable has a secret variable (LOADER_SECRET_<NAME>) of its own.
 */
const NODE_NAME_PATTERN = /^[\p{L}\p{Nd}][\p{L}\p{Nd}._-]{0,63}$/u;
const NODE_NAME_RULE = "a node name has 1 to 64 letters, digits, '-', '_' or '.', and starts with a letter or digit";

/** Checks the name of a node that is being added, imported or renamed. */
export function validateNodeName(field: string, value: unknown): string {
  const name = typeof value === 'string' ? value.trim() : '';
  if (!NODE_NAME_PATTERN.test(name)) {
    throw new SettingsValidationError(field, `${field} ${quoteValue(value)} is invalid: ${NODE_NAME_RULE}`, { rule: 'nodeName', value: String(value) });
  }
  return name;
}

/** Returns true when a stored node name follows the rule for new names. */
export function followsNodeNameRule(name: string): boolean {
  return NODE_NAME_PATTERN.test(name);
}

export function validatePacsSettings(pacs: PacsSettings): PacsSettings {
  const valid: PacsSettings = {
    ...pacs,
    aeTitle: validateAeTitle('pacs.aeTitle', pacs.aeTitle),
    host: validateHost('pacs.host', pacs.host),
    port: validatePort('pacs.port', pacs.port),
    scuPort: validatePort('pacs.scuPort', pacs.scuPort, { allowZero: true }),
    moveScuPort: validatePort('pacs.moveScuPort', pacs.moveScuPort),
    maxAssociations: validatePositiveInteger('pacs.maxAssociations', pacs.maxAssociations),
    maxAssociationsPerAe: validatePositiveInteger('pacs.maxAssociationsPerAe', pacs.maxAssociationsPerAe),
    acceptAnyCallingAeTitle: validateBoolean('pacs.acceptAnyCallingAeTitle', pacs.acceptAnyCallingAeTitle),
    checkCalledAeTitle: validateBoolean('pacs.checkCalledAeTitle', pacs.checkCalledAeTitle),
    checkCallingAeHost: validateBoolean('pacs.checkCallingAeHost', pacs.checkCallingAeHost),
    storeDurability: validateDurability('pacs.storeDurability', pacs.storeDurability),
    requireUserIdentity: validateBoolean('pacs.requireUserIdentity', pacs.requireUserIdentity),
    startWithWindow: validateBoolean('pacs.startWithWindow', pacs.startWithWindow),
    legacyCharacterSet: validateLegacyCharacterSet('pacs.legacyCharacterSet', pacs.legacyCharacterSet),
  };
  checkAssociationLimits(valid.maxAssociations, valid.maxAssociationsPerAe);
  return valid;
}

/**
 * Throws when the per-AE limit is more than pacs.maxAssociations, which it could never reach.
 * `field` names where the per-AE limit came from, such as a command-line option.
 */
export function checkAssociationLimits(maxAssociations: number, maxAssociationsPerAe: number, field = 'pacs.maxAssociationsPerAe'): void {
  if (maxAssociationsPerAe <= maxAssociations) return;
  throw new SettingsValidationError(
    field,
    `${field} ${maxAssociationsPerAe} is more than pacs.maxAssociations ${maxAssociations}: ` +
      `set ${field} to ${maxAssociations} or less, or pacs.maxAssociations to ${maxAssociationsPerAe} or more`,
  );
}

/** Accepts one of LEGACY_CHARACTER_SETS in any case, and returns it in lower case. */
export function validateLegacyCharacterSet(field: string, value: unknown): LegacyCharacterSet {
  const name = typeof value === 'string' ? value.trim().toLowerCase() : value;
  if (!isLegacyCharacterSet(name)) {
    throw new SettingsValidationError(
      field,
      `${field} ${quoteValue(value)} is invalid: use one of ${LEGACY_CHARACTER_SETS.join(', ')}`,
    );
  }
  return name;
}

export function validateDurability(field: string, value: unknown): ArchiveDurability {
  if (!isArchiveDurability(value)) {
    throw new SettingsValidationError(
      field,
      `${field} ${quoteValue(value)} is invalid: use ${ARCHIVE_DURABILITY_MODES.join(' or ')}`,
    );
  }
  return value;
}

export function validateBoolean(field: string, value: unknown): boolean {
  if (typeof value !== 'boolean') {
    throw new SettingsValidationError(field, `${field} ${quoteValue(value)} is invalid: use true or false`);
  }
  return value;
}

export function validatePositiveInteger(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new SettingsValidationError(field, `${field} ${quoteValue(value)} is invalid: use a whole number of 1 or more`);
  }
  return value;
}

/** A registered location of either kind; names are unique across both kinds. */
export type NamedLocation = Pick<PacsNode | SshNode, 'name'>;

function checkUniqueName(field: string, name: string, others: NamedLocation[]): void {
  if (others.some((other) => other.name.toLowerCase() === name.toLowerCase())) {
    throw new SettingsValidationError(
      field,
      `node name ${quoteValue(name)} is already registered: choose another name or remove the existing node first`,
      { rule: 'nameTaken', name },
    );
  }
}

/**
 * Rejects a new name whose secret variable another node uses already, as
 * "bad-name" and "bad_name" would both read LOADER_SECRET_BAD_NAME.
 */
function checkUniqueSecretVariable(field: string, name: string, others: NamedLocation[]): void {
  const variable = secretEnvVarName(name);
  const owner = others.find((other) => other.name.toLowerCase() !== name.toLowerCase() && secretEnvVarName(other.name) === variable);
  if (owner !== undefined) {
    throw new SettingsValidationError(
      field,
      `node name ${quoteValue(name)} maps to the password variable ${variable}, which node ${owner.name} uses already: ` +
        `choose another name, or remove ${owner.name} first. The variable is LOADER_SECRET_ and the name in upper case, ` +
        `with Cyrillic letters spelled in Latin and each run of characters other than A-Z and 0-9 replaced by one '_'`,
      { rule: 'secretVariableTaken', name, variable, owner: owner.name },
    );
  }
}

/**
 * Rule set for a node name. A `new` name (added, imported or renamed)
 * must follow NODE_NAME_PATTERN and have a secret variable of its own. A
 * `stored` name was accepted by an earlier version and keeps loading with
 * the looser rule of validateName; the settings store warns about it.
 */
export type NameCheck = 'new' | 'stored';

function checkNodeName(field: string, value: unknown, others: NamedLocation[], check: NameCheck): string {
  const name = check === 'new' ? validateNodeName(field, value) : validateName(field, value);
  checkUniqueName(field, name, others);
  if (check === 'new') checkUniqueSecretVariable(field, name, others);
  return name;
}

/**
 * Rejects an AE title that another registered PACS node uses at another
 * address. The server looks nodes up by AE title to find a C-MOVE
 * destination and to recognize a caller, so such a pair would send data to
 * whichever node is listed first. Entries for one peer at one address (for
 * example with two logins) may share its AE title. AE titles compare
 * case-sensitively, as the server's lookup does.
 */
function checkUniqueAeTitle(field: string, node: Pick<PacsNode, 'aeTitle' | 'host' | 'port'>, others: NamedLocation[]): void {
  const owner = (others as Partial<PacsNode>[]).find(
    (other) =>
      other.aeTitle === node.aeTitle &&
      (other.host?.toLowerCase() !== node.host.toLowerCase() || other.port !== node.port),
  );
  if (owner !== undefined) {
    throw new SettingsValidationError(
      field,
      `AE title ${node.aeTitle} is already used by node ${owner.name} at ${owner.host}:${owner.port}: ` +
        'an AE title must identify one node, because it is the C-MOVE destination',
      { rule: 'aeTitleTaken', aeTitle: node.aeTitle, owner: owner.name ?? '', host: owner.host ?? '', port: owner.port ?? 0 },
    );
  }
}

/** Checks an optional login: 1 to 128 characters without control characters. */
export function validateLogin(field: string, value: unknown): string {
  const login = typeof value === 'string' ? value.trim() : '';
  if (login.length === 0 || login.length > 128 || /[\x00-\x1f\x7f]/.test(login)) {
    throw new SettingsValidationError(
      field,
      `${field} ${quoteValue(value)} is invalid: a login has 1 to 128 characters without control characters`,
    );
  }
  return login;
}

/**
 * Validates a server account name against the existing accounts. Names are
 * unique ignoring case, but a username received in an association must match exactly.
 */
export function validateServerAccount(account: ServerAccount, others: ServerAccount[]): ServerAccount {
  const field = `serverAccounts[${quoteValue(account?.name)}]`;
  const name = validateLogin(`${field}.name`, account?.name);
  if (others.some((other) => other.name.toLowerCase() === name.toLowerCase())) {
    throw new SettingsValidationError(
      `${field}.name`,
      `server account ${quoteValue(name)} already exists: choose another name or remove the existing account first`,
    );
  }
  return { name };
}

/**
 * Checks a Specific Character Set value (one Defined Term, or several joined
 * with backslashes for ISO 2022) and returns it in the standard spelling.
 */
export function validateCharacterSet(field: string, value: unknown): string {
  const terms = typeof value === 'string' ? parseSpecificCharacterSet(value) : [];
  const unknown = findUnknownCharacterSets(terms);
  if (terms.length === 0 || unknown.length > 0) {
    throw new SettingsValidationError(
      field,
      `${field} ${quoteValue(value)} is invalid: use Specific Character Set Defined Terms such as ` +
        `ISO_IR 192 (UTF-8), ISO_IR 144 (Cyrillic) or ISO_IR 100 (Latin-1)`,
    );
  }
  return terms.join('\\');
}

/** Checks the optional per-node timeouts: each a whole number of seconds from 1 to 86400. */
export function validateTimeouts(field: string, value: unknown): Partial<NodeTimeouts> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SettingsValidationError(field, `${field} ${quoteValue(JSON.stringify(value))} is invalid: use an object of seconds`);
  }
  const timeouts: Partial<NodeTimeouts> = {};
  for (const [key, seconds] of Object.entries(value)) {
    if (!(key in DEFAULT_NODE_TIMEOUTS)) {
      throw new SettingsValidationError(
        `${field}.${key}`,
        `${field}.${key} is not a known timeout: use ${Object.keys(DEFAULT_NODE_TIMEOUTS).join(', ')}`,
      );
    }
    if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 1 || seconds > 86400) {
      throw new SettingsValidationError(
        `${field}.${key}`,
        `${field}.${key} ${quoteValue(seconds)} is invalid: a timeout is a whole number of seconds from 1 to 86400`,
      );
    }
    timeouts[key as keyof NodeTimeouts] = seconds;
  }
  return timeouts;
}

/** Checks the optional quirk list: short words without control characters, duplicates removed. */
export function validateQuirks(field: string, value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  const valid =
    Array.isArray(value) &&
    value.every((quirk) => typeof quirk === 'string' && /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(quirk));
  if (!valid) {
    throw new SettingsValidationError(
      field,
      `${field} ${quoteValue(JSON.stringify(value))} is invalid: use a list of words of letters, digits, '-', '_' or '.'`,
    );
  }
  return [...new Set(value as string[])];
}

/**
 * Validates one PACS entry. `others` are the entries of both kinds whose
 * names it must not repeat, and no PACS entry among them may have its AE
 * title at another address. Returns only the known fields, so that a stray field such as a
 * password in an imported file never reaches the settings file.
 */
export function validatePacsNode(node: PacsNode, others: NamedLocation[], check: NameCheck = 'new'): PacsNode {
  const field = `locations.pacs[${quoteValue(node.name)}]`;
  const name = checkNodeName(`${field}.name`, node.name, others, check);
  const valid: PacsNode = {
    name,
    aeTitle: validateAeTitle(`${field}.aeTitle`, node.aeTitle),
    host: validateHost(`${field}.host`, node.host),
    port: validatePort(`${field}.port`, node.port),
    characterSet:
      node.characterSet === undefined || node.characterSet === ''
        ? 'ISO_IR 192'
        : validateCharacterSet(`${field}.characterSet`, node.characterSet),
  };
  checkUniqueAeTitle(`${field}.aeTitle`, valid, others);
  if (node.login !== undefined) valid.login = validateLogin(`${field}.login`, node.login);
  const timeouts = validateTimeouts(`${field}.timeouts`, node.timeouts);
  if (timeouts !== undefined) valid.timeouts = timeouts;
  const quirks = validateQuirks(`${field}.quirks`, node.quirks);
  if (quirks !== undefined) valid.quirks = quirks;
  return valid;
}

/** Checks a path field: an absolute path without control characters. */
export function validateAbsolutePath(field: string, value: unknown): string {
  const text = typeof value === 'string' ? value.trim() : '';
  if (!text.startsWith('/') || /[\x00-\x1f\x7f]/.test(text)) {
    throw new SettingsValidationError(field, `${field} ${quoteValue(value)} is invalid: give an absolute path`);
  }
  return text;
}

/**
 * Validates one SSH entry like validatePacsNode. A key file is checked for its
 * form only, because settings may be edited on another machine than the one that uses them.
 */
export function validateSshNode(node: SshNode, others: NamedLocation[], check: NameCheck = 'new'): SshNode {
  const field = `locations.ssh[${quoteValue(node.name)}]`;
  const name = checkNodeName(`${field}.name`, node.name, others, check);
  const valid: SshNode = {
    name,
    host: validateHost(`${field}.host`, node.host),
    port: validatePort(`${field}.port`, node.port ?? 22),
    login: validateLogin(`${field}.login`, node.login),
  };
  if (node.keyFile !== undefined) valid.keyFile = validateAbsolutePath(`${field}.keyFile`, node.keyFile);
  if (node.defaultFolder !== undefined) {
    valid.defaultFolder = validateAbsolutePath(`${field}.defaultFolder`, node.defaultFolder);
  }
  return valid;
}

export function validateLanguage(field: string, value: unknown): InterfaceSettings['language'] {
  if (value !== 'ru' && value !== 'en') {
    throw new SettingsValidationError(field, `${field} ${quoteValue(value)} is invalid: use ru or en`);
  }
  return value;
}

export function validateTheme(field: string, value: unknown): InterfaceSettings['theme'] {
  if (value !== 'dark' && value !== 'light') {
    throw new SettingsValidationError(field, `${field} ${quoteValue(value)} is invalid: use dark or light`);
  }
  return value;
}

/** Accepts a boolean, or on/off, true/false, yes/no, 1/0 typed on a command line. */
export function validateSwitch(field: string, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  const text = typeof value === 'string' ? value.trim().toLowerCase() : '';
  if (['on', 'true', 'yes', '1'].includes(text)) return true;
  if (['off', 'false', 'no', '0'].includes(text)) return false;
  throw new SettingsValidationError(field, `${field} ${quoteValue(value)} is invalid: use on or off`);
}

export function validateInterfaceSettings(settings: InterfaceSettings): InterfaceSettings {
  return {
    language: validateLanguage('interface.language', settings.language),
    theme: validateTheme('interface.theme', settings.theme),
    trayIcon: validateSwitch('interface.trayIcon', settings.trayIcon),
  };
}
