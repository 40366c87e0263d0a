/**
 * `loader scan` of a patient CD copied to a folder: a DICOMDIR written by
 * DCMTK's dcmmkdir, AUTORUN.INF and a viewer program of many DLL files. Only
 * the referenced files are read, and the viewer does not make the exit code
 * partial. A disc copied into a subfolder of another, with its own DICOMDIR,
 * is scanned as media too. Non-DICOM files in a plain folder are summarized in
 * one line.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import type { ScanReport } from '../../src/services/archive';
import { CT_SMALL, MR_SMALL, freshCopy } from '../archive/fixtures';
import { createLoaderDirs, loaderIsBuilt, makeTempDir, runLoader, type LoaderDirs } from '../support/peers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

const VIEWER_FILES = 200;

interface PatientCd {
  folder: string;
  dicomdir: string;
  images: string[];
}

/** Writes a CD folder: DICOM/IM1 and IM2 referenced by a DICOMDIR, AUTORUN.INF, VIEWER.EXE and VIEWER/LIB*.DLL. */
function writePatientCd(folder: string): PatientCd {
  const images = [freshCopy(CT_SMALL, path.join(folder, 'DICOM', 'IM1')), freshCopy(MR_SMALL, path.join(folder, 'DICOM', 'IM2'))];
  execFileSync('dcmmkdir', ['+r', '-Pgp', '+I', 'DICOM'], { cwd: folder, stdio: 'pipe' });
  fs.writeFileSync(path.join(folder, 'AUTORUN.INF'), '[autorun]\r\nopen=VIEWER.EXE\r\n');
  // An MZ header and zeros, as the start of a Windows program.
  const program = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(1022)]);
  fs.writeFileSync(path.join(folder, 'VIEWER.EXE'), program);
  fs.mkdirSync(path.join(folder, 'VIEWER'));
  for (let i = 0; i < VIEWER_FILES; i++) fs.writeFileSync(path.join(folder, 'VIEWER', `LIB${String(i).padStart(3, '0')}.DLL`), program);
  return { folder, dicomdir: path.join(folder, 'DICOMDIR'), images };
}

/** Overwrites `file` with a preamble, DICM and an element cut off in its header, so the DICOMDIR cannot be read. */
function writeUnreadableDicomdir(file: string): void {
  fs.writeFileSync(file, Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), Buffer.from([0x02, 0x00, 0x00, 0x00, 0x55, 0x4c, 0x04])]));
}

