import path from 'node:path';
import { LocalArchive, QueryError, type QueryKey } from '../../src/services/archive';
import { setLogSink } from '../../src/services/logger';
import { CHR_RUSS, CHR_X1, CT_SMALL, MR_SMALL, RT_PLAN, Tag, freshCopy, makeTempDir, removeTempDir } from './fixtures';

const S1 = '1.2.826.0.1.3680043.9.7433.4.1';
const S2 = '1.2.826.0.1.3680043.9.7433.4.2';
const S3 = '1.2.826.0.1.3680043.9.7433.4.3';
/** Study Instance UIDs of pydicom's chrRuss.dcm and chrX1.dcm. */
const S_RUSS = '1.3.6.1.4.1.5962.1.2.0.1175775772.5729.0';
const S_X1 = '1.3.6.1.4.1.5962.1.2.0.1175775771.5711.0';
const ALL = [S1, S2, S3, S_RUSS, S_X1];
/** chrRuss.dcm's patient name; its c, e, y and p are Latin letters. */
const RUSSIAN_NAME = 'Люкceмбypг';

let workDir: string;
let archive: LocalArchive;
let previousSink: (line: string) => void;
let s2Series: { mr: string; ct: string };

beforeAll(async () => {
  workDir = makeTempDir();
  previousSink = setLogSink(() => undefined);
  archive = LocalArchive.open(path.join(workDir, 'archive'));
  const files = path.join(workDir, 'files');
  const importCopy = async (file: string) => (await archive.importFile(file, { copy: true })).seriesInstanceUid;

  await importCopy(
    freshCopy(CT_SMALL, path.join(files, 's1.dcm'), {
      [Tag.StudyInstanceUID]: S1,
      [Tag.PatientID]: 'P1',
      [Tag.PatientName]: 'Doe^John',
      [Tag.StudyDate]: '20200115',
      [Tag.StudyTime]: '101500',
      [Tag.StudyDescription]: 'Chest CT',
    }),
  );
  const s2 = { [Tag.StudyInstanceUID]: S2, [Tag.PatientID]: 'P2', [Tag.PatientName]: 'Smith^Anna', [Tag.StudyDate]: '20210601', [Tag.StudyTime]: '083000' };
  const mr = await importCopy(freshCopy(MR_SMALL, path.join(files, 's2-mr.dcm'), s2));
  // The study keeps the first instance's empty StudyDescription, so S2 tests empty-value matching.
  const ct = await importCopy(freshCopy(CT_SMALL, path.join(files, 's2-ct.dcm'), { ...s2, [Tag.StudyDescription]: 'Chest CT' }));
  s2Series = { mr, ct };
  await importCopy(
    freshCopy(RT_PLAN, path.join(files, 's3.dcm'), { [Tag.StudyInstanceUID]: S3, [Tag.PatientID]: 'P3', [Tag.StudyDate]: '1999.05.24' }),
  );
  await archive.importFile(CHR_RUSS, { copy: false });
  await archive.importFile(CHR_X1, { copy: false });
});

afterAll(() => {
  archive.close();
  setLogSink(previousSink);
  removeTempDir(workDir);
});

function studies(keys: QueryKey[], caseInsensitivePersonNames = true): string[] {
  const records = archive.findRecords('STUDY', keys, { model: 'STUDY', caseInsensitivePersonNames });
  return [...records].map((record) => record.StudyInstanceUID).sort();
}

const key = (keyword: string, value: string): QueryKey => ({ keyword, value });

