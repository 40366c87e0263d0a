/**
 * Locates the frames of encapsulated Pixel Data in a file (PS3.5 annex A.4)
 * without reading the compressed bytes: the item headers are read one by one,
 * and the frames are then read one at a time.
 *
 * Pixel Data of undefined length contains a Basic Offset Table item, then one
 * fragment item per stretch of compressed bytes, then a Sequence Delimitation
 * Item. A frame spans one or more whole fragments. Frame boundaries come from,
 * in this order: the Basic Offset Table when it is not empty, else the
 * Extended Offset Table (7FE0,0001), either only when it has one entry per
 * frame and each entry is the start of a fragment; then a single frame taking
 * every fragment, one fragment per frame when the counts are equal, and else
 * the codestream start marker at the start of a fragment (JPEG and JPEG-LS
 * FFD8, JPEG 2000 FF4F FF51).
 */
import type { FileHandle } from 'node:fs/promises';

import { formatTag, Tag, UNDEFINED_LENGTH } from './dataset';
import { Tags } from './tags';
import { TransferSyntax } from './uid';

/** The Pixel Data layout is invalid, or its frame boundaries cannot be found. */
export class EncapsulationError extends Error {
  override name = 'EncapsulationError';
}

/** A fragment: `length` compressed bytes at file offset `offset`. */
export interface Fragment {
  offset: number;
  length: number;
}

export interface EncapsulatedPixelData {
  /** File offset of the Pixel Data element's tag. */
  elementOffset: number;
  /** File offset just after the Sequence Delimitation Item. */
  endOffset: number;
  /** Fragments of each frame, in order. */
  frames: Fragment[][];
  /** Compressed bytes in all fragments, item headers excluded. */
  compressedBytes: number;
}

/** Top-level elements from the start of group 7FE0 to the end of Pixel Data. */
export interface PixelDataGroup {
  pixelData: EncapsulatedPixelData;
  /** Faults worked around, such as an offset table that does not fit the fragments. */
  warnings: string[];
  /** Byte ranges of elements before Pixel Data other than the offset tables, which stay in the output. */
  keptRanges: { start: number; end: number }[];
}

const ITEM_HEADER_BYTES = 8;
const EXPLICIT_LONG_HEADER_BYTES = 12;
const LONG_LENGTH_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

/** Bytes per entry of the Extended Offset Table (OV) and of its lengths (OV). */
const EXTENDED_OFFSET_ENTRY_BYTES = 8;
/** Extended Offset Tables larger than this are rejected, so a damaged length cannot exhaust memory. */
const MAX_OFFSET_TABLE_BYTES = 64 * 1024 * 1024;

async function readExactly(file: FileHandle, position: number, length: number, what: string): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await file.read(buffer, 0, length, position);
  if (bytesRead < length) {
    throw new EncapsulationError(`${what} at byte offset ${position} needs ${length} bytes but the file ends after ${bytesRead}`);
  }
  return buffer;
}

/**
 * Reads the top-level elements from `start` (the first element of group 7FE0)
 * up to and including Pixel Data, in explicit VR little endian, and returns
 * where the frames are. Throws EncapsulationError when Pixel Data is missing,
 * is not encapsulated, or its items are damaged.
 */
