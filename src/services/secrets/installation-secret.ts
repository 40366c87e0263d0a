/**
 * The installation's anonymization secret: the default secret of `loader
 * anonymize` and `loader send --anonymize`, so that one patient gets the same
 * pseudonym, replacement UIDs and date shift in every run on this
 * installation, and a study sent again replaces its earlier anonymized copy.
 *
 * It is created on first use from 32 random bytes and kept in the OS keychain
 * when one is reachable. Otherwise it is kept in a file of mode 0600 in the
 * settings folder. A marker file in the settings folder records that the
 * keychain contains it. So a later run without the keychain (for example over
 * SSH without a D-Bus session) fails instead of creating a second secret,
 * which would give the same patients other pseudonyms.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { KEYCHAIN_SERVICE, START_SECRET_SERVICE } from './keychain-store';
import { SecretStoreUnavailableError } from './secret-store';
import type { SecretStore } from './secret-store';

/** Bytes of a new installation secret. */
export const INSTALLATION_SECRET_BYTES = 32;

/** Keychain account of the installation secret, under the service KEYCHAIN_SERVICE. */
export const INSTALLATION_SECRET_ACCOUNT = 'anonymization:installation';

/** File in the settings folder that contains the secret (hex) when the keychain was not reachable at creation. */
export const INSTALLATION_SECRET_FILE = 'anonymization-secret';

/** File in the settings folder that records that the keychain contains the secret; it contains no secret. */
export const INSTALLATION_SECRET_MARKER = 'anonymization-secret.keychain';

const LOCK_FOLDER = 'anonymization-secret.lock';

/** Time a process waits for another one that is creating the secret; longer than one keychain call (KEYCHAIN_TIMEOUT_MS). */
const LOCK_WAIT_MS = 40_000;

/** Storage location of the installation secret, for messages. It never contains the secret itself. */
export type InstallationSecretLocation = { kind: 'keychain'; description: string } | { kind: 'file'; path: string };

export interface InstallationSecret {
  secret: Buffer;
  location: InstallationSecretLocation;
}

/** Raised when the installation secret cannot be read or created. The message gives the cause and what to do. */
export class InstallationSecretError extends Error {
  override readonly name = 'InstallationSecretError';
}

/** Alternatives to the installation secret, for error messages. */
const OTHER_SECRETS = 'or give --job-secret-file FILE for a secret of your own, or --one-off-secret for an export that cannot be linked to others';

function parseSecret(text: string, origin: string): Buffer {
  const hex = text.trim();
  if (!/^[0-9a-f]+$/i.test(hex) || hex.length < INSTALLATION_SECRET_BYTES * 2 || hex.length % 2 !== 0) {
    throw new InstallationSecretError(
      `the installation anonymization secret in ${origin} is invalid (expected at least ${INSTALLATION_SECRET_BYTES * 2} hex digits); ` +
        `restore it from a backup, because a new secret gives every patient another pseudonym, ${OTHER_SECRETS}`,
    );
  }
  return Buffer.from(hex, 'hex');
}

/** Reads the secret file, which must not be readable or writable by other users. */
function readSecretFile(file: string): Buffer {
  const mode = fs.statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new InstallationSecretError(
      `the installation anonymization secret file ${file} has mode 0${mode.toString(8)}, so other users may read it; ` +
        `run "chmod 600 ${file}" and, if others did read it, treat earlier pseudonyms as linkable`,
    );
  }
  return parseSecret(fs.readFileSync(file, 'utf8'), file);
}

async function readFromKeychain(store: SecretStore, marker: string): Promise<Buffer> {
  let stored: string | null;
  try {
    stored = await store.get(INSTALLATION_SECRET_ACCOUNT);
  } catch (error) {
    if (!(error instanceof SecretStoreUnavailableError)) throw error;
    throw new InstallationSecretError(
      `the installation anonymization secret is kept in the ${store.description} (as ${marker} records), which is not reachable: ${error.reason}. ` +
        `To use it, ${START_SECRET_SERVICE}, ${OTHER_SECRETS}`,
    );
  }
  if (stored === null) {
    throw new InstallationSecretError(
      `the ${store.description} has no installation anonymization secret (service ${KEYCHAIN_SERVICE}, account ${INSTALLATION_SECRET_ACCOUNT}), although ${marker} records that it was stored there; ` +
        `restore the keychain entry, or delete ${marker} to create a new secret, which gives every patient another pseudonym than before, ${OTHER_SECRETS}`,
    );
  }
  return parseSecret(stored, `the ${store.description}`);
}

