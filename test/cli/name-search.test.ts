/**
 * --name and --accession mean the same on `loader find` (C-FIND on Orthanc),
 * `loader studies` and `loader send --all-matching` (the archive index):
 * words in any order, a pattern with * or ? for the whole name. Also the
 * shared study table of find, studies and scan, newest study first.
 */
import path from 'node:path';

import { patientNameKey } from '../../src/services/query-retrieve';
import { createLoaderDirs, freePort, loaderIsBuilt, LOOPBACK, runLoader, startOrthanc } from '../support/peers';
import type { LoaderDirs, OrthancHandle } from '../support/peers';
import { writeStudyCopies } from '../support/study-copies';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

/** The studies of the test, each with its own patient, date and accession number; `date` orders them. */
const STUDIES = {
  ivanov: { name: 'Иванов^Иван^Иванович', id: 'IVA1', date: '20240301', accession: 'ACC-1' },
  ivanova: { name: 'Иванова^Мария', id: 'IVA2', date: '20230115', accession: 'ACC-2' },
  petrov: { name: 'Петров^Пётр', id: 'PET1', date: '20240505', accession: 'XYZ-3' },
} as const;
type Label = keyof typeof STUDIES;

const TABLE_HEADING = /^PATIENT NAME +PATIENT ID +BIRTH DATE +STUDY DATE +MODALITIES +DESCRIPTION +INSTANCES +STUDY INSTANCE UID$/;

describe('patientNameKey', () => {
  test('sends longest word', () => {
    expect(patientNameKey('Иван Иванович')).toBe('*Иванович*');
    expect(patientNameKey('Иванов^Иван')).toBe('*Иванов*');
    expect(patientNameKey('иван')).toBe('*иван*');
  });

  test('sends pattern as given', () => {
    expect(patientNameKey(' Иванов^Ив* ')).toBe('Иванов^Ив*');
    expect(patientNameKey('Иван?в')).toBe('Иван?в');
  });

  test('sends * for е and ё', () => {
    expect(patientNameKey('Семенов')).toBe('*С*м*нов*');
    expect(patientNameKey('Пётр Семенов')).toBe('*С*м*нов*');
    expect(patientNameKey('ЁЛКИНА')).toBe('*ЛКИНА*');
    expect(patientNameKey('Семёнов^П*')).toBe('С*м*нов^П*');
  });

  test('separators only is universal', () => {
    expect(patientNameKey(' ^ ')).toBe('');
  });
});

