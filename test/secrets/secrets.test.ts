/**
 * Node secrets: environment variable names, the lookup order, and the OS
 * keychain through a real Secret Service. The keychain tests run bin/loader
 * inside `dbus-run-session` with gnome-keyring-daemon unlocked by a throwaway
 * password, with HOME in a temp folder so the keyring file is thrown away too.
 */
import fs from 'node:fs';
import path from 'node:path';

import { resolveNodeSecret, secretEnvVarName, SecretStoreUnavailableError } from '../../src/services/secrets';
import type { SecretStore } from '../../src/services/secrets';
import { MemoryStore, missingKeychainTools, runInKeyringSession } from '../support/keyring';
import { createLoaderDirs, LOADER_BIN, loaderIsBuilt } from '../support/loader';
import { startStorescp } from '../support/peers';
import { LOOPBACK, runCommand } from '../support/process';

const SECRET = 'kT9#throwaway secret ü';

class UnreachableStore implements SecretStore {
  readonly description = 'unreachable';
  private fail(): never {
    throw new SecretStoreUnavailableError('keychain is not reachable', 'no bus');
  }
  async get(): Promise<string | null> {
    this.fail();
  }
  async set(): Promise<void> {
    this.fail();
  }
  async delete(): Promise<boolean> {
    this.fail();
  }
}

describe('secret environment variables', () => {
  test.each([
    ['Main PACS', 'LOADER_SECRET_MAIN_PACS'],
    ['orthanc-2', 'LOADER_SECRET_ORTHANC_2'],
    ['Клиника-2', 'LOADER_SECRET_KLINIKA_2'],
    ['Клиника №1', 'LOADER_SECRET_KLINIKA_NO1'],
    ['Щука ёж', 'LOADER_SECRET_SHCHUKA_EZH'],
    ['Café', 'LOADER_SECRET_CAFE'],
    ['***', 'LOADER_SECRET_NODE'],
  ])('name %s maps to %s', (name, variable) => {
    expect(secretEnvVarName(name)).toBe(variable);
  });
});

describe('secret lookup order', () => {
  test('environment overrides the store', async () => {
    const store = new MemoryStore();
    await store.set('pacs:main', 'from-store');
    const resolved = await resolveNodeSecret('pacs', 'main', store, { env: { LOADER_SECRET_MAIN: 'from-env' } });
    expect(resolved).toEqual({ secret: 'from-env', source: 'environment', origin: 'LOADER_SECRET_MAIN' });
  });

  test('store used without variable', async () => {
    const store = new MemoryStore();
    await store.set('ssh:nas', 'from-store');
    expect(await resolveNodeSecret('ssh', 'nas', store, { env: {} })).toEqual({ secret: 'from-store', source: 'keychain', origin: 'ssh:nas' });
    expect(await resolveNodeSecret('pacs', 'nas', store, { env: {} })).toBeUndefined();
  });

  test('unreachable store raises without prompt', async () => {
    await expect(resolveNodeSecret('pacs', 'main', new UnreachableStore(), { env: {} })).rejects.toThrow(SecretStoreUnavailableError);
  });

  test('unreachable store falls back to prompt', async () => {
    const questions: string[] = [];
    const prompt = async (question: string) => {
      questions.push(question);
      return 'typed';
    };
    const resolved = await resolveNodeSecret('pacs', 'main', new UnreachableStore(), { env: {}, prompt });
    expect(resolved).toEqual({ secret: 'typed', source: 'prompt', origin: 'prompt' });
    expect(questions).toEqual(['Password for pacs node main (the keychain is not reachable): ']);
  });
});

const missingTools = missingKeychainTools();
if (missingTools.length > 0) {
  // scripts/setup.sh --test installs them; a plain `npx jest` on another machine may lack them.
  process.stderr.write(`secrets.test.ts: ${missingTools.join(', ')} not found; run scripts/setup.sh --test\n`);
}

/**
 * Runs a shell script inside a private D-Bus session with an unlocked
 * throwaway keyring. The script gets $LOADER (bin/loader with the temp
 * folders) and $SECRET in its environment.
 */
async function runWithKeyring(script: string, dirs = createLoaderDirs('keychain')) {
  const loader = `${LOADER_BIN} --config-dir ${dirs.configDir} --archive ${dirs.archiveDir}`;
  const result = await runInKeyringSession(script, dirs, { LOADER: loader, SECRET }, 60_000);
  return { ...result, dirs };
}

const describeKeychain = missingTools.length === 0 && loaderIsBuilt() ? describe : describe.skip;

