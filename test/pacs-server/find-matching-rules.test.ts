/**
 * DCMTK findscu queries `loader serve` to check the C-FIND matching rules of
 * PS3.4 section C.2.2.2 on a few small studies. The rules covered are time
 * ranges, universal matching with '*', empty value matching with '""',
 * Modalities in Study with several values, person names with trailing
 * delimiters, IS keys compared as integers, and VRs on which wildcards are
 * not allowed.
 */
import path from 'node:path';
import { generateUid } from '../../src/dicom/uid';
import { CT_SMALL, MR_SMALL, Tag, modifiedCopy } from '../archive/fixtures';
import fs from 'node:fs';
import { find, distinct, writeQueryFile } from '../e2e/helpers';
import { LoaderServer, makeTempDir, startLoader, storeFiles } from '../support/peers';

const SeriesNumber = '(0020,0011)';
const AccessionNumber = '(0008,0050)';

/** One study of one or more series, each series one instance. */
interface StudySpec {
  name: string;
  study: Record<string, string>;
  series: Record<string, string>[];
}

const STUDIES: StudySpec[] = [
  { name: 'at1030', study: { [Tag.StudyTime]: '103045', [Tag.StudyDescription]: 'Head', [Tag.PatientName]: 'Doe^John' }, series: [{ [Tag.Modality]: 'CT', [SeriesNumber]: '1' }] },
  { name: 'at1031', study: { [Tag.StudyTime]: '103100', [Tag.StudyDescription]: 'Head', [Tag.PatientName]: 'Roe^Jane^^^' }, series: [{ [Tag.Modality]: 'CT', [SeriesNumber]: '12' }] },
  { name: 'at0900', study: { [Tag.StudyTime]: '0900', [Tag.StudyDescription]: '', [Tag.PatientName]: 'Doe' }, series: [{ [Tag.Modality]: 'MR', [SeriesNumber]: '7' }] },
  {
    name: 'petCt',
    study: { [Tag.StudyTime]: '120000.5', [Tag.StudyDescription]: 'PET-CT', [AccessionNumber]: '', [Tag.PatientName]: 'Doe^Johnny' },
    series: [
      { [Tag.Modality]: 'CT', [SeriesNumber]: '1' },
      { [Tag.Modality]: 'PT', [SeriesNumber]: '2' },
    ],
  },
];

let loader: LoaderServer;
const studyUid: Record<string, string> = {};
const seriesUids: Record<string, string[]> = {};

beforeAll(async () => {
  loader = await startLoader([], { aeTitle: 'LOADER' });
  const filesDir = makeTempDir('find-rules');
  const files: string[] = [];
  for (const spec of STUDIES) {
    studyUid[spec.name] = generateUid();
    seriesUids[spec.name] = [];
    spec.series.forEach((series, index) => {
      const seriesUid = generateUid();
      seriesUids[spec.name].push(seriesUid);
      const source = series[Tag.Modality] === 'MR' ? MR_SMALL : CT_SMALL;
      const changes = {
        [Tag.PatientID]: `RULES-${spec.name}`,
        [Tag.StudyInstanceUID]: studyUid[spec.name],
        [Tag.SeriesInstanceUID]: seriesUid,
        [Tag.SOPInstanceUID]: generateUid(),
        ...spec.study,
        ...series,
      };
      files.push(modifiedCopy(source, path.join(filesDir, `${spec.name}-${index}.dcm`), changes));
    });
  }
  const store = await storeFiles(loader, files, { callingAeTitle: 'STORESCU' });
  if (store.code !== 0) throw new Error(`storing the test studies failed: ${store.stderr.slice(-2000)}`);
});

afterAll(async () => {
  await loader?.stop();
});

/** Runs a Study Root query at STUDY level and returns the names of the matching studies. */
async function findStudies(...keys: string[]): Promise<string[]> {
  const { run, finalStatus, responses } = await find(loader, '-S', ['QueryRetrieveLevel=STUDY', 'StudyInstanceUID', ...keys]);
  expect(run.code).toBe(0);
  expect(finalStatus).toBe('Success');
  const names = Object.keys(studyUid);
  return distinct(responses.map((response) => names.find((name) => studyUid[name] === response.StudyInstanceUID) ?? String(response.StudyInstanceUID)));
}

