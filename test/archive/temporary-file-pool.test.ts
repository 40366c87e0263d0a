/**
 * Temporary files created ahead of transfers (temporary-file-pool.ts) and
 * their cleanup when an archive opens (incoming.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { LocalArchive } from '../../src/services/archive';
import { isUnusedSpare } from '../../src/services/archive/incoming';
import { TemporaryFilePool } from '../../src/services/archive/temporary-file-pool';
import { createLogger, setLogSink } from '../../src/services/logger';
import { CT_SMALL, MR_SMALL, datasetPartOf, deadPid, makeTempDir, removeTempDir, requestFor, waitFor } from './fixtures';

const SOP_INSTANCE_UID = '1.2.826.0.1.3680043.9.7433.3.1';

describe('TemporaryFilePool', () => {
  let workDir: string;
  let incoming: string;
  let pool: TemporaryFilePool;
  const names = () => fs.readdirSync(incoming).sort();

  beforeEach(() => {
    workDir = makeTempDir();
    incoming = path.join(workDir, '.incoming');
    fs.mkdirSync(incoming);
    pool = new TemporaryFilePool(workDir, createLogger('test.pool'), { createAhead: 'always' });
  });

  afterEach(() => {
    pool.close();
    removeTempDir(workDir);
  });

  test('creates nothing before its first use', async () => {
    await new Promise((resolve) => setTimeout(resolve, 50));

    expect(names()).toEqual([]);
  });

  test('first take creates a file named after the instance', () => {
    const file = pool.take(SOP_INSTANCE_UID);
    fs.closeSync(file.fd);

    expect(path.basename(file.path).startsWith(`${SOP_INSTANCE_UID}.${process.pid}.`)).toBe(true);
    expect(fs.statSync(file.path).size).toBe(0);
  });

  test('later takes get spare files created ahead', async () => {
    fs.closeSync(pool.take(SOP_INSTANCE_UID).fd);
    await waitFor(() => pool.readyCount === 4);
    const spares = names().filter((name) => !name.startsWith(SOP_INSTANCE_UID));
    const sparesUnused = spares.every((name) => isUnusedSpare(path.join(incoming, name)));

    const file = pool.take(SOP_INSTANCE_UID);
    fs.writeSync(file.fd, 'data');
    fs.closeSync(file.fd);

    expect(spares).toHaveLength(4);
    expect(sparesUnused).toBe(true);
    expect(spares).toContain(path.basename(file.path));
    expect(fs.readFileSync(file.path, 'utf8')).toBe('data');
    expect(isUnusedSpare(file.path)).toBe(false);
  });

  test('close deletes the spare files, also those still being created', async () => {
    fs.closeSync(pool.take(SOP_INSTANCE_UID).fd);
    pool.close();
    await new Promise((resolve) => setTimeout(resolve, 100));

    expect(names()).toHaveLength(1);
    expect(names()[0].startsWith(SOP_INSTANCE_UID)).toBe(true);
  });

  test('fast creation creates nothing ahead', async () => {
    const fastPool = new TemporaryFilePool(workDir, createLogger('test.pool'), { slowCreateMs: Infinity });
    for (let i = 0; i < 10; i++) fs.closeSync(fastPool.take(`${SOP_INSTANCE_UID}${i}`).fd);
    await new Promise((resolve) => setTimeout(resolve, 50));
    fastPool.close();

    expect(fastPool.createsAhead).toBe(false);
    expect(names().filter((name) => isUnusedSpare(path.join(incoming, name)))).toEqual([]);
  });

  test('slow creation starts creating ahead after 8 files', async () => {
    const slowPool = new TemporaryFilePool(workDir, createLogger('test.pool'), { slowCreateMs: -1 });
    for (let i = 0; i < 7; i++) fs.closeSync(slowPool.take(`${SOP_INSTANCE_UID}${i}`).fd);
    const afterSeven = slowPool.createsAhead;
    fs.closeSync(slowPool.take(`${SOP_INSTANCE_UID}7`).fd);
    await waitFor(() => slowPool.readyCount === 4);
    slowPool.close();

    expect(afterSeven).toBe(false);
    expect(slowPool.createsAhead).toBe(true);
  });

  test('missing folder thrown, not retried', async () => {
    fs.rmSync(incoming, { recursive: true });

    expect(() => pool.take(SOP_INSTANCE_UID)).toThrow(/ENOENT/);
    fs.mkdirSync(incoming);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(names()).toEqual([]);
  });
});

describe('spare files and the archive', () => {
  let workDir: string;
  let root: string;
  let logLines: string[];
  let previousSink: (line: string) => void;

  beforeEach(() => {
    workDir = makeTempDir();
    root = path.join(workDir, 'archive');
    logLines = [];
    previousSink = setLogSink((line) => logLines.push(line));
  });

  afterEach(() => {
    setLogSink(previousSink);
    removeTempDir(workDir);
  });

  test('close leaves .incoming empty', async () => {
    const archive = LocalArchive.open(root, { durability: 'process-crash' });
    const first = await archive.receive(requestFor(datasetPartOf(CT_SMALL)));
    const second = await archive.receive(requestFor(datasetPartOf(MR_SMALL)));
    archive.close();

    expect([first.outcome, second.outcome]).toEqual(['stored', 'stored']);
    expect(fs.readdirSync(path.join(root, '.incoming'))).toEqual([]);
  });

  test('open deletes unused spares quietly', () => {
    fs.mkdirSync(path.join(root, '.incoming'), { recursive: true });
    const pid = deadPid();
    fs.writeFileSync(path.join(root, '.incoming', `${pid}.0123456789ab.7.part`), '');

    LocalArchive.open(root).close();

    expect(fs.readdirSync(path.join(root, '.incoming'))).toEqual([]);
    expect(logLines.filter((line) => / WARN /.test(line))).toEqual([]);
  });

  test('open warns about a written spare', () => {
    fs.mkdirSync(path.join(root, '.incoming'), { recursive: true });
    fs.writeFileSync(path.join(root, '.incoming', `${deadPid()}.0123456789ab.8.part`), 'half a file');

    LocalArchive.open(root).close();

    expect(fs.readdirSync(path.join(root, '.incoming'))).toEqual([]);
    expect(logLines.join('\n')).toContain('Removed temporary files left by an interrupted transfer');
  });
});
