/**
 * Wildcard matching and key length limits of the C-FIND query engine. The
 * hostile patterns take exponential time with a backtracking regular
 * expression: with Node 20, twelve '*' and an 'X' against 60 letters took
 * 158 s. A hang here fails the test by jest's timeout.
 */
import path from 'node:path';
import { LocalArchive, QueryError } from '../../src/services/archive';
import { checkValueLength, matchValue } from '../../src/services/archive/query-matching';
import { QUERY_ATTRIBUTES } from '../../src/services/archive/query-attributes';
import { setLogSink } from '../../src/services/logger';
import { CT_SMALL, Tag, freshCopy, makeTempDir, removeTempDir } from './fixtures';

/** Patterns that take exponential time with a backtracking matcher, against a value they do not match. */
const HOSTILE_PATTERNS: [string, string][] = [
  ['40 stars then X', '*'.repeat(40) + 'X'],
  ['25 star-question pairs then X', '*?'.repeat(25) + 'X'],
  ['20 star-letter pairs then X', '*n'.repeat(20) + 'X'],
];
const LONG_VALUE = 'n'.repeat(200);

describe('matchValue wildcards', () => {
  test.each([
    ['exact', 'Doe^John', 'Doe^John', true],
    ['exact differs', 'Doe^John', 'Doe^Joan', false],
    ['star prefix', 'Doe*', 'Doe^John', true],
    ['star suffix', '*John', 'Doe^John', true],
    ['star inside', 'D*n', 'Doe^John', true],
    ['star matches nothing', 'Doe*^John', 'Doe^John', true],
    ['question one character', 'Do?^John', 'Doe^John', true],
    ['question needs a character', 'Doe?^John', 'Doe^John', false],
    ['star run merged', 'D***n', 'Doe^John', true],
    ['star then question', '*?', '', false],
    ['trailing literal missing', 'Doe*X', 'Doe^John', false],
    ['literal star in value', 'a*', 'a*b', true],
    ['question on astral character', 'a?b', 'a\u{1F600}b', true],
    ['question on newline', 'a?b', 'a\nb', true],
  ])('%s', (_case, pattern, value, expected) => {
    expect(matchValue(pattern, value, false, false)).toBe(expected);
  });

  test('empty value never matches', () => {
    expect(matchValue('*', '', false, false)).toBe(false);
    expect(matchValue('*', null, false, false)).toBe(false);
  });

  test('case folding for Cyrillic', () => {
    expect(matchValue('иванов*', 'Иванов^Иван', true, true)).toBe(true);
    expect(matchValue('ИВАНОВ*', 'иванов^иван', true, true)).toBe(true);
    expect(matchValue('иванов*', 'Иванов^Иван', false, true)).toBe(false);
  });

  test('case folding for Latin and Greek', () => {
    expect(matchValue('doe^john', 'DOE^JOHN', true, false)).toBe(true);
    expect(matchValue('ΟΔΥΣΣΕΥΣ', 'οδυσσευς', true, false)).toBe(true);
    expect(matchValue('σ', 'ς', true, false)).toBe(true);
    expect(matchValue('straße', 'STRASSE', true, false)).toBe(false);
  });

  test.each([
    ['Yamada^Tarou=山田^太郎', true],
    ['=山田^太郎', true],
    ['Yamada^Tarou==やまだ^たろう', true],
    ['*=山田*', true],
    ['=山田^太郎^^', true],
    ['==やま*', true],
    ['Yamada^Tarou=山田^花子', false],
    ['=山田', false],
    ['Yamada^Hanako=山田^太郎', false],
  ])('person name key %s with component groups', (pattern, expected) => {
    expect(matchValue(pattern, 'Yamada^Tarou=山田^太郎=やまだ^たろう', false, true)).toBe(expected);
  });

  test('key group against missing value group', () => {
    expect(matchValue('=山田^太郎', 'Yamada^Tarou', false, true)).toBe(false);
    expect(matchValue('Yamada^Tarou=', 'Yamada^Tarou', false, true)).toBe(true);
  });

  test('person name component group', () => {
    expect(matchValue('ivanov*', 'Ivanov^Ivan=Иванов^Иван', true, true)).toBe(true);
    expect(matchValue('иванов*', 'Ivanov^Ivan=Иванов^Иван', true, true)).toBe(true);
    expect(matchValue('иванов*', 'Ivanov^Ivan=Иванов^Иван', true, false)).toBe(false);
  });

  test.each(HOSTILE_PATTERNS)('hostile pattern %s', (_case, pattern) => {
    expect(matchValue(pattern, LONG_VALUE, false, false)).toBe(false);
    expect(matchValue(pattern, LONG_VALUE, true, true)).toBe(false);
    expect(matchValue(pattern, LONG_VALUE + 'X', true, true)).toBe(true);
  });
});