/** Runs a Study Root query at SERIES level within one study and returns the positions of the matching series in its StudySpec. */
async function findSeries(study: string, ...keys: string[]): Promise<number[]> {
  const { run, finalStatus, responses } = await find(loader, '-S', [
    'QueryRetrieveLevel=SERIES',
    `StudyInstanceUID=${studyUid[study]}`,
    'SeriesInstanceUID',
    'SeriesNumber',
    ...keys,
  ]);
  expect(run.code).toBe(0);
  expect(finalStatus).toBe('Success');
  return responses.map((response) => seriesUids[study].indexOf(String(response.SeriesInstanceUID))).sort();
}

const ALL = ['at0900', 'at1030', 'at1031', 'petCt'];

/** Sends a STUDY level C-FIND with `key` and checks that it gets no match, a final status like `status` and a log line like `logged`. */
async function expectStudyQueryRejected(key: string, status: RegExp, logged: RegExp): Promise<void> {
  const logBefore = loader.readLog().length;
  const { run, finalStatus, responses } = await find(loader, '-S', ['QueryRetrieveLevel=STUDY', 'StudyInstanceUID', key]);

  expect(run.code).toBe(0);
  expect(responses).toEqual([]);
  expect(finalStatus).toMatch(status);
  expect(loader.readLog().slice(logBefore)).toMatch(logged);
}

describe('C-FIND time range matching', () => {
  test.each([
    ['upper bound HHMM', 'StudyTime=-1030', ['at0900', 'at1030']],
    ['range HHMM-HHMM', 'StudyTime=0900-1030', ['at0900', 'at1030']],
    ['one-minute range', 'StudyTime=1030-1030', ['at1030']],
    ['upper bound HH', 'StudyTime=-10', ['at0900', 'at1030', 'at1031']],
    ['lower bound HHMM', 'StudyTime=1031-', ['at1031', 'petCt']],
    ['upper bound with seconds', 'StudyTime=-103045', ['at0900', 'at1030']],
    ['upper bound with colon', 'StudyTime=-10:30', ['at0900', 'at1030']],
  ])('%s', async (_case, key, expected) => {
    expect(await findStudies(key)).toEqual(expected);
  });

  // PS3.4 C.2.2.2.5 defines a range from the earlier to the later value, and time ranges do not cross midnight.
  test.each([
    ['time range across midnight', 'StudyTime=2300-0100', /C-FIND rejected.*StudyTime range .*2300-0100.*it starts after it ends; a time range cannot cross midnight/],
    ['reversed date range', 'StudyDate=20250103-20250101', /C-FIND rejected.*StudyDate range .*20250103-20250101.*it starts after it ends; swap the two dates/],
  ])('%s rejected', async (_case, key, logged) => {
    await expectStudyQueryRejected(key, /UnableToProcess/, logged);
  });
});

describe('C-FIND universal matching with *', () => {
  test.each([
    ['empty description', 'StudyDescription=*'],
    ['empty accession number', 'AccessionNumber=*'],
    ['empty referring physician', 'ReferringPhysicianName=*'],
    ['study date', 'StudyDate=*'],
    ['study time', 'StudyTime=*'],
    ['modalities in study', 'ModalitiesInStudy=*'],
    ['run of stars', 'StudyDescription=**'],
  ])('%s', async (_case, key) => {
    expect(await findStudies(key)).toEqual(ALL);
  });
});

describe('C-FIND Modalities in Study', () => {
  test.each([
    ['second modality', 'ModalitiesInStudy=PT', ['petCt']],
    ['first modality', 'ModalitiesInStudy=CT', ['at1030', 'at1031', 'petCt']],
    ['list of values', 'ModalitiesInStudy=MR\\PT', ['at0900', 'petCt']],
    ['wildcard', 'ModalitiesInStudy=P?', ['petCt']],
  ])('%s', async (_case, key, expected) => {
    expect(await findStudies(key)).toEqual(expected);
  });
});

