/**
 * Settings validation, recovery of damaged files, `config set` keys and
 * location import/export, against real settings files in temp folders.
 */
import fs from 'node:fs';
import path from 'node:path';

import { setConfigValue } from '../../src/services/settings/config-keys';
import { exportLocations, importLocations, parseLocationsFile } from '../../src/services/settings/locations-transfer';
import { SettingsStore } from '../../src/services/settings/settings-store';
import type { PacsNode } from '../../src/services/settings/settings-types';
import { makeTempDir } from '../support/process';

const SECRET = 'Pa55-word-that-must-not-leak';

function openStore(dir = makeTempDir('settings')): { store: SettingsStore; dir: string; file: string } {
  const store = new SettingsStore({ configDir: dir });
  return { store, dir, file: path.join(dir, 'settings.json') };
}

function pacsNode(name: string, changes: Partial<PacsNode> = {}): PacsNode {
  return { name, aeTitle: name.toUpperCase().slice(0, 16), host: '127.0.0.1', port: 104, characterSet: 'ISO_IR 192', ...changes };
}

describe('settings validation', () => {
  test('17-character AE title rejected', () => {
    const { store } = openStore();
    store.updatePacs({ port: 4242 });

    expect(() => store.updatePacs({ aeTitle: 'ABCDEFGHIJKLMNOPQ' })).toThrow(
      'pacs.aeTitle "ABCDEFGHIJKLMNOPQ" is invalid: an AE title has 1 to 16 characters',
    );
    expect(() => store.addPacsNode(pacsNode('long', { aeTitle: 'ABCDEFGHIJKLMNOPQ' }))).toThrow(/aeTitle .* 1 to 16 characters/);
    expect(store.settings.pacs.aeTitle).toBe('LOADER');
    expect(store.settings.pacs.port).toBe(4242);
    expect(store.listPacsNodes()).toEqual([]);
  });

  test('AE title with backslash rejected', () => {
    const { store } = openStore();
    expect(() => store.updatePacs({ aeTitle: 'A\\B' })).toThrow(/without backslash or control characters/);
    expect(() => store.updatePacs({ aeTitle: 'A\tB' })).toThrow(/without backslash or control characters/);
  });

  test('port 70000 rejected', () => {
    const { store } = openStore();
    store.updatePacs({ aeTitle: 'KEEP_ME' });

    expect(() => store.updatePacs({ port: 70000 })).toThrow('pacs.port "70000" is invalid: a port is a whole number from 1 to 65535');
    expect(() => store.addPacsNode(pacsNode('far', { port: 70000 }))).toThrow(/port "70000" is invalid/);
    expect(() => store.addSshNode({ name: 'ssh', host: 'h', port: 70000, login: 'u' })).toThrow(/port "70000" is invalid/);
    expect(store.settings.pacs.port).toBe(11112);
    expect(store.settings.pacs.aeTitle).toBe('KEEP_ME');
  });

  test('duplicate AE title rejected', () => {
    const { store } = openStore();
    store.addPacsNode(pacsNode('SCU3', { aeTitle: 'SCU', port: 104 }));

    expect(() => store.addPacsNode(pacsNode('SCU', { port: 12021 }))).toThrow(
      'AE title SCU is already used by node SCU3 at 127.0.0.1:104: ' +
        'an AE title must identify one node, because it is the C-MOVE destination',
    );
    expect(() => store.addPacsNode(pacsNode('other-host', { aeTitle: 'SCU ', host: '127.0.0.2' }))).toThrow(/AE title SCU is already used/);
    expect(store.addPacsNode(pacsNode('lower-case', { aeTitle: 'scu', port: 12021 })).aeTitle).toBe('scu');
    expect(store.addPacsNode(pacsNode('second-login', { aeTitle: 'SCU', login: 'bob' })).aeTitle).toBe('SCU');
    expect(store.listPacsNodes().map((node) => node.name)).toEqual(['SCU3', 'lower-case', 'second-login']);
  });

  test('duplicate name rejected across kinds', () => {
    const { store } = openStore();
    store.addPacsNode(pacsNode('Main'));

    expect(() => store.addPacsNode(pacsNode('main', { aeTitle: 'OTHER' }))).toThrow(
      'node name "main" is already registered: choose another name or remove the existing node first',
    );
    expect(() => store.addSshNode({ name: 'MAIN', host: 'h', port: 22, login: 'u' })).toThrow(/already registered/);
    expect(store.listPacsNodes().map((node) => node.name)).toEqual(['Main']);
    expect(store.listSshNodes()).toEqual([]);
  });

  test('SSH entry fields validated', () => {
    const { store } = openStore();
    expect(() => store.addSshNode({ name: 's', host: 'bad host', port: 22, login: 'u' })).toThrow(/host "bad host" is invalid/);
    expect(() => store.addSshNode({ name: 's', host: 'h', port: 22, login: '' })).toThrow(/login "" is invalid/);
    expect(() => store.addSshNode({ name: 's', host: 'h', port: 22, login: 'u', keyFile: 'id_rsa' })).toThrow(
      /keyFile "id_rsa" is invalid: give an absolute path/,
    );
    const added = store.addSshNode({ name: 's', host: 'h', port: 2222, login: 'u', keyFile: '/home/u/.ssh/id_ed25519', defaultFolder: '/data' });
    expect(added).toEqual({ name: 's', host: 'h', port: 2222, login: 'u', keyFile: '/home/u/.ssh/id_ed25519', defaultFolder: '/data' });
  });

  test('PACS node optional fields validated', () => {
    const { store } = openStore();
    expect(() => store.addPacsNode(pacsNode('cs', { characterSet: 'KOI8-R' }))).toThrow(/characterSet "KOI8-R" is invalid/);
    expect(() => store.addPacsNode(pacsNode('to', { timeouts: { connectSeconds: 0 } }))).toThrow(/connectSeconds "0" is invalid/);
    expect(() => store.addPacsNode(pacsNode('q', { quirks: ['no spaces'] }))).toThrow(/quirks .* is invalid/);

    const added = store.addPacsNode(pacsNode('ok', { characterSet: 'iso-ir 144', login: 'bob', quirks: ['no-date-wildcard'] }));
    expect(added.characterSet).toBe('ISO_IR 144');
    expect(added.login).toBe('bob');
  });

  test('password field never reaches the settings file', () => {
    const { store, file } = openStore();
    store.addPacsNode({ ...pacsNode('p'), password: SECRET } as PacsNode);
    expect(fs.readFileSync(file, 'utf8')).not.toContain(SECRET);
    expect(store.listPacsNodes()[0]).not.toHaveProperty('password');
  });

  test('defaults match the documented values', () => {
    const { store } = openStore();
    const { pacs, interface: ui } = store.settings;
    expect(pacs.host).toBe('0.0.0.0');
    expect(pacs.aeTitle).toBe('LOADER');
    expect(['ru', 'en']).toContain(ui.language);
    expect(ui.theme).toBe('light');
    expect(ui.trayIcon).toBe(true);
  });

  test('change keeps what another process wrote', () => {
    // The window keeps one store open while `loader nodes add` writes the file from another process.
    const { store: window, dir } = openStore();
    new SettingsStore({ configDir: dir }).addPacsNode(pacsNode('cli-node'));
    window.updateInterface({ theme: 'dark' });

    const reopened = new SettingsStore({ configDir: dir });
    expect(reopened.listPacsNodes().map((node) => node.name)).toEqual(['cli-node']);
    expect(reopened.settings.interface.theme).toBe('dark');
    expect(window.listPacsNodes().map((node) => node.name)).toEqual(['cli-node']);
  });

  test('unset language follows each locale', () => {
    withLocale((setLocale) => {
      setLocale('en_US.UTF-8');
      const { store, dir, file } = openStore();
      store.updatePacs({ port: 4242 });
      const stored = JSON.parse(fs.readFileSync(file, 'utf8')) as { interface: Record<string, unknown> };
      expect(stored.interface).not.toHaveProperty('language');

      setLocale('ru_RU.UTF-8');
      expect(new SettingsStore({ configDir: dir }).settings.interface.language).toBe('ru');

      new SettingsStore({ configDir: dir }).updateInterface({ language: 'en' });
      expect(new SettingsStore({ configDir: dir }).settings.interface.language).toBe('en');
    });
  });

  test('unset legacy character set follows locale', () => {
    withLocale((setLocale) => {
      setLocale('en_US.UTF-8');
      const { store, dir, file } = openStore();
      expect(store.settings.pacs.legacyCharacterSet).toBe('latin1');
      expect(store.describeLegacyCharacterSetSource()).toBe('default for the non-Russian interface language (locale LANG=en_US.UTF-8)');
      store.updatePacs({ port: 4242, legacyCharacterSet: 'latin1' });
      const stored = JSON.parse(fs.readFileSync(file, 'utf8')) as { pacs: Record<string, unknown> };
      expect(stored.pacs).not.toHaveProperty('legacyCharacterSet');

      setLocale('ru_RU.UTF-8');
      const russian = new SettingsStore({ configDir: dir });
      expect(russian.settings.pacs.legacyCharacterSet).toBe('windows-1251');
      expect(russian.describeLegacyCharacterSetSource()).toBe('default for the Russian interface language (locale LANG=ru_RU.UTF-8)');

      russian.updateInterface({ language: 'en' });
      expect(new SettingsStore({ configDir: dir }).settings.pacs.legacyCharacterSet).toBe('latin1');
      russian.updatePacs({ legacyCharacterSet: 'koi8-r' });
      const chosen = new SettingsStore({ configDir: dir });
      expect(chosen.settings.pacs.legacyCharacterSet).toBe('koi8-r');
      expect(chosen.describeLegacyCharacterSetSource()).toBe(`set in ${file}`);
    });
  });
});

