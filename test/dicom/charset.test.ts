import * as fs from 'fs';

import {
  canEncode,
  decodeText,
  encodeText,
  findUnknownCharacterSets,
  normalizeCharacterSetTerm,
  parseSpecificCharacterSet,
} from '../../src/dicom/charset';
import { readDicomFileHeaderSync } from '../../src/dicom/file-reader';
import { Tags } from '../../src/dicom/tags';
import { charsetFile, describeWithSamples } from './fixtures';

const ESC = '\u001b';

/** Builds bytes from a string whose characters are byte values (latin1). */
function bytes(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}

describe('normalizeCharacterSetTerm', () => {
  test.each([
    ['ISO_IR 192', 'ISO_IR 192'],
    ['ISO_IR 192  ', 'ISO_IR 192'],
    ['ISO-IR 144', 'ISO_IR 144'],
    ['ISO IR 100', 'ISO_IR 100'],
    ['iso_ir_100', 'ISO_IR 100'],
    ['ISO 2022 IR 87', 'ISO 2022 IR 87'],
    ['ISO_2022_IR_149', 'ISO 2022 IR 149'],
    ['UTF-8', 'ISO_IR 192'],
    ['GB18030', 'GB18030'],
    ['', ''],
  ])('%j', (input, expected) => {
    expect(normalizeCharacterSetTerm(input)).toBe(expected);
  });

  test('splits multi-valued element', () => {
    expect(parseSpecificCharacterSet('\\ISO 2022 IR 87 ')).toEqual(['', 'ISO 2022 IR 87']);
    expect(parseSpecificCharacterSet('ISO_IR 100')).toEqual(['ISO_IR 100']);
    expect(parseSpecificCharacterSet('')).toEqual([]);
  });
});

describe('decodeText single-byte', () => {
  test.each([
    ['ISO_IR 100', 'Buc^J\xe9r\xf4me', 'Buc^Jérôme'],
    ['ISO_IR 101', 'Dvo\xf8\xe1k', 'Dvořák'],
    ['ISO_IR 109', '\xa1', 'Ħ'],
    ['ISO_IR 110', '\xa1', 'Ą'],
    ['ISO_IR 144', '\xbb\xee\xda\xe1\xd5\xdc\xd1\xe3\xe0\xd3', 'Люксембург'],
    ['ISO_IR 127', '\xe2', 'ق'],
    ['ISO_IR 126', '\xc4\xe9\xef\xed\xf5\xf3\xe9\xef\xf2', 'Διονυσιος'],
    ['ISO_IR 138', '\xf9\xf8\xe5\xef', 'שרון'],
    ['ISO_IR 148', '\xc7avu\xfeo\xf0lu', 'Çavuşoğlu'],
    ['ISO_IR 166', '\xa1', 'ก'],
    ['ISO_IR 13', '\xd4\xcf\xc0\xde', 'ﾔﾏﾀﾞ'],
  ])('%s', (term, raw, expected) => {
    expect(decodeText(bytes(raw), [term], 'PN')).toBe(expected);
  });

  test('UTF-8', () => {
    expect(decodeText(Buffer.from('Wang^XiaoDong=王^小東', 'utf8'), ['ISO_IR 192'], 'PN')).toBe('Wang^XiaoDong=王^小東');
  });

  test('UTF-8 with trailing spaces in term', () => {
    expect(decodeText(Buffer.from('Ж', 'utf8'), ['ISO_IR 192  '], 'LO')).toBe('Ж');
  });

  test('GB18030 and GBK', () => {
    const gb = Buffer.from([0xcd, 0xf5, 0x5e, 0xd0, 0xa1, 0xb6, 0xab]);
    expect(decodeText(gb, ['GB18030'], 'PN')).toBe('王^小东');
    expect(decodeText(gb, ['GBK'], 'PN')).toBe('王^小东');
  });

  test('default repertoire keeps bytes as Latin-1', () => {
    expect(decodeText(bytes('Caf\xe9'), [], 'LO')).toBe('Café');
    expect(decodeText(bytes('Caf\xe9'), ['ISO_IR 6'], 'LO')).toBe('Café');
  });

  test('unknown term decodes as Latin-1', () => {
    expect(decodeText(bytes('Caf\xe9'), ['ISO_IR 999'], 'LO')).toBe('Café');
    expect(findUnknownCharacterSets(['ISO_IR 999', 'ISO_IR 100'])).toEqual(['ISO_IR 999']);
  });

  test('non-text VR ignores character set', () => {
    expect(decodeText(bytes('1.2.3'), ['ISO_IR 192'], 'UI')).toBe('1.2.3');
    expect(decodeText(bytes('\xd0\x96'), ['ISO_IR 192'], 'CS')).toBe('\xd0\x96');
  });
});

