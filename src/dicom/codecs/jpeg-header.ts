/**
 * Reader of the marker segments of a JPEG codestream (ITU-T T.81 annex B) up
 * to the first scan header, for the facts the decoders need to check first.
 */
import { CodecError } from './types';

export interface JpegHeader {
  /** Start of frame marker: 0xFFC0 baseline, 0xFFC1 extended, 0xFFC3 lossless, and so on. */
  startOfFrame: number;
  /** Sample precision P in bits. */
  precision: number;
  rows: number;
  columns: number;
  componentCount: number;
  /** Components in the first scan. */
  scanComponentCount: number;
  /** Ss of the first scan: the predictor selection value in a lossless process. */
  spectralStart: number;
  /** Al of the first scan: the point transform in a lossless process. */
  successiveLow: number;
}

const START_OF_IMAGE = 0xffd8;
const START_OF_SCAN = 0xffda;

/** Returns true for the start of frame markers FFC0 to FFCF, except FFC4 (DHT), FFC8 (JPG) and FFCC (DAC), which share that range. */
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xffc0 && marker <= 0xffcf && marker !== 0xffc4 && marker !== 0xffc8 && marker !== 0xffcc;
}

/** Reads the frame header and the first scan header. Throws CodecError when the bytes are not a JPEG codestream. */
export function readJpegHeader(frame: Buffer): JpegHeader {
  if (frame.length < 4 || frame.readUInt16BE(0) !== START_OF_IMAGE) {
    throw new CodecError('frame does not start with a JPEG start of image marker (FFD8)');
  }
  let position = 2;
  let header: Omit<JpegHeader, 'scanComponentCount' | 'spectralStart' | 'successiveLow'> | undefined;
  while (position + 4 <= frame.length) {
    const marker = frame.readUInt16BE(position);
    if (marker >> 8 !== 0xff) throw new CodecError(`expected a JPEG marker at byte ${position} but found 0x${marker.toString(16)}`);
    if (marker === 0xffff) {
      position += 1; // A fill byte before a marker.
      continue;
    }
    const length = frame.readUInt16BE(position + 2);
    const body = position + 4;
    if (body + length - 2 > frame.length) break;
    if (isStartOfFrame(marker) && length >= 8) {
      header = {
        startOfFrame: marker,
        precision: frame[body],
        rows: frame.readUInt16BE(body + 1),
        columns: frame.readUInt16BE(body + 3),
        componentCount: frame[body + 5],
      };
    }
    if (marker === START_OF_SCAN) {
      if (!header) throw new CodecError('JPEG scan header comes before any frame header');
      const scanComponentCount = frame[body];
      const afterComponents = body + 1 + scanComponentCount * 2;
      return {
        ...header,
        scanComponentCount,
        spectralStart: frame[afterComponents],
        successiveLow: frame[afterComponents + 2] & 0x0f,
      };
    }
    position += 2 + length;
  }
  throw new CodecError('JPEG codestream ends before its first scan header');
}
