/**
 * searchStudies with nameWordMatching 'whole', the selection of
 * `loader delete --name`: each typed word must equal its own word of the
 * patient name, so 'иванов иван' selects Иванов^Иван but not Иванова^Анна,
 * which the default 'contained' matching of `loader studies` also lists.
 */
import path from 'node:path';

import { LocalArchive } from '../../src/services/archive';
import { setLogSink } from '../../src/services/logger';
import { CT_SMALL, Tag, freshCopy, makeTempDir, removeTempDir } from './fixtures';

const SpecificCharacterSet = '(0008,0005)';

const NAMES = {
  ivanovIvan: 'Иванов^Иван',
  ivanovaAnna: 'Иванова^Анна',
  ivanovIvanIvanovich: 'ИВАНОВ^ИВАН^ИВАНОВИЧ',
  ivanovPetr: 'Иванов^Пётр',
  yamada: 'Yamada^Tarou=山田^太郎',
  ivanIvan: 'Иван^Иван',
} as const;
type Label = keyof typeof NAMES;

let workDir: string;
let archive: LocalArchive;
let previousSink: (line: string) => void;
const uidOf = {} as Record<Label, string>;

function labels(name: string, nameWordMatching: 'whole' | 'contained' = 'whole'): Label[] {
  const found = new Set(archive.searchStudies({ name, nameWordMatching }).map((study) => study.studyInstanceUid));
  return (Object.keys(uidOf) as Label[]).filter((label) => found.has(uidOf[label])).sort();
}

beforeAll(async () => {
  workDir = makeTempDir('study-search-whole-words-');
  previousSink = setLogSink(() => undefined);
  archive = LocalArchive.open(path.join(workDir, 'archive'));
  for (const [label, name] of Object.entries(NAMES) as [Label, string][]) {
    const file = freshCopy(CT_SMALL, path.join(workDir, 'files', `${label}.dcm`), {
      [SpecificCharacterSet]: 'ISO_IR 192',
      [Tag.PatientName]: name,
      // The index keeps one name per Patient ID, so each name gets its own.
      [Tag.PatientID]: `WORDS-${label}`,
    });
    uidOf[label] = (await archive.importFile(file, { copy: true })).studyInstanceUid;
  }
});

afterAll(() => {
  archive.close();
  setLogSink(previousSink);
  removeTempDir(workDir);
});

describe('searchStudies whole name words', () => {
  test('longer name words not selected', () => {
    expect(labels('иванов иван')).toEqual(['ivanovIvan', 'ivanovIvanIvanovich']);
    expect(labels('иванов')).toEqual(['ivanovIvan', 'ivanovIvanIvanovich', 'ivanovPetr']);
    expect(labels('иванова')).toEqual(['ivanovaAnna']);
  });

  test('contained matching still selects them', () => {
    expect(labels('иванов иван', 'contained')).toEqual(['ivanovIvan', 'ivanovIvanIvanovich', 'ivanovPetr', 'ivanovaAnna']);
  });

  test('words in any order and caret', () => {
    expect(labels('Иван Иванов')).toEqual(['ivanovIvan', 'ivanovIvanIvanovich']);
    expect(labels('иванович^иванов')).toEqual(['ivanovIvanIvanovich']);
  });

  test('case and ё ignored', () => {
    expect(labels('ИВАНОВ ПЕТР')).toEqual(['ivanovPetr']);
    expect(labels('иванов пётр')).toEqual(['ivanovPetr']);
  });

  test('each word takes its own name word', () => {
    expect(labels('иван иван')).toEqual(['ivanIvan']);
  });

  test('words match within one component group', () => {
    expect(labels('yamada tarou')).toEqual(['yamada']);
    expect(labels('山田 太郎')).toEqual(['yamada']);
    expect(labels('yamada 太郎')).toEqual([]);
  });

  test('wildcard matches whole name', () => {
    expect(labels('иванов*')).toEqual(['ivanovIvan', 'ivanovIvanIvanovich', 'ivanovPetr', 'ivanovaAnna']);
    expect(labels('иванов иван*')).toEqual(['ivanovIvan', 'ivanovIvanIvanovich']);
  });
});
