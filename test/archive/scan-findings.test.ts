/**
 * Scan, archive open and CLI cases found in testing. They cover DICOMDIR
 * references to missing files, files cut inside their pixel data, symbolic
 * links that lead out of the scanned folders and given paths that do not
 * exist. They also cover damaged indexes, archive folders that cannot be
 * created, and the wording of the reports.
 */
import fs from 'node:fs';
import path from 'node:path';

import Database from 'better-sqlite3';

import { readDicomFileHeaderSync } from '../../src/dicom/file-reader';
import { ArchiveError, INDEX_FILE, LocalArchive } from '../../src/services/archive';
import { setLogSink } from '../../src/services/logger';
import { loaderIsBuilt, runLoader, type LoaderDirs, createLoaderDirs } from '../support/loader';
import { CT_SMALL, PYDICOM_TEST_FILES, freshCopy, makeTempDir, removeTempDir } from './fixtures';

const DICOMDIR_TESTS = path.join(PYDICOM_TEST_FILES, 'dicomdirtests');
const MR_TRUNCATED = path.join(PYDICOM_TEST_FILES, 'MR_truncated.dcm');

/** Files of the disc TINY_ALPHA, a subfolder of pydicom's dicomdirtests with its own DICOMDIR, which the scan reads as media too. */
const TINY_ALPHA_FILES = 50;

/** Files of pydicom's dicomdirtests that the tests delete: all of MR2 and one file of MR700. */
function removeReferencedFiles(media: string): string[] {
  const mr2 = path.join(media, '98892003', 'MR2');
  const removed = fs.readdirSync(mr2).map((name) => path.join(mr2, name));
  removed.push(path.join(media, '98892003', 'MR700', '4648'));
  for (const file of removed) fs.rmSync(file);
  return removed.sort();
}

/** Writes a copy of CT_small.dcm whose Pixel Data length runs far past the end of the file. */
function writeHugePixelDataLength(target: string): string {
  const bytes = Buffer.from(fs.readFileSync(CT_SMALL));
  const { pixelDataOffset } = readDicomFileHeaderSync(CT_SMALL);
  bytes.writeUInt32LE(0xfffffff0, pixelDataOffset! + 8);
  fs.writeFileSync(target, bytes);
  return target;
}

/** Overwrites every page of the index after the first with garbage, keeping the file header valid. */
function damageIndexPages(indexFile: string): void {
  const db = new Database(indexFile);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  const size = fs.statSync(indexFile).size;
  const fd = fs.openSync(indexFile, 'r+');
  try {
    fs.writeSync(fd, Buffer.alloc(size - 4096, 0xa5), 0, size - 4096, 4096);
  } finally {
    fs.closeSync(fd);
  }
}

