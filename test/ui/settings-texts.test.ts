/** Texts of the settings window and dialogs: location parsing, the saved message and wrapped label height. */
import { LEGACY_CHARACTER_SETS } from '../../src/dicom/charset';
import { translator } from '../../src/ui/i18n';
import type { PacsNode } from '../../src/services/settings/settings-types';
import { validatePacsNode } from '../../src/services/settings/validation';
import { aeTitleProblem, legacyCharacterSetChoices, pacsSavedMessage, parseLocation, portProblem, settingsErrorText } from '../../src/ui/components/settings-input';
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

describe('settingsErrorText', () => {
  const ru = translator('ru');
  const en = translator('en');
  const registered = [{ name: 'MODALITY', aeTitle: 'MODALITY', host: '127.0.0.1', port: 104, characterSet: 'ISO_IR 192' }];
  const node = (changes: Partial<PacsNode>): PacsNode => ({ name: 'NEW', aeTitle: 'NEWAE', host: '127.0.0.1', port: 4242, characterSet: 'ISO_IR 192', ...changes });
  /** Returns the error that validatePacsNode throws for `changes` to a valid new node. */
  const rejection = (changes: Partial<PacsNode>): unknown => {
    try {
      validatePacsNode(node(changes), registered);
    } catch (error) {
      return error;
    }
    throw new Error(`validatePacsNode accepted ${JSON.stringify(changes)}`);
  };

  const cases: { rule: string; changes: Partial<PacsNode>; russian: string; english: RegExp }[] = [
    {
      rule: 'host',
      changes: { host: '10.999.1.1' },
      russian: 'Неверный IP-адрес «10.999.1.1»: введите адрес IPv4, например 192.168.1.10, адрес IPv6 или имя узла',
      english: /^locations\.pacs\["NEW"\]\.host "10\.999\.1\.1" is invalid: give an IPv4 address/,
    },
    {
      rule: 'nameTaken',
      changes: { name: 'modality', aeTitle: 'OTHER' },
      russian: 'Название «modality» уже занято другим расположением: выберите другое название или сначала удалите то расположение',
      english: /^node name "modality" is already registered: choose another name or remove the existing node first$/,
    },
    {
      rule: 'aeTitleTaken',
      changes: { aeTitle: 'MODALITY' },
      russian: ru('settings.aeTitleTaken', { aeTitle: 'MODALITY', owner: 'MODALITY', host: '127.0.0.1', port: 104 }),
      english: /^AE title MODALITY is already used by node MODALITY at 127\.0\.0\.1:104/,
    },
    {
      rule: 'aeTitleLength',
      changes: { aeTitle: '   ' },
      russian: ru('settings.invalidAeTitle', { aeTitle: '   ' }),
      english: /is invalid: an AE title has 1 to 16 characters$/,
    },
    {
      rule: 'aeTitleCharacters',
      changes: { aeTitle: 'КТ' },
      russian: 'Неверное имя AE «КТ»: от 1 до 16 печатных символов ASCII без обратной косой черты',
      english: /is invalid: use printable ASCII/,
    },
    { rule: 'port', changes: { port: 70000 }, russian: 'Неверный порт «70000»: введите число от 1 до 65535', english: /is invalid: a port is a whole number from 1 to 65535$/ },
    { rule: 'nodeName', changes: { name: 'bad name' }, russian: ru('settings.locations.invalidName', { name: 'bad name' }), english: /is invalid: a node name has 1 to 64 letters/ },
  ];

  test.each(cases)('$rule in Russian', ({ changes, russian, english }) => {
    const error = rejection(changes);
    expect((error as Error).message).toMatch(english);
    expect(settingsErrorText(ru, error)).toBe(russian);
    expect(settingsErrorText(en, error)).not.toMatch(/locations\.pacs|node name/);
  });

  test('password variable in use named', () => {
    let error: unknown;
    try {
      validatePacsNode(node({ name: 'bad-name' }), [{ name: 'bad_name' }]);
    } catch (caught) {
      error = caught;
    }
    expect(settingsErrorText(ru, error)).toBe(
      'Название «bad-name» даёт переменную пароля LOADER_SECRET_BAD_NAME, которую уже использует расположение bad_name: выберите другое название или сначала удалите bad_name',
    );
  });

  test('other errors keep their message', () => {
    expect(settingsErrorText(ru, new Error('settings lock timed out'))).toBe('settings lock timed out');
  });
});
