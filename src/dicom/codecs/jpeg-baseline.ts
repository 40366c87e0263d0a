/**
 * JPEG baseline (process 1) and extended 8-bit (process 2) decoder, transfer
 * syntaxes 1.2.840.10008.1.2.4.50 and .51, with libjpeg-turbo (WebAssembly).
 *
 * Colour rule: three-component frames come out as RGB, colour-by-pixel.
 * libjpeg-turbo converts from YCbCr unless the codestream marks its colour
 * space as RGB (Adobe marker with transform 0, or component IDs 'R', 'G', 'B').
 * So YBR_FULL_422 and YBR_FULL data sets become RGB with Planar Configuration 0,
 * as PS3.5 section 8.2.1 expects after decompression.
 */
import { readJpegHeader } from './jpeg-header';
import { assertDimensions, assertFrameSize, copyOut } from './pixels';
import { CodecError, UnsupportedCodecError } from './types';
import type { DecodedFrame, ImageInfo } from './types';
import { describeThrown, loadLibJpegTurbo, withDecoder } from './wasm';

/** Decodes one JPEG baseline or extended 8-bit frame. */
export async function decodeJpegBaselineFrame(frame: Buffer, info: ImageInfo): Promise<DecodedFrame> {
  const header = readJpegHeader(frame);
  if (header.precision !== 8 || info.bitsAllocated !== 8) {
    // NOTE: 12-bit JPEG extended (process 4) has no decoder here: no npm package ships a 12-bit libjpeg build.
    throw new UnsupportedCodecError(
      `JPEG frame has ${header.precision}-bit samples and Bits Allocated is ${info.bitsAllocated}; only 8-bit JPEG baseline and extended frames can be decoded`,
    );
  }
  if (info.samplesPerPixel !== 1 && info.samplesPerPixel !== 3) {
    throw new UnsupportedCodecError(`JPEG frames with ${info.samplesPerPixel} samples per pixel cannot be decoded; only 1 or 3`);
  }
  const module = await loadLibJpegTurbo();

  const pixels = withDecoder(new module.JPEGDecoder(), frame, (decoder) => {
    try {
      decoder.decode();
    } catch (error) {
      throw new CodecError(`libjpeg-turbo failed to decode the JPEG frame: ${describeThrown(error)}`);
    }
    assertDimensions(decoder.getFrameInfo(), info, 'JPEG');
    return copyOut(decoder.getDecodedBuffer());
  });

  assertFrameSize(pixels, info, 'libjpeg-turbo');
  return {
    pixels,
    photometricInterpretation: info.samplesPerPixel === 3 ? 'RGB' : info.photometricInterpretation,
    planarConfiguration: 0,
    lossy: true,
  };
}
