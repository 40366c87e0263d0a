/**
 * JPEG 2000 decoder (transfer syntaxes 1.2.840.10008.1.2.4.90 lossless and
 * .91) with OpenJPEG (WebAssembly).
 *
 * Colour rule: OpenJPEG undoes the multiple component transform that a
 * codestream declares, so YBR_RCT and YBR_ICT data sets come out as RGB
 * (PS3.5 section 8.2.4). Other Photometric Interpretations stay as stored.
 * Three-component frames come out colour-by-pixel.
 */
import { assertDimensions, assertFrameSize, copyOut, widenTo16Bits } from './pixels';
import { CodecError, UnsupportedCodecError } from './types';
import type { DecodedFrame, ImageInfo } from './types';
import { describeThrown, loadOpenJpeg, takeCodecMessages, withDecoder } from './wasm';

/** Photometric Interpretations whose components OpenJPEG converts back to RGB. */
const COMPONENT_TRANSFORMS = new Set(['YBR_RCT', 'YBR_ICT']);

/** Returns the Photometric Interpretation of a decoded JPEG 2000 frame. */
export function jpeg2000OutputPhotometric(info: ImageInfo): string {
  return COMPONENT_TRANSFORMS.has(info.photometricInterpretation) ? 'RGB' : info.photometricInterpretation;
}

/** Decodes one JPEG 2000 codestream. */
export async function decodeJpeg2000Frame(frame: Buffer, info: ImageInfo): Promise<DecodedFrame> {
  // The Cornerstone build (codec-openjpeg 1.3) writes colour frames only for 8-bit samples, and clamps signed 8-bit samples to 0.
  if (info.samplesPerPixel > 1 && info.bitsAllocated !== 8) {
    throw new UnsupportedCodecError(`JPEG 2000 colour frames with Bits Allocated ${info.bitsAllocated} cannot be decoded; only 8`);
  }
  if (info.bitsAllocated === 8 && info.pixelRepresentation === 1) {
    throw new UnsupportedCodecError('signed 8-bit JPEG 2000 frames cannot be decoded');
  }
  if (info.bitsAllocated !== 8 && info.bitsAllocated !== 16) {
    throw new UnsupportedCodecError(`JPEG 2000 frames with Bits Allocated ${info.bitsAllocated} cannot be decoded; only 8 or 16`);
  }
  const module = await loadOpenJpeg();
  takeCodecMessages('openjpeg');

  const result = withDecoder(new module.J2KDecoder(), frame, (decoder) => {
    try {
      decoder.decode();
    } catch (error) {
      throw new CodecError(`OpenJPEG failed to decode the JPEG 2000 frame: ${describeThrown(error)}`);
    }
    // This build reports a failed decode only by printing it, and then leaves the output empty.
    const printed = takeCodecMessages('openjpeg').filter((line) => line.includes('[ERROR]'));
    if (printed.length > 0) throw new CodecError(`OpenJPEG failed to decode the JPEG 2000 frame: ${printed.join('; ')}`);
    const frameInfo = decoder.getFrameInfo();
    assertDimensions(frameInfo, info, 'JPEG 2000');
    if (frameInfo.bitsPerSample > info.bitsAllocated) {
      throw new CodecError(`JPEG 2000 frame has ${frameInfo.bitsPerSample}-bit samples but Bits Allocated is ${info.bitsAllocated}`);
    }
    if (frameInfo.bitsPerSample <= 8 && info.pixelRepresentation === 1) {
      throw new UnsupportedCodecError('signed JPEG 2000 frames of 8 bits or fewer cannot be decoded');
    }
    return { pixels: copyOut(decoder.getDecodedBuffer()), reversible: decoder.getIsReversible() };
  });

  const pixels = widenTo16Bits(result.pixels, info);
  assertFrameSize(pixels, info, 'OpenJPEG');
  return {
    pixels,
    photometricInterpretation: jpeg2000OutputPhotometric(info),
    planarConfiguration: 0,
    lossy: !result.reversible,
  };
}
