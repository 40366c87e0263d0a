/**
 * Checks of values typed into the settings window and into a PACS panel's
 * connection fields, with messages in the interface language. The settings service checks the values again when it
 * stores them, for example the host. Also the texts of the legacy character set choice and of a saved PACS tab.
 */
import type { QLineEdit } from '@nodegui/nodegui';

import { LEGACY_CHARACTER_SETS, type LegacyCharacterSet } from '../../dicom/charset';
import type { PacsNode } from '../../services/settings/settings-types';
import { SettingsValidationError, validateAeTitle, validateHost, validateNodeName } from '../../services/settings/validation';
import type { MessageKey, Translate } from '../i18n';

/** Maximum length of an AE title: 16 characters (PS3.5 table 6.2-1, VR AE). */
export const AE_TITLE_MAX_LENGTH = 16;

/** Ref callback of an AE title field: the field then takes at most AE_TITLE_MAX_LENGTH characters. */
export function limitAeTitleLength(field: QLineEdit | null): void {
  field?.setMaxLength(AE_TITLE_MAX_LENGTH);
}

/** Returns the message for an invalid AE title, or undefined for a valid one. */
export function aeTitleProblem(t: Translate, aeTitle: string): string | undefined {
  try {
    validateAeTitle('aeTitle', aeTitle);
    return undefined;
  } catch (error) {
    if (!(error instanceof SettingsValidationError)) throw error;
    return t('settings.invalidAeTitle', { aeTitle });
  }
}

/** Returns the message for a port that is not a whole number from 1 to 65535, or undefined for a valid one. */
export function portProblem(t: Translate, portText: string): string | undefined {
  const port = Number(portText.trim());
  const valid = /^\d+$/.test(portText.trim()) && port >= 1 && port <= 65535;
  return valid ? undefined : t('settings.invalidPort', { port: portText.trim() });
}

/** Returns the message for a host that is neither an IP address nor a host name, or undefined for a valid one. */
export function hostProblem(t: Translate, host: string): string | undefined {
  try {
    validateHost('host', host);
    return undefined;
  } catch (error) {
    if (!(error instanceof SettingsValidationError)) throw error;
    return t('panel.invalidHost', { host: host.trim() });
  }
}

/** Returns the message for the first invalid field of a PACS panel (IP address, port, AE title), or undefined when all are valid. */
export function pacsFieldsProblem(t: Translate, fields: { host: string; port: string; aeTitle: string }): string | undefined {
  return hostProblem(t, fields.host) ?? portProblem(t, fields.port) ?? aeTitleProblem(t, fields.aeTitle);
}

/** Parses a new location and returns its node, or the message that names the invalid value. */
export function parseLocation(t: Translate, name: string, address: string): PacsNode | string {
  try {
    validateNodeName('name', name);
  } catch (error) {
    if (!(error instanceof SettingsValidationError)) throw error;
    return t('settings.locations.invalidName', { name: name.trim() });
  }
  // The address is AE@host:port, as `loader nodes` prints it.
  const match = /^([^@]+)@([^:]+):(\d+)$/.exec(address.trim());
  if (!match) return t('settings.locations.invalidAddress', { address: address.trim() });
  const [, aeTitle, host, portText] = match;
  const problem = aeTitleProblem(t, aeTitle) ?? portProblem(t, portText);
  if (problem !== undefined) return problem;
  return { name: name.trim(), aeTitle: aeTitle.trim(), host, port: Number(portText), characterSet: 'ISO_IR 192' };
}

/**
 * Returns the window's text for an error of the settings service, such as a host or a duplicate name that only the
 * service checks, in the language of `t`. The service's messages name the settings file's fields in English for the
 * CLI, so the rules that the PACS and Locations tabs can break get texts of their own. Other errors keep their message.
 */
export function settingsErrorText(t: Translate, error: unknown): string {
  if (!(error instanceof SettingsValidationError) || error.broken === undefined) return error instanceof Error ? error.message : String(error);
  const broken = error.broken;
  switch (broken.rule) {
    case 'aeTitleLength':
    case 'aeTitleCharacters':
      return t('settings.invalidAeTitle', { aeTitle: broken.value });
    case 'host':
      return t('panel.invalidHost', { host: broken.value.trim() });
    case 'port':
      return t('settings.invalidPort', { port: broken.value });
    case 'nodeName':
      return t('settings.locations.invalidName', { name: broken.value.trim() });
    case 'nameTaken':
      return t('settings.nameTaken', { name: broken.name });
    case 'secretVariableTaken':
      return t('settings.secretVariableTaken', { name: broken.name, variable: broken.variable, owner: broken.owner });
    case 'aeTitleTaken':
      return t('settings.aeTitleTaken', { aeTitle: broken.aeTitle, owner: broken.owner, host: broken.host, port: broken.port });
  }
}

/** Label of each pacs.legacyCharacterSet value in the settings window's choice. */
const LEGACY_CHARACTER_SET_LABELS: Record<LegacyCharacterSet, MessageKey> = {
  latin1: 'settings.legacyCharacterSet.latin1',
  'windows-1251': 'settings.legacyCharacterSet.windows-1251',
  'koi8-r': 'settings.legacyCharacterSet.koi8-r',
  'iso-8859-5': 'settings.legacyCharacterSet.iso-8859-5',
};

/** Returns the choices of pacs.legacyCharacterSet in the order of LEGACY_CHARACTER_SETS, each with its label. */
export function legacyCharacterSetChoices(t: Translate): { value: LegacyCharacterSet; label: string }[] {
  return LEGACY_CHARACTER_SETS.map((value) => ({ value, label: t(LEGACY_CHARACTER_SET_LABELS[value]) }));
}

/** Legacy character set of the window's own archive and server, which the window opened them with. */
export interface LegacyCharacterSetInUse {
  characterSet: LegacyCharacterSet;
  /** True when `loader start` was given --legacy-charset, which overrides the setting at every start. */
  fromOption: boolean;
}

/**
 * Returns the message after the PACS tab saved `saved` as pacs.legacyCharacterSet.
 * The window opens its own archive once, when it starts, so a character set other
 * than the one in use applies only after a restart. Studies indexed before keep
 * their text until `loader reindex`, which refuses to run while the window has the archive open.
 */
export function pacsSavedMessage(t: Translate, saved: LegacyCharacterSet, inUse: LegacyCharacterSetInUse): string {
  if (inUse.fromOption) return t('settings.savedOverridden', { name: inUse.characterSet });
  return saved === inUse.characterSet ? t('settings.saved') : t('settings.savedRestart');
}
