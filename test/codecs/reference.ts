/**
 * Reference decodes made at test time by DCMTK (dcmdrle, dcmdjpeg, dcmdjpls)
 * and GDCM (gdcmconv --raw, for JPEG 2000), and helpers that compare pixels.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Readable } from 'stream';

import type { Dataset } from '../../src/dicom/dataset';
import { readDicomFileHeaderSync } from '../../src/dicom/file-reader';
import { parseDataset } from '../../src/dicom/parser';
import { Tags } from '../../src/dicom/tags';
import { TransferSyntax } from '../../src/dicom/uid';
import { makeTempDir, runCommand } from '../support/peers';

/** The tool that decodes each encapsulated syntax of the corpus, with its arguments before the two file names. */
const REFERENCE_TOOLS: Record<string, [string, ...string[]]> = {
  [TransferSyntax.RLELossless]: ['dcmdrle', '+te'],
  [TransferSyntax.JPEGBaseline8Bit]: ['dcmdjpeg', '+te'],
  [TransferSyntax.JPEGExtended12Bit]: ['dcmdjpeg', '+te'],
  [TransferSyntax.JPEGLossless]: ['dcmdjpeg', '+te'],
  [TransferSyntax.JPEGLosslessSV1]: ['dcmdjpeg', '+te'],
  [TransferSyntax.JPEGLSLossless]: ['dcmdjpls', '+te'],
  [TransferSyntax.JPEGLSNearLossless]: ['dcmdjpls', '+te'],
  [TransferSyntax.JPEG2000Lossless]: ['gdcmconv', '--raw'],
  [TransferSyntax.JPEG2000]: ['gdcmconv', '--raw'],
};

/** Pixel Data and the attributes that describe its layout. */
export interface PixelImage {
  pixels: Buffer;
  photometricInterpretation: string;
  planarConfiguration: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  pixelRepresentation: number;
  dataset: Dataset;
}

const EXPLICIT_LITTLE_ENDIAN = { explicitVr: true, littleEndian: true };

/** Reads the native Pixel Data of an explicit VR little endian data set. */
export function readPixelImage(dataset: Dataset): PixelImage {
  const pixelData = dataset.get(Tags.PixelData);
  if (!pixelData?.value) throw new Error('data set has no native Pixel Data');
  return {
    pixels: pixelData.value,
    photometricInterpretation: dataset.getString(0x00280004) ?? '',
    planarConfiguration: dataset.getNumber(0x00280006) ?? 0,
    samplesPerPixel: dataset.getNumber(Tags.SamplesPerPixel) ?? 1,
    bitsAllocated: dataset.getNumber(Tags.BitsAllocated)!,
    bitsStored: dataset.getNumber(Tags.BitsStored)!,
    pixelRepresentation: dataset.getNumber(Tags.PixelRepresentation) ?? 0,
    dataset,
  };
}

/** Parses data set bytes in explicit VR little endian, Pixel Data included. */
export function parseExplicit(bytes: Buffer): Dataset {
  return parseDataset(bytes, EXPLICIT_LITTLE_ENDIAN, { stopAtTag: null });
}

/** Decodes a file with the DCMTK or GDCM tool for its syntax and returns the uncompressed image. */
export async function referenceDecode(file: string): Promise<PixelImage> {
  const syntax = readDicomFileHeaderSync(file).transferSyntaxUid;
  const tool = REFERENCE_TOOLS[syntax];
  if (!tool) throw new Error(`no reference decoder for transfer syntax ${syntax}`);
  const output = path.join(makeTempDir('reference'), 'decoded.dcm');
  const [command, ...options] = tool;
  const result = await runCommand(command, [...options, file, output]);
  if (result.code !== 0) throw new Error(`${command} failed on ${file} with exit code ${result.code}: ${result.stderr}`);

  const header = readDicomFileHeaderSync(output);
  if (header.transferSyntaxUid !== TransferSyntax.ExplicitVRLittleEndian) {
    throw new Error(`${command} wrote ${header.transferSyntaxUid}, not Explicit VR Little Endian`);
  }
  return readPixelImage(parseExplicit(fs.readFileSync(output).subarray(header.datasetOffset)));
}

