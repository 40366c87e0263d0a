/**
 * RLE Lossless decoder (transfer syntax 1.2.840.10008.1.2.5, PS3.5 annex G).
 *
 * A frame starts with a 64-byte header: the number of segments and the byte
 * offset of each of up to 15 segments, all unsigned 32-bit little endian.
 * Each segment contains one byte of one sample for every pixel, PackBits coded
 * (annex G.3.1). Segments come per sample in sample order, and within a sample
 * the most significant byte comes first (annex G.2).
 */
import { assertFrameSize } from './pixels';
import { bytesPerSample, CodecError, UnsupportedCodecError } from './types';
import type { DecodedFrame, ImageInfo } from './types';

const HEADER_BYTES = 64;
const MAX_SEGMENTS = 15;

/** Decodes one RLE frame into colour-by-pixel little endian samples. Throws CodecError on damage. */
export function decodeRleFrame(frame: Buffer, info: ImageInfo): DecodedFrame {
  const sampleBytes = bytesPerSample(info);
  const segmentCount = info.samplesPerPixel * sampleBytes;
  if (segmentCount > MAX_SEGMENTS) {
    throw new UnsupportedCodecError(
      `RLE Lossless allows at most ${MAX_SEGMENTS} segments, but ${info.samplesPerPixel} samples of ${info.bitsAllocated} bits need ${segmentCount}`,
    );
  }
  if (frame.length < HEADER_BYTES) throw new CodecError(`RLE frame of ${frame.length} bytes is shorter than its 64-byte header`);

  const declaredSegments = frame.readUInt32LE(0);
  if (declaredSegments !== segmentCount) {
    throw new CodecError(
      `RLE header declares ${declaredSegments} segments, but ${info.samplesPerPixel} samples of ${info.bitsAllocated} bits need ${segmentCount}`,
    );
  }
  const offsets: number[] = [];
  for (let index = 0; index < segmentCount; index++) offsets.push(frame.readUInt32LE(4 + index * 4));

  const pixelCount = info.rows * info.columns;
  const pixels = Buffer.alloc(pixelCount * segmentCount);
  for (let segment = 0; segment < segmentCount; segment++) {
    const start = offsets[segment];
    const end = segment + 1 < segmentCount ? offsets[segment + 1] : frame.length;
    if (start < HEADER_BYTES || end > frame.length || start > end) {
      throw new CodecError(`RLE segment ${segment + 1} has invalid offsets ${start} to ${end} in a frame of ${frame.length} bytes`);
    }
    const sample = Math.floor(segment / sampleBytes);
    // Segment 0 of a sample is its most significant byte, which is the last byte in little endian.
    const byteInSample = sampleBytes - 1 - (segment % sampleBytes);
    const firstTarget = sample * sampleBytes + byteInSample;
    unpackSegment(frame, start, end, pixels, firstTarget, segmentCount, pixelCount, segment + 1);
  }

  assertFrameSize(pixels, info, 'RLE decoder');
  return { pixels, photometricInterpretation: info.photometricInterpretation, planarConfiguration: 0, lossy: false };
}

/**
 * Decodes one PackBits segment into every `stride`-th byte of `target` from
 * `firstTarget`, `count` bytes in all. A control byte n of 0 to 127 copies the
 * next n + 1 bytes, -1 to -127 repeats the next byte 1 - n times, and -128 is
 * skipped. Bytes decoded beyond `count` are ignored, because encoders pad a
 * segment to even length.
 */
function unpackSegment(
  source: Buffer,
  start: number,
  end: number,
  target: Buffer,
  firstTarget: number,
  stride: number,
  count: number,
  segmentNumber: number,
): void {
  let position = start;
  let written = 0;
  let targetIndex = firstTarget;
  while (written < count && position < end) {
    const control = source.readInt8(position++);
    if (control >= 0) {
      const literal = Math.min(control + 1, end - position, count - written);
      for (let index = 0; index < literal; index++) {
        target[targetIndex] = source[position + index];
        targetIndex += stride;
      }
      position += control + 1;
      written += literal;
    } else if (control !== -128) {
      if (position >= end) break;
      const value = source[position++];
      const repeat = Math.min(1 - control, count - written);
      for (let index = 0; index < repeat; index++) {
        target[targetIndex] = value;
        targetIndex += stride;
      }
      written += repeat;
    }
  }
  if (written < count) {
    throw new CodecError(`RLE segment ${segmentNumber} decoded to ${written} bytes but the frame needs ${count}`);
  }
}
