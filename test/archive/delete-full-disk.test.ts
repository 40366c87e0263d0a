/**
 * Deleting studies from an archive whose file system is full, on a small
 * tmpfs: deletion is how a technician frees archive space. The archive's
 * space reserve (space-reserve.ts) lets the deletion write its process
 * marker, .trash manifest and index transaction. Without a reserve, the
 * deletion fails with the disk-full message and leaves the index and the
 * files as they were.
 *
 * Mounting a tmpfs needs root (CAP_SYS_ADMIN), so the tests are skipped
 * where the mount fails.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { LocalArchive } from '../../src/services/archive';
import { setLogSink } from '../../src/services/logger';
import { CT_SMALL, Tag, makeTempDir, modifiedCopy, storedFiles } from './fixtures';
import { generateUid } from '../../src/dicom/uid';
import { fillFileSystem, mountSmallTmpfs } from '../support/small-tmpfs';

// Room for the 8 MiB space reserve and a few studies.
const mount = mountSmallTmpfs(makeTempDir('delete-full-disk-'), 24);
if (mount.failure !== undefined) {
  // eslint-disable-next-line no-console
  console.warn(`full disk deletion tests skipped: ${mount.failure}; they need root to mount a tmpfs`);
}
const describeFullDisk = mount.mountPoint !== undefined ? describe : describe.skip;

function freeBytes(folder: string): number {
  const stats = fs.statfsSync(folder);
  return stats.bavail * stats.bsize;
}

describeFullDisk('deletion on a full disk', () => {
  const mountPoint = mount.mountPoint!;
  const root = path.join(mountPoint, 'archive');
  const filler = path.join(mountPoint, 'filler');
  const reserve = path.join(root, '.processes', 'space-reserve');
  const sources = makeTempDir('delete-full-disk-sources-');
  const studies = { first: generateUid(), second: generateUid(), third: generateUid(), fourth: generateUid() };
  let previousSink: (line: string) => void;
  let logLines: string[];

  /** Imports two CT instances of the study `studyInstanceUid` into the archive, copied into its folder. */
  async function importStudy(studyInstanceUid: string): Promise<void> {
    const archive = LocalArchive.open(root);
    try {
      for (let index = 0; index < 2; index++) {
        const file = modifiedCopy(CT_SMALL, path.join(sources, `${studyInstanceUid}.${index}.dcm`), {
          [Tag.PatientID]: 'FULL-P001',
          [Tag.StudyInstanceUID]: studyInstanceUid,
          [Tag.SeriesInstanceUID]: `${studyInstanceUid}.1`,
          [Tag.SOPInstanceUID]: `${studyInstanceUid}.1.${index + 1}`,
        });
        await archive.importFile(file, { copy: true });
      }
    } finally {
      archive.close();
    }
  }

  async function deleteStudy(archive: LocalArchive, studyInstanceUid: string): Promise<number> {
    const plan = await archive.planDeletion({ studyInstanceUids: [studyInstanceUid] });
    const report = await archive.deleteStudies(plan);
    return report.instances;
  }

  function indexedStudies(): string[] {
    const archive = LocalArchive.open(root, { access: 'read-if-not-writable' });
    try {
      return archive.searchStudies({}).map((study) => study.studyInstanceUid).sort();
    } finally {
      archive.close();
    }
  }

  beforeAll(async () => {
    previousSink = setLogSink((line) => logLines.push(line));
    logLines = [];
    await importStudy(studies.first);
    await importStudy(studies.second);
    await importStudy(studies.third);
  }, 60_000);

  afterAll(() => {
    setLogSink(previousSink);
    spawnSync('umount', [mountPoint]);
    fs.rmSync(sources, { recursive: true, force: true });
  });

  test('open creates space reserve', () => {
    expect(fs.statSync(reserve).size).toBe(8 * 1024 * 1024);
  });

  test('read-write open still refuses at 0 B', () => {
    fillFileSystem(filler);

    expect(freeBytes(mountPoint)).toBe(0);
    expect(() => LocalArchive.open(root, { access: 'read-write' })).toThrow(/is full \(no space left on the file system/);
    expect(fs.statSync(reserve).size).toBe(8 * 1024 * 1024);
  });

  test('delete works at 0 B free', async () => {
    expect(freeBytes(mountPoint)).toBe(0);

    const archive = LocalArchive.open(root, { access: 'delete' });
    let deleted: number;
    try {
      await expect(archive.importFile(CT_SMALL, { copy: true })).rejects.toThrow(/is full \(no space left on the file system/);
      deleted = await deleteStudy(archive, studies.first);
    } finally {
      archive.close();
    }

    expect(deleted).toBe(2);
    expect(indexedStudies()).toEqual([studies.second, studies.third].sort());
    expect(storedFiles(root).some((file) => file.includes(studies.first))).toBe(false);
    expect(fs.existsSync(path.join(root, '.trash')) ? fs.readdirSync(path.join(root, '.trash')) : []).toEqual([]);
    expect(fs.existsSync(reserve)).toBe(false);
  });

  test('delete works at 64 KiB free', async () => {
    fs.rmSync(filler);
    const archive = LocalArchive.open(root);
    archive.close();
    expect(fs.statSync(reserve).size).toBe(8 * 1024 * 1024);
    fillFileSystem(filler, 64 * 1024);
    expect(freeBytes(mountPoint)).toBeLessThanOrEqual(64 * 1024);

    const deleting = LocalArchive.open(root, { access: 'delete' });
    let deleted: number;
    try {
      deleted = await deleteStudy(deleting, studies.second);
    } finally {
      deleting.close();
    }

    expect(deleted).toBe(2);
    expect(indexedStudies()).toEqual([studies.third]);
    expect(logLines.some((line) => line.includes('Removed the space reserve of the archive'))).toBe(true);
  });

  test('delete works at 4 KiB free', async () => {
    fs.rmSync(filler);
    await importStudy(studies.fourth);
    LocalArchive.open(root).close();
    expect(fs.statSync(reserve).size).toBe(8 * 1024 * 1024);
    // Room for the process marker, too little for the shared memory file of the index.
    fillFileSystem(filler, 4 * 1024);

    const deleting = LocalArchive.open(root, { access: 'delete' });
    let deleted: number;
    try {
      deleted = await deleteStudy(deleting, studies.fourth);
    } finally {
      deleting.close();
    }

    expect(deleted).toBe(2);
    expect(indexedStudies()).toEqual([studies.third]);
  });

  test('delete without reserve names full disk', async () => {
    fs.rmSync(filler);
    fs.rmSync(reserve, { force: true });
    // Room for the process marker and the index's shared memory file, too little for the index transaction.
    fillFileSystem(filler, 40 * 1024);

    // The open itself may fail, because SQLite writes its shared memory file when it opens the index.
    let failure: unknown;
    try {
      const archive = LocalArchive.open(root, { access: 'delete' });
      try {
        await deleteStudy(archive, studies.third);
      } finally {
        archive.close();
      }
    } catch (error) {
      failure = error;
    }
    fs.rmSync(filler);

    expect(failure).toBeDefined();
    expect((failure as Error).message).toMatch(/is full \(no space left on the file system/);
    expect((failure as Error).message).not.toContain('database or disk is full');
    expect(indexedStudies()).toEqual([studies.third]);
    expect(storedFiles(root).filter((file) => file.includes(studies.third))).toHaveLength(2);
    expect(fs.existsSync(path.join(root, '.trash')) ? fs.readdirSync(path.join(root, '.trash')) : []).toEqual([]);
  });
});
