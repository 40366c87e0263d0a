/**
 * DCMTK findscu queries `loader serve` with the whole corpus stored, in the
 * Study Root and Patient Root models. Each query returns exactly the studies,
 * series or instances the corpus manifest predicts. Cyrillic names match
 * case-insensitively and come back in a character set that decodes.
 */
import { CorpusFile, LoaderServer, corpusFile, corpusSamples, makeTempDir, startLoader } from '../support/peers';
import { DicomAttributes, distinct, expectedStudies, find, storeWithOwnSyntax, writeQueryFile } from './helpers';

const samples = corpusSamples();
const iso144 = corpusFile('charset-iso-ir-144');
const utf8Cyrillic = corpusFile('charset-utf8-cyrillic');

function studyUids(responses: DicomAttributes[]): string[] {
  return distinct(responses.map((response) => response.StudyInstanceUID));
}

let loader: LoaderServer;
let queryDir: string;

beforeAll(async () => {
  loader = await startLoader([], { aeTitle: 'LOADER' });
  const store = await storeWithOwnSyntax(loader, samples);
  if (store.code !== 0) throw new Error(`storing the corpus failed: ${store.stderr.slice(-2000)}`);
  queryDir = makeTempDir('queries');
});

describe('C-FIND Cyrillic names', () => {
  const studyKeys = { PatientID: '', StudyInstanceUID: '' };

  test.each([
    ['ISO_IR 144 exact', 'ISO_IR 144', 'Люкceмбypг', iso144],
    ['ISO_IR 144 lowercase', 'ISO_IR 144', 'люкceмбypг', iso144],
    ['ISO_IR 144 wildcard', 'ISO_IR 144', 'ЛЮК*', iso144],
    ['ISO_IR 192 exact', 'ISO_IR 192', 'Иванов^Иван^Петрович', utf8Cyrillic],
    ['ISO_IR 192 mixed case', 'ISO_IR 192', 'иВАНОВ^иван^пЕТРОВИЧ', utf8Cyrillic],
    ['ISO_IR 192 wildcard', 'ISO_IR 192', 'иванов*', utf8Cyrillic],
    ['UTF-8 query, ISO_IR 144 data', 'ISO_IR 192', 'люкceмбypг', iso144],
    ['ISO_IR 144 query, UTF-8 data', 'ISO_IR 144', 'иванов*', utf8Cyrillic],
  ])('%s', async (_case, characterSet, name, expected: CorpusFile) => {
    const query = await writeQueryFile(queryDir, characterSet, 'STUDY', { ...studyKeys, PatientName: name });
    const { run, finalStatus, responses } = await find(loader, '-S', [], query);

    expect(run.code).toBe(0);
    expect(finalStatus).toBe('Success');
    expect(studyUids(responses)).toEqual([expected.studyInstanceUid]);
    expect(responses[0]?.PatientName).toBe(expected.patientName);
    expect(responses[0]?.PatientID).toBe(expected.patientId);
  });

  test('response charset of ISO_IR 144 data', async () => {
    const query = await writeQueryFile(queryDir, 'ISO_IR 144', 'STUDY', { ...studyKeys, PatientName: 'Люкceмбypг' });
    const { responses } = await find(loader, '-S', [], query);

    expect(responses).toHaveLength(1);
    expect(['ISO_IR 144', 'ISO_IR 192']).toContain(responses[0].SpecificCharacterSet);
  });

  test('ASCII query returns decodable Cyrillic', async () => {
    const { responses } = await find(loader, '-S', [
      'QueryRetrieveLevel=STUDY',
      `PatientID=${utf8Cyrillic.patientId}`,
      'PatientName',
      'StudyInstanceUID',
    ]);

    expect(responses).toHaveLength(1);
    expect(responses[0].PatientName).toBe(utf8Cyrillic.patientName);
  });
});

