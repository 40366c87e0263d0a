/**
 * Checks of values typed into the settings window, with messages in the
 * interface language. The settings service checks the values again when it
 * stores them, for example the host.
 */
import type { PacsNode } from '../../services/settings/settings-types';
import { SettingsValidationError, validateAeTitle, validateNodeName } from '../../services/settings/validation';
import type { Translate } from '../i18n';

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
