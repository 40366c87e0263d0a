/**
 * Server settings whose default lets in more than an invalid stored value
 * was meant to. The settings store replaces an invalid value with its
 * default and warns, which is safe for a command but not for a server. The
 * default host 0.0.0.0 listens on every interface, and the default port may
 * be open in the firewall where the chosen one is not. requireUserIdentity
 * defaults to off, and the default association limits may be higher than
 * intended. So `loader serve` and the desktop window's server do not start
 * while one of these is invalid.
 */
import type { SettingsStore } from './settings-store';
import { defaultSettings, type PacsSettings } from './settings-types';
import { SettingsValidationError, validatePacsSettings } from './validation';

export const SETTINGS_WITHOUT_SAFE_DEFAULT: readonly (keyof PacsSettings)[] = [
  'host',
  'port',
  'requireUserIdentity',
  'maxAssociations',
  'maxAssociationsPerAe',
];

/**
 * Raises SettingsValidationError for the first of SETTINGS_WITHOUT_SAFE_DEFAULT
 * that is invalid in the settings file, unless `replaced` contains it, as for
 * a value given on the command line. The message names the value, the file
 * and the rule, and ends with `fix`, the next step for the caller's user.
 */
export function rejectInvalidAccessSettings(
  store: SettingsStore,
  fix: (field: keyof PacsSettings) => string,
  replaced: ReadonlySet<keyof PacsSettings> = new Set(),
): void {
  const invalid = store.invalidPacsValues;
  for (const field of SETTINGS_WITHOUT_SAFE_DEFAULT) {
    if (!(field in invalid) || replaced.has(field)) continue;
    const value = invalid[field];
    let rule = `pacs.${field} ${JSON.stringify(value)} is invalid`;
    try {
      validatePacsSettings({ ...store.settings.pacs, [field]: value });
    } catch (error) {
      if (error instanceof SettingsValidationError) rule = error.message;
    }
    const defaultValue = defaultSettings().pacs[field];
    throw new SettingsValidationError(
      `pacs.${field}`,
      `${rule} (in ${store.path}). The server does not start with the default ${JSON.stringify(defaultValue)} instead, ` +
        `because it could then accept connections that the setting was meant to keep out. ${fix(field)}`,
    );
  }
}
