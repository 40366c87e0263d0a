/**
 * Rendering checks: VOI window math on synthetic frames, rescale, MONOCHROME1
 * inversion, presets, palette and YBR colour, resampling, and a comparison
 * with DCMTK's dcm2pnm rendering of real files.
 */
import * as fs from 'fs';
import * as path from 'path';

import { parseDataset } from '../../src/dicom/parser';
import {
  applyVoi,
  fitToViewport,
  FrameSource,
  minMaxWindow,
  readViewerImageInfo,
  renderFrame,
  resampleRgba,
  VOI_PRESETS,
} from '../../src/services/viewer';
import type { NativeFrame, ViewerImageInfo } from '../../src/services/viewer';
import { haveTool } from '../dicom/fixtures';
import { corpusSamples } from '../support/corpus';
import { makeTempDir, runCommand } from '../support/process';

function greyInfo(overrides: Partial<ViewerImageInfo> = {}): ViewerImageInfo {
  return {
    rows: 1,
    columns: 4,
    bitsAllocated: 16,
    bitsStored: 16,
    highBit: 15,
    pixelRepresentation: 1,
    samplesPerPixel: 1,
    planarConfiguration: 0,
    photometricInterpretation: 'MONOCHROME2',
    numberOfFrames: 1,
    rescaleSlope: 1,
    rescaleIntercept: 0,
    windows: [],
    voiLutFunction: 'LINEAR',
    ...overrides,
  };
}

/** Builds a one-row 16-bit frame from signed or unsigned values. */
function frame16(values: number[], info: ViewerImageInfo): NativeFrame {
  const pixels = Buffer.alloc(values.length * 2);
  values.forEach((value, index) => pixels.writeUInt16LE(value & 0xffff, index * 2));
  return {
    pixels,
    photometricInterpretation: info.photometricInterpretation,
    samplesPerPixel: 1,
    bitsAllocated: 16,
    bitsStored: info.bitsStored,
    pixelRepresentation: info.pixelRepresentation,
    lossy: false,
  };
}

/** Returns the red channel of every pixel. */
function reds(rgba: Uint8Array): number[] {
  const result: number[] = [];
  for (let index = 0; index < rgba.length; index += 4) result.push(rgba[index]);
  return result;
}

describe('applyVoi', () => {
  test('LINEAR edges follow PS3.3 C.11.2.1.2.1', () => {
    // Window 2048/4096 has its lower edge at 0 and its upper edge at 4095.
    const window = { center: 2048, width: 4096 };
    expect(applyVoi(0, window, 'LINEAR')).toBe(0);
    expect(applyVoi(4096, window, 'LINEAR')).toBe(255);
    expect(applyVoi(2048, window, 'LINEAR')).toBe(128);
    expect(applyVoi(-100, window, 'LINEAR')).toBe(0);
    expect(applyVoi(10000, window, 'LINEAR')).toBe(255);
  });

  test('LINEAR width 1 is a threshold', () => {
    const window = { center: 10.5, width: 1 };
    expect(applyVoi(10, window, 'LINEAR')).toBe(0);
    expect(applyVoi(11, window, 'LINEAR')).toBe(255);
  });

  test('LINEAR_EXACT edges', () => {
    const window = { center: 100, width: 50 };
    expect(applyVoi(75, window, 'LINEAR_EXACT')).toBe(0);
    expect(applyVoi(100, window, 'LINEAR_EXACT')).toBe(128);
    expect(applyVoi(125, window, 'LINEAR_EXACT')).toBe(255);
    expect(applyVoi(112.5, window, 'LINEAR_EXACT')).toBe(191);
  });

  test('SIGMOID centre is mid-grey', () => {
    const window = { center: 40, width: 400 };
    expect(applyVoi(40, window, 'SIGMOID')).toBe(128);
    expect(applyVoi(-2000, window, 'SIGMOID')).toBe(0);
    expect(applyVoi(2000, window, 'SIGMOID')).toBe(255);
  });

  test('min-max window spans the range', () => {
    const window = minMaxWindow(-1000, 3000);
    expect(applyVoi(-1000, window, 'LINEAR')).toBe(0);
    expect(applyVoi(3000, window, 'LINEAR')).toBe(255);
  });
});

