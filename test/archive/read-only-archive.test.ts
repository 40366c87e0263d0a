/**
 * An archive that this process may not write. The folder tree is made
 * immutable with `chattr +i`, which stops writes also for root (the file
 * system must support it, and the process needs CAP_LINUX_IMMUTABLE), so
 * the tests are skipped where chattr fails.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { LocalArchive, reindexArchive } from '../../src/services/archive';
import { ReadOnlyArchiveError } from '../../src/services/archive/read-only';
import { SCHEMA_VERSION } from '../../src/services/archive/schema';
import { setLogSink } from '../../src/services/logger';
import { CT_SMALL, MR_SMALL, chunkedStream, datasetPartOf, makeTempDir, removeTempDir, requestFor } from './fixtures';

function setImmutable(folder: string, immutable: boolean): boolean {
  return spawnSync('chattr', ['-R', immutable ? '+i' : '-i', folder], { stdio: 'ignore' }).status === 0;
}

function chattrWorks(): boolean {
  const probe = makeTempDir('chattr-probe-');
  const works = setImmutable(probe, true) && setImmutable(probe, false);
  removeTempDir(probe);
  return works;
}

const describeImmutable = chattrWorks() ? describe : describe.skip;

describeImmutable('read-only archive', () => {
  let workDir: string;
  let root: string;
  let logLines: string[];
  let previousSink: (line: string) => void;

  /** Creates an archive with CT_SMALL, lets `prepare` change it, then makes it immutable. */
  async function createImmutableArchive(prepare?: () => void): Promise<void> {
    const archive = LocalArchive.open(root);
    await archive.importFile(CT_SMALL, { copy: true });
    archive.close();
    prepare?.();
    expect(setImmutable(root, true)).toBe(true);
  }

  /** Returns the process markers, leaving out the space reserve that a writable open creates. */
  function listMarkers(): string[] {
    return fs.readdirSync(path.join(root, '.processes')).filter((name) => name !== 'space-reserve');
  }

  beforeEach(() => {
    workDir = makeTempDir();
    root = path.join(workDir, 'archive');
    logLines = [];
    previousSink = setLogSink((line) => logLines.push(line));
  });

  afterEach(() => {
    setLogSink(previousSink);
    setImmutable(root, false);
    removeTempDir(workDir);
  });

  test('opens read-only and reads', async () => {
    await createImmutableArchive();
    const archive = LocalArchive.open(root);
    try {
      expect(archive.readOnlyReason).toBe(`writing to ${root} is not permitted`);
      expect(archive.searchStudies({}).map((study) => study.numberOfInstances)).toEqual([1]);
      expect(archive.listInstances()).toHaveLength(1);
      expect(listMarkers()).toEqual([]);
    } finally {
      archive.close();
    }
    const readOnlyLines = logLines.filter((line) => line.includes('Opened the archive read-only'));
    expect(readOnlyLines).toHaveLength(1);
    expect(readOnlyLines[0]).toContain(root);
  });

  test('write methods raise ReadOnlyArchiveError', async () => {
    await createImmutableArchive();
    const archive = LocalArchive.open(root);
    try {
      await expect(archive.importFile(MR_SMALL, { copy: true })).rejects.toBeInstanceOf(ReadOnlyArchiveError);
      await expect(archive.importFile(MR_SMALL, { copy: false })).rejects.toBeInstanceOf(ReadOnlyArchiveError);
      const part = datasetPartOf(MR_SMALL);
      await expect(archive.receive(requestFor(part, chunkedStream(part.bytes)))).rejects.toBeInstanceOf(ReadOnlyArchiveError);
      await expect(archive.scanPaths([MR_SMALL], { import: true })).rejects.toBeInstanceOf(ReadOnlyArchiveError);
      await expect(archive.reindex()).rejects.toBeInstanceOf(ReadOnlyArchiveError);
      expect(() => archive.temporaryPath('1.2.3')).toThrow(ReadOnlyArchiveError);
    } finally {
      archive.close();
    }
  });

  test('read-write access fails at once', async () => {
    await createImmutableArchive();
    let thrown: unknown;
    try {
      LocalArchive.open(root, { access: 'read-write' }).close();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ReadOnlyArchiveError);
    const message = (thrown as Error).message;
    expect(message).toContain(`The archive folder ${root} is read-only`);
    expect(message).toContain('--archive');
    expect(message).not.toMatch(/EPERM|EROFS|EACCES/);
  });

  test('reindex fails with the read-only message', async () => {
    await createImmutableArchive();
    await expect(reindexArchive(root)).rejects.toThrow(`The archive folder ${root} is read-only`);
  });

  test('old schema names the folder', async () => {
    await createImmutableArchive(() => {
      const db = new Database(path.join(root, 'index.sqlite'));
      db.pragma('user_version = 0');
      db.close();
    });
    expect(() => LocalArchive.open(root)).toThrow(new RegExp(`schema version 0 and needs an upgrade to version ${SCHEMA_VERSION}, which needs write access to`));
  });

  test('damaged index names a writable copy', async () => {
    await createImmutableArchive(() => fs.writeFileSync(path.join(root, 'index.sqlite'), 'not a database, only text'.repeat(200)));
    expect(() => LocalArchive.open(root)).toThrow(/is damaged .*copy it to a writable place and run "loader reindex --archive COPY"/);
  });

  test('missing index names the folder', async () => {
    await createImmutableArchive(() => fs.rmSync(path.join(root, 'index.sqlite')));
    expect(() => LocalArchive.open(root)).toThrow(`The archive folder ${root} has no index index.sqlite, and the folder is read-only`);
  });
});
