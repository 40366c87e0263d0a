/**
 * Node names and their password variables: the allowed characters, names that
 * would share LOADER_SECRET_<NAME>, settings files that already contain such
 * names, and the secret lookup that rejects a shared variable.
 */
import fs from 'node:fs';
import path from 'node:path';

import { AmbiguousSecretVariableError, resolveNodeSecret } from '../../src/services/secrets';
import { importLocations } from '../../src/services/settings/locations-transfer';
import { SettingsStore } from '../../src/services/settings/settings-store';
import type { PacsNode } from '../../src/services/settings/settings-types';
import { MemoryStore } from '../support/keyring';
import { createLoaderDirs, loaderIsBuilt, runLoader } from '../support/loader';
import { makeTempDir } from '../support/process';

function pacsNode(name: string, aeTitle: string, changes: Partial<PacsNode> = {}): PacsNode {
  return { name, aeTitle, host: '127.0.0.1', port: 104, characterSet: 'ISO_IR 192', ...changes };
}

/** Writes a settings file with two PACS nodes whose names map to LOADER_SECRET_BAD_NAME. */
function writeCollidingSettings(dir: string): void {
  fs.writeFileSync(
    path.join(dir, 'settings.json'),
    JSON.stringify({ schemaVersion: 1, locations: { pacs: [pacsNode('bad-name', 'BAD1'), pacsNode('bad_name', 'BAD2')], ssh: [] } }),
  );
}

describe('node name rule', () => {
  test('second name with same variable rejected', () => {
    const store = new SettingsStore({ configDir: makeTempDir('node-names') });
    store.addPacsNode(pacsNode('bad-name', 'BAD1'));

    expect(() => store.addPacsNode(pacsNode('bad_name', 'BAD2'))).toThrow(
      /node name "bad_name" maps to the password variable LOADER_SECRET_BAD_NAME, which node bad-name uses already/,
    );
    expect(() => store.addPacsNode(pacsNode('Bad.Name', 'BAD3'))).toThrow(/which node bad-name uses already/);
    expect(() => store.addSshNode({ name: 'BAD_NAME', host: 'h', port: 22, login: 'u' })).toThrow(/which node bad-name uses already/);
    expect(store.listPacsNodes().map((node) => node.name)).toEqual(['bad-name']);
  });

  test('characters outside the rule rejected', () => {
    const store = new SettingsStore({ configDir: makeTempDir('node-names') });
    const rule = /is invalid: a node name has 1 to 64 letters, digits, '-', '_' or '\.', and starts with a letter or digit/;

    for (const name of ['bad name/x', 'a/b', 'two words', '-leading', '.hidden', 'x'.repeat(65), '']) {
      expect(() => store.addPacsNode(pacsNode(name, 'AE'))).toThrow(rule);
    }
    expect(store.addPacsNode(pacsNode('Клиника-2', 'KLINIKA')).name).toBe('Клиника-2');
    expect(store.addPacsNode(pacsNode('pacs_1.main', 'PACS1')).name).toBe('pacs_1.main');
  });

  test('import rejects shared variable', () => {
    const store = new SettingsStore({ configDir: makeTempDir('node-names') });
    store.addPacsNode(pacsNode('bad-name', 'BAD1'));

    const report = importLocations(store, { pacs: [pacsNode('bad_name', 'BAD2'), pacsNode('good', 'GOOD')], ssh: [] });

    expect(report.imported.map((entry) => entry.name)).toEqual(['good']);
    expect(report.rejected).toHaveLength(1);
    expect(report.rejected[0].reason).toMatch(/LOADER_SECRET_BAD_NAME, which node bad-name uses already/);
  });

  test('rejection explains the variable', () => {
    const store = new SettingsStore({ configDir: makeTempDir('node-names') });
    store.addPacsNode(pacsNode('bad-name', 'BAD1'));

    expect(() => store.addPacsNode(pacsNode('bad_name', 'BAD2'))).toThrow(
      "choose another name, or remove bad-name first. The variable is LOADER_SECRET_ and the name in upper case, " +
        "with Cyrillic letters spelled in Latin and each run of characters other than A-Z and 0-9 replaced by one '_'",
    );
  });

  test('names with own variables accepted', () => {
    const store = new SettingsStore({ configDir: makeTempDir('node-names') });
    store.addPacsNode(pacsNode('orth144', 'ORTH1'));

    // LOADER_SECRET_ORTH144 and LOADER_SECRET_ORTH_144, as the README explains.
    expect(store.addPacsNode(pacsNode('Orth-144', 'ORTH2')).name).toBe('Orth-144');
    expect(() => store.addPacsNode(pacsNode('ORTH144', 'ORTH3'))).toThrow(/already registered/);
  });

  test('import names --replace for registered names', () => {
    const store = new SettingsStore({ configDir: makeTempDir('node-names') });
    store.addPacsNode(pacsNode('main', 'MAIN'));

    const report = importLocations(store, { pacs: [pacsNode('Main', 'MAIN')], ssh: [] });

    expect(report.imported).toEqual([]);
    expect(report.rejected.map((entry) => entry.reason)).toEqual([
      'node name "Main" is already registered: import with --replace to overwrite it, or remove the existing node first',
    ]);
  });
});

