/**
 * Decoding of text that declares no character set with a legacy character
 * set: decodeText, the C-FIND SCP's request decoding, the settings check, and
 * the header thread of a scan, which reads records in a worker thread.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { decodeText, LEGACY_CHARACTER_SETS } from '../../src/dicom/charset';
import { Tags } from '../../src/dicom/tags';
import { generateUid } from '../../src/dicom/uid';
import { encodeElements } from '../../src/dicom/writer';
import { HeaderPrefetch, type PrefetchResult } from '../../src/services/archive/header-prefetch';
import { FileWalker } from '../../src/services/archive/walk';
import { createLogger } from '../../src/services/logger';
import { decodeIdentifier } from '../../src/services/pacs-server/identifier-codec';
import { validateLegacyCharacterSet } from '../../src/services/settings/validation';
import { writeSecondaryCapture } from '../support/secondary-capture';

const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const EXPLICIT = { explicitVr: true, littleEndian: true };

const NAME = 'Смирнов^Алексей';
const ENCODED: Record<string, Buffer> = {
  'windows-1251': Buffer.from([0xd1, 0xec, 0xe8, 0xf0, 0xed, 0xee, 0xe2, 0x5e, 0xc0, 0xeb, 0xe5, 0xea, 0xf1, 0xe5, 0xe9]),
  'koi8-r': Buffer.from([0xf3, 0xcd, 0xc9, 0xd2, 0xce, 0xcf, 0xd7, 0x5e, 0xe1, 0xcc, 0xc5, 0xcb, 0xd3, 0xc5, 0xca]),
  'iso-8859-5': Buffer.from([0xc1, 0xdc, 0xd8, 0xe0, 0xdd, 0xde, 0xd2, 0x5e, 0xb0, 0xdb, 0xd5, 0xda, 0xe1, 0xd5, 0xd9]),
};

describe('decodeText with a legacy character set', () => {
  test.each(Object.entries(ENCODED))('%s without (0008,0005)', (characterSet, bytes) => {
    expect(decodeText(bytes, [], 'PN', validateLegacyCharacterSet('test', characterSet))).toBe(NAME);
  });

  test('ISO_IR 6 uses it too', () => {
    expect(decodeText(ENCODED['koi8-r'], ['ISO_IR 6'], 'PN', 'koi8-r')).toBe(NAME);
  });

  test('valid UTF-8 stays UTF-8', () => {
    expect(decodeText(Buffer.from(NAME, 'utf8'), [], 'PN', 'windows-1251')).toBe(NAME);
  });

  test('declared character set is unaffected', () => {
    const latin1 = Buffer.from('Müller^Jürgen', 'latin1');
    expect(decodeText(latin1, ['ISO_IR 100'], 'PN', 'windows-1251')).toBe('Müller^Jürgen');
    expect(decodeText(ENCODED['iso-8859-5'], ['ISO_IR 144'], 'PN', 'koi8-r')).toBe(NAME);
  });

  test('latin1 keeps bytes 0x80-0x9F', () => {
    // TextDecoder('latin1') is windows-1252, which maps 0x80 to the euro sign.
    expect(decodeText(Buffer.from([0x41, 0x80, 0x9f]), [], 'LO', 'latin1')).toBe('A\u0080\u009f');
  });

  test('default is Latin-1', () => {
    expect(decodeText(ENCODED['windows-1251'], [], 'PN')).toBe(ENCODED['windows-1251'].toString('latin1'));
  });
});

describe('validateLegacyCharacterSet', () => {
  test('accepts any case', () => {
    expect(validateLegacyCharacterSet('pacs.legacyCharacterSet', ' KOI8-R ')).toBe('koi8-r');
  });

  test('rejects an unknown name', () => {
    expect(() => validateLegacyCharacterSet('pacs.legacyCharacterSet', 'cp1251')).toThrow(
      `pacs.legacyCharacterSet "cp1251" is invalid: use one of ${LEGACY_CHARACTER_SETS.join(', ')}`,
    );
  });
});

describe('C-FIND request without (0008,0005)', () => {
  const identifier = encodeElements(
    [
      { tag: Tags.QueryRetrieveLevel, vr: 'CS', value: 'STUDY' },
      { tag: Tags.PatientName, vr: 'PN', value: Buffer.concat([ENCODED['windows-1251'].subarray(0, 7), Buffer.from('*')]) },
    ],
    EXPLICIT,
  );

  test('key decodes in the legacy character set', () => {
    const request = decodeIdentifier(identifier, EXPLICIT_LE, 'windows-1251');
    expect(request.keys.find((key) => key.keyword === 'PatientName')?.value).toBe('Смирнов*');
  });

  test('key stays Latin-1 by default', () => {
    const request = decodeIdentifier(identifier, EXPLICIT_LE, 'latin1');
    expect(request.keys.find((key) => key.keyword === 'PatientName')?.value).toBe('Ñìèðíîâ*');
  });
});

describe('header thread with a legacy character set', () => {
  let folder: string;

  beforeAll(() => {
    folder = fs.mkdtempSync(path.join(os.tmpdir(), 'legacy-charset-prefetch-'));
    writeSecondaryCapture(path.join(folder, 'koi8.dcm'), generateUid(), 'KOI8', [{ tag: Tags.PatientName, vr: 'PN', value: ENCODED['koi8-r'] }]);
  });

  afterAll(() => {
    fs.rmSync(folder, { recursive: true, force: true });
  });

  test('thread indexes the name in KOI8-R', () => {
    const prefetch = new HeaderPrefetch(new FileWalker([folder]), createLogger('test.prefetch'), { filesBeforeThread: 0, legacyCharacterSet: 'koi8-r' });
    const results: PrefetchResult[] = [];
    try {
      for (let next = prefetch.next(); next !== undefined; next = prefetch.next()) results.push(next);
    } finally {
      prefetch.close();
    }

    expect(results).toHaveLength(1);
    expect(results[0].read?.record.patient.patientName).toBe(NAME);
  });
});
