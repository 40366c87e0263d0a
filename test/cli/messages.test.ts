/**
 * Messages of the built `loader` command for common mistakes. Option errors
 * name the option and quote what was typed. The other cases are duplicate AE
 * titles, a settings folder that is a file, a busy port, and invalid
 * settings entries, which stay in the file and are warned about on every run.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import { createLoaderDirs, loaderIsBuilt, runLoader, startLoader } from '../support/loader';
import { LOOPBACK, freePort } from '../support/process';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

describeBuilt('option errors', () => {
  test('nodes add names the option', async () => {
    const dirs = createLoaderDirs('cli-options');

    const aeTitle = await runLoader(['nodes', 'add', 'BAD1', '--aet', 'THIS_AE_TITLE_IS_TOO_LONG', '--host', LOOPBACK, '--port', '104'], { dirs });
    const port = await runLoader(['nodes', 'add', 'BAD2', '--aet', 'BAD2', '--host', LOOPBACK, '--port', 'abc'], { dirs });

    expect(aeTitle.code).toBe(2);
    expect(aeTitle.stderr).toContain('loader: --aet "THIS_AE_TITLE_IS_TOO_LONG" is invalid: an AE title has 1 to 16 characters');
    expect(port.code).toBe(2);
    expect(port.stderr).toContain('loader: --port "abc" is invalid: a port is a whole number from 1 to 65535');
  });

  test('send --all-matching without filters', async () => {
    const dirs = createLoaderDirs('messages-send-all');
    const result = await runLoader(['send', '--host', LOOPBACK, '--port', '104', '-aec', 'NODE', '--all-matching'], { dirs });

    expect(result.code).toBe(2);
    // A date range would skip studies without Study Date, so the message points to migrate --all.
    expect(result.stderr).toContain('loader migrate local NODE --all');
    expect(result.stderr).not.toContain('19000101');
  });

  test('serve --port names the option', async () => {
    const result = await runLoader(['serve', '--port', 'abc']);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('loader: --port "abc" is invalid: a port is a whole number from 1 to 65535');
    expect(result.stderr).not.toContain('NaN');
    expect(result.stderr).not.toContain('no valid license');
  });

  test('serve --max-associations-per-ae names the option', async () => {
    const dirs = createLoaderDirs('messages-per-ae');

    const word = await runLoader(['serve', '--max-associations-per-ae', 'many'], { dirs });
    const tooMany = await runLoader(['serve', '--max-associations-per-ae', '33'], { dirs });

    expect(word.code).toBe(2);
    expect(word.stderr).toContain('loader: --max-associations-per-ae "many" is invalid: use a whole number of 1 or more');
    expect(tooMany.code).toBe(2);
    expect(tooMany.stderr).toContain(
      'loader: --max-associations-per-ae 33 is more than pacs.maxAssociations 32: ' +
        'set --max-associations-per-ae to 32 or less, or pacs.maxAssociations to 33 or more',
    );
  });
});

describeBuilt('duplicate AE titles', () => {
  test('second node with one AE title rejected', async () => {
    const dirs = createLoaderDirs('cli-aet');
    expect((await runLoader(['nodes', 'add', 'SCU', '--aet', 'SCU', '--host', LOOPBACK, '--port', '12021'], { dirs })).code).toBe(0);

    const second = await runLoader(['nodes', 'add', 'SCU3', '--aet', 'SCU', '--host', LOOPBACK, '--port', '104'], { dirs });

    expect(second.code).toBe(2);
    expect(second.stderr).toContain(
      'loader: AE title SCU is already used by node SCU at 127.0.0.1:12021: ' +
        'an AE title must identify one node, because it is the C-MOVE destination',
    );
    const listed = (await runLoader(['nodes', 'list', '--json'], { dirs })).json<{ pacs: { name: string }[] }>();
    expect(listed.pacs.map((node) => node.name)).toEqual(['SCU']);
  });
});

describeBuilt('settings file problems', () => {
  test('settings folder that is a file', async () => {
    const dirs = createLoaderDirs('cli-settings');
    const file = path.join(dirs.root, 'plain-file');
    fs.writeFileSync(file, '');

    const result = await runLoader(['--config-dir', file, 'nodes', 'list'], { dirs });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`loader: settings folder ${file} is not a folder`);
    expect(result.stderr).toContain('--config-dir or LOADER_CONFIG_DIR');
    expect(result.stderr).not.toContain('ENOTDIR');
  });

  test('invalid entry kept and warned each run', async () => {
    const dirs = createLoaderDirs('cli-settings');
    const file = path.join(dirs.configDir, 'settings.json');
    const text = JSON.stringify({
      schemaVersion: 1,
      locations: {
        pacs: [
          { name: 'SCU', aeTitle: 'SCU', host: LOOPBACK, port: 12021 },
          { name: 'SCU3', aeTitle: 'SCU', host: LOOPBACK, port: 104 },
        ],
      },
    });
    fs.writeFileSync(file, text);

    for (let run = 0; run < 2; run += 1) {
      const listed = await runLoader(['nodes', 'list', '--json'], { dirs });
      expect(listed.code).toBe(0);
      expect(listed.json<{ pacs: { name: string }[] }>().pacs.map((node) => node.name)).toEqual(['SCU']);
      expect(listed.stderr).toContain('AE title SCU is already used by node SCU at 127.0.0.1:12021');
      expect(listed.stderr).toContain('node SCU3 is ignored until its entry in');
      expect(fs.readFileSync(file, 'utf8')).toBe(text);
    }

    const removed = await runLoader(['nodes', 'remove', 'SCU3'], { dirs });
    expect(removed.code).toBe(0);
    expect(removed.stdout).toBe('removed the invalid entry SCU3\n');
    const after = await runLoader(['nodes', 'list', '--json'], { dirs });
    expect(after.stderr).not.toContain('ignored');
  });
});

describeBuilt('serve start problems', () => {
  test('port in use names port and fix', async () => {
    const port = await freePort();
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(port, LOOPBACK, resolve));
    try {
      const result = await runLoader(['serve', '--host', LOOPBACK, '--port', String(port)]);

      expect(result.code).toBe(1);
      expect(result.stderr).toContain(
        `loader: port ${port} on ${LOOPBACK} is already in use (EADDRINUSE): stop the program using it ` +
          'or choose another port with --port or "loader config set pacs.port PORT"',
      );
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  test('no registered callers warns at start', async () => {
    const server = await startLoader([], { acceptAny: false });
    try {
      expect(server.readLog()).toContain(
        'no calling AE titles are registered and accept-any is off, so every association will be rejected',
      );
    } finally {
      await server.stop();
    }
  });
});