describe('findRecords study matching', () => {
  test.each<[string, QueryKey[], string[]]>([
    ['universal', [key('PatientName', ''), key('StudyDate', '')], ALL],
    ['name wildcard any case', [key('PatientName', 'doe*')], [S1]],
    ['name single value any case', [key('PatientName', 'DOE^JOHN')], [S1]],
    ['name with ?', [key('PatientName', 'Sm?th*')], [S2]],
    ['name leading *', [key('PatientName', '*^anna')], [S2]],
    ['Cyrillic lower case', [key('PatientName', 'люк*')], [S_RUSS]],
    ['Cyrillic upper case', [key('PatientName', RUSSIAN_NAME.toUpperCase())], [S_RUSS]],
    ['ideographic group', [key('PatientName', '王^小東')], [S_X1]],
    ['alphabetic group', [key('PatientName', 'wang^xiaodong')], [S_X1]],
    ['whole name with groups', [key('PatientName', 'Wang^XiaoDong=王^小東=')], [S_X1]],
    ['date single', [key('StudyDate', '20200115')], [S1]],
    ['date closed range', [key('StudyDate', '20200101-20201231')], [S1]],
    ['date open end', [key('StudyDate', '20210101-')], [S2]],
    ['date open start', [key('StudyDate', '-20200201')], [S1, S3].sort()],
    ['legacy date value', [key('StudyDate', '1999.05.24')], [S3]],
    ['time range', [key('StudyTime', '0800-0900')], [S2]],
    ['time upper bound is inclusive', [key('StudyTime', '-1015')], [S1, S2].sort()],
    ['UID list', [key('StudyInstanceUID', `${S1}\\${S2}`)], [S1, S2].sort()],
    ['UID single', [key('StudyInstanceUID', S3)], [S3]],
    ['modalities any of two', [key('ModalitiesInStudy', 'MR\\XA')], [S2]],
    ['modality in two studies', [key('ModalitiesInStudy', 'CT')], [S1, S2].sort()],
    ['modalities wildcard', [key('ModalitiesInStudy', 'RT*')], [S3]],
    ['star matches empty values', [key('StudyDescription', '*')], ALL],
    ['value never matches empty', [key('StudyDescription', '?*')], [S1]],
    ['text is case-sensitive', [key('StudyDescription', 'chest ct')], []],
    ['text wildcard', [key('StudyDescription', '*CT')], [S1]],
    ['patient ID wildcard', [key('PatientID', 'P?')], [S1, S2, S3].sort()],
    ['keys combine with AND', [key('PatientID', 'P?'), key('ModalitiesInStudy', 'MR')], [S2]],
    ['unknown keyword ignored', [key('ScheduledStationName', 'X')], ALL],
  ])('%s', (_name, keys, expected) => {
    expect(studies(keys)).toEqual([...expected].sort());
  });

  test('person names case-sensitive on request', () => {
    expect(studies([key('PatientName', 'doe*')], false)).toEqual([]);
    expect(studies([key('PatientName', 'Doe*')], false)).toEqual([S1]);
    expect(studies([key('PatientName', 'люк*')], false)).toEqual([]);
  });

  test('invalid date range rejected', () => {
    expect(() => studies([key('StudyDate', '2020-13-45')])).toThrow(QueryError);
    expect(() => studies([key('StudyDate', '-')])).toThrow(/both bounds are empty/);
  });

  test('reversed ranges rejected', () => {
    expect(() => studies([key('StudyDate', '20250103-20250101')])).toThrow(/"20250103-20250101": it starts after it ends; swap the two dates/);
    expect(() => studies([key('StudyTime', '2300-0100')])).toThrow(/cannot cross midnight/);
    expect(() => studies([key('StudyTime', '2300-0100')])).toThrow(QueryError);
  });

  test('ranges within one hour accepted', () => {
    // "10" as the upper bound admits the whole hour, so 10:30 to 10 is 10:30 to 10:59:59.
    expect(() => studies([key('StudyTime', '1030-10')])).not.toThrow();
    expect(() => studies([key('StudyDate', '20250101-20250101')])).not.toThrow();
  });
});

describe('findRecords returned keys', () => {
  test('study record has every requested key', () => {
    const keys = [
      key('StudyInstanceUID', S2),
      key('PatientName', ''),
      key('PatientID', ''),
      key('StudyDate', ''),
      key('StudyDescription', ''),
      key('ModalitiesInStudy', ''),
      key('SOPClassesInStudy', ''),
      key('NumberOfStudyRelatedSeries', ''),
      key('NumberOfStudyRelatedInstances', ''),
      key('ScheduledStationName', ''),
    ];
    const records = [...archive.findRecords('STUDY', keys, { model: 'STUDY', caseInsensitivePersonNames: true })];

    expect(records).toEqual([
      {
        StudyInstanceUID: S2,
        PatientName: 'Smith^Anna',
        PatientID: 'P2',
        StudyDate: '20210601',
        StudyDescription: '',
        ModalitiesInStudy: 'CT\\MR',
        SOPClassesInStudy: '1.2.840.10008.5.1.4.1.1.2\\1.2.840.10008.5.1.4.1.1.4',
        NumberOfStudyRelatedSeries: '2',
        NumberOfStudyRelatedInstances: '2',
        ScheduledStationName: '',
      },
    ]);
  });

  test('unique key added when not requested', () => {
    const records = [...archive.findRecords('STUDY', [key('PatientID', 'P1')], { model: 'STUDY', caseInsensitivePersonNames: true })];

    expect(records).toEqual([{ PatientID: 'P1', StudyInstanceUID: S1 }]);
  });

  test('decoded Cyrillic name returned', () => {
    const records = [...archive.findRecords('STUDY', [key('PatientName', 'люк*')], { model: 'STUDY', caseInsensitivePersonNames: true })];

    expect(records.map((record) => record.PatientName)).toEqual([RUSSIAN_NAME]);
  });
});

