/**
 * Frame source of the viewer: opens one instance file and reads its frames
 * one at a time, in the native little endian, colour-by-pixel layout.
 *
 * - Native syntaxes (implicit or explicit VR, little or big endian): only the
 *   bytes of the requested frame are read, at their file offset.
 * - Encapsulated syntaxes: the fragment table is located once, then each
 *   frame's fragments are read and decoded by codecs/decodeFrame.
 * - Deflated Explicit VR Little Endian: the whole data set is inflated once,
 *   because a deflate stream cannot be entered in the middle.
 */
import * as fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

import { canDecode, decodeFrame } from '../../dicom/codecs';
import type { ImageInfo } from '../../dicom/codecs';
import { interleavePlanes } from '../../dicom/codecs/pixels';
import { locateFrames, readFrame as readFragments } from '../../dicom/decompress-frames';
import type { Fragment } from '../../dicom/decompress-frames';
import { readDicomFileHeader } from '../../dicom/file-reader';
import type { DicomFileHeader } from '../../dicom/file-reader';
import { formatTag, UNDEFINED_LENGTH } from '../../dicom/dataset';
import type { DatasetEncoding } from '../../dicom/dataset';
import { LONG_LENGTH_VRS, KNOWN_VRS, Tags } from '../../dicom/tags';
import { describeTransferSyntax } from '../../dicom/uid';
import { ImageDecodeError, reasonOf } from './errors';
import { readViewerImageInfo } from './image-info';
import type { ViewerImageInfo } from './image-info';

/** One frame in the native layout of PS3.5 section 8.1: little endian, colour-by-pixel. */
export interface NativeFrame {
  pixels: Buffer;
  /**
   * Photometric Interpretation of `pixels`. It differs from the stored one
   * where decoding converts colour (JPEG to RGB, JPEG 2000 YBR_RCT/ICT to RGB)
   * and for native YBR_FULL_422, which is expanded to YBR_FULL.
   */
  photometricInterpretation: string;
  samplesPerPixel: number;
  /** 8, 16 or 32. One-bit frames are unpacked to one byte per pixel, with values 0 and 1. */
  bitsAllocated: number;
  bitsStored: number;
  pixelRepresentation: number;
  /** The codestream was lossy, as far as the decoder can tell; false for native data. */
  lossy: boolean;
}

/** Location of the native Pixel Data value of a file. */
interface NativeLayout {
  /** File offset of the first value byte; undefined for a deflated file, whose value is in `inflatedValue`. */
  valueOffset?: number;
  inflatedValue?: Buffer;
  valueLength: number;
  /** The value is big endian OW, so 16-bit words need swapping. */
  swapWords: boolean;
}

/** Bytes read to find the Pixel Data element header after the first element of group 7FE0. */
const ELEMENT_HEADER_BYTES = 12;

export class FrameSource {
  private file: FileHandle | undefined;
  private encapsulatedFrames: Fragment[][] | undefined;
  private nativeLayout: NativeLayout | undefined;

  private constructor(
    readonly path: string,
    readonly header: DicomFileHeader,
    readonly info: ViewerImageInfo,
    readonly transferSyntaxUid: string,
  ) {}

  /**
   * Opens an instance file and reads its header and image attributes. Throws
   * ImageDecodeError, naming the file and syntax, when the file is not an
   * image this source can read.
   */
  static async open(path: string): Promise<FrameSource> {
    let header: DicomFileHeader;
    try {
      // A truncated file keeps its readable frames: the truncation becomes a header warning, and readFrame reports the missing frames.
      header = await readDicomFileHeader(path, { partial: true });
    } catch (error) {
      throw new ImageDecodeError(path, undefined, reasonOf(error, path));
    }
    const syntax = header.transferSyntaxUid.replace(/[\0 ]+$/, '');
    const fail = (reason: string) => new ImageDecodeError(path, syntax, reason);
    const syntaxInfo = describeTransferSyntax(syntax);
    if (syntaxInfo?.deflated) {
      // The inflated data set is read whole, Pixel Data included.
      try {
        header = await readDicomFileHeader(path, { stopAtTag: null, partial: true });
      } catch (error) {
        throw fail(reasonOf(error, path));
      }
    } else if (!header.hasPixelData || header.pixelDataOffset === undefined) {
      throw fail('the file has no Pixel Data (7FE0,0010)');
    }
    if (syntaxInfo?.encapsulated && !canDecode(syntax)) throw fail('no decoder supports this transfer syntax');

    let info: ViewerImageInfo;
    try {
      info = readViewerImageInfo(header.dataset);
    } catch (error) {
      throw fail(reasonOf(error, path));
    }
    return new FrameSource(path, header, info, syntax);
  }