describeBuilt('name search on node and archive', () => {
  const dirs: LoaderDirs = createLoaderDirs('name-search');
  const uidOf = {} as Record<Label, string>;
  const files: string[] = [];
  let orthanc: OrthancHandle;

  /** Returns the labels of the studies with the given Study Instance UIDs, in the order given. */
  const labelsOf = (uids: string[]) => uids.map((uid) => (Object.keys(uidOf) as Label[]).find((label) => uidOf[label] === uid) ?? uid);

  async function findLabels(args: string[]): Promise<string[]> {
    const result = await runLoader(['find', 'orthanc', ...args, '--json'], { dirs });
    expect(result.code).toBe(0);
    return labelsOf(result.json<{ studyInstanceUid: string }[]>().map((match) => match.studyInstanceUid));
  }

  async function studiesLabels(args: string[]): Promise<string[]> {
    const result = await runLoader(['studies', ...args, '--json'], { dirs });
    expect(result.code).toBe(0);
    return labelsOf(result.json<{ studyInstanceUid: string }[]>().map((study) => study.studyInstanceUid));
  }

  beforeAll(async () => {
    const attributes = {} as Record<Label, Record<string, string>>;
    for (const [label, study] of Object.entries(STUDIES) as [Label, (typeof STUDIES)[Label]][]) {
      attributes[label] = { '(0010,0010)': study.name, '(0010,0020)': study.id, '(0008,0020)': study.date, '(0008,0050)': study.accession };
    }
    const copies = await writeStudyCopies(path.join(dirs.root, 'files'), attributes);
    Object.assign(uidOf, copies.uidOf);
    files.push(...copies.files);

    orthanc = await startOrthanc({ aeTitle: 'NAMESEARCH', modalities: { loader: { aet: 'LOADERNAME', host: LOOPBACK, port: await freePort() } } });
    for (const file of files) await orthanc.uploadFile(file);
    const add = await runLoader(['nodes', 'add', 'orthanc', '--aet', orthanc.aeTitle, '--host', orthanc.host, '--port', String(orthanc.port)], { dirs });
    expect(add.code).toBe(0);
    expect((await runLoader(['config', 'set', 'pacs.aeTitle', 'LOADERNAME'], { dirs })).code).toBe(0);
    expect((await runLoader(['scan', '--import', ...files], { dirs })).code).toBe(0);
  });

  afterAll(async () => {
    await orthanc?.stop();
  });

  // Each word matches any part of the name, as in `loader studies`, so Иванов and Иван also match Иванова^Мария.
  test.each([
    ['Иванов Иван', ['ivanov', 'ivanova']],
    ['Иванов^Иван', ['ivanov', 'ivanova']],
    ['ИВАН ИВАНОВ', ['ivanov', 'ivanova']],
    ['иван иванович', ['ivanov']],
    ['Иванович Иванов', ['ivanov']],
  ])('find words %s', async (name, expected) => {
    expect(await findLabels(['--name', name])).toEqual(expected);
  });

  test('find checks every word', async () => {
    // Orthanc matches *Иванов* in both Иванов and Иванова, but only Иванова^Мария has Мария.
    expect(await findLabels(['--name', 'Иванов Мария'])).toEqual(['ivanova']);
    expect(await findLabels(['--name', 'Пётр Иванов'])).toEqual([]);
  });

  test('find е matches ё locally', async () => {
    // The longest word, Петров, goes to the node, and Петр matches Пётр in the check of every word.
    expect(await findLabels(['--name', 'Петр Петров'])).toEqual(['petrov']);
  });

  test('find pattern sent as given', async () => {
    expect(await findLabels(['--name', 'Иванов^Ив*'])).toEqual(['ivanov']);
    expect(await findLabels(['--name', 'Иванов*'])).toEqual(['ivanov', 'ivanova']);
  });

  test.each(['Иванов Иван', 'иван иванович', 'Иванов Мария', 'Иванов', 'Петр Петров', 'Иванов^Ив*', 'Иванов*', 'мария'])('find agrees with studies: %s', async (name) => {
    expect(await findLabels(['--name', name])).toEqual(await studiesLabels(['--name', name]));
  });

  test('studies --accession', async () => {
    expect(await studiesLabels(['--accession', 'ACC-2'])).toEqual(['ivanova']);
    expect(await studiesLabels(['--accession', 'ACC-*'])).toEqual(['ivanov', 'ivanova']);
    expect(await studiesLabels(['--accession', 'acc-2'])).toEqual([]);
    expect(await findLabels(['--accession', 'ACC-*'])).toEqual(['ivanov', 'ivanova']);
  });

  test('send --all-matching --accession', async () => {
    const result = await runLoader(['send', 'orthanc', '--all-matching', '--accession', 'ACC-2', '--json'], { dirs });

    expect(result.code).toBe(0);
    // One study of one instance, not all three archived studies.
    expect(result.json<{ total: number; completed: number }>()).toEqual(expect.objectContaining({ total: 1, completed: 1 }));
  });

  test('send --all-matching --date preset', async () => {
    const result = await runLoader(['send', 'orthanc', '--all-matching', '--date', 'yesterday', '--json'], { dirs });

    expect(result.code).toBe(0);
    expect(result.json<{ total: number; notes: string[] }>()).toEqual(expect.objectContaining({ total: 0, notes: ['no archived studies match the filters'] }));
  });

  test('send --all-matching words', async () => {
    const result = await runLoader(['send', 'orthanc', '--all-matching', '--name', 'мария иванова', '--json'], { dirs });

    expect(result.code).toBe(0);
    expect(result.json<{ total: number }>().total).toBe(1);
  });

  test('tables share columns and order', async () => {
    const find = await runLoader(['find', 'orthanc'], { dirs });
    const studies = await runLoader(['studies'], { dirs });
    const scan = await runLoader(['scan', ...files], { dirs });
    const newestFirst = ['petrov', 'ivanov', 'ivanova'] as const;

    for (const [command, result] of [['find', find], ['studies', studies], ['scan', scan]] as const) {
      expect({ command, code: result.code }).toEqual({ command, code: 0 });
      const lines = result.stdout.split('\n');
      const heading = lines.findIndex((line) => line.startsWith('PATIENT NAME'));
      expect({ command, heading: lines[heading] }).toEqual({ command, heading: expect.stringMatching(TABLE_HEADING) });
      expect({ command, dashes: lines[heading + 1] }).toEqual({ command, dashes: expect.stringMatching(/^-+( +-+){7}$/) });
      const rows = lines.slice(heading + 2, heading + 2 + newestFirst.length);
      expect({ command, uids: rows.map((row) => row.split(/ +/).pop()) }).toEqual({ command, uids: newestFirst.map((label) => uidOf[label]) });
    }
    expect(find.stdout.split('\n').slice(0, 5)).toEqual(studies.stdout.split('\n').slice(0, 5));
  });

  test('json newest first', async () => {
    expect(await findLabels([])).toEqual(['petrov', 'ivanov', 'ivanova']);
    expect(await studiesLabels([])).toEqual(['petrov', 'ivanov', 'ivanova']);
  });
});
