/**
 * DatasetStructureWalker on data sets built here: well-formed ones in every
 * encoding pass whatever the chunk sizes, and each kind of damage fails with
 * a summary that fits Error Comment (0000,0902).
 */
import type { DatasetEncoding } from '../../src/dicom/dataset';
import { DatasetStructureWalker, type DatasetStructureError } from '../../src/dicom/dataset-structure';
import { MAX_SEQUENCE_DEPTH } from '../../src/dicom/parser';
import { Tags } from '../../src/dicom/tags';
import { encodeElements, type ElementSpec } from '../../src/dicom/writer';

const EXPLICIT_LE: DatasetEncoding = { littleEndian: true, explicitVr: true };
const IMPLICIT_LE: DatasetEncoding = { littleEndian: true, explicitVr: false };
const EXPLICIT_BE: DatasetEncoding = { littleEndian: false, explicitVr: true };

const UNDEFINED = 0xffffffff;
const PIXEL_DATA = Tags.PixelData;
const ANATOMIC_REGION_SEQUENCE = 0x00082218;
const CODE_VALUE = 0x00080100;

const headElements: ElementSpec[] = [
  { tag: Tags.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 192' },
  { tag: Tags.SOPClassUID, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.7' },
  { tag: Tags.SOPInstanceUID, vr: 'UI', value: '1.2.3.4.5' },
];
const tailElements: ElementSpec[] = [
  { tag: Tags.StudyInstanceUID, vr: 'UI', value: '1.2.3' },
  { tag: Tags.SeriesInstanceUID, vr: 'UI', value: '1.2.3.4' },
];

function tagBytes(tag: number, littleEndian: boolean): Buffer {
  const bytes = Buffer.alloc(4);
  if (littleEndian) {
    bytes.writeUInt16LE(tag >>> 16, 0);
    bytes.writeUInt16LE(tag & 0xffff, 2);
  } else {
    bytes.writeUInt16BE(tag >>> 16, 0);
    bytes.writeUInt16BE(tag & 0xffff, 2);
  }
  return bytes;
}

function uint32(value: number, littleEndian: boolean): Buffer {
  const bytes = Buffer.alloc(4);
  if (littleEndian) bytes.writeUInt32LE(value);
  else bytes.writeUInt32BE(value);
  return bytes;
}

/** Header of an element of undefined length: with VR and reserved bytes in explicit VR. */
function undefinedLengthHeader(tag: number, vr: string, encoding: DatasetEncoding): Buffer {
  const vrBytes = encoding.explicitVr ? Buffer.concat([Buffer.from(vr, 'latin1'), Buffer.alloc(2)]) : Buffer.alloc(0);
  return Buffer.concat([tagBytes(tag, encoding.littleEndian), vrBytes, uint32(UNDEFINED, encoding.littleEndian)]);
}

function itemHeader(tag: number, length: number, littleEndian: boolean): Buffer {
  return Buffer.concat([tagBytes(tag, littleEndian), uint32(length, littleEndian)]);
}

/** Encodes a sequence of undefined length with one item of undefined length and one of defined length. */
function undefinedLengthSequence(tag: number, encoding: DatasetEncoding): Buffer {
  const content = encodeElements([{ tag: CODE_VALUE, vr: 'SH', value: 'T-A0100' }], encoding);
  return Buffer.concat([
    undefinedLengthHeader(tag, 'SQ', encoding),
    itemHeader(Tags.Item, UNDEFINED, encoding.littleEndian),
    content,
    itemHeader(Tags.ItemDelimitationItem, 0, encoding.littleEndian),
    itemHeader(Tags.Item, content.length, encoding.littleEndian),
    content,
    itemHeader(Tags.SequenceDelimitationItem, 0, encoding.littleEndian),
  ]);
}

/** Encapsulated Pixel Data: an empty Basic Offset Table and two fragments. */
function encapsulatedPixelData(): Buffer {
  return Buffer.concat([
    undefinedLengthHeader(PIXEL_DATA, 'OB', EXPLICIT_LE),
    itemHeader(Tags.Item, 0, true),
    itemHeader(Tags.Item, 4, true),
    Buffer.from([1, 2, 3, 4]),
    itemHeader(Tags.Item, 2, true),
    Buffer.from([5, 6]),
    itemHeader(Tags.SequenceDelimitationItem, 0, true),
  ]);
}

function nativePixelData(encoding: DatasetEncoding): Buffer {
  return encodeElements([{ tag: PIXEL_DATA, vr: 'OW', value: Buffer.alloc(64, 7) }], encoding);
}

/** Encodes a data set with an undefined-length sequence between defined-length elements, ending in `pixelData`. */
function wellFormed(encoding: DatasetEncoding, pixelData = nativePixelData(encoding)): Buffer {
  return Buffer.concat([
    encodeElements(headElements, encoding),
    undefinedLengthSequence(ANATOMIC_REGION_SEQUENCE, encoding),
    encodeElements(tailElements, encoding),
    pixelData,
  ]);
}

/** Walks `bytes` in chunks of `chunkSize` and returns the failure. */
function walk(bytes: Buffer, encoding: DatasetEncoding, chunkSize = bytes.length): DatasetStructureError | undefined {
  const walker = new DatasetStructureWalker(encoding);
  for (let offset = 0; offset < bytes.length; offset += chunkSize) walker.write(bytes.subarray(offset, offset + chunkSize));
  return walker.end();
}

const CHUNK_SIZES = [1, 3, 7, 12, 4096];

describe('well-formed data sets pass', () => {
  const cases: [string, DatasetEncoding, Buffer][] = [
    ['explicit VR little endian', EXPLICIT_LE, wellFormed(EXPLICIT_LE)],
    ['implicit VR little endian', IMPLICIT_LE, wellFormed(IMPLICIT_LE)],
    ['explicit VR big endian', EXPLICIT_BE, wellFormed(EXPLICIT_BE)],
    ['encapsulated Pixel Data', EXPLICIT_LE, wellFormed(EXPLICIT_LE, encapsulatedPixelData())],
    [
      'Data Set Trailing Padding',
      EXPLICIT_LE,
      Buffer.concat([wellFormed(EXPLICIT_LE), encodeElements([{ tag: Tags.DataSetTrailingPadding, vr: 'OB', value: Buffer.alloc(30) }], EXPLICIT_LE)]),
    ],
    ['empty data set', EXPLICIT_LE, Buffer.alloc(0)],
  ];

  test.each(cases)('%s', (_name, encoding, bytes) => {
    for (const chunkSize of CHUNK_SIZES) {
      expect(walk(bytes, encoding, chunkSize)).toBeUndefined();
    }
  });

  test('UN of undefined length is walked as implicit VR', () => {
    const content = encodeElements([{ tag: CODE_VALUE, vr: 'SH', value: 'X' }], IMPLICIT_LE);
    const bytes = Buffer.concat([
      encodeElements(headElements, EXPLICIT_LE),
      undefinedLengthHeader(0x00091010, 'UN', EXPLICIT_LE),
      itemHeader(Tags.Item, UNDEFINED, true),
      content,
      itemHeader(Tags.ItemDelimitationItem, 0, true),
      itemHeader(Tags.SequenceDelimitationItem, 0, true),
      nativePixelData(EXPLICIT_LE),
    ]);

    for (const chunkSize of CHUNK_SIZES) expect(walk(bytes, EXPLICIT_LE, chunkSize)).toBeUndefined();
  });
});

// parser.ts reads a VR newer than KNOWN_VRS with the 32-bit length form, so the walker does too.
test('unknown VR passes', () => {
  const value = Buffer.from('ABCD', 'latin1');
  const unknownVr = Buffer.concat([tagBytes(0x00091011, true), Buffer.from('ZZ', 'latin1'), Buffer.alloc(2), uint32(value.length, true), value]);
  const bytes = Buffer.concat([encodeElements(headElements, EXPLICIT_LE), unknownVr, nativePixelData(EXPLICIT_LE)]);

  for (const chunkSize of CHUNK_SIZES) expect(walk(bytes, EXPLICIT_LE, chunkSize)).toBeUndefined();
});

describe('damaged data sets fail', () => {
  test('explicit VR bytes on implicit VR', () => {
    const error = walk(wellFormed(EXPLICIT_LE), IMPLICIT_LE);

    expect(error?.summary).toBe('explicit VR data set on an implicit VR context');
  });

  test('implicit VR bytes on explicit VR', () => {
    const error = walk(wellFormed(IMPLICIT_LE), EXPLICIT_LE);

    expect(error?.summary).toBe('implicit VR data set on an explicit VR context');
    expect(error?.offset).toBe(0);
  });

  test.each([1, 7, 14, 100])('%i garbage bytes after Pixel Data', (count) => {
    const dataset = wellFormed(EXPLICIT_LE);
    const garbage = Buffer.alloc(count);
    for (let i = 0; i < count; i++) garbage[i] = (i * 37 + 11) & 0xff;

    for (const chunkSize of CHUNK_SIZES) {
      const error = walk(Buffer.concat([dataset, garbage]), EXPLICIT_LE, chunkSize);
      expect(error?.summary).toBe(`data after the last element at byte ${dataset.length}`);
    }
  });

  test('garbage after Pixel Data in implicit VR', () => {
    const dataset = wellFormed(IMPLICIT_LE);
    const garbage = Buffer.from('0123456789abcd', 'latin1');

    const error = walk(Buffer.concat([dataset, garbage]), IMPLICIT_LE);

    expect(error?.summary).toBe(`data after the last element at byte ${dataset.length}`);
  });

  test('value cut short', () => {
    const dataset = wellFormed(EXPLICIT_LE);
    const pixelDataOffset = dataset.length - nativePixelData(EXPLICIT_LE).length;

    const error = walk(dataset.subarray(0, dataset.length - 10), EXPLICIT_LE, 7);

    expect(error?.summary).toBe(`data set truncated in element (7FE0,0010) at byte ${pixelDataOffset}`);
    expect(error?.message).toMatch(/has length 64 and only 54 bytes of it arrived/);
  });

  test('sequence without delimiter', () => {
    const bytes = Buffer.concat([
      encodeElements(headElements, EXPLICIT_LE),
      undefinedLengthHeader(ANATOMIC_REGION_SEQUENCE, 'SQ', EXPLICIT_LE),
      itemHeader(Tags.Item, 0, true),
    ]);

    expect(walk(bytes, EXPLICIT_LE)?.summary).toBe('sequence (0008,2218) has no Sequence Delimitation Item');
  });

  test('non-item in sequence', () => {
    const bytes = Buffer.concat([
      encodeElements(headElements, EXPLICIT_LE),
      undefinedLengthHeader(ANATOMIC_REGION_SEQUENCE, 'SQ', EXPLICIT_LE),
      encodeElements(tailElements, EXPLICIT_LE),
    ]);

    expect(walk(bytes, EXPLICIT_LE)?.summary).toMatch(/^expected an item in sequence \(0008,2218\) at byte \d+$/);
  });

  test('fragment of undefined length', () => {
    const bytes = Buffer.concat([
      encodeElements(headElements, EXPLICIT_LE),
      undefinedLengthHeader(PIXEL_DATA, 'OB', EXPLICIT_LE),
      itemHeader(Tags.Item, UNDEFINED, true),
    ]);

    expect(walk(bytes, EXPLICIT_LE)?.summary).toMatch(/^fragment of undefined length at byte \d+$/);
  });

  test('undefined length on a text VR', () => {
    // In explicit VR the length of UI has 16 bits, so only implicit VR can declare this.
    const bytes = Buffer.concat([encodeElements(headElements, IMPLICIT_LE), undefinedLengthHeader(Tags.StudyInstanceUID, 'UI', IMPLICIT_LE)]);

    expect(walk(bytes, IMPLICIT_LE)?.summary).toMatch(/^undefined length with VR UI in \(0020,000D\) at byte \d+$/);
  });

  test('sequences nested too deep', () => {
    const open: Buffer[] = [];
    const close: Buffer[] = [];
    for (let level = 0; level <= MAX_SEQUENCE_DEPTH; level++) {
      open.push(undefinedLengthHeader(ANATOMIC_REGION_SEQUENCE, 'SQ', EXPLICIT_LE), itemHeader(Tags.Item, UNDEFINED, true));
      close.unshift(itemHeader(Tags.ItemDelimitationItem, 0, true), itemHeader(Tags.SequenceDelimitationItem, 0, true));
    }
    const bytes = Buffer.concat([encodeElements(headElements, EXPLICIT_LE), ...open, ...close]);

    expect(walk(bytes, EXPLICIT_LE)?.summary).toBe(`Sequence (0008,2218) is nested more than ${MAX_SEQUENCE_DEPTH} levels deep`);
  });

  test('nesting at the limit passes', () => {
    const open: Buffer[] = [];
    const close: Buffer[] = [];
    for (let level = 0; level < MAX_SEQUENCE_DEPTH; level++) {
      open.push(undefinedLengthHeader(ANATOMIC_REGION_SEQUENCE, 'SQ', EXPLICIT_LE), itemHeader(Tags.Item, UNDEFINED, true));
      close.unshift(itemHeader(Tags.ItemDelimitationItem, 0, true), itemHeader(Tags.SequenceDelimitationItem, 0, true));
    }
    const bytes = Buffer.concat([encodeElements(headElements, EXPLICIT_LE), ...open, ...close]);

    expect(walk(bytes, EXPLICIT_LE, 5)).toBeUndefined();
  });

  test('summaries fit Error Comment', () => {
    const failures = [
      walk(wellFormed(EXPLICIT_LE), IMPLICIT_LE),
      walk(wellFormed(IMPLICIT_LE), EXPLICIT_LE),
      walk(Buffer.concat([wellFormed(EXPLICIT_LE), Buffer.from('garbage bytes!')]), EXPLICIT_LE),
      walk(Buffer.concat([encodeElements(headElements, IMPLICIT_LE), undefinedLengthHeader(Tags.StudyInstanceUID, 'UI', IMPLICIT_LE)]), IMPLICIT_LE),
      walk(wellFormed(EXPLICIT_LE).subarray(0, 200), EXPLICIT_LE),
    ];
    for (const failure of failures) {
      expect(failure).toBeDefined();
      expect(failure!.summary.length).toBeLessThanOrEqual(64);
    }
  });
});
