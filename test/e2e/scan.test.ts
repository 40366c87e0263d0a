/**
 * `loader scan` of the corpus samples and hostile files, with and without
 * --import, of a DICOMDIR from pydicom's test files, and `loader reindex`
 * after the index is deleted.
 */
import * as fs from 'fs';
import * as path from 'path';

import { CORPUS_DIR, LoaderRunResult, corpusFile, corpusHostileFiles, corpusSamples, createLoaderDirs, listFiles, runCommand, runLoader } from '../support/peers';
import { PYTHON, StudyRow, archivePathOf, listStudies, readPart10 } from './helpers';

const SCAN_PATHS = [path.join(CORPUS_DIR, 'samples'), path.join(CORPUS_DIR, 'hostile')];
const PYDICOM_DICOMDIR = '/usr/lib/python3/dist-packages/pydicom/data/test_files/dicomdirtests/DICOMDIR';
const PYDICOM_NESTED_DICOMDIR = '/usr/lib/python3/dist-packages/pydicom/data/test_files/dicomdirtests/TINY_ALPHA/DICOMDIR';

interface ScanReport {
  scanned: number;
  indexed: number;
  imported: number;
  duplicates: number;
  conflicts: number;
  dicomdirs: number;
  notDicom: { path: string; reason: string }[];
  damaged: { path: string; reason: string }[];
  studies: StudyRow[];
}

const samples = corpusSamples();
const hostile = corpusHostileFiles();
/** Hostile files that are valid DICOM apart from a wrong group length, so they are indexed. */
const indexableHostile = hostile.filter((file) => file.kind === 'hostile-malformed-group-0000');
const damagedKinds = ['hostile-path-traversal-uid', 'hostile-long-uid', 'hostile-truncated-header'];
const notDicomKinds = ['hostile-not-dicom', 'hostile-empty'];

function pathsOfKinds(kinds: string[]): string[] {
  return hostile.filter((file) => kinds.includes(file.kind)).map((file) => file.absolutePath).sort();
}

describe.each([
  ['scan in place', [] as string[]],
  ['scan with import', ['--import']],
])('%s', (_name, extraArgs) => {
  const dirs = createLoaderDirs('scan');
  let run: LoaderRunResult;
  let report: ScanReport;

  beforeAll(async () => {
    run = await runLoader(['scan', ...extraArgs, '--json', ...SCAN_PATHS], { dirs, timeoutMs: 90_000 });
    report = run.json<ScanReport>();
  });

  test('exit code is partial', () => {
    expect(run.code).toBe(3);
  });

  test('counts match the corpus', () => {
    const counted = extraArgs.includes('--import') ? report.imported : report.indexed;
    expect(counted).toBe(samples.length + indexableHostile.length);
    expect(report.scanned).toBe(samples.length + hostile.length);
  });

  test('damaged files listed with reasons', () => {
    expect(report.damaged.map((entry) => entry.path).sort()).toEqual(pathsOfKinds(damagedKinds));
    for (const entry of report.damaged) expect({ path: entry.path, reason: entry.reason.length > 10 }).toEqual({ path: entry.path, reason: true });
  });

  test('non-DICOM files listed with reasons', () => {
    expect(report.notDicom.map((entry) => entry.path).sort()).toEqual(pathsOfKinds(notDicomKinds));
    for (const entry of report.notDicom) expect({ path: entry.path, reason: entry.reason.length > 10 }).toEqual({ path: entry.path, reason: true });
  });

  test('every study listed', async () => {
    const rows = await listStudies(dirs);
    const expected = [...new Set([...samples, ...indexableHostile].map((file) => file.studyInstanceUid!))].sort();
    expect(rows.map((row) => row.studyInstanceUid).sort()).toEqual(expected);
  });

  test('legacy date is searchable', async () => {
    const legacy = corpusFile('legacy-date');
    const rows = await listStudies(dirs, ['--date', '19990524']);

    expect(rows.map((row) => row.studyInstanceUid)).toEqual([legacy.studyInstanceUid]);
    expect(rows[0]?.studyDate).toBe('19990524');
  });

  test('no file named evil created', () => {
    expect(listFiles(dirs.root).filter((file) => /evil/.test(file))).toEqual([]);
    expect(fs.readdirSync(path.dirname(dirs.root)).filter((name) => /evil/.test(name))).toEqual([]);
  });

  if (extraArgs.includes('--import')) {
    test('imported files are copies', () => {
      for (const file of samples) {
        const copy = archivePathOf(dirs.archiveDir, file);
        expect({ file: file.path, copied: fs.existsSync(copy) }).toEqual({ file: file.path, copied: true });
        if (fs.existsSync(copy)) expect(readPart10(copy).dataset.equals(readPart10(file.absolutePath).dataset)).toBe(true);
      }
    });

    test('reindex restores the index', async () => {
      const before = await listStudies(dirs);
      for (const name of fs.readdirSync(dirs.archiveDir)) {
        if (name.startsWith('index.sqlite')) fs.rmSync(path.join(dirs.archiveDir, name));
      }

      const reindex = await runLoader(['reindex', '--json'], { dirs, timeoutMs: 90_000 });

      expect(reindex.code).toBe(0);
      expect(await listStudies(dirs)).toEqual(before);
    });
  } else {
    test('in-place scan copies nothing', () => {
      expect(listFiles(dirs.archiveDir).filter((file) => file.endsWith('.dcm'))).toEqual([]);
    });

    test('reindex counts files indexed in place', async () => {
      const reindex = await runLoader(['reindex'], { dirs, timeoutMs: 90_000 });

      expect(reindex.code).toBe(0);
      expect(reindex.stdout.trim()).toBe(`indexed 0 instances in the archive folder and kept ${report.indexed} instances indexed in place outside it`);
    });
  }
});

