/**
 * Parser for the binary encoding of a data set (PS3.5 section 7): explicit and
 * implicit VR, little and big endian, nested sequences and items of defined
 * and undefined length, and encapsulated pixel data (PS3.5 annex A.4), whose
 * fragments are skipped.
 */
import { decodeText, parseSpecificCharacterSet, type LegacyCharacterSet } from './charset';
import {
  Dataset,
  DatasetEncoding,
  Element,
  formatTag,
  Tag,
  tagGroup,
  UNDEFINED_LENGTH,
} from './dataset';
import { KNOWN_VRS, LONG_LENGTH_VRS, lookupVr, Tags } from './tags';

/** A data set could not be parsed: the bytes are damaged, truncated or not DICOM. */
export class DicomParseError extends Error {
  override name = 'DicomParseError';

  constructor(
    /** Description of the damage, without the offset. */
    readonly reason: string,
    /** Byte offset in the parsed buffer where the damage was detected. */
    readonly offset: number,
    /** The buffer ended inside an element, so more bytes may complete it. */
    readonly truncated = false,
    /** File the bytes came from, when known. */
    readonly path?: string,
  ) {
    super(`${path ? `${path}: ` : ''}${reason} (at byte offset ${offset})`);
  }

  /** Returns a copy of this error that names the file it came from. */
  withPath(path: string, reason = this.reason): DicomParseError {
    return new DicomParseError(reason, this.offset, this.truncated, path);
  }
}

/** First tag of the pixel data group that parsing stops before by default. */
export const DEFAULT_STOP_TAG: Tag = Tags.ExtendedOffsetTable;

/** Sequence nesting deeper than this is treated as damage, so hostile files cannot exhaust the stack. */
export const MAX_SEQUENCE_DEPTH = 64;

export interface ParseOptions {
  /** Offset of the first element in the buffer (default 0). */
  offset?: number;
  /** Offset just after the last byte to parse (default: end of the buffer). */
  end?: number;
  /**
   * Top-level tag to stop before: parsing ends at the first top-level element
   * whose tag is equal or greater. Default DEFAULT_STOP_TAG (7FE0,0001), so Extended
   * Offset Table, Float Pixel Data and Pixel Data are not read. null parses everything.
   */
  stopAtTag?: Tag | null;
  /** Stops before the first top-level element for which this returns true. */
  stopWhen?: (tag: Tag) => boolean;
  /** Returns the elements parsed before damage instead of throwing (see DatasetParseResult.error). */
  partial?: boolean;
  /** Character sets in force before the data set declares its own, e.g. those of a parent. */
  characterSets?: string[];
  /** Character set of undeclared text that is not valid UTF-8 (see Dataset.legacyCharacterSet); default Latin-1. */
  legacyCharacterSet?: LegacyCharacterSet;
}

export interface DatasetParseResult {
  dataset: Dataset;
  /** Tag of the top-level element parsing stopped before, when it stopped at a tag. */
  stoppedAtTag?: Tag;
  /** Offset of the first byte not parsed: the stop element's tag, the end, or the damage. */
  endOffset: number;
  /** Damage found when options.partial is set. */
  error?: DicomParseError;
  /** Tolerated faults, e.g. an implicit VR element inside an explicit VR data set. */
  warnings: string[];
}

interface ParseContext {
  buffer: Buffer;
  options: ParseOptions;
  warnings: string[];
  stopAtTag: Tag | null;
  stoppedAtTag?: Tag;
}

/** Implicit VR little endian, used for the content of UN elements with undefined length (PS3.5 section 6.2.2). */
const IMPLICIT_LITTLE_ENDIAN: DatasetEncoding = { littleEndian: true, explicitVr: false };

/**
 * Parses a data set and returns it. Throws DicomParseError on damage unless
 * options.partial is set. Use parseDatasetDetailed to learn where parsing stopped.
 */
export function parseDataset(buffer: Buffer, encoding: DatasetEncoding, options: ParseOptions = {}): Dataset {
  return parseDatasetDetailed(buffer, encoding, options).dataset;
}