describe('renderFrame greyscale', () => {
  test('rescale then preset window', () => {
    // Stored 0 with intercept -1024 is -1024 HU (air); stored 1064 is 40 HU, the soft tissue centre.
    const info = greyInfo({ rescaleIntercept: -1024, pixelRepresentation: 0 });
    const result = renderFrame(frame16([0, 1064, 824, 1264], info), info, { preset: 'soft-tissue' });
    expect(reds(result.rgba)).toEqual([0, 128, 0, 255]);
    expect(result.window).toMatchObject({ center: 40, width: 400, source: 'preset' });
  });

  test('rescale slope scales values', () => {
    const info = greyInfo({ rescaleSlope: 2, rescaleIntercept: -100, pixelRepresentation: 0 });
    const result = renderFrame(frame16([50, 100, 150, 0], info), info, { window: { center: 100.5, width: 201 } });
    // Modality values 0, 100, 200 and -100.
    expect(reds(result.rgba)).toEqual([0, 128, 255, 0]);
  });

  test('signed samples and high bits', () => {
    // Bits 12 to 15 of a 12-bit sample carry no value and must be ignored, so 0xF800 is -2048 after sign extension.
    const info = greyInfo({ bitsStored: 12, highBit: 11 });
    const result = renderFrame(frame16([0xf800, 0x07ff, 0x1000, 0xf000], info), info, { window: { center: 0, width: 4096 } });
    expect(reds(result.rgba)).toEqual([0, 255, 128, 128]);
  });

  test('file window is the default', () => {
    const info = greyInfo({ windows: [{ center: 100, width: 101 }, { center: 0, width: 10 }] });
    const first = renderFrame(frame16([49, 150, 100, 0], info), info);
    expect(first.window).toMatchObject({ center: 100, width: 101, source: 'file' });
    expect(reds(first.rgba)).toEqual([0, 255, 129, 0]);
    const second = renderFrame(frame16([50, 150, 100, 0], info), info, { fileWindowIndex: 1 });
    expect(second.window).toMatchObject({ center: 0, width: 10 });
  });

  test('min-max window without file values', () => {
    const info = greyInfo();
    const result = renderFrame(frame16([-500, 500, 0, -500], info), info);
    expect(result.window?.source).toBe('min-max');
    expect(reds(result.rgba)).toEqual([0, 255, 128, 0]);
  });

  test('MONOCHROME1 is inverted', () => {
    const info = greyInfo({ photometricInterpretation: 'MONOCHROME1' });
    const result = renderFrame(frame16([-500, 500, 0, -500], info), info);
    expect(reds(result.rgba)).toEqual([255, 0, 127, 255]);
    const inverted = renderFrame(frame16([-500, 500, 0, -500], info), info, { invert: true });
    expect(reds(inverted.rgba)).toEqual([0, 255, 128, 0]);
  });

  test('output is opaque grey RGBA', () => {
    const info = greyInfo();
    const result = renderFrame(frame16([1, 2, 3, 4], info), info);
    expect(result.rgba.length).toBe(16);
    for (let index = 0; index < 16; index += 4) {
      expect(result.rgba[index + 1]).toBe(result.rgba[index]);
      expect(result.rgba[index + 2]).toBe(result.rgba[index]);
      expect(result.rgba[index + 3]).toBe(255);
    }
  });

  test('presets have the documented values', () => {
    expect(VOI_PRESETS['soft-tissue']).toEqual({ center: 40, width: 400 });
    expect(VOI_PRESETS.lung).toEqual({ center: -600, width: 1500 });
    expect(VOI_PRESETS.bone).toEqual({ center: 300, width: 2000 });
    expect(VOI_PRESETS.brain).toEqual({ center: 40, width: 80 });
  });
});

