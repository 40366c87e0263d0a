/**
 * Helpers that copy decoder output into the native little endian layout.
 */
import { CodecError, frameByteLength } from './types';
import type { ImageInfo } from './types';

/**
 * Copies a decoder's output buffer into a new Buffer owned by JavaScript, so
 * the result stays valid after the decoder frees or reuses its WebAssembly memory.
 */
export function copyOut(view: ArrayBufferView): Buffer {
  return Buffer.from(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
}

/**
 * Returns the samples of a colour-by-plane frame (all of sample 1, then all of
 * sample 2, ...) reordered colour-by-pixel, for `sampleBytes`-byte samples.
 */
export function interleavePlanes(planar: Buffer, samplesPerPixel: number, sampleBytes: number): Buffer {
  const pixelCount = planar.length / (samplesPerPixel * sampleBytes);
  const interleaved = Buffer.allocUnsafe(planar.length);
  for (let sample = 0; sample < samplesPerPixel; sample++) {
    const planeStart = sample * pixelCount * sampleBytes;
    for (let pixel = 0; pixel < pixelCount; pixel++) {
      const source = planeStart + pixel * sampleBytes;
      const target = (pixel * samplesPerPixel + sample) * sampleBytes;
      for (let byte = 0; byte < sampleBytes; byte++) interleaved[target + byte] = planar[source + byte];
    }
  }
  return interleaved;
}

/** Throws CodecError when a decoded frame does not have the size that the Image Pixel attributes give. */
export function assertFrameSize(pixels: Buffer, info: ImageInfo, decoderName: string): void {
  const expected = frameByteLength(info);
  if (pixels.length === expected) return;
  throw new CodecError(
    `${decoderName} decoded ${pixels.length} bytes but ${info.rows} rows × ${info.columns} columns × ` +
      `${info.samplesPerPixel} samples × ${info.bitsAllocated} bits need ${expected}`,
  );
}

/** Throws CodecError when the codestream's dimensions differ from Rows, Columns or Samples per Pixel. */
export function assertDimensions(
  decoded: { width: number; height: number; componentCount: number },
  info: ImageInfo,
  decoderName: string,
): void {
  if (decoded.width === info.columns && decoded.height === info.rows && decoded.componentCount === info.samplesPerPixel) return;
  throw new CodecError(
    `${decoderName} codestream is ${decoded.width}×${decoded.height} with ${decoded.componentCount} components, ` +
      `but the data set has Columns ${info.columns}, Rows ${info.rows} and Samples per Pixel ${info.samplesPerPixel}`,
  );
}

/**
 * Widens 8-bit decoder output to 16-bit samples where Bits Allocated is 16
 * but the codestream has at most 8 bits: OpenJPEG and CharLS size their
 * output by the codestream's precision, not by Bits Allocated. Other buffers
 * are returned unchanged.
 */
export function widenTo16Bits(pixels: Buffer, info: ImageInfo): Buffer {
  const sampleCount = info.rows * info.columns * info.samplesPerPixel;
  if (info.bitsAllocated !== 16 || pixels.length !== sampleCount) return pixels;
  const wide = Buffer.alloc(sampleCount * 2);
  for (let index = 0; index < sampleCount; index++) wide.writeUInt16LE(pixels[index], index * 2);
  return wide;
}
