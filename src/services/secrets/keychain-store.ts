/**
 * SecretStore backed by the OS keychain through @napi-rs/keyring: the Secret
 * Service on D-Bus on Linux (GNOME Keyring, KWallet), the Keychain on macOS
 * and the Credential Manager on Windows.
 *
 * On Linux the entry is pinned to the Secret Service. The library's default
 * would fall back to the kernel keyring, which keeps secrets only until the
 * next reboot, and a silent fallback would hide that the keychain is missing.
 */
import type { AsyncEntry } from '@napi-rs/keyring';

import { secretEnvVarName, userSecretEnvVarName } from './env-secrets';
import { SecretStoreUnavailableError } from './secret-store';
import type { SecretStore } from './secret-store';

export const KEYCHAIN_SERVICE = 'sciberia-loader';

/**
 * Time allowed for one keychain call. A locked keyring waits for an unlock
 * prompt that a headless session never shows, so calls must not wait forever.
 */
export const KEYCHAIN_TIMEOUT_MS = 15_000;

/** How to make the keychain available on Linux, for messages that suggest it. */
export const START_SECRET_SERVICE = 'start a Secret Service such as gnome-keyring-daemon in a D-Bus session (for example under dbus-run-session)';

/** Returns the text telling the user what to use instead of the keychain for one node or server account. */
export function describeSecretAlternatives(nodeName?: string, kind?: string): string {
  if (kind === 'user') {
    const variable = nodeName === undefined ? 'LOADER_USER_SECRET_<ACCOUNT NAME>' : userSecretEnvVarName(nodeName);
    return (
      `set the password in the environment variable ${variable} for the loader process, ` +
      `or, to use the keychain on Linux, ${START_SECRET_SERVICE}`
    );
  }
  const variable = nodeName === undefined ? 'LOADER_SECRET_<NODE NAME>' : secretEnvVarName(nodeName);
  return (
    `set the password in the environment variable ${variable} for the loader process ` +
    `(commands that connect to the node ask for it instead when run in a terminal), ` +
    `or, to use the keychain on Linux, ${START_SECRET_SERVICE}`
  );
}

/**
 * Returns what a terse keyring library error means for the user, such as
 * " (no D-Bus session bus is reachable, as on a headless server)", or '' when
 * the error is not one of the known kinds.
 */
export function explainKeychainError(message: string): string {
  if (/failed to connect to socket|DBUS_SESSION_BUS_ADDRESS|org\.freedesktop\.DBus\.Error|no such file or directory/i.test(message)) {
    return ' (no D-Bus session bus is reachable, as on a headless server)';
  }
  if (/no result found|ServiceUnknown|org\.freedesktop\.secrets/i.test(message)) {
    return ' (no Secret Service with an unlocked default keyring answers on the D-Bus session bus)';
  }
  return '';
}

export class KeychainSecretStore implements SecretStore {
  readonly description =
    process.platform === 'linux' ? 'OS keychain (Secret Service on D-Bus)' : 'OS keychain';

  constructor(
    private readonly service = KEYCHAIN_SERVICE,
    private readonly timeoutMs = KEYCHAIN_TIMEOUT_MS,
  ) {}

  async get(account: string): Promise<string | null> {
    return this.call(account, 'read', (entry, signal) => entry.getPassword(signal));
  }

  async set(account: string, secret: string): Promise<void> {
    await this.call(account, 'store', (entry, signal) => entry.setPassword(secret, signal));
  }

  async delete(account: string): Promise<boolean> {
    return this.call(account, 'delete', (entry, signal) => entry.deleteCredential(signal));
  }

  private async call<T>(
    account: string,
    action: string,
    run: (entry: AsyncEntry, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      // The native addon loads on first use, so that commands that read no secret do not pay for it at start.
      const { AsyncEntry: KeyringEntry } = require('@napi-rs/keyring') as typeof import('@napi-rs/keyring');
      const entry = new KeyringEntry(this.service, account, { linux: { store: 'secret-service' } });
      return await run(entry, signal);
    } catch (error) {
      const separator = account.indexOf(':');
      const nodeName = separator >= 0 ? account.slice(separator + 1) : undefined;
      const kind = separator >= 0 ? account.slice(0, separator) : undefined;
      const alternatives = describeSecretAlternatives(nodeName, kind);
      if (signal.aborted) {
        const cause = `no answer within ${this.timeoutMs / 1000} s; the keyring may be locked and waiting for an unlock prompt`;
        throw new SecretStoreUnavailableError(`could not ${action} the secret of ${account} in the ${this.description}: ${cause}. Instead, ${alternatives}`, cause, cause);
      }
      // The library's own text (often a raw D-Bus error) goes last, after what it means and what to do.
      const detail = error instanceof Error ? error.message : String(error);
      const explanation = explainKeychainError(detail);
      const cause = `the ${this.description} is not available${explanation}`;
      throw new SecretStoreUnavailableError(
        `could not ${action} the secret of ${account}: ${cause}. Instead, ${alternatives}. Keychain error: ${detail}`,
        `${cause}. Keychain error: ${detail}`,
        explanation === '' ? cause : explanation.slice(2, -1),
      );
    }
  }
}
