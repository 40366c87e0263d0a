import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { readDicomFileHeaderSync } from '../../src/dicom/file-reader';
import { LocalArchive, type ScanProgress } from '../../src/services/archive';
import { setLogSink } from '../../src/services/logger';
import { CT_SMALL, MR_SMALL, RT_PLAN, Tag, freshCopy, makeTempDir, removeTempDir } from './fixtures';

/**
 * Builds a folder with good files, a legacy date, a group 0000 element in the
 * data set, a text file, a truncated file, a DICOMDIR and a symbolic link loop.
 */
function buildScanFolder(folder: string) {
  const good = [
    freshCopy(CT_SMALL, path.join(folder, 'good', 'ct.dcm')),
    freshCopy(MR_SMALL, path.join(folder, 'good', 'mr.dcm')),
    freshCopy(RT_PLAN, path.join(folder, 'good', 'legacy.dcm'), { [Tag.StudyDate]: '1999.05.24' }),
  ];
  good.push(writeWithGroupZero(freshCopy(CT_SMALL, path.join(folder, 'tmp.dcm')), path.join(folder, 'good', 'group0000.dcm')));
  fs.rmSync(path.join(folder, 'tmp.dcm'));

  fs.writeFileSync(path.join(folder, 'notes.txt'), 'scan notes, not DICOM\n');
  const whole = fs.readFileSync(freshCopy(CT_SMALL, path.join(folder, 'whole.dcm')));
  fs.rmSync(path.join(folder, 'whole.dcm'));
  fs.writeFileSync(path.join(folder, 'truncated.dcm'), whole.subarray(0, 600));

  const media = path.join(folder, 'media');
  const referenced = [
    freshCopy(CT_SMALL, path.join(media, 'IMAGES', 'IM1')),
    freshCopy(MR_SMALL, path.join(media, 'IMAGES', 'IM2')),
  ];
  execFileSync('dcmmkdir', ['+r', '-Pgp', '+I', 'IMAGES'], { cwd: media, stdio: 'pipe' });
  fs.symlinkSync('..', path.join(folder, 'good', 'loop'));

  return { good, referenced, notDicom: path.join(folder, 'notes.txt'), truncated: path.join(folder, 'truncated.dcm') };
}

/** Inserts a (0000,0000) UL element with a wrong value at the start of an explicit VR little endian data set. */
function writeWithGroupZero(source: string, target: string): string {
  const bytes = fs.readFileSync(source);
  const offset = readDicomFileHeaderSync(source).datasetOffset;
  const element = Buffer.from([0x00, 0x00, 0x00, 0x00, 0x55, 0x4c, 0x04, 0x00, 0x39, 0x30, 0x00, 0x00]);
  fs.writeFileSync(target, Buffer.concat([bytes.subarray(0, offset), element, bytes.subarray(offset)]));
  return target;
}