/** Returns the secret recorded in the settings folder, or undefined when none was created yet. */
async function readExisting(configDir: string, store: SecretStore): Promise<InstallationSecret | undefined> {
  const file = path.join(configDir, INSTALLATION_SECRET_FILE);
  if (fs.existsSync(file)) return { secret: readSecretFile(file), location: { kind: 'file', path: file } };
  const marker = path.join(configDir, INSTALLATION_SECRET_MARKER);
  if (fs.existsSync(marker)) return { secret: await readFromKeychain(store, marker), location: { kind: 'keychain', description: store.description } };
  return undefined;
}

/** Writes `content` to `file` with mode 0600, failing when the file exists. */
function writeNewFile(file: string, content: string): void {
  const descriptor = fs.openSync(file, 'wx', 0o600);
  try {
    fs.writeSync(descriptor, content);
    fs.fsyncSync(descriptor);
  } finally {
    fs.closeSync(descriptor);
  }
}

/**
 * Runs `create` while holding a lock folder in the settings folder, so that
 * two first runs at the same time do not create two secrets. A lock older
 * than LOCK_WAIT_MS is left from a killed process and is removed.
 */
async function withCreationLock<T>(configDir: string, create: () => Promise<T>): Promise<T> {
  const lock = path.join(configDir, LOCK_FOLDER);
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = Date.now() - fs.statSync(lock, { throwIfNoEntry: false })!.mtimeMs;
      if (age > LOCK_WAIT_MS) fs.rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new InstallationSecretError(`timed out after ${LOCK_WAIT_MS / 1000} s waiting for the lock ${lock} of another loader process that creates the installation anonymization secret; if no such process runs, delete ${lock}`);
      else await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  try {
    return await create();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * Returns the installation secret, creating it on first use. `onNotice`
 * receives one message when the secret is created or first found in the
 * keychain, naming where it is kept. No message contains the secret.
 * Throws InstallationSecretError when the secret is recorded but cannot be
 * read, because a new one would change every pseudonym.
 */
export async function loadInstallationSecret(configDir: string, store: SecretStore, onNotice: (message: string) => void): Promise<InstallationSecret> {
  const existing = await readExisting(configDir, store);
  if (existing) return existing;
  fs.mkdirSync(configDir, { recursive: true, mode: 0o700 });

  return withCreationLock(configDir, async () => {
    const created = await readExisting(configDir, store);
    if (created) return created;
    const marker = path.join(configDir, INSTALLATION_SECRET_MARKER);
    const markerContent = JSON.stringify({ service: KEYCHAIN_SERVICE, account: INSTALLATION_SECRET_ACCOUNT }) + '\n';
    const keychain: InstallationSecretLocation = { kind: 'keychain', description: store.description };
    try {
      // A keychain entry without a marker remains when the settings folder was deleted, and reusing it keeps the pseudonyms.
      const found = await store.get(INSTALLATION_SECRET_ACCOUNT);
      if (found !== null) {
        const secret = parseSecret(found, `the ${store.description}`);
        writeNewFile(marker, markerContent);
        onNotice(`using the installation anonymization secret found in the ${store.description} under service ${KEYCHAIN_SERVICE}, account ${INSTALLATION_SECRET_ACCOUNT}`);
        return { secret, location: keychain };
      }
      const secret = randomBytes(INSTALLATION_SECRET_BYTES);
      await store.set(INSTALLATION_SECRET_ACCOUNT, secret.toString('hex'));
      writeNewFile(marker, markerContent);
      onNotice(
        `created the installation anonymization secret and stored it in the ${store.description} under service ${KEYCHAIN_SERVICE}, account ${INSTALLATION_SECRET_ACCOUNT}; ` +
          'each patient now gets the same pseudonym, UIDs and date shift in every run on this installation',
      );
      return { secret, location: keychain };
    } catch (error) {
      if (!(error instanceof SecretStoreUnavailableError)) throw error;
      const file = path.join(configDir, INSTALLATION_SECRET_FILE);
      const secret = randomBytes(INSTALLATION_SECRET_BYTES);
      writeNewFile(file, secret.toString('hex') + '\n');
      onNotice(
        `created the installation anonymization secret in ${file} (mode 0600), because ${error.reason}; ` +
          'each patient now gets the same pseudonym, UIDs and date shift in every run on this installation; keep this file with the settings backup',
      );
      return { secret, location: { kind: 'file', path: file } };
    }
  });
}
