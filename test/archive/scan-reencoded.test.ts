/**
 * A scan finds a file whose SOP Instance UID is indexed with another file. When
 * the file contains the same data set in another uncompressed transfer syntax
 * (written with DCMTK's dcmconv), it is a duplicate, as for C-STORE. A changed
 * value or a compressed copy stays a conflict.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { readDicomFileHeaderSync } from '../../src/dicom/file-reader';
import { LocalArchive, type ScanReport } from '../../src/services/archive';
import { setLogSink } from '../../src/services/logger';
import { CT_SMALL, Tag, freshCopy, makeTempDir, modifiedCopy, removeTempDir } from './fixtures';

const IMPLICIT_LE = '1.2.840.10008.1.2';

/** dcmconv options and the transfer syntax UID each one writes. */
const RE_ENCODINGS = [
  { option: '+te', transferSyntaxUid: '1.2.840.10008.1.2.1' },
  { option: '+tb', transferSyntaxUid: '1.2.840.10008.1.2.2' },
  { option: '+td', transferSyntaxUid: '1.2.840.10008.1.2.1.99' },
];

/** Files the scan reads itself before it starts the header reading thread (FILES_BEFORE_THREAD in header-prefetch.ts). */
const FILES_BEFORE_THREAD = 100;

function convert(options: string[], source: string, target: string): string {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  execFileSync('dcmconv', [...options, source, target], { stdio: 'pipe' });
  return target;
}

function transferSyntaxOf(file: string): string {
  return readDicomFileHeaderSync(file).transferSyntaxUid;
}

function sopInstanceUidOf(file: string): string {
  return readDicomFileHeaderSync(file).dataset.getString(0x00080018)!;
}

function conflictCopies(archive: LocalArchive): string[] {
  const folder = path.join(archive.root, '.conflicts');
  return fs.existsSync(folder) ? fs.readdirSync(folder) : [];
}

function expectDuplicate(report: ScanReport): void {
  expect(report.duplicates).toBe(1);
  expect(report.conflicts).toBe(0);
  expect(report.notIndexed).toEqual([]);
  expect(report.indexed).toBe(0);
  expect(report.imported).toBe(0);
  expect(report.damaged).toEqual([]);
}

describe('scan of a re-encoded copy', () => {
  let workDir: string;
  let archive: LocalArchive;
  let previousSink: (line: string) => void;
  /** The instance in Implicit VR Little Endian, as a modality might send it. */
  let original: string;

  beforeEach(() => {
    workDir = makeTempDir('scan-reencoded-');
    previousSink = setLogSink(() => undefined);
    archive = LocalArchive.open(path.join(workDir, 'archive'));
    const explicit = freshCopy(CT_SMALL, path.join(workDir, 'explicit.dcm'));
    original = convert(['+ti'], explicit, path.join(workDir, 'original', 'ct.dcm'));
    expect(transferSyntaxOf(original)).toBe(IMPLICIT_LE);
  });

  afterEach(() => {
    archive.close();
    setLogSink(previousSink);
    removeTempDir(workDir);
  });

  test.each(RE_ENCODINGS)('in place, $option copy is duplicate', async ({ option, transferSyntaxUid }) => {
    await archive.scanPaths([path.dirname(original)], { import: false });
    const copy = convert([option], original, path.join(workDir, 'copy', 'ct.dcm'));
    expect(transferSyntaxOf(copy)).toBe(transferSyntaxUid);

    const report = await archive.scanPaths([path.dirname(copy)], { import: false });

    expectDuplicate(report);
    expect(archive.getInstancePath(sopInstanceUidOf(original))).toBe(fs.realpathSync(original));
  });

  test.each(RE_ENCODINGS)('import, $option copy is duplicate', async ({ option }) => {
    await archive.scanPaths([path.dirname(original)], { import: true });
    const stored = archive.getInstancePath(sopInstanceUidOf(original))!;
    const storedBytes = fs.readFileSync(stored);
    const copy = convert([option], original, path.join(workDir, 'copy', 'ct.dcm'));

    const report = await archive.scanPaths([path.dirname(copy)], { import: true });

    expectDuplicate(report);
    expect(conflictCopies(archive)).toEqual([]);
    expect(fs.readFileSync(stored).equals(storedBytes)).toBe(true);
  });

  test.each([false, true])('changed value stays conflict (import %s)', async (importCopies) => {
    await archive.scanPaths([path.dirname(original)], { import: importCopies });
    const reencoded = convert(['+te'], original, path.join(workDir, 'reencoded.dcm'));
    const changed = modifiedCopy(reencoded, path.join(workDir, 'changed', 'ct.dcm'), { [Tag.StudyDescription]: 'changed' });

    const report = await archive.scanPaths([path.dirname(changed)], { import: importCopies });

    expect(report.conflicts).toBe(1);
    expect(report.duplicates).toBe(0);
    expect(report.notIndexed.map((problem) => problem.path)).toEqual([fs.realpathSync(changed)]);
    expect(conflictCopies(archive)).toHaveLength(importCopies ? 1 : 0);
  });

  test('in place, RLE copy stays conflict', async () => {
    await archive.scanPaths([path.dirname(original)], { import: false });
    const rle = path.join(workDir, 'rle', 'ct.dcm');
    fs.mkdirSync(path.dirname(rle));
    execFileSync('dcmcrle', [original, rle], { stdio: 'pipe' });

    const report = await archive.scanPaths([path.dirname(rle)], { import: false });

    expect(report.conflicts).toBe(1);
    expect(report.duplicates).toBe(0);
  });

  test('copy read by header thread is duplicate', async () => {
    // Folder a comes first in the walk, so the thread reads the copy in folder b.
    const filler = path.join(workDir, 'late', 'a');
    fs.mkdirSync(filler, { recursive: true });
    const fillerFiles: string[] = [];
    for (let i = 0; i < FILES_BEFORE_THREAD + 10; i++) {
      const file = path.join(filler, `${String(i).padStart(3, '0')}.dcm`);
      fs.copyFileSync(original, file);
      fillerFiles.push(file);
    }
    execFileSync('dcmodify', ['-nb', '-q', '-gin', ...fillerFiles], { stdio: 'pipe' });
    await archive.scanPaths([path.dirname(original)], { import: false });
    const copy = convert(['+te'], original, path.join(workDir, 'late', 'b', 'ct.dcm'));

    const report = await archive.scanPaths([path.join(workDir, 'late')], { import: false });

    expect(report.indexed).toBe(fillerFiles.length);
    expect(report.duplicates).toBe(1);
    expect(report.conflicts).toBe(0);
    expect(report.notIndexed).toEqual([]);
    expect(archive.getInstancePath(sopInstanceUidOf(copy))).toBe(fs.realpathSync(original));
  });
});
