/**
 * searchStudies, the search of `loader studies`: words of a name in any
 * order, ё as е, wildcard patterns over the whole value, and modalities
 * stored in lower case.
 */
import path from 'node:path';

import { LocalArchive } from '../../src/services/archive';
import { setLogSink } from '../../src/services/logger';
import { CT_SMALL, MR_SMALL, Tag, freshCopy, makeTempDir, removeTempDir } from './fixtures';

const SpecificCharacterSet = '(0008,0005)';

let workDir: string;
let archive: LocalArchive;
let previousSink: (line: string) => void;
const uidOf: Record<string, string> = {};

/** Imports a copy of `source` as a new study and records its Study Instance UID under `label`. */
async function importStudy(label: string, source: string, changes: Record<string, string>): Promise<void> {
  const file = freshCopy(source, path.join(workDir, 'files', `${label}.dcm`), { [SpecificCharacterSet]: 'ISO_IR 192', ...changes });
  const outcome = await archive.importFile(file, { copy: true });
  uidOf[label] = outcome.studyInstanceUid;
}

function labels(filters: Parameters<LocalArchive['searchStudies']>[0]): string[] {
  const found = new Set(archive.searchStudies(filters).map((study) => study.studyInstanceUid));
  return Object.keys(uidOf)
    .filter((label) => found.has(uidOf[label]))
    .sort();
}

beforeAll(async () => {
  workDir = makeTempDir();
  previousSink = setLogSink(() => undefined);
  archive = LocalArchive.open(path.join(workDir, 'archive'));

  await importStudy('ivanov', CT_SMALL, {
    [Tag.PatientName]: 'Иванов^Иван^Петрович',
    [Tag.PatientID]: 'IV1',
    [Tag.StudyDescription]: 'CT грудной клетки',
  });
  await importStudy('petrov', CT_SMALL, {
    [Tag.PatientName]: 'Петров^Пётр^Сергеевич',
    [Tag.PatientID]: 'PE2',
    [Tag.StudyDescription]: 'OFFIS Structured Reporting CT',
  });
  await importStudy('lowercase', MR_SMALL, {
    [Tag.PatientName]: 'Lower^Case',
    [Tag.PatientID]: 'LOWMOD',
    [Tag.Modality]: 'mr',
  });
});

afterAll(() => {
  archive.close();
  setLogSink(previousSink);
  removeTempDir(workDir);
});

describe('searchStudies name', () => {
  test('space matches component separator', () => {
    expect(labels({ name: 'Иванов Иван' })).toEqual(['ivanov']);
    expect(labels({ name: 'иванов  иван петрович' })).toEqual(['ivanov']);
  });

  test('words in any order', () => {
    expect(labels({ name: 'Иван Иванов' })).toEqual(['ivanov']);
    expect(labels({ name: 'Петрович Иван' })).toEqual(['ivanov']);
  });

  test('every word must match', () => {
    expect(labels({ name: 'Иванов Сергей' })).toEqual([]);
  });

  test('caret separates words', () => {
    expect(labels({ name: 'Петр^Серг' })).toEqual(['petrov']);
  });

  test('е matches ё', () => {
    expect(labels({ name: 'Петр Сергеевич' })).toEqual(['petrov']);
    expect(labels({ name: 'ПЕТР СЕРГЕЕВИЧ' })).toEqual(['petrov']);
    expect(labels({ name: 'Пётр Сергеевич' })).toEqual(['petrov']);
    expect(labels({ name: 'ПЁТР СЕРГ' })).toEqual(['petrov']);
    expect(labels({ name: 'Петров Петр*' })).toEqual(['petrov']);
  });

  test('wildcard matches whole name', () => {
    expect(labels({ name: 'ван*' })).toEqual([]);
    expect(labels({ name: 'иванов*' })).toEqual(['ivanov']);
    expect(labels({ name: '*ван*' })).toEqual(['ivanov']);
    expect(labels({ name: 'Иванов Иван*' })).toEqual(['ivanov']);
    expect(labels({ name: 'Иванов^Иван^Петрович?' })).toEqual([]);
    expect(labels({ name: 'Петров П?тр*' })).toEqual(['petrov']);
  });

  test('only wildcards match every study', () => {
    expect(labels({ name: '*' })).toEqual(['ivanov', 'lowercase', 'petrov']);
    expect(labels({ name: ' ^ ' })).toEqual(['ivanov', 'lowercase', 'petrov']);
  });
});

describe('searchStudies description', () => {
  test('text matches any part', () => {
    expect(labels({ description: 'грудной' })).toEqual(['ivanov']);
    expect(labels({ description: 'ct' })).toEqual(['ivanov', 'petrov']);
  });

  test('wildcard matches whole description', () => {
    expect(labels({ description: 'CT*' })).toEqual(['ivanov']);
    expect(labels({ description: 'Rep*' })).toEqual([]);
    expect(labels({ description: '*rep*' })).toEqual(['petrov']);
  });
});

describe('searchStudies modality', () => {
  test('lower-case stored modality', () => {
    expect(labels({ modalities: ['MR'] })).toEqual(['lowercase']);
    expect(labels({ modalities: ['mr'] })).toEqual(['lowercase']);
    expect(labels({ modalities: ['M?'] })).toEqual(['lowercase']);
  });

  test('upper-case stored modality', () => {
    expect(labels({ modalities: ['ct'] })).toEqual(['ivanov', 'petrov']);
    expect(labels({ modalities: ['CT', 'MR'] })).toEqual(['ivanov', 'lowercase', 'petrov']);
  });
});
