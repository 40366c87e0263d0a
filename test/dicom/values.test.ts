import { normalizeDate, normalizeTime, splitPersonName, splitPersonNameGroups, trimPersonName } from '../../src/dicom/values';

describe('normalizeDate', () => {
  test.each([
    ['19990524', '19990524'],
    ['1999.05.24', '19990524'],
    ['1999-05-24', '19990524'],
    [' 20240229 ', '20240229'],
    ['20230229', undefined],
    ['19991324', undefined],
    ['19990500', undefined],
    ['1999/05/24', undefined],
    ['199905', undefined],
    ['', undefined],
    ['abc', undefined],
    [undefined, undefined],
  ])('%j', (input, expected) => {
    expect(normalizeDate(input)).toBe(expected);
  });
});

describe('normalizeTime', () => {
  test.each([
    ['072730', '072730'],
    ['072730.123456', '072730.123456'],
    ['0727', '0727'],
    ['07', '07'],
    ['07:27:30', '072730'],
    ['07:27', '0727'],
    ['07:27:30.5', '072730.5'],
    ['235960', '235960'],
    ['240000', undefined],
    ['076000', undefined],
    ['07:2', undefined],
    ['072730.1234567', undefined],
    ['', undefined],
  ])('%j', (input, expected) => {
    expect(normalizeTime(input)).toBe(expected);
  });
});

describe('person names', () => {
  test('split component groups', () => {
    const name = splitPersonName('Yamada^Tarou=山田^太郎=やまだ^たろう');
    expect(name.alphabetic.familyName).toBe('Yamada');
    expect(name.alphabetic.givenName).toBe('Tarou');
    expect(name.ideographic.familyName).toBe('山田');
    expect(name.phonetic.givenName).toBe('たろう');
  });

  test('all five components', () => {
    expect(splitPersonName('Adams^John Robert Quincy^^Rev.^B.A. M.Div.').alphabetic).toEqual({
      familyName: 'Adams',
      givenName: 'John Robert Quincy',
      middleName: '',
      namePrefix: 'Rev.',
      nameSuffix: 'B.A. M.Div.',
    });
  });

  test('groups of a single-group name', () => {
    expect(splitPersonNameGroups('Doe^John')).toEqual(['Doe^John', '', '']);
  });

  test('trim trailing empty parts', () => {
    expect(trimPersonName('Wang^XiaoDong=王^小東=')).toBe('Wang^XiaoDong=王^小東');
    expect(trimPersonName('Doe^John^^^')).toBe('Doe^John');
    expect(trimPersonName('^^^^')).toBe('');
    expect(trimPersonName('=Yamada')).toBe('=Yamada');
  });
});
