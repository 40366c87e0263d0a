/**
 * Encoder for data sets (PS3.5 section 7) and file meta information (PS3.10
 * section 7.1), used for C-FIND identifiers and responses and for files the
 * loader writes. Sequences and items are always written with defined length.
 */
import { encodeText } from './charset';
import { DatasetEncoding, formatTag, Tag } from './dataset';
import { LONG_LENGTH_VRS, KNOWN_VRS, Tags } from './tags';
import { assertValidUid } from './uid';

/** One element to encode. A sequence (VR SQ) value is a list of items, each a list of elements. */
export interface ElementSpec {
  tag: Tag;
  vr: string;
  value?: string | string[] | number | number[] | bigint | bigint[] | Buffer | ItemSpec[][] | null;
}

/** An element inside a sequence item; the same shape as a top-level element. */
export type ItemSpec = ElementSpec;

/** The value does not fit its VR. */
export class DicomEncodeError extends Error {
  override name = 'DicomEncodeError';
}

/** VRs whose values are text, padded with a trailing space to even length (PS3.5 section 6.2). */
const TEXT_VRS = new Set(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UR', 'UT', 'UI']);

/** Byte size of one value for binary numeric VRs. */
const BINARY_SIZES: Record<string, number> = {
  US: 2, SS: 2, UL: 4, SL: 4, FL: 4, FD: 8, AT: 4, SV: 8, UV: 8, OW: 2, OF: 4, OD: 8, OL: 4, OV: 8, OB: 1, UN: 1,
};

/**
 * Encodes elements in ascending tag order (PS3.5 section 7.1) with values
 * padded to even length: a space for text, NUL for UI and binary values
 * (PS3.5 section 6.2). Text of SH, LO, UC, ST, LT, UT and PN is encoded with
 * `characterSets`. An item that contains its own Specific Character Set uses
 * that for its elements. Throws DicomEncodeError when a value does not fit its VR.
 */
export function encodeElements(elements: ElementSpec[], encoding: DatasetEncoding, characterSets: string[] = []): Buffer {
  const sorted = [...elements].sort((a, b) => a.tag - b.tag);
  const parts: Buffer[] = [];
  for (let i = 0; i < sorted.length; i++) {
    if (i > 0 && sorted[i].tag === sorted[i - 1].tag) {
      throw new DicomEncodeError(`Element ${formatTag(sorted[i].tag)} is listed twice; a data set contains each tag at most once.`);
    }
    parts.push(encodeElement(sorted[i], encoding, characterSets));
  }
  return Buffer.concat(parts);
}

function encodeElement(element: ElementSpec, encoding: DatasetEncoding, characterSets: string[]): Buffer {
  const vr = element.vr.toUpperCase();
  if (!KNOWN_VRS.has(vr)) {
    throw new DicomEncodeError(`Element ${formatTag(element.tag)} has the unknown VR '${element.vr}'.`);
  }
  const value = vr === 'SQ' ? encodeSequence(element, encoding, characterSets) : encodeValue(element, vr, encoding, characterSets);
  return Buffer.concat([encodeHeader(element.tag, vr, value.length, encoding), value]);
}

function encodeHeader(tag: Tag, vr: string, length: number, encoding: DatasetEncoding): Buffer {
  const le = encoding.littleEndian;
  const writeUint16 = (buffer: Buffer, value: number, offset: number) =>
    le ? buffer.writeUInt16LE(value, offset) : buffer.writeUInt16BE(value, offset);
  const writeUint32 = (buffer: Buffer, value: number, offset: number) =>
    le ? buffer.writeUInt32LE(value, offset) : buffer.writeUInt32BE(value, offset);

  if (!encoding.explicitVr) {
    const header = Buffer.alloc(8);
    writeUint16(header, tag >>> 16, 0);
    writeUint16(header, tag & 0xffff, 2);
    writeUint32(header, length, 4);
    return header;
  }
  if (LONG_LENGTH_VRS.has(vr)) {
    const header = Buffer.alloc(12);
    writeUint16(header, tag >>> 16, 0);
    writeUint16(header, tag & 0xffff, 2);
    header.write(vr, 4, 'latin1');
    writeUint32(header, length, 8);
    return header;
  }
  if (length > 0xffff) {
    throw new DicomEncodeError(
      `Value of ${formatTag(tag)} (${vr}) is ${length} bytes long; explicit VR ${vr} allows at most 65534 bytes.`,
    );
  }
  const header = Buffer.alloc(8);
  writeUint16(header, tag >>> 16, 0);
  writeUint16(header, tag & 0xffff, 2);
  header.write(vr, 4, 'latin1');
  writeUint16(header, length, 6);
  return header;
}

function encodeSequence(element: ElementSpec, encoding: DatasetEncoding, characterSets: string[]): Buffer {
  const items = element.value ?? [];
  if (!Array.isArray(items) || items.some((item) => !Array.isArray(item))) {
    throw new DicomEncodeError(`Sequence ${formatTag(element.tag)} needs a list of items, each a list of elements.`);
  }
  const parts: Buffer[] = [];
  for (const item of items as ItemSpec[][]) {
    const itemCharacterSets = characterSetsOf(item) ?? characterSets;
    const body = encodeElements(item, encoding, itemCharacterSets);
    parts.push(encodeHeader(Tags.Item, 'UN', body.length, { ...encoding, explicitVr: false }), body);
  }
  return Buffer.concat(parts);
}

function characterSetsOf(elements: ElementSpec[]): string[] | undefined {
  const specific = elements.find((element) => element.tag === Tags.SpecificCharacterSet);
  if (!specific || specific.value === undefined || specific.value === null) return undefined;
  if (typeof specific.value === 'string') return specific.value.split('\\');
  if (Array.isArray(specific.value) && specific.value.every((term) => typeof term === 'string')) return specific.value as string[];
  return undefined;
}

function encodeValue(element: ElementSpec, vr: string, encoding: DatasetEncoding, characterSets: string[]): Buffer {
  const { value } = element;
  if (value === undefined || value === null) return Buffer.alloc(0);

  if (Buffer.isBuffer(value)) return padBinary(value);

  if (TEXT_VRS.has(vr)) {
    const values = Array.isArray(value) ? value : [value];
    const text = values.map((entry) => (typeof entry === 'string' ? entry : String(entry))).join('\\');
    const bytes = encodeText(text, characterSets, vr);
    if (bytes.length % 2 === 0) return bytes;
    return Buffer.concat([bytes, Buffer.from([vr === 'UI' ? 0x00 : 0x20])]);
  }

  const size = BINARY_SIZES[vr];
  if (size === undefined) {
    throw new DicomEncodeError(`Element ${formatTag(element.tag)} (${vr}) needs a Buffer value.`);
  }
  const numbers = Array.isArray(value) ? value : [value];
  if (numbers.some((entry) => typeof entry !== 'number' && typeof entry !== 'bigint')) {
    throw new DicomEncodeError(`Element ${formatTag(element.tag)} (${vr}) needs numbers or a Buffer, not text.`);
  }
  const bytes = Buffer.alloc(numbers.length * size);
  numbers.forEach((entry, index) => writeNumber(bytes, index * size, vr, entry as number | bigint, encoding.littleEndian, element.tag));
  return padBinary(bytes);
}

function padBinary(bytes: Buffer): Buffer {
  return bytes.length % 2 === 0 ? bytes : Buffer.concat([bytes, Buffer.alloc(1)]);
}

function writeNumber(target: Buffer, offset: number, vr: string, value: number | bigint, le: boolean, tag: Tag): void {
  try {
    switch (vr) {
      case 'US':
      case 'OW':
        if (le) target.writeUInt16LE(Number(value), offset);
        else target.writeUInt16BE(Number(value), offset);
        return;
      case 'SS':
        if (le) target.writeInt16LE(Number(value), offset);
        else target.writeInt16BE(Number(value), offset);
        return;
      case 'UL':
      case 'OL':
        if (le) target.writeUInt32LE(Number(value), offset);
        else target.writeUInt32BE(Number(value), offset);
        return;
      case 'SL':
        if (le) target.writeInt32LE(Number(value), offset);
        else target.writeInt32BE(Number(value), offset);
        return;
      case 'FL':
      case 'OF':
        if (le) target.writeFloatLE(Number(value), offset);
        else target.writeFloatBE(Number(value), offset);
        return;
      case 'FD':
      case 'OD':
        if (le) target.writeDoubleLE(Number(value), offset);
        else target.writeDoubleBE(Number(value), offset);
        return;
      case 'AT': {
        // An attribute tag is written as group then element, each in the data set's byte order (PS3.5 section 6.2).
        const number = Number(value);
        if (le) {
          target.writeUInt16LE(number >>> 16, offset);
          target.writeUInt16LE(number & 0xffff, offset + 2);
        } else {
          target.writeUInt16BE(number >>> 16, offset);
          target.writeUInt16BE(number & 0xffff, offset + 2);
        }
        return;
      }
      case 'SV':
        if (le) target.writeBigInt64LE(BigInt(value), offset);
        else target.writeBigInt64BE(BigInt(value), offset);
        return;
      case 'UV':
      case 'OV':
        if (le) target.writeBigUInt64LE(BigInt(value), offset);
        else target.writeBigUInt64BE(BigInt(value), offset);
        return;
      default:
        target.writeUInt8(Number(value), offset);
    }
  } catch (error) {
    throw new DicomEncodeError(`Value ${String(value)} of ${formatTag(tag)} does not fit VR ${vr}: ${(error as Error).message}`);
  }
}

export interface FileMetaInformationSpec {
  mediaStorageSopClassUid: string;
  mediaStorageSopInstanceUid: string;
  transferSyntaxUid: string;
  implementationClassUid: string;
  /** At most 16 characters (VR SH). */
  implementationVersionName?: string;
  /** AE title of the application that wrote the file, at most 16 characters. */
  sourceApplicationEntityTitle?: string;
}

/** Explicit VR little endian, the only encoding of file meta information (PS3.10 section 7.1). */
const EXPLICIT_LITTLE_ENDIAN: DatasetEncoding = { littleEndian: true, explicitVr: true };

/**
 * Builds the start of a Part 10 file: a 128-byte zero preamble, 'DICM' and the
 * group 0002 elements with their group length (0002,0000) and the File Meta
 * Information Version 00 01 (PS3.10 section 7.1). The data set bytes follow
 * directly. Throws InvalidUidError for an invalid UID.
 */
export function buildFileMetaInformation(spec: FileMetaInformationSpec): Buffer {
  assertValidUid(spec.mediaStorageSopClassUid, 'Media Storage SOP Class UID (0002,0002)');
  assertValidUid(spec.mediaStorageSopInstanceUid, 'Media Storage SOP Instance UID (0002,0003)');
  assertValidUid(spec.transferSyntaxUid, 'Transfer Syntax UID (0002,0010)');
  assertValidUid(spec.implementationClassUid, 'Implementation Class UID (0002,0012)');
  for (const [name, text] of [
    ['Implementation Version Name (0002,0013)', spec.implementationVersionName],
    ['Source Application Entity Title (0002,0016)', spec.sourceApplicationEntityTitle],
  ] as const) {
    if (text !== undefined && text.length > 16) {
      throw new DicomEncodeError(`${name} "${text}" is ${text.length} characters long; at most 16 are allowed.`);
    }
  }

  const texts = [spec.implementationVersionName ?? '', spec.sourceApplicationEntityTitle ?? ''];
  if (texts.every((text) => ASCII_TEXT.test(text))) return encodeAsciiFileMetaInformation(spec);

  const group = encodeElements(fileMetaElements(spec), EXPLICIT_LITTLE_ENDIAN);
  const groupLength = encodeElements(
    [{ tag: Tags.FileMetaInformationGroupLength, vr: 'UL', value: group.length }],
    EXPLICIT_LITTLE_ENDIAN,
  );
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1'), groupLength, group]);
}

/** Lists the group 0002 elements of `spec` after the group length, in tag order. */
export function fileMetaElements(spec: FileMetaInformationSpec): ElementSpec[] {
  const elements: ElementSpec[] = [
    { tag: Tags.FileMetaInformationVersion, vr: 'OB', value: Buffer.from([0x00, 0x01]) },
    { tag: Tags.MediaStorageSOPClassUID, vr: 'UI', value: spec.mediaStorageSopClassUid },
    { tag: Tags.MediaStorageSOPInstanceUID, vr: 'UI', value: spec.mediaStorageSopInstanceUid },
    { tag: Tags.TransferSyntaxUID, vr: 'UI', value: spec.transferSyntaxUid },
    { tag: Tags.ImplementationClassUID, vr: 'UI', value: spec.implementationClassUid },
  ];
  if (spec.implementationVersionName) {
    elements.push({ tag: Tags.ImplementationVersionName, vr: 'SH', value: spec.implementationVersionName });
  }
  if (spec.sourceApplicationEntityTitle) {
    elements.push({ tag: Tags.SourceApplicationEntityTitle, vr: 'AE', value: spec.sourceApplicationEntityTitle });
  }
  return elements;
}

/** Text that every character set encodes as the same bytes. */
const ASCII_TEXT = /^[\x00-\x7f]*$/;

/** Length of the 128-byte preamble and the 'DICM' prefix. */
const PREAMBLE_AND_PREFIX_LENGTH = 132;

/**
 * Builds the same bytes as buildFileMetaInformation in one buffer, for specs
 * whose text values are ASCII. The receive path builds one per C-STORE, and the
 * general encoder, with a buffer per element, took about 20 microseconds.
 */
function encodeAsciiFileMetaInformation(spec: FileMetaInformationSpec): Buffer {
  // Every element after (0002,0001) has a text value.
  const elements = fileMetaElements(spec)
    .slice(1)
    .map((element): [Tag, string, string] => [element.tag, element.vr, element.value as string]);

  // (0002,0001) OB takes a 12-byte header and its 2-byte value; the others an 8-byte header and the even-padded text.
  let groupLength = 14;
  for (const [, , text] of elements) groupLength += 8 + text.length + (text.length % 2);
  const meta = Buffer.alloc(PREAMBLE_AND_PREFIX_LENGTH + 12 + groupLength);
  meta.write('DICM', 128, 'latin1');

  let offset = writeShortHeader(meta, PREAMBLE_AND_PREFIX_LENGTH, Tags.FileMetaInformationGroupLength, 'UL', 4);
  offset = meta.writeUInt32LE(groupLength, offset);

  offset = meta.writeUInt16LE(Tags.FileMetaInformationVersion & 0xffff, meta.writeUInt16LE(0x0002, offset));
  meta.write('OB', offset, 'latin1');
  offset = meta.writeUInt32LE(2, offset + 4);
  meta[offset + 1] = 0x01;
  offset += 2;

  for (const [tag, vr, text] of elements) {
    const padded = text.length + (text.length % 2);
    offset = writeShortHeader(meta, offset, tag, vr, padded);
    meta.write(text, offset, 'latin1');
    // UI pads with NUL, which Buffer.alloc left there; text VRs pad with a space (PS3.5 section 6.2).
    if (padded > text.length && vr !== 'UI') meta[offset + text.length] = 0x20;
    offset += padded;
  }
  return meta;
}

/** Writes an explicit VR little endian header with a 2-byte length and returns the offset after it. */
function writeShortHeader(buffer: Buffer, offset: number, tag: Tag, vr: string, length: number): number {
  buffer.writeUInt16LE(tag >>> 16, offset);
  buffer.writeUInt16LE(tag & 0xffff, offset + 2);
  buffer.write(vr, offset + 4, 'latin1');
  return buffer.writeUInt16LE(length, offset + 6);
}

