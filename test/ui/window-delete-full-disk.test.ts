/**
 * The window's Delete on an archive whose disk is full, in Russian under
 * Xvfb. The archive folder is a small tmpfs, filled to 0 B free before the
 * window starts, so the Local panel connects read-only. Delete still opens
 * the confirmation, and OK deletes the study as `loader delete` would, by
 * removing the space reserve first. The panel then lists one study fewer.
 *
 * Mounting a tmpfs needs root (CAP_SYS_ADMIN), so the test is skipped where
 * a probe mount fails.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { makeTempDir, runLoader } from '../support/peers';
import type { LoaderDirs } from '../support/peers';
import { fillFileSystem, mountSmallTmpfs } from '../support/small-tmpfs';
import { describeWhenGuiAvailable } from './gui-prerequisites';
import { corpusStudyFiles, useWindowSession } from './window-driver';

/** Returns why a tmpfs cannot be mounted here, or undefined when it can, by mounting and unmounting one. */
function tmpfsMountFailure(): string | undefined {
  const probe = makeTempDir('ui-delete-full-disk-probe-');
  const mount = mountSmallTmpfs(probe, 1);
  if (mount.failure === undefined) spawnSync('umount', [probe]);
  fs.rmSync(probe, { recursive: true, force: true });
  return mount.failure;
}

const mountFailure = tmpfsMountFailure();
if (mountFailure !== undefined) {
  // eslint-disable-next-line no-console
  console.warn(`window deletion on a full disk skipped: ${mountFailure}; it needs root to mount a tmpfs`);
}
const describeWithGui = mountFailure === undefined ? describeWhenGuiAvailable('test/ui/window-delete-full-disk', ['Xvfb', 'xdotool', 'import']) : describe.skip;

/** Returns the Study Instance UIDs that `loader studies --json` lists for the archive of `dirs`. */
async function archivedStudyUids(dirs: LoaderDirs): Promise<string[]> {
  const listed = await runLoader(['studies', '--json'], { dirs });
  if (listed.code !== 0) throw new Error(`loader studies --json failed with code ${listed.code}: ${listed.stderr}`);
  return (JSON.parse(listed.stdout) as { studyInstanceUid: string }[]).map((study) => study.studyInstanceUid).sort();
}

describeWithGui('window deletes on a full disk', () => {
  const session = useWindowSession('delete-full-disk', {
    language: 'ru',
    // Two studies in an archive on a 24 MiB tmpfs, room for the 8 MiB space reserve, then the disk is filled.
    prepare: async ({ dirs }) => {
      const mount = mountSmallTmpfs(dirs.archiveDir, 24);
      if (mount.failure !== undefined) throw new Error(mount.failure);
      for (const name of ['ct-small.dcm', 'mr-small-explicit-le.dcm']) {
        const imported = await runLoader(['scan', '--import', ...corpusStudyFiles(name)], { dirs });
        if (imported.code !== 0) throw new Error(`loader scan --import of ${name} failed: ${imported.stderr.slice(-1000)}`);
      }
      fillFileSystem(path.join(dirs.archiveDir, 'filler'));
    },
  });

  afterAll(() => {
    // Lazy, because the window may still have the archive open while its own afterAll stops it.
    spawnSync('umount', ['-l', session.dirs.archiveDir]);
  });

  test('Delete works on read-only full archive', async () => {
    const { driver, dirs } = session;
    const archiveDir = dirs.archiveDir;
    expect(fs.statfsSync(archiveDir).bavail).toBe(0);
    await driver.waitFor('right-connection', (label) => (label.text ?? '').startsWith('Подключено, только чтение'), 30_000, 'read-only archive connected');
    await driver.waitFor('right-table', (table) => table.rows === 2, 30_000, '2 rows');
    const before = await archivedStudyUids(dirs);
    expect(before).toHaveLength(2);

    await driver.focusByKey('right-table');
    driver.key('Down');
    await driver.waitFor('right-table', (table) => (table.selectedRows ?? []).join() === '0', 5_000, 'row 0 selected');
    await driver.waitForStill('right-delete');
    await driver.click('right-delete');
    await driver.waitForActiveWindow('delete-dialog', 15_000);
    await driver.click('delete-dialog-ok');
    await driver.waitForGone('delete-dialog');

    const done = await driver.waitFor('status-text', (label) => /^Удалено исследований/.test(label.toolTip || label.text || ''), 15_000, 'deletion finished');
    expect(done.toolTip || done.text).toMatch(/^Удалено исследований: 1, снимков: \d+, освобождено: [\d.]+ (B|KiB|MiB)$/);
    await driver.waitFor('right-table', (table) => table.rows === 1, 10_000, '1 row');
    const after = await archivedStudyUids(dirs);
    expect(after).toHaveLength(1);
    expect(before).toContain(after[0]);
    expect(session.loader.readLog()).toMatch(/Removed the space reserve of the archive, because its disk is full/);
    expect(fs.existsSync(path.join(archiveDir, '.trash')) ? fs.readdirSync(path.join(archiveDir, '.trash')) : []).toEqual([]);
  }, 90_000);
});