export async function locateFrames(
  file: FileHandle,
  start: number,
  fileSize: number,
  numberOfFrames: number,
  syntaxUid: string,
): Promise<PixelDataGroup> {
  const keptRanges: { start: number; end: number }[] = [];
  let extendedOffsets: number[] | undefined;
  let position = start;

  while (position + ITEM_HEADER_BYTES <= fileSize) {
    const headLength = Math.min(EXPLICIT_LONG_HEADER_BYTES, fileSize - position);
    const head = await readExactly(file, position, headLength, 'element header');
    const tag: Tag = ((head.readUInt16LE(0) << 16) | head.readUInt16LE(2)) >>> 0;
    const vr = head.toString('latin1', 4, 6);
    const longForm = LONG_LENGTH_VRS.has(vr);
    if (longForm && headLength < EXPLICIT_LONG_HEADER_BYTES) {
      throw new EncapsulationError(`element ${formatTag(tag)} at byte offset ${position} is cut short by the end of the file`);
    }
    const headerBytes = longForm ? EXPLICIT_LONG_HEADER_BYTES : ITEM_HEADER_BYTES;
    const length = longForm ? head.readUInt32LE(8) : head.readUInt16LE(6);

    if (tag === Tags.PixelData) {
      if (length !== UNDEFINED_LENGTH) {
        throw new EncapsulationError(`Pixel Data at byte offset ${position} has defined length ${length}, so it is not encapsulated`);
      }
      const items = await readItems(file, position + headerBytes, fileSize);
      const warnings: string[] = [];
      const frames = splitFrames(items, numberOfFrames, syntaxUid, extendedOffsets, warnings);
      return { pixelData: { elementOffset: position, endOffset: items.endOffset, frames, compressedBytes: items.compressedBytes }, keptRanges, warnings };
    }
    if (tag > Tags.PixelData) break;
    if (length === UNDEFINED_LENGTH) {
      throw new EncapsulationError(`element ${formatTag(tag)} at byte offset ${position} before Pixel Data has undefined length`);
    }
    const end = position + headerBytes + length;
    if (end > fileSize) throw new EncapsulationError(`element ${formatTag(tag)} at byte offset ${position} runs past the end of the file`);

    if (tag === Tags.ExtendedOffsetTable) {
      if (length > MAX_OFFSET_TABLE_BYTES || length % EXTENDED_OFFSET_ENTRY_BYTES !== 0) {
        throw new EncapsulationError(`Extended Offset Table has invalid length ${length}`);
      }
      const table = await readExactly(file, position + headerBytes, length, 'Extended Offset Table');
      extendedOffsets = [];
      for (let index = 0; index < length; index += EXTENDED_OFFSET_ENTRY_BYTES) extendedOffsets.push(Number(table.readBigUInt64LE(index)));
    } else if (tag !== Tags.ExtendedOffsetTableLengths) {
      keptRanges.push({ start: position, end });
    }
    position = end;
  }
  throw new EncapsulationError('the data set has no Pixel Data (7FE0,0010)');
}

interface Item extends Fragment {
  /** Offset of the item's tag, counted from the first byte after the Basic Offset Table item (PS3.5 A.4). */
  relativeOffset: number;
  /** First 4 bytes of the value, for start marker detection. */
  head: Buffer;
}

interface PixelDataItems {
  /** Entries of the Basic Offset Table; empty when the table is. */
  basicOffsets: number[];
  fragments: Item[];
  /** File offset just after the Sequence Delimitation Item. */
  endOffset: number;
  compressedBytes: number;
}

/** Reads the item headers of encapsulated Pixel Data whose first item starts at `firstItem`. */
async function readItems(file: FileHandle, firstItem: number, fileSize: number): Promise<PixelDataItems> {
  let position = firstItem;
  const basicOffsets: number[] = [];
  const fragments: Item[] = [];
  let firstFragmentOffset: number | undefined;
  let compressedBytes = 0;

  for (;;) {
    const header = await readExactly(file, position, ITEM_HEADER_BYTES, 'Pixel Data item header');
    const tag: Tag = ((header.readUInt16LE(0) << 16) | header.readUInt16LE(2)) >>> 0;
    const length = header.readUInt32LE(4);
    if (tag === Tags.SequenceDelimitationItem) {
      position += ITEM_HEADER_BYTES;
      break;
    }
    if (tag !== Tags.Item) {
      throw new EncapsulationError(`expected an item tag (FFFE,E000) in Pixel Data but found ${formatTag(tag)} at byte offset ${position}`);
    }
    const valueStart = position + ITEM_HEADER_BYTES;
    if (length === UNDEFINED_LENGTH || valueStart + length > fileSize) {
      throw new EncapsulationError(`Pixel Data item at byte offset ${position} has invalid length ${length}`);
    }
    if (firstFragmentOffset === undefined) {
      // The first item is the Basic Offset Table: unsigned 32-bit offsets, possibly none.
      if (length % 4 !== 0) throw new EncapsulationError(`Basic Offset Table length ${length} is not a multiple of 4`);
      const table = await readExactly(file, valueStart, length, 'Basic Offset Table');
      for (let index = 0; index < length; index += 4) basicOffsets.push(table.readUInt32LE(index));
      firstFragmentOffset = valueStart + length;
    } else {
      const head = await readExactly(file, valueStart, Math.min(length, 4), 'fragment');
      fragments.push({ offset: valueStart, length, relativeOffset: position - firstFragmentOffset, head });
      compressedBytes += length;
    }
    position = valueStart + length;
  }
  return { basicOffsets, fragments, endOffset: position, compressedBytes };
}

