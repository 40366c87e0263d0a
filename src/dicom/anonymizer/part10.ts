/**
 * Streaming access to a Part 10 file for the anonymizer. The file meta
 * information and the data set up to the pixel data group are read into
 * memory. Group 7FE0 (Pixel Data and its offset tables) is then copied in
 * chunks, never whole.
 */
import * as zlib from 'zlib';

import { Dataset, DatasetEncoding, formatTag, Tag, tagGroup, UNDEFINED_LENGTH } from '../dataset';
import { DicomParseError, parseDataset, parseDatasetDetailed } from '../parser';
import { LONG_LENGTH_VRS, Tags } from '../tags';
import { ChunkReader } from '../transcode-reader';
import { describeTransferSyntax } from '../uid';
import { AnonymizationError } from './rules';

/** First tag of the pixel data group, which is copied and not parsed. */
const PIXEL_GROUP_START: Tag = 0x7fe00000;
/** Size of the pieces that pixel data is copied in. */
const COPY_CHUNK_BYTES = 1024 * 1024;
/** The data set before Pixel Data is read whole; a larger one is rejected. */
export const MAX_HEADER_BYTES = 256 * 1024 * 1024;
const FIRST_HEADER_READ_BYTES = 64 * 1024;

const EXPLICIT_LITTLE_ENDIAN: DatasetEncoding = { littleEndian: true, explicitVr: true };

/** A Part 10 stream whose meta information and header data set have been read. */
export interface OpenedInstance {
  meta: Dataset;
  transferSyntaxUid: string;
  encoding: DatasetEncoding;
  deflated: boolean;
  /** The data set up to, not including, group 7FE0. */
  dataset: Dataset;
  /** Reader positioned at the first element of group 7FE0 or later, or at the end. */
  reader: ChunkReader;
}

async function* drain(reader: ChunkReader): AsyncGenerator<Buffer> {
  while (!(await reader.atEnd())) {
    const available = await reader.fill(COPY_CHUNK_BYTES);
    yield await reader.read(available, 'Data set');
  }
}

async function* inflate(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const inflater = zlib.createInflateRaw();
  const feeding = (async () => {
    try {
      for await (const chunk of source) {
        if (!inflater.write(chunk)) await new Promise((resolve) => inflater.once('drain', resolve));
      }
      inflater.end();
    } catch (error) {
      inflater.destroy(error as Error);
    }
  })();
  for await (const chunk of inflater) yield chunk as Buffer;
  await feeding;
}

/**
 * Reads the file meta information (PS3.10 section 7.1), with or without the
 * 128-byte preamble. It ends where File Meta Information Group Length
 * (0002,0000) states when that end is an element boundary after the Transfer
 * Syntax UID, so group 0002 elements of the data set stay in the data set, as
 * readDicomFileHeader reads them. Otherwise it reads until the group changes.
 */
async function readMeta(reader: ChunkReader): Promise<Dataset> {
  const start = await reader.peek(132);
  if (start && start.toString('latin1', 128, 132) === 'DICM') {
    await reader.read(132, 'Preamble');
  } else {
    const first = await reader.peek(2);
    if (!first || first.readUInt16LE(0) !== 0x0002) {
      throw new AnonymizationError('not a DICOM Part 10 file: no "DICM" prefix and no file meta information');
    }
  }
  const parts: Buffer[] = [];
  let metaBytes = 0;
  let statedEnd: number | undefined;
  let hasTransferSyntax = false;
  for (;;) {
    if (metaBytes === statedEnd && hasTransferSyntax) break;
    const head = await reader.peek(8);
    if (!head || head.readUInt16LE(0) !== 0x0002) break;
    const vr = head.toString('latin1', 4, 6);
    let header: Buffer;
    let length: number;
    if (LONG_LENGTH_VRS.has(vr)) {
      header = Buffer.from(await reader.read(12, 'File meta element header'));
      length = header.readUInt32LE(8);
    } else {
      header = Buffer.from(await reader.read(8, 'File meta element header'));
      length = header.readUInt16LE(6);
    }
    const element = header.readUInt16LE(2);
    const value = Buffer.from(await reader.read(length, `File meta element ${formatTag(0x00020000 + element)}`));
    parts.push(header, value);

    // Only a group length in the first element counts, because the data set may contain another one.
    if (metaBytes === 0 && element === 0x0000 && vr === 'UL' && length === 4) statedEnd = header.length + length + value.readUInt32LE(0);
    if (element === 0x0010) hasTransferSyntax = true;
    metaBytes += header.length + length;
  }
  return parseDataset(Buffer.concat(parts), EXPLICIT_LITTLE_ENDIAN, { stopAtTag: null });
}

/**
 * Reads the data set up to group 7FE0 into memory. It parses growing
 * prefixes of the stream until the parser stops at group 7FE0 or the stream
 * ends, so a header is read at most about four times over.
 */