  /** Faults tolerated while reading the header, such as a truncated Pixel Data value. */
  get warnings(): string[] {
    return this.header.warnings;
  }

  get numberOfFrames(): number {
    return this.info.numberOfFrames;
  }

  get encapsulated(): boolean {
    return describeTransferSyntax(this.transferSyntaxUid)?.encapsulated ?? false;
  }

  /**
   * Reads frame `frameIndex` (zero-based) in the native layout. Throws
   * ImageDecodeError for an index out of range, a damaged frame or an
   * unsupported image kind.
   */
  async readFrame(frameIndex: number): Promise<NativeFrame> {
    if (!Number.isInteger(frameIndex) || frameIndex < 0 || frameIndex >= this.numberOfFrames) {
      throw new ImageDecodeError(
        this.path,
        this.transferSyntaxUid,
        `frame index ${frameIndex} is out of range; the image has ${this.numberOfFrames} frames (indexes 0 to ${this.numberOfFrames - 1})`,
      );
    }
    try {
      return this.encapsulated ? await this.readEncapsulatedFrame(frameIndex) : await this.readNativeFrame(frameIndex);
    } catch (error) {
      if (error instanceof ImageDecodeError) throw error;
      throw new ImageDecodeError(this.path, this.transferSyntaxUid, reasonOf(error), frameIndex);
    }
  }

  /** Closes the file handle; later reads open it again. */
  async close(): Promise<void> {
    const file = this.file;
    this.file = undefined;
    await file?.close();
  }

  private async openFile(): Promise<FileHandle> {
    this.file ??= await fs.promises.open(this.path, 'r');
    return this.file;
  }

  private codecImageInfo(): ImageInfo {
    const { rows, columns, bitsAllocated, bitsStored, pixelRepresentation, samplesPerPixel, planarConfiguration, photometricInterpretation } = this.info;
    return { rows, columns, bitsAllocated, bitsStored, pixelRepresentation, samplesPerPixel, planarConfiguration, photometricInterpretation };
  }

  private async readEncapsulatedFrame(frameIndex: number): Promise<NativeFrame> {
    const file = await this.openFile();
    if (!this.encapsulatedFrames) {
      const group = await locateFrames(file, this.header.pixelDataOffset!, this.header.fileSize, this.numberOfFrames, this.transferSyntaxUid);
      if (group.pixelData.frames.length < this.numberOfFrames) {
        throw new ImageDecodeError(
          this.path,
          this.transferSyntaxUid,
          `Pixel Data contains ${group.pixelData.frames.length} frames but Number of Frames is ${this.numberOfFrames}`,
        );
      }
      this.encapsulatedFrames = group.pixelData.frames;
    }
    const compressed = await readFragments(file, this.encapsulatedFrames[frameIndex]);
    const decoded = await decodeFrame(this.transferSyntaxUid, compressed, this.codecImageInfo());
    return {
      pixels: decoded.pixels,
      photometricInterpretation: decoded.photometricInterpretation,
      samplesPerPixel: this.info.samplesPerPixel,
      bitsAllocated: this.info.bitsAllocated,
      bitsStored: this.info.bitsStored,
      pixelRepresentation: this.info.pixelRepresentation,
      lossy: decoded.lossy,
    };
  }

  /** Byte size of one stored native frame; one-bit frames may start inside a byte, see readNativeFrame. */
  private storedFrameBits(): number {
    const { rows, columns, samplesPerPixel, bitsAllocated, photometricInterpretation } = this.info;
    // YBR_FULL_422 stores two luminance samples and one pair of chrominance samples for every two pixels (PS3.3 C.7.6.3.1.2).
    const samples = photometricInterpretation === 'YBR_FULL_422' && samplesPerPixel === 3 ? 2 : samplesPerPixel;
    return rows * columns * samples * bitsAllocated;
  }