/** Collects a stream into one buffer. */
export async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/** Returns the samples of an image as numbers, colour-by-pixel, with the sign applied for signed images. */
export function samplesOf(image: PixelImage, frameCount: number, rows: number, columns: number): Int32Array {
  const bytes = image.bitsAllocated / 8;
  const perFrame = rows * columns * image.samplesPerPixel;
  const count = perFrame * frameCount;
  const samples = new Int32Array(count);
  // Copying out of the Buffer first aligns the bytes for the typed array views (x86-64 and arm64 are little endian).
  const raw = new Uint8Array(image.pixels.subarray(0, count * bytes));
  if (bytes === 1) samples.set(raw);
  else if (bytes === 2) samples.set(new Uint16Array(raw.buffer));
  else samples.set(new Uint32Array(raw.buffer));

  // Bits above Bits Stored carry no value (PS3.5 section 8.1.1), so they are cleared, or sign-extended for signed images.
  const shift = 32 - image.bitsStored;
  if (shift > 0) {
    for (let index = 0; index < count; index++) {
      samples[index] = image.pixelRepresentation === 1 ? (samples[index] << shift) >> shift : (samples[index] << shift) >>> shift;
    }
  }
  if (image.samplesPerPixel === 1 || image.planarConfiguration === 0) return samples;

  // Colour-by-plane frames store sample s of pixel p at s × pixels + p; reorder them colour-by-pixel.
  const interleaved = new Int32Array(count);
  const pixels = rows * columns;
  for (let frame = 0; frame < frameCount; frame++) {
    const base = frame * perFrame;
    for (let sample = 0; sample < image.samplesPerPixel; sample++) {
      for (let pixel = 0; pixel < pixels; pixel++) {
        interleaved[base + pixel * image.samplesPerPixel + sample] = samples[base + sample * pixels + pixel];
      }
    }
  }
  return interleaved;
}

/** Returns the largest absolute difference between two equally long sample arrays. */
export function maxAbsoluteDifference(a: Int32Array, b: Int32Array): number {
  if (a.length !== b.length) throw new Error(`sample counts differ: ${a.length} and ${b.length}`);
  let max = 0;
  for (let index = 0; index < a.length; index++) {
    const difference = a[index] > b[index] ? a[index] - b[index] : b[index] - a[index];
    if (difference > max) max = difference;
  }
  return max;
}

/** SOP Instance UID of the copy that damagedJpeg2000Copy writes. */
export const DAMAGED_SOP_INSTANCE_UID = '2.25.90417263591237865409871263581234';

/**
 * Writes a copy of a JPEG 2000 file with SOP Instance UID
 * DAMAGED_SOP_INSTANCE_UID and a damaged codestream: the image size (SIZ)
 * marker segment after the start of codestream marker is overwritten, so
 * OpenJPEG cannot read the frame header. Returns the copy's path.
 */
export function damagedJpeg2000Copy(file: string): string {
  const copy = path.join(makeTempDir('damaged'), 'damaged.dcm');
  const bytes = Buffer.from(fs.readFileSync(file));
  const startOfCodestream = bytes.indexOf(Buffer.from([0xff, 0x4f, 0xff, 0x51]));
  if (startOfCodestream < 0) throw new Error(`${file} has no JPEG 2000 start of codestream marker`);
  bytes.fill(0xee, startOfCodestream + 4, startOfCodestream + 40);

  // The UID in the data set and in the file meta information is replaced in place, NUL-padded to the same length.
  const uid = readDicomFileHeaderSync(file).meta.getString(0x00020003);
  if (!uid || uid.length < DAMAGED_SOP_INSTANCE_UID.length) throw new Error(`${file} has no SOP Instance UID long enough to replace`);
  const original = Buffer.from(uid, 'latin1');
  const replacement = Buffer.from(DAMAGED_SOP_INSTANCE_UID.padEnd(uid.length, '\0'), 'latin1');
  for (let at = bytes.indexOf(original); at >= 0; at = bytes.indexOf(original, at + 1)) replacement.copy(bytes, at);
  fs.writeFileSync(copy, bytes);
  return copy;
}
