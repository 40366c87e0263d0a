/**
 * Scan of folders that contain FIFOs, sockets and DICOMDIR records whose
 * referenced files are gone. Special files are listed without being opened,
 * and missing referenced files are listed with their DICOMDIR and Referenced
 * File ID (0004,1500) but not counted as scanned.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import { LocalArchive, type ScanReport } from '../../src/services/archive';
import { setLogSink } from '../../src/services/logger';
import { createLoaderDirs, loaderIsBuilt, runLoader, type LoaderDirs } from '../support/loader';
import { CT_SMALL, MR_SMALL, freshCopy, makeTempDir, removeTempDir } from './fixtures';

/** Creates a FIFO (named pipe) with mkfifo(1). */
function makeFifo(file: string): string {
  execFileSync('mkfifo', [file], { stdio: 'pipe' });
  return file;
}

/** Starts a Unix domain socket server at `file`; the socket file exists until the server closes. */
async function listenOnSocket(file: string): Promise<net.Server> {
  const server = net.createServer((connection) => connection.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(file, resolve);
  });
  return server;
}

/** Writes media/IMAGES/IM1 and IM2 and a DICOMDIR that references both, with DCMTK's dcmmkdir. */
function writeMedia(media: string): { dicomdir: string; im1: string; im2: string } {
  const im1 = freshCopy(CT_SMALL, path.join(media, 'IMAGES', 'IM1'));
  const im2 = freshCopy(MR_SMALL, path.join(media, 'IMAGES', 'IM2'));
  execFileSync('dcmmkdir', ['+r', '-Pgp', '+I', 'IMAGES'], { cwd: media, stdio: 'pipe' });
  return { dicomdir: path.join(media, 'DICOMDIR'), im1, im2 };
}

describe('scan of special and missing files', () => {
  let workDir: string;
  let archive: LocalArchive;
  let previousSink: (line: string) => void;
  let logLines: string[];

  beforeEach(() => {
    workDir = fs.realpathSync(makeTempDir('scan-special-'));
    logLines = [];
    previousSink = setLogSink((line) => logLines.push(line));
    archive = LocalArchive.open(path.join(workDir, 'archive'));
  });

  afterEach(() => {
    archive.close();
    setLogSink(previousSink);
    removeTempDir(workDir);
  });

  test('FIFO and socket listed', async () => {
    const folder = path.join(workDir, 'folder');
    freshCopy(CT_SMALL, path.join(folder, 'ct.dcm'));
    const fifo = makeFifo(path.join(folder, 'pipe'));
    // A link to the FIFO is followed like any link to a file, and the FIFO is listed once.
    fs.symlinkSync(fifo, path.join(folder, 'pipe-link'));
    const server = await listenOnSocket(path.join(folder, 'socket'));

    let report: ScanReport;
    try {
      report = await archive.scanPaths([folder], { import: false });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }

    expect(report.indexed).toBe(1);
    expect(report.scanned).toBe(3);
    expect(report.specialFiles.map((item) => item.path).sort()).toEqual([fifo, path.join(folder, 'socket')]);
    expect(report.specialFiles.find((item) => item.path === fifo)?.reason).toContain('not a regular file but a FIFO (named pipe)');
    expect(report.specialFiles.find((item) => item.path !== fifo)?.reason).toContain('not a regular file but a socket');
    expect(report.notDicom).toEqual([]);
    expect(report.unreadable).toEqual([]);
    expect(report.skippedLinks).toEqual([]);
    expect(logLines.some((line) => line.includes('Skipped a special file') && line.includes(fifo))).toBe(true);
    expect(logLines.find((line) => line.includes('Scan finished'))).toMatch(/scanned=3 .*specialFiles=2/);
  });

  test('given FIFO listed', async () => {
    const fifo = makeFifo(path.join(workDir, 'pipe'));

    const report = await archive.scanPaths([fifo], { import: true });

    expect(report.scanned).toBe(1);
    expect(report.imported).toBe(0);
    expect(report.specialFiles.map((item) => item.path)).toEqual([fifo]);
    expect(report.missing).toEqual([]);
  });

  test('DICOMDIR reference to FIFO', async () => {
    const media = path.join(workDir, 'media');
    const { dicomdir, im2 } = writeMedia(media);
    fs.rmSync(im2);
    makeFifo(im2);

    const report = await archive.scanPaths([dicomdir], { import: false });

    expect(report.indexed).toBe(1);
    expect(report.specialFiles.map((item) => item.path)).toEqual([im2]);
    expect(report.missing).toEqual([]);
  });

  test('DICOMDIR gap not scanned', async () => {
    const media = path.join(workDir, 'media');
    const { dicomdir, im2 } = writeMedia(media);
    fs.rmSync(im2);

    const report = await archive.scanPaths([dicomdir], { import: false });

    expect(report.indexed).toBe(1);
    expect(report.scanned).toBe(1);
    expect(report.missing).toHaveLength(1);
    const [missing] = report.missing;
    expect(missing.path).toBe(im2);
    expect(missing.dicomdir).toBe(dicomdir);
    expect(missing.referencedFileId).toBe('IMAGES\\IM2');
    expect(missing.reason).toContain(`of DICOMDIR ${dicomdir} references it as Referenced File ID "IMAGES\\IM2"`);
    expect(missing.reason).toContain('copy the file from the original medium and scan again');
    expect(logLines.find((line) => line.includes('Scan finished'))).toMatch(/scanned=1 .*missing=1/);
  });
});

