/**
 * C-STORE responses and logs when the archive cannot write: `loader serve`
 * under a process file size limit (`ulimit -f` in the shell that starts it,
 * RLIMIT_FSIZE) and with a series folder made immutable with `chattr +i`,
 * which stops writes also for root. storescu is the sender.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'fs';
import * as path from 'path';

import { LocalArchive } from '../../src/services/archive';
import {
  LOADER_BIN,
  LOOPBACK,
  createLoaderDirs,
  loaderIsBuilt,
  runDcmtk,
  startOnFreePort,
  startProcess,
  waitForPort,
  waitUntil,
  type LoaderDirs,
  type ManagedProcess,
} from '../support/peers';
import { writeSecondaryCapture } from '../support/secondary-capture';
import { generateUid } from '../../src/dicom/uid';

const AE_TITLE = 'LOADERERR';
const CALLING_AE_TITLE = 'ERRSCU';
const EFBIG_COMMENT = 'File size limit reached (EFBIG); check ulimit -f of the loader';
/** The comment when the index or its write-ahead log reaches the limit. */
const INDEX_EFBIG_COMMENT = 'Index file size limit reached (EFBIG); check ulimit -f';

interface Server {
  process: ManagedProcess;
  port: number;
  readLog(): string;
}

/** Starts `loader serve` from a shell that first sets `ulimit -f` to `fileSizeLimitKiB` (1024-byte blocks) when given. */
function startServe(dirs: LoaderDirs, durability: string, fileSizeLimitKiB?: number): Promise<Server> {
  return startOnFreePort(async (port) => {
    const loaderArgs = [
      '--archive', dirs.archiveDir, '--config-dir', dirs.configDir,
      'serve', '--aet', AE_TITLE, '--host', LOOPBACK, '--port', String(port), '--accept-any', '--durability', durability,
    ];
    const limit = fileSizeLimitKiB === undefined ? '' : `ulimit -f ${fileSizeLimitKiB}; `;
    const child = startProcess({
      name: 'loader-serve',
      command: 'bash',
      args: ['-c', `${limit}exec "$0" "$@"`, LOADER_BIN, ...loaderArgs],
      dir: dirs.root,
      env: { HOME: dirs.homeDir, XDG_CONFIG_HOME: path.join(dirs.homeDir, '.config') },
    });
    await waitUntil(child, 'a "listening" log line', () => /listening/i.test(child.readLog()));
    await waitForPort(child, LOOPBACK, port);
    return { process: child, port, readLog: child.readLog };
  });
}

/** Writes `count` small Secondary Capture files of one series and returns their paths and SOP Instance UIDs. */
function writeSeries(folder: string, count: number, seriesUid = generateUid()): { files: string[]; uids: string[] } {
  fs.mkdirSync(folder, { recursive: true });
  const studyUid = generateUid();
  const files: string[] = [];
  const uids: string[] = [];
  for (let i = 0; i < count; i++) {
    const file = path.join(folder, `sc${String(i).padStart(4, '0')}.dcm`);
    uids.push(writeSecondaryCapture(file, studyUid, 'WRITE-ERRORS', [], { seriesUid }));
    files.push(file);
  }
  return { files, uids };
}

/** Sends `files` with storescu -v and returns the response status of each request in order: 'Success' or the failure name. */
async function sendFiles(server: Server, files: string[]): Promise<string[]> {
  const output = await runStorescu(server, ['-v'], files);
  return [...output.matchAll(/Received Store Response \(([^)]*)\)/g)].map((match) => match[1]);
}

/** Sends one file with storescu -d and returns the Status (0000,0900) and Error Comment (0000,0902) of its response. */
async function sendFileDebug(server: Server, file: string): Promise<{ status: string; errorComment: string | undefined }> {
  const output = await runStorescu(server, ['-d'], [file]);
  const response = output.slice(output.indexOf('Received Store Response'));
  return {
    status: /DIMSE Status\s*:\s*(0x[0-9a-f]{4})/.exec(response)?.[1] ?? 'none',
    errorComment: /\(0000,0902\) LO \[([^\]]*)\]/.exec(response)?.[1],
  };
}

async function runStorescu(server: Server, verbosity: string[], files: string[]): Promise<string> {
  const result = await runDcmtk(
    'storescu',
    [...verbosity, '--no-halt', '-aet', CALLING_AE_TITLE, '-aec', AE_TITLE, LOOPBACK, String(server.port), ...files],
    { timeoutMs: 120_000 },
  );
  return result.stdout + result.stderr;
}

function setImmutable(folder: string, immutable: boolean): boolean {
  return spawnSync('chattr', [immutable ? '+i' : '-i', folder], { stdio: 'ignore' }).status === 0;
}

function chattrWorks(): boolean {
  const probe = fs.mkdtempSync('/tmp/chattr-probe-');
  const works = setImmutable(probe, true) && setImmutable(probe, false);
  fs.rmdirSync(probe);
  return works;
}

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