/** Runs `run` with a setLocale() that sets LANG and clears LC_ALL and LC_MESSAGES, and restores the three afterwards. */
function withLocale(run: (setLocale: (lang: string) => void) => void): void {
  const saved = { LC_ALL: process.env.LC_ALL, LC_MESSAGES: process.env.LC_MESSAGES, LANG: process.env.LANG };
  const setLocale = (lang: string) => {
    delete process.env.LC_ALL;
    delete process.env.LC_MESSAGES;
    process.env.LANG = lang;
  };
  try {
    run(setLocale);
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

describe('settings file recovery', () => {
  test('invalid JSON moved aside', () => {
    const dir = makeTempDir('settings');
    const file = path.join(dir, 'settings.json');
    fs.writeFileSync(file, '{"pacs": {"aeTitle": "BROKEN"');

    const { store } = openStore(dir);

    expect(store.warnings).toHaveLength(1);
    expect(store.warnings[0]).toMatch(/is not valid JSON .*; moved it to .*settings\.json\.corrupt-.* and started from defaults/);
    const aside = fs.readdirSync(dir).filter((name) => name.startsWith('settings.json.corrupt-'));
    expect(aside).toHaveLength(1);
    expect(fs.readFileSync(path.join(dir, aside[0]), 'utf8')).toBe('{"pacs": {"aeTitle": "BROKEN"');
    expect(store.settings.pacs.aeTitle).toBe('LOADER');
  });

  test('one invalid field falls back alone', () => {
    const dir = makeTempDir('settings');
    const file = path.join(dir, 'settings.json');
    const stored = {
      schemaVersion: 1,
      pacs: { aeTitle: 'ABCDEFGHIJKLMNOPQ', host: '0.0.0.0', port: 4242, scuPort: 0, moveScuPort: 4243, maxAssociations: 8 },
      interface: { language: 'ru', theme: 'purple', trayIcon: false },
      locations: {
        pacs: [pacsNode('good'), pacsNode('bad', { port: 70000 })],
        ssh: [{ name: 'nas', host: 'nas.local', port: 22, login: 'backup' }],
      },
    };
    fs.writeFileSync(file, JSON.stringify(stored));

    const { store } = openStore(dir);
    const settings = store.settings;

    expect(settings.pacs.aeTitle).toBe('LOADER');
    expect(settings.pacs.port).toBe(4242);
    expect(settings.pacs.moveScuPort).toBe(4243);
    expect(settings.pacs.maxAssociations).toBe(8);
    expect(settings.interface.language).toBe('ru');
    expect(settings.interface.theme).toBe('light');
    expect(settings.interface.trayIcon).toBe(false);
    expect(settings.locations.pacs.map((node) => node.name)).toEqual(['good']);
    expect(settings.locations.ssh.map((node) => node.name)).toEqual(['nas']);

    expect(store.warnings.join('\n')).toMatch(/pacs\.aeTitle "ABCDEFGHIJKLMNOPQ" is invalid: an AE title has 1 to 16 characters; using the default "LOADER"/);
    expect(store.warnings.join('\n')).toMatch(/interface\.theme "purple" is invalid: use dark or light; using the default "light"/);
    expect(store.warnings.join('\n')).toMatch(
      /locations\.pacs\["bad"\]\.port "70000" is invalid.*; node bad is ignored until its entry in .*settings\.json is fixed or removed with "loader nodes remove bad"/,
    );
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual(stored);
  });

  test('opening never rewrites the file', () => {
    const dir = makeTempDir('settings');
    const file = path.join(dir, 'settings.json');
    const text = JSON.stringify({ schemaVersion: 1, pacs: { port: 'eleven' }, locations: { pacs: [pacsNode('far', { port: 70000 })] } });
    fs.writeFileSync(file, text);

    expect(openStore(dir).store.warnings).toHaveLength(2);
    const reopened = openStore(dir).store;

    expect(reopened.warnings).toHaveLength(2);
    expect(reopened.settings.pacs.port).toBe(11112);
    expect(fs.readFileSync(file, 'utf8')).toBe(text);
    expect(fs.readdirSync(dir)).toEqual(['settings.json']);
  });

  test('invalid values survive a save', () => {
    const dir = makeTempDir('settings');
    const file = path.join(dir, 'settings.json');
    fs.writeFileSync(
      file,
      JSON.stringify({ schemaVersion: 1, pacs: { port: 'eleven' }, locations: { pacs: [pacsNode('far', { port: 70000 })] } }),
    );

    const { store } = openStore(dir);
    store.updatePacs({ aeTitle: 'CHANGED' });
    store.addPacsNode(pacsNode('near'));

    const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(saved.pacs.port).toBe('eleven');
    expect(saved.pacs.aeTitle).toBe('CHANGED');
    expect(saved.locations.pacs.map((node: PacsNode) => node.name)).toEqual(['near', 'far']);
    expect(openStore(dir).store.warnings).toHaveLength(2);
  });

  test('invalid values cleared by fixes', () => {
    const dir = makeTempDir('settings');
    fs.writeFileSync(
      path.join(dir, 'settings.json'),
      JSON.stringify({ schemaVersion: 1, pacs: { port: 'eleven' }, locations: { pacs: [pacsNode('far', { port: 70000 })] } }),
    );

    const { store } = openStore(dir);
    store.updatePacs({ port: 4242 });
    expect(store.removePacsNode('far')).toBe(true);

    const reopened = openStore(dir).store;
    expect(reopened.warnings).toEqual([]);
    expect(reopened.settings.pacs.port).toBe(4242);
    expect(reopened.listPacsNodes()).toEqual([]);
  });

  test('duplicate AE title in file keeps first', () => {
    const dir = makeTempDir('settings');
    fs.writeFileSync(
      path.join(dir, 'settings.json'),
      JSON.stringify({ schemaVersion: 1, locations: { pacs: [pacsNode('SCU', { port: 12021 }), pacsNode('SCU3', { aeTitle: 'SCU' })] } }),
    );

    const { store } = openStore(dir);

    expect(store.listPacsNodes().map((node) => node.name)).toEqual(['SCU']);
    expect(store.findPacsNodesByAeTitle('SCU').map((node) => node.port)).toEqual([12021]);
    expect(store.warnings).toHaveLength(1);
    expect(store.warnings[0]).toMatch(/^AE title SCU is already used by node SCU at 127\.0\.0\.1:12021: .*; node SCU3 is ignored until its entry/);
  });

  test('settings folder that is a file', () => {
    const file = path.join(makeTempDir('settings'), 'not-a-folder');
    fs.writeFileSync(file, '');
    expect(() => new SettingsStore({ configDir: file })).toThrow(
      `settings folder ${file} is not a folder: a file has that name or is part of its path; ` +
        'rename or remove that file, or choose another settings folder with --config-dir or LOADER_CONFIG_DIR',
    );
  });
});

describe('config set', () => {
  test('keys parse and save', () => {
    const { store, dir } = openStore();
    expect(setConfigValue(store, 'pacs.aeTitle', 'MY_LOADER')).toEqual({ key: 'pacs.aeTitle', value: 'MY_LOADER' });
    expect(setConfigValue(store, 'pacs.port', '104').value).toBe(104);
    expect(setConfigValue(store, 'pacs.scuPort', '0').value).toBe(0);
    expect(setConfigValue(store, 'pacs.ip', '127.0.0.1').key).toBe('pacs.host');
    expect(setConfigValue(store, 'interface.language', 'ru').value).toBe('ru');
    expect(setConfigValue(store, 'interface.theme', 'dark').value).toBe('dark');
    expect(setConfigValue(store, 'interface.tray', 'off').value).toBe(false);

    const reopened = openStore(dir).store.settings;
    expect(reopened.pacs).toMatchObject({ aeTitle: 'MY_LOADER', port: 104, scuPort: 0, host: '127.0.0.1' });
    expect(reopened.interface).toEqual({ language: 'ru', theme: 'dark', trayIcon: false });
  });

  test('bad keys and values rejected', () => {
    const { store } = openStore();
    expect(() => setConfigValue(store, 'pacs.colour', 'x')).toThrow(/unknown setting "pacs.colour": use one of pacs.aeTitle/);
    expect(() => setConfigValue(store, 'pacs.port', '70000')).toThrow(/pacs.port "70000" is invalid/);
    expect(() => setConfigValue(store, 'pacs.moveScuPort', '0')).toThrow(/from 1 to 65535/);
    expect(() => setConfigValue(store, 'interface.language', 'de')).toThrow('interface.language "de" is invalid: use ru or en');
    expect(() => setConfigValue(store, 'interface.trayIcon', 'maybe')).toThrow(/use on or off/);
    expect(() => setConfigValue(store, 'pacs.maxAssociations', '0')).toThrow(/whole number of 1 or more/);
    expect(store.settings.pacs.port).toBe(11112);
  });
});

describe('association limit per AE', () => {
  const writeSettings = (pacs: Record<string, unknown>) => {
    const dir = makeTempDir('settings');
    fs.writeFileSync(path.join(dir, 'settings.json'), JSON.stringify({ schemaVersion: 1, pacs }));
    return openStore(dir);
  };

  test('default is 8', () => {
    expect(openStore().store.settings.pacs.maxAssociationsPerAe).toBe(8);
  });

  test('set through config', () => {
    const { store, dir } = openStore();

    expect(setConfigValue(store, 'pacs.maxAssociationsPerAe', '3').value).toBe(3);
    expect(openStore(dir).store.settings.pacs.maxAssociationsPerAe).toBe(3);
  });

  test('invalid values rejected', () => {
    const { store } = openStore();

    expect(() => setConfigValue(store, 'pacs.maxAssociationsPerAe', '0')).toThrow('pacs.maxAssociationsPerAe "0" is invalid: use a whole number of 1 or more');
    expect(() => setConfigValue(store, 'pacs.maxAssociationsPerAe', 'many')).toThrow(/pacs.maxAssociationsPerAe "many" is invalid/);
    expect(() => setConfigValue(store, 'pacs.maxAssociationsPerAe', '33')).toThrow(
      'pacs.maxAssociationsPerAe 33 is more than pacs.maxAssociations 32: set pacs.maxAssociationsPerAe to 32 or less, or pacs.maxAssociations to 33 or more',
    );
    expect(() => setConfigValue(store, 'pacs.maxAssociations', '4')).toThrow('pacs.maxAssociationsPerAe 8 is more than pacs.maxAssociations 4: set pacs.maxAssociationsPerAe to 4 or less, or pacs.maxAssociations to 8 or more');
    expect(store.settings.pacs.maxAssociations).toBe(32);
    expect(store.settings.pacs.maxAssociationsPerAe).toBe(8);
  });

  test('missing value follows small total', () => {
    const { store } = writeSettings({ maxAssociations: 4 });

    expect(store.warnings).toEqual([]);
    expect(store.settings.pacs.maxAssociations).toBe(4);
    expect(store.settings.pacs.maxAssociationsPerAe).toBe(4);
  });

  test('stored value above total falls back', () => {
    const { store, file } = writeSettings({ maxAssociations: 4, maxAssociationsPerAe: 6 });

    expect(store.settings.pacs.maxAssociations).toBe(4);
    expect(store.settings.pacs.maxAssociationsPerAe).toBe(4);
    expect(store.warnings.join('\n')).toMatch(/pacs.maxAssociationsPerAe 6 is more than pacs.maxAssociations 4: .*; using the default 4/);

    store.updatePacs({ port: 4242 });
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).pacs.maxAssociationsPerAe).toBe(6);
  });

  test('stored value under large total kept', () => {
    const { store } = writeSettings({ maxAssociations: 64, maxAssociationsPerAe: 40 });

    expect(store.warnings).toEqual([]);
    expect(store.settings.pacs.maxAssociationsPerAe).toBe(40);
  });
});