describe('scan of a DICOMDIR', () => {
  test('referenced files indexed', async () => {
    // pydicom counts the records that reference an existing file, in the DICOMDIR and in the disc copied into its folder.
    const count = await runCommand(PYTHON, [
      '-c',
      'import os, sys, pydicom\n' +
        'total = 0\n' +
        'for path in sys.argv[1:]:\n' +
        '    d = pydicom.dcmread(path)\n' +
        '    base = os.path.dirname(path)\n' +
        '    refs = [r.ReferencedFileID for r in d.DirectoryRecordSequence if "ReferencedFileID" in r]\n' +
        '    total += sum(os.path.exists(os.path.join(base, *([f] if isinstance(f, str) else f))) for f in refs)\n' +
        'print(total)\n',
      PYDICOM_DICOMDIR,
      PYDICOM_NESTED_DICOMDIR,
    ]);
    const expected = Number(count.stdout.trim());

    const run = await runLoader(['scan', '--json', PYDICOM_DICOMDIR]);
    const report = run.json<ScanReport>();

    expect(expected).toBeGreaterThan(0);
    expect(run.code).toBe(0);
    // TINY_ALPHA, beside the DICOMDIR, has a DICOMDIR of its own, so it is scanned as media too.
    expect(report.dicomdirs).toBe(2);
    expect(report.indexed).toBe(expected);
  });
});

describe('rescan of an overwritten file', () => {
  const dirs = createLoaderDirs('scan-replaced');
  const folder = path.join(dirs.root, 'modality-export');
  const file = path.join(folder, 'IM1');
  const first = corpusFile('ct');
  const second = corpusFile('mr');
  let rescan: LoaderRunResult;
  let studiesAfterRescan: StudyRow[];
  let table: LoaderRunResult;

  beforeAll(async () => {
    fs.mkdirSync(folder);
    fs.copyFileSync(first.absolutePath, file);
    const scan = await runLoader(['scan', '--json', folder], { dirs });
    expect(scan.json<ScanReport>().indexed).toBe(1);

    // Another instance written to the same file name, as a modality or a user overwriting an export.
    fs.copyFileSync(second.absolutePath, file);
    rescan = await runLoader(['scan', '--json', folder], { dirs });
    studiesAfterRescan = await listStudies(dirs);
    // And the first instance again, for the table output.
    fs.copyFileSync(first.absolutePath, file);
    table = await runLoader(['scan', folder], { dirs });
  });

  test('report lists the replacement', () => {
    expect(rescan.code).toBe(0);
    expect(rescan.json<ScanReport & { replaced: unknown[] }>().replaced).toEqual([
      { path: fs.realpathSync(file), previousSopInstanceUid: first.sopInstanceUid, sopInstanceUid: second.sopInstanceUid, reason: expect.stringContaining(first.sopInstanceUid!) },
    ]);
  });

  test('table lists the replacement', () => {
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('1 instance removed from the index: another instance overwrote its file');
    expect(table.stdout).toContain(`replaced: ${fs.realpathSync(file)}: indexed before as SOP Instance UID ${second.sopInstanceUid}, now contains SOP Instance UID ${first.sopInstanceUid}`);
  });

  test('studies lists only the file content', async () => {
    expect(studiesAfterRescan.map((row) => [row.studyInstanceUid, row.numberOfInstances])).toEqual([[second.studyInstanceUid, 1]]);
    expect((await listStudies(dirs)).map((row) => [row.studyInstanceUid, row.numberOfInstances])).toEqual([[first.studyInstanceUid, 1]]);
  });
});
