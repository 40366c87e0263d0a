/** Texts of the settings window and dialogs: location parsing, the saved message and wrapped label height. */
import { LEGACY_CHARACTER_SETS } from '../../src/dicom/charset';
import { translator } from '../../src/ui/i18n';
import { aeTitleProblem, legacyCharacterSetChoices, pacsSavedMessage, parseLocation, portProblem } from '../../src/ui/components/settings-input';
import { wrappedLineCount } from '../../src/ui/components/text-wrap';

/** Fixed-width stand-in for the font metrics: every character is 10 pixels wide. */
const measure = (text: string) => text.length * 10;

describe('wrappedLineCount', () => {
  test('short text takes one line', () => {
    expect(wrappedLineCount('Settings saved', 500, measure)).toBe(1);
  });

  test('empty text takes one line', () => {
    expect(wrappedLineCount('', 500, measure)).toBe(1);
  });

  test('words wrap at the width', () => {
    // Each word with its space is 50 pixels, so three words fit into 150 pixels.
    expect(wrappedLineCount('abcd abcd abcd abcd abcd abcd abcd', 150, measure)).toBe(3);
  });

  test('newlines start new lines', () => {
    expect(wrappedLineCount('first\nsecond\n\nfourth', 500, measure)).toBe(4);
  });

  test('word wider than the line counts its lines', () => {
    expect(wrappedLineCount('x'.repeat(35), 100, measure)).toBe(4);
  });
});

describe('parseLocation', () => {
  const en = translator('en');
  const ru = translator('ru');

  test('valid location returns its node', () => {
    expect(parseLocation(en, ' orthanc ', 'ORTHANC@127.0.0.1:4242')).toEqual({
      name: 'orthanc',
      aeTitle: 'ORTHANC',
      host: '127.0.0.1',
      port: 4242,
      characterSet: 'ISO_IR 192',
    });
  });

  test('invalid name is reported in Russian', () => {
    const message = parseLocation(ru, 'bad name', 'X@127.0.0.1:104');
    expect(message).toBe(ru('settings.locations.invalidName', { name: 'bad name' }));
    expect(message).toMatch(/^Неверное название «bad name»/);
  });

  test('address without AE title is reported', () => {
    expect(parseLocation(ru, 'pacs', '127.0.0.1:104')).toBe(ru('settings.locations.invalidAddress', { address: '127.0.0.1:104' }));
  });

  test('long AE title is reported', () => {
    const aeTitle = 'A'.repeat(17);
    expect(parseLocation(en, 'pacs', `${aeTitle}@127.0.0.1:104`)).toBe(en('settings.invalidAeTitle', { aeTitle }));
  });

  test.each(['0', '65536', '99999'])('port %s is reported', (port) => {
    expect(parseLocation(en, 'pacs', `PACS@127.0.0.1:${port}`)).toBe(en('settings.invalidPort', { port }));
  });

  test('Russian messages have no English words', () => {
    const messages = [
      parseLocation(ru, 'bad name', 'X@1.2.3.4:1'),
      parseLocation(ru, 'pacs', 'nothing'),
      parseLocation(ru, 'pacs', 'PACS@1.2.3.4:0'),
    ];
    for (const message of messages) {
      expect(message).not.toMatch(/invalid|use |enter /);
    }
  });
});

describe('PACS settings checks', () => {
  const ru = translator('ru');

  test.each(['1', '104', '65535'])('port %s is valid', (port) => {
    expect(portProblem(ru, port)).toBeUndefined();
  });

  test.each(['', '0', '65536', '12a', '1.5', '-1'])('port "%s" is invalid', (port) => {
    expect(portProblem(ru, port)).toBe(ru('settings.invalidPort', { port }));
  });

  test('AE title of 16 characters is valid', () => {
    expect(aeTitleProblem(ru, 'A'.repeat(16))).toBeUndefined();
  });

  test.each(['', 'A'.repeat(17), 'AE\\TITLE', 'ИМЯ'])('AE title "%s" is invalid', (aeTitle) => {
    expect(aeTitleProblem(ru, aeTitle)).toBe(ru('settings.invalidAeTitle', { aeTitle }));
  });
});

describe('legacy character set choice', () => {
  const en = translator('en');
  const ru = translator('ru');

  test('lists every value in order', () => {
    expect(legacyCharacterSetChoices(en).map((choice) => choice.value)).toEqual([...LEGACY_CHARACTER_SETS]);
  });

  test('labels are plain words', () => {
    expect(legacyCharacterSetChoices(en).map((choice) => choice.label)).toEqual([
      'Latin-1 (Western European)',
      'Windows-1251 (Cyrillic)',
      'KOI8-R (Cyrillic)',
      'ISO 8859-5 (Cyrillic)',
    ]);
  });

  test('Russian labels differ from English', () => {
    const english = legacyCharacterSetChoices(en).map((choice) => choice.label);
    const russian = legacyCharacterSetChoices(ru).map((choice) => choice.label);
    expect(new Set(russian).size).toBe(LEGACY_CHARACTER_SETS.length);
    expect(russian[0]).toBe('Latin-1 (западноевропейская)');
    expect(russian).not.toEqual(english);
  });

  test('unchanged value saves plainly', () => {
    expect(pacsSavedMessage(ru, 'latin1', { characterSet: 'latin1', fromOption: false })).toBe(ru('settings.saved'));
  });

  test('changed value needs restart and reindex', () => {
    const message = pacsSavedMessage(en, 'windows-1251', { characterSet: 'latin1', fromOption: false });
    expect(message).toBe(en('settings.savedRestart'));
    expect(message).toMatch(/restarts/);
    expect(message).toMatch(/loader reindex/);
    expect(pacsSavedMessage(ru, 'windows-1251', { characterSet: 'latin1', fromOption: false })).toMatch(/перезапуска окна.*loader reindex/);
  });

  test('--legacy-charset is named', () => {
    const message = pacsSavedMessage(ru, 'koi8-r', { characterSet: 'windows-1251', fromOption: true });
    expect(message).toBe(ru('settings.savedOverridden', { name: 'windows-1251' }));
    expect(message).toContain('--legacy-charset windows-1251');
  });
});
