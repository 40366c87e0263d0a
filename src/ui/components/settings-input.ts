/**
 * Checks of values typed into the settings window and into a PACS panel's
 * connection fields, with messages in the interface language. The settings service checks the values again when it
 * stores them, for example the host.
 */
import type { QLineEdit } from '@nodegui/nodegui';

import type { PacsNode } from '../../services/settings/settings-types';
import { SettingsValidationError, validateAeTitle, validateHost, validateNodeName } from '../../services/settings/validation';
import type { Translate } from '../i18n';

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