  private async readNativeFrame(frameIndex: number): Promise<NativeFrame> {
    const layout = await this.locateNativePixelData();
    const frameBits = this.storedFrameBits();
    const startBit = frameIndex * frameBits;
    const startByte = Math.floor(startBit / 8);
    const byteCount = Math.ceil((startBit + frameBits) / 8) - startByte;
    if (startByte + byteCount > layout.valueLength) {
      throw new ImageDecodeError(
        this.path,
        this.transferSyntaxUid,
        `Pixel Data has ${layout.valueLength} bytes but frame ${frameIndex + 1} ends at byte ${startByte + byteCount}; the file is truncated or Number of Frames is wrong`,
        frameIndex,
      );
    }

    // Big endian OW words store their two bytes swapped, so reads there start and end on word boundaries.
    const wordAligned = layout.swapWords ? startByte - (startByte % 2) : startByte;
    const endByte = startByte + byteCount;
    const readLength = (layout.swapWords ? endByte + (endByte % 2) : endByte) - wordAligned;
    let bytes: Buffer;
    if (layout.inflatedValue) {
      bytes = Buffer.from(layout.inflatedValue.subarray(wordAligned, wordAligned + readLength));
    } else {
      bytes = Buffer.alloc(readLength);
      const file = await this.openFile();
      const { bytesRead } = await file.read(bytes, 0, readLength, layout.valueOffset! + wordAligned);
      if (bytesRead < readLength) {
        throw new ImageDecodeError(this.path, this.transferSyntaxUid, `the file ends inside frame ${frameIndex + 1}`, frameIndex);
      }
    }
    if (layout.swapWords) {
      const sampleBytes = this.info.bitsAllocated / 8;
      if (sampleBytes === 4) bytes.swap32();
      else if (bytes.length % 2 === 0) bytes.swap16();
      bytes = bytes.subarray(startByte - wordAligned, startByte - wordAligned + byteCount);
    }
    return this.toNativeFrame(bytes, startBit % 8);
  }

  /** Converts stored native bytes to the NativeFrame layout: one-bit unpacking, plane interleaving and 4:2:2 expansion. */
  private toNativeFrame(bytes: Buffer, firstBit: number): NativeFrame {
    const { rows, columns, samplesPerPixel, bitsAllocated, bitsStored, pixelRepresentation, planarConfiguration, photometricInterpretation } = this.info;
    const frame: NativeFrame = { pixels: bytes, photometricInterpretation, samplesPerPixel, bitsAllocated, bitsStored, pixelRepresentation, lossy: false };
    if (bitsAllocated === 1) {
      frame.pixels = unpackBits(bytes, firstBit, rows * columns * samplesPerPixel);
      frame.bitsAllocated = 8;
      frame.bitsStored = 1;
      return frame;
    }
    if (samplesPerPixel === 3 && photometricInterpretation === 'YBR_FULL_422') {
      frame.pixels = expandYbr422(bytes, rows, columns, bitsAllocated / 8);
      frame.photometricInterpretation = 'YBR_FULL';
      return frame;
    }
    if (samplesPerPixel > 1 && planarConfiguration === 1) frame.pixels = interleavePlanes(bytes, samplesPerPixel, bitsAllocated / 8);
    return frame;
  }

