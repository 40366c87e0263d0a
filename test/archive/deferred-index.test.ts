/**
 * Deferred index commits of 'process-crash' durability (index-writer.ts), the
 * second link a placed file keeps until its commit, and the cleanup of
 * .incoming when an archive opens (incoming.ts).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { LocalArchive, reindexArchive } from '../../src/services/archive';
import { ArchiveCatalog } from '../../src/services/archive/catalog';
import * as placement from '../../src/services/archive/placement';
import { setLogSink } from '../../src/services/logger';
import { generateUid } from '../../src/dicom/uid';
import {
  CT_SMALL,
  MR_SMALL,
  Tag,
  datasetPartOf,
  makeTempDir,
  modifiedCopy,
  removeTempDir,
  requestFor,
  deadPid,
  waitFor,
} from './fixtures';
import { incomingLeftovers } from '../support/incoming';

/** SOP Instance UIDs in the index file, read through a separate connection, as another process would. */
function committedUids(root: string): string[] {
  const db = new Database(path.join(root, 'index.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT sop_instance_uid AS uid FROM instances ORDER BY uid').all() as { uid: string }[]).map((row) => row.uid);
  } finally {
    db.close();
  }
}

/** Names in .incoming, without the empty files the archive creates ahead of transfers. */
function incomingNames(root: string): string[] {
  return incomingLeftovers(root);
}

/** Renames every file in .incoming as if process `pid` had written it. */
function handIncomingTo(root: string, pid: number): void {
  for (const name of incomingNames(root)) {
    const renamed = name.replace(/\.\d+\.([0-9a-f]{12})\.(\d+)\.part$/, `.${pid}.$1.$2.part`);
    fs.renameSync(path.join(root, '.incoming', name), path.join(root, '.incoming', renamed));
  }
}


