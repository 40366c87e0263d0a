import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { readDicomFileHeaderSync } from '../../src/dicom/file-reader';
import { LocalArchive } from '../../src/services/archive';
import { setLogLevel, setLogSink } from '../../src/services/logger';
import { CT_SMALL, MR_SMALL, freshCopy, makeTempDir, removeTempDir } from './fixtures';

/** More files than the scan reads before it starts the header reading thread (FILES_BEFORE_THREAD). */
const FILE_COUNT = 130;

/** Writes FILE_COUNT CT files with their own SOP Instance UIDs in one series under `folder`. */
function buildManyFiles(folder: string): string[] {
  const first = freshCopy(CT_SMALL, path.join(folder, '000.dcm'));
  const files = [first];
  for (let i = 1; i < FILE_COUNT; i++) {
    const file = path.join(folder, `${String(i).padStart(3, '0')}.dcm`);
    fs.copyFileSync(first, file);
    files.push(file);
  }
  // dcmodify -gin gives each copy a new SOP Instance UID, in the meta information too.
  execFileSync('dcmodify', ['-nb', '-q', '-gin', ...files.slice(1)], { stdio: 'pipe' });
  return files;
}

function sopInstanceUidOf(file: string): string {
  return readDicomFileHeaderSync(file).dataset.getString(0x00080018)!;
}

describe('scan with headers read ahead', () => {
  let workDir: string;
  let previousSink: (line: string) => void;
  let logLines: string[];

  beforeEach(() => {
    workDir = makeTempDir('scan-prefetch-');
    logLines = [];
    previousSink = setLogSink((line) => logLines.push(line));
    setLogLevel('debug');
  });

  afterEach(() => {
    setLogLevel('info');
    setLogSink(previousSink);
    removeTempDir(workDir);
  });

  test('indexes many files and reports late bad ones', async () => {
    const source = path.join(workDir, 'source');
    const many = buildManyFiles(path.join(source, 'a'));
    // Folder b comes after the FILE_COUNT files of folder a in the walk, so the thread reads its files.
    const late = path.join(source, 'b');
    fs.mkdirSync(late, { recursive: true });
    fs.copyFileSync(many[0], path.join(late, 'copy-of-first.dcm'));
    fs.writeFileSync(path.join(late, 'notes.txt'), 'not DICOM\n');
    fs.writeFileSync(path.join(late, 'truncated.dcm'), fs.readFileSync(many[1]).subarray(0, 600));
    const media = path.join(late, 'media');
    const referenced = freshCopy(MR_SMALL, path.join(media, 'IMAGES', 'IM1'));
    execFileSync('dcmmkdir', ['+r', '-Pgp', '+I', 'IMAGES'], { cwd: media, stdio: 'pipe' });
    const archive = LocalArchive.open(path.join(workDir, 'archive'));

    try {
      const report = await archive.scanPaths([source], { import: false });

      expect(logLines.some((line) => line.includes('Started the header reading thread'))).toBe(true);

      expect(report.indexed).toBe(FILE_COUNT + 1);
      expect(report.duplicates).toBe(1);
      expect(report.dicomdirs).toBe(1);
      expect(report.notDicom.map((item) => item.path)).toEqual([fs.realpathSync(path.join(late, 'notes.txt'))]);
      expect(report.damaged.map((item) => item.path)).toEqual([fs.realpathSync(path.join(late, 'truncated.dcm'))]);
      for (const file of [...many, referenced]) {
        expect(archive.getInstancePath(sopInstanceUidOf(file))).toBe(fs.realpathSync(file));
      }
      const studies = archive.summarizeStudies(new Set([readDicomFileHeaderSync(many[0]).dataset.getString(0x0020000d)!]));
      expect(studies).toHaveLength(1);
      expect(studies[0].numberOfInstances).toBe(FILE_COUNT);
      expect(studies[0].modalitiesInStudy).toEqual(['CT']);
    } finally {
      archive.close();
    }
  });
});

describe('scan of a link read ahead', () => {
  let workDir: string;
  let previousSink: (line: string) => void;
  let logLines: string[];

  beforeEach(() => {
    workDir = makeTempDir('scan-prefetch-link-');
    logLines = [];
    previousSink = setLogSink((line) => logLines.push(line));
  });

  afterEach(() => {
    setLogSink(previousSink);
    removeTempDir(workDir);
  });

  test('skips a link into the archive', async () => {
    const archiveRoot = path.join(workDir, 'archive');
    const archive = LocalArchive.open(archiveRoot);
    // A file in the archive folder that no row lists, such as one copied there by hand.
    const archived = freshCopy(MR_SMALL, path.join(archiveRoot, 'copied', 'mr.dcm'));
    const source = path.join(workDir, 'source');
    buildManyFiles(path.join(source, 'a'));
    // Folder b comes after the FILE_COUNT files of folder a in the walk, so the thread reads the link's file.
    const link = path.join(source, 'b', 'mr-link.dcm');
    fs.mkdirSync(path.dirname(link));
    fs.symlinkSync(archived, link);

    try {
      const report = await archive.scanPaths([source], { import: false });

      expect(report.indexed).toBe(FILE_COUNT);
      expect(report.scanned).toBe(FILE_COUNT);
      expect(report.skippedLinks.map((item) => item.path)).toEqual([link]);
      expect(report.skippedLinks[0].reason).toContain(`symbolic link to ${fs.realpathSync(archived)}, inside the archive folder`);
      expect(archive.getInstancePath(sopInstanceUidOf(archived))).toBeUndefined();
      const warnings = logLines.filter((line) => line.includes('A symbolic link leads into the archive folder'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(link);
    } finally {
      archive.close();
    }
  });
});

describe('scan cancelled by a signal', () => {
  let workDir: string;
  let previousSink: (line: string) => void;

  beforeEach(() => {
    workDir = makeTempDir('scan-cancel-');
    previousSink = setLogSink(() => undefined);
  });

  afterEach(() => {
    setLogSink(previousSink);
    removeTempDir(workDir);
  });

  test('stops early and rescan completes', async () => {
    const source = path.join(workDir, 'source');
    const many = buildManyFiles(source);
    const archive = LocalArchive.open(path.join(workDir, 'archive'));
    const controller = new AbortController();

    try {
      // Progress is reported every 100 files, so the scan stops after the first 100.
      const report = await archive.scanPaths([source], { import: false, onProgress: () => controller.abort(), signal: controller.signal });

      expect(report.cancelled).toBe(true);
      expect(report.indexed).toBe(100);
      expect(report.scanned).toBe(100);
      expect(archive.getInstancePath(sopInstanceUidOf(many[99]))).toBe(fs.realpathSync(many[99]));
      expect(archive.getInstancePath(sopInstanceUidOf(many[100]))).toBeUndefined();

      const again = await archive.scanPaths([source], { import: false });

      expect(again.cancelled).toBe(false);
      expect(again.indexed).toBe(FILE_COUNT - 100);
      expect(again.duplicates).toBe(100);
    } finally {
      archive.close();
    }
  });
});