  /** Finds the native Pixel Data value: its file offset, or the inflated bytes of a deflated file. */
  private async locateNativePixelData(): Promise<NativeLayout> {
    if (this.nativeLayout) return this.nativeLayout;
    const encoding = this.header.dataset.encoding;
    const inflated = this.header.dataset.get(Tags.PixelData);
    if (describeTransferSyntax(this.transferSyntaxUid)?.deflated) {
      if (!inflated?.value) throw new ImageDecodeError(this.path, this.transferSyntaxUid, 'the inflated data set has no native Pixel Data (7FE0,0010)');
      this.nativeLayout = { inflatedValue: inflated.value, valueLength: inflated.value.length, swapWords: false };
      return this.nativeLayout;
    }
    const file = await this.openFile();
    let position = this.header.pixelDataOffset!;
    for (;;) {
      const head = Buffer.alloc(ELEMENT_HEADER_BYTES);
      const { bytesRead } = await file.read(head, 0, ELEMENT_HEADER_BYTES, position);
      if (bytesRead < 8) throw new ImageDecodeError(this.path, this.transferSyntaxUid, `the file ends inside the element header at byte offset ${position}`);
      const element = readElementHeader(head, encoding);
      if (element.length === UNDEFINED_LENGTH) {
        throw new ImageDecodeError(
          this.path,
          this.transferSyntaxUid,
          `element ${formatTag(element.tag)} at byte offset ${position} has undefined length, which a native transfer syntax does not allow`,
        );
      }
      const valueOffset = position + element.headerLength;
      if (element.tag === Tags.PixelData) {
        const valueLength = Math.min(element.length, this.header.fileSize - valueOffset);
        const swapWords = !encoding.littleEndian && (element.vr === 'OW' || this.info.bitsAllocated > 8);
        this.nativeLayout = { valueOffset, valueLength, swapWords };
        return this.nativeLayout;
      }
      if (element.tag > Tags.PixelData) break;
      position = valueOffset + element.length;
    }
    throw new ImageDecodeError(this.path, this.transferSyntaxUid, 'the file has no Pixel Data (7FE0,0010)');
  }
}

interface ElementHeader {
  tag: number;
  vr: string;
  length: number;
  headerLength: number;
}

/** Reads a top-level element header in group 7FE0; implicit VR elements take VR OW, as Pixel Data does (PS3.5 A.1). */
function readElementHeader(head: Buffer, encoding: DatasetEncoding): ElementHeader {
  const word = (at: number) => (encoding.littleEndian ? head.readUInt16LE(at) : head.readUInt16BE(at));
  const long = (at: number) => (encoding.littleEndian ? head.readUInt32LE(at) : head.readUInt32BE(at));
  const tag = ((word(0) << 16) | word(2)) >>> 0;
  const vr = head.toString('latin1', 4, 6);
  if (!encoding.explicitVr || !KNOWN_VRS.has(vr)) return { tag, vr: 'OW', length: long(4), headerLength: 8 };
  if (LONG_LENGTH_VRS.has(vr)) return { tag, vr, length: long(8), headerLength: 12 };
  return { tag, vr, length: word(6), headerLength: 8 };
}

/** Unpacks `count` one-bit samples starting at bit `firstBit` of `bytes`; the first pixel is the least significant bit (PS3.5 section 8.1.1). */
function unpackBits(bytes: Buffer, firstBit: number, count: number): Buffer {
  const output = Buffer.alloc(count);
  for (let index = 0; index < count; index++) {
    const bit = firstBit + index;
    output[index] = (bytes[bit >> 3] >> (bit & 7)) & 1;
  }
  return output;
}

/**
 * Expands native YBR_FULL_422 samples (Y1 Y2 Cb Cr for each pair of pixels)
 * to three samples per pixel, repeating the chrominance of each pair.
 */
function expandYbr422(bytes: Buffer, rows: number, columns: number, sampleBytes: number): Buffer {
  const output = Buffer.alloc(rows * columns * 3 * sampleBytes);
  const pixelCount = rows * columns;
  for (let pair = 0; pair * 2 < pixelCount; pair++) {
    const source = pair * 4 * sampleBytes;
    const y1 = source;
    const y2 = source + sampleBytes;
    const cb = source + 2 * sampleBytes;
    const cr = source + 3 * sampleBytes;
    for (let half = 0; half < 2 && pair * 2 + half < pixelCount; half++) {
      const target = (pair * 2 + half) * 3 * sampleBytes;
      bytes.copy(output, target, half === 0 ? y1 : y2, (half === 0 ? y1 : y2) + sampleBytes);
      bytes.copy(output, target + sampleBytes, cb, cb + sampleBytes);
      bytes.copy(output, target + 2 * sampleBytes, cr, cr + sampleBytes);
    }
  }
  return output;
}
