/**
 * Keychain test helpers: an in-memory SecretStore, and shell scripts run in a
 * private D-Bus session with gnome-keyring-daemon unlocked by a throwaway
 * password, so tests reach a real Secret Service without the machine's keyring.
 */
import path from 'node:path';

import type { SecretStore } from '../../src/services/secrets';
import type { LoaderDirs } from './loader';
import { commandExists, runCommand } from './process';
import type { RunResult } from './process';

/** SecretStore that keeps secrets in a Map, for tests that need no keychain. */
export class MemoryStore implements SecretStore {
  readonly description = 'memory';
  readonly values = new Map<string, string>();
  async get(account: string) {
    return this.values.get(account) ?? null;
  }
  async set(account: string, secret: string) {
    this.values.set(account, secret);
  }
  async delete(account: string) {
    return this.values.delete(account);
  }
}

/** Commands that runInKeyringSession and the keychain tests call. */
export const KEYCHAIN_TOOLS = ['dbus-run-session', 'gnome-keyring-daemon', 'secret-tool'];

/** Returns the commands of KEYCHAIN_TOOLS that are not on PATH. */
export function missingKeychainTools(): string[] {
  return KEYCHAIN_TOOLS.filter((command) => !commandExists(command));
}

/**
 * Runs a shell script inside `dbus-run-session` after unlocking
 * gnome-keyring-daemon, with HOME and the XDG folders inside dirs.homeDir so
 * the keyring file is thrown away with the temp folder. `env` adds variables
 * for the script.
 */
export function runInKeyringSession(script: string, dirs: LoaderDirs, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<RunResult> {
  const wrapped = `echo keyring-test-password | gnome-keyring-daemon --unlock --components=secrets >/dev/null\n${script}`;
  return runCommand('dbus-run-session', ['--', 'sh', '-c', wrapped], {
    env: {
      HOME: dirs.homeDir,
      XDG_DATA_HOME: path.join(dirs.homeDir, '.local', 'share'),
      XDG_CONFIG_HOME: path.join(dirs.homeDir, '.config'),
      XDG_RUNTIME_DIR: '',
      ...env,
    },
    timeoutMs,
  });
}
