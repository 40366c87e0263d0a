/**
 * Compares the frames that FrameSource reads with reference decodes made at
 * test time: pydicom for native syntaxes, deflate and RLE; DCMTK (dcmdjpeg,
 * dcmdjpls) and GDCM (gdcmconv --raw, JPEG 2000) for the JPEG family.
 * Lossless syntaxes must match exactly, lossy ones within MAX_LOSSY_DIFFERENCE.
 */
import * as fs from 'fs';
import * as path from 'path';

import { TransferSyntax } from '../../src/dicom/uid';
import { FrameSource, ImageDecodeError } from '../../src/services/viewer';
import { maxAbsoluteDifference, referenceDecode, samplesOf } from '../codecs/reference';
import { testFile } from '../dicom/fixtures';
import { corpusSamples } from '../support/corpus';
import { makeTempDir } from '../support/process';
import { frameSamples, havePydicom, maxDifference, pydicomPixels } from './reference';

/**
 * Largest per-sample difference for lossy syntaxes: libjpeg-turbo and DCMTK's
 * IJG libjpeg use different inverse DCT and upsampling code.
 */
const MAX_LOSSY_DIFFERENCE = 2;
const LOSSY = new Set<string>([TransferSyntax.JPEGBaseline8Bit, TransferSyntax.JPEGExtended12Bit, TransferSyntax.JPEGLSNearLossless, TransferSyntax.JPEG2000]);
/** Syntaxes whose reference is pydicom's own decoder (no plugin needed). */
const PYDICOM_SYNTAXES = new Set<string>([
  TransferSyntax.ImplicitVRLittleEndian,
  TransferSyntax.ExplicitVRLittleEndian,
  TransferSyntax.ExplicitVRBigEndian,
  TransferSyntax.DeflatedExplicitVRLittleEndian,
  TransferSyntax.RLELossless,
]);
/** Frames compared per multi-frame file, so the 96-frame XA clip stays quick. */
const MAX_FRAMES_COMPARED = 12;

const NON_IMAGE_KINDS = new Set(['sr', 'rt-plan', 'rt-struct', 'ecg']);
const images = corpusSamples((file) => file.transferSyntaxUid !== null && !NON_IMAGE_KINDS.has(file.kind) && !file.kind.startsWith('charset'));

/** pydicom sample files for variants the corpus lacks. */
const PYDICOM_VARIANTS = [
  'SC_rgb_small_odd.dcm',
  'SC_ybr_full_422_uncompressed.dcm',
  'SC_rgb_rle_16bit.dcm',
  'SC_rgb_rle_32bit_2frame.dcm',
  'liver_expb_1frame.dcm',
  'liver_1frame.dcm',
  'rtdose_expb.dcm',
  'MR_small_expb.dcm',
  'SC_rgb_dcmtk_+eb+cy+np.dcm',
  'SC_rgb_dcmtk_+eb+cy+n1.dcm',
  'SC_rgb_jpeg_gdcm.dcm',
  'SC_rgb_gdcm_KY.dcm',
  'JPEG2000.dcm',
  'MR_small_jp2klossless.dcm',
].filter((name) => fs.existsSync(testFile(name)));

const pydicomAvailable = havePydicom();
if (!pydicomAvailable) console.warn('pydicom or numpy is missing for /usr/bin/python3; the pydicom comparisons are skipped');

async function compareWithReference(file: string): Promise<void> {
  const source = await FrameSource.open(file);
  try {
    const syntax = source.transferSyntaxUid;
    const frameCount = Math.min(source.numberOfFrames, MAX_FRAMES_COMPARED);
    const frames = [];
    for (let index = 0; index < frameCount; index++) frames.push(await source.readFrame(index));
    const perFrame = source.info.rows * source.info.columns * source.info.samplesPerPixel;
    for (const frame of frames) expect(frame.pixels.length).toBe(perFrame * (frame.bitsAllocated / 8));

    if (PYDICOM_SYNTAXES.has(syntax)) {
      if (!pydicomAvailable) return;
      const reference = pydicomPixels(file);
      expect(reference.frames).toBe(source.numberOfFrames);
      for (let index = 0; index < frameCount; index++) {
        const expected = reference.values.subarray(index * perFrame, (index + 1) * perFrame);
        expect(maxDifference(frameSamples(frames[index]), expected)).toBe(0);
      }
      return;
    }

    const reference = await referenceDecode(file);
    const ours = Buffer.concat(frames.map((frame) => frame.pixels));
    const oursImage = { ...reference, pixels: ours, planarConfiguration: 0 };
    const referenceSamples = samplesOf(reference, source.numberOfFrames, source.info.rows, source.info.columns).subarray(0, frameCount * perFrame);
    const difference = maxAbsoluteDifference(samplesOf(oursImage, frameCount, source.info.rows, source.info.columns), referenceSamples);
    expect(frames[0].photometricInterpretation).toBe(reference.photometricInterpretation);
    if (LOSSY.has(syntax)) expect(difference).toBeLessThanOrEqual(MAX_LOSSY_DIFFERENCE);
    else expect(difference).toBe(0);
  } finally {
    await source.close();
  }
}

