/**
 * The legacy character set (pacs.legacyCharacterSet, --legacy-charset) for
 * names that equipment writes in windows-1251 without Specific Character Set
 * (0008,0005): `loader scan` and `loader studies` with bin/loader, DCMTK
 * findscu against `loader serve`, and the rejection of an invalid value.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { readDicomFileHeaderSync } from '../../src/dicom/file-reader';
import { Tags } from '../../src/dicom/tags';
import { generateUid } from '../../src/dicom/uid';
import { incomingFolder, relativeInstancePath } from '../../src/services/archive/layout';
import { createLoaderDirs, LoaderServer, makeTempDir, runLoader, startLoader, storeFiles, type LoaderDirs } from '../support/peers';
import { writeSecondaryCapture } from '../support/secondary-capture';
import { find, listStudies, splitPart10, writeQueryFile } from './helpers';

const CYRILLIC_NAME = 'Смирнов^Алексей';
/** CYRILLIC_NAME in windows-1251, which is not valid UTF-8. */
const CP1251_NAME = Buffer.from([0xd1, 0xec, 0xe8, 0xf0, 0xed, 0xee, 0xe2, 0x5e, 0xc0, 0xeb, 0xe5, 0xea, 0xf1, 0xe5, 0xe9]);
/** The same bytes read as Latin-1, which is how the loader reads them by default. */
const LATIN1_READING = CP1251_NAME.toString('latin1');
const LATIN1_NAME = 'Müller^Jürgen';

const undeclaredStudy = generateUid();
const ir6Study = generateUid();
const latin1Study = generateUid();

/** Writes the three test files: windows-1251 without (0008,0005), with ISO_IR 6, and a declared ISO_IR 100 name. */
function writeInputFolder(): string {
  const folder = makeTempDir('legacy-charset-input');
  writeSecondaryCapture(path.join(folder, 'undeclared.dcm'), undeclaredStudy, 'CP1251-NONE', [{ tag: Tags.PatientName, vr: 'PN', value: CP1251_NAME }]);
  writeSecondaryCapture(path.join(folder, 'ir6.dcm'), ir6Study, 'CP1251-IR6', [
    { tag: Tags.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 6' },
    { tag: Tags.PatientName, vr: 'PN', value: CP1251_NAME },
  ]);
  writeSecondaryCapture(path.join(folder, 'latin1.dcm'), latin1Study, 'LATIN1', [
    { tag: Tags.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 100' },
    { tag: Tags.PatientName, vr: 'PN', value: Buffer.from(LATIN1_NAME, 'latin1') },
  ]);
  return folder;
}

/** Returns the stored file bytes of the archive, by path, to show that no setting changes them. */
function readArchiveFiles(dirs: LoaderDirs): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (folder: string) => {
    for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
      if (entry.name.startsWith('.') || entry.name.startsWith('index.sqlite')) continue;
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) walk(full);
      else files.set(path.relative(dirs.archiveDir, full), fs.readFileSync(full));
    }
  };
  walk(dirs.archiveDir);
  return files;
}

function nameOf(rows: { studyInstanceUid: string; patientName: string }[], studyUid: string): string | undefined {
  return rows.find((row) => row.studyInstanceUid === studyUid)?.patientName;
}

let inputFolder: string;

beforeAll(() => {
  inputFolder = writeInputFolder();
});

describe('scan with windows-1251 setting', () => {
  let dirs: LoaderDirs;

  beforeAll(async () => {
    dirs = createLoaderDirs('legacy-charset-scan');
    const set = await runLoader(['config', 'set', 'pacs.legacyCharacterSet', 'windows-1251'], { dirs });
    if (set.code !== 0) throw new Error(`config set failed: ${set.stderr}`);
    const scan = await runLoader(['scan', inputFolder, '--import'], { dirs });
    if (scan.code !== 0) throw new Error(`scan failed with code ${scan.code}: ${scan.stderr.slice(-2000)}`);
  });

  test('undeclared name indexed as Cyrillic', async () => {
    const rows = await listStudies(dirs);
    expect(nameOf(rows, undeclaredStudy)).toBe(CYRILLIC_NAME);
    expect(nameOf(rows, ir6Study)).toBe(CYRILLIC_NAME);
  });

  test('studies --name finds it', async () => {
    const rows = await listStudies(dirs, ['--name', 'смирнов алексей']);
    expect(rows.map((row) => row.studyInstanceUid).sort()).toEqual([undeclaredStudy, ir6Study].sort());
  });

  test('declared ISO_IR 100 is unaffected', async () => {
    expect(nameOf(await listStudies(dirs), latin1Study)).toBe(LATIN1_NAME);
  });

  test('stored files equal the input', () => {
    const stored = [...readArchiveFiles(dirs).values()].map((bytes) => bytes.toString('base64')).sort();
    const input = fs.readdirSync(inputFolder).map((name) => fs.readFileSync(path.join(inputFolder, name)).toString('base64')).sort();
    expect(stored).toEqual(input);
  });

  test('flag overrides the setting in reindex', async () => {
    const reindex = await runLoader(['--legacy-charset', 'latin1', 'reindex'], { dirs });
    expect(reindex.code).toBe(0);
    expect(nameOf(await listStudies(dirs), undeclaredStudy)).toBe(LATIN1_READING);

    const back = await runLoader(['reindex'], { dirs });
    expect(back.code).toBe(0);
    expect(nameOf(await listStudies(dirs), undeclaredStudy)).toBe(CYRILLIC_NAME);
  });
});