describe('LocalArchive.scanPaths', () => {
  let workDir: string;
  let previousSink: (line: string) => void;

  beforeEach(() => {
    workDir = makeTempDir();
    previousSink = setLogSink(() => undefined);
  });

  afterEach(() => {
    setLogSink(previousSink);
    removeTempDir(workDir);
  });

  test('indexes in place and reports bad files', async () => {
    const source = path.join(workDir, 'source');
    const files = buildScanFolder(source);
    const archive = LocalArchive.open(path.join(workDir, 'archive'));
    const progress: ScanProgress[] = [];

    try {
      const report = await archive.scanPaths([source], { import: false, onProgress: (state) => progress.push(state) });

      expect(report.scanned).toBe(8);
      expect(report.indexed).toBe(6);
      expect(report.imported).toBe(0);
      expect(report.duplicates).toBe(0);
      expect(report.conflicts).toBe(0);
      expect(report.dicomdirs).toBe(1);
      expect(report.notDicom.map((item) => item.path)).toEqual([files.notDicom]);
      expect(report.damaged.map((item) => item.path)).toEqual([files.truncated]);
      expect(report.damaged[0].reason).not.toBe('');
      expect(report.studies).toHaveLength(6);
      expect(progress.at(-1)?.scanned).toBe(8);

      for (const file of [...files.good, ...files.referenced]) {
        const sopInstanceUid = readDicomFileHeaderSync(file).dataset.getString(0x00080018)!;
        expect(archive.getInstancePath(sopInstanceUid)).toBe(fs.realpathSync(file));
      }
      const legacyRow = archive.catalog.db
        .prepare(`SELECT st.study_date AS studyDate, i.in_place AS inPlace FROM instances i
          JOIN series se ON se.id = i.series_ref JOIN studies st ON st.id = se.study_ref WHERE i.path = ?`)
        .get(fs.realpathSync(files.good[2]));
      expect(legacyRow).toEqual({ studyDate: '19990524', inPlace: 1 });
    } finally {
      archive.close();
    }
  });

  test('second scan counts duplicates', async () => {
    const source = path.join(workDir, 'source');
    buildScanFolder(source);
    const archive = LocalArchive.open(path.join(workDir, 'archive'));

    try {
      await archive.scanPaths([source], { import: false });
      const again = await archive.scanPaths([source, path.join(source, 'good')], { import: false });

      expect(again.scanned).toBe(8);
      expect(again.indexed).toBe(0);
      expect(again.duplicates).toBe(6);
      expect(again.studies).toHaveLength(6);
    } finally {
      archive.close();
    }
  });

  test('import copies into the layout', async () => {
    const source = path.join(workDir, 'source');
    const files = buildScanFolder(source);
    const root = path.join(workDir, 'archive');
    const archive = LocalArchive.open(root);

    try {
      const report = await archive.scanPaths([source], { import: true });

      expect(report.imported).toBe(6);
      expect(report.indexed).toBe(0);
      for (const file of files.good) {
        const header = readDicomFileHeaderSync(file);
        const uid = (tag: number) => header.dataset.getString(tag)!;
        const stored = path.join(root, uid(0x0020000d), uid(0x0020000e), `${uid(0x00080018)}.dcm`);
        expect(archive.getInstancePath(uid(0x00080018))).toBe(stored);
        expect(fs.readFileSync(stored).equals(fs.readFileSync(file))).toBe(true);
      }
      expect(fs.readdirSync(path.join(root, '.incoming'))).toEqual([]);
    } finally {
      archive.close();
    }
  });

  test('changed file under indexed UID conflicts', async () => {
    const source = path.join(workDir, 'source');
    const original = freshCopy(CT_SMALL, path.join(source, 'a', 'ct.dcm'));
    const sopInstanceUid = readDicomFileHeaderSync(original).dataset.getString(0x00080018)!;
    const archive = LocalArchive.open(path.join(workDir, 'archive'));

    try {
      await archive.scanPaths([path.join(source, 'a')], { import: false });
      const changed = path.join(source, 'b', 'ct.dcm');
      fs.mkdirSync(path.dirname(changed));
      fs.copyFileSync(original, changed);
      execFileSync('dcmodify', ['-nb', '-i', `${Tag.StudyDescription}=changed`, changed], { stdio: 'pipe' });

      const report = await archive.scanPaths([path.join(source, 'b')], { import: false });

      expect(report.conflicts).toBe(1);
      expect(report.indexed).toBe(0);
      expect(archive.getInstancePath(sopInstanceUid)).toBe(fs.realpathSync(original));
    } finally {
      archive.close();
    }
  });

  test.each([false, true])('series of another study conflicts (import %s)', async (importCopies) => {
    const source = path.join(workDir, 'source');
    const original = freshCopy(CT_SMALL, path.join(source, 'a', 'ct.dcm'));
    const seriesInstanceUid = readDicomFileHeaderSync(original).dataset.getString(0x0020000e)!;
    freshCopy(CT_SMALL, path.join(source, 'b', 'ct.dcm'), { [Tag.SeriesInstanceUID]: seriesInstanceUid });
    const archive = LocalArchive.open(path.join(workDir, 'archive'));

    try {
      await archive.scanPaths([path.join(source, 'a')], { import: importCopies });
      const report = await archive.scanPaths([path.join(source, 'b')], { import: importCopies });

      expect(report.conflicts).toBe(1);
      expect(report.indexed + report.imported).toBe(0);
      expect(archive.searchStudies({})).toHaveLength(1);
    } finally {
      archive.close();
    }
  });
});
