/**
 * The window's controller with discs and USB sticks, without a display: a
 * media folder is listed from an index in memory and its studies are copied
 * into the archive, with nothing written to the folder. A folder that no
 * panel shows is closed, so its mount can be unmounted. Saved server
 * settings restart the window's server, checked with DCMTK echoscu.
 * Read-only media is a read-only bind mount (root only); the tests that need
 * it are skipped where the mount fails.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { LocalArchive } from '../../src/services/archive';
import { setLogSink } from '../../src/services/logger';
import { SettingsStore } from '../../src/services/settings/settings-store';
import { AppController } from '../../src/ui/controllers/app-controller';
import { CT_SMALL, MR_SMALL, Tag, freshCopy } from '../archive/fixtures';
import { MemoryStore } from '../support/keyring';
import { freePort, makeTempDir, runDcmtk } from '../support/peers';

const LOADER_AE = 'LOADERMEDIA';

function newController(label: string): { controller: AppController; archiveRoot: string; configDir: string } {
  const root = makeTempDir(label);
  const configDir = path.join(root, 'config');
  const archiveRoot = path.join(root, 'archive');
  new SettingsStore({ configDir }).updatePacs({ aeTitle: LOADER_AE, host: '127.0.0.1', acceptAnyCallingAeTitle: true });
  const controller = new AppController({ configDir, archiveRoot, cacheDir: path.join(root, 'cache'), secretStore: new MemoryStore() });
  return { controller, archiveRoot, configDir };
}

/** Writes a patient disc: two studies under IMAGES, a DICOMDIR for them, and a file that is not DICOM. */
function writeDisc(folder: string): void {
  freshCopy(CT_SMALL, path.join(folder, 'IMAGES', 'IM1'), { [Tag.PatientID]: 'DISC1' });
  freshCopy(MR_SMALL, path.join(folder, 'IMAGES', 'IM2'), { [Tag.PatientID]: 'DISC2' });
  execFileSync('dcmmkdir', ['+r', '-Pgp', '+I', 'IMAGES'], { cwd: folder, stdio: 'pipe' });
  fs.writeFileSync(path.join(folder, 'IMAGES', 'NOTES'), 'not a DICOM file\n');
}

/** Lists every entry under `folder` with its size and modification time, to show that nothing was written. */
function snapshot(folder: string): string[] {
  const entries: string[] = [];
  for (const name of fs.readdirSync(folder, { recursive: true }) as string[]) {
    const stats = fs.statSync(path.join(folder, name));
    entries.push(`${name} ${stats.size} ${stats.mtimeMs}`);
  }
  return entries.sort();
}

/**
 * Creates a folder for a mount. It is not made by makeTempDir, whose cleanup
 * may run before this file's afterAll unmounts it, and then fails with EBUSY.
 */
function makeMountFolder(label: string): string {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), `loader-test-${label}-`));
  mountFolders.push(folder);
  return folder;
}

/** Makes `folder` a read-only bind mount of itself. Returns false where mounting is not permitted. */
function mountReadOnly(folder: string): boolean {
  if (spawnSync('mount', ['--bind', folder, folder], { stdio: 'ignore' }).status !== 0) return false;
  if (spawnSync('mount', ['-o', 'remount,bind,ro', folder], { stdio: 'ignore' }).status === 0) return true;
  spawnSync('umount', [folder], { stdio: 'ignore' });
  return false;
}

function bindMount(folder: string): boolean {
  return spawnSync('mount', ['--bind', folder, folder], { stdio: 'ignore' }).status === 0;
}

/** Runs umount and returns its exit code and message, such as "target is busy". */
function unmount(folder: string): { status: number | null; stderr: string } {
  const result = spawnSync('umount', [folder], { encoding: 'utf8' });
  return { status: result.status, stderr: result.stderr };
}

/** Returns the files under `folder` that this process has open. */
function openFilesUnder(folder: string): string[] {
  const open: string[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const target = fs.readlinkSync(path.join('/proc/self/fd', fd));
      if (target.startsWith(folder + path.sep)) open.push(target);
    } catch {
      continue;
    }
  }
  return open;
}

const mounted: string[] = [];
const mountFolders: string[] = [];
let previousSink: (line: string) => void;
beforeAll(() => {
  previousSink = setLogSink(() => undefined);
});
afterAll(() => {
  for (const folder of mounted) spawnSync('umount', [folder], { stdio: 'ignore' });
  for (const folder of mountFolders) fs.rmSync(folder, { recursive: true, force: true });
  setLogSink(previousSink);
});