describe('scan findings', () => {
  let workDir: string;
  let archive: LocalArchive;
  let previousSink: (line: string) => void;

  beforeEach(() => {
    workDir = makeTempDir('scan-findings-');
    previousSink = setLogSink(() => undefined);
    archive = LocalArchive.open(path.join(workDir, 'archive'));
  });

  afterEach(() => {
    archive.close();
    setLogSink(previousSink);
    removeTempDir(workDir);
  });

  test('DICOMDIR gaps listed as missing', async () => {
    const media = path.join(workDir, 'media');
    fs.cpSync(DICOMDIR_TESTS, media, { recursive: true });
    const removed = removeReferencedFiles(media);
    const dicomdir = path.join(media, 'DICOMDIR');

    const report = await archive.scanPaths([dicomdir], { import: true });

    expect(report.imported).toBe(23 + TINY_ALPHA_FILES);
    expect(report.damaged).toEqual([]);
    expect(report.scanned).toBe(23 + TINY_ALPHA_FILES);
    expect(report.dicomdirs).toBe(2);
    expect(report.missing.map((item) => item.path).sort()).toEqual(removed);
    for (const item of report.missing) {
      expect(item.dicomdir).toBe(dicomdir);
      expect(item.referencedFileId).toBe(path.relative(media, item.path).split(path.sep).join('\\'));
      expect(item.reason).toContain(`of DICOMDIR ${dicomdir} references it as Referenced File ID "${item.referencedFileId}"`);
    }
  });

  test('pydicom MR_truncated is damaged', async () => {
    const file = path.join(workDir, 'MR_truncated.dcm');
    fs.copyFileSync(MR_TRUNCATED, file);

    const report = await archive.scanPaths([file], { import: true });

    expect(report.imported).toBe(0);
    expect(report.damaged).toHaveLength(1);
    expect(report.damaged[0].path).toBe(file);
    expect(report.damaged[0].reason).toMatch(/truncated: it has \d+ bytes, but element \(7FE0,0010\) declares a value of 8192 bytes/);
    expect(archive.listInstances()).toEqual([]);
  });

  test('huge pixel data length is damaged', async () => {
    const file = writeHugePixelDataLength(path.join(workDir, 'ct_huge.dcm'));

    const inPlace = await archive.scanPaths([file], { import: false });

    expect(inPlace.indexed).toBe(0);
    expect(inPlace.damaged.map((item) => item.path)).toEqual([file]);
    await expect(archive.importFile(file, { copy: true })).rejects.toThrow(/truncated: it has \d+ bytes, but element \(7FE0,0010\) declares a value of 4294967280 bytes/);
  });

  test('reasons do not repeat the path', async () => {
    const text = path.join(workDir, 'files', 'notes.bin');
    fs.mkdirSync(path.dirname(text));
    fs.writeFileSync(text, 'plain text, not DICOM\n');
    const cut = path.join(workDir, 'files', 'cut.dcm');
    fs.writeFileSync(cut, fs.readFileSync(CT_SMALL).subarray(0, 700));

    for (const importFiles of [false, true]) {
      const report = await archive.scanPaths([path.dirname(text)], { import: importFiles });
      expect(report.notDicom.map((item) => item.path)).toEqual([text]);
      expect(report.notDicom[0].reason).not.toContain(text);
      expect(report.notDicom[0].reason).toMatch(/^no DICM prefix/);
      expect(report.damaged.map((item) => item.path)).toEqual([cut]);
      expect(report.damaged[0].reason).not.toContain(cut);
    }
  });

  test('folder links outside roots skipped', async () => {
    const parent = path.join(workDir, 'parent');
    const scanned = path.join(parent, 'loop');
    freshCopy(CT_SMALL, path.join(parent, 'other', 'ct.dcm'));
    fs.mkdirSync(scanned, { recursive: true });
    fs.symlinkSync('..', path.join(scanned, 'up'));
    fs.symlinkSync('../other', path.join(scanned, 'sideways'));

    const report = await archive.scanPaths([scanned], { import: false });

    expect(report.scanned).toBe(0);
    expect(report.indexed).toBe(0);
    expect(report.damaged).toEqual([]);
    expect(report.skippedLinks.map((item) => path.basename(item.path)).sort()).toEqual(['sideways', 'up']);
    for (const item of report.skippedLinks) expect(item.reason).toMatch(/outside the scanned folders/);
  });

  test('link loops skipped, not damaged', async () => {
    const folder = path.join(workDir, 'links');
    freshCopy(CT_SMALL, path.join(folder, 'series', 'ct.dcm'));
    fs.symlinkSync('self', path.join(folder, 'self'));
    fs.symlinkSync('nowhere', path.join(folder, 'broken'));
    fs.symlinkSync('..', path.join(folder, 'series', 'up'));
    fs.symlinkSync('series', path.join(folder, 'again'));

    const report = await archive.scanPaths([folder], { import: false });

    expect(report.indexed).toBe(1);
    expect(report.studies).toHaveLength(1);
    expect(report.damaged).toEqual([]);
    const reasons = new Map(report.skippedLinks.map((item) => [path.basename(item.path), item.reason]));
    expect(reasons.get('self')).toMatch(/ELOOP/);
    expect(reasons.get('broken')).toMatch(/broken symbolic link: its target nowhere does not exist/);
    expect(reasons.get('up')).toMatch(/already entered/);
    // 'again' sorts before 'series', so the link is followed and the real folder is not walked twice.
    expect(reasons.has('again')).toBe(false);
  });

  test('folder link inside roots followed', async () => {
    const folder = path.join(workDir, 'roots');
    freshCopy(CT_SMALL, path.join(folder, 'data', 'ct.dcm'));
    fs.mkdirSync(path.join(folder, 'view'));
    fs.symlinkSync('../data', path.join(folder, 'view', 'link'));

    const report = await archive.scanPaths([path.join(folder, 'view'), path.join(folder, 'data')], { import: false });

    expect(report.indexed).toBe(1);
    expect(report.skippedLinks).toEqual([]);
  });

  test('missing given path is not damaged', async () => {
    const absent = path.join(workDir, 'absent');
    const present = path.dirname(freshCopy(CT_SMALL, path.join(workDir, 'present', 'ct.dcm')));

    const report = await archive.scanPaths([absent, present], { import: false });

    expect(report.indexed).toBe(1);
    expect(report.damaged).toEqual([]);
    expect(report.missing).toEqual([{ path: absent, reason: 'the given path does not exist (ENOENT)' }]);
  });
});

