/**
 * decompressFile and decodeFrame beyond pixel values: the attributes that
 * decompression edits, Implicit VR output, frames split over fragments,
 * decoded frames owned by JavaScript, RLE edge cases and the errors.
 */
import * as fs from 'fs';
import * as path from 'path';

import { CodecError, decodeFrame, UnsupportedCodecError } from '../../src/dicom/codecs';
import type { ImageInfo } from '../../src/dicom/codecs';
import { parseDataset } from '../../src/dicom/parser';
import { chooseDecompressionTarget, decompressFile, DecompressionError, readImageInfo } from '../../src/dicom/decompress';
import { locateFrames, readFrame } from '../../src/dicom/decompress-frames';
import { readDicomFileHeaderSync } from '../../src/dicom/file-reader';
import { Tags } from '../../src/dicom/tags';
import { TransferSyntax } from '../../src/dicom/uid';
import { setLogSink } from '../../src/services/logger';
import { corpusFile, corpusPath, makeTempDir } from '../support/peers';
import { collect, parseExplicit, readPixelImage } from './reference';

const PHOTOMETRIC_INTERPRETATION = 0x00280004;
const PLANAR_CONFIGURATION = 0x00280006;
const LOSSY_IMAGE_COMPRESSION = 0x00282110;
const LOSSY_IMAGE_COMPRESSION_RATIO = 0x00282112;
const LOSSY_IMAGE_COMPRESSION_METHOD = 0x00282114;

let previousSink: (line: string) => void;
const logLines: string[] = [];
beforeAll(() => {
  previousSink = setLogSink((line) => logLines.push(line));
});
afterAll(() => {
  setLogSink(previousSink);
});

async function decompressToDataset(file: string) {
  return parseExplicit(await collect(await decompressFile(file)));
}

/** Returns the top-level elements of a file's data set with their raw values, Pixel Data excluded. */
function elementValues(file: string): Map<number, string> {
  const header = readDicomFileHeaderSync(file, { stopAtTag: null });
  const values = new Map<number, string>();
  for (const element of header.dataset.elements.values()) {
    if (element.tag === Tags.PixelData) continue;
    values.set(element.tag, element.value ? element.value.toString('hex') : `items:${element.items?.length ?? 0}`);
  }
  return values;
}

