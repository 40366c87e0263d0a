/**
 * JPEG lossless decoder (process 14, transfer syntaxes 1.2.840.10008.1.2.4.57
 * and .70) with jpeg-lossless-decoder-js, in JavaScript.
 *
 * The decoder outputs the samples as coded, so Photometric Interpretation and
 * the colour values stay as stored. Three-component frames come out
 * colour-by-pixel.
 */
import { readJpegHeader } from './jpeg-header';
import { assertDimensions, assertFrameSize, copyOut } from './pixels';
import { CodecError, UnsupportedCodecError } from './types';
import type { DecodedFrame, ImageInfo } from './types';

const LOSSLESS_START_OF_FRAME = 0xffc3;

/** Decodes one JPEG lossless frame. */
export function decodeJpegLosslessFrame(frame: Buffer, info: ImageInfo): DecodedFrame {
  const header = readJpegHeader(frame);
  checkSupported(header, info);

  let decoded: Uint8Array | Uint16Array;
  try {
    // jpeg-lossless-decoder-js loads here, so that commands that decode no JPEG lossless frame do not pay for it at start.
    const { Decoder } = require('jpeg-lossless-decoder-js') as typeof import('jpeg-lossless-decoder-js');
    decoded = new Decoder().decode(frame.buffer, frame.byteOffset, frame.length, info.bitsAllocated / 8);
  } catch (error) {
    throw new CodecError(`jpeg-lossless-decoder-js failed to decode the JPEG lossless frame: ${(error as Error).message}`);
  }
  // The decoder writes 16-bit samples in the platform's byte order, which is little endian on x86-64 and arm64.
  const pixels = copyOut(decoded);
  assertFrameSize(pixels, info, 'jpeg-lossless-decoder-js');
  return { pixels, photometricInterpretation: info.photometricInterpretation, planarConfiguration: 0, lossy: false };
}

/** Throws UnsupportedCodecError for codestreams that jpeg-lossless-decoder-js 2.1 would decode wrongly. */
function checkSupported(header: ReturnType<typeof readJpegHeader>, info: ImageInfo): void {
  if (header.startOfFrame !== LOSSLESS_START_OF_FRAME) {
    throw new UnsupportedCodecError(
      `JPEG frame uses start of frame marker 0x${header.startOfFrame.toString(16).toUpperCase()}; only lossless Huffman frames (FFC3) can be decoded`,
    );
  }
  assertDimensions({ width: header.columns, height: header.rows, componentCount: header.componentCount }, info, 'JPEG lossless');
  if (info.bitsAllocated !== 8 && info.bitsAllocated !== 16) {
    throw new UnsupportedCodecError(`JPEG lossless frames with Bits Allocated ${info.bitsAllocated} cannot be decoded; only 8 or 16`);
  }
  if (header.precision > info.bitsAllocated) {
    throw new CodecError(`JPEG lossless frame has ${header.precision}-bit samples but Bits Allocated is ${info.bitsAllocated}`);
  }
  if (header.componentCount !== 1 && !(header.componentCount === 3 && info.bitsAllocated === 8)) {
    throw new UnsupportedCodecError(
      `JPEG lossless frames with ${header.componentCount} components of ${info.bitsAllocated} bits cannot be decoded; only 1 component, or 3 of 8 bits`,
    );
  }
  if (header.scanComponentCount !== header.componentCount) {
    throw new UnsupportedCodecError('JPEG lossless frames with one scan per component cannot be decoded; only a single interleaved scan');
  }
  if (header.successiveLow !== 0) {
    throw new UnsupportedCodecError(`JPEG lossless frame uses point transform ${header.successiveLow}, which the decoder does not undo`);
  }
}