describeBuilt('scan of a patient CD', () => {
  let workDir: string;
  let dirs: LoaderDirs;
  let cd: PatientCd;

  beforeEach(() => {
    workDir = fs.realpathSync(makeTempDir('scan-cd-'));
    dirs = createLoaderDirs('scan-cd');
    cd = writePatientCd(path.join(workDir, 'cd'));
  });

  afterEach(() => {
    fs.rmSync(workDir, { recursive: true, force: true });
    fs.rmSync(dirs.root, { recursive: true, force: true });
  });

  test('viewer files leave exit code 0', async () => {
    const run = await runLoader(['scan', cd.folder, '--import'], { dirs });

    expect(run.stderr).not.toContain(' WARN ');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^scanned 2 files: 0 indexed, .*2 imported, .*0 not DICOM, 0 damaged, 0 unreadable/m);
    expect(run.stdout).toContain(`DICOMDIR ${cd.dicomdir}: ${VIEWER_FILES + 2} files in its folder that no directory record references, not scanned\n`);
    expect(run.stdout).not.toContain('not DICOM:');
    expect(run.stdout).not.toContain('.DLL');
  });

  test('second import counts duplicates', async () => {
    expect((await runLoader(['scan', cd.folder, '--import'], { dirs })).code).toBe(0);

    const run = await runLoader(['scan', cd.folder, '--import'], { dirs });

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^scanned 2 files: .*2 already stored, .*0 not DICOM/m);
  });

  test('JSON lists unreferenced files', async () => {
    const extra = freshCopy(CT_SMALL, path.join(cd.folder, 'DICOM', 'EXTRA'));

    const run = await runLoader(['scan', '--json', cd.folder], { dirs });
    const report = run.json<ScanReport>();

    expect(run.code).toBe(0);
    expect(report.scanned).toBe(2);
    expect(report.indexed).toBe(2);
    expect(report.dicomdirs).toBe(1);
    expect(report.notDicom).toEqual([]);
    expect(report.unreferenced).toEqual([{ dicomdir: cd.dicomdir, count: VIEWER_FILES + 3, dicomLike: [extra] }]);
  });

  test('unreferenced DICOM file named', async () => {
    const extra = freshCopy(CT_SMALL, path.join(cd.folder, 'DICOM', 'EXTRA'));

    const run = await runLoader(['scan', cd.folder], { dirs });

    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`DICOMDIR ${cd.dicomdir}: 1 of them starts with DICM, so the DICOMDIR may lack their records: ${extra}. Give their paths to "loader scan" to index them\n`);
  });

  test('given DICOMDIR checks its folder', async () => {
    const run = await runLoader(['scan', '--json', cd.dicomdir], { dirs });
    const report = run.json<ScanReport>();

    expect(run.code).toBe(0);
    expect(report.indexed).toBe(2);
    expect(report.unreferenced).toEqual([{ dicomdir: cd.dicomdir, count: VIEWER_FILES + 2, dicomLike: [] }]);
  });

  test('damaged referenced file exits 3', async () => {
    const [im1] = cd.images;
    const bytes = fs.readFileSync(im1);
    fs.writeFileSync(im1, bytes.subarray(0, 600));

    const run = await runLoader(['scan', cd.folder], { dirs });

    expect(run.code).toBe(3);
    expect(run.stdout).toContain(`damaged: ${im1}: `);
    expect(run.stdout).not.toContain('.DLL');
  });

  test('missing referenced file exits 3', async () => {
    fs.rmSync(cd.images[1]);

    const run = await runLoader(['scan', cd.folder], { dirs });

    expect(run.code).toBe(3);
    expect(run.stdout).toContain(`missing: ${cd.images[1]}: not found: Directory record `);
  });

  test('unreadable DICOMDIR walks folder', async () => {
    writeUnreadableDicomdir(cd.dicomdir);

    const run = await runLoader(['scan', '--json', cd.folder], { dirs });
    const report = run.json<ScanReport>();

    expect(run.code).toBe(3);
    expect(report.damaged.map((item) => item.path)).toEqual([cd.dicomdir]);
    expect(report.indexed).toBe(2);
    expect(report.notDicom).toHaveLength(VIEWER_FILES + 2);
    expect(report.unreferenced).toEqual([]);
  });

  test('nested disc scanned as media', async () => {
    const inner = writePatientCd(path.join(cd.folder, 'INNER'));

    const run = await runLoader(['scan', '--json', cd.folder], { dirs });
    const report = run.json<ScanReport>();

    expect(run.code).toBe(0);
    expect(report.scanned).toBe(4);
    expect(report.indexed).toBe(4);
    expect(report.dicomdirs).toBe(2);
    expect(report.notDicom).toEqual([]);
    expect(report.unreferenced).toEqual([
      { dicomdir: cd.dicomdir, count: VIEWER_FILES + 2, dicomLike: [] },
      { dicomdir: inner.dicomdir, count: VIEWER_FILES + 2, dicomLike: [] },
    ]);
  });

  test('nested disc in text report', async () => {
    writePatientCd(path.join(cd.folder, 'INNER'));

    const run = await runLoader(['scan', cd.folder], { dirs });

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^scanned 4 files: 4 indexed, /m);
    expect(run.stdout).not.toContain('starts with DICM');
  });

  test('given DICOMDIR scans nested disc', async () => {
    writePatientCd(path.join(cd.folder, 'INNER'));

    const run = await runLoader(['scan', '--json', cd.dicomdir], { dirs });
    const report = run.json<ScanReport>();

    expect(run.code).toBe(0);
    expect(report.indexed).toBe(4);
    expect(report.dicomdirs).toBe(2);
  });

  test('unreadable nested DICOMDIR walks folder', async () => {
    const inner = writePatientCd(path.join(cd.folder, 'INNER'));
    writeUnreadableDicomdir(inner.dicomdir);

    const run = await runLoader(['scan', '--json', cd.folder], { dirs });
    const report = run.json<ScanReport>();

    expect(run.code).toBe(3);
    expect(report.damaged.map((item) => item.path)).toEqual([inner.dicomdir]);
    expect(report.indexed).toBe(4);
    expect(report.notDicom).toHaveLength(VIEWER_FILES + 2);
  });
});

describeBuilt('scan of non-DICOM files', () => {
  let folder: string;
  let dirs: LoaderDirs;

  beforeAll(() => {
    folder = fs.realpathSync(makeTempDir('scan-not-dicom-'));
    dirs = createLoaderDirs('scan-not-dicom');
    freshCopy(CT_SMALL, path.join(folder, 'ct.dcm'));
    for (let i = 0; i < 30; i++) fs.writeFileSync(path.join(folder, `notes${String(i).padStart(2, '0')}.txt`), `notes ${i}\n`);
    fs.writeFileSync(path.join(folder, 'README'), 'not DICOM\n');
  });

  afterAll(() => {
    fs.rmSync(folder, { recursive: true, force: true });
    fs.rmSync(dirs.root, { recursive: true, force: true });
  });

  test('summarized in one line', async () => {
    const run = await runLoader(['scan', folder], { dirs });
    const lines = run.stdout.split('\n').filter((line) => line.startsWith('not DICOM'));

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^scanned 32 files: 1 indexed, .*31 not DICOM/m);
    expect(lines).toEqual([
      `not DICOM: 31 files (30 .txt, 1 no extension), such as ${path.join(folder, 'README')}, ${path.join(folder, 'notes00.txt')}, ` +
        `${path.join(folder, 'notes01.txt')} and 28 more; --json lists each with the reason`,
    ]);
  });

  test('help states exit codes', async () => {
    const run = await runLoader(['scan', '--help'], { dirs });

    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Exit codes:');
    expect(run.stdout).toContain('non-DICOM files\n     are counted and summarized but do not change the exit code');
    expect(run.stdout).toContain('only the files that\nits directory records reference are scanned');
  });
});
