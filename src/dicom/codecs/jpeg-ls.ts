/**
 * JPEG-LS decoder (transfer syntaxes 1.2.840.10008.1.2.4.80 lossless and .81
 * near-lossless) with CharLS (WebAssembly).
 *
 * CharLS returns the samples in the codestream's interleave mode: mode 0 is
 * colour-by-plane and is reordered here, so the output is always colour-by-pixel
 * (PS3.5 section 8.2.3 makes Planar Configuration irrelevant for JPEG-LS, so it
 * is written as 0). Photometric Interpretation stays as stored: JPEG-LS in
 * DICOM applies no colour transform.
 */
import { assertDimensions, assertFrameSize, copyOut, interleavePlanes, widenTo16Bits } from './pixels';
import { bytesPerSample, CodecError, UnsupportedCodecError } from './types';
import type { DecodedFrame, ImageInfo } from './types';
import { describeThrown, loadCharls, withDecoder } from './wasm';

const INTERLEAVE_NONE = 0;

/** Decodes one JPEG-LS frame. */
export async function decodeJpegLsFrame(frame: Buffer, info: ImageInfo): Promise<DecodedFrame> {
  if (info.bitsAllocated !== 8 && info.bitsAllocated !== 16) {
    throw new UnsupportedCodecError(`JPEG-LS frames with Bits Allocated ${info.bitsAllocated} cannot be decoded; only 8 or 16`);
  }
  const module = await loadCharls();

  const result = withDecoder(new module.JpegLSDecoder(), frame, (decoder) => {
    try {
      decoder.decode();
    } catch (error) {
      throw new CodecError(`CharLS failed to decode the JPEG-LS frame: ${describeThrown(error, module)}`);
    }
    const frameInfo = decoder.getFrameInfo();
    assertDimensions(frameInfo, info, 'JPEG-LS');
    if (frameInfo.bitsPerSample > info.bitsAllocated) {
      throw new CodecError(`JPEG-LS frame has ${frameInfo.bitsPerSample}-bit samples but Bits Allocated is ${info.bitsAllocated}`);
    }
    return {
      pixels: copyOut(decoder.getDecodedBuffer()),
      interleaveMode: decoder.getInterleaveMode(),
      nearLossless: decoder.getNearLossless(),
    };
  });

  let pixels = widenTo16Bits(result.pixels, info);
  if (info.samplesPerPixel > 1 && result.interleaveMode === INTERLEAVE_NONE) {
    pixels = interleavePlanes(pixels, info.samplesPerPixel, bytesPerSample(info));
  }
  assertFrameSize(pixels, info, 'CharLS');
  return {
    pixels,
    photometricInterpretation: info.photometricInterpretation,
    planarConfiguration: 0,
    lossy: result.nearLossless > 0,
  };
}