describe('decodeText undeclared UTF-8', () => {
  const russianName = 'Кузнецов^Олег';
  const utf8Name = Buffer.from(russianName, 'utf8');

  test.each([
    ['no character set', [] as string[]],
    ['ISO_IR 6', ['ISO_IR 6']],
    ['empty first value', ['']],
    ['ISO 2022 IR 6', ['ISO 2022 IR 6']],
  ])('%s reads valid UTF-8 as UTF-8', (_name, characterSets) => {
    expect(decodeText(utf8Name, characterSets, 'PN')).toBe(russianName);
  });

  test.each(['SH', 'LO', 'UC', 'ST', 'LT', 'UT', 'PN'])('%s reads valid UTF-8 as UTF-8', (vr) => {
    expect(decodeText(Buffer.from('Рентген', 'utf8'), [], vr)).toBe('Рентген');
  });

  test('invalid UTF-8 stays Latin-1', () => {
    // 'Смирнов' in windows-1251 is not valid UTF-8.
    const cp1251 = bytes('\xd1\xec\xe8\xf0\xed\xee\xe2');
    expect(decodeText(cp1251, [], 'PN')).toBe('\xd1\xec\xe8\xf0\xed\xee\xe2');
    expect(decodeText(cp1251, ['ISO_IR 6'], 'PN')).toBe('\xd1\xec\xe8\xf0\xed\xee\xe2');
  });

  test('UTF-8 cut inside a character stays Latin-1', () => {
    expect(decodeText(utf8Name.subarray(0, 3), [], 'PN')).toBe('\xd0\x9a\xd1');
  });

  test('value with ESC keeps ISO 2022 decoding', () => {
    const value = Buffer.concat([Buffer.from([0x1b, 0x28, 0x42]), utf8Name]);
    expect(decodeText(value, ['ISO 2022 IR 6'], 'PN')).toBe(`\xd0\x9a\xd1\x83\xd0\xb7\xd0\xbd\xd0\xb5\xd1\x86\xd0\xbe\xd0\xb2^\xd0\x9e\xd0\xbb\xd0\xb5\xd0\xb3`);
    expect(decodeText(value, [], 'PN')).toBe(`${ESC}(B\xd0\x9a\xd1\x83\xd0\xb7\xd0\xbd\xd0\xb5\xd1\x86\xd0\xbe\xd0\xb2^\xd0\x9e\xd0\xbb\xd0\xb5\xd0\xb3`);
  });

  test('VR without character set stays Latin-1', () => {
    expect(decodeText(utf8Name, [], 'CS')).toBe(utf8Name.toString('latin1'));
    expect(decodeText(utf8Name, [], 'AE')).toBe(utf8Name.toString('latin1'));
  });

  test('declared character set decodes as before', () => {
    // 'Ã©' in ISO_IR 100 is the byte pair C3 A9, which is also valid UTF-8 for 'é'.
    expect(decodeText(bytes('\xc3\xa9'), ['ISO_IR 100'], 'LO')).toBe('Ã©');
    // 'Ж' in UTF-8 is D0 96, which ISO 8859-5 reads as 'а' and the C1 control U+0096.
    expect(decodeText(Buffer.from('Ж', 'utf8'), ['ISO_IR 144'], 'PN')).toBe('а\u0096');
    expect(decodeText(utf8Name, ['', 'ISO 2022 IR 87'], 'PN')).toBe(utf8Name.toString('latin1'));
  });

  test('encoding under the default repertoire is unchanged', () => {
    expect(encodeText(russianName, [], 'PN').toString('latin1')).toBe('????????^????');
    expect(canEncode(russianName, [])).toBe(false);
    expect(canEncode(russianName, ['ISO_IR 6'])).toBe(false);
  });
});