const readOnlyDisc = makeMountFolder('ctl-media-read-only');
writeDisc(readOnlyDisc);
const readOnlyMounted = mountReadOnly(readOnlyDisc);
if (readOnlyMounted) mounted.push(readOnlyDisc);

describe('media folder', () => {
  (readOnlyMounted ? test : test.skip)('read-only disc lists its studies', async () => {
    const { controller } = newController('ctl-media-list');
    const before = snapshot(readOnlyDisc);

    expect(controller.isMediaFolder(readOnlyDisc)).toBe(true);
    const { connection, summary } = await controller.connectMedia(readOnlyDisc, () => undefined);
    if (connection.kind !== 'local') throw new Error('expected a Local connection');
    expect(connection.archive.readOnlyReason).toBeDefined();
    expect(controller.searchLocal(connection.archive).map((row) => row.patientId).sort()).toEqual(['DISC1', 'DISC2']);
    expect(summary?.indexed).toBe(2);
    expect(snapshot(readOnlyDisc)).toEqual(before);
    await controller.close();
  });

  test('writable disc stays unchanged', async () => {
    const { controller } = newController('ctl-media-writable');
    const disc = makeTempDir('ctl-media-writable-disc');
    writeDisc(disc);
    const before = snapshot(disc);

    expect(controller.isMediaFolder(disc)).toBe(true);
    const { connection } = await controller.connectMedia(disc, () => undefined);
    if (connection.kind !== 'local') throw new Error('expected a Local connection');
    expect(controller.searchLocal(connection.archive)).toHaveLength(2);
    expect(fs.existsSync(path.join(disc, 'index.sqlite'))).toBe(false);
    expect(snapshot(disc)).toEqual(before);
    await controller.close();
  });

  test('folder with an index is no media', () => {
    const { controller } = newController('ctl-media-archive');
    const archived = makeTempDir('ctl-media-archive-folder');
    writeDisc(archived);
    LocalArchive.open(archived).close();
    expect(controller.isMediaFolder(archived)).toBe(false);
  });

  (readOnlyMounted ? test : test.skip)('import copies the disc into the archive', async () => {
    const { controller, archiveRoot } = newController('ctl-media-import');
    const before = snapshot(readOnlyDisc);

    const result = await controller.importIntoArchive(readOnlyDisc, () => undefined);
    expect(result.summary.indexed).toBe(2);
    expect(result.summary.notDicom).toBe(0);
    expect(snapshot(readOnlyDisc)).toEqual(before);
    const archive = controller.openArchive(archiveRoot);
    const stored = archive.listInstances({});
    expect(stored).toHaveLength(2);
    for (const instance of stored) expect(instance.path.startsWith(archiveRoot + path.sep)).toBe(true);
    await controller.close();
  });

  test('import lists files that are not DICOM', async () => {
    const { controller } = newController('ctl-media-import-problems');
    const folder = makeTempDir('ctl-media-import-plain');
    freshCopy(CT_SMALL, path.join(folder, 'a.dcm'));
    fs.writeFileSync(path.join(folder, 'notes.txt'), 'not a DICOM file\n');

    const result = await controller.importIntoArchive(folder, () => undefined);
    expect(result.summary.indexed).toBe(1);
    expect(result.summary.notDicom).toBe(1);
    expect(result.problems.map((problem) => problem.uid)).toEqual([path.join(folder, 'notes.txt')]);
    expect(fs.readdirSync(folder).sort()).toEqual(['a.dcm', 'notes.txt']);
    await controller.close();
  });

  (readOnlyMounted ? test : test.skip)('selected disc study copies into the archive', async () => {
    const { controller, archiveRoot } = newController('ctl-media-copy');
    const { connection: media } = await controller.connectMedia(readOnlyDisc, () => undefined);
    const target = controller.connectLocal(archiveRoot);
    if (media.kind !== 'local' || target.kind !== 'local') throw new Error('expected Local connections');
    const study = controller.searchLocal(media.archive).find((row) => row.patientId === 'DISC2')!;

    const result = await controller.copyStudies(media.archive, target.archive, [study.studyInstanceUid], () => undefined);
    expect(result).toEqual({ instances: 1, failures: [], outcome: 'success' });
    expect(controller.searchLocal(target.archive).map((row) => row.patientId)).toEqual(['DISC2']);
    await controller.close();
  });

  (readOnlyMounted ? test : test.skip)('disc study opens from the viewer cache', async () => {
    const { controller } = newController('ctl-media-viewer');
    const { connection } = await controller.connectMedia(readOnlyDisc, () => undefined);
    if (connection.kind !== 'local') throw new Error('expected a Local connection');
    const study = controller.searchLocal(connection.archive)[0];

    const opened = await controller.studyOpener.open(connection, { studyInstanceUid: study.studyInstanceUid }, () => undefined);
    expect(opened?.study.archiveRoot).toBe(controller.studyOpener.cacheRoot);
    expect(controller.openArchive(controller.studyOpener.cacheRoot).listInstances({ studyInstanceUid: study.studyInstanceUid })).toHaveLength(1);
    await controller.close();
  });
});

