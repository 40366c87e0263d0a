/**
 * Types shared by the pixel data decoders of the encapsulated transfer
 * syntaxes (PS3.5 section 8.2 and annex A.4).
 */

/** Image Pixel module attributes (PS3.3 C.7.6.3) that describe one frame. */
export interface ImageInfo {
  rows: number;
  columns: number;
  bitsAllocated: number;
  bitsStored: number;
  /** 0 for unsigned, 1 for two's complement samples. */
  pixelRepresentation: number;
  samplesPerPixel: number;
  /** 0 for colour-by-pixel, 1 for colour-by-plane; ignored for one sample per pixel. */
  planarConfiguration: number;
  photometricInterpretation: string;
}

/** One decoded frame in the native (uncompressed) little endian layout of PS3.5 section 8.1. */
export interface DecodedFrame {
  /** rows × columns × samplesPerPixel samples of bitsAllocated / 8 bytes each, owned by JavaScript. */
  pixels: Buffer;
  /** Photometric Interpretation of `pixels`, which differs from the stored one where the decoder converts colour. */
  photometricInterpretation: string;
  /** Planar Configuration of `pixels`: always 0 (colour-by-pixel) for more than one sample per pixel. */
  planarConfiguration: number;
  /**
   * The codestream was lossy, as far as the decoder can tell: always true for
   * JPEG baseline and extended, NEAR > 0 for JPEG-LS, the irreversible 9-7
   * wavelet for JPEG 2000, and false for RLE and JPEG lossless.
   */
  lossy: boolean;
}

/** A frame could not be decoded: the codestream is damaged or uses a feature the decoder lacks. */
export class CodecError extends Error {
  override name = 'CodecError';
}

/** No decoder handles this transfer syntax or this kind of image. */
export class UnsupportedCodecError extends CodecError {
  override name = 'UnsupportedCodecError';
}

/** Bytes per sample in the native layout. */
export function bytesPerSample(info: ImageInfo): number {
  return info.bitsAllocated / 8;
}

/** Byte size of one native frame. */
export function frameByteLength(info: ImageInfo): number {
  return info.rows * info.columns * info.samplesPerPixel * bytesPerSample(info);
}