describe('decodeText non-standard terms', () => {
  const russianName = 'Кузнецов^Олег';
  const windows1251Name = Buffer.from([0xca, 0xf3, 0xe7, 0xed, 0xe5, 0xf6, 0xee, 0xe2, 0x5e, 0xce, 0xeb, 0xe5, 0xe3]);
  const koi8Name = Buffer.from([0xeb, 0xd5, 0xda, 0xce, 0xc5, 0xc3, 0xcf, 0xd7, 0x5e, 0xef, 0xcc, 0xc5, 0xc7]);

  test('encoding label decodes with it', () => {
    expect(decodeText(windows1251Name, ['WINDOWS-1251'], 'PN')).toBe(russianName);
    expect(decodeText(windows1251Name, ['CP1251'], 'PN')).toBe(russianName);
    expect(decodeText(koi8Name, ['KOI8-R'], 'PN')).toBe(russianName);
  });

  test('unknown term reads as undeclared', () => {
    expect(decodeText(Buffer.from(russianName, 'utf8'), ['ISO_IR 999'], 'PN')).toBe(russianName);
    expect(decodeText(windows1251Name, ['ISO_IR 999'], 'PN', 'windows-1251')).toBe(russianName);
    expect(decodeText(windows1251Name, ['ISO_IR 999'], 'PN')).toBe(windows1251Name.toString('latin1'));
  });

  test('ISO_IR 192 with other terms is UTF-8', () => {
    expect(decodeText(Buffer.from(russianName, 'utf8'), ['ISO_IR 6', 'ISO_IR 192'], 'PN')).toBe(russianName);
    expect(decodeText(Buffer.from(russianName, 'utf8'), ['', 'ISO_IR 192'], 'LO')).toBe(russianName);
  });

  test('known term with an unknown one unchanged', () => {
    expect(decodeText(windows1251Name, ['ISO_IR 100', 'WINDOWS-1251'], 'PN')).toBe(decodeText(windows1251Name, ['ISO_IR 100'], 'PN'));
  });
});

describe('decodeText ISO 2022', () => {
  test('Japanese IR 87 in PN groups', () => {
    const raw = bytes(`Yamada^Tarou=${ESC}$B;3ED${ESC}(B^${ESC}$BB@O:${ESC}(B=${ESC}$B$d$^$@${ESC}(B^${ESC}$B$?$m$&${ESC}(B`);
    expect(decodeText(raw, ['', 'ISO 2022 IR 87'], 'PN')).toBe('Yamada^Tarou=山田^太郎=やまだ^たろう');
  });

  test('Korean IR 149 in G1', () => {
    const raw = Buffer.concat([bytes(`Hong^Gildong=${ESC}$)C`), Buffer.from([0xc8, 0xab]), bytes('^'), bytes(`${ESC}$)C`), Buffer.from([0xb1, 0xe6, 0xb5, 0xbf])]);
    expect(decodeText(raw, ['', 'ISO 2022 IR 149'], 'PN')).toBe('Hong^Gildong=홍^길동');
  });

  test('Chinese IR 58 in G1', () => {
    const raw = Buffer.concat([bytes(`${ESC}$)A`), Buffer.from([0xcd, 0xf5])]);
    expect(decodeText(raw, ['', 'ISO 2022 IR 58'], 'PN')).toBe('王');
  });

  test('JIS X 0212 via IR 159', () => {
    const raw = bytes(`${ESC}$(D0!${ESC}(B`);
    expect(decodeText(raw, ['', 'ISO 2022 IR 159'], 'LO')).toBe('丂');
  });

  test('single-byte extensions switch G1', () => {
    const raw = bytes(`Dionysios=${ESC}-F\xc4\xe9\xef\xed\xf5\xf3\xe9\xef\xf2`);
    expect(decodeText(raw, ['ISO 2022 IR 100', 'ISO 2022 IR 126'], 'PN')).toBe('Dionysios=Διονυσιος');
  });

  test('value without escape starts in first element', () => {
    expect(decodeText(bytes('Buc^J\xe9r\xf4me'), ['ISO 2022 IR 100', 'ISO 2022 IR 144'], 'PN')).toBe('Buc^Jérôme');
  });

  test('delimiter resets G1 in PN', () => {
    // After '^' the first element (Latin-1) is active again, so 0xE9 is é, not the Cyrillic щ.
    const raw = bytes(`${ESC}-L\xbb\xee^\xe9`);
    expect(decodeText(raw, ['ISO 2022 IR 100', 'ISO 2022 IR 144'], 'PN')).toBe('Лю^é');
  });

  test('backslash resets in LO but not in LT', () => {
    const raw = bytes(`${ESC}-L\xbb\\\xbb`);
    expect(decodeText(raw, ['ISO 2022 IR 100', 'ISO 2022 IR 144'], 'LO')).toBe('Л\\»');
    expect(decodeText(raw, ['ISO 2022 IR 100', 'ISO 2022 IR 144'], 'LT')).toBe('Л\\Л');
  });

  test('unknown escape sequence is kept', () => {
    expect(decodeText(bytes(`A${ESC}%GB`), ['', 'ISO 2022 IR 87'], 'LO')).toBe(`A${ESC}%GB`);
  });

  test('never throws on garbage', () => {
    const garbage = Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 37 + 11) & 0xff));
    for (const terms of [['', 'ISO 2022 IR 87'], ['ISO 2022 IR 13', 'ISO 2022 IR 159'], ['', 'ISO 2022 IR 149'], ['ISO_IR 192'], ['GB18030'], ['bogus']]) {
      expect(() => decodeText(garbage, terms, 'PN')).not.toThrow();
    }
  });
});