describe('decompressed attributes', () => {
  test('YBR_FULL JPEG becomes RGB', async () => {
    const dataset = await decompressToDataset(corpusPath('samples/sc/sc-rgb-jpeg-baseline.dcm').absolutePath);
    expect(dataset.getString(PHOTOMETRIC_INTERPRETATION)).toBe('RGB');
    expect(dataset.getNumber(PLANAR_CONFIGURATION)).toBe(0);
  });

  test('unmarked lossy JPEG gains lossy attributes', async () => {
    // The XA file has no Lossy Image Compression attributes at all.
    const file = corpusFile('jpeg-baseline').absolutePath;
    expect(readDicomFileHeaderSync(file).dataset.has(LOSSY_IMAGE_COMPRESSION)).toBe(false);
    const dataset = await decompressToDataset(file);
    expect(dataset.getString(LOSSY_IMAGE_COMPRESSION)).toBe('01');
    expect(dataset.getStrings(LOSSY_IMAGE_COMPRESSION_METHOD)).toEqual(['ISO_10918_1']);
    const ratios = dataset.getStrings(LOSSY_IMAGE_COMPRESSION_RATIO);
    expect(ratios).toHaveLength(1);
    expect(Number(ratios[0])).toBeGreaterThan(1);
  });

  test('existing lossy attributes kept', async () => {
    const file = corpusPath('samples/sc/sc-rgb-jpeg-baseline.dcm').absolutePath;
    const dataset = await decompressToDataset(file);
    expect(dataset.getString(LOSSY_IMAGE_COMPRESSION)).toBe('01');
    expect(dataset.getString(LOSSY_IMAGE_COMPRESSION_RATIO)).toBe('17.401');
    expect(dataset.getString(LOSSY_IMAGE_COMPRESSION_METHOD)).toBe('ISO_10918_1');
  });

  test('missing lossy method filled in', async () => {
    // The JPEG-LS near-lossless file records '01' with ratio 7 but has no method.
    const dataset = await decompressToDataset(corpusFile('jpeg-ls-lossy').absolutePath);
    expect(dataset.getString(LOSSY_IMAGE_COMPRESSION)).toBe('01');
    expect(dataset.getString(LOSSY_IMAGE_COMPRESSION_RATIO)).toBe('7');
    expect(dataset.getStrings(LOSSY_IMAGE_COMPRESSION_METHOD)).toEqual(['ISO_14495_1']);
  });

  test('lossless decompression copies other elements', async () => {
    for (const kind of ['rle', 'jpeg2000-lossless', 'jpeg-ls-lossless', 'jpeg-lossless']) {
      const file = corpusFile(kind).absolutePath;
      const output = path.join(makeTempDir('decompressed'), 'out.dcm');
      const header = readDicomFileHeaderSync(file);
      const bytes = await collect(await decompressFile(file));
      fs.writeFileSync(output, Buffer.concat([fs.readFileSync(file).subarray(0, header.datasetOffset), bytes]));

      const before = elementValues(file);
      const after = elementValues(output);
      expect([...after.keys()]).toEqual([...before.keys()].filter((tag) => tag !== Tags.ExtendedOffsetTable && tag !== Tags.ExtendedOffsetTableLengths));
      for (const [tag, value] of before) {
        if (tag === Tags.PixelData) continue;
        expect({ kind, tag: tag.toString(16), value: after.get(tag) }).toEqual({ kind, tag: tag.toString(16), value });
      }
      expect(after.has(LOSSY_IMAGE_COMPRESSION)).toBe(before.has(LOSSY_IMAGE_COMPRESSION));
    }
  });

  test('stale group lengths dropped', async () => {
    const file = corpusPath('samples/ct/ct-jpeg-lossless-legacy-date.dcm').absolutePath;
    const pixelGroupLength = 0x7fe00000;

    const dataset = await decompressToDataset(file);

    expect(elementValues(file).has(pixelGroupLength)).toBe(true);
    expect(dataset.elements.has(pixelGroupLength)).toBe(false);
    expect(dataset.elements.get(Tags.PixelData)?.length).toBe(512 * 400 * 2);
  });

  test('irreversible JPEG 2000 gets method', async () => {
    // The corpus JPEG 2000 (.91) file uses the irreversible 9-7 wavelet and records '01' with ratio 69 but no method.
    const dataset = await decompressToDataset(corpusFile('jpeg2000').absolutePath);
    expect(dataset.getString(LOSSY_IMAGE_COMPRESSION)).toBe('01');
    expect(dataset.getString(LOSSY_IMAGE_COMPRESSION_RATIO)).toBe('69');
    expect(dataset.getStrings(LOSSY_IMAGE_COMPRESSION_METHOD)).toEqual(['ISO_15444_1']);
  });

  test('reversible JPEG 2000 not marked lossy', async () => {
    const dataset = await decompressToDataset(corpusFile('jpeg2000-lossless').absolutePath);
    expect(dataset.has(LOSSY_IMAGE_COMPRESSION_METHOD)).toBe(false);
    expect(dataset.getString(LOSSY_IMAGE_COMPRESSION)).not.toBe('01');
  });
});