/** Parses a data set and reports the stop tag, end offset, warnings and (with options.partial) the damage. */
export function parseDatasetDetailed(
  buffer: Buffer,
  encoding: DatasetEncoding,
  options: ParseOptions = {},
): DatasetParseResult {
  const context: ParseContext = {
    buffer,
    options,
    warnings: [],
    stopAtTag: options.stopAtTag === undefined ? DEFAULT_STOP_TAG : options.stopAtTag,
  };
  const dataset = new Dataset(encoding, decodeText);
  dataset.characterSets = [...(options.characterSets ?? [])];
  if (options.legacyCharacterSet) dataset.legacyCharacterSet = options.legacyCharacterSet;
  const start = options.offset ?? 0;
  const end = Math.min(options.end ?? buffer.length, buffer.length);
  const position = { offset: start };

  try {
    parseElements(context, dataset, position, end, 0, true);
  } catch (error) {
    if (!(error instanceof DicomParseError) || !options.partial) throw error;
    return { dataset, endOffset: position.offset, error, warnings: context.warnings };
  }
  return { dataset, stoppedAtTag: context.stoppedAtTag, endOffset: position.offset, warnings: context.warnings };
}

function readUint16(buffer: Buffer, offset: number, littleEndian: boolean): number {
  return littleEndian ? buffer.readUInt16LE(offset) : buffer.readUInt16BE(offset);
}

function readUint32(buffer: Buffer, offset: number, littleEndian: boolean): number {
  return littleEndian ? buffer.readUInt32LE(offset) : buffer.readUInt32BE(offset);
}

/** Reads a tag; the caller has checked that 4 bytes are there. */
function readTag(buffer: Buffer, offset: number, littleEndian: boolean): Tag {
  if (littleEndian) return ((buffer[offset + 1] << 24) | (buffer[offset] << 16) | (buffer[offset + 3] << 8) | buffer[offset + 2]) >>> 0;
  return ((buffer[offset] << 24) | (buffer[offset + 1] << 16) | (buffer[offset + 2] << 8) | buffer[offset + 3]) >>> 0;
}

/**
 * Throws DicomParseError unless `count` bytes from `offset` lie before `end`.
 * `what` names the missing part. A function is called only on failure:
 * formatting a tag for every element header took about 3% of `loader scan`
 * in a CPU profile.
 */
function requireBytes(context: ParseContext, offset: number, count: number, end: number, what: string | (() => string)): void {
  if (offset + count <= end) return;
  if (typeof what === 'function') what = what();
  const truncated = end >= context.buffer.length;
  const remaining = Math.max(0, end - offset);
  // A truncated reason follows "the file has N bytes, but" in file errors, so it names the missing bytes.
  const reason = truncated ? `${what} (${count} bytes) needs ${count - remaining} more bytes` : `${what} needs ${count} bytes but only ${remaining} remain`;
  throw new DicomParseError(reason, offset, truncated);
}

function isUpperCaseLetter(byte: number): boolean {
  return byte >= 0x41 && byte <= 0x5a;
}

interface ElementHeader {
  tag: Tag;
  vr: string;
  length: number;
  headerLength: number;
}

/**
 * Reads the VR and length of the element at `offset`, whose tag the caller
 * read after checking that 8 bytes are there. In an explicit VR data set, an
 * element whose VR bytes are not letters is read as implicit VR when its
 * 32-bit length fits in the remaining bytes. Some writers mix implicit
 * elements into explicit data sets, which PS3.5 section 7.1.2 does not allow,
 * so this adds a warning.
 */
