/**
 * Matching keys that the PACS server cannot match: the identifier codec lists
 * sequence, private and unknown keys with values, and the query engine lists
 * keys its index does not store at the query level. Return keys (empty or
 * only '*') are never listed.
 */
import type { ElementSpec } from '../../src/dicom/writer';
import { encodeElements } from '../../src/dicom/writer';
import { findUnsupportedMatchingKeys } from '../../src/services/archive/query';
import { decodeIdentifier } from '../../src/services/pacs-server/identifier-codec';

const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const IMPLICIT_LE = '1.2.840.10008.1.2';

const LEVEL = { tag: 0x00080052, vr: 'CS', value: 'STUDY' };
const STUDY_UID = { tag: 0x0020000d, vr: 'UI', value: '' };
const REFERENCED_STUDY_SEQUENCE = 0x00081110;
const REFERENCED_SOP_INSTANCE_UID = 0x00081155;

function unsupportedKeysOf(elements: ElementSpec[], transferSyntax = EXPLICIT_LE): string[] {
  const encoding = { explicitVr: transferSyntax === EXPLICIT_LE, littleEndian: true };
  const identifier = encodeElements([LEVEL, STUDY_UID, ...elements], encoding, []);
  return decodeIdentifier(identifier, transferSyntax, 'latin1').unsupportedKeys;
}

describe('decodeIdentifier unsupported keys', () => {
  test('sequence item value listed', () => {
    const keys = unsupportedKeysOf([
      { tag: REFERENCED_STUDY_SEQUENCE, vr: 'SQ', value: [[{ tag: REFERENCED_SOP_INSTANCE_UID, vr: 'UI', value: '1.2.3' }]] },
    ]);

    expect(keys).toEqual(['ReferencedStudySequence']);
  });

  test('sequence item value in implicit VR listed', () => {
    const keys = unsupportedKeysOf(
      [{ tag: REFERENCED_STUDY_SEQUENCE, vr: 'SQ', value: [[{ tag: REFERENCED_SOP_INSTANCE_UID, vr: 'UI', value: '1.2.3' }]] }],
      IMPLICIT_LE,
    );

    expect(keys).toEqual(['ReferencedStudySequence']);
  });

  test('nested sequence value listed', () => {
    const inner = { tag: 0x00081199, vr: 'SQ', value: [[{ tag: REFERENCED_SOP_INSTANCE_UID, vr: 'UI', value: '1.2.3' }]] };
    const keys = unsupportedKeysOf([{ tag: REFERENCED_STUDY_SEQUENCE, vr: 'SQ', value: [[inner]] }]);

    expect(keys).toEqual(['ReferencedStudySequence']);
  });

  test('binary zero in item listed', () => {
    // Referenced Segment Number (0062,000B) is US, so the value 0 is two zero bytes that text decoding would trim away.
    const keys = unsupportedKeysOf([{ tag: REFERENCED_STUDY_SEQUENCE, vr: 'SQ', value: [[{ tag: 0x0062000b, vr: 'US', value: 0 }]] }]);

    expect(keys).toEqual(['ReferencedStudySequence']);
  });

  test.each([
    ['empty item', [[]]],
    ['item of empty values', [[{ tag: REFERENCED_SOP_INSTANCE_UID, vr: 'UI', value: '' }, { tag: 0x00081150, vr: 'UI', value: '' }]]],
    ['item value of only asterisk', [[{ tag: 0x00081030, vr: 'LO', value: '*' }]]],
    ['no item', []],
  ])('sequence with %s not listed', (_case, items) => {
    const keys = unsupportedKeysOf([{ tag: REFERENCED_STUDY_SEQUENCE, vr: 'SQ', value: items as ElementSpec[][] }]);

    expect(keys).toEqual([]);
  });

  test('empty UN sequence not listed', () => {
    const keys = unsupportedKeysOf([{ tag: REFERENCED_STUDY_SEQUENCE, vr: 'UN', value: Buffer.alloc(0) }]);

    expect(keys).toEqual([]);
  });

  test('private value listed by tag', () => {
    const keys = unsupportedKeysOf([
      { tag: 0x00090010, vr: 'LO', value: 'ACME 1.0' },
      { tag: 0x00091001, vr: 'LO', value: 'x' },
    ]);

    expect(keys).toEqual(['(0009,1001)']);
  });

  test('private creator and empty private not listed', () => {
    const keys = unsupportedKeysOf([
      { tag: 0x00090010, vr: 'LO', value: 'ACME 1.0' },
      { tag: 0x00091001, vr: 'LO', value: '' },
    ]);

    expect(keys).toEqual([]);
  });

  test('text keys left to the query engine', () => {
    const keys = unsupportedKeysOf([{ tag: 0x00081070, vr: 'PN', value: 'Bob' }]);

    expect(keys).toEqual([]);
  });
});

describe('findUnsupportedMatchingKeys', () => {
  test('key not indexed listed', () => {
    expect(findUnsupportedMatchingKeys('STUDY', [{ keyword: 'OperatorsName', value: 'Bob' }])).toEqual(['OperatorsName']);
  });

  test('key of a lower level listed', () => {
    expect(findUnsupportedMatchingKeys('STUDY', [{ keyword: 'SeriesDescription', value: 'Head' }])).toEqual(['SeriesDescription']);
  });

  test('Modality at STUDY level not listed', () => {
    // It is matched as Modalities in Study.
    expect(findUnsupportedMatchingKeys('STUDY', [{ keyword: 'Modality', value: 'CT' }])).toEqual([]);
  });

  test('key of a higher level not listed', () => {
    expect(findUnsupportedMatchingKeys('SERIES', [{ keyword: 'PatientName', value: 'Smith*' }])).toEqual([]);
  });

  test('key of the query level not listed', () => {
    expect(findUnsupportedMatchingKeys('SERIES', [{ keyword: 'Modality', value: 'CT' }])).toEqual([]);
  });

  test.each([
    ['empty', ''],
    ['asterisk', '*'],
    ['asterisks', '***'],
  ])('%s value not listed', (_case, value) => {
    expect(findUnsupportedMatchingKeys('STUDY', [{ keyword: 'OperatorsName', value }])).toEqual([]);
  });
});
