import {
  assertValidUid,
  describeStorageSopClass,
  describeTransferSyntax,
  generateUid,
  InvalidUidError,
  isStorageSopClass,
  isValidUid,
  LOADER_UID_ROOT,
  SopClass,
  STORAGE_SOP_CLASSES,
  TransferSyntax,
} from '../../src/dicom/uid';

describe('isValidUid', () => {
  const cases: [string, string, boolean][] = [
    ['typical UID', '1.2.840.10008.1.2.1', true],
    ['single component', '1', true],
    ['leading zero tolerated', '1.2.03.4', true],
    ['64 characters', '1.' + '2'.repeat(62), true],
    ['65 characters', '1.' + '2'.repeat(63), false],
    ['empty', '', false],
    ['path traversal', '../1.2.3', false],
    ['empty component', '1.2..3', false],
    ['trailing dot', '1.2.3.', false],
    ['leading dot', '.1.2.3', false],
    ['letters', '1.2.abc', false],
    ['control character', '1.2.3\n', false],
    ['NUL inside', '1.2\u00003', false],
    ['space padding', '1.2.3 ', false],
  ];
  test.each(cases)('%s', (_label, text, expected) => {
    expect(isValidUid(text)).toBe(expected);
  });
});

describe('assertValidUid', () => {
  test('accepts valid UID', () => {
    expect(() => assertValidUid('1.2.3', 'Study Instance UID')).not.toThrow();
  });

  test('message names attribute and value', () => {
    expect(() => assertValidUid('1.2.x', 'Study Instance UID (0020,000D)')).toThrow(InvalidUidError);
    try {
      assertValidUid('1.2.x', 'Study Instance UID (0020,000D)');
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toContain('Study Instance UID (0020,000D)');
      expect(message).toContain('"1.2.x"');
      expect(message).toContain("'x'");
    }
  });

  test('message escapes control characters', () => {
    try {
      assertValidUid('1.2\u001b3', 'SOP Instance UID');
      throw new Error('expected InvalidUidError');
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidUidError);
      const message = (error as Error).message;
      expect(message).toContain('"1.2\\x1b3"');
      expect(message).not.toContain('\u001b');
      expect(message).toContain('control character 0x1b');
    }
  });

  test('message gives length of long UID', () => {
    expect(() => assertValidUid('1.' + '2'.repeat(63), 'UID')).toThrow(/65 characters/);
  });

  test('message names empty component', () => {
    expect(() => assertValidUid('1..2', 'UID')).toThrow(/empty component/);
  });
});

describe('generateUid', () => {
  test('uses loader root and is valid', () => {
    const uid = generateUid();
    expect(uid.startsWith(LOADER_UID_ROOT)).toBe(true);
    expect(isValidUid(uid)).toBe(true);
    expect(uid.length).toBeLessThanOrEqual(44);
  });

  test('is unique across calls', () => {
    const uids = new Set(Array.from({ length: 1000 }, () => generateUid()));
    expect(uids.size).toBe(1000);
  });

  test('has no leading zero after root', () => {
    for (let i = 0; i < 200; i++) expect(generateUid()).not.toMatch(/^2\.25\.0/);
  });
});

describe('describeTransferSyntax', () => {
  test('implicit VR little endian', () => {
    expect(describeTransferSyntax(TransferSyntax.ImplicitVRLittleEndian)).toEqual({
      name: 'Implicit VR Little Endian',
      explicitVr: false,
      littleEndian: true,
      deflated: false,
      encapsulated: false,
    });
  });

  test('explicit VR big endian', () => {
    const info = describeTransferSyntax('1.2.840.10008.1.2.2');
    expect(info?.littleEndian).toBe(false);
    expect(info?.explicitVr).toBe(true);
  });

  test('deflated', () => {
    expect(describeTransferSyntax('1.2.840.10008.1.2.1.99')?.deflated).toBe(true);
  });

  test.each([
    '1.2.840.10008.1.2.4.50',
    '1.2.840.10008.1.2.4.51',
    '1.2.840.10008.1.2.4.57',
    '1.2.840.10008.1.2.4.70',
    '1.2.840.10008.1.2.4.80',
    '1.2.840.10008.1.2.4.81',
    '1.2.840.10008.1.2.4.90',
    '1.2.840.10008.1.2.4.91',
    '1.2.840.10008.1.2.4.100',
    '1.2.840.10008.1.2.4.107',
    '1.2.840.10008.1.2.4.201',
    '1.2.840.10008.1.2.4.203',
    '1.2.840.10008.1.2.5',
  ])('encapsulated %s', (uid) => {
    const info = describeTransferSyntax(uid);
    expect(info?.encapsulated).toBe(true);
    expect(info?.explicitVr).toBe(true);
    expect(info?.littleEndian).toBe(true);
  });

  test('ignores NUL padding', () => {
    expect(describeTransferSyntax('1.2.840.10008.1.2.1\0')?.name).toBe('Explicit VR Little Endian');
  });

  test('unknown UID is undefined', () => {
    expect(describeTransferSyntax('1.2.3.4')).toBeUndefined();
  });
});