describe('findRecords hierarchy', () => {
  const studyRoot = { model: 'STUDY' as const, caseInsensitivePersonNames: true };
  const patientRoot = { model: 'PATIENT' as const, caseInsensitivePersonNames: true };

  test('series level requires StudyInstanceUID', () => {
    const error = (() => {
      try {
        archive.findRecords('SERIES', [key('Modality', 'MR')], studyRoot);
      } catch (caught) {
        return caught;
      }
    })();

    expect(error).toBeInstanceOf(QueryError);
    expect((error as QueryError).code).toBe('missing-unique-key');
    expect((error as QueryError).message).toContain('StudyInstanceUID');
  });

  test('series level within a study', () => {
    const keys = [key('StudyInstanceUID', S2), key('Modality', ''), key('NumberOfSeriesRelatedInstances', '')];
    const records = [...archive.findRecords('SERIES', keys, studyRoot)];

    expect(records.map((record) => record.SeriesInstanceUID).sort()).toEqual([s2Series.mr, s2Series.ct].sort());
    expect(records.map((record) => record.Modality).sort()).toEqual(['CT', 'MR']);
    expect(records.every((record) => record.NumberOfSeriesRelatedInstances === '1')).toBe(true);
    expect(records.every((record) => record.StudyInstanceUID === S2)).toBe(true);

    const mrOnly = [...archive.findRecords('SERIES', [key('StudyInstanceUID', S2), key('Modality', 'MR')], studyRoot)];
    expect(mrOnly.map((record) => record.SeriesInstanceUID)).toEqual([s2Series.mr]);
  });

  test('image level requires SeriesInstanceUID', () => {
    expect(() => archive.findRecords('IMAGE', [key('StudyInstanceUID', S2)], studyRoot)).toThrow(QueryError);
    expect(() => archive.findRecords('IMAGE', [key('SeriesInstanceUID', s2Series.mr)], studyRoot)).toThrow(
      /StudyInstanceUID/,
    );
  });

  test('image level within a series', () => {
    const keys = [key('StudyInstanceUID', S2), key('SeriesInstanceUID', s2Series.mr), key('SOPClassUID', ''), key('InstanceNumber', '')];
    const records = [...archive.findRecords('IMAGE', keys, studyRoot)];

    expect(records).toHaveLength(1);
    expect(records[0].SOPClassUID).toBe('1.2.840.10008.5.1.4.1.1.4');
    expect(records[0].InstanceNumber).toBe('1');
    expect(records[0].SOPInstanceUID).toMatch(/^2\.25\.\d+$/);
  });

  test('patient level only in Patient Root', () => {
    expect(() => archive.findRecords('PATIENT', [], studyRoot)).toThrow(expect.objectContaining({ code: 'invalid-level' }));

    const keys = [
      key('PatientID', 'P2'),
      key('PatientName', ''),
      key('NumberOfPatientRelatedStudies', ''),
      key('NumberOfPatientRelatedSeries', ''),
      key('NumberOfPatientRelatedInstances', ''),
    ];
    expect([...archive.findRecords('PATIENT', keys, patientRoot)]).toEqual([
      {
        PatientID: 'P2',
        PatientName: 'Smith^Anna',
        NumberOfPatientRelatedStudies: '1',
        NumberOfPatientRelatedSeries: '2',
        NumberOfPatientRelatedInstances: '2',
      },
    ]);
  });

  test('Patient Root study level requires PatientID', () => {
    expect(() => archive.findRecords('STUDY', [key('StudyDate', '')], patientRoot)).toThrow(
      expect.objectContaining({ code: 'missing-unique-key' }),
    );
    const records = [...archive.findRecords('STUDY', [key('PatientID', 'P1'), key('StudyDate', '')], patientRoot)];
    expect(records.map((record) => record.StudyInstanceUID)).toEqual([S1]);
  });
});

describe('searchStudies', () => {
  const uids = (found: { studyInstanceUid: string }[]) => found.map((study) => study.studyInstanceUid).sort();

  test('name part in any case', () => {
    expect(uids(archive.searchStudies({ name: 'smi' }))).toEqual([S2]);
    expect(uids(archive.searchStudies({ name: 'ЛЮК' }))).toEqual([S_RUSS]);
  });

  test('description part in any case', () => {
    expect(uids(archive.searchStudies({ description: 'chest' }))).toEqual([S1]);
  });

  test('date range and modality', () => {
    expect(uids(archive.searchStudies({ date: '20200101-20211231', modalities: ['MR'] }))).toEqual([S2]);
    expect(uids(archive.searchStudies({ date: '19990524' }))).toEqual([S3]);
  });

  test('summary fields', () => {
    expect(archive.searchStudies({ patientId: 'P2' })).toEqual([
      {
        studyInstanceUid: S2,
        patientId: 'P2',
        patientName: 'Smith^Anna',
        patientBirthDate: expect.any(String),
        patientSex: expect.any(String),
        studyDate: '20210601',
        studyTime: '083000',
        studyDescription: '',
        accessionNumber: expect.any(String),
        modalitiesInStudy: ['CT', 'MR'],
        numberOfSeries: 2,
        numberOfInstances: 2,
      },
    ]);
  });
});