describe('archive open failures', () => {
  let workDir: string;
  let previousSink: (line: string) => void;

  beforeEach(() => {
    workDir = makeTempDir('archive-open-');
    previousSink = setLogSink(() => undefined);
  });

  afterEach(() => {
    setLogSink(previousSink);
    jest.restoreAllMocks();
    removeTempDir(workDir);
  });

  test('damaged index pages rejected', () => {
    const root = path.join(workDir, 'archive');
    LocalArchive.open(root).close();
    damageIndexPages(path.join(root, INDEX_FILE));

    expect(() => LocalArchive.open(root)).toThrow(ArchiveError);
    expect(() => LocalArchive.open(root)).toThrow(`The archive index ${path.join(root, INDEX_FILE)} is damaged`);
    expect(() => LocalArchive.open(root)).toThrow(`Run "loader reindex --archive ${root}"`);
  });

  test('non-database index rejected', () => {
    const root = path.join(workDir, 'archive');
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, INDEX_FILE), 'this is not an SQLite database, but long enough to be read as one '.repeat(100));

    expect(() => LocalArchive.open(root)).toThrow(/is damaged \(file is not a database\)\. Run "loader reindex/);
  });

  test('new archive creation logged', () => {
    const lines: string[] = [];
    setLogSink((line) => lines.push(line));
    const root = path.join(workDir, 'nested', 'archive');

    LocalArchive.open(root).close();
    LocalArchive.open(root).close();

    expect(lines.filter((line) => line.includes('Created a new archive'))).toHaveLength(1);
    expect(lines.find((line) => line.includes('Created a new archive'))).toContain(root);
  });

  test('folder under a file names ENOTDIR', () => {
    const file = path.join(workDir, 'plain-file');
    fs.writeFileSync(file, 'x');
    const root = path.join(file, 'archive');

    expect(() => LocalArchive.open(root)).toThrow(`Failed to create the archive folder ${root}: ENOTDIR`);
  });

  test('read-only file system names EROFS', () => {
    const root = path.join(workDir, 'readonly', 'archive');
    const realMkdir = fs.mkdirSync;
    // Node 20's recursive mkdirSync reports ENOENT on a read-only file system; a plain mkdir reports EROFS.
    jest.spyOn(fs, 'mkdirSync').mockImplementation((target, options) => {
      if (String(target).startsWith(path.join(workDir, 'readonly'))) {
        throw Object.assign(new Error(`EROFS: read-only file system, mkdir '${String(target)}'`), { code: 'EROFS' });
      }
      return realMkdir(target, options);
    });

    expect(() => LocalArchive.open(root)).toThrow(
      `Failed to create the archive folder ${path.join(workDir, 'readonly')}: EROFS, the file system is read-only`,
    );
    expect(() => LocalArchive.open(root)).toThrow(/Choose a writable archive folder with --archive or LOADER_ARCHIVE/);
  });
});

const describeWithLoader = loaderIsBuilt() ? describe : describe.skip;