describe("deferred index commits of 'process-crash'", () => {
  let workDir: string;
  let root: string;
  let logLines: string[];
  let previousSink: (line: string) => void;
  let sleeper: ChildProcess | undefined;

  beforeEach(() => {
    workDir = makeTempDir();
    root = path.join(workDir, 'archive');
    logLines = [];
    previousSink = setLogSink((line) => logLines.push(line));
  });

  afterEach(() => {
    jest.restoreAllMocks();
    sleeper?.kill();
    sleeper = undefined;
    setLogSink(previousSink);
    removeTempDir(workDir);
  });

  test('second link kept until commit', async () => {
    const archive = LocalArchive.open(root, { durability: 'process-crash' });
    const part = datasetPartOf(CT_SMALL);

    const outcome = await archive.receive(requestFor(part));
    const links = incomingNames(root);
    const uidsBeforeCommit = committedUids(root);
    const secondLink = fs.statSync(path.join(root, '.incoming', links[0]));
    const stored = fs.statSync(outcome.path);
    await waitFor(() => incomingNames(root).length === 0);
    const uidsAfterCommit = committedUids(root);
    archive.close();

    expect(outcome.outcome).toBe('stored');
    expect(links).toHaveLength(1);
    expect(secondLink.ino).toBe(stored.ino);
    expect(stored.nlink).toBe(2);
    expect(uidsBeforeCommit).toEqual([]);
    expect(uidsAfterCommit).toEqual([part.sopInstanceUid]);
    expect(fs.statSync(outcome.path).nlink).toBe(1);
  });

  test('own reads include queued rows', async () => {
    const archive = LocalArchive.open(root, { durability: 'process-crash' });
    const part = datasetPartOf(CT_SMALL);

    await archive.receive(requestFor(part));
    const listed = archive.listInstances().map((instance) => instance.sopInstanceUid);
    const studies = archive.searchStudies({}).map((study) => study.studyInstanceUid);
    archive.close();

    expect(listed).toEqual([part.sopInstanceUid]);
    expect(studies).toEqual([part.studyInstanceUid]);
    expect(incomingNames(root)).toEqual([]);
  });

  test('queued UID stored again is duplicate', async () => {
    const archive = LocalArchive.open(root, { durability: 'process-crash' });
    const part = datasetPartOf(MR_SMALL);

    const first = await archive.receive(requestFor(part));
    const second = await archive.receive(requestFor(part));
    archive.close();

    expect(first.outcome).toBe('stored');
    expect(second.outcome).toBe('duplicate');
    expect(second.path).toBe(first.path);
    expect(committedUids(root)).toEqual([part.sopInstanceUid]);
  });

  /** Receives `part` while every index commit fails, and waits for the failure. */
  async function receiveWithFailedCommit(archive: LocalArchive, part: ReturnType<typeof datasetPartOf>) {
    jest.spyOn(ArchiveCatalog.prototype, 'addInstances').mockImplementation(() => {
      throw new Error('database or disk is full');
    });
    const outcome = await archive.receive(requestFor(part));
    await waitFor(() => logLines.some((line) => line.includes('Failed to index a stored instance')));
    jest.restoreAllMocks();
    return outcome;
  }

  test('failed commit indexed at next open', async () => {
    const archive = LocalArchive.open(root, { durability: 'process-crash' });
    const part = datasetPartOf(CT_SMALL);

    const outcome = await receiveWithFailedCommit(archive, part);
    archive.close();
    const uidsAfterFailure = committedUids(root);
    const linksAfterFailure = incomingNames(root);

    handIncomingTo(root, deadPid());
    const reopened = LocalArchive.open(root, { durability: 'process-crash' });
    const indexed = reopened.getInstancePath(part.sopInstanceUid);
    reopened.close();

    expect(outcome.outcome).toBe('stored');
    expect(uidsAfterFailure).toEqual([]);
    expect(linksAfterFailure).toHaveLength(1);
    expect(indexed).toBe(outcome.path);
    expect(committedUids(root)).toEqual([part.sopInstanceUid]);
    expect(incomingNames(root)).toEqual([]);
    expect(logLines.join('\n')).toMatch(/Indexed a stored instance after an interrupted index commit.*MODALITY1/);
  });

  test('locked index retried', async () => {
    const archive = LocalArchive.open(root, { durability: 'process-crash' });
    const part = datasetPartOf(CT_SMALL);
    const original = ArchiveCatalog.prototype.addInstances;
    let calls = 0;
    jest.spyOn(ArchiveCatalog.prototype, 'addInstances').mockImplementation(function (this: ArchiveCatalog, entries) {
      calls++;
      if (calls === 1) throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY_SNAPSHOT' });
      return original.call(this, entries);
    });

    await archive.receive(requestFor(part));
    await waitFor(() => calls >= 2 && incomingNames(root).length === 0);
    archive.close();

    expect(calls).toBe(2);
    expect(committedUids(root)).toEqual([part.sopInstanceUid]);
    expect(logLines.join('\n')).toMatch(/index is locked by another process; retrying/);
    expect(logLines.join('\n')).not.toMatch(/Failed to index/);
  });

  test('full keeps second link during commit', async () => {
    const archive = LocalArchive.open(root, { durability: 'full' });
    const part = datasetPartOf(CT_SMALL);
    const original = ArchiveCatalog.prototype.addInstances;
    const linksDuringCommit: number[] = [];
    jest.spyOn(ArchiveCatalog.prototype, 'addInstances').mockImplementation(function (this: ArchiveCatalog, entries) {
      for (const name of incomingNames(root)) linksDuringCommit.push(fs.statSync(path.join(root, '.incoming', name)).nlink);
      return original.call(this, entries);
    });

    const outcome = await archive.receive(requestFor(part));
    const linksAfterStore = incomingNames(root);
    archive.close();

    expect(outcome.outcome).toBe('stored');
    expect(linksDuringCommit).toEqual([2]);
    expect(linksAfterStore).toEqual([]);
    expect(fs.statSync(outcome.path).nlink).toBe(1);
  });

  /**
   * Opens the archive twice, as two processes would, and returns CT_SMALL and
   * a copy with its SOP Instance UID under another study and series.
   */
  function twoWritersOfOneUid(durability: 'full' | 'process-crash') {
    const otherStudy = { [Tag.StudyInstanceUID]: generateUid(), [Tag.SeriesInstanceUID]: generateUid() };
    return {
      first: LocalArchive.open(root, { durability }),
      second: LocalArchive.open(root, { durability }),
      part: datasetPartOf(CT_SMALL),
      moved: datasetPartOf(modifiedCopy(CT_SMALL, path.join(workDir, 'moved.dcm'), otherStudy)),
    };
  }

  test('interrupted commit of a reused series kept aside', async () => {
    const part = datasetPartOf(CT_SMALL);
    // Another instance in the same series, under another study: invalid DICOM, which a commit rejects.
    const reused = datasetPartOf(modifiedCopy(CT_SMALL, path.join(workDir, 'reused.dcm'), { [Tag.StudyInstanceUID]: generateUid(), [Tag.SOPInstanceUID]: generateUid() }));
    const interrupted = LocalArchive.open(root, { durability: 'process-crash' });
    const placed = await receiveWithFailedCommit(interrupted, reused);
    interrupted.close();
    // The files of this test process count as in use, so this archive leaves the interrupted commit alone.
    const other = LocalArchive.open(root, { durability: 'process-crash' });
    await other.receive(requestFor(part));
    other.close();

    handIncomingTo(root, deadPid());
    LocalArchive.open(root, { durability: 'process-crash' }).close();
    const conflicts = fs.readdirSync(path.join(root, '.conflicts'));

    expect(committedUids(root)).toEqual([part.sopInstanceUid]);
    expect(fs.existsSync(placed.path)).toBe(false);
    expect(conflicts).toHaveLength(1);
    expect(fs.readFileSync(path.join(root, '.conflicts', conflicts[0])).subarray(-reused.bytes.length).equals(reused.bytes)).toBe(true);
    expect(incomingNames(root)).toEqual([]);
    expect(logLines.join('\n')).toMatch(/Kept aside a stored instance whose interrupted index commit conflicts.*is indexed under study/);
  });

  test('repeated interrupted conflict kept once', async () => {
    const part = datasetPartOf(CT_SMALL);
    const reused = datasetPartOf(modifiedCopy(CT_SMALL, path.join(workDir, 'reused.dcm'), { [Tag.StudyInstanceUID]: generateUid(), [Tag.SOPInstanceUID]: generateUid() }));
    const first = LocalArchive.open(root, { durability: 'process-crash' });
    await first.receive(requestFor(part));
    first.close();

    /** Receives `reused` with a failed commit, then opens the archive as the next process would and waits for its checks for repeated copies. */
    async function interruptAndRecover() {
      logLines.length = 0;
      const interrupted = LocalArchive.open(root, { durability: 'process-crash' });
      const placed = await receiveWithFailedCommit(interrupted, reused);
      interrupted.close();
      handIncomingTo(root, deadPid());
      const repeatCheck = jest.spyOn(placement, 'keepConflictOnce');
      LocalArchive.open(root, { durability: 'process-crash' }).close();
      await Promise.all(repeatCheck.mock.results.map((result) => result.value));
      const checks = repeatCheck.mock.calls.length;
      repeatCheck.mockRestore();
      return { placed, checks };
    }

    const firstRecovery = await interruptAndRecover();
    const firstConflicts = fs.readdirSync(path.join(root, '.conflicts'));
    const secondRecovery = await interruptAndRecover();
    const repeatedLog = logLines.find((line) => line.includes('interrupted index commit equals a copy kept aside before; removed the repeated copy')) ?? '';

    expect(firstRecovery.placed.path).toBe(secondRecovery.placed.path);
    expect(fs.existsSync(secondRecovery.placed.path)).toBe(false);
    expect(firstConflicts).toHaveLength(1);
    expect(fs.readdirSync(path.join(root, '.conflicts'))).toEqual(firstConflicts);
    expect(firstRecovery.checks).toBe(1);
    expect(secondRecovery.checks).toBe(1);
    expect(committedUids(root)).toEqual([part.sopInstanceUid]);
    expect(incomingNames(root)).toEqual([]);
    expect(repeatedLog).toContain(`conflictPath=${path.join(root, '.conflicts', firstConflicts[0])}`);
    expect(repeatedLog).toContain(`removedPath=${path.join(root, '.conflicts', reused.sopInstanceUid)}.`);
    expect(repeatedLog).toContain(`sopInstanceUid=${reused.sopInstanceUid}`);
  });

  test('late conflict from another process', async () => {
    const { first, second, part, moved } = twoWritersOfOneUid('process-crash');

    const storedFirst = await first.receive(requestFor(part));
    const late = await second.receive(requestFor(moved));
    first.close();
    second.close();
    const conflicts = fs.readdirSync(path.join(root, '.conflicts'));

    expect(late.outcome).toBe('stored');
    expect(fs.existsSync(late.path)).toBe(false);
    expect(fs.existsSync(storedFirst.path)).toBe(true);
    expect(conflicts).toHaveLength(1);
    expect(fs.readFileSync(path.join(root, '.conflicts', conflicts[0])).subarray(-moved.bytes.length).equals(moved.bytes)).toBe(true);
    expect(incomingNames(root)).toEqual([]);
    expect(committedUids(root)).toEqual([part.sopInstanceUid]);
    expect(logLines.join('\n')).toMatch(/different content for a stored SOP Instance UID; kept it aside/);
  });

  test('full conflict found at commit', async () => {
    const { first, second, part, moved } = twoWritersOfOneUid('full');

    const storedFirst = await first.receive(requestFor(part));
    // The second archive's lookup runs before the first commit, as in another process.
    jest.spyOn(ArchiveCatalog.prototype, 'findInstance').mockReturnValueOnce(undefined);
    const late = await second.receive(requestFor(moved));
    jest.restoreAllMocks();
    const indexed = second.getInstancePath(part.sopInstanceUid);
    first.close();
    second.close();

    expect(late.outcome).toBe('conflict');
    expect(path.dirname(late.path)).toBe(path.join(root, '.conflicts'));
    expect(indexed).toBe(storedFirst.path);
    expect(fs.existsSync(path.join(root, moved.studyInstanceUid))).toBe(true);
    expect(fs.readdirSync(path.join(root, moved.studyInstanceUid, moved.seriesInstanceUid))).toEqual([]);
    expect(incomingNames(root)).toEqual([]);
  });

  test.each(['full', 'process-crash'] as const)('%s keeps series of another study aside', async (durability) => {
    const archive = LocalArchive.open(root, { durability });
    const part = datasetPartOf(CT_SMALL);
    const reused = { [Tag.StudyInstanceUID]: generateUid(), [Tag.SOPInstanceUID]: generateUid() };
    const intruder = datasetPartOf(modifiedCopy(CT_SMALL, path.join(workDir, 'intruder.dcm'), reused));

    await archive.receive(requestFor(part));
    const outcome = await archive.receive(requestFor(intruder));
    const inFirstStudy = archive.listInstances({ studyInstanceUid: part.studyInstanceUid }).map((instance) => instance.sopInstanceUid);
    const studies = archive.searchStudies({}).map((study) => study.studyInstanceUid);
    archive.close();
    const conflicts = fs.readdirSync(path.join(root, '.conflicts'));

    expect(intruder.seriesInstanceUid).toBe(part.seriesInstanceUid);
    expect(outcome.outcome).toBe(durability === 'full' ? 'conflict' : 'stored');
    expect(inFirstStudy).toEqual([part.sopInstanceUid]);
    expect(studies).toEqual([part.studyInstanceUid]);
    expect(conflicts).toHaveLength(1);
    expect(fs.existsSync(path.join(root, intruder.studyInstanceUid, intruder.seriesInstanceUid, `${intruder.sopInstanceUid}.dcm`))).toBe(false);
    expect(incomingNames(root)).toEqual([]);
    expect(logLines.join('\n')).toMatch(/conflicts with the index; kept it aside.*is indexed under study/);
  });

  test.each(['full', 'process-crash'] as const)('%s keeps another Patient ID aside at receipt', async (durability) => {
    const archive = LocalArchive.open(root, { durability });
    const part = datasetPartOf(CT_SMALL);
    const otherPatient = { [Tag.SOPInstanceUID]: generateUid(), [Tag.PatientID]: 'OTHER-PATIENT' };
    const intruder = datasetPartOf(modifiedCopy(CT_SMALL, path.join(workDir, 'intruder.dcm'), otherPatient));

    await archive.receive(requestFor(part));
    const outcome = await archive.receive(requestFor(intruder));
    const inStudy = archive.listInstances({ studyInstanceUid: part.studyInstanceUid }).map((instance) => instance.sopInstanceUid);
    archive.close();

    expect(outcome.outcome).toBe('conflict');
    expect(outcome.otherPatient).toEqual(expect.objectContaining({ level: 'study', receivedPatientId: 'OTHER-PATIENT' }));
    expect(path.dirname(outcome.path)).toBe(path.join(root, '.conflicts'));
    expect(inStudy).toEqual([part.sopInstanceUid]);
    expect(fs.existsSync(path.join(root, part.studyInstanceUid, part.seriesInstanceUid, `${intruder.sopInstanceUid}.dcm`))).toBe(false);
    expect(incomingNames(root)).toEqual([]);
  });

  test('conflict log names both transfer syntaxes', async () => {
    const archive = LocalArchive.open(root, { durability: 'process-crash' });
    // An uncompressed copy in another syntax is a duplicate, so the different copy is compressed.
    const rleCopy = path.join(workDir, 'rle.dcm');
    execFileSync('dcmcrle', [CT_SMALL, rleCopy]);
    const part = datasetPartOf(CT_SMALL);
    const reencoded = datasetPartOf(rleCopy);

    await archive.receive(requestFor(part));
    const second = await archive.receive(requestFor(reencoded));
    archive.close();
    const warning = logLines.find((line) => line.includes('kept it aside')) ?? '';

    expect(part.transferSyntaxUid).toBe('1.2.840.10008.1.2.1');
    expect(second.outcome).toBe('conflict');
    expect(warning).toContain('storedTransferSyntaxUid=1.2.840.10008.1.2.1');
    expect(warning).toMatch(/receivedTransferSyntaxUid=1\.2\.840\.10008\.1\.2\.5(\s|$)/);
  });

  test('open keeps running process files', async () => {
    fs.mkdirSync(path.join(root, '.incoming'), { recursive: true });
    sleeper = spawn('sleep', ['30']);
    const name = `1.2.3.4.${sleeper.pid}.0123456789ab.1.part`;
    fs.writeFileSync(path.join(root, '.incoming', name), 'transfer in progress');

    LocalArchive.open(root).close();
    const whileRunning = incomingNames(root);
    const exited = new Promise((resolve) => sleeper!.once('exit', resolve));
    sleeper.kill();
    await exited;
    LocalArchive.open(root).close();

    expect(whileRunning).toEqual([name]);
    expect(incomingNames(root)).toEqual([]);
  });

  test('open deletes stopped process transfer', () => {
    fs.mkdirSync(path.join(root, '.incoming'), { recursive: true });
    fs.writeFileSync(path.join(root, '.incoming', `1.2.3.4.${deadPid()}.0123456789ab.1.part`), 'half a file');

    const archive = LocalArchive.open(root);
    const instances = archive.listInstances();
    archive.close();

    expect(incomingNames(root)).toEqual([]);
    expect(instances).toEqual([]);
  });
});

