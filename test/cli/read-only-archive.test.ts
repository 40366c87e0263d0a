/**
 * The built loader on an archive folder that it may not write: a read-only
 * file system (EROFS) and a folder of another user (EACCES).
 *
 * The read-only file system is a read-only bind mount of the archive onto
 * itself, made by `unshare -rm` in a private user and mount namespace, so
 * it needs no root and ends with the loader process. The EACCES case runs
 * the loader as the user `nobody` through setpriv, which needs root.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import {
  corpusFile,
  createLoaderDirs,
  LOADER_BIN,
  loaderIsBuilt,
  runCommand,
  runLoader,
  startStorescp,
  type LoaderDirs,
  type RunResult,
  type StorescpHandle,
} from '../support/peers';
import { incomingLeftovers } from '../support/incoming';

const NOBODY_ID = '65534';

const readOnlyMountWorks = spawnSync('unshare', ['-rm', 'true'], { stdio: 'ignore' }).status === 0;
const runsAsRoot = process.getuid?.() === 0 && spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status === 0;
const describeReadOnlyMount = loaderIsBuilt() && readOnlyMountWorks ? describe : describe.skip;
const describeOtherUser = loaderIsBuilt() && runsAsRoot ? describe : describe.skip;

function loaderArgs(dirs: LoaderDirs, args: string[]): string[] {
  return [LOADER_BIN, '--archive', dirs.archiveDir, '--config-dir', dirs.configDir, ...args];
}

function loaderEnv(dirs: LoaderDirs): NodeJS.ProcessEnv {
  return {
    HOME: dirs.homeDir,
    XDG_CONFIG_HOME: path.join(dirs.homeDir, '.config'),
    XDG_DATA_HOME: path.join(dirs.homeDir, '.local', 'share'),
  };
}

/** Runs the loader where the archive folder is a read-only bind mount of itself. */
function runOnReadOnlyMount(dirs: LoaderDirs, args: string[]): Promise<RunResult> {
  const script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"';
  return runCommand('unshare', ['-rm', 'sh', '-c', script, 'sh', dirs.archiveDir, ...loaderArgs(dirs, args)], { env: loaderEnv(dirs) });
}

/** Runs the loader as the user `nobody`, who may read but not write the archive. */
function runAsNobody(dirs: LoaderDirs, args: string[]): Promise<RunResult> {
  return runCommand('setpriv', ['--reuid', NOBODY_ID, '--regid', NOBODY_ID, '--clear-groups', ...loaderArgs(dirs, args)], { env: loaderEnv(dirs) });
}

/** Checks that a failure names the archive folder and the next step, without a raw error code or a stack trace. */
function expectReadOnlyFailure(result: RunResult, dirs: LoaderDirs, reason: string): void {
  expect(result.code).toBe(1);
  expect(result.stderr).toContain(`The archive folder ${dirs.archiveDir} is read-only (${reason})`);
  expect(result.stderr).toContain('Choose a writable archive folder with --archive or LOADER_ARCHIVE');
  expect(result.stderr).not.toMatch(/EROFS|EACCES|EPERM/);
  expect(result.stderr).not.toMatch(/^\s+at /m);
}

function readOnlyLogLines(result: RunResult): string[] {
  return result.stderr.split('\n').filter((line) => line.includes('Opened the archive read-only'));
}