function readElementHeader(
  context: ParseContext,
  tag: Tag,
  offset: number,
  end: number,
  encoding: DatasetEncoding,
): ElementHeader {
  const { buffer } = context;
  const littleEndian = encoding.littleEndian;

  // Item and delimitation tags have no VR in any transfer syntax (PS3.5 section 7.5).
  if (tagGroup(tag) === 0xfffe) {
    return { tag, vr: 'UN', length: readUint32(buffer, offset + 4, littleEndian), headerLength: 8 };
  }

  if (!encoding.explicitVr) {
    return { tag, vr: lookupVr(tag), length: readUint32(buffer, offset + 4, littleEndian), headerLength: 8 };
  }

  const vrByte0 = buffer[offset + 4];
  const vrByte1 = buffer[offset + 5];
  const vr = String.fromCharCode(vrByte0, vrByte1);
  if (KNOWN_VRS.has(vr)) {
    if (LONG_LENGTH_VRS.has(vr)) {
      requireBytes(context, offset, 12, end, () => `Element ${formatTag(tag)} header`);
      return { tag, vr, length: readUint32(buffer, offset + 8, littleEndian), headerLength: 12 };
    }
    return { tag, vr, length: readUint16(buffer, offset + 6, littleEndian), headerLength: 8 };
  }

  const implicitLength = readUint32(buffer, offset + 4, littleEndian);
  const fitsAsImplicit = implicitLength === UNDEFINED_LENGTH || offset + 8 + implicitLength <= end;
  if (fitsAsImplicit && !(isUpperCaseLetter(vrByte0) && isUpperCaseLetter(vrByte1))) {
    context.warnings.push(
      `Element ${formatTag(tag)} at byte offset ${offset} has no explicit VR; it was read as implicit VR ${lookupVr(tag)}.`,
    );
    return { tag, vr: lookupVr(tag), length: implicitLength, headerLength: 8 };
  }

  // NOTE: an unknown VR of two upper-case letters is read with the 32-bit length form of OB and UN.
  // This is a guess for VRs newer than this parser, and it fails for a new VR with a 16-bit length.
  if (isUpperCaseLetter(vrByte0) && isUpperCaseLetter(vrByte1)) {
    requireBytes(context, offset, 12, end, () => `Element ${formatTag(tag)} header`);
    context.warnings.push(`Element ${formatTag(tag)} at byte offset ${offset} has the unknown VR '${vr}'; it was read as UN.`);
    return { tag, vr: 'UN', length: readUint32(buffer, offset + 8, littleEndian), headerLength: 12 };
  }

  throw new DicomParseError(
    `Element ${formatTag(tag)} has the invalid VR bytes 0x${vrByte0.toString(16).padStart(2, '0')} 0x${vrByte1
      .toString(16)
      .padStart(2, '0')}`,
    offset + 4,
  );
}

/** Position shared between nested parse calls, so the damage offset is known when an error unwinds. */
interface Position {
  offset: number;
}

/**
 * Parses elements into `dataset` from position.offset up to `end`, or up to an
 * Item Delimitation Item when `end` is the end of an undefined-length item.
 * Returns true when it stopped at an Item Delimitation Item.
 */
function parseElements(
  context: ParseContext,
  dataset: Dataset,
  position: Position,
  end: number,
  depth: number,
  topLevel: boolean,
): boolean {
  const { buffer } = context;
  const encoding = dataset.encoding;
  let previousTag = -1;

  while (position.offset < end) {
    const elementOffset = position.offset;
    // Trailing zero padding after the last element is common in old files; PS3.5 has no tag (0000,0000).
    if (topLevel && isZeroPadding(buffer, elementOffset, end)) {
      position.offset = end;
      break;
    }

    requireBytes(context, elementOffset, 8, end, 'Element header');
    const tag = readTag(buffer, elementOffset, encoding.littleEndian);

    if (tag === Tags.Item) {
      throw new DicomParseError(`Unexpected item tag ${formatTag(tag)} outside a sequence`, elementOffset);
    }
    if (tag === Tags.ItemDelimitationItem && !topLevel) {
      position.offset = elementOffset + 8;
      return true;
    }
    if (tag === Tags.ItemDelimitationItem || tag === Tags.SequenceDelimitationItem) {
      // Some writers leave a stray delimiter after a sequence; it carries no data, so it is skipped.
      context.warnings.push(`Stray delimiter ${formatTag(tag)} at byte offset ${elementOffset} was skipped.`);
      position.offset = elementOffset + 8;
      continue;
    }

    if (topLevel && shouldStop(context, tag)) {
      context.stoppedAtTag = tag;
      position.offset = elementOffset;
      return false;
    }

    const header = readElementHeader(context, tag, elementOffset, end, encoding);
    if (tag <= previousTag) {
      context.warnings.push(
        `Element ${formatTag(tag)} at byte offset ${elementOffset} is out of ascending tag order (PS3.5 section 7.1).`,
      );
    }
    previousTag = tag;

    const valueOffset = elementOffset + header.headerLength;
    position.offset = valueOffset;
    const element = parseValue(context, dataset, header, position, end, depth);
    dataset.elements.set(tag, element);

    if (tag === Tags.SpecificCharacterSet && element.value) {
      dataset.characterSets = parseSpecificCharacterSet(element.value.toString('latin1'));
    }
  }
  return false;
}