describeBuilt('store write errors', () => {
  jest.setTimeout(240_000);
  let dirs: LoaderDirs;
  let server: Server | undefined;

  beforeEach(() => {
    dirs = createLoaderDirs('store-write-errors');
  });

  afterEach(async () => {
    await server?.process.stop();
    server = undefined;
    fs.rmSync(dirs.root, { recursive: true, force: true });
  });

  test('process-crash stops Success when index fails', async () => {
    // 400 KiB is enough for the small files, and the write-ahead log of the index (about 100 KiB when created) reaches it after some commits.
    server = await startServe(dirs, 'process-crash', 400);
    const { files, uids } = writeSeries(path.join(dirs.root, 'send'), 600);

    const statuses = await sendFiles(server, files);
    expect(statuses).toHaveLength(files.length);
    const firstFailure = statuses.findIndex((status) => status !== 'Success');
    expect(firstFailure).toBeGreaterThanOrEqual(0);
    expect(statuses[firstFailure]).toBe('Refused: OutOfResources');

    const retry = await sendFileDebug(server, files[files.length - 1]);
    expect(retry.status).toBe('0xa700');
    expect(retry.errorComment).toBe(INDEX_EFBIG_COMMENT);

    await server.process.stop();
    const log = server.readLog();
    server = undefined;
    const failureLines = log.split('\n').filter((line) => line.includes('Failed to index a stored instance'));
    expect(failureLines.filter((line) => !line.includes('(repeated')).length).toBe(1);
    expect(failureLines[0]).toContain('ulimit -f 400');
    expect(failureLines[0]).toContain('index.sqlite-wal');
    expect(log).toContain('Deferred index commits fail');

    // Once a deferred commit failed, a store returns only after its own commit, which removes its second link in .incoming.
    const secondLinks = fs.readdirSync(path.join(dirs.archiveDir, '.incoming'));
    const laterSuccesses = uids.filter((_, index) => index > firstFailure && statuses[index] === 'Success');
    expect(laterSuccesses.filter((uid) => secondLinks.some((name) => name.startsWith(`${uid}.`)))).toEqual([]);

    // Every instance that got Success is in the archive after the next open.
    const archive = LocalArchive.open(dirs.archiveDir);
    try {
      const indexed = new Set(archive.listInstances().map((instance) => instance.sopInstanceUid));
      const succeeded = uids.filter((_, index) => statuses[index] === 'Success');
      expect(succeeded.filter((uid) => !indexed.has(uid))).toEqual([]);
    } finally {
      archive.close();
    }
  });

  test('file over ulimit -f gets EFBIG comment', async () => {
    server = await startServe(dirs, 'full', 256);
    const folder = path.join(dirs.root, 'send');
    fs.mkdirSync(folder);
    const large = path.join(folder, 'large.dcm');
    // A Text Value (0040,A160) of 300 000 characters makes a file above the limit of 256 KiB, while the index stays below it.
    const sopInstanceUid = writeSecondaryCapture(large, generateUid(), 'WRITE-ERRORS', [{ tag: 0x0040a160, vr: 'UT', value: 'x'.repeat(300_000) }]);
    expect(fs.statSync(large).size).toBeGreaterThan(256 * 1024);

    const response = await sendFileDebug(server, large);
    expect(response.status).toBe('0xa700');
    expect(response.errorComment).toBe(EFBIG_COMMENT);

    const failed = server.readLog().split('\n').find((line) => line.includes('C-STORE-RQ failed'));
    expect(failed).toBeDefined();
    expect(failed).toContain(`callingAe=${CALLING_AE_TITLE}`);
    expect(failed).toContain(`calledAe=${AE_TITLE}`);
    expect(failed).toContain(`sopInstanceUid=${sopInstanceUid}`);
    expect(failed).toContain(path.join(dirs.archiveDir, '.incoming'));
    expect(failed).toContain('ulimit -f 256');
    expect(fs.readdirSync(path.join(dirs.archiveDir, '.incoming')).filter((name) => name.endsWith('.part') && fs.statSync(path.join(dirs.archiveDir, '.incoming', name)).size > 0)).toEqual([]);
  });
});

const describeImmutable = loaderIsBuilt() && chattrWorks() ? describe : describe.skip;

describeImmutable('store into immutable series folder', () => {
  jest.setTimeout(120_000);
  let dirs: LoaderDirs;
  let server: Server | undefined;
  let seriesFolder: string | undefined;

  beforeEach(() => {
    dirs = createLoaderDirs('store-write-errors');
  });

  afterEach(async () => {
    if (seriesFolder) setImmutable(seriesFolder, false);
    await server?.process.stop();
    server = undefined;
    fs.rmSync(dirs.root, { recursive: true, force: true });
  });

  test('EPERM names folder and keeps stored file', async () => {
    server = await startServe(dirs, 'full');
    const { files, uids } = writeSeries(path.join(dirs.root, 'send'), 2);
    expect(await sendFiles(server, [files[0]])).toEqual(['Success']);

    const archive = LocalArchive.open(dirs.archiveDir);
    const storedPath = archive.getInstancePath(uids[0])!;
    archive.close();
    const storedBytes = fs.readFileSync(storedPath);
    seriesFolder = path.dirname(storedPath);
    expect(setImmutable(seriesFolder, true)).toBe(true);

    const response = await sendFileDebug(server, files[1]);
    expect(response.status).toBe('0xa700');
    expect(response.errorComment).toBe('Permission denied (EPERM) in the archive; see the server log');

    const failed = server.readLog().split('\n').find((line) => line.includes('C-STORE-RQ failed'));
    expect(failed).toBeDefined();
    expect(failed).toContain(`callingAe=${CALLING_AE_TITLE}`);
    expect(failed).toContain(`sopInstanceUid=${uids[1]}`);
    expect(failed).toContain(`the folder ${seriesFolder} (mode 700`);
    expect(failed).toContain('chattr -i');
    expect(failed).toContain("run the loader as the archive's owner");

    // The instance stored before stays as it was.
    expect(fs.readFileSync(storedPath).equals(storedBytes)).toBe(true);
    setImmutable(seriesFolder, false);
    await server.process.stop();
    server = undefined;
    const reopened = LocalArchive.open(dirs.archiveDir);
    try {
      expect(reopened.getInstancePath(uids[0])).toBe(storedPath);
      expect(reopened.getInstancePath(uids[1])).toBeUndefined();
    } finally {
      reopened.close();
    }
  });
});