describe('C-FIND study matching', () => {
  test.each([
    ['date range A-B', 'StudyDate=20070404-20070406', (file: CorpusFile) => file.studyDate! >= '20070404' && file.studyDate! <= '20070406'],
    ['date range A-', 'StudyDate=20130101-', (file: CorpusFile) => file.studyDate! >= '20130101'],
    ['date range -B', 'StudyDate=-19940130', (file: CorpusFile) => file.studyDate! <= '19940130'],
    ['single date', 'StudyDate=20040826', (file: CorpusFile) => file.studyDate === '20040826'],
    ['legacy date', 'StudyDate=19990524', (file: CorpusFile) => file.studyDate === '19990524'],
    ['two modalities', 'ModalitiesInStudy=CT\\MR', (file: CorpusFile) => ['CT', 'MR'].includes(file.modality!)],
    ['name prefix wildcard', 'PatientName=Compressed*', (file: CorpusFile) => file.patientName!.startsWith('Compressed')],
    ['name lowercase wildcard', 'PatientName=compressed*', (file: CorpusFile) => file.patientName!.startsWith('Compressed')],
    ['single-character wildcard', 'PatientName=?nonymized', (file: CorpusFile) => file.patientName === 'Anonymized'],
    ['patient ID wildcard', 'PatientID=LDR-001?', (file: CorpusFile) => /^LDR-001.$/.test(file.patientId!)],
    ['patient ID prefix wildcard', 'PatientID=LDR-002*', (file: CorpusFile) => file.patientId!.startsWith('LDR-002')],
  ])('%s', async (_case, key, filter) => {
    // A later -k for the same attribute would replace the matching value.
    const keyword = key.split('=')[0];
    const returnKeys = ['StudyInstanceUID', 'PatientName', 'StudyDate', 'ModalitiesInStudy'].filter((name) => name !== keyword);
    const { run, finalStatus, responses } = await find(loader, '-S', ['QueryRetrieveLevel=STUDY', key, ...returnKeys]);

    expect(run.code).toBe(0);
    expect(finalStatus).toBe('Success');
    expect(studyUids(responses)).toEqual(expectedStudies(filter));
    expect(responses).toHaveLength(expectedStudies(filter).length);
  });

  test('UID list', async () => {
    const expected = [corpusFile('rle').studyInstanceUid!, corpusFile('seg').studyInstanceUid!, iso144.studyInstanceUid!];
    const { responses } = await find(loader, '-S', [
      'QueryRetrieveLevel=STUDY',
      `StudyInstanceUID=${expected.join('\\')}`,
      'NumberOfStudyRelatedInstances',
    ]);

    expect(studyUids(responses)).toEqual([...expected].sort());
  });

  test('related instance count', async () => {
    const mr = corpusFile('mr-volume');
    const { responses } = await find(loader, '-S', [
      'QueryRetrieveLevel=STUDY',
      `StudyInstanceUID=${mr.studyInstanceUid}`,
      'NumberOfStudyRelatedInstances',
    ]);

    const expected = samples.filter((file) => file.studyInstanceUid === mr.studyInstanceUid).length;
    expect(responses).toHaveLength(1);
    expect(responses[0].NumberOfStudyRelatedInstances).toBe(String(expected));
  });

  test('modalities in study returned', async () => {
    const { responses } = await find(loader, '-S', [
      'QueryRetrieveLevel=STUDY',
      `StudyInstanceUID=${corpusFile('ecg').studyInstanceUid}`,
      'ModalitiesInStudy',
    ]);

    expect(responses).toHaveLength(1);
    expect(responses[0].ModalitiesInStudy).toBe('ECG');
  });
});

describe('C-FIND lower levels', () => {
  const mrSmall = corpusFile('mr');
  const mrStudy = samples.filter((file) => file.studyInstanceUid === mrSmall.studyInstanceUid);

  test('series of one study', async () => {
    const { run, responses } = await find(loader, '-S', [
      'QueryRetrieveLevel=SERIES',
      `StudyInstanceUID=${mrSmall.studyInstanceUid}`,
      'SeriesInstanceUID',
      'Modality',
      'NumberOfSeriesRelatedInstances',
    ]);

    expect(run.code).toBe(0);
    expect(distinct(responses.map((response) => response.SeriesInstanceUID))).toEqual(distinct(mrStudy.map((file) => file.seriesInstanceUid)));
    expect(distinct(responses.map((response) => response.Modality))).toEqual(['MR']);
  });

  test('images of one series', async () => {
    const series = mrSmall.seriesInstanceUid!;
    const { run, responses } = await find(loader, '-S', [
      'QueryRetrieveLevel=IMAGE',
      `StudyInstanceUID=${mrSmall.studyInstanceUid}`,
      `SeriesInstanceUID=${series}`,
      'SOPInstanceUID',
    ]);

    expect(run.code).toBe(0);
    const expected = distinct(samples.filter((file) => file.seriesInstanceUid === series).map((file) => file.sopInstanceUid));
    expect(distinct(responses.map((response) => response.SOPInstanceUID))).toEqual(expected);
    expect(responses).toHaveLength(expected.length);
  });

  test('series of another study excluded', async () => {
    const { responses } = await find(loader, '-S', [
      'QueryRetrieveLevel=SERIES',
      `StudyInstanceUID=${iso144.studyInstanceUid}`,
      `SeriesInstanceUID=${mrSmall.seriesInstanceUid}`,
    ]);

    expect(responses).toEqual([]);
  });

  test('patient root patient level', async () => {
    const { run, responses } = await find(loader, '-P', ['QueryRetrieveLevel=PATIENT', 'PatientID=LDR-0010', 'PatientName']);

    expect(run.code).toBe(0);
    expect(responses).toHaveLength(1);
    expect(responses[0].PatientName).toBe(corpusFile('mr-volume').patientName);
  });

  test('patient root Cyrillic patient', async () => {
    const query = await writeQueryFile(queryDir, 'ISO_IR 144', 'PATIENT', { PatientName: 'люкceмбypг', PatientID: '' });
    const { responses } = await find(loader, '-P', [], query);

    expect(responses.map((response) => response.PatientID)).toEqual([iso144.patientId]);
    expect(responses[0]?.PatientName).toBe(iso144.patientName);
  });

  test('patient root study level', async () => {
    const { responses } = await find(loader, '-P', [
      'QueryRetrieveLevel=STUDY',
      `PatientID=${utf8Cyrillic.patientId}`,
      'StudyInstanceUID',
    ]);

    expect(studyUids(responses)).toEqual([utf8Cyrillic.studyInstanceUid]);
  });

  test('study root rejects patient level', async () => {
    const { finalStatus, responses } = await find(loader, '-S', ['QueryRetrieveLevel=PATIENT', 'PatientID=LDR-0010']);

    expect(responses).toEqual([]);
    expect(finalStatus).toMatch(/DataSetDoesNotMatchSOPClass|IdentifierDoesNotMatchSOPClass/);
  });
});