describeReadOnlyMount('archive on a read-only file system', () => {
  const dirs = createLoaderDirs('read-only-mount');
  const ct = corpusFile('ct');
  const mr = corpusFile('mr');
  const readOnly = 'the file system is read-only';
  let storescp: StorescpHandle;

  beforeAll(async () => {
    expect((await runLoader(['scan', ct.absolutePath, '--import'], { dirs })).code).toBe(0);
    storescp = await startStorescp({ aeTitle: 'ROSTORE' });
  });

  afterAll(async () => {
    await storescp?.stop();
  });

  test('studies lists the archive', async () => {
    const result = await runOnReadOnlyMount(dirs, ['studies', '--json']);

    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).map((study: { studyInstanceUid: string }) => study.studyInstanceUid)).toEqual([ct.studyInstanceUid]);
    const logLines = readOnlyLogLines(result);
    expect(logLines).toHaveLength(1);
    expect(logLines[0]).toContain(readOnly);
  });

  test('send reads the archive', async () => {
    const peer = ['--host', storescp.host, '--port', String(storescp.port), '-aec', storescp.aeTitle, '-aet', 'LOADERRO'];
    const result = await runOnReadOnlyMount(dirs, ['send', ...peer, '--study-uid', ct.studyInstanceUid!]);

    expect(result.code).toBe(0);
    expect(storescp.receivedFiles()).toHaveLength(1);
  });

  test('scan --import fails before reading files', async () => {
    const result = await runOnReadOnlyMount(dirs, ['scan', mr.absolutePath, '--import']);

    expectReadOnlyFailure(result, dirs, readOnly);
    expect(result.stdout).not.toContain('damaged');
  });

  test('scan in place fails', async () => {
    expectReadOnlyFailure(await runOnReadOnlyMount(dirs, ['scan', mr.absolutePath]), dirs, readOnly);
  });

  test('reindex fails', async () => {
    expectReadOnlyFailure(await runOnReadOnlyMount(dirs, ['reindex']), dirs, readOnly);
  });

  test('serve fails before listening', async () => {
    const result = await runOnReadOnlyMount(dirs, ['serve', '--port', '1', '--accept-any']);

    expectReadOnlyFailure(result, dirs, readOnly);
    expect(result.stderr).not.toContain('listening');
  });

  test('get fails before the query', async () => {
    // Nothing listens on port 1, so a get that reached the network would fail with a refused connection instead.
    const result = await runOnReadOnlyMount(dirs, ['get', '--host', '127.0.0.1', '--port', '1', '-aec', 'NOBODY', '--date', '20040119']);

    expectReadOnlyFailure(result, dirs, readOnly);
  });

  test('migrate into local fails first', async () => {
    // The source is not registered, so a migrate that got past the archive would fail with a usage error instead.
    expectReadOnlyFailure(await runOnReadOnlyMount(dirs, ['migrate', 'unregistered', 'local', '--date', '20040119']), dirs, readOnly);
  });

  test('sync with local fails first', async () => {
    expectReadOnlyFailure(await runOnReadOnlyMount(dirs, ['sync', 'local', 'unregistered', '--date', '20040119']), dirs, readOnly);
  });

  test('archive is unchanged', () => {
    // The space reserve stays; see src/services/archive/space-reserve.ts.
    expect(fs.readdirSync(path.join(dirs.archiveDir, '.processes')).filter((name) => name !== 'space-reserve')).toEqual([]);
    expect(incomingLeftovers(dirs.archiveDir)).toEqual([]);
  });
});

describeOtherUser('archive of another user', () => {
  const dirs = createLoaderDirs('read-only-user');
  const ct = corpusFile('ct');
  const mr = corpusFile('mr');
  let reason: string;

  beforeAll(async () => {
    expect((await runLoader(['scan', ct.absolutePath, '--import'], { dirs })).code).toBe(0);
    // The user `nobody` may read the archive and the settings but write neither.
    expect(spawnSync('chmod', ['-R', 'o+rX', dirs.root]).status).toBe(0);
    reason = `this user may not write to ${dirs.archiveDir}`;
  });

  test('studies lists the archive', async () => {
    const result = await runAsNobody(dirs, ['studies', '--json']);

    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).map((study: { studyInstanceUid: string }) => study.studyInstanceUid)).toEqual([ct.studyInstanceUid]);
    expect(readOnlyLogLines(result)).toHaveLength(1);
  });

  test('scan --import fails', async () => {
    expectReadOnlyFailure(await runAsNobody(dirs, ['scan', mr.absolutePath, '--import']), dirs, reason);
  });
});