async function readHeaderDataset(reader: ChunkReader, encoding: DatasetEncoding): Promise<Dataset> {
  for (let size = FIRST_HEADER_READ_BYTES; ; size *= 4) {
    const available = await reader.fill(size);
    const ended = available < size;
    const bytes = available === 0 ? Buffer.alloc(0) : ((await reader.peek(available)) as Buffer);
    const result = parseDatasetDetailed(bytes, encoding, { stopAtTag: PIXEL_GROUP_START, partial: true });
    if (result.error && !(result.error.truncated && !ended)) throw result.error;
    if (!result.error && (result.stoppedAtTag !== undefined || ended)) {
      await reader.read(result.endOffset, 'Data set');
      return result.dataset;
    }
    if (size >= MAX_HEADER_BYTES) {
      throw new AnonymizationError(`the data set before Pixel Data is larger than ${MAX_HEADER_BYTES} bytes, the limit of the anonymizer`);
    }
  }
}

/** Reads the meta information and the header data set of a Part 10 stream. */
export async function openInstance(source: AsyncIterable<Buffer | string>): Promise<OpenedInstance> {
  const fileReader = new ChunkReader(source);
  const meta = await readMeta(fileReader);
  const transferSyntaxUid = (meta.getString(Tags.TransferSyntaxUID) ?? '').trim();
  if (transferSyntaxUid === '') throw new AnonymizationError('the file meta information has no Transfer Syntax UID (0002,0010)');
  const syntax = describeTransferSyntax(transferSyntaxUid);
  // Every transfer syntax other than the two below is explicit VR little endian (PS3.5 section 10).
  const encoding: DatasetEncoding = syntax ? { explicitVr: syntax.explicitVr, littleEndian: syntax.littleEndian } : EXPLICIT_LITTLE_ENDIAN;
  const deflated = syntax?.deflated === true;
  const reader = deflated ? new ChunkReader(inflate(drain(fileReader))) : fileReader;
  const dataset = await readHeaderDataset(reader, encoding);
  return { meta, transferSyntaxUid, encoding, deflated, dataset, reader };
}

function readUint16(buffer: Buffer, offset: number, littleEndian: boolean): number {
  return littleEndian ? buffer.readUInt16LE(offset) : buffer.readUInt16BE(offset);
}

function readUint32(buffer: Buffer, offset: number, littleEndian: boolean): number {
  return littleEndian ? buffer.readUInt32LE(offset) : buffer.readUInt32BE(offset);
}

function readTag(buffer: Buffer, littleEndian: boolean): Tag {
  return ((readUint16(buffer, 0, littleEndian) << 16) | readUint16(buffer, 2, littleEndian)) >>> 0;
}

async function* copyBytes(reader: ChunkReader, length: number, description: string): AsyncGenerator<Buffer> {
  for (let remaining = length; remaining > 0; ) {
    const size = Math.min(remaining, COPY_CHUNK_BYTES);
    yield await reader.read(size, description);
    remaining -= size;
  }
}

/**
 * Copies the elements of group 7FE0 byte for byte, encapsulated fragments
 * included, and returns the elements after that group through `tail`: they
 * are read whole into memory and parsed, so that the rules apply to them.
 */
export async function* copyPixelGroup(
  instance: OpenedInstance,
  tail: { dataset?: Dataset },
): AsyncGenerator<Buffer> {
  const { reader, encoding } = instance;
  const littleEndian = encoding.littleEndian;
  for (;;) {
    const head = await reader.peek(8);
    if (!head) break;
    const tag = readTag(head, littleEndian);
    if (tagGroup(tag) !== 0x7fe0) {
      const rest: Buffer[] = [];
      for await (const chunk of drain(reader)) rest.push(Buffer.from(chunk));
      const bytes = Buffer.concat(rest);
      if (bytes.some((byte) => byte !== 0)) {
        tail.dataset = parseDataset(bytes, encoding, { stopAtTag: null, characterSets: instance.dataset.characterSets });
      }
      return;
    }

    let header = Buffer.from(await reader.read(8, `Element ${formatTag(tag)} header`));
    let length: number;
    if (!encoding.explicitVr) {
      length = readUint32(header, 4, littleEndian);
    } else if (LONG_LENGTH_VRS.has(header.toString('latin1', 4, 6))) {
      header = Buffer.concat([header, await reader.read(4, `Element ${formatTag(tag)} header`)]);
      length = readUint32(header, 8, littleEndian);
    } else {
      length = readUint16(header, 6, littleEndian);
    }
    yield header;

    if (length !== UNDEFINED_LENGTH) {
      yield* copyBytes(reader, length, `Value of ${formatTag(tag)}`);
      continue;
    }
    // Encapsulated pixel data: the Basic Offset Table and fragments, then a Sequence Delimitation Item (PS3.5 section A.4).
    for (;;) {
      const item = Buffer.from(await reader.read(8, `Fragment header in ${formatTag(tag)}`));
      yield item;
      const itemTag = readTag(item, littleEndian);
      const itemLength = readUint32(item, 4, littleEndian);
      if (itemTag === Tags.SequenceDelimitationItem) break;
      if (itemTag !== Tags.Item || itemLength === UNDEFINED_LENGTH) {
        throw new DicomParseError(`Expected a fragment item in encapsulated ${formatTag(tag)} but found ${formatTag(itemTag)}`, reader.position - 8);
      }
      yield* copyBytes(reader, itemLength, `Fragment in ${formatTag(tag)}`);
    }
  }
}
