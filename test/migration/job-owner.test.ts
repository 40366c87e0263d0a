/**
 * One run per job. `loader migrate` and `loader sync` record the process that
 * runs a job in jobs.sqlite (table job_owners). A second run of the same job
 * fails at once while the first runs, and only a run whose owner has stopped
 * counts as interrupted. dcmqrscp is the source and the destination.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import Database from 'better-sqlite3';

import { processStartIdentity } from '../../src/services/archive/archive-users';
import { JobStore } from '../../src/services/migration';
import { LOADER_BIN, createLoaderDirs, loaderIsBuilt, makeTempDir, runDcmtk, runLoader, sleep, startDcmqrscp, startLoader, startProcess, storeFiles } from '../support/peers';
import type { DcmqrscpHandle, LoaderDirs, ManagedProcess } from '../support/peers';
import { corpusFile } from '../support/corpus';
import { LOADER_AE, configure, jobDatabase, readStudyStates, registerNode, storedFiles } from './helpers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

/** Instances of the generated study. Their relay took about 2 s on a 2-core machine, so a second run starts while the first runs. */
const INSTANCES = 500;

interface OwnerRow {
  pid: number;
  host: string;
}

/** Returns the owner row of a job, or undefined while it has none. */
function readOwner(dirs: LoaderDirs, jobId: string): OwnerRow | undefined {
  const file = jobDatabase(dirs);
  if (!fs.existsSync(file)) return undefined;
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 2000');
    if (!db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'job_owners'").get()) return undefined;
    return db.prepare('SELECT pid, host FROM job_owners WHERE job_id = ?').get(jobId) as OwnerRow | undefined;
  } finally {
    db.close();
  }
}

/** Writes an owner row for a job, as a run of another process would leave it. */
function writeOwner(dirs: LoaderDirs, jobId: string, pid: number, startIdentity: string | undefined): void {
  JobStore.open(jobDatabase(dirs)).close();
  const db = new Database(jobDatabase(dirs));
  try {
    db.prepare('INSERT OR REPLACE INTO job_owners (job_id, pid, host, start_identity, tag, claimed_at) VALUES (?, ?, ?, ?, ?, ?)').run(
      jobId,
      pid,
      os.hostname(),
      startIdentity ?? null,
      '0123456789ab',
      new Date().toISOString(),
    );
  } finally {
    db.close();
  }
}