describe('encodeText', () => {
  test('Latin-1', () => {
    expect(encodeText('Buc^Jérôme', ['ISO_IR 100'], 'PN')).toEqual(bytes('Buc^J\xe9r\xf4me'));
  });

  test('Cyrillic', () => {
    expect(encodeText('Люкceмбypг', ['ISO_IR 144'], 'PN')).toEqual(bytes('\xbb\xee\xda\x63\x65\xdc\xd1\x79\x70\xd3'));
  });

  test('UTF-8', () => {
    expect(encodeText('王^小東', ['ISO_IR 192'], 'PN')).toEqual(Buffer.from('王^小東', 'utf8'));
  });

  test('default repertoire replaces non-ASCII', () => {
    expect(encodeText('Café', [], 'LO').toString('latin1')).toBe('Caf?');
  });

  test('Japanese ISO 2022 matches PS3.5 annex H example', () => {
    const expected = bytes(`Yamada^Tarou=${ESC}$B;3ED${ESC}(B^${ESC}$BB@O:${ESC}(B=${ESC}$B$d$^$@${ESC}(B^${ESC}$B$?$m$&${ESC}(B`);
    expect(encodeText('Yamada^Tarou=山田^太郎=やまだ^たろう', ['', 'ISO 2022 IR 87'], 'PN')).toEqual(expected);
  });

  test('Japanese with katakana matches chrH32 bytes', () => {
    const expected = Buffer.concat([
      Buffer.from([0xd4, 0xcf, 0xc0, 0xde, 0x5e, 0xc0, 0xdb, 0xb3]),
      bytes(`=${ESC}$B;3ED${ESC}(J^${ESC}$BB@O:${ESC}(J=${ESC}$B$d$^$@${ESC}(J^${ESC}$B$?$m$&${ESC}(J`),
    ]);
    expect(encodeText('ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう', ['ISO 2022 IR 13', 'ISO 2022 IR 87'], 'PN')).toEqual(expected);
  });

  test('Korean round trip', () => {
    const text = 'Hong^Gildong=洪^吉洞=홍^길동';
    const encoded = encodeText(text, ['', 'ISO 2022 IR 149'], 'PN');
    expect(encoded.includes(Buffer.from([0x1b, 0x24, 0x29, 0x43]))).toBe(true);
    expect(decodeText(encoded, ['', 'ISO 2022 IR 149'], 'PN')).toBe(text);
  });
});

