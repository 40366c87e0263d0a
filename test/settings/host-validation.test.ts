/**
 * Host values of `config set pacs.host` and of node entries: IPv4 and IPv6
 * addresses and RFC 1123 host names pass, anything else is rejected on input.
 */
import { setConfigValue } from '../../src/services/settings/config-keys';
import { SettingsStore } from '../../src/services/settings/settings-store';
import { validateHost } from '../../src/services/settings/validation';
import { createLoaderDirs, loaderIsBuilt, runLoader } from '../support/loader';
import { makeTempDir } from '../support/process';

const ALLOWED = /is invalid: give an IPv4 address \(four numbers from 0 to 255, such as 10\.0\.0\.5\), an IPv6 address, or a host name/;

describe('host validation', () => {
  test.each(['127.0.0.1', '0.0.0.0', '255.255.255.255', '::', '::1', 'fe80::1', 'localhost', 'pacs-1.example.org', 'nas.local', '1host.example'])(
    '%s accepted',
    (host) => {
      expect(validateHost('host', host)).toBe(host);
    },
  );

  test.each(['999.1.1.1', '256.0.0.1', '1.2.3', '10.0.0.5.', 'bad host', '-pacs', 'pacs_1', 'example.123', '', ':::1'])('%s rejected', (host) => {
    expect(() => validateHost('host', host)).toThrow(ALLOWED);
  });

  test('config set rejects invalid address', () => {
    const store = new SettingsStore({ configDir: makeTempDir('host-validation') });

    expect(() => setConfigValue(store, 'pacs.host', '999.1.1.1')).toThrow(/^pacs\.host "999\.1\.1\.1" is invalid: give an IPv4 address/);
    expect(store.settings.pacs.host).toBe('0.0.0.0');
  });

  test('node entry rejects invalid address', () => {
    const store = new SettingsStore({ configDir: makeTempDir('host-validation') });
    const node = { name: 'far', aeTitle: 'FAR', host: '999.1.1.1', port: 104, characterSet: 'ISO_IR 192' };

    expect(() => store.addPacsNode(node)).toThrow(/host "999\.1\.1\.1" is invalid: give an IPv4 address/);
    expect(() => store.addSshNode({ name: 'ws', host: '300.1.1.1', port: 22, login: 'u' })).toThrow(/host "300\.1\.1\.1" is invalid/);
  });
});

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

describeBuilt('host validation on the command line', () => {
  test('config set exits 2', async () => {
    const dirs = createLoaderDirs('host-cli');

    const result = await runLoader(['config', 'set', 'pacs.host', '999.1.1.1'], { dirs });

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(ALLOWED);
    expect(result.stderr).toContain('pacs.host "999.1.1.1"');
    expect((await runLoader(['config', 'set', 'pacs.host', '127.0.0.1'], { dirs })).code).toBe(0);
  });

  test('nodes add exits 2', async () => {
    const dirs = createLoaderDirs('host-cli');

    const result = await runLoader(['nodes', 'add', 'far', '--aet', 'FAR', '--host', '999.1.1.1', '--port', '104'], { dirs });

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--host "999.1.1.1" is invalid: give an IPv4 address');
  });
});
