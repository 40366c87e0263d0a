/**
 * ImageViewer runs the render pipeline in worker threads: results must equal
 * an in-thread render, stale requests must be cancelled, and a file that
 * cannot be decoded must produce an error naming it while the viewer keeps working.
 */
import { TransferSyntax } from '../../src/dicom/uid';
import { ImageDecodeError, ImageViewer, RenderCancelledError, RenderPipeline } from '../../src/services/viewer';
import { damagedJpeg2000Copy } from '../codecs/reference';
import { corpusFile } from '../support/corpus';

const ctFile = corpusFile('ct-implicit-le').absolutePath;
const clipFile = corpusFile('us-multiframe-rle').absolutePath;

let viewer: ImageViewer;

beforeAll(() => {
  viewer = new ImageViewer({ workers: 2 });
});

afterAll(async () => {
  await viewer.close();
});

test('worker render equals in-thread render', async () => {
  const pipeline = new RenderPipeline();
  const expected = await pipeline.render({ path: ctFile, preset: 'bone' });
  await pipeline.close();

  const result = await viewer.renderFrame({ path: ctFile, preset: 'bone' });
  expect(result.width).toBe(512);
  expect(result.height).toBe(512);
  expect(result.rgba.length).toBe(512 * 512 * 4);
  expect(Buffer.from(result.rgba).equals(Buffer.from(expected.rgba))).toBe(true);
  expect(result.window).toMatchObject({ center: 300, width: 2000, source: 'preset' });
  expect(result.info.rows).toBe(512);
  expect(result.transferSyntaxUid).toBe(TransferSyntax.ImplicitVRLittleEndian);
});

test('size fits the viewport', async () => {
  const result = await viewer.renderFrame({ path: clipFile, frame: 3, size: { width: 300, height: 300, method: 'nearest' } });
  // The clip is 600 × 430, so a 300 × 300 viewport gives 300 × 215.
  expect([result.width, result.height]).toEqual([300, 215]);
  expect(result.rgba.length).toBe(300 * 215 * 4);
  expect(result.frame).toBe(3);
  expect(result.decodedPhotometricInterpretation).toBe('PALETTE COLOR');
});

test('scrolling cancels stale requests', async () => {
  const requests = Array.from({ length: 10 }, (_, frame) => viewer.renderFrame({ path: clipFile, frame, channel: 'scroll' }));
  const outcomes = await Promise.allSettled(requests);
  const last = outcomes[9];
  expect(last.status).toBe('fulfilled');
  if (last.status === 'fulfilled') expect(last.value.frame).toBe(9);
  for (const outcome of outcomes.slice(0, 9)) {
    expect(outcome.status).toBe('rejected');
    if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(RenderCancelledError);
  }
});

test('other channels are not cancelled', async () => {
  const prefetch = viewer.renderFrame({ path: clipFile, frame: 1, channel: 'prefetch' });
  const shown = viewer.renderFrame({ path: clipFile, frame: 2, channel: 'scroll' });
  expect((await prefetch).frame).toBe(1);
  expect((await shown).frame).toBe(2);
});

test('abort signal cancels request', async () => {
  const controller = new AbortController();
  const request = viewer.renderFrame({ path: ctFile, channel: 'abort', signal: controller.signal });
  controller.abort();
  await expect(request).rejects.toBeInstanceOf(RenderCancelledError);
});

test('damaged file names file, syntax and reason', async () => {
  const damaged = damagedJpeg2000Copy(corpusFile('jpeg2000').absolutePath);
  const error = (await viewer.renderFrame({ path: damaged }).catch((caught: unknown) => caught)) as ImageDecodeError;
  expect(error).toBeInstanceOf(ImageDecodeError);
  expect(error.path).toBe(damaged);
  expect(error.transferSyntaxUid).toBe(TransferSyntax.JPEG2000);
  expect(error.frameIndex).toBe(0);
  expect(error.message).toContain(damaged);
  expect(error.message).toContain('JPEG 2000 Image Compression (1.2.840.10008.1.2.4.91)');
  expect(error.reason.length).toBeGreaterThan(0);

  // The viewer stays usable after the failure.
  const result = await viewer.renderFrame({ path: ctFile });
  expect(result.width).toBe(512);
});

test('missing file gives an error', async () => {
  const missing = '/nonexistent/viewer/missing.dcm';
  await expect(viewer.renderFrame({ path: missing })).rejects.toThrow(/\/nonexistent\/viewer\/missing\.dcm: cannot read image: .*ENOENT/);
});

test('header summary decodes character set', async () => {
  const file = corpusFile('charset-iso-ir-144');
  const summary = await viewer.readHeader(file.absolutePath);
  expect(summary.patient.name).toBe(file.patientName);
  expect(summary.characterSets).toEqual(['ISO_IR 144']);
  expect(summary.transferSyntax).toEqual({ uid: TransferSyntax.ExplicitVRLittleEndian, name: 'Explicit VR Little Endian' });
  expect(summary.study.instanceUid).toBe(file.studyInstanceUid);
  expect(summary.series.modality).toBe(file.modality);
  expect(summary.instance.sopInstanceUid).toBe(file.sopInstanceUid);
});

test('closed viewer rejects requests', async () => {
  const closing = new ImageViewer();
  await closing.close();
  await expect(closing.renderFrame({ path: ctFile })).rejects.toBeInstanceOf(RenderCancelledError);
});