const describeWithLoader = loaderIsBuilt() ? describe : describe.skip;

describeWithLoader('loader scan of special and missing files', () => {
  let dirs: LoaderDirs;
  let media: string;
  let fifo: string;
  let im2: string;

  beforeEach(() => {
    dirs = createLoaderDirs('scan-special');
    media = path.join(fs.realpathSync(dirs.root), 'media');
    ({ im2 } = writeMedia(media));
    fs.rmSync(im2);
    fifo = makeFifo(path.join(media, 'pipe'));
  });

  afterEach(() => removeTempDir(dirs.root));

  test('report lists FIFO and gap', async () => {
    const run = await runLoader(['scan', media], { dirs });

    expect(run.code).toBe(3);
    expect(run.stdout).toMatch(/^scanned 2 files: 1 indexed, .* 0 unreadable, 0 DICOMDIR records skipped, 1 special file skipped \(not a regular file\)$/m);
    expect(run.stdout).toContain('1 file missing: given or referenced by a DICOMDIR, but not found\n');
    expect(run.stdout).toContain(`missing: ${im2}: not found: Directory record `);
    expect(run.stdout).toContain(`(IMAGE) of DICOMDIR ${path.join(media, 'DICOMDIR')} references it as Referenced File ID "IMAGES\\IM2"`);
    expect(run.stdout).toContain(`special file: ${fifo}: not a regular file but a FIFO (named pipe)`);
    expect(run.stderr).toMatch(/Scan finished scanned=2 .*missing=1 .*specialFiles=1/);
  });

  test('JSON lists FIFO and gap', async () => {
    const run = await runLoader(['scan', '--json', media], { dirs });
    const report = run.json<ScanReport>();

    expect(run.code).toBe(3);
    expect(report.scanned).toBe(2);
    expect(report.specialFiles.map((item) => item.path)).toEqual([fifo]);
    expect(report.missing).toEqual([expect.objectContaining({ path: im2, dicomdir: path.join(media, 'DICOMDIR'), referencedFileId: 'IMAGES\\IM2' })]);
  });

  test('FIFO alone exits 0', async () => {
    const run = await runLoader(['scan', fifo], { dirs });

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^scanned 1 file: 0 indexed, .* 1 special file skipped/m);
  });
});