// PS3.4 C.4.1.2.1: a hierarchical query matches keys of its own level and the unique keys above it.
describe('C-FIND unique keys below the query level', () => {
  test.each([
    ['series UID at STUDY level', 'SeriesInstanceUID=1.2.3', /SeriesInstanceUID is the unique key of the SERIES level, but the query is at STUDY level/],
    ['SOP Instance UID at STUDY level', 'SOPInstanceUID=1.2.3.4', /SOPInstanceUID is the unique key of the IMAGE level/],
  ])('%s rejected', async (_case, key, logged) => {
    // findscu 3.6.7 names status A900 (Identifier does not match SOP Class) so.
    await expectStudyQueryRejected(key, /DataSetDoesNotMatchSOPClass/, logged);
  });

  test('Modality at STUDY level matches the studies', async () => {
    expect(await findStudies('Modality=PT')).toEqual(['petCt']);
    expect(await findStudies('Modality=MR')).toEqual(['at0900']);
  });

  test('empty series key at STUDY level accepted', async () => {
    expect(await findStudies('SeriesInstanceUID')).toEqual(ALL);
  });
});

// PS3.4 C.2.2.2.8 leaves several values in a key undefined without Extended Negotiation, and the loader matches any of them.
describe('C-FIND keys with several values', () => {
  test.each([
    ['patient IDs', 'PatientID=RULES-at1030\\RULES-petCt', ['at1030', 'petCt']],
    ['patient names', 'PatientName=Roe^Jane\\Doe', ['at0900', 'at1031']],
    ['name pattern and name', 'PatientName=Doe^J*\\Roe^Jane', ['at1030', 'at1031', 'petCt']],
    ['lower case names', 'PatientName=roe^jane\\doe^john', ['at1030', 'at1031']],
    ['study descriptions', 'StudyDescription=PET-CT\\Head', ['at1030', 'at1031', 'petCt']],
    ['time and time range', 'StudyTime=0900\\1200-', ['at0900', 'petCt']],
    ['star among the values', 'PatientID=NONE\\*', ALL],
    ['no value matches', 'PatientID=NONE\\OTHER', []],
  ])('%s', async (_case, key, expected) => {
    expect(await findStudies(key)).toEqual(expected);
  });

  test('series numbers', async () => {
    expect(await findSeries('petCt', 'SeriesNumber=1\\2')).toEqual([0, 1]);
    expect(await findSeries('petCt', 'SeriesNumber=2\\9')).toEqual([1]);
  });

  test('more than 100 values rejected', async () => {
    const ids = Array.from({ length: 101 }, (_, index) => `P${index}`).join('\\');
    const logBefore = loader.readLog().length;
    const { run, finalStatus, responses } = await find(loader, '-S', ['QueryRetrieveLevel=STUDY', 'StudyInstanceUID', `PatientID=${ids}`]);

    expect(run.code).toBe(0);
    expect(responses).toEqual([]);
    expect(finalStatus).toMatch(/UnableToProcess/);
    expect(loader.readLog().slice(logBefore)).toMatch(/C-FIND rejected.*PatientID has 101 values; at most 100 are matched/);
  });
});

// PS3.5 6.2.1.1 lets writers omit trailing empty components, so 'Roe^Jane^^^' and 'Roe^Jane' are one name.
describe('C-FIND person names', () => {
  test.each([
    ['trailing delimiters in the key', 'PatientName=Doe^John^^', ['at1030']],
    ['trailing delimiters stored', 'PatientName=Roe^Jane', ['at1031']],
    ['family name only', 'PatientName=Doe', ['at0900']],
    ['wildcard after a delimiter', 'PatientName=Doe^*', ['at1030', 'petCt']],
    ['only delimiters', 'PatientName=^^', ALL],
  ])('%s', async (_case, key, expected) => {
    expect(await findStudies(key)).toEqual(expected);
  });
});

