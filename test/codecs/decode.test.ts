/**
 * Decodes every compressed sample of the test corpus with decompressFile and
 * compares the pixels with a reference decode by DCMTK or GDCM: identical for
 * lossless syntaxes, within MAX_LOSSY_DIFFERENCE for lossy ones.
 */
import { decompressFile } from '../../src/dicom/decompress';
import { Tags } from '../../src/dicom/tags';
import { describeTransferSyntax, TransferSyntax } from '../../src/dicom/uid';
import { corpusSamples } from '../support/peers';
import { collect, maxAbsoluteDifference, parseExplicit, readPixelImage, referenceDecode, samplesOf } from './reference';

/**
 * Largest difference allowed per sample for lossy syntaxes. libjpeg-turbo and
 * DCMTK's IJG libjpeg use different inverse DCT and upsampling code, so 8-bit
 * samples can differ by a rounding step or two.
 */
const MAX_LOSSY_DIFFERENCE = 2;

const LOSSY_SYNTAXES = new Set<string>([TransferSyntax.JPEGBaseline8Bit, TransferSyntax.JPEGExtended12Bit, TransferSyntax.JPEGLSNearLossless, TransferSyntax.JPEG2000]);

const compressed = corpusSamples((file) => file.transferSyntaxUid !== null && describeTransferSyntax(file.transferSyntaxUid)?.encapsulated === true);

test('corpus has the compressed kinds', () => {
  const kinds = new Set(compressed.map((file) => file.kind));
  for (const kind of ['rle', 'jpeg-baseline', 'jpeg-lossless', 'jpeg-ls-lossless', 'jpeg-ls-lossy', 'jpeg2000-lossless', 'jpeg2000', 'us-multiframe-rle']) {
    expect(kinds).toContain(kind);
  }
});

describe.each(compressed.map((file) => [file.path, file] as const))('decompress %s', (_path, file) => {
  test('pixels match reference decode', async () => {
    const reference = await referenceDecode(file.absolutePath);
    const decoded = parseExplicit(await collect(await decompressFile(file.absolutePath)));
    const ours = readPixelImage(decoded);
    const rows = decoded.getNumber(Tags.Rows)!;
    const columns = decoded.getNumber(Tags.Columns)!;
    const frames = decoded.getNumber(0x00280008) ?? 1;
    const expectedBytes = rows * columns * ours.samplesPerPixel * (ours.bitsAllocated / 8) * frames;

    expect(frames).toBe(file.numberOfFrames);
    expect(ours.pixels.length).toBe(expectedBytes + (expectedBytes % 2));
    expect(ours.planarConfiguration).toBe(0);
    expect(ours.photometricInterpretation).toBe(reference.photometricInterpretation);

    const difference = maxAbsoluteDifference(samplesOf(ours, frames, rows, columns), samplesOf(reference, frames, rows, columns));
    if (LOSSY_SYNTAXES.has(file.transferSyntaxUid!)) expect(difference).toBeLessThanOrEqual(MAX_LOSSY_DIFFERENCE);
    else expect(difference).toBe(0);
  });
});