describe('processes using one archive', () => {
  let workDir: string;
  let root: string;
  let previousSink: (line: string) => void;
  let sleeper: ChildProcess;

  beforeEach(() => {
    workDir = makeTempDir();
    root = path.join(workDir, 'archive');
    previousSink = setLogSink(() => undefined);
    sleeper = spawn('sleep', ['30']);
  });

  afterEach(async () => {
    const exited = new Promise((resolve) => sleeper.once('exit', resolve));
    sleeper.kill();
    await exited;
    setLogSink(previousSink);
    removeTempDir(workDir);
  });

  /** Returns the names in .processes other than the space reserve, which every writable open creates. */
  function markerNames(): string[] {
    return fs.readdirSync(path.join(root, '.processes')).filter((name) => name !== 'space-reserve');
  }

  /** Writes a marker as if the running `sleep` process used the archive. */
  function markAsSleeper(use: string): void {
    fs.mkdirSync(path.join(root, '.processes'), { recursive: true });
    fs.writeFileSync(path.join(root, '.processes', `${use}.${sleeper.pid}.0123456789ab`), '');
  }

  test('reindex refuses while another process has it open', async () => {
    LocalArchive.open(root).close();
    markAsSleeper('open');

    await expect(reindexArchive(root)).rejects.toMatchObject({
      code: 'in-use',
      message: expect.stringContaining(`open in another loader process (PID ${sleeper.pid})`),
    });
    expect(markerNames()).toEqual([`open.${sleeper.pid}.0123456789ab`]);
  });

  test('reindex refuses during another reindex', async () => {
    LocalArchive.open(root).close();
    markAsSleeper('reindex');

    await expect(reindexArchive(root)).rejects.toMatchObject({
      code: 'in-use',
      message: expect.stringContaining(`is being reindexed by process ${sleeper.pid}`),
    });
  });

  test('reindex runs beside its own open archive', async () => {
    const archive = LocalArchive.open(root);

    const report = await archive.reindex();
    archive.close();

    expect(report.indexed).toBe(0);
    expect(markerNames()).toEqual([]);
  });

  test('open refuses during another reindex', () => {
    LocalArchive.open(root).close();
    markAsSleeper('reindex');

    expect(() => LocalArchive.open(root)).toThrow(`is being reindexed by process ${sleeper.pid}`);
    expect(markerNames()).toEqual([`reindex.${sleeper.pid}.0123456789ab`]);
  });

  test('markers of stopped processes removed', async () => {
    LocalArchive.open(root).close();
    fs.writeFileSync(path.join(root, '.processes', `open.${deadPid()}.0123456789ab`), '');

    const report = await reindexArchive(root);

    expect(report.indexed).toBe(0);
    expect(markerNames()).toEqual([]);
  });
});
