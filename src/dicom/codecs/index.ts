/**
 * Pixel data decoders for the encapsulated transfer syntaxes, behind one
 * function: decodeFrame(syntax, frame bytes, image attributes).
 *
 * | Transfer syntax                     | Decoder                              |
 * | RLE Lossless (.1.2.5)               | rle.ts, in TypeScript                |
 * | JPEG Baseline 8-bit (.4.50)         | libjpeg-turbo 8-bit (WebAssembly)    |
 * | JPEG Extended (.4.51), 8-bit only   | libjpeg-turbo 8-bit (WebAssembly)    |
 * | JPEG Lossless (.4.57, .4.70)        | jpeg-lossless-decoder-js             |
 * | JPEG-LS (.4.80, .4.81)              | CharLS (WebAssembly)                 |
 * | JPEG 2000 (.4.90, .4.91)            | OpenJPEG (WebAssembly)               |
 *
 * Output layout rules, which predictDecodedLayout states before any frame is decoded:
 * - every frame comes out little endian, colour-by-pixel (Planar Configuration 0);
 * - JPEG baseline and extended: three samples become RGB, because libjpeg-turbo
 *   converts YCbCr (YBR_FULL_422, YBR_FULL) to RGB;
 * - JPEG 2000: YBR_RCT and YBR_ICT become RGB, because OpenJPEG undoes the component transform;
 * - every other case keeps the stored Photometric Interpretation.
 */
import { TransferSyntax } from '../uid';
import { decodeJpeg2000Frame, jpeg2000OutputPhotometric } from './jpeg2000';
import { decodeJpegBaselineFrame } from './jpeg-baseline';
import { decodeJpegLosslessFrame } from './jpeg-lossless';
import { decodeJpegLsFrame } from './jpeg-ls';
import { decodeRleFrame } from './rle';
import { CodecError, UnsupportedCodecError } from './types';
import type { DecodedFrame, ImageInfo } from './types';

export { CodecError, UnsupportedCodecError, frameByteLength } from './types';
export type { DecodedFrame, ImageInfo } from './types';

type FrameDecoder = (frame: Buffer, info: ImageInfo) => DecodedFrame | Promise<DecodedFrame>;

interface SyntaxCodec {
  decode: FrameDecoder;
  /** Returns the Photometric Interpretation of the decoded frames. */
  outputPhotometric(info: ImageInfo): string;
  /**
   * Lossy Image Compression Method (0028,2114) defined term for the lossy
   * variant of this syntax (PS3.3 C.7.6.1.1.5.1); absent for lossless-only syntaxes.
   */
  lossyMethod?: string;
  /** Every frame of this syntax is lossy, whatever the codestream declares. */
  alwaysLossy: boolean;
}

const keepPhotometric = (info: ImageInfo) => info.photometricInterpretation;
const jpegPhotometric = (info: ImageInfo) => (info.samplesPerPixel === 3 ? 'RGB' : info.photometricInterpretation);

const CODECS = new Map<string, SyntaxCodec>([
  [TransferSyntax.RLELossless, { decode: decodeRleFrame, outputPhotometric: keepPhotometric, alwaysLossy: false }],
  [TransferSyntax.JPEGBaseline8Bit, { decode: decodeJpegBaselineFrame, outputPhotometric: jpegPhotometric, lossyMethod: 'ISO_10918_1', alwaysLossy: true }],
  [TransferSyntax.JPEGExtended12Bit, { decode: decodeJpegBaselineFrame, outputPhotometric: jpegPhotometric, lossyMethod: 'ISO_10918_1', alwaysLossy: true }],
  [TransferSyntax.JPEGLossless, { decode: decodeJpegLosslessFrame, outputPhotometric: keepPhotometric, alwaysLossy: false }],
  [TransferSyntax.JPEGLosslessSV1, { decode: decodeJpegLosslessFrame, outputPhotometric: keepPhotometric, alwaysLossy: false }],
  [TransferSyntax.JPEGLSLossless, { decode: decodeJpegLsFrame, outputPhotometric: keepPhotometric, alwaysLossy: false }],
  [TransferSyntax.JPEGLSNearLossless, { decode: decodeJpegLsFrame, outputPhotometric: keepPhotometric, lossyMethod: 'ISO_14495_1', alwaysLossy: false }],
  [TransferSyntax.JPEG2000Lossless, { decode: decodeJpeg2000Frame, outputPhotometric: jpeg2000OutputPhotometric, alwaysLossy: false }],
  [TransferSyntax.JPEG2000, { decode: decodeJpeg2000Frame, outputPhotometric: jpeg2000OutputPhotometric, lossyMethod: 'ISO_15444_1', alwaysLossy: false }],
]);

function stripPadding(uid: string): string {
  return uid.replace(/[\0 ]+$/, '');
}

function codecFor(syntaxUid: string): SyntaxCodec {
  const codec = CODECS.get(stripPadding(syntaxUid));
  if (!codec) throw new UnsupportedCodecError(`no pixel data decoder for transfer syntax ${stripPadding(syntaxUid)}`);
  return codec;
}

/** Returns the transfer syntax UIDs that decodeFrame accepts. */
export function decodableSyntaxes(): string[] {
  return [...CODECS.keys()];
}

/** Returns true when decodeFrame has a decoder for the transfer syntax. Some images in it may still be unsupported. */
export function canDecode(syntaxUid: string): boolean {
  return CODECS.has(stripPadding(syntaxUid));
}

/** The Photometric Interpretation and Planar Configuration that decodeFrame returns for these image attributes. */
export function predictDecodedLayout(syntaxUid: string, info: ImageInfo): { photometricInterpretation: string; planarConfiguration: number } {
  return { photometricInterpretation: codecFor(syntaxUid).outputPhotometric(info), planarConfiguration: 0 };
}

/**
 * Returns how a syntax records lossy compression: the defined term of Lossy
 * Image Compression Method, and whether every frame in it is lossy.
 */
export function describeLossiness(syntaxUid: string): { method?: string; alwaysLossy: boolean } {
  const codec = codecFor(syntaxUid);
  return { method: codec.lossyMethod, alwaysLossy: codec.alwaysLossy };
}

/**
 * Decodes one frame of encapsulated pixel data into the native little endian
 * layout. The returned pixels are a copy owned by JavaScript, never a view of
 * codec memory, so they stay valid across later calls. Throws
 * UnsupportedCodecError for a syntax or image kind without a decoder, and
 * CodecError for a damaged frame or one that does not match `info`.
 */
export async function decodeFrame(syntaxUid: string, frame: Buffer, info: ImageInfo): Promise<DecodedFrame> {
  const codec = codecFor(syntaxUid);
  checkImageInfo(info);
  const decoded = await codec.decode(frame, info);
  const predicted = codec.outputPhotometric(info);
  if (decoded.photometricInterpretation !== predicted) {
    throw new CodecError(`decoder returned Photometric Interpretation ${decoded.photometricInterpretation} where ${predicted} was predicted`);
  }
  return decoded;
}

function checkImageInfo(info: ImageInfo): void {
  const positive = info.rows > 0 && info.columns > 0 && info.samplesPerPixel > 0;
  if (!positive || ![8, 16, 32].includes(info.bitsAllocated)) {
    throw new UnsupportedCodecError(
      `cannot decode an image of ${info.rows} rows, ${info.columns} columns, ${info.samplesPerPixel} samples per pixel ` +
        `and Bits Allocated ${info.bitsAllocated}; rows, columns and samples must be positive and Bits Allocated 8, 16 or 32`,
    );
  }
}
