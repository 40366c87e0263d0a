/**
 * Temporary folders of anonymized copies when `loader migrate --anonymize`
 * and `loader send --anonymize` are stopped by a signal mid-way. The
 * destinations sleep in each C-STORE (storescp --sleep-during, and an Orthanc
 * whose Lua filter sleeps), so the transfer runs long enough to signal it.
 * Each run gets its own TMPDIR, so the test lists every loader-anonymized-*
 * folder that the process created.
 */
import * as fs from 'fs';
import * as path from 'path';

import { LocalArchive } from '../../src/services/archive';
import {
  LOADER_BIN,
  corpusPath,
  createLoaderDirs,
  freePort,
  loaderIsBuilt,
  makeTempDir,
  sleep,
  startOrthanc,
  startProcess,
  startStorescp,
} from '../support/peers';
import type { ExitStatus, LoaderDirs, ManagedProcess, OrthancHandle, StorescpHandle } from '../support/peers';
import { configure, orthancModality, registerNode } from '../migration/helpers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

const BRAIN_DIR = path.dirname(corpusPath('samples/mr/brain/brain_002.dcm').absolutePath);
const FILES = fs
  .readdirSync(BRAIN_DIR)
  .filter((name) => name.endsWith('.dcm'))
  .map((name) => corpusPath(`samples/mr/brain/${name}`));
const STUDY_UIDS = [...new Set(FILES.map((file) => file.studyInstanceUid!))];
const LOADER_AE = 'LOADERSIG';
/** Orthanc Lua filter that makes each received instance take half a second. */
const SLOW_FILTER = "function ReceivedInstanceFilter(dicom, origin, info)\n  os.execute('sleep 0.5')\n  return true\nend\n";

/** Lists the loader-anonymized-* folders in a folder. */
function anonymizedFolders(tmpDir: string): string[] {
  return fs.readdirSync(tmpDir).filter((name) => name.startsWith('loader-anonymized-'));
}

/** Starts the built loader with its own TMPDIR, so its temporary folders can be listed. */
function startLoaderProcess(dirs: LoaderDirs, tmpDir: string, name: string, args: string[]): ManagedProcess {
  return startProcess({
    name,
    command: LOADER_BIN,
    args: ['--archive', dirs.archiveDir, '--config-dir', dirs.configDir, ...args],
    dir: tmpDir,
    cwd: dirs.root,
    env: {
      HOME: dirs.homeDir,
      XDG_CONFIG_HOME: path.join(dirs.homeDir, '.config'),
      XDG_DATA_HOME: path.join(dirs.homeDir, '.local', 'share'),
      TMPDIR: tmpDir,
    },
  });
}

/** Waits until `received` returns 1 or more, so the transfer is mid-way. Fails when the loader exits first. */
async function waitForFirstInstance(received: () => Promise<number>, loader: ManagedProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while ((await received()) === 0) {
    if (loader.exitStatus !== undefined) throw new Error(`loader exited before sending anything:\n${loader.readLog()}`);
    if (Date.now() > deadline) throw new Error(`the destination received nothing within 60 s:\n${loader.readLog()}`);
    await sleep(20);
  }
}

async function exitWithin(loader: ManagedProcess, ms: number): Promise<ExitStatus> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  const status = await Promise.race([loader.exited, timeout]);
  clearTimeout(timer);
  if (status === 'timeout') throw new Error(`loader did not exit within ${ms} ms of the signal:\n${loader.readLog()}`);
  return status;
}

describeBuilt('anonymized copies after a signal', () => {
  const dirs = createLoaderDirs('interrupt-cleanup');
  let storescp: StorescpHandle;
  let orthanc: OrthancHandle;

  beforeAll(async () => {
    const archive = LocalArchive.open(dirs.archiveDir);
    try {
      for (const file of FILES) expect((await archive.importFile(file.absolutePath, { copy: true })).outcome).toBe('stored');
    } finally {
      archive.close();
    }
    storescp = await startStorescp({ aeTitle: 'SLOWSTORE', extraArgs: ['--sleep-during', '1'] });
    await registerNode(dirs, 'slowstore', storescp);

    const luaFile = path.join(dirs.root, 'slow-filter.lua');
    fs.writeFileSync(luaFile, SLOW_FILTER);
    const modalities = { loader: orthancModality(LOADER_AE, await freePort()) };
    orthanc = await startOrthanc({ aeTitle: 'SLOWORTHANC', modalities, extraConfig: { LuaScripts: [luaFile] } });
    await registerNode(dirs, 'slowthanc', orthanc);
    await configure(dirs, 'pacs.aeTitle', LOADER_AE);
  });

  afterAll(async () => {
    await storescp.stop();
    await orthanc.stop();
  });

  test('migrate stops on SIGTERM', async () => {
    const tmpDir = makeTempDir('interrupt-cleanup-tmp');
    const migrate = startLoaderProcess(dirs, tmpDir, 'loader-migrate', ['migrate', 'local', 'slowthanc', '--anonymize', '--study-uid', ...STUDY_UIDS, '--job', 'sigterm']);
    const stored = async () => (await orthanc.rest<{ CountInstances: number }>('GET', '/statistics')).CountInstances;
    await waitForFirstInstance(stored, migrate);
    expect(anonymizedFolders(tmpDir)).toHaveLength(1);

    process.kill(migrate.pid, 'SIGTERM');
    const status = await exitWithin(migrate, 30_000);

    expect(status.signal).toBeNull();
    // The cancelled migration ends with exit code 1 (failure) instead of being killed by the signal.
    expect(status.code).toBe(1);
    expect(migrate.readLog()).toContain('cancelling on SIGTERM');
    expect(anonymizedFolders(tmpDir)).toEqual([]);
  });

  test('send exits on second signal', async () => {
    const tmpDir = makeTempDir('interrupt-cleanup-tmp');
    const send = startLoaderProcess(dirs, tmpDir, 'loader-send', ['send', 'slowstore', '--anonymize', '--study-uid', ...STUDY_UIDS]);
    await waitForFirstInstance(async () => storescp.receivedFiles().length, send);
    expect(anonymizedFolders(tmpDir)).toHaveLength(1);

    // Each C-STORE takes a second, so the second signal comes while the first still waits for the one in flight.
    // With 200 ms between them, a loaded machine sometimes finished the store in flight first, and the process was gone.
    process.kill(send.pid, 'SIGINT');
    await sleep(50);
    process.kill(send.pid, 'SIGTERM');
    const status = await exitWithin(send, 10_000);

    expect(status.signal).toBeNull();
    expect(status.code).toBe(143);
    expect(anonymizedFolders(tmpDir)).toEqual([]);
  });
});
