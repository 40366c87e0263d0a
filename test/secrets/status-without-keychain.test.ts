/**
 * `loader secrets status` where no D-Bus session bus runs: a PACS node without
 * a login uses no password, so the keychain is not asked, and an unreachable
 * keychain for a node with a login is one short line and exit code 1.
 */
import { createLoaderDirs, runLoader, type LoaderDirs } from '../support/loader';

const ENGLISH_LOCALE = { LANG: 'en_US.UTF-8', LC_ALL: '', LC_MESSAGES: '' };

describe('secrets status without keychain', () => {
  let dirs: LoaderDirs;
  /** An address where no D-Bus session bus listens. */
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dirs = createLoaderDirs('secrets-status');
    env = { ...ENGLISH_LOCALE, DBUS_SESSION_BUS_ADDRESS: `unix:path=${dirs.root}/no-bus` };
    await runLoader(['nodes', 'add', 'orthanc', '--aet', 'ORTHANC', '--host', '127.0.0.1', '--port', '11803'], { dirs, env });
    await runLoader(['nodes', 'add', 'secured', '--aet', 'SECURED', '--host', '127.0.0.1', '--port', '11804', '--login', 'tech'], { dirs, env });
  });

  test('node without login skips keychain', async () => {
    const status = await runLoader(['secrets', 'status', 'orthanc'], { dirs, env });

    expect(status.code).toBe(0);
    expect(status.stdout).toContain('no login: this node is called without user identity, so it uses no password');
    expect(status.stdout + status.stderr).not.toMatch(/keychain|D-Bus/i);
  });

  test('unreachable keychain is one short line', async () => {
    const status = await runLoader(['secrets', 'status', 'secured'], { dirs, env });

    expect(status.code).toBe(1);
    const keychainLines = status.stdout.split('\n').filter((line) => line.includes('keychain'));
    expect(keychainLines).toHaveLength(1);
    expect(keychainLines[0]).toContain('not reachable: no D-Bus session bus is reachable');
    expect(keychainLines[0]).toContain('set LOADER_SECRET_SECURED instead');
    expect(keychainLines[0].length).toBeLessThan(250);
    expect(status.stdout).not.toContain('org.freedesktop');
  });
});