function isZeroPadding(buffer: Buffer, offset: number, end: number): boolean {
  if (end - offset < 4 || buffer.readUInt32LE(offset) !== 0) return false;
  if (offset + 8 <= end && buffer.readUInt32LE(offset + 4) !== 0) return false;
  for (let i = offset; i < end; i++) if (buffer[i] !== 0) return false;
  return true;
}

function shouldStop(context: ParseContext, tag: Tag): boolean {
  if (context.options.stopWhen?.(tag)) return true;
  return context.stopAtTag !== null && tag >= context.stopAtTag;
}

/** Reads the value of one element; position.offset is at the value and ends after it. */
function parseValue(
  context: ParseContext,
  dataset: Dataset,
  header: ElementHeader,
  position: Position,
  end: number,
  depth: number,
): Element {
  const { buffer } = context;
  const { tag, length } = header;
  let { vr } = header;
  const valueOffset = position.offset;
  const element: Element = { tag, vr, length, offset: valueOffset };

  if (length === UNDEFINED_LENGTH) {
    if (vr === 'SQ' || (vr === 'UN' && !isEncapsulatedPixelData(tag))) {
      // A UN element of undefined length is a sequence in implicit VR little endian (PS3.5 section 6.2.2).
      const itemEncoding = vr === 'UN' ? IMPLICIT_LITTLE_ENDIAN : dataset.encoding;
      element.vr = 'SQ';
      element.items = parseSequence(context, dataset, itemEncoding, position, end, true, depth, tag);
      return element;
    }
    if (vr === 'OB' || vr === 'OW' || vr === 'UN' || isEncapsulatedPixelData(tag)) {
      skipFragments(context, dataset.encoding, position, end, tag);
      return element;
    }
    throw new DicomParseError(`Element ${formatTag(tag)} with VR ${vr} has undefined length, which only SQ, OB, OW and UN allow`, valueOffset);
  }

  if (valueOffset + length > end) {
    const truncated = end >= buffer.length;
    const remaining = Math.max(0, end - valueOffset);
    const reason = truncated
      ? `The ${length}-byte value of ${formatTag(tag)} (${vr}) needs ${length - remaining} more bytes`
      : `Value of ${formatTag(tag)} (${vr}) has length ${length} but only ${remaining} bytes remain`;
    throw new DicomParseError(reason, valueOffset, truncated);
  }

  if (vr === 'UN' && length > 0) {
    const dictionaryVr = lookupVr(tag);
    // A UN value contains the bytes in the transfer syntax's byte order, but a sequence inside is
    // implicit VR little endian (PS3.5 section 6.2.2).
    if (dictionaryVr === 'SQ' && looksLikeItem(buffer, valueOffset)) {
      vr = 'SQ';
    } else if (dictionaryVr !== 'UN') {
      element.vr = dictionaryVr;
    }
    if (vr === 'SQ') {
      element.vr = 'SQ';
      element.items = parseSequence(context, dataset, IMPLICIT_LITTLE_ENDIAN, position, valueOffset + length, false, depth, tag);
      position.offset = valueOffset + length;
      return element;
    }
  }

  if (vr === 'SQ') {
    element.items = parseSequence(context, dataset, dataset.encoding, position, valueOffset + length, false, depth, tag);
    position.offset = valueOffset + length;
    return element;
  }

  element.value = buffer.subarray(valueOffset, valueOffset + length);
  position.offset = valueOffset + length;
  return element;
}

function isEncapsulatedPixelData(tag: Tag): boolean {
  return tag === Tags.PixelData;
}

