/**
 * The window's Delete through its controller, on a small tmpfs whose disk is
 * full. The window's archive then opens read-only, and the deletion opens it
 * once more with access 'delete', as `loader delete` does, which removes the
 * space reserve (space-reserve.ts) so that the deletion can write. Afterwards
 * the Local panel connects again and no longer lists the deleted study. Also:
 * that second open leaves the process marker of the window's open archive in
 * place.
 *
 * Mounting a tmpfs needs root (CAP_SYS_ADMIN), so the full disk tests are
 * skipped where the mount fails.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { LocalArchive } from '../../src/services/archive';
import { setLogSink } from '../../src/services/logger';
import { SettingsStore } from '../../src/services/settings/settings-store';
import { AppController } from '../../src/ui/controllers/app-controller';
import { CT_SMALL, Tag, freshCopy, makeTempDir, storedFiles } from '../archive/fixtures';
import { MemoryStore } from '../support/keyring';
import { fillFileSystem, mountSmallTmpfs } from '../support/small-tmpfs';

// Room for the 8 MiB space reserve and a few studies.
const mount = mountSmallTmpfs(makeTempDir('ui-delete-full-disk-'), 24);
if (mount.failure !== undefined) {
  // eslint-disable-next-line no-console
  console.warn(`window deletion on a full disk skipped: ${mount.failure}; it needs root to mount a tmpfs`);
}
const describeFullDisk = mount.mountPoint !== undefined ? describe : describe.skip;

/** Creates a controller on the archive at `archiveRoot`, with settings and cache in new temporary folders. */
function newController(archiveRoot: string): AppController {
  const root = makeTempDir('ui-delete-full-disk-config-');
  const configDir = path.join(root, 'config');
  new SettingsStore({ configDir }).updatePacs({ aeTitle: 'LOADERFULL' });
  return new AppController({ configDir, archiveRoot, cacheDir: path.join(root, 'cache'), secretStore: new MemoryStore() });
}

/** Imports one CT instance as a new study of its own patient and returns its Study Instance UID. */
async function importStudy(root: string, sources: string, label: string): Promise<string> {
  const archive = LocalArchive.open(root);
  try {
    const file = freshCopy(CT_SMALL, path.join(sources, `${label}.dcm`), { [Tag.PatientID]: `FULL-${label}` });
    return (await archive.importFile(file, { copy: true })).studyInstanceUid;
  } finally {
    archive.close();
  }
}

function processMarkers(root: string): string[] {
  return fs.readdirSync(path.join(root, '.processes')).filter((name) => name.startsWith('open.'));
}

let previousSink: (line: string) => void;
beforeAll(() => {
  previousSink = setLogSink(() => undefined);
});
afterAll(() => {
  setLogSink(previousSink);
});

describeFullDisk('window deletion on a full disk', () => {
  const mountPoint = mount.mountPoint!;
  const root = path.join(mountPoint, 'archive');
  const filler = path.join(mountPoint, 'filler');
  const reserve = path.join(root, '.processes', 'space-reserve');
  const sources = makeTempDir('ui-delete-full-disk-sources-');

  afterAll(() => {
    spawnSync('umount', [mountPoint]);
    fs.rmSync(sources, { recursive: true, force: true });
  });

  test('deletes from read-only archive at 0 B', async () => {
    const deleted = await importStudy(root, sources, 'deleted');
    const kept = await importStudy(root, sources, 'kept');
    expect(fs.statSync(reserve).size).toBe(8 * 1024 * 1024);
    fillFileSystem(filler);

    const controller = newController(root);
    try {
      const connection = controller.connectLocal(root);
      if (connection.kind !== 'local') throw new Error('expected a local connection');
      expect(connection.archive.diskFull).toBe(true);
      expect(connection.archive.readOnlyReason).toMatch(/^no space left on the file system/);
      expect(controller.canDelete(connection.archive)).toBe(true);

      const plan = await controller.planDeletion(connection.archive, [deleted]);
      const report = await controller.deleteStudies(connection.archive, plan);

      expect(report.instances).toBe(1);
      expect(report.failures).toEqual([]);
      // The read-only archive has a copy of the index in memory, so the controller closes it and the panel connects again.
      const renewed = controller.connectLocal(root);
      if (renewed.kind !== 'local') throw new Error('expected a local connection');
      expect(renewed.archive).not.toBe(connection.archive);
      expect(controller.searchLocal(renewed.archive).map((row) => row.studyInstanceUid)).toEqual([kept]);
    } finally {
      await controller.close();
    }
    expect(storedFiles(root).some((file) => file.includes(deleted))).toBe(false);
    expect(storedFiles(root).filter((file) => file.includes(kept))).toHaveLength(1);
    expect(fs.existsSync(path.join(root, '.trash')) ? fs.readdirSync(path.join(root, '.trash')) : []).toEqual([]);
    // The deletion freed too little for a new 8 MiB reserve.
    expect(fs.existsSync(reserve)).toBe(false);
    expect(processMarkers(root)).toEqual([]);
  });
});

describe('window deletion with the archive open', () => {
  test('keeps the window marker', async () => {
    const root = path.join(makeTempDir('ui-delete-marker-'), 'archive');
    const sources = makeTempDir('ui-delete-marker-sources-');
    const deleted = await importStudy(root, sources, 'deleted');
    const controller = newController(root);
    try {
      const connection = controller.connectLocal(root);
      if (connection.kind !== 'local') throw new Error('expected a local connection');
      expect(connection.archive.readOnlyReason).toBeUndefined();
      const markers = processMarkers(root);
      expect(markers).toHaveLength(1);

      const plan = await controller.planDeletion(connection.archive, [deleted]);
      const report = await controller.deleteStudies(connection.archive, plan);

      expect(report.instances).toBe(1);
      // A reindex must still find the archive in use by the window.
      expect(processMarkers(root)).toEqual(markers);
    } finally {
      await controller.close();
    }
    expect(processMarkers(root)).toEqual([]);
  });
});
