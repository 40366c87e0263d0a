/**
 * The built loader on an archive whose file system is full: a 10 MiB tmpfs
 * filled up after a scan. Reading commands and `loader serve` must open the
 * archive read-only, and the server must accept C-ECHO, C-FIND, C-MOVE and
 * C-GET and reject C-STORE with A700. DCMTK's echoscu, findscu, movescu,
 * getscu, storescu and storescp are the peers.
 *
 * Mounting a tmpfs needs root (CAP_SYS_ADMIN), so the tests are skipped
 * where the mount fails.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import {
  associationArgs,
  corpusSamples,
  createLoaderDirs,
  listFiles,
  loaderIsBuilt,
  makeTempDir,
  runDcmtk,
  runLoader,
  startLoader,
  startStorescp,
  type LoaderDirs,
  type LoaderServer,
  type StorescpHandle,
} from '../support/peers';
import { fillFileSystem, mountSmallTmpfs } from '../support/small-tmpfs';

const mount = loaderIsBuilt() ? mountSmallTmpfs(makeTempDir('full-disk'), 10) : { failure: 'dist/loader.js is not built' };
if (mount.failure !== undefined) {
  // eslint-disable-next-line no-console
  console.warn(`full disk archive tests skipped: ${mount.failure}; they need root to mount a tmpfs`);
}
const describeFullDisk = mount.mountPoint !== undefined ? describe : describe.skip;

describeFullDisk('archive on a full file system', () => {
  const mountPoint = mount.mountPoint!;
  const ctFiles = corpusSamples((file) => file.kind === 'ct');
  const mrFile = corpusSamples((file) => file.kind === 'mr')[0];
  let dirs: LoaderDirs;
  let server: LoaderServer | undefined;

  beforeAll(async () => {
    const base = createLoaderDirs('full-disk');
    dirs = { ...base, archiveDir: path.join(mountPoint, 'archive') };
    const scan = await runLoader(['scan', '--import', ...ctFiles.map((file) => file.absolutePath)], { dirs });
    expect(scan.code).toBe(0);
    fillFileSystem(path.join(mountPoint, 'filler'));
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    spawnSync('umount', [mountPoint]);
  });

  test('studies lists the archive', async () => {
    const result = await runLoader(['studies', '--json'], { dirs });

    expect(result.code).toBe(0);
    const studies = result.json<{ studyInstanceUid: string }[]>();
    expect(studies.map((study) => study.studyInstanceUid).sort()).toEqual([...new Set(ctFiles.map((file) => file.studyInstanceUid))].sort());
  });

  test('studies warns once with free space', async () => {
    const result = await runLoader(['studies'], { dirs });

    const warnings = result.stderr.split('\n').filter((line) => line.includes('WARN') && line.includes('loader.archive'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('disk is full');
    expect(warnings[0]).toContain(dirs.archiveDir);
    expect(warnings[0]).toMatch(/\(0 B free/);
    expect(result.stderr).not.toContain('ENOSPC: no space left on device, write');
  });

  test('no marker file is left', async () => {
    await runLoader(['studies'], { dirs });

    // The space reserve stays; see src/services/archive/space-reserve.ts.
    expect(fs.readdirSync(path.join(dirs.archiveDir, '.processes')).filter((name) => name !== 'space-reserve')).toEqual([]);
  });

  test('scan --import names the full disk', async () => {
    const result = await runLoader(['scan', '--import', mrFile.absolutePath], { dirs });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`The archive folder ${dirs.archiveDir} is full (no space left on the file system`);
    expect(result.stderr).toContain('Free space on that file system');
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });

  describe('serve', () => {
    let destination: StorescpHandle;

    beforeAll(async () => {
      destination = await startStorescp({ aeTitle: 'MOVEDEST' });
      const added = await runLoader(['nodes', 'add', 'dest', '--aet', destination.aeTitle, '--host', destination.host, '--port', String(destination.port)], { dirs });
      expect(added.code).toBe(0);
      server = await startLoader([], { dirs, aeTitle: 'FULLDISK' });
    }, 30_000);

    afterAll(async () => {
      await destination?.stop();
    });

    test('C-ECHO succeeds', async () => {
      const result = await runDcmtk('echoscu', associationArgs(server!, 'ECHOSCU'));

      expect(result.code).toBe(0);
    });

    test('C-FIND lists studies', async () => {
      const result = await runDcmtk('findscu', ['-S', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'StudyInstanceUID', ...associationArgs(server!, 'FINDSCU')]);

      expect(result.code).toBe(0);
      for (const file of ctFiles) expect(result.stdout + result.stderr).toContain(file.studyInstanceUid);
    });

    test('C-GET retrieves study', async () => {
      const outputDir = makeTempDir('full-disk-get');
      const study = ctFiles[0].studyInstanceUid!;
      const result = await runDcmtk('getscu', ['-S', '-od', outputDir, '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${study}`, ...associationArgs(server!, 'GETSCU')]);

      expect(result.code).toBe(0);
      expect(listFiles(outputDir)).toHaveLength(ctFiles.filter((file) => file.studyInstanceUid === study).length);
    });

    test('C-MOVE sends study', async () => {
      const study = ctFiles[0].studyInstanceUid!;
      const result = await runDcmtk('movescu', ['-S', '-aem', destination.aeTitle, '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${study}`, ...associationArgs(server!, 'MOVESCU')]);

      expect(result.code).toBe(0);
      expect(listFiles(destination.outputDir)).toHaveLength(ctFiles.filter((file) => file.studyInstanceUid === study).length);
    });

    test('rejects C-STORE with A700', async () => {
      const result = await runDcmtk('storescu', ['-d', ...associationArgs(server!, 'STORESCU'), mrFile.absolutePath]);
      const output = result.stdout + result.stderr;
      const response = output.slice(output.indexOf('Received Store Response'));

      expect(/DIMSE Status\s*:\s*(0x[0-9a-f]{4})/.exec(response)?.[1]).toBe('0xa700');
      expect(/\(0000,0902\) LO \[([^\]]*)\]/.exec(response)?.[1]).toBe('Archive disk full; free space and restart the loader server');
    });
  });

  // Last in this file, because it frees space. The server of the serve tests still runs, as it would when a technician frees space.
  test('delete frees space on the full disk', async () => {
    const studyUid = ctFiles[0].studyInstanceUid!;
    const before = fs.statfsSync(mountPoint);

    const result = await runLoader(['delete', '--study-uid', studyUid, '--yes'], { dirs });

    expect(result.stderr).toContain('Removed the space reserve of the archive, because its disk is full');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Deleted 1 study: /m);
    const studies = (await runLoader(['studies', '--json'], { dirs })).json<{ studyInstanceUid: string }[]>();
    expect(studies.map((study) => study.studyInstanceUid)).not.toContain(studyUid);
    expect(fs.statfsSync(mountPoint).bavail).toBeGreaterThan(before.bavail);
  }, 60_000);
});