describe('settings file with shared variable', () => {
  test('both nodes load with a warning', () => {
    const dir = makeTempDir('node-names');
    writeCollidingSettings(dir);

    const store = new SettingsStore({ configDir: dir, logWarnings: false });

    expect(store.listPacsNodes().map((node) => node.name)).toEqual(['bad-name', 'bad_name']);
    expect(store.warnings).toHaveLength(1);
    expect(store.warnings[0]).toMatch(/^nodes bad-name and bad_name map to the same password variable LOADER_SECRET_BAD_NAME/);
  });

  test('legacy name loads with a warning', () => {
    const dir = makeTempDir('node-names');
    fs.writeFileSync(path.join(dir, 'settings.json'), JSON.stringify({ schemaVersion: 1, locations: { pacs: [pacsNode('Main PACS', 'MAIN')] } }));

    const store = new SettingsStore({ configDir: dir, logWarnings: false });

    expect(store.listPacsNodes().map((node) => node.name)).toEqual(['Main PACS']);
    expect(store.warnings).toHaveLength(1);
    expect(store.warnings[0]).toMatch(/^node name "Main PACS" has characters other than letters, digits/);
  });

  test('lookup rejects the shared variable', async () => {
    const dir = makeTempDir('node-names');
    writeCollidingSettings(dir);
    new SettingsStore({ configDir: dir, logWarnings: false });
    const keychain = new MemoryStore();
    await keychain.set('pacs:bad-name', 'from-keychain');
    const env = { LOADER_SECRET_BAD_NAME: 'whose-password' };

    await expect(resolveNodeSecret('pacs', 'bad-name', keychain, { env })).rejects.toThrow(AmbiguousSecretVariableError);
    await expect(resolveNodeSecret('pacs', 'bad_name', keychain, { env })).rejects.toThrow(
      /nodes bad-name and bad_name all map to the environment variable LOADER_SECRET_BAD_NAME/,
    );
    expect(await resolveNodeSecret('pacs', 'bad-name', keychain, { env: {} })).toEqual({
      secret: 'from-keychain',
      source: 'keychain',
      origin: 'pacs:bad-name',
    });
  });

  test('removing one node clears the ambiguity', async () => {
    const dir = makeTempDir('node-names');
    writeCollidingSettings(dir);
    const store = new SettingsStore({ configDir: dir, logWarnings: false });

    store.removePacsNode('bad_name');

    const resolved = await resolveNodeSecret('pacs', 'bad-name', new MemoryStore(), { env: { LOADER_SECRET_BAD_NAME: 'mine' } });
    expect(resolved?.secret).toBe('mine');
  });
});

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