describe('SOP classes', () => {
  test('query/retrieve UIDs', () => {
    expect(SopClass.Verification).toBe('1.2.840.10008.1.1');
    expect(SopClass.StudyRootQueryRetrieveFind).toBe('1.2.840.10008.5.1.4.1.2.2.1');
    expect(SopClass.PatientRootQueryRetrieveGet).toBe('1.2.840.10008.5.1.4.1.2.1.3');
  });

  test.each([
    ['1.2.840.10008.5.1.4.1.1.2', 'CT Image Storage'],
    ['1.2.840.10008.5.1.4.1.1.4', 'MR Image Storage'],
    ['1.2.840.10008.5.1.4.1.1.6.1', 'Ultrasound Image Storage'],
    ['1.2.840.10008.5.1.4.1.1.3.1', 'Ultrasound Multi-frame Image Storage'],
    ['1.2.840.10008.5.1.4.1.1.7', 'Secondary Capture Image Storage'],
    ['1.2.840.10008.5.1.4.1.1.7.4', 'Multi-frame True Color Secondary Capture Image Storage'],
    ['1.2.840.10008.5.1.4.1.1.1', 'Computed Radiography Image Storage'],
    ['1.2.840.10008.5.1.4.1.1.1.2', 'Digital Mammography X-Ray Image Storage - For Presentation'],
    ['1.2.840.10008.5.1.4.1.1.12.1', 'X-Ray Angiographic Image Storage'],
    ['1.2.840.10008.5.1.4.1.1.20', 'Nuclear Medicine Image Storage'],
    ['1.2.840.10008.5.1.4.1.1.128', 'Positron Emission Tomography Image Storage'],
    ['1.2.840.10008.5.1.4.1.1.481.2', 'RT Dose Storage'],
    ['1.2.840.10008.5.1.4.1.1.481.8', 'RT Ion Plan Storage'],
    ['1.2.840.10008.5.1.4.1.1.481.4', 'RT Beams Treatment Record Storage'],
    ['1.2.840.10008.5.1.4.1.1.66.4', 'Segmentation Storage'],
    ['1.2.840.10008.5.1.4.1.1.88.59', 'Key Object Selection Document Storage'],
    ['1.2.840.10008.5.1.4.1.1.88.67', 'X-Ray Radiation Dose SR Storage'],
    ['1.2.840.10008.5.1.4.1.1.9.1.1', '12-lead ECG Waveform Storage'],
    ['1.2.840.10008.5.1.4.1.1.104.1', 'Encapsulated PDF Storage'],
    ['1.2.840.10008.5.1.4.1.1.2.1', 'Enhanced CT Image Storage'],
    ['1.2.840.10008.5.1.4.1.1.77.1.4', 'VL Photographic Image Storage'],
    ['1.2.840.10008.5.1.4.1.1.77.1.5.1', 'Ophthalmic Photography 8 Bit Image Storage'],
    ['1.2.840.10008.5.1.4.1.1.11.1', 'Grayscale Softcopy Presentation State Storage'],
  ])('storage class %s', (uid, name) => {
    expect(isStorageSopClass(uid)).toBe(true);
    expect(describeStorageSopClass(uid)?.name).toBe(name);
  });

  test('query class is not storage', () => {
    expect(isStorageSopClass(SopClass.StudyRootQueryRetrieveFind)).toBe(false);
    expect(isStorageSopClass(SopClass.Verification)).toBe(false);
  });

  test('storage list has unique valid UIDs', () => {
    const uids = STORAGE_SOP_CLASSES.map((info) => info.uid);
    expect(new Set(uids).size).toBe(uids.length);
    for (const uid of uids) expect(isValidUid(uid)).toBe(true);
    expect(uids.length).toBeGreaterThan(150);
  });
});