test('corpus covers every syntax the viewer reads', () => {
  const syntaxes = new Set(images.map((file) => file.transferSyntaxUid));
  for (const syntax of [
    TransferSyntax.ImplicitVRLittleEndian,
    TransferSyntax.ExplicitVRLittleEndian,
    TransferSyntax.ExplicitVRBigEndian,
    TransferSyntax.DeflatedExplicitVRLittleEndian,
    TransferSyntax.RLELossless,
    TransferSyntax.JPEGBaseline8Bit,
    TransferSyntax.JPEGLosslessSV1,
    TransferSyntax.JPEGLSLossless,
    TransferSyntax.JPEGLSNearLossless,
    TransferSyntax.JPEG2000Lossless,
    TransferSyntax.JPEG2000,
  ]) {
    expect(syntaxes).toContain(syntax);
  }
});

describe.each(images.map((file) => [file.path, file] as const))('corpus %s', (_path, file) => {
  test('frames match reference decode', async () => {
    await compareWithReference(file.absolutePath);
  });
});

describe.each(PYDICOM_VARIANTS.map((name) => [name] as const))('pydicom sample %s', (name) => {
  test('frames match reference decode', async () => {
    await compareWithReference(testFile(name));
  });
});

describe('FrameSource', () => {
  test('reports image attributes', async () => {
    const source = await FrameSource.open(corpusSamples((file) => file.kind === 'ct-implicit-le')[0].absolutePath);
    expect(source.numberOfFrames).toBe(1);
    expect(source.info).toMatchObject({ rows: 512, columns: 512, bitsAllocated: 16, samplesPerPixel: 1, photometricInterpretation: 'MONOCHROME2' });
    expect(source.info.windows.length).toBeGreaterThan(0);
    expect(source.transferSyntaxUid).toBe(TransferSyntax.ImplicitVRLittleEndian);
    await source.close();
  });

  test('reads palette colour tables', async () => {
    const source = await FrameSource.open(corpusSamples((file) => file.kind === 'us-multiframe-rle')[0].absolutePath);
    expect(source.numberOfFrames).toBe(10);
    const palette = source.info.palette!;
    expect(palette).toBeDefined();
    expect(palette.segmented).toBe(false);
    expect(palette.red).toMatchObject({ entries: 256, firstMappedValue: 0, bitsPerEntry: 16 });
    expect(palette.red.data.length).toBe(256);
    await source.close();
  });

  test('truncated clip keeps readable frames', async () => {
    // A 16-frame native file cut after frame 2: frames 1 and 2 still read, frame 3 reports the truncation.
    const original = corpusSamples((file) => file.path.endsWith('mr-explicit-le-1mb.dcm'))[0].absolutePath;
    const whole = await FrameSource.open(original);
    const frameBytes = whole.info.rows * whole.info.columns * (whole.info.bitsAllocated / 8);
    const first = await whole.readFrame(0);
    const second = await whole.readFrame(1);
    const pixelStart = fs.statSync(original).size - 16 * frameBytes;
    await whole.close();

    const cut = path.join(makeTempDir('viewer-cut'), 'cut.dcm');
    fs.writeFileSync(cut, fs.readFileSync(original).subarray(0, pixelStart + 2 * frameBytes));
    const source = await FrameSource.open(cut);
    expect(source.warnings.join('\n')).toMatch(/truncated/);
    expect((await source.readFrame(0)).pixels.equals(first.pixels)).toBe(true);
    expect((await source.readFrame(1)).pixels.equals(second.pixels)).toBe(true);
    await expect(source.readFrame(2)).rejects.toThrow(/frame 3/);
    await source.close();
  });

  test('frame index out of range is rejected', async () => {
    const source = await FrameSource.open(corpusSamples((file) => file.kind === 'us-multiframe-rle')[0].absolutePath);
    await expect(source.readFrame(10)).rejects.toThrow(/frame index 10 is out of range; the image has 10 frames/);
    await expect(source.readFrame(-1)).rejects.toBeInstanceOf(ImageDecodeError);
    await source.close();
  });

  test('12-bit JPEG extended names syntax and reason', async () => {
    const file = testFile('JPGExtended.dcm');
    if (!fs.existsSync(file)) return;
    const source = await FrameSource.open(file);
    const error = await source.readFrame(0).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ImageDecodeError);
    const decodeError = error as ImageDecodeError;
    expect(decodeError.path).toBe(file);
    expect(decodeError.transferSyntaxUid).toBe(TransferSyntax.JPEGExtended12Bit);
    expect(decodeError.message).toContain(file);
    expect(decodeError.message).toContain('JPEG Extended (Process 2 and 4)');
    expect(decodeError.message).toMatch(/12-bit/);
    await source.close();
  });

  test('non-image file is rejected', async () => {
    const file = corpusSamples((candidate) => candidate.kind === 'sr')[0].absolutePath;
    await expect(FrameSource.open(file)).rejects.toThrow(/has no Pixel Data/);
  });

  test('not-DICOM file is rejected once with its path', async () => {
    const file = path.join(makeTempDir('viewer-not-dicom'), 'notes.dcm');
    fs.writeFileSync(file, 'plain text, not DICOM at all\n'.repeat(10));
    const error = (await FrameSource.open(file).catch((caught: unknown) => caught)) as Error;
    expect(error).toBeInstanceOf(ImageDecodeError);
    expect(error.message.startsWith(`${file}: cannot read image: not a DICOM file`)).toBe(true);
  });
});