describeBuilt('node names on the command line', () => {
  test('nodes add rejects shared variable', async () => {
    const dirs = createLoaderDirs('node-names-cli');
    const first = await runLoader(['nodes', 'add', 'bad-name', '--aet', 'BAD1', '--host', '127.0.0.1', '--port', '104'], { dirs });
    expect(first.code).toBe(0);

    const second = await runLoader(['nodes', 'add', 'bad_name', '--aet', 'BAD2', '--host', '127.0.0.1', '--port', '105'], { dirs });
    expect(second.code).toBe(2);
    expect(second.stderr).toContain('LOADER_SECRET_BAD_NAME, which node bad-name uses already');

    const spaced = await runLoader(['nodes', 'add', 'bad name/x', '--aet', 'BAD3', '--host', '127.0.0.1', '--port', '106'], { dirs });
    expect(spaced.code).toBe(2);
    expect(spaced.stderr).toContain(`node name "bad name/x" is invalid: a node name has 1 to 64 letters, digits, '-', '_' or '.'`);

    const names = (await runLoader(['nodes', 'list', '--json'], { dirs })).json<{ pacs: PacsNode[] }>().pacs.map((node) => node.name);
    expect(names).toEqual(['bad-name']);
  });

  test('reserved name local rejected', async () => {
    const dirs = createLoaderDirs('node-names-cli');
    const pacs = await runLoader(['nodes', 'add', 'Local', '--aet', 'LOCAL1', '--host', '127.0.0.1', '--port', '104'], { dirs });
    expect(pacs.code).toBe(2);
    expect(pacs.stderr).toContain('node name "Local" is reserved: migrate and sync take "local" for the local archive');
    const ssh = await runLoader(['nodes', 'add-ssh', 'local', '--host', '127.0.0.1', '--login', 'doctor'], { dirs });
    expect(ssh.code).toBe(2);
    expect(ssh.stderr).toContain('node name "local" is reserved');

    const file = path.join(dirs.root, 'locations.json');
    const entries = { pacs: [pacsNode('LOCAL', 'LOCAL2'), pacsNode('main', 'MAIN')], ssh: [{ name: 'local', host: '127.0.0.1', port: 22, login: 'doctor' }] };
    fs.writeFileSync(file, JSON.stringify({ format: 'sciberia-loader-locations', version: 1, ...entries }));
    const imported = await runLoader(['nodes', 'import', file], { dirs });
    expect(imported.code).toBe(3);
    expect(imported.stdout).toContain('imported 1 locations, rejected 2');
    expect(imported.stdout).toContain('rejected: LOCAL (pacs): the name is reserved');
    expect(imported.stdout).toContain('rejected: local (ssh): the name is reserved');

    const listed = (await runLoader(['nodes', 'list', '--json'], { dirs })).json<{ pacs: PacsNode[]; ssh: unknown[] }>();
    expect(listed.pacs.map((node) => node.name)).toEqual(['main']);
    expect(listed.ssh).toEqual([]);
  });

  test('unknown quirk rejected', async () => {
    const dirs = createLoaderDirs('node-names-cli');
    const typo = await runLoader(['nodes', 'add', 'old', '--aet', 'OLD', '--host', '127.0.0.1', '--port', '104', '--quirks', 'no-wildcards-in-dates'], { dirs });
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('--quirks "no-wildcards-in-dates" is not a known quirk: use no-wildcard-in-dates, no-modalities-in-study');

    const known = ['no-wildcard-in-dates', 'no-date-wildcard', 'no-modalities-in-study', 'max-results-500', 'user-identity-response'];
    const added = await runLoader(['nodes', 'add', 'old', '--aet', 'OLD', '--host', '127.0.0.1', '--port', '104', '--quirks', ...known], { dirs });
    expect(added.code).toBe(0);
    const listed = (await runLoader(['nodes', 'list', '--json'], { dirs })).json<{ pacs: PacsNode[] }>();
    expect(listed.pacs[0].quirks).toEqual(known);
  });

  test('secrets env-name rejects shared variable', async () => {
    const dirs = createLoaderDirs('node-names-cli');
    writeCollidingSettings(dirs.configDir);

    const result = await runLoader(['secrets', 'env-name', 'bad-name'], { dirs });

    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('nodes bad-name and bad_name all map to the environment variable LOADER_SECRET_BAD_NAME');
    expect(result.stderr).toContain('nodes bad-name and bad_name map to the same password variable LOADER_SECRET_BAD_NAME');
  });
});