describe('C-FIND VRs without wildcards', () => {
  test('single value', async () => {
    expect(await findSeries('petCt', 'SeriesNumber=2')).toEqual([1]);
  });

  // PS3.4 C.2.2.2.4 allows wildcards only for AE, CS, LO, LT, PN, SH, ST, UC, UR and UT.
  test('no wildcard on IS', async () => {
    expect(await findSeries('petCt', 'SeriesNumber=?')).toEqual([]);
    expect(await findSeries('at1031', 'SeriesNumber=1*')).toEqual([]);
  });

  test('no wildcard on UI list members', async () => {
    expect(await findStudies('SOPClassesInStudy=1.2.840.10008.5.1.4.1.1.*')).toEqual([]);
    expect(await findStudies('SOPClassesInStudy=1.2.840.10008.5.1.4.1.1.2')).toEqual(['at1030', 'at1031', 'petCt']);
  });

  test('star alone is universal on IS', async () => {
    expect(await findSeries('petCt', 'SeriesNumber=*')).toEqual([0, 1]);
  });
});

describe('C-FIND empty value matching', () => {
  test.each([
    ['empty description', 'StudyDescription=""', ['at0900']],
    ['no empty time', 'StudyTime=""', []],
  ])('%s', async (_case, key, expected) => {
    expect(await findStudies(key)).toEqual(expected);
  });
});

describe('C-FIND IS keys as integers', () => {
  test.each([
    ['leading plus', 'SeriesNumber=+2'],
    ['leading zero', 'SeriesNumber=02'],
  ])('%s', async (_case, key) => {
    expect(await findSeries('petCt', key)).toEqual([1]);
  });
});

describe('C-FIND unique keys of higher levels', () => {
  // A query below STUDY level names its study by single value or list of UID matching, so '*' is no study at all.
  test('star as StudyInstanceUID rejected', async () => {
    const { run, finalStatus, responses } = await find(loader, '-S', [
      'QueryRetrieveLevel=SERIES',
      'StudyInstanceUID=*',
      'SeriesInstanceUID',
    ]);

    expect(run.code).toBe(0);
    expect(responses).toEqual([]);
    expect(finalStatus).toMatch(/DoesNotMatchSOPClass/);
  });
});

// Values that cannot be decoded would be matched as Latin-1 or U+FFFD and find nothing, so the loader answers C000 and names the term.
describe('C-FIND Specific Character Set the loader cannot decode', () => {
  test('unknown term rejected', async () => {
    const logBefore = loader.readLog().length;
    const { run, finalStatus, responses } = await find(loader, '-S', [
      'QueryRetrieveLevel=STUDY',
      'StudyInstanceUID',
      'SpecificCharacterSet=KOI8-R',
      'PatientName=Иванов*',
    ]);

    expect(run.code).toBe(0);
    expect(responses).toEqual([]);
    expect(finalStatus).toMatch(/UnableToProcess/);
    const log = loader.readLog().slice(logBefore);
    expect(log).toMatch(/C-FIND rejected: Specific Character Set \(0008,0005\) is not supported.*callingAeTitle=FINDSCU.*calledAeTitle=LOADER.*characterSet=KOI8-R/);
    expect(log).not.toContain('Иванов');
  });

  test('unknown term with ASCII keys answered', async () => {
    expect(await findStudies('SpecificCharacterSet=KOI8-R', 'PatientName=Doe')).toEqual(['at0900']);
  });

  test('invalid UTF-8 under ISO_IR 192 rejected', async () => {
    // 'Müller*' in ISO_IR 100 has the byte 0xFC, which is not valid UTF-8; the term is then relabelled in place.
    const file = await writeQueryFile(makeTempDir('find-invalid-utf8'), 'ISO_IR 100', 'STUDY', { PatientName: 'Müller*', StudyInstanceUID: '' });
    const bytes = fs.readFileSync(file);
    const term = bytes.indexOf('ISO_IR 100');
    expect(term).toBeGreaterThan(0);
    bytes.write('ISO_IR 192', term, 'latin1');
    fs.writeFileSync(file, bytes);
    const logBefore = loader.readLog().length;

    const { run, finalStatus, responses } = await find(loader, '-S', [], file);

    expect(run.code).toBe(0);
    expect(responses).toEqual([]);
    expect(finalStatus).toMatch(/UnableToProcess/);
    expect(loader.readLog().slice(logBefore)).toMatch(/C-FIND rejected: keys are not valid UTF-8.*callingAeTitle=FINDSCU.*tags=\(0010,0010\)/);
  });
});
