/**
 * `loader config` and `loader nodes import|export` through the built command:
 * exit codes and messages that scripts and users see.
 */
import fs from 'node:fs';
import path from 'node:path';

import { createLoaderDirs, loaderIsBuilt, runLoader } from '../support/loader';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

describeBuilt('config command', () => {
  test('set then show', async () => {
    const dirs = createLoaderDirs('config-cli');
    expect((await runLoader(['config', 'set', 'pacs.aeTitle', 'MY_LOADER'], { dirs })).stdout).toBe('pacs.aeTitle = MY_LOADER\n');
    expect((await runLoader(['config', 'set', 'interface.trayIcon', 'off'], { dirs })).stdout).toBe('interface.trayIcon = off\n');

    const shown = await runLoader(['config', 'show', '--json'], { dirs });
    expect(shown.code).toBe(0);
    expect(shown.json()).toMatchObject({ pacs: { aeTitle: 'MY_LOADER' }, interface: { trayIcon: false } });
    expect((await runLoader(['config', 'path'], { dirs })).stdout).toBe(path.join(dirs.configDir, 'settings.json') + '\n');
  });

  test('invalid value exits 2', async () => {
    const dirs = createLoaderDirs('config-cli');
    await runLoader(['config', 'set', 'pacs.port', '4242'], { dirs });

    const aeTitle = await runLoader(['config', 'set', 'pacs.aeTitle', 'ABCDEFGHIJKLMNOPQ'], { dirs });
    expect(aeTitle.code).toBe(2);
    expect(aeTitle.stderr).toContain('pacs.aeTitle "ABCDEFGHIJKLMNOPQ" is invalid: an AE title has 1 to 16 characters');

    const port = await runLoader(['config', 'set', 'pacs.port', '70000'], { dirs });
    expect(port.code).toBe(2);
    expect(port.stderr).toContain('pacs.port "70000" is invalid: a port is a whole number from 1 to 65535');

    expect((await runLoader(['config', 'show', '--json'], { dirs })).json()).toMatchObject({ pacs: { port: 4242, aeTitle: 'LOADER' } });
  });

  test('corrupt settings file reported', async () => {
    const dirs = createLoaderDirs('config-cli');
    fs.writeFileSync(path.join(dirs.configDir, 'settings.json'), 'not json');
    const result = await runLoader(['config', 'show'], { dirs });
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/settings file .* is not valid JSON .*moved it to .*corrupt-/);
  });
});

describeBuilt('nodes import and export', () => {
  test('partial import exits 3', async () => {
    const dirs = createLoaderDirs('nodes-cli');
    const file = path.join(dirs.root, 'nodes.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        format: 'sciberia-loader-locations',
        version: 1,
        pacs: [
          { name: 'good', aeTitle: 'GOOD', host: '127.0.0.1', port: 104, password: 'hunter2' },
          { name: 'bad', aeTitle: 'ABCDEFGHIJKLMNOPQ', host: '127.0.0.1', port: 104 },
        ],
      }),
    );

    const result = await runLoader(['nodes', 'import', file], { dirs });

    expect(result.code).toBe(3);
    expect(result.stdout).toContain('imported 1 locations, rejected 1');
    expect(result.stdout).toContain('rejected: bad (pacs): locations.pacs["bad"].aeTitle "ABCDEFGHIJKLMNOPQ" is invalid');
    expect(result.stdout).toContain('password of good not imported');
    const listed = (await runLoader(['nodes', 'list', '--json'], { dirs })).json<{ pacs: { name: string }[] }>();
    expect(listed.pacs.map((node) => node.name)).toEqual(['good']);
    expect(fs.readFileSync(path.join(dirs.configDir, 'settings.json'), 'utf8')).not.toContain('hunter2');
  });

  test('export then import elsewhere', async () => {
    const source = createLoaderDirs('nodes-cli');
    await runLoader(['nodes', 'add', 'pacs1', '--aet', 'PACS1', '--host', '127.0.0.1', '--port', '104', '--login', 'bob'], { dirs: source });
    await runLoader(['nodes', 'add-ssh', 'nas', '--host', 'nas.local', '--login', 'backup'], { dirs: source });
    const file = path.join(source.root, 'export.json');
    expect((await runLoader(['nodes', 'export', file], { dirs: source })).code).toBe(0);

    const target = createLoaderDirs('nodes-cli');
    const imported = await runLoader(['nodes', 'import', file], { dirs: target });
    expect(imported.code).toBe(0);
    const again = await runLoader(['nodes', 'import', file], { dirs: target });
    expect(again.code).toBe(1);
    expect(again.stdout).toContain('node name "pacs1" is already registered: import with --replace to overwrite it');
    expect((await runLoader(['nodes', 'import', file, '--replace'], { dirs: target })).code).toBe(0);

    const listed = (await runLoader(['nodes', 'list', '--json'], { dirs: target })).json();
    expect(listed).toEqual((await runLoader(['nodes', 'list', '--json'], { dirs: source })).json());
  });
});
