import { trimPadding } from '../../src/dicom/dataset';

describe('trimPadding', () => {
  test.each([
    ['UI trailing NUL', '1.2.3\0', 'UI', '1.2.3'],
    ['UI keeps leading space', ' 1.2', 'UI', ' 1.2'],
    ['LO both ends', '  name  ', 'LO', 'name'],
    ['PN trailing NUL and spaces', 'Doe^John \0 ', 'PN', 'Doe^John'],
    ['LT keeps leading spaces', '  text  ', 'LT', '  text'],
    ['ST keeps leading spaces', ' text\0', 'ST', ' text'],
    ['UT keeps leading spaces', ' text', 'UT', ' text'],
    ['CS only spaces', '    ', 'CS', ''],
    ['SH inner spaces kept', ' a  b ', 'SH', 'a  b'],
    ['DA unchanged', '20240101', 'DA', '20240101'],
    ['empty', '', 'LO', ''],
  ])('%s', (_case, text, vr, expected) => {
    expect(trimPadding(text, vr)).toBe(expected);
  });
});