describe('store recovered at open', () => {
  test('studies indexes it as Cyrillic', async () => {
    const dirs = createLoaderDirs('legacy-charset-recovered');
    const set = await runLoader(['config', 'set', 'pacs.legacyCharacterSet', 'windows-1251'], { dirs });
    expect(set.code).toBe(0);
    const firstFolder = makeTempDir('legacy-charset-first');
    fs.copyFileSync(path.join(inputFolder, 'latin1.dcm'), path.join(firstFolder, 'latin1.dcm'));
    const scan = await runLoader(['scan', firstFolder, '--import'], { dirs });
    expect(scan.code).toBe(0);

    // A store whose process stopped before its index commit: the file in the layout and its second link in .incoming.
    const source = path.join(inputFolder, 'undeclared.dcm');
    const dataset = readDicomFileHeaderSync(source).dataset;
    const uids = {
      studyInstanceUid: dataset.getString(Tags.StudyInstanceUID)!,
      seriesInstanceUid: dataset.getString(Tags.SeriesInstanceUID)!,
      sopInstanceUid: dataset.getString(Tags.SOPInstanceUID)!,
    };
    const stored = path.join(dirs.archiveDir, relativeInstancePath(uids));
    fs.mkdirSync(path.dirname(stored), { recursive: true });
    fs.copyFileSync(source, stored);
    const stoppedPid = spawnSync('true').pid;
    fs.linkSync(stored, path.join(incomingFolder(dirs.archiveDir), `${uids.sopInstanceUid}.${stoppedPid}.0123456789ab.1.part`));

    const rows = await listStudies(dirs);
    expect(nameOf(rows, undeclaredStudy)).toBe(CYRILLIC_NAME);
  });
});

describe('scan without the setting', () => {
  let dirs: LoaderDirs;

  beforeAll(async () => {
    dirs = createLoaderDirs('legacy-charset-default');
    const scan = await runLoader(['scan', inputFolder], { dirs });
    if (scan.code !== 0) throw new Error(`scan failed with code ${scan.code}: ${scan.stderr.slice(-2000)}`);
  });

  test('undeclared name stays Latin-1', async () => {
    const rows = await listStudies(dirs);
    expect(nameOf(rows, undeclaredStudy)).toBe(LATIN1_READING);
    expect(nameOf(rows, latin1Study)).toBe(LATIN1_NAME);
  });

  test('studies --name does not find Cyrillic', async () => {
    expect(await listStudies(dirs, ['--name', 'смирнов'])).toEqual([]);
  });

  test('--legacy-charset flag applies to scan', async () => {
    const flagged = createLoaderDirs('legacy-charset-flag');
    const scan = await runLoader(['--legacy-charset', 'windows-1251', 'scan', inputFolder], { dirs: flagged });
    expect(scan.code).toBe(0);
    expect(nameOf(await listStudies(flagged), undeclaredStudy)).toBe(CYRILLIC_NAME);
  });
});

describe('loader serve with windows-1251 setting', () => {
  let loader: LoaderServer;
  let queryDir: string;

  beforeAll(async () => {
    const dirs = createLoaderDirs('legacy-charset-serve');
    const set = await runLoader(['config', 'set', 'pacs.legacyCharacterSet', 'windows-1251'], { dirs });
    if (set.code !== 0) throw new Error(`config set failed: ${set.stderr}`);
    loader = await startLoader([], { dirs });
    const files = ['undeclared.dcm', 'latin1.dcm'].map((name) => path.join(inputFolder, name));
    const store = await storeFiles(loader, files);
    if (store.code !== 0) throw new Error(`storescu failed with code ${store.code}: ${store.stderr.slice(-2000)}`);
    queryDir = makeTempDir('legacy-charset-queries');
  });

  afterAll(async () => {
    await loader?.stop();
  });

  test.each([
    ['ISO_IR 144 request', 'ISO_IR 144'],
    ['ISO_IR 192 request', 'ISO_IR 192'],
  ])('%s finds the study', async (_case, characterSet) => {
    const query = await writeQueryFile(queryDir, characterSet, 'STUDY', {
      PatientName: 'смирнов*',
      PatientID: '',
      StudyInstanceUID: '',
    });
    const { run, finalStatus, responses } = await find(loader, '-S', [], query);

    expect(run.code).toBe(0);
    expect(finalStatus).toBe('Success');
    expect(responses.map((response) => response.StudyInstanceUID)).toEqual([undeclaredStudy]);
    expect(responses[0]?.PatientName).toBe(CYRILLIC_NAME);
  });

  test('ISO_IR 100 study keeps its name', async () => {
    const query = await writeQueryFile(queryDir, 'ISO_IR 192', 'STUDY', { PatientID: 'LATIN1', PatientName: '', StudyInstanceUID: '' });
    const { responses } = await find(loader, '-S', [], query);

    expect(responses).toHaveLength(1);
    expect(responses[0]?.PatientName).toBe(LATIN1_NAME);
  });

  test('received file is stored verbatim', () => {
    const stored = [...readArchiveFiles(loader.dirs).values()].map((bytes) => splitPart10(bytes).dataset);
    const input = splitPart10(fs.readFileSync(path.join(inputFolder, 'undeclared.dcm'))).dataset;
    // The server writes its own file meta information, so only the data sets are compared.
    expect(stored.some((dataset) => dataset.equals(input))).toBe(true);
  });
});

describe('invalid legacy character set', () => {
  test('config set rejects it', async () => {
    const result = await runLoader(['config', 'set', 'pacs.legacyCharacterSet', 'cp866']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('"cp866"');
    expect(result.stderr).toContain('latin1, windows-1251, koi8-r, iso-8859-5');
  });

  test('--legacy-charset rejects it', async () => {
    const result = await runLoader(['--legacy-charset', 'utf-16', 'scan', inputFolder]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--legacy-charset "utf-16" is invalid');
    expect(result.stderr).toContain('latin1, windows-1251, koi8-r, iso-8859-5');
  });
});