describe('archive release', () => {
  test('unshown folder can be unmounted', async () => {
    const { controller } = newController('ctl-media-release');
    const folder = makeMountFolder('ctl-media-release-folder');
    freshCopy(CT_SMALL, path.join(folder, 'a.dcm'));
    if (!bindMount(folder)) return;
    mounted.push(folder);
    const other = makeTempDir('ctl-media-release-other');

    const first = controller.connectLocal(folder);
    const second = controller.connectLocal(other);
    if (first.kind !== 'local' || second.kind !== 'local') throw new Error('expected Local connections');
    expect(openFilesUnder(folder)).toContain(path.join(folder, 'index.sqlite'));

    controller.releaseArchive(first.archive, [second.archive]);
    expect(openFilesUnder(folder)).toEqual([]);
    expect(unmount(folder)).toEqual({ status: 0, stderr: '' });
    mounted.splice(mounted.indexOf(folder), 1);
    await controller.close();
  });

  test('shown folder stays open', async () => {
    const { controller } = newController('ctl-media-keep');
    const folder = makeTempDir('ctl-media-keep-folder');
    const connection = controller.connectLocal(folder);
    if (connection.kind !== 'local') throw new Error('expected a Local connection');

    controller.releaseArchive(connection.archive, [connection.archive]);
    expect(controller.searchLocal(connection.archive)).toEqual([]);
    await controller.close();
  });

  test('folder in use closes after its scan', async () => {
    const { controller } = newController('ctl-media-busy');
    const folder = makeTempDir('ctl-media-busy-folder');
    freshCopy(CT_SMALL, path.join(folder, 'a.dcm'));
    const connection = controller.connectLocal(folder);
    if (connection.kind !== 'local') throw new Error('expected a Local connection');

    const scan = controller.scanLocal(connection.archive, folder, () => undefined);
    controller.releaseArchive(connection.archive, []);
    expect((await scan).indexed).toBe(1);
    expect(openFilesUnder(folder)).toEqual([]);
    await controller.close();
  });

  test('server archive stays open', async () => {
    const { controller, archiveRoot } = newController('ctl-media-server-archive');
    const port = await freePort();
    controller.updatePacs({ port });
    await controller.startServer();
    const archive = controller.openArchive(archiveRoot);

    controller.releaseArchive(archive, []);
    expect(controller.searchLocal(archive)).toEqual([]);
    await controller.close();
  });
});

describe('saved server settings', () => {
  test('restart applies new AE title and port', async () => {
    const { controller } = newController('ctl-media-restart');
    const oldPort = await freePort();
    controller.updatePacs({ port: oldPort });
    await controller.startServer();
    const newPort = await freePort();
    const echo = (aeTitle: string, port: number) => runDcmtk('echoscu', ['-to', '5', '-aec', aeTitle, '-aet', 'MEDIATEST', '127.0.0.1', String(port)]);

    const changes = { aeTitle: 'LOADERNEW', port: newPort };
    expect(controller.serverSettingsChange(changes)).toBe(true);
    controller.updatePacs(changes);
    const state = await controller.applyServerSettings();

    expect(state).toMatchObject({ running: true, aeTitle: 'LOADERNEW', port: newPort });
    expect((await echo('LOADERNEW', newPort)).code).toBe(0);
    expect((await echo(LOADER_AE, oldPort)).code).not.toBe(0);
    await controller.close();
  });

  test('start setting needs no restart', async () => {
    const { controller } = newController('ctl-media-no-restart');
    controller.updatePacs({ port: await freePort() });
    await controller.startServer();
    expect(controller.serverSettingsChange({ startWithWindow: false, aeTitle: LOADER_AE })).toBe(false);
    await controller.close();
  });

  test('stopped server needs no restart', () => {
    const { controller } = newController('ctl-media-stopped');
    expect(controller.serverSettingsChange({ aeTitle: 'OTHER' })).toBe(false);
  });
});