describeKeychain('keychain with a real Secret Service', () => {
  test('nodes add stores password in keychain', async () => {
    const result = await runWithKeyring(`
      set -e
      printf '%s\\n' "$SECRET" | $LOADER nodes add main --aet MAIN --host 127.0.0.1 --port 104 --login bob --password-stdin
      echo "lookup=$(secret-tool lookup service sciberia-loader username pacs:main)"
      $LOADER secrets status main --json
    `);

    expect(result.stderr).not.toContain(SECRET);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('registered main: MAIN at 127.0.0.1:104');
    expect(result.stdout).toContain(`lookup=${SECRET}\n`);
    expect(result.stdout).toMatch(/"inKeychain": true/);
    const settingsText = fs.readFileSync(path.join(result.dirs.configDir, 'settings.json'), 'utf8');
    expect(settingsText).not.toContain(SECRET);
    expect(JSON.parse(settingsText).locations.pacs[0]).toMatchObject({ name: 'main', login: 'bob' });
  });

  test('SSH passphrase and removal', async () => {
    const dirs = createLoaderDirs('keychain');
    // nodes add-ssh rejects a key file that does not exist. It reads the key only when it connects, so an empty file will do.
    const keyFile = path.join(dirs.root, 'id_ed25519');
    fs.writeFileSync(keyFile, '', { mode: 0o600 });
    const result = await runWithKeyring(`
      set -e
      printf '%s' "$SECRET" | $LOADER nodes add-ssh nas --host nas.local --login backup --key-file ${keyFile} --password-stdin
      echo "before=$(secret-tool lookup service sciberia-loader username ssh:nas)"
      $LOADER nodes remove nas
      echo "after=$(secret-tool lookup service sciberia-loader username ssh:nas || true)"
    `, dirs);

    expect(result.stderr).not.toContain(SECRET);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`before=${SECRET}\n`);
    expect(result.stdout).toContain('removed nas');
    expect(result.stdout).toContain('after=\n');
  });

  test('login without stored password warns', async () => {
    const storescp = await startStorescp({ aeTitle: 'STORESCP' });
    try {
      const result = await runWithKeyring(`
        set -e
        $LOADER nodes add main --aet ${storescp.aeTitle} --host ${LOOPBACK} --port ${storescp.port} --login bob
        $LOADER echo main
      `);

      expect(result.code).toBe(0);
      const warnings = result.stderr.split('\n').filter((line) => line.includes('without a password'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain('sending the login of main without a password');
      expect(warnings[0]).toContain('LOADER_SECRET_MAIN is not set and the OS keychain');
      expect(warnings[0]).toContain('"loader secrets set main"');
      expect(warnings[0]).toContain('set LOADER_SECRET_MAIN for the loader process');
    } finally {
      await storescp.stop();
    }
  });

  test('secrets set replaces the password', async () => {
    const result = await runWithKeyring(`
      set -e
      $LOADER nodes add main --aet MAIN --host 127.0.0.1 --port 104
      printf '%s' "first" | $LOADER secrets set main --password-stdin
      printf '%s' "$SECRET" | $LOADER secrets set main --password-stdin
      echo "lookup=$(secret-tool lookup service sciberia-loader username pacs:main)"
      $LOADER secrets delete main
      $LOADER secrets delete main
    `);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('stored the password of main in the keychain');
    expect(result.stdout).toContain(`lookup=${SECRET}\n`);
    expect(result.stdout).toContain('deleted the password of main');
    expect(result.stdout).toContain('no password was stored for main');
  });
});

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

describeBuilt('keychain not reachable', () => {
  test('nodes add registers without password', async () => {
    const dirs = createLoaderDirs('no-keychain');
    const result = await runCommand(
      LOADER_BIN,
      ['--config-dir', dirs.configDir, 'nodes', 'add', 'Main-PACS', '--aet', 'MAIN', '--host', '127.0.0.1', '--port', '104', '--login', 'bob', '--password-stdin'],
      { input: SECRET, env: { HOME: dirs.homeDir, DBUS_SESSION_BUS_ADDRESS: `unix:path=${dirs.root}/no-bus` } },
    );

    expect(result.code).toBe(3);
    expect(result.stdout).toContain('registered Main-PACS: MAIN at 127.0.0.1:104');
    expect(result.stderr).toContain('registered Main-PACS without its password');
    expect(result.stderr).toContain('set LOADER_SECRET_MAIN_PACS for the loader process');
    expect(result.stderr).toContain('run "loader secrets set Main-PACS" in that session');
    expect(result.stderr).toContain('the OS keychain (Secret Service on D-Bus) is not available (no D-Bus session bus is reachable');
    // The library's raw D-Bus text comes last, after what it means and what to do.
    expect(result.stderr.indexOf('Keychain error:')).toBeGreaterThan(result.stderr.indexOf('loader secrets set'));
    expect(result.stderr).not.toContain(SECRET);
    const settingsText = fs.readFileSync(path.join(dirs.configDir, 'settings.json'), 'utf8');
    expect(settingsText).not.toContain(SECRET);
    expect(settingsText).toContain('Main-PACS');
  });

  test('secrets set explains the unavailable keychain', async () => {
    const dirs = createLoaderDirs('no-keychain');
    const env = { HOME: dirs.homeDir, DBUS_SESSION_BUS_ADDRESS: `unix:path=${dirs.root}/no-bus` };
    const args = ['--config-dir', dirs.configDir];
    await runCommand(LOADER_BIN, [...args, 'nodes', 'add', 'main', '--aet', 'MAIN', '--host', '127.0.0.1', '--port', '104'], { env });

    const result = await runCommand(LOADER_BIN, [...args, 'secrets', 'set', 'main', '--password-stdin'], { input: SECRET, env });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('could not store the secret of pacs:main: the OS keychain (Secret Service on D-Bus) is not available');
    expect(result.stderr).toContain('Instead, set the password in the environment variable LOADER_SECRET_MAIN');
    expect(result.stderr).toContain('under dbus-run-session');
    expect(result.stderr.indexOf('Keychain error:')).toBeGreaterThan(result.stderr.indexOf('Instead,'));
    expect(result.stderr).not.toContain(SECRET);
  });

  test('users add registers without password', async () => {
    const dirs = createLoaderDirs('no-keychain');
    const env = { HOME: dirs.homeDir, DBUS_SESSION_BUS_ADDRESS: `unix:path=${dirs.root}/no-bus` };
    const args = ['--config-dir', dirs.configDir];

    const result = await runCommand(LOADER_BIN, [...args, 'users', 'add', 'alice', '--password-stdin'], { input: SECRET, env });

    expect(result.code).toBe(3);
    expect(result.stdout).toContain('added server account alice\n');
    expect(result.stderr).toContain('added server account alice without its password');
    expect(result.stderr).toContain('set LOADER_USER_SECRET_ALICE for the server');
    expect(result.stderr).toContain('run "loader users set-password alice" in that session');
    expect(result.stderr).toContain('the OS keychain (Secret Service on D-Bus) is not available');
    expect(result.stderr).not.toContain(SECRET);
    const list = await runCommand(LOADER_BIN, [...args, 'users', 'list', '--json'], { env });
    expect(JSON.parse(list.stdout).accounts.map((account: { name: string }) => account.name)).toEqual(['alice']);
  });

  test('users add hint names keychain condition', async () => {
    const dirs = createLoaderDirs('no-keychain');
    const env = { HOME: dirs.homeDir, DBUS_SESSION_BUS_ADDRESS: `unix:path=${dirs.root}/no-bus` };

    const result = await runCommand(LOADER_BIN, ['--config-dir', dirs.configDir, 'users', 'add', 'bob'], { env });

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('set LOADER_USER_SECRET_BOB for the server');
    expect(result.stdout).toContain('where the OS keychain (Secret Service on D-Bus) runs, store one with "loader users set-password bob"');
  });

  test('delete explains the unreachable keychain', async () => {
    const dirs = createLoaderDirs('no-keychain');
    const env = { HOME: dirs.homeDir, DBUS_SESSION_BUS_ADDRESS: `unix:path=${dirs.root}/no-bus` };
    const args = ['--config-dir', dirs.configDir];
    await runCommand(LOADER_BIN, [...args, 'nodes', 'add', 'main', '--aet', 'MAIN', '--host', '127.0.0.1', '--port', '104'], { env });

    const result = await runCommand(LOADER_BIN, [...args, 'secrets', 'delete', 'main'], { env });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('could not delete the password of main: the OS keychain is not reachable');
    expect(result.stderr).toContain('Run the command again in a session where the keychain runs');
    expect(result.stderr).toContain('LOADER_SECRET_MAIN is removed by unsetting that variable');
    // The generic advice to keep the password in the environment does not fit a deletion.
    expect(result.stderr).not.toContain('Instead, set the password');
  });

  test('status reports environment variable', async () => {
    const dirs = createLoaderDirs('no-keychain');
    const env = { HOME: dirs.homeDir, DBUS_SESSION_BUS_ADDRESS: `unix:path=${dirs.root}/no-bus`, LOADER_SECRET_MAIN: SECRET };
    const args = ['--config-dir', dirs.configDir];
    await runCommand(LOADER_BIN, [...args, 'nodes', 'add', 'main', '--aet', 'MAIN', '--host', '127.0.0.1', '--port', '104', '--login', 'tech'], { env });

    const result = await runCommand(LOADER_BIN, [...args, 'secrets', 'status', 'main', '--json'], { env });

    expect(result.code).toBe(0);
    const status = JSON.parse(result.stdout);
    expect(status.inEnvironment).toBe(true);
    expect(status.environmentVariable).toBe('LOADER_SECRET_MAIN');
    expect(status.keychainError).toMatch(/no D-Bus session bus is reachable/);
    expect(result.stdout + result.stderr).not.toContain(SECRET);
  });
});
