/**
 * `loader serve` rejects C-STORE data sets that are not well formed in the
 * presentation context's transfer syntax. The cases are explicit VR bytes on
 * an implicit VR context and the reverse, bytes after the last element,
 * sequences nested too deep, and plain bytes on a deflated context. Each gets status 0xC000 with an Error Comment that names the cause, one
 * WARN line with the calling AE title, the SOP Instance UID and the whole
 * reason, and leaves nothing in .incoming or the archive. storescu still
 * stores samples byte for byte afterwards.
 */
import * as fs from 'fs';
import * as path from 'path';

import { Tags } from '../../src/dicom/tags';
import { generateUid } from '../../src/dicom/uid';
import { encodeElements, type ElementSpec } from '../../src/dicom/writer';
import { setLogSink } from '../../src/services/logger';
import { incomingLeftovers } from '../support/incoming';
import { LoaderServer, corpusSamples, startLoader, storeFiles } from '../support/peers';
import { archivePathOf, echo, listStudies, readPart10, storeRawDataset } from './helpers';

const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7';
const IMPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2';
const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
const DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1.99';
const ANATOMIC_REGION_SEQUENCE = 0x00082218;
const CODE_VALUE = 0x00080100;
/** Sequence levels in the deep data set, one more than the parser's MAX_SEQUENCE_DEPTH of 64. */
const TOO_DEEP = 65;

const CANNOT_UNDERSTAND = 0xc000;

interface Instance {
  studyInstanceUid: string;
  sopInstanceUid: string;
  dataset: Buffer;
}

/** Encodes a Secondary Capture data set with 16 bytes of Pixel Data and `extra` elements, in `explicitVr` little endian. */
function secondaryCapture(explicitVr: boolean, extra: ElementSpec[] = []): Instance {
  const studyInstanceUid = generateUid();
  const sopInstanceUid = generateUid();
  const dataset = encodeElements(
    [
      { tag: Tags.SOPClassUID, vr: 'UI', value: SECONDARY_CAPTURE },
      { tag: Tags.SOPInstanceUID, vr: 'UI', value: sopInstanceUid },
      { tag: Tags.Modality, vr: 'CS', value: 'OT' },
      { tag: Tags.PatientID, vr: 'LO', value: 'STRUCTURE' },
      { tag: Tags.StudyInstanceUID, vr: 'UI', value: studyInstanceUid },
      { tag: Tags.SeriesInstanceUID, vr: 'UI', value: generateUid() },
      ...extra,
      { tag: Tags.PixelData, vr: 'OB', value: Buffer.alloc(16, 1) },
    ],
    { explicitVr, littleEndian: true },
  );
  return { studyInstanceUid, sopInstanceUid, dataset };
}

/** Returns a sequence nested `levels` deep, each item containing the next level, written with defined lengths. */
function nestedSequence(levels: number): ElementSpec {
  let element: ElementSpec = { tag: CODE_VALUE, vr: 'SH', value: 'LEAF' };
  for (let level = 0; level < levels; level++) element = { tag: ANATOMIC_REGION_SEQUENCE, vr: 'SQ', value: [[element]] };
  return element;
}

let loader: LoaderServer;

beforeAll(async () => {
  // The test's own client logs through the loader's logger; keep jest's output clean.
  setLogSink(() => undefined);
  loader = await startLoader([], { aeTitle: 'LOADER' });
});

afterAll(async () => {
  await loader?.stop();
});

/** Sends the instance's data set bytes unchanged as SENDER. */
function sendRaw(transferSyntaxUid: string, instance: Instance): Promise<{ status: number; errorComment?: string }> {
  return storeRawDataset(loader, 'SENDER', {
    sopClassUid: SECONDARY_CAPTURE,
    sopInstanceUid: instance.sopInstanceUid,
    transferSyntaxUid,
    dataset: instance.dataset,
  });
}

describe('C-STORE of a malformed data set', () => {
  const explicitOnImplicit = secondaryCapture(true);
  const implicitOnExplicit = secondaryCapture(false);
  const trailing = secondaryCapture(true);
  const trailingOffset = trailing.dataset.length;
  trailing.dataset = Buffer.concat([trailing.dataset, Buffer.from('garbage bytes!', 'latin1')]);
  const deep = secondaryCapture(true, [nestedSequence(TOO_DEEP)]);
  const plainOnDeflated = secondaryCapture(true);

  const cases: [string, string, Instance, string, RegExp][] = [
    ['explicit VR on implicit VR', IMPLICIT_VR_LITTLE_ENDIAN, explicitOnImplicit, 'explicit VR data set on an implicit VR context', /data set truncated in element \(0008,0016\)/],
    ['implicit VR on explicit VR', EXPLICIT_VR_LITTLE_ENDIAN, implicitOnExplicit, 'implicit VR data set on an explicit VR context', /invalid VR bytes 0x/],
    ['bytes after last element', EXPLICIT_VR_LITTLE_ENDIAN, trailing, `data after the last element at byte ${trailingOffset}`, /invalid VR bytes 0x/],
    ['sequence nested too deep', EXPLICIT_VR_LITTLE_ENDIAN, deep, 'Sequence (0008,2218) is nested more than 64 levels deep', /nested more than 64 levels deep/],
    ['plain bytes on deflated', DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, plainOnDeflated, 'The deflated data set could not be inflated', /could not be inflated/],
  ];

  test.each(cases)('%s rejected', async (_name, transferSyntaxUid, instance, errorComment, reason) => {
    const logOffset = loader.readLog().length;

    const result = await sendRaw(transferSyntaxUid, instance);

    expect(result.status).toBe(CANNOT_UNDERSTAND);
    expect(result.errorComment?.trim()).toBe(errorComment);
    const warnings = loader
      .readLog()
      .slice(logOffset)
      .split('\n')
      .filter((line) => / WARN /.test(line) && line.includes(instance.sopInstanceUid));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/callingAe(Title)?=SENDER/);
    expect(warnings[0]).toMatch(reason);
    expect(incomingLeftovers(loader.dirs.archiveDir)).toEqual([]);
    expect(fs.existsSync(path.join(loader.dirs.archiveDir, instance.studyInstanceUid))).toBe(false);
    expect((await listStudies(loader.dirs)).map((row) => row.studyInstanceUid)).not.toContain(instance.studyInstanceUid);
  });

  test('server still stores byte for byte', async () => {
    const samples = corpusSamples((file) => file.kind === 'ct').slice(0, 3);
    expect(samples.length).toBeGreaterThan(0);
    expect((await echo(loader, 'SENDER')).code).toBe(0);

    const result = await storeFiles(loader, samples.map((file) => file.absolutePath));

    expect(result.code).toBe(0);
    for (const file of samples) {
      const stored = readPart10(archivePathOf(loader.dirs.archiveDir, file));
      expect(stored.dataset.equals(readPart10(file.absolutePath).dataset)).toBe(true);
    }
  });
});