describe('renderFrame colour', () => {
  const colourInfo = (photometricInterpretation: string): ViewerImageInfo =>
    greyInfo({ columns: 2, bitsAllocated: 8, bitsStored: 8, pixelRepresentation: 0, samplesPerPixel: 3, photometricInterpretation });
  const colourFrame = (bytes: number[], photometricInterpretation: string): NativeFrame => ({
    pixels: Buffer.from(bytes),
    photometricInterpretation,
    samplesPerPixel: 3,
    bitsAllocated: 8,
    bitsStored: 8,
    pixelRepresentation: 0,
    lossy: false,
  });

  test('RGB passes through', () => {
    const result = renderFrame(colourFrame([10, 20, 30, 200, 100, 0], 'RGB'), colourInfo('RGB'));
    expect([...result.rgba]).toEqual([10, 20, 30, 255, 200, 100, 0, 255]);
    expect(result.window).toBeUndefined();
  });

  test('YBR_FULL converts to RGB', () => {
    // Grey stays grey; Y 76, Cb 85, Cr 255 is pure red in full-range YCbCr.
    const result = renderFrame(colourFrame([128, 128, 128, 76, 85, 255], 'YBR_FULL'), colourInfo('YBR_FULL'));
    expect([...result.rgba.subarray(0, 4)]).toEqual([128, 128, 128, 255]);
    expect(result.rgba[4]).toBeGreaterThanOrEqual(253);
    expect(result.rgba[5]).toBeLessThanOrEqual(2);
    expect(result.rgba[6]).toBeLessThanOrEqual(2);
  });

  test('palette maps indices through 16-bit tables', () => {
    const ramp = (scale: number) => Uint16Array.from({ length: 4 }, (_, index) => index * scale);
    const info = greyInfo({
      bitsAllocated: 8,
      bitsStored: 8,
      pixelRepresentation: 0,
      photometricInterpretation: 'PALETTE COLOR',
      palette: {
        red: { entries: 4, firstMappedValue: 10, bitsPerEntry: 16, data: ramp(0x5500) },
        green: { entries: 4, firstMappedValue: 10, bitsPerEntry: 16, data: ramp(0x100) },
        blue: { entries: 4, firstMappedValue: 10, bitsPerEntry: 16, data: Uint16Array.from([0xffff, 0xffff, 0xffff, 0xffff]) },
        segmented: false,
      },
    });
    const frame: NativeFrame = { pixels: Buffer.from([5, 10, 12, 200]), photometricInterpretation: 'PALETTE COLOR', samplesPerPixel: 1, bitsAllocated: 8, bitsStored: 8, pixelRepresentation: 0, lossy: false };
    const result = renderFrame(frame, info);
    // Values below the first mapped value take entry 0, values past the table the last entry.
    expect(reds(result.rgba)).toEqual([0, 0, 0xaa, 0xff]);
    // Green entries reach 0x300, so the 16-bit table is scaled down by 8 bits: entry 2 (0x200) becomes 2.
    expect(result.rgba[9]).toBe(2);
    expect(result.rgba[10]).toBe(255);
  });

  test('unsupported photometric is rejected', () => {
    const info = colourInfo('YBR_PARTIAL_420');
    expect(() => renderFrame(colourFrame([1, 2, 3, 4, 5, 6], 'YBR_PARTIAL_420'), info)).toThrow(/YBR_PARTIAL_420 with 3 samples per pixel is not supported/);
  });
});

describe('readViewerImageInfo', () => {
  /** Encodes one explicit VR little endian element with a short header. */
  function element(group: number, number: number, vr: string, value: Buffer | string): Buffer {
    let bytes = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
    if (bytes.length % 2 === 1) bytes = Buffer.concat([bytes, Buffer.from(vr === 'UI' ? '\0' : ' ')]);
    const header = Buffer.alloc(8);
    header.writeUInt16LE(group, 0);
    header.writeUInt16LE(number, 2);
    header.write(vr, 4, 'latin1');
    header.writeUInt16LE(bytes.length, 6);
    return Buffer.concat([header, bytes]);
  }
  const us = (value: number) => {
    const bytes = Buffer.alloc(2);
    bytes.writeUInt16LE(value, 0);
    return bytes;
  };

  test('reads multiple windows and explanations', () => {
    const bytes = Buffer.concat([
      element(0x0028, 0x0002, 'US', us(1)),
      element(0x0028, 0x0004, 'CS', 'MONOCHROME1'),
      element(0x0028, 0x0010, 'US', us(2)),
      element(0x0028, 0x0011, 'US', us(3)),
      element(0x0028, 0x0100, 'US', us(16)),
      element(0x0028, 0x0101, 'US', us(12)),
      element(0x0028, 0x0103, 'US', us(0)),
      element(0x0028, 0x1050, 'DS', '40\\-600\\x'),
      element(0x0028, 0x1051, 'DS', '400\\1500\\10'),
      element(0x0028, 0x1052, 'DS', '-1024'),
      element(0x0028, 0x1053, 'DS', '1'),
      element(0x0028, 0x1055, 'LO', 'SOFT\\LUNG'),
      element(0x0028, 0x1056, 'CS', 'SIGMOID'),
    ]);
    const info = readViewerImageInfo(parseDataset(bytes, { explicitVr: true, littleEndian: true }));
    expect(info).toMatchObject({ rows: 2, columns: 3, bitsStored: 12, photometricInterpretation: 'MONOCHROME1', rescaleIntercept: -1024, voiLutFunction: 'SIGMOID' });
    // The third pair has a non-numeric centre and is skipped.
    expect(info.windows).toEqual([
      { center: 40, width: 400, explanation: 'SOFT' },
      { center: -600, width: 1500, explanation: 'LUNG' },
    ]);
  });

  test('missing Rows is an error', () => {
    const bytes = Buffer.concat([element(0x0028, 0x0011, 'US', us(3)), element(0x0028, 0x0100, 'US', us(16))]);
    expect(() => readViewerImageInfo(parseDataset(bytes, { explicitVr: true, littleEndian: true }))).toThrow(/Rows is missing/);
  });
});