describe('decompressed encodings', () => {
  test('implicit VR output matches explicit', async () => {
    const file = corpusFile('us-multiframe-rle').absolutePath;
    const explicit = readPixelImage(await decompressToDataset(file));
    const implicitBytes = await collect(await decompressFile(file, TransferSyntax.ImplicitVRLittleEndian));
    const implicit = parseDataset(implicitBytes, { explicitVr: false, littleEndian: true }, { stopAtTag: null });

    expect(implicit.get(Tags.PixelData)?.value?.equals(explicit.pixels)).toBe(true);
    expect(implicit.getString(Tags.SOPInstanceUID)).toBe(corpusFile('us-multiframe-rle').sopInstanceUid);
    // Implicit VR has no VR bytes, so the first element header has a 32-bit length there instead.
    expect(implicitBytes.toString('latin1', 4, 6)).not.toMatch(/^[A-Z]{2}$/);
  });

  test('frames split over fragments', async () => {
    // Rewrites the 4-frame JPEG lossless file with each frame cut in two fragments and an empty
    // Basic Offset Table, so that the frames can only be found by their start markers.
    const file = corpusFile('jpeg-lossless').absolutePath;
    const header = readDicomFileHeaderSync(file);
    const original = fs.readFileSync(file);
    const handle = await fs.promises.open(file, 'r');
    const group = await locateFrames(handle, header.pixelDataOffset!, header.fileSize, 4, header.transferSyntaxUid);
    const frames = await Promise.all(group.pixelData.frames.map((fragments) => readFrame(handle, fragments)));
    await handle.close();

    const item = (value: Buffer) => {
      const itemHeader = Buffer.alloc(8);
      itemHeader.writeUInt32LE(0xe000fffe, 0);
      itemHeader.writeUInt32LE(value.length, 4);
      return Buffer.concat([itemHeader, value]);
    };
    const pixelDataHeader = Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    const parts = [original.subarray(0, header.pixelDataOffset!), pixelDataHeader, item(Buffer.alloc(0))];
    for (const frame of frames) {
      const cut = frame.length / 2 - ((frame.length / 2) % 2);
      parts.push(item(frame.subarray(0, cut)), item(frame.subarray(cut)));
    }
    parts.push(Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]));
    const rewritten = path.join(makeTempDir('fragments'), 'split.dcm');
    fs.writeFileSync(rewritten, Buffer.concat(parts));

    const expected = readPixelImage(await decompressToDataset(file)).pixels;
    const actual = readPixelImage(await decompressToDataset(rewritten)).pixels;
    expect(actual.equals(expected)).toBe(true);
  });

  test('damaged offset table logged and ignored', async () => {
    logLines.length = 0;
    await collect(await decompressFile(corpusFile('jpeg-lossless').absolutePath));
    expect(logLines.join('\n')).toMatch(/Basic Offset Table ignored: it has 5 entries for 4 frames/);
  });
});

describe('decodeFrame', () => {
  async function framesOf(file: string, count: number): Promise<{ frames: Buffer[]; info: ImageInfo; syntax: string }> {
    const header = readDicomFileHeaderSync(file);
    const handle = await fs.promises.open(file, 'r');
    try {
      const group = await locateFrames(handle, header.pixelDataOffset!, header.fileSize, header.dataset.getNumber(0x00280008) ?? 1, header.transferSyntaxUid);
      const frames = await Promise.all(group.pixelData.frames.slice(0, count).map((fragments) => readFrame(handle, fragments)));
      return { frames, info: readImageInfo(header.dataset), syntax: header.transferSyntaxUid };
    } finally {
      await handle.close();
    }
  }

  test.each(['jpeg-baseline', 'us-multiframe-rle'])('%s frames stay valid after next decode', async (kind) => {
    const { frames, info, syntax } = await framesOf(corpusFile(kind).absolutePath, 2);
    const first = await decodeFrame(syntax, frames[0], info);
    const snapshot = Buffer.from(first.pixels);
    const second = await decodeFrame(syntax, frames[1], info);
    expect(first.pixels.equals(snapshot)).toBe(true);
    expect(second.pixels.buffer).not.toBe(first.pixels.buffer);
  });

  test.each([
    ['jpeg2000', /OpenJPEG failed/],
    ['jpeg-ls-lossless', /CharLS failed/],
    ['jpeg-baseline', /JPEG codestream ends before its first scan header/],
    ['jpeg-lossless', /JPEG codestream ends before its first scan header/],
  ])('truncated %s frame rejected', async (kind, message) => {
    const { frames, info, syntax } = await framesOf(corpusFile(kind).absolutePath, 1);
    const truncated = frames[0].subarray(0, 40);
    await expect(decodeFrame(syntax, truncated, info)).rejects.toThrow(CodecError);
    await expect(decodeFrame(syntax, truncated, info)).rejects.toThrow(message);
  });

  test('frame size mismatch rejected', async () => {
    const { frames, info, syntax } = await framesOf(corpusFile('jpeg-ls-lossless').absolutePath, 1);
    await expect(decodeFrame(syntax, frames[0], { ...info, rows: info.rows + 1 })).rejects.toThrow(/codestream is .* but the data set has/);
  });

  test('unknown syntax rejected', async () => {
    await expect(decodeFrame(TransferSyntax.HTJ2K, Buffer.alloc(4), rleInfo(1, 1, 8))).rejects.toThrow(UnsupportedCodecError);
  });
});