describe('canEncode', () => {
  test('true when repertoire covers text', () => {
    expect(canEncode('Buc^Jérôme', ['ISO_IR 100'])).toBe(true);
    expect(canEncode('Люксембург', ['ISO_IR 144'])).toBe(true);
    expect(canEncode('anything 王', ['ISO_IR 192'])).toBe(true);
    expect(canEncode('山田^太郎', ['', 'ISO 2022 IR 87'])).toBe(true);
    expect(canEncode('plain ASCII', [])).toBe(true);
  });

  test('false when repertoire misses a character', () => {
    expect(canEncode('Люксембург', ['ISO_IR 100'])).toBe(false);
    expect(canEncode('Jérôme', [])).toBe(false);
    expect(canEncode('王', ['ISO_IR 144'])).toBe(false);
    expect(canEncode('홍', ['', 'ISO 2022 IR 87'])).toBe(false);
  });

  test('false for unknown term', () => {
    expect(canEncode('abc', ['ISO_IR 999'])).toBe(false);
  });
});

/** Patient names as pydicom 2.3.1 decodes them (pydicom/tests/test_charset.py), with trailing '=' kept. */
const PYDICOM_NAMES: [string, string][] = [
  ['chrArab.dcm', 'قباني^لنزار'],
  ['chrFren.dcm', 'Buc^Jérôme'],
  ['chrFrenMulti.dcm', 'Buc^Jérôme'],
  ['chrGerm.dcm', 'Äneas^Rüdiger'],
  ['chrGreek.dcm', 'Διονυσιος'],
  ['chrH31.dcm', 'Yamada^Tarou=山田^太郎=やまだ^たろう'],
  ['chrH32.dcm', 'ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう'],
  ['chrHbrw.dcm', 'שרון^דבורה'],
  ['chrI2.dcm', 'Hong^Gildong=洪^吉洞=홍^길동'],
  ['chrJapMulti.dcm', 'やまだ^たろう'],
  ['chrJapMultiExplicitIR6.dcm', 'やまだ^たろう'],
  ['chrKoreanMulti.dcm', '김희중'],
  ['chrRuss.dcm', 'Люкceмбypг'],
  ['chrX1.dcm', 'Wang^XiaoDong=王^小東='],
  ['chrX2.dcm', 'Wang^XiaoDong=王^小东='],
];

describeWithSamples('pydicom charset files', () => {
  test.each(PYDICOM_NAMES)('%s patient name', (file, expected) => {
    const header = readDicomFileHeaderSync(charsetFile(file));
    expect(header.dataset.getString(Tags.PatientName)).toBe(expected);
  });

  // chrKoreanMulti.dcm ends with a redundant ESC ( B although G0 never left ASCII, which the encoder does not write.
  const exactBytes = PYDICOM_NAMES.filter(([file]) => file !== 'chrKoreanMulti.dcm');

  test.each(exactBytes)('%s re-encodes to file bytes', (file, expected) => {
    const header = readDicomFileHeaderSync(charsetFile(file));
    const original = header.dataset.get(Tags.PatientName)?.value ?? Buffer.alloc(0);
    const encoded = encodeText(expected, header.dataset.characterSets, 'PN');
    // Files pad values to even length with a space; encodeText leaves padding to the writer.
    expect(encoded.toString('latin1')).toBe(original.toString('latin1').replace(/ $/, ''));
  });

  test('chrRuss character set', () => {
    const header = readDicomFileHeaderSync(charsetFile('chrRuss.dcm'));
    expect(header.dataset.characterSets).toEqual(['ISO_IR 144']);
  });

  test('chrSQEncoding item overrides charset', () => {
    const header = readDicomFileHeaderSync(charsetFile('chrSQEncoding.dcm'));
    expect(header.dataset.characterSets).toEqual(['ISO_IR 192']);
    expect(header.dataset.getString(Tags.RequestingPhysician)).toBe('Doctor^Who^^MD');
    const [item] = header.dataset.getItems(0x00321064);
    expect(item.characterSets).toEqual(['ISO 2022 IR 13', 'ISO 2022 IR 87']);
    expect(item.getString(Tags.PatientName)).toBe('ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう');
  });

  test('chrSQEncoding1 item inherits charset', () => {
    const header = readDicomFileHeaderSync(charsetFile('chrSQEncoding1.dcm'));
    const [item] = header.dataset.getItems(0x00321064);
    expect(item.has(Tags.SpecificCharacterSet)).toBe(false);
    expect(item.characterSets).toEqual(['ISO 2022 IR 13', 'ISO 2022 IR 87']);
    expect(item.getString(Tags.PatientName)).toBe('ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう');
  });

  test('sample files exist', () => {
    expect(fs.existsSync(charsetFile('chrRuss.dcm'))).toBe(true);
  });
});