describe('checkValueLength', () => {
  const check = (keyword: string, value: string) => () => checkValueLength(keyword, QUERY_ATTRIBUTES[keyword], value);

  test('values within the limits pass', () => {
    expect(check('PatientName', 'A'.repeat(64))).not.toThrow();
    expect(check('PatientName', `*${'A'.repeat(64)}*`)).not.toThrow();
    expect(check('PatientName', ['A'.repeat(64), 'B'.repeat(64), 'C'.repeat(64)].join('='))).not.toThrow();
    expect(check('PatientName', '*'.repeat(70_000))).not.toThrow();
    expect(check('AccessionNumber', 'A'.repeat(16))).not.toThrow();
    expect(check('StudyDate', '1999.05.24-2000.01.01')).not.toThrow();
    expect(check('StudyInstanceUID', Array.from({ length: 100 }, () => '1.2.'.padEnd(64, '3')).join('\\'))).not.toThrow();
    expect(check('PatientID', `${'A'.repeat(64)}\\${'B'.repeat(64)}`)).not.toThrow();
    expect(check('PatientName', 'A=B=C\\D=E=F')).not.toThrow();
  });

  test.each([
    ['PatientName', 'A'.repeat(70_000), 'PatientName has 70000 characters in a group; PN allows 64'],
    ['PatientName', 'A=B=C=D', 'PatientName has 4 component groups; PN allows 3'],
    ['PatientID', 'A'.repeat(65), 'PatientID value has 65 characters; LO allows 64'],
    ['AccessionNumber', 'A'.repeat(17), 'AccessionNumber value has 17 characters; SH allows 16'],
    ['StudyInstanceUID', `1.2.3\\${'1'.repeat(65)}`, 'StudyInstanceUID value has 65 characters; UI allows 64'],
    ['ModalitiesInStudy', `CT\\${'M'.repeat(17)}`, 'ModalitiesInStudy value has 17 characters; CS allows 16'],
    ['PatientID', `P1\\${'A'.repeat(65)}`, 'PatientID value has 65 characters; LO allows 64'],
    ['PatientName', 'Doe\\A=B=C=D', 'PatientName has 4 component groups; PN allows 3'],
  ])('%s too long', (keyword, value, message) => {
    let thrown: unknown;
    try {
      check(keyword, value)();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(QueryError);
    expect((thrown as QueryError).code).toBe('value-too-long');
    expect((thrown as QueryError).message).toBe(message);
  });
});

describe('archive queries with hostile patterns', () => {
  let workDir: string;
  let archive: LocalArchive;
  let previousSink: (line: string) => void;
  const studyUid = '1.2.826.0.1.3680043.9.7433.4.90';

  beforeAll(async () => {
    workDir = makeTempDir();
    previousSink = setLogSink(() => undefined);
    archive = LocalArchive.open(path.join(workDir, 'archive'));
    const file = freshCopy(CT_SMALL, path.join(workDir, 'files', 'long-name.dcm'), {
      [Tag.StudyInstanceUID]: studyUid,
      [Tag.PatientID]: 'P90',
      [Tag.PatientName]: 'n'.repeat(60),
      [Tag.StudyDescription]: 'n'.repeat(60),
    });
    await archive.importFile(file, { copy: true });
  });

  afterAll(() => {
    archive.close();
    setLogSink(previousSink);
    removeTempDir(workDir);
  });

  test.each(HOSTILE_PATTERNS)('findRecords with %s', (_case, pattern) => {
    const records = [...archive.findRecords('STUDY', [{ keyword: 'PatientName', value: pattern }, { keyword: 'StudyInstanceUID', value: '' }], { model: 'STUDY' })];
    expect(records).toEqual([]);
  });

  test.each(HOSTILE_PATTERNS)('searchStudies with %s', (_case, pattern) => {
    expect(archive.searchStudies({ name: pattern })).toEqual([]);
    expect(archive.searchStudies({ description: pattern })).toEqual([]);
  });

  test('wildcard still finds the study', () => {
    const records = [...archive.findRecords('STUDY', [{ keyword: 'PatientName', value: '*n*n' }, { keyword: 'StudyInstanceUID', value: '' }], { model: 'STUDY' })];
    expect(records.map((record) => record.StudyInstanceUID)).toEqual([studyUid]);
  });

  test('too long name rejected', () => {
    const query = () => [...archive.findRecords('STUDY', [{ keyword: 'PatientName', value: 'A'.repeat(70_000) }], { model: 'STUDY' })];
    expect(query).toThrow(QueryError);
    expect(query).toThrow('PatientName has 70000 characters in a group; PN allows 64');
  });
});

describe('archive queries on times', () => {
  let workDir: string;
  let archive: LocalArchive;
  let previousSink: (line: string) => void;
  /** Study Time of each study, keyed by the last component of its Study Instance UID. */
  const STUDY_TIMES: Record<string, string> = {
    '1': '08',
    '2': '1030',
    '3': '103000',
    '4': '103045',
    '5': '120000.123',
    '6': '2359',
  };
  const uidOf = (suffix: string) => `1.2.826.0.1.3680043.9.7433.4.91.${suffix}`;

  beforeAll(async () => {
    workDir = makeTempDir();
    previousSink = setLogSink(() => undefined);
    archive = LocalArchive.open(path.join(workDir, 'archive'));
    for (const [suffix, time] of Object.entries(STUDY_TIMES)) {
      const file = freshCopy(CT_SMALL, path.join(workDir, 'files', `time-${suffix}.dcm`), {
        [Tag.StudyInstanceUID]: uidOf(suffix),
        [Tag.PatientID]: 'P91',
        [Tag.StudyTime]: time,
      });
      await archive.importFile(file, { copy: true });
    }
  });

  afterAll(() => {
    archive.close();
    setLogSink(previousSink);
    removeTempDir(workDir);
  });

  const studiesAt = (value: string) =>
    [...archive.findRecords('STUDY', [{ keyword: 'StudyTime', value }, { keyword: 'StudyInstanceUID', value: '' }], { model: 'STUDY' })]
      .map((record) => record.StudyInstanceUID)
      .sort();

  test.each([
    ['hour-only value in range', '0800-0900', ['1']],
    ['hour-only value at lower bound', '0800-', ['1', '2', '3', '4', '5', '6']],
    ['nothing before the first', '-0759', []],
    ['single value with omitted seconds', '1030', ['2', '3']],
    ['single value with seconds', '103000', ['2', '3']],
    ['single value equals hour-only', '080000', ['1']],
    ['single value with fraction', '120000.123000', ['5']],
    ['fraction differs', '120000', []],
    ['upper bound takes its whole minute', '1030-1030', ['2', '3', '4']],
    ['lower bound with fraction', '120000.1-', ['5', '6']],
    ['hour-only minutes value', '235900', ['6']],
  ])('%s', (_case, value, expected) => {
    expect(studiesAt(value)).toEqual(expected.map(uidOf).sort());
  });
});

describe('archive queries on empty values and integers', () => {
  let workDir: string;
  let archive: LocalArchive;
  let previousSink: (line: string) => void;
  const SeriesNumber = '(0020,0011)';
  const AccessionNumber = '(0008,0050)';
  /** Attributes of each study, keyed by the last component of its Study Instance UID. */
  const STUDIES: Record<string, Record<string, string>> = {
    empty: { [AccessionNumber]: '', [Tag.StudyDescription]: '', [Tag.PatientName]: '', [Tag.StudyDate]: '', [Tag.StudyTime]: '', [SeriesNumber]: '' },
    values: { [AccessionNumber]: 'ACC1', [Tag.StudyDescription]: 'Head', [Tag.PatientName]: 'Doe^John', [Tag.StudyDate]: '20240115', [Tag.StudyTime]: '1030', [SeriesNumber]: '2' },
    delimiters: { [AccessionNumber]: 'ACC2', [Tag.StudyDescription]: 'Knee', [Tag.PatientName]: '^^', [Tag.StudyDate]: '20240116', [Tag.StudyTime]: '1100', [SeriesNumber]: '12' },
  };
  const uidOf = (name: string) => `1.2.826.0.1.3680043.9.7433.4.92.${Object.keys(STUDIES).indexOf(name) + 1}`;
  const nameOf = (uid: string) => Object.keys(STUDIES).find((name) => uidOf(name) === uid) ?? uid;

  beforeAll(async () => {
    workDir = makeTempDir();
    previousSink = setLogSink(() => undefined);
    archive = LocalArchive.open(path.join(workDir, 'archive'));
    for (const [name, attributes] of Object.entries(STUDIES)) {
      const file = freshCopy(CT_SMALL, path.join(workDir, 'files', `${name}.dcm`), {
        [Tag.StudyInstanceUID]: uidOf(name),
        [Tag.PatientID]: `P92-${name}`,
        ...attributes,
      });
      await archive.importFile(file, { copy: true });
    }
  });

  afterAll(() => {
    archive.close();
    setLogSink(previousSink);
    removeTempDir(workDir);
  });

  const studiesWith = (keyword: string, value: string) =>
    [...archive.findRecords('STUDY', [{ keyword, value }, { keyword: 'StudyInstanceUID', value: '' }], { model: 'STUDY' })]
      .map((record) => nameOf(record.StudyInstanceUID))
      .sort();

  const seriesWith = (keyword: string, value: string) => {
    const allStudies = Object.keys(STUDIES).map(uidOf).join('\\');
    const keys = [{ keyword: 'StudyInstanceUID', value: allStudies }, { keyword, value }];
    return [...archive.findRecords('SERIES', keys, { model: 'STUDY' })].map((record) => nameOf(record.StudyInstanceUID)).sort();
  };

  test.each([
    ['AccessionNumber', ['empty']],
    ['StudyDescription', ['empty']],
    ['StudyDate', ['empty']],
    ['StudyTime', ['empty']],
    ['PatientName', ['delimiters', 'empty']],
  ])('empty value matching on %s', (keyword, expected) => {
    expect(studiesWith(keyword, '""')).toEqual(expected);
  });

  test('empty value matching on IS', () => {
    expect(seriesWith('SeriesNumber', '""')).toEqual(['empty']);
  });

  test('empty value matching on ModalitiesInStudy', () => {
    expect(studiesWith('ModalitiesInStudy', '""')).toEqual([]);
  });

  test('quotation marks on UI matched literally', () => {
    expect(studiesWith('StudyInstanceUID', '""')).toEqual([]);
  });

  test.each([
    ['plain', '2', ['values']],
    ['leading plus', '+2', ['values']],
    ['leading zero', '02', ['values']],
    ['padded with spaces', ' 2 ', ['values']],
    ['two digits', '12', ['delimiters']],
    ['negative', '-2', []],
    ['not a number', 'x', []],
    ['question mark', '?', []],
    ['list of values', '2\\12', ['delimiters', 'values']],
    ['decimal point', '2.0', []],
  ])('SeriesNumber %s', (_case, value, expected) => {
    expect(seriesWith('SeriesNumber', value)).toEqual(expected);
  });

  test('count keys compared as integers', () => {
    expect(studiesWith('NumberOfStudyRelatedInstances', '+01')).toEqual(['delimiters', 'empty', 'values']);
  });
});