function looksLikeItem(buffer: Buffer, offset: number): boolean {
  return offset + 4 <= buffer.length && buffer.readUInt32LE(offset) === 0xe000fffe;
}

/**
 * Parses the items of a sequence. With undefinedLength the sequence ends at a
 * Sequence Delimitation Item, otherwise at `end`. Items inherit the character
 * sets of the enclosing data set (PS3.5 section 7.5.3) unless they declare their own.
 */
function parseSequence(
  context: ParseContext,
  parent: Dataset,
  encoding: DatasetEncoding,
  position: Position,
  end: number,
  undefinedLength: boolean,
  depth: number,
  sequenceTag: Tag,
): Dataset[] {
  if (depth >= MAX_SEQUENCE_DEPTH) {
    throw new DicomParseError(`Sequence ${formatTag(sequenceTag)} is nested more than ${MAX_SEQUENCE_DEPTH} levels deep`, position.offset);
  }
  const { buffer } = context;
  const items: Dataset[] = [];

  while (position.offset < end || undefinedLength) {
    const itemOffset = position.offset;
    requireBytes(context, itemOffset, 8, end, () => `Item header in sequence ${formatTag(sequenceTag)}`);
    const tag = readTag(buffer, itemOffset, encoding.littleEndian);
    const length = readUint32(buffer, itemOffset + 4, encoding.littleEndian);

    if (tag === Tags.SequenceDelimitationItem) {
      position.offset = itemOffset + 8;
      if (undefinedLength) return items;
      context.warnings.push(`Sequence ${formatTag(sequenceTag)} of defined length contains a Sequence Delimitation Item at byte offset ${itemOffset}.`);
      continue;
    }
    if (tag !== Tags.Item) {
      throw new DicomParseError(
        `Expected an item tag (FFFE,E000) in sequence ${formatTag(sequenceTag)} but found ${formatTag(tag)}`,
        itemOffset,
      );
    }

    const item = new Dataset(encoding, decodeText);
    item.characterSets = [...parent.characterSets];
    item.legacyCharacterSet = parent.legacyCharacterSet;
    items.push(item);
    position.offset = itemOffset + 8;

    if (length === UNDEFINED_LENGTH) {
      const delimited = parseElements(context, item, position, end, depth + 1, false);
      if (!delimited && undefinedLength) {
        throw new DicomParseError(`Item in sequence ${formatTag(sequenceTag)} has no Item Delimitation Item`, position.offset, true);
      }
    } else {
      const itemEnd = itemOffset + 8 + length;
      if (itemEnd > end) {
        const truncated = end >= buffer.length;
        const remaining = Math.max(0, end - itemOffset - 8);
        const reason = truncated
          ? `The ${length}-byte item in sequence ${formatTag(sequenceTag)} needs ${length - remaining} more bytes`
          : `Item in sequence ${formatTag(sequenceTag)} has length ${length} but only ${remaining} bytes remain`;
        throw new DicomParseError(reason, itemOffset, truncated);
      }
      parseElements(context, item, position, itemEnd, depth + 1, false);
      position.offset = itemEnd;
    }
  }
  return items;
}

/** Skips the Basic Offset Table and fragments of encapsulated pixel data (PS3.5 section A.4). */
function skipFragments(context: ParseContext, encoding: DatasetEncoding, position: Position, end: number, tag: Tag): void {
  const { buffer } = context;
  for (;;) {
    const itemOffset = position.offset;
    requireBytes(context, itemOffset, 8, end, () => `Fragment header in ${formatTag(tag)}`);
    const itemTag = readTag(buffer, itemOffset, encoding.littleEndian);
    const length = readUint32(buffer, itemOffset + 4, encoding.littleEndian);
    position.offset = itemOffset + 8;
    if (itemTag === Tags.SequenceDelimitationItem) return;
    if (itemTag !== Tags.Item || length === UNDEFINED_LENGTH) {
      throw new DicomParseError(`Expected a fragment item in encapsulated ${formatTag(tag)} but found ${formatTag(itemTag)}`, itemOffset);
    }
    requireBytes(context, position.offset, length, end, () => `Fragment in ${formatTag(tag)}`);
    position.offset += length;
  }
}