describe('resample', () => {
  test('fit keeps aspect ratio', () => {
    expect(fitToViewport(512, 256, 800, 800)).toEqual({ width: 800, height: 400 });
    expect(fitToViewport(100, 400, 300, 200)).toEqual({ width: 50, height: 200 });
  });

  test('nearest doubles pixels', () => {
    const source = Uint8Array.from([0, 0, 0, 255, 200, 200, 200, 255]);
    const result = resampleRgba(source, 2, 1, 4, 1, 'nearest');
    expect(reds(result)).toEqual([0, 0, 200, 200]);
  });

  test('bilinear interpolates between pixels', () => {
    const source = Uint8Array.from([0, 0, 0, 255, 200, 200, 200, 255]);
    const result = resampleRgba(source, 2, 1, 4, 1, 'bilinear');
    expect(reds(result)).toEqual([0, 50, 150, 200]);
    expect(result[3]).toBe(255);
  });
});

const describeWithDcmtk = haveTool('dcm2pnm') ? describe : describe.skip;

/** Reads the pixels of a binary 8-bit PGM (P5) file. */
function readPgm(file: string): { width: number; height: number; pixels: Buffer } {
  const bytes = fs.readFileSync(file);
  const header = bytes.toString('latin1', 0, 64).match(/^P5\s+(\d+)\s+(\d+)\s+(\d+)\s/);
  if (!header) throw new Error(`${file} is not a binary PGM file`);
  return { width: Number(header[1]), height: Number(header[2]), pixels: bytes.subarray(header[0].length) };
}

describeWithDcmtk('rendering against dcm2pnm', () => {
  const cases = [
    { kind: 'ct-implicit-le', options: ['+Wi', '1'], renderOptions: {} },
    { kind: 'ct', options: ['+Ww', '40', '400'], renderOptions: { preset: 'soft-tissue' as const } },
    { kind: 'big-endian', options: ['+Wi', '1'], renderOptions: {} },
  ];

  test.each(cases)('$kind with $options', async ({ kind, options, renderOptions }) => {
    const file = corpusSamples((candidate) => candidate.kind === kind)[0].absolutePath;
    const output = path.join(makeTempDir('viewer-dcm2pnm'), 'frame.pgm');
    const result = await runCommand('dcm2pnm', [...options, file, output]);
    expect(result.code).toBe(0);
    const reference = readPgm(output);

    const source = await FrameSource.open(file);
    const rendered = renderFrame(await source.readFrame(0), source.info, renderOptions);
    await source.close();
    expect([rendered.width, rendered.height]).toEqual([reference.width, reference.height]);
    let maximum = 0;
    for (let index = 0; index < reference.pixels.length; index++) maximum = Math.max(maximum, Math.abs(rendered.rgba[index * 4] - reference.pixels[index]));
    // DCMTK rounds the LINEAR function's output differently, so one grey level of difference is allowed.
    expect(maximum).toBeLessThanOrEqual(1);
  });
});