function rleInfo(rows: number, columns: number, bitsAllocated: number, samplesPerPixel = 1): ImageInfo {
  return {
    rows,
    columns,
    bitsAllocated,
    bitsStored: bitsAllocated,
    pixelRepresentation: 0,
    samplesPerPixel,
    planarConfiguration: 0,
    photometricInterpretation: samplesPerPixel === 3 ? 'RGB' : 'MONOCHROME2',
  };
}

/** Builds an RLE frame from PackBits segments (PS3.5 annex G). */
function rleFrame(segments: number[][]): Buffer {
  const header = Buffer.alloc(64);
  header.writeUInt32LE(segments.length, 0);
  let offset = 64;
  segments.forEach((segment, index) => {
    header.writeUInt32LE(offset, 4 + index * 4);
    offset += segment.length;
  });
  return Buffer.concat([header, ...segments.map((segment) => Buffer.from(segment))]);
}

describe('RLE decoder', () => {
  test('16-bit samples little endian', async () => {
    // Two pixels 0x1234 and 0x1256: high bytes as a run of 2, low bytes as 2 literals.
    const frame = rleFrame([[0xff, 0x12], [0x01, 0x34, 0x56]]);
    const decoded = await decodeFrame(TransferSyntax.RLELossless, frame, rleInfo(1, 2, 16));
    expect([...decoded.pixels]).toEqual([0x34, 0x12, 0x56, 0x12]);
  });

  test('RGB planes interleaved', async () => {
    const frame = rleFrame([[0x01, 1, 2], [0xff, 7], [0x01, 8, 9, 0x80]]);
    const decoded = await decodeFrame(TransferSyntax.RLELossless, frame, rleInfo(1, 2, 8, 3));
    expect([...decoded.pixels]).toEqual([1, 7, 8, 2, 7, 9]);
    expect(decoded.planarConfiguration).toBe(0);
  });

  test('padding after segment ignored', async () => {
    // A run of 3 for 2 pixels: encoders pad segments to even length, so extra output is dropped.
    const frame = rleFrame([[0xfe, 5]]);
    const decoded = await decodeFrame(TransferSyntax.RLELossless, frame, rleInfo(1, 2, 8));
    expect([...decoded.pixels]).toEqual([5, 5]);
  });

  test('short segment rejected', async () => {
    const frame = rleFrame([[0x00, 5]]);
    await expect(decodeFrame(TransferSyntax.RLELossless, frame, rleInfo(1, 2, 8))).rejects.toThrow(/segment 1 decoded to 1 bytes but the frame needs 2/);
  });

  test('segment count mismatch rejected', async () => {
    const frame = rleFrame([[0x01, 1, 2]]);
    await expect(decodeFrame(TransferSyntax.RLELossless, frame, rleInfo(1, 2, 16))).rejects.toThrow(/declares 1 segments, but 1 samples of 16 bits need 2/);
  });
});

describe('decompression errors', () => {
  test('uncompressed file rejected', async () => {
    await expect(decompressFile(corpusFile('ct').absolutePath)).rejects.toThrow(DecompressionError);
    await expect(decompressFile(corpusFile('ct').absolutePath)).rejects.toThrow(/no decoder for pixel data in Explicit VR Little Endian/);
  });

  test('index syntax mismatch rejected', async () => {
    await expect(decompressFile(corpusFile('rle').absolutePath, TransferSyntax.ExplicitVRLittleEndian, TransferSyntax.JPEG2000)).rejects.toThrow(/run "loader reindex"/);
  });

  test('big endian target rejected', async () => {
    await expect(decompressFile(corpusFile('rle').absolutePath, TransferSyntax.ExplicitVRBigEndian)).rejects.toThrow(/only to Explicit or Implicit VR Little Endian/);
  });

  test.each([
    [[TransferSyntax.ImplicitVRLittleEndian, TransferSyntax.ExplicitVRLittleEndian], TransferSyntax.ExplicitVRLittleEndian],
    [[TransferSyntax.ImplicitVRLittleEndian], TransferSyntax.ImplicitVRLittleEndian],
    [[TransferSyntax.ExplicitVRBigEndian], undefined],
  ])('target among %j is %s', (accepted, expected) => {
    expect(chooseDecompressionTarget(TransferSyntax.JPEG2000, accepted)).toBe(expected);
  });

  test('no target for undecodable syntax', () => {
    expect(chooseDecompressionTarget(TransferSyntax.HTJ2K, [TransferSyntax.ExplicitVRLittleEndian])).toBeUndefined();
  });
});
