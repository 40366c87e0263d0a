import { DicomParseError, MAX_SEQUENCE_DEPTH, parseDataset, parseDatasetDetailed } from '../../src/dicom/parser';
import { Tags } from '../../src/dicom/tags';
import { encodeElements } from '../../src/dicom/writer';

const EXPLICIT_LE = { littleEndian: true, explicitVr: true };
const IMPLICIT_LE = { littleEndian: true, explicitVr: false };

function tagBytes(group: number, element: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt16LE(group, 0);
  bytes.writeUInt16LE(element, 2);
  return bytes;
}

function uint32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(value, 0);
  return bytes;
}

/** Builds an explicit VR little endian element with a 16-bit length. */
function shortElement(group: number, element: number, vr: string, value: string): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16LE(value.length, 0);
  return Buffer.concat([tagBytes(group, element), Buffer.from(vr, 'latin1'), length, Buffer.from(value, 'latin1')]);
}

const ITEM = (length: number) => Buffer.concat([tagBytes(0xfffe, 0xe000), uint32(length)]);
const ITEM_END = Buffer.concat([tagBytes(0xfffe, 0xe00d), uint32(0)]);
const SEQUENCE_END = Buffer.concat([tagBytes(0xfffe, 0xe0dd), uint32(0)]);

describe('parseDataset', () => {
  test('undefined-length sequence and items', () => {
    const bytes = Buffer.concat([
      shortElement(0x0008, 0x0005, 'CS', 'ISO_IR 100'),
      tagBytes(0x0008, 0x1115),
      Buffer.from('SQ\0\0', 'latin1'),
      uint32(0xffffffff),
      ITEM(0xffffffff),
      shortElement(0x0010, 0x0010, 'PN', 'J\xe9r\xf4me'),
      ITEM_END,
      SEQUENCE_END,
      shortElement(0x0010, 0x0020, 'LO', 'ID01'),
    ]);
    const dataset = parseDataset(bytes, EXPLICIT_LE);
    const items = dataset.getItems(Tags.ReferencedSeriesSequence);
    expect(items).toHaveLength(1);
    expect(items[0].characterSets).toEqual(['ISO_IR 100']);
    expect(items[0].getString(Tags.PatientName)).toBe('Jérôme');
    expect(dataset.getString(Tags.PatientID)).toBe('ID01');
  });

  test('UN of undefined length is implicit VR sequence', () => {
    const bytes = Buffer.concat([
      tagBytes(0x0008, 0x1115),
      Buffer.from('UN\0\0', 'latin1'),
      uint32(0xffffffff),
      ITEM(0xffffffff),
      tagBytes(0x0020, 0x000e),
      uint32(6),
      Buffer.from('1.2.3\0', 'latin1'),
      ITEM_END,
      SEQUENCE_END,
    ]);
    const dataset = parseDataset(bytes, EXPLICIT_LE);
    const element = dataset.get(Tags.ReferencedSeriesSequence);
    expect(element?.vr).toBe('SQ');
    const [item] = dataset.getItems(Tags.ReferencedSeriesSequence);
    expect(item.encoding.explicitVr).toBe(false);
    expect(item.getString(Tags.SeriesInstanceUID)).toBe('1.2.3');
  });

  test('stops before pixel data and reports offset', () => {
    const head = encodeElements([{ tag: Tags.PatientID, vr: 'LO', value: 'P1' }], EXPLICIT_LE);
    const bytes = Buffer.concat([head, encodeElements([{ tag: Tags.PixelData, vr: 'OW', value: Buffer.alloc(8) }], EXPLICIT_LE)]);
    const result = parseDatasetDetailed(bytes, EXPLICIT_LE);
    expect(result.stoppedAtTag).toBe(Tags.PixelData);
    expect(result.endOffset).toBe(head.length);
    expect(result.dataset.has(Tags.PixelData)).toBe(false);
  });

  test('custom stop tag', () => {
    const bytes = encodeElements(
      [
        { tag: Tags.PatientID, vr: 'LO', value: 'P1' },
        { tag: Tags.StudyInstanceUID, vr: 'UI', value: '1.2' },
      ],
      IMPLICIT_LE,
    );
    const result = parseDatasetDetailed(bytes, IMPLICIT_LE, { stopAtTag: Tags.StudyInstanceUID });
    expect(result.stoppedAtTag).toBe(Tags.StudyInstanceUID);
    expect([...result.dataset.elements.keys()]).toEqual([Tags.PatientID]);
  });

  test('encapsulated fragments are skipped', () => {
    const bytes = Buffer.concat([
      tagBytes(0x7fe0, 0x0010),
      Buffer.from('OB\0\0', 'latin1'),
      uint32(0xffffffff),
      ITEM(0),
      ITEM(4),
      Buffer.from([1, 2, 3, 4]),
      SEQUENCE_END,
      encodeElements([{ tag: Tags.DataSetTrailingPadding, vr: 'OB', value: Buffer.alloc(0) }], EXPLICIT_LE),
    ]);
    const result = parseDatasetDetailed(bytes, EXPLICIT_LE, { stopAtTag: null });
    const pixelData = result.dataset.get(Tags.PixelData);
    expect(pixelData?.value).toBeUndefined();
    expect(result.dataset.has(Tags.DataSetTrailingPadding)).toBe(true);
  });

  test('value past end is truncation error', () => {
    const bytes = Buffer.concat([shortElement(0x0010, 0x0010, 'PN', 'Doe^John'), tagBytes(0x0010, 0x0020), Buffer.from('LO', 'latin1'), Buffer.from([40, 0]), Buffer.from('short')]);
    let caught: unknown;
    try {
      parseDataset(bytes, EXPLICIT_LE);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DicomParseError);
    expect((caught as DicomParseError).truncated).toBe(true);
    expect((caught as DicomParseError).offset).toBe(24);
    expect((caught as DicomParseError).message).toMatch(/The 40-byte value of \(0010,0020\) \(LO\) needs 35 more bytes/);
  });

  test('partial keeps elements before damage', () => {
    const bytes = Buffer.concat([shortElement(0x0010, 0x0010, 'PN', 'Doe^John'), tagBytes(0x0010, 0x0020), Buffer.from('LO', 'latin1'), Buffer.from([40, 0])]);
    const result = parseDatasetDetailed(bytes, EXPLICIT_LE, { partial: true });
    expect(result.error).toBeInstanceOf(DicomParseError);
    expect(result.dataset.getString(Tags.PatientName)).toBe('Doe^John');
  });

  test('implicit element inside explicit data set', () => {
    const bytes = Buffer.concat([
      shortElement(0x0010, 0x0010, 'PN', 'Doe^John'),
      tagBytes(0x0010, 0x0020),
      uint32(4),
      Buffer.from('ID01', 'latin1'),
      shortElement(0x0010, 0x0040, 'CS', 'M '),
    ]);
    const result = parseDatasetDetailed(bytes, EXPLICIT_LE);
    expect(result.dataset.get(Tags.PatientID)?.vr).toBe('LO');
    expect(result.dataset.getString(Tags.PatientID)).toBe('ID01');
    expect(result.dataset.getString(Tags.PatientSex)).toBe('M');
    expect(result.warnings.join(' ')).toMatch(/\(0010,0020\).*no explicit VR/);
  });

  test('deep nesting is rejected', () => {
    let inner = shortElement(0x0010, 0x0020, 'LO', 'ID');
    for (let level = 0; level <= MAX_SEQUENCE_DEPTH; level++) {
      const item = Buffer.concat([ITEM(inner.length), inner]);
      inner = Buffer.concat([tagBytes(0x0008, 0x1115), Buffer.from('SQ\0\0', 'latin1'), uint32(item.length), item]);
    }
    expect(() => parseDataset(inner, EXPLICIT_LE)).toThrow(/nested more than/);
  });

  test('item tag at top level is damage', () => {
    expect(() => parseDataset(Buffer.concat([ITEM(0)]), EXPLICIT_LE)).toThrow(/outside a sequence/);
  });

  test('stray sequence delimiter is skipped', () => {
    const bytes = Buffer.concat([shortElement(0x0010, 0x0010, 'PN', 'Doe'), SEQUENCE_END, shortElement(0x0010, 0x0020, 'LO', 'ID')]);
    const result = parseDatasetDetailed(bytes, EXPLICIT_LE);
    expect(result.dataset.getString(Tags.PatientID)).toBe('ID');
    expect(result.warnings.join(' ')).toMatch(/Stray delimiter \(FFFE,E0DD\)/);
  });

  test('trailing zero padding is ignored', () => {
    const bytes = Buffer.concat([shortElement(0x0010, 0x0020, 'LO', 'ID'), Buffer.alloc(16)]);
    expect(parseDataset(bytes, EXPLICIT_LE).getString(Tags.PatientID)).toBe('ID');
  });
});