describe('location import and export', () => {
  test('export round trip', () => {
    const source = openStore().store;
    source.addPacsNode(pacsNode('pacs1', { login: 'bob', timeouts: { dimseSeconds: 120 }, quirks: ['no-date-wildcard'] }));
    source.addSshNode({ name: 'nas', host: 'nas.local', port: 22, login: 'backup', keyFile: '/root/.ssh/id_ed25519' });
    const exported = exportLocations(source);

    const target = openStore().store;
    const report = importLocations(target, parseLocationsFile(JSON.stringify(exported), 'export.json'));

    expect(report.rejected).toEqual([]);
    expect(report.imported.map((entry) => entry.name)).toEqual(['pacs1', 'nas']);
    expect(target.settings.locations).toEqual(source.settings.locations);
  });

  test('invalid entries reported, valid ones imported', () => {
    const { store, file } = openStore();
    store.addPacsNode(pacsNode('existing'));
    const text = JSON.stringify({
      format: 'sciberia-loader-locations',
      version: 1,
      pacs: [
        pacsNode('fine', { password: SECRET } as Partial<PacsNode>),
        pacsNode('long-aet', { aeTitle: 'ABCDEFGHIJKLMNOPQ' }),
        pacsNode('far', { port: 70000 }),
        pacsNode('EXISTING', { aeTitle: 'DUP' }),
        'not an object',
        pacsNode('same-aet', { aeTitle: 'EXISTING', port: 11112 }),
      ],
      ssh: [{ name: 'nas', host: 'nas.local', port: 22, login: 'backup', passphrase: SECRET }, { name: 'nologin', host: 'h', port: 22 }],
    });

    const report = importLocations(store, parseLocationsFile(text, 'nodes.json'));

    expect(report.imported.map((entry) => entry.name)).toEqual(['fine', 'nas']);
    const reasons = Object.fromEntries(report.rejected.map((entry) => [entry.name, entry.reason]));
    expect(reasons['long-aet']).toMatch(/aeTitle "ABCDEFGHIJKLMNOPQ" is invalid: an AE title has 1 to 16 characters/);
    expect(reasons.far).toMatch(/port "70000" is invalid/);
    expect(reasons.EXISTING).toMatch(/node name "EXISTING" is already registered/);
    expect(reasons['#5']).toMatch(/is not an object/);
    expect(reasons['same-aet']).toBe(
      'AE title EXISTING is already used by node existing at 127.0.0.1:104: ' +
        'an AE title must identify one node, because it is the C-MOVE destination',
    );
    expect(reasons.nologin).toMatch(/login .* is invalid/);
    expect(report.passwordsIgnored).toEqual(['fine', 'nas']);
    expect(fs.readFileSync(file, 'utf8')).not.toContain(SECRET);
    expect(store.findPacsNode('existing')?.aeTitle).toBe('EXISTING');
  });

  test('replace swaps same-name entries', () => {
    const { store } = openStore();
    store.addPacsNode(pacsNode('a', { aeTitle: 'OLD_A' }));
    store.addPacsNode(pacsNode('b', { aeTitle: 'OLD_B' }));
    const text = JSON.stringify({
      format: 'sciberia-loader-locations',
      version: 1,
      pacs: [pacsNode('a', { aeTitle: 'NEW_A' }), pacsNode('b', { port: 0 })],
    });

    const report = importLocations(store, parseLocationsFile(text, 'nodes.json'), { replace: true });

    expect(report.replaced).toEqual(['a']);
    expect(store.findPacsNode('a')?.aeTitle).toBe('NEW_A');
    expect(store.findPacsNode('b')?.aeTitle).toBe('OLD_B');
  });

  test('file of another kind rejected', () => {
    expect(() => parseLocationsFile('{"pacs": []}', 'x.json')).toThrow(/x.json is not a locations file/);
    expect(() => parseLocationsFile('{', 'x.json')).toThrow(/x.json is not valid JSON/);
    expect(() => parseLocationsFile('{"format":"sciberia-loader-locations","version":9}', 'x.json')).toThrow(/update the loader/);
  });
});