/** Returns the ID of a process that has exited. */
async function stoppedProcessId(): Promise<number> {
  const child = spawn('true');
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

/** Writes `count` copies of the corpus CT file as instances of the study `studyInstanceUid` and returns their paths. */
async function writeStudy(folder: string, count: number, studyInstanceUid: string): Promise<string[]> {
  const source = corpusFile('ct').absolutePath;
  const files = Array.from({ length: count }, (_, index) => path.join(folder, `ct-${index}.dcm`));
  for (const file of files) fs.copyFileSync(source, file);
  // -gin gives each file a new SOP Instance UID.
  const modified = await runDcmtk('dcmodify', ['-nb', '-gin', '-i', `(0020,000D)=${studyInstanceUid}`, '-i', `(0020,000E)=${studyInstanceUid}.1`, ...files]);
  if (modified.code !== 0) throw new Error(`dcmodify failed: ${modified.stderr}`);
  return files;
}

describeBuilt('one run per job', () => {
  const dirs = createLoaderDirs('job-owner');
  const studyUid = `2.25.${BigInt(`0x${Date.now().toString(16)}${process.pid.toString(16)}`)}`;
  let source: DcmqrscpHandle;
  let destination: DcmqrscpHandle;
  let sleeper: ManagedProcess;

  const migrateArgs = (job: string, to = 'dcmqrb') => ['migrate', 'dcmqra', to, '--study-uid', studyUid, '--method', 'relay', '--job', job];

  beforeAll(async () => {
    source = await startDcmqrscp({ aeTitle: 'DCMQRA' });
    destination = await startDcmqrscp({ aeTitle: 'DCMQRB' });
    const files = await writeStudy(makeTempDir('job-owner-study'), INSTANCES, studyUid);
    const stored = await storeFiles(source, files);
    if (stored.code !== 0) throw new Error(`storescu failed: ${stored.stderr}`);
    await registerNode(dirs, 'dcmqra', source);
    await registerNode(dirs, 'dcmqrb', destination);
    await configure(dirs, 'pacs.aeTitle', LOADER_AE);
    const sleeperDir = makeTempDir('job-owner-sleeper');
    sleeper = startProcess({ name: 'sleep', command: 'sleep', args: ['600'], dir: sleeperDir });
  }, 120_000);

  afterAll(async () => {
    await sleeper.stop();
    await source.stop();
    await destination.stop();
  });

  test('second concurrent run fails naming PID', async () => {
    const first = startProcess({
      name: 'loader-migrate-first',
      command: LOADER_BIN,
      args: ['--archive', dirs.archiveDir, '--config-dir', dirs.configDir, ...migrateArgs('dup')],
      dir: dirs.root,
      env: { HOME: dirs.homeDir, XDG_CONFIG_HOME: path.join(dirs.homeDir, '.config'), XDG_DATA_HOME: path.join(dirs.homeDir, '.local', 'share') },
    });
    const deadline = Date.now() + 30_000;
    while (readStudyStates(dirs, 'dup').get(studyUid) !== 'running' && Date.now() < deadline && first.exitStatus === undefined) await sleep(10);
    expect(first.exitStatus).toBeUndefined();

    const started = Date.now();
    const second = await runLoader(migrateArgs('dup'), { dirs });
    const secondMs = Date.now() - started;
    const firstStatus = await first.exited;
    const firstOutput = fs.readFileSync(first.logFile, 'utf8');

    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`job "dup" is already running in loader process ${first.pid}`);
    expect(second.stdout).toBe('');
    expect(secondMs).toBeLessThan(10_000);
    expect(firstStatus.code).toBe(0);
    expect(firstOutput).not.toContain('interrupted run');
    expect(firstOutput.match(/Send finished/g)).toHaveLength(1);
    expect(firstOutput).toMatch(new RegExp(`Send finished node=dcmqrb total=${INSTANCES} completed=${INSTANCES}`));
    expect(storedFiles(destination)).toHaveLength(INSTANCES);
    expect(readOwner(dirs, 'dup')).toBeUndefined();

    const report = await runLoader([...migrateArgs('dup'), '--json'], { dirs });
    const study = report.json<{ studies: { state: string; attempts: number }[] }>().studies[0];
    expect(study.state).toBe('done');
    expect(study.attempts).toBe(1);
  }, 120_000);

  test('job of live process is rejected', async () => {
    writeOwner(dirs, 'held', sleeper.pid, processStartIdentity(sleeper.pid));
    const result = await runLoader(migrateArgs('held'), { dirs });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`job "held" is already running in loader process ${sleeper.pid}`);
    expect(readOwner(dirs, 'held')?.pid).toBe(sleeper.pid);
  }, 60_000);

  test('reused PID does not hold the job', async () => {
    // The sleeper runs, but it started at another time than the owner that the row names.
    writeOwner(dirs, 'reused', sleeper.pid, 'another-boot:1');
    const result = await runLoader(migrateArgs('reused'), { dirs });
    expect(result.stderr).not.toContain('already running');
    expect(result.code).toBe(0);
    expect(readOwner(dirs, 'reused')).toBeUndefined();
  }, 60_000);

  test('study left by stopped owner resumes as interrupted', async () => {
    const store = JobStore.open(jobDatabase(dirs));
    try {
      store.openJob('left', 'dcmqra', 'dcmqrb', { studyInstanceUids: [studyUid] }, { method: 'relay', concurrency: 2, retries: 3 });
      store.addStudies('left', [studyUid]);
      store.startAttempt('left', studyUid);
    } finally {
      store.close();
    }
    const stoppedPid = await stoppedProcessId();
    writeOwner(dirs, 'left', stoppedPid, undefined);

    const result = await runLoader(migrateArgs('left'), { dirs });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`note: 1 study was left running by an interrupted run (loader process ${stoppedPid}, which has stopped); migrating it again`);
    expect(result.stdout).toMatch(/already present/);
    expect(readOwner(dirs, 'left')).toBeUndefined();
  }, 60_000);

  test('sync of held job is rejected', async () => {
    writeOwner(dirs, 'twin-a-to-b', sleeper.pid, processStartIdentity(sleeper.pid));
    const result = await runLoader(['sync', 'dcmqra', 'dcmqrb', '--all', '--direction', 'a-to-b', '--job', 'twin'], { dirs });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`job "twin-a-to-b" is already running in loader process ${sleeper.pid}`);
  }, 60_000);

  test('scheduled sync skips a held job', async () => {
    writeOwner(dirs, 'twin-a-to-b', sleeper.pid, processStartIdentity(sleeper.pid));
    const server = await startLoader(['--sync', 'dcmqra dcmqrb every 10s --all --direction a-to-b --job twin'], { dirs, aeTitle: LOADER_AE });
    const skipped = /WARN +loader\.sync: Scheduled sync run skipped: another run has its job .*job=twin-a-to-b pid=(\d+)/;
    try {
      const deadline = Date.now() + 20_000;
      while (!skipped.test(server.readLog()) && Date.now() < deadline) await sleep(50);
    } finally {
      await server.stop();
    }
    const log = server.readLog();
    expect(skipped.exec(log)?.[1]).toBe(String(sleeper.pid));
    expect(log).not.toContain('Scheduled sync run failed');
    expect(log).not.toContain('Migration started');
  }, 60_000);
});
