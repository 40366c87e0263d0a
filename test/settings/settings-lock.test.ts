/**
 * The settings lock. Changes made by several processes at once are all kept,
 * and a lock left by a stopped process is removed. A lock that a running
 * process holds makes a change time out with a message naming the lock file.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { SettingsStore } from '../../src/services/settings/settings-store';
import type { PacsNode } from '../../src/services/settings/settings-types';
import { createLoaderDirs, loaderIsBuilt, runLoader } from '../support/loader';
import { makeTempDir } from '../support/process';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

function pacsNode(name: string): PacsNode {
  return { name, aeTitle: name.toUpperCase(), host: '127.0.0.1', port: 104, characterSet: 'ISO_IR 192' };
}

function openStore(options: { lockTimeoutMs?: number } = {}): { store: SettingsStore; lockFile: string } {
  const dir = makeTempDir('settings-lock');
  const store = new SettingsStore({ configDir: dir, ...options });
  return { store, lockFile: path.join(dir, 'settings.json.lock') };
}

/** Returns the PID of a process that has exited. */
function stoppedProcessPid(): number {
  const result = spawnSync('true');
  if (result.pid === undefined || result.pid === 0) throw new Error('could not start "true"');
  return result.pid;
}

describeBuilt('settings changed by parallel processes', () => {
  test('parallel nodes add keeps every node', async () => {
    const dirs = createLoaderDirs('settings-lock');
    const names = Array.from({ length: 10 }, (_, index) => `Y${index + 1}`);

    const runs = await Promise.all([
      ...names.map((name, index) =>
        runLoader(['nodes', 'add', name, '--aet', name, '--host', '127.0.0.1', '--port', String(31001 + index)], { dirs }),
      ),
      runLoader(['config', 'set', 'pacs.aeTitle', 'MYAE'], { dirs }),
    ]);
    for (const run of runs) expect({ code: run.code, stderr: run.stderr }).toMatchObject({ code: 0 });

    const listed = (await runLoader(['nodes', 'list', '--json'], { dirs })).json<{ pacs: PacsNode[] }>();
    expect(listed.pacs.map((node) => node.name).sort()).toEqual([...names].sort());
    const config = (await runLoader(['config', 'show', '--json'], { dirs })).json<{ pacs: { aeTitle: string } }>();
    expect(config.pacs.aeTitle).toBe('MYAE');
    expect(fs.existsSync(path.join(dirs.configDir, 'settings.json.lock'))).toBe(false);
  });
});

describe('settings lock file', () => {
  let holder: ChildProcess | undefined;

  afterEach(() => {
    holder?.kill('SIGKILL');
    holder = undefined;
  });

  test('lock released after change', () => {
    const { store, lockFile } = openStore();
    store.addPacsNode(pacsNode('first'));
    expect(fs.existsSync(lockFile)).toBe(false);

    expect(() => store.updatePacs({ port: 70000 })).toThrow(/port "70000" is invalid/);
    expect(fs.existsSync(lockFile)).toBe(false);
  });

  test('stale lock of stopped process removed', () => {
    const { store, lockFile } = openStore({ lockTimeoutMs: 60_000 });
    fs.writeFileSync(lockFile, `${stoppedProcessPid()} 0123456789ab\n`);

    store.addPacsNode(pacsNode('after-crash'));

    expect(store.listPacsNodes().map((node) => node.name)).toEqual(['after-crash']);
    expect(fs.existsSync(lockFile)).toBe(false);
    expect(fs.readdirSync(path.dirname(lockFile)).filter((name) => name.includes('.lock'))).toEqual([]);
  });

  test('lock of earlier process with same PID removed', () => {
    const { store, lockFile } = openStore({ lockTimeoutMs: 60_000 });
    // Same PID as this process but another tag: an earlier process, such as one in a restarted container.
    fs.writeFileSync(lockFile, `${process.pid} 000000000000\n`);

    store.updatePacs({ aeTitle: 'REUSED_PID' });

    expect(store.settings.pacs.aeTitle).toBe('REUSED_PID');
    expect(fs.existsSync(lockFile)).toBe(false);
  });

  test('old lock without PID removed', () => {
    const { store, lockFile } = openStore({ lockTimeoutMs: 60_000 });
    fs.writeFileSync(lockFile, '');
    const minuteAgo = new Date(Date.now() - 60_000);
    fs.utimesSync(lockFile, minuteAgo, minuteAgo);

    store.updatePacs({ aeTitle: 'EMPTY_LOCK' });

    expect(store.settings.pacs.aeTitle).toBe('EMPTY_LOCK');
    expect(fs.existsSync(lockFile)).toBe(false);
  });

  test('lock of running process times out', () => {
    const { store, lockFile } = openStore({ lockTimeoutMs: 300 });
    holder = spawn('sleep', ['600'], { stdio: 'ignore' });
    const pid = holder.pid;
    if (pid === undefined) throw new Error('could not start "sleep"');
    const content = `${pid} 0123456789ab\n`;
    fs.writeFileSync(lockFile, content);

    expect(() => store.addPacsNode(pacsNode('blocked'))).toThrow(
      `settings were not changed: timed out after 0.3 s waiting for the lock file ${lockFile}, which process ${pid} holds; ` +
        `wait for that process to finish and try again, or remove the lock file if process ${pid} is not a loader`,
    );
    expect(() => store.updatePacs({ aeTitle: 'BLOCKED' })).toThrow(`which process ${pid} holds`);

    expect(fs.readFileSync(lockFile, 'utf8')).toBe(content);
    const reopened = new SettingsStore({ configDir: path.dirname(lockFile) });
    expect(reopened.listPacsNodes()).toEqual([]);
    expect(reopened.settings.pacs.aeTitle).toBe('LOADER');
  });
});