describeWithLoader('loader commands on findings', () => {
  let dirs: LoaderDirs;

  beforeEach(() => {
    dirs = createLoaderDirs('scan-findings');
  });

  afterEach(() => removeTempDir(dirs.root));

  test('DICOMDIR gaps exit partial', async () => {
    const media = path.join(dirs.root, 'media');
    fs.cpSync(DICOMDIR_TESTS, media, { recursive: true });
    removeReferencedFiles(media);

    const run = await runLoader(['scan', '--import', path.join(media, 'DICOMDIR')], { dirs });

    expect(run.code).toBe(3);
    expect(run.stdout).toMatch(new RegExp(`scanned ${23 + TINY_ALPHA_FILES} files: .*${23 + TINY_ALPHA_FILES} imported, .* 0 damaged, 0 unreadable,`));
    expect(run.stdout).toContain('8 files missing: given or referenced by a DICOMDIR, but not found\n');
    expect(run.stdout).toContain(`missing: ${path.join(media, '98892003', 'MR700', '4648')}: not found: Directory record `);
  });

  test('DICOMDIR gaps in JSON', async () => {
    const media = path.join(dirs.root, 'media');
    fs.cpSync(DICOMDIR_TESTS, media, { recursive: true });
    removeReferencedFiles(media);

    const run = await runLoader(['scan', '--import', '--json', path.join(media, 'DICOMDIR')], { dirs });

    expect(run.code).toBe(3);
    expect(run.json<{ missing: unknown[] }>().missing).toHaveLength(8);
  });

  test('truncated file exits partial', async () => {
    const run = await runLoader(['scan', '--import', MR_TRUNCATED], { dirs });

    expect(run.code).toBe(3);
    expect(run.stdout).toMatch(/0 imported, .* 1 damaged/);
  });

  test('mistyped archive rejected', async () => {
    const mistyped = path.join(dirs.root, 'archvie');

    const run = await runLoader(['--archive', mistyped, 'studies'], { dirs });

    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`archive folder ${mistyped} does not exist; check --archive or LOADER_ARCHIVE`);
    expect(fs.existsSync(mistyped)).toBe(false);
  });

  test('reindex without folder rejected', async () => {
    const mistyped = path.join(dirs.root, 'archvie');

    const run = await runLoader(['--archive', mistyped, 'reindex'], { dirs });

    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`archive folder ${mistyped} does not exist`);
    expect(fs.existsSync(mistyped)).toBe(false);
  });

  test('scan creates new archive', async () => {
    const fresh = path.join(dirs.root, 'fresh-archive');

    const run = await runLoader(['--archive', fresh, 'scan', CT_SMALL], { dirs });

    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/Created a new archive root=\S*fresh-archive/);
    expect(fs.existsSync(path.join(fresh, INDEX_FILE))).toBe(true);
  });

  test('studies count singular and plural', async () => {
    const files = path.join(dirs.root, 'files');
    freshCopy(CT_SMALL, path.join(files, 'a.dcm'));
    await runLoader(['scan', files], { dirs });
    const one = await runLoader(['studies'], { dirs });
    freshCopy(CT_SMALL, path.join(files, 'b.dcm'));
    await runLoader(['scan', files], { dirs });
    const two = await runLoader(['studies'], { dirs });

    expect(one.stdout).toMatch(/\n1 study\n$/);
    expect(two.stdout).toMatch(/\n2 studies\n$/);
  });

  test.each([
    ['20031231-20030101', 'the range starts after it ends'],
    ['20030230', '20030230 is not a calendar date'],
    ['20030101-20031332', '20031332 is not a calendar date'],
  ])('studies --date %s rejected', async (value, problem) => {
    const run = await runLoader(['studies', '--date', value], { dirs });

    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`--date "${value}" is invalid: ${problem}`);
  });

  test('studies --date range accepted', async () => {
    const run = await runLoader(['studies', '--date', '20030101-20031231'], { dirs });

    expect(run.code).toBe(0);
  });

  test('scan of absent path only', async () => {
    const absent = path.join(dirs.root, 'absent');

    const run = await runLoader(['scan', absent], { dirs });

    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`the given path does not exist: ${absent}`);
  });

  test('scan of some absent paths', async () => {
    const absent = path.join(dirs.root, 'absent');

    const run = await runLoader(['scan', absent, CT_SMALL], { dirs });

    expect(run.code).toBe(3);
    expect(run.stdout).toContain(`missing: ${absent}: the given path does not exist (ENOENT)`);
  });

  test('many bad files listed up to 20', async () => {
    const folder = path.join(dirs.root, 'junk');
    fs.mkdirSync(folder);
    // A DICM prefix followed by text: damaged DICOM, which is listed file by file, unlike non-DICOM files.
    for (let i = 0; i < 1000; i++) {
      fs.writeFileSync(path.join(folder, `f${String(i).padStart(4, '0')}.dcm`), Buffer.concat([Buffer.alloc(128), Buffer.from(`DICM damaged ${i}\n`)]));
    }

    const run = await runLoader(['scan', folder], { dirs, timeoutMs: 60_000 });
    const lines = run.stdout.split('\n').filter((line) => line.startsWith('damaged: '));

    expect(run.code).toBe(3);
    expect(lines).toHaveLength(21);
    expect(lines[0]).toMatch(new RegExp(`^damaged: ${path.join(folder, 'f0000.dcm')}: `));
    expect(lines[20]).toBe('damaged: … and 980 more (use --json for all)');
  });

  test('in-place conflict wording', async () => {
    const first = freshCopy(CT_SMALL, path.join(dirs.root, 'one', 'ct.dcm'));
    const second = path.join(dirs.root, 'two', 'ct.dcm');
    fs.mkdirSync(path.dirname(second));
    const bytes = Buffer.from(fs.readFileSync(first));
    // Flips one pixel byte, so the SOP Instance UID stays and the content differs.
    bytes[bytes.length - 200] ^= 0xff;
    fs.writeFileSync(second, bytes);

    await runLoader(['scan', path.dirname(first)], { dirs });
    const run = await runLoader(['scan', path.dirname(second)], { dirs });

    expect(run.stdout).toContain('1 not indexed (another file with the same SOP Instance UID is indexed, or the study belongs to another Patient ID)');
    expect(run.stdout).not.toContain('kept aside');
  });

  test('damaged index stops serve', async () => {
    await runLoader(['scan', CT_SMALL], { dirs });
    damageIndexPages(path.join(dirs.archiveDir, INDEX_FILE));

    const run = await runLoader(['serve', '--host', '127.0.0.1', '--port', '40123'], { dirs, timeoutMs: 20_000 });

    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`The archive index ${path.join(dirs.archiveDir, INDEX_FILE)} is damaged`);
  });
});
