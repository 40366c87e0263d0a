import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { HeaderPrefetch, type PrefetchResult } from '../../src/services/archive/header-prefetch';
import { FileWalker } from '../../src/services/archive/walk';
import { createLogger, setLogSink } from '../../src/services/logger';
import { CT_SMALL, MR_SMALL, freshCopy, makeTempDir, removeTempDir } from './fixtures';

function drain(prefetch: HeaderPrefetch): PrefetchResult[] {
  const results: PrefetchResult[] = [];
  try {
    for (let next = prefetch.next(); next !== undefined; next = prefetch.next()) results.push(next);
  } finally {
    prefetch.close();
  }
  return results;
}

/** The files in the order a FileWalker returns them, without a thread. */
function walkOrder(folder: string): string[] {
  const walker = new FileWalker([folder]);
  const files: string[] = [];
  for (let file = walker.next(); file !== undefined; file = walker.next()) files.push(file);
  return files;
}

describe('HeaderPrefetch', () => {
  let workDir: string;
  let logLines: string[];
  let previousSink: (line: string) => void;

  beforeEach(() => {
    workDir = makeTempDir('header-prefetch-');
    logLines = [];
    previousSink = setLogSink((line) => logLines.push(line));
  });

  afterEach(() => {
    setLogSink(previousSink);
    removeTempDir(workDir);
  });

  it('reads DICOM files in walk order', () => {
    const folder = path.join(workDir, 'in');
    const ct = freshCopy(CT_SMALL, path.join(folder, 'a', 'ct.dcm'));
    const mr = freshCopy(MR_SMALL, path.join(folder, 'b', 'mr.dcm'));
    fs.writeFileSync(path.join(folder, 'notes.txt'), 'not DICOM\n');
    const media = path.join(folder, 'media');
    freshCopy(CT_SMALL, path.join(media, 'IMAGES', 'IM1'));
    execFileSync('dcmmkdir', ['+r', '-Pgp', '+I', 'IMAGES'], { cwd: media, stdio: 'pipe' });

    const results = drain(new HeaderPrefetch(new FileWalker([folder]), createLogger('test.prefetch'), { filesBeforeThread: 0 }));

    expect(results.map((result) => result.file)).toEqual(walkOrder(folder));
    const withRecord = results.filter((result) => result.read).map((result) => result.read!.realPath);
    expect(withRecord.sort()).toEqual([ct, mr, path.join(media, 'IMAGES', 'IM1')].map((file) => fs.realpathSync(file)).sort());
    const ctResult = results.find((result) => result.file === ct)!;
    expect(ctResult.read!.fileSize).toBe(fs.statSync(ct).size);
    expect(ctResult.read!.record.instance.sopInstanceUid).toMatch(/^[0-9.]+$/);
    // The DICOMDIR and the text file are left to the scan's own reading.
    expect(results.find((result) => result.file.endsWith('DICOMDIR'))!.read).toBeUndefined();
    expect(results.find((result) => result.file.endsWith('notes.txt'))!.read).toBeUndefined();
  });

  it('returns many files once each', () => {
    const folder = path.join(workDir, 'many');
    const source = freshCopy(CT_SMALL, path.join(workDir, 'source.dcm'));
    fs.mkdirSync(folder);
    for (let i = 0; i < 600; i++) fs.copyFileSync(source, path.join(folder, `${i}.dcm`));

    const results = drain(new HeaderPrefetch(new FileWalker([folder]), createLogger('test.prefetch'), { filesBeforeThread: 0 }));

    expect(results.map((result) => result.file)).toEqual(walkOrder(folder));
    expect(results.every((result) => result.read !== undefined)).toBe(true);
  });

  it('hands files back when thread exits', () => {
    const folder = path.join(workDir, 'in');
    for (let i = 0; i < 40; i++) freshCopy(CT_SMALL, path.join(folder, `${i}.dcm`));
    const exiting = path.join(workDir, 'exiting-worker.js');
    fs.writeFileSync(exiting, 'process.exit(1);\n');

    const results = drain(new HeaderPrefetch(new FileWalker([folder]), createLogger('test.prefetch'), { entry: exiting, filesBeforeThread: 0 }));

    expect(results.map((result) => result.file)).toEqual(walkOrder(folder));
    expect(results.every((result) => result.read === undefined)).toBe(true);
    expect(logLines.some((line) => line.includes('header reading thread exited'))).toBe(true);
  });

  it('rereads files changed after read', async () => {
    const folder = path.join(workDir, 'in');
    const files = Array.from({ length: 40 }, (_, i) => freshCopy(CT_SMALL, path.join(folder, `${String(i).padStart(2, '0')}.dcm`)));
    const prefetch = new HeaderPrefetch(new FileWalker([folder]), createLogger('test.prefetch'), { filesBeforeThread: 0 });

    const results = [prefetch.next()!];
    // The thread reads the other requested files meanwhile; its replies wait on the port.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const touched = files[30];
    fs.utimesSync(touched, new Date(), new Date(Date.now() + 60_000));
    const deleted = files[35];
    fs.rmSync(deleted);
    results.push(...drain(prefetch));

    expect(results.map((result) => result.file)).toEqual(files);
    expect(results.find((result) => result.file === touched)!.read).toBeUndefined();
    expect(results.find((result) => result.file === deleted)!.read).toBeUndefined();
    expect(results.filter((result) => result.read === undefined)).toHaveLength(2);
  });

  it('reads first files without thread', () => {
    const folder = path.join(workDir, 'in');
    for (let i = 0; i < 5; i++) freshCopy(CT_SMALL, path.join(folder, `${i}.dcm`));

    const results = drain(new HeaderPrefetch(new FileWalker([folder]), createLogger('test.prefetch'), { filesBeforeThread: 3 }));

    expect(results.map((result) => result.file)).toEqual(walkOrder(folder));
    expect(results.map((result) => result.read !== undefined)).toEqual([false, false, false, true, true]);
  });
});
