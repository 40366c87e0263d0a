/**
 * The refusal of reindex names the command of each process that has the
 * archive open, read from its marker in <root>/.processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { LocalArchive, reindexArchive } from '../../src/services/archive';
import { commandOfThisProcess } from '../../src/services/archive/archive-users';
import { setLogSink } from '../../src/services/logger';
import { makeTempDir, removeTempDir } from './fixtures';

describe('reindex refusal names processes', () => {
  let workDir: string;
  let root: string;
  let previousSink: (line: string) => void;
  const sleepers: ChildProcess[] = [];

  beforeEach(() => {
    workDir = makeTempDir();
    root = path.join(workDir, 'archive');
    previousSink = setLogSink(() => undefined);
    LocalArchive.open(root).close();
  });

  afterEach(async () => {
    for (const sleeper of sleepers.splice(0)) {
      const exited = new Promise((resolve) => sleeper.once('exit', resolve));
      sleeper.kill();
      await exited;
    }
    setLogSink(previousSink);
    removeTempDir(workDir);
  });

  /** Starts a `sleep` process and writes an open marker for it with `content`; returns its PID. */
  function markSleeper(content: string, tag: string): number {
    const sleeper = spawn('sleep', ['30']);
    sleepers.push(sleeper);
    fs.writeFileSync(path.join(root, '.processes', `open.${sleeper.pid}.${tag}`), content);
    return sleeper.pid!;
  }

  test('command of a marker named', async () => {
    const pid = markSleeper(JSON.stringify({ command: 'loader scan' }), '0123456789ab');

    await expect(reindexArchive(root)).rejects.toMatchObject({
      code: 'in-use',
      message: `The archive ${root} is open in another loader process (PID ${pid}) that runs "loader scan". Stop it, then run loader reindex again.`,
    });
  });

  test('empty marker of older version', async () => {
    const pid = markSleeper('', '0123456789ab');

    await expect(reindexArchive(root)).rejects.toMatchObject({
      message: `The archive ${root} is open in another loader process (PID ${pid}). Stop it, then run loader reindex again.`,
    });
  });

  test('several processes listed', async () => {
    const first = markSleeper(JSON.stringify({ command: 'loader scan' }), '0123456789ab');
    const second = markSleeper('', 'ba9876543210');

    const error = (await reindexArchive(root).catch((caught: unknown) => caught)) as Error;

    expect(error.message).toContain('is open in other loader processes (');
    expect(error.message).toContain(`PID ${first} runs "loader scan"`);
    expect(error.message).toContain(`PID ${second}`);
    expect(error.message).toContain('Stop them, then run loader reindex again.');
  });

  test('marker of this process has its command', () => {
    const archive = LocalArchive.open(root);
    try {
      const markers = fs.readdirSync(path.join(root, '.processes')).filter((name) => name.startsWith('open.'));
      expect(markers).toHaveLength(1);
      const content = JSON.parse(fs.readFileSync(path.join(root, '.processes', markers[0]), 'utf8')) as { command: string };
      expect(content.command).toBe(commandOfThisProcess());
    } finally {
      archive.close();
    }
  });

  test.each([
    [['node', '/opt/loader/dist/loader.js', 'scan', '--import', '/media/cdrom'], 'loader scan'],
    [['node', '/opt/loader/dist/loader.js', '--archive', '/srv/archive', 'serve', '--port', '11112'], 'loader serve'],
    [['node', '/opt/loader/dist/loader.js', '--config-dir', '/etc/loader', '--json'], 'loader'],
    [['node', '/usr/lib/node_modules/jest/bin/jest.js', 'test'], 'jest.js'],
  ])('command of %j', (argv, expected) => {
    expect(commandOfThisProcess(argv)).toBe(expected);
  });
});