function splitFrames(
  items: PixelDataItems,
  numberOfFrames: number,
  syntaxUid: string,
  extendedOffsets: number[] | undefined,
  warnings: string[],
): Fragment[][] {
  const { basicOffsets, fragments } = items;
  if (fragments.length === 0) throw new EncapsulationError('encapsulated Pixel Data has no fragments');

  const tableName = basicOffsets.length > 0 ? 'Basic Offset Table' : 'Extended Offset Table';
  const offsets = basicOffsets.length > 0 ? basicOffsets : extendedOffsets;
  if (offsets && offsets.length > 0) {
    const problem = checkOffsets(fragments, offsets, numberOfFrames);
    if (problem === undefined) return splitByOffsets(fragments, offsets);
    // Writers get the table wrong often enough (odd entries, one entry too many) that the other rules are tried instead.
    warnings.push(`${tableName} ignored: ${problem}`);
  }
  if (numberOfFrames === 1) return [fragments.map(toFragment)];
  if (fragments.length === numberOfFrames) return fragments.map((fragment) => [toFragment(fragment)]);
  if (syntaxUid.replace(/[\0 ]+$/, '') === TransferSyntax.RLELossless) {
    throw new EncapsulationError(`RLE Lossless needs one fragment per frame, but there are ${fragments.length} fragments for ${numberOfFrames} frames`);
  }
  return splitByStartMarkers(fragments);
}

/** Returns why an offset table does not fit the fragments, or undefined when it does. */
function checkOffsets(fragments: Item[], offsets: number[], numberOfFrames: number): string | undefined {
  if (offsets.length !== numberOfFrames) return `it has ${offsets.length} entries for ${numberOfFrames} frames`;
  const starts = new Set(fragments.map((fragment) => fragment.relativeOffset));
  for (let index = 0; index < offsets.length; index++) {
    if (!starts.has(offsets[index])) return `entry ${index + 1} (${offsets[index]}) does not point at the start of a fragment`;
    if (index > 0 && offsets[index] <= offsets[index - 1]) return `entry ${index + 1} (${offsets[index]}) is not greater than the one before`;
  }
  if (offsets[0] !== 0) return `its first entry is ${offsets[0]}, not 0`;
  return undefined;
}

function toFragment(item: Item): Fragment {
  return { offset: item.offset, length: item.length };
}

/** Groups the fragments by an offset table that checkOffsets accepted. */
function splitByOffsets(fragments: Item[], offsets: number[]): Fragment[][] {
  const frames: Fragment[][] = offsets.map(() => []);
  let frame = 0;
  for (const fragment of fragments) {
    while (frame + 1 < offsets.length && fragment.relativeOffset >= offsets[frame + 1]) frame++;
    frames[frame].push(toFragment(fragment));
  }
  return frames;
}

/** Returns true when a fragment starts with a JPEG SOI marker or a JPEG 2000 SOC and SIZ marker. */
function startsCodestream(head: Buffer): boolean {
  if (head.length >= 2 && head[0] === 0xff && head[1] === 0xd8) return true;
  return head.length >= 4 && head[0] === 0xff && head[1] === 0x4f && head[2] === 0xff && head[3] === 0x51;
}

function splitByStartMarkers(fragments: Item[]): Fragment[][] {
  if (!startsCodestream(fragments[0].head)) {
    throw new EncapsulationError('the first fragment does not start with a JPEG or JPEG 2000 codestream, so the frame boundaries cannot be found');
  }
  const frames: Fragment[][] = [];
  for (const fragment of fragments) {
    if (startsCodestream(fragment.head)) frames.push([]);
    frames[frames.length - 1].push(toFragment(fragment));
  }
  return frames;
}

/** Reads the compressed bytes of one frame, joining its fragments. */
export async function readFrame(file: FileHandle, fragments: Fragment[]): Promise<Buffer> {
  const total = fragments.reduce((sum, fragment) => sum + fragment.length, 0);
  const frame = Buffer.alloc(total);
  let written = 0;
  for (const fragment of fragments) {
    const { bytesRead } = await file.read(frame, written, fragment.length, fragment.offset);
    if (bytesRead < fragment.length) throw new EncapsulationError(`fragment at byte offset ${fragment.offset} is cut short by the end of the file`);
    written += fragment.length;
  }
  return frame;
}
