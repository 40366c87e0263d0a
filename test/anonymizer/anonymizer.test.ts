/**
 * Anonymizer tests on a corpus with a marker in every attribute of PS3.15
 * table E.1-1, written at test time by make-marked-corpus.py with Debian's
 * python3 and pydicom.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { PassThrough } from 'stream';

import { readDicomFileHeaderSync } from '../../src/dicom/file-reader';
import { Tags } from '../../src/dicom/tags';
import { BUILT_IN_SAFE_PRIVATE_CREATORS, createAnonymizationJob, DicomdirNotAnonymizedError } from '../../src/dicom/anonymizer';
import { shiftDate } from '../../src/dicom/anonymizer/rules';
import { corpusFile, corpusSamples, makeTempDir, REPO_ROOT, runDcmtk, startOrthanc, stopAll } from '../support/peers';

const PYTHON = '/usr/bin/python3';
const TABLE = path.join(REPO_ROOT, 'scripts', 'anonymizer', 'table-e1-1.tsv');

interface MarkedCorpus {
  files: Array<{ path: string; sop: string; series: string; study: string; reference: string | null }>;
  markers: string[];
  originalUids: string[];
  frameOfReference: string;
  /** Inputs of the hold-back rules, each with the status it must get. */
  holdBack: Array<{ path: string; expected: 'held' | 'written' }>;
  /** VL Whole Slide Microscopy images with Burned In Annotation NO, each with the status it must get. */
  wholeSlide: Array<{ path: string; expected: 'held' | 'written' }>;
}

let dir: string;
let corpus: MarkedCorpus;

beforeAll(() => {
  dir = makeTempDir('anonymizer');
  fs.mkdirSync(path.join(dir, 'in', 'study'), { recursive: true });
  const source = path.join(REPO_ROOT, 'test', '.corpus', corpusFile('ct').path);
  const output = execFileSync(PYTHON, [path.join(__dirname, 'make-marked-corpus.py'), TABLE, source, path.join(dir, 'in')], {
    encoding: 'utf8',
  });
  corpus = JSON.parse(output) as MarkedCorpus;
});

afterAll(async () => {
  await stopAll();
});

function occurrences(bytes: Buffer, text: string): number {
  let count = 0;
  for (let at = bytes.indexOf(text, 0, 'latin1'); at >= 0; at = bytes.indexOf(text, at + 1, 'latin1')) count++;
  return count;
}

/** Returns the Pixel Data element bytes: header, value or encapsulated fragments, and delimiter. */
function pixelDataBytes(file: string): Buffer {
  const header = readDicomFileHeaderSync(file);
  const bytes = fs.readFileSync(file);
  expect(header.pixelDataOffset).toBeDefined();
  const start = header.pixelDataOffset as number;
  const explicitVr = header.transferSyntaxUid !== '1.2.840.10008.1.2';
  const headerLength = explicitVr ? 12 : 8;
  const length = bytes.readUInt32LE(start + headerLength - 4);
  if (length !== 0xffffffff) return bytes.subarray(start, start + headerLength + length);
  const delimiter = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
  return bytes.subarray(start, bytes.indexOf(delimiter, start) + 8);
}

describe('marked corpus', () => {
  let outDir: string;
  let results: Awaited<ReturnType<ReturnType<typeof createAnonymizationJob>['anonymizeFile']>>[];
  let job: ReturnType<typeof createAnonymizationJob>;

  beforeAll(async () => {
    outDir = path.join(dir, 'out-default');
    job = createAnonymizationJob({ jobSecret: Buffer.from('test secret') });
    results = [];
    for (const file of corpus.files) {
      results.push(await job.anonymizeFile(file.path, path.join(outDir, `${path.basename(file.path)}`)));
    }
  });

  test('input files carry the markers', () => {
    const bytes = fs.readFileSync(corpus.files[0].path);
    expect(corpus.markers.length).toBeGreaterThan(400);
    expect(occurrences(bytes, 'MRK')).toBeGreaterThan(4 * 400);
  });

  test('no marker remains in any output byte', () => {
    for (const result of results) {
      expect(result.status).toBe('written');
      if (result.status !== 'written') continue;
      const bytes = fs.readFileSync(result.outPath as string);
      const found = bytes.toString('latin1').match(/MRK[0-9A-Z_]*/g) ?? [];
      expect(found).toEqual([]);
      expect(occurrences(bytes, 'SAFEVALUE')).toBe(0);
    }
  });

  test('original UIDs are gone from output bytes', () => {
    for (const result of results) {
      if (result.status !== 'written') continue;
      const bytes = fs.readFileSync(result.outPath as string);
      for (const uid of corpus.originalUids) expect(occurrences(bytes, uid)).toBe(0);
    }
  });

  test('UIDs are replaced consistently across the study', () => {
    const headers = results.map((result) => readDicomFileHeaderSync((result as { outPath: string }).outPath));
    const studies = new Set(headers.map((header) => header.dataset.getString(Tags.StudyInstanceUID)));
    const frames = new Set(headers.map((header) => header.dataset.getString(Tags.FrameOfReferenceUID)));
    expect(studies.size).toBe(1);
    expect(frames.size).toBe(1);
    expect([...frames][0]).toMatch(/^2\.25\.\d+$/);
    expect(headers[0].dataset.getString(Tags.SeriesInstanceUID)).toBe(headers[1].dataset.getString(Tags.SeriesInstanceUID));
    expect(headers[0].dataset.getString(Tags.SeriesInstanceUID)).not.toBe(headers[2].dataset.getString(Tags.SeriesInstanceUID));
    for (const header of headers) {
      expect(header.meta.getString(Tags.MediaStorageSOPInstanceUID)).toBe(header.dataset.getString(Tags.SOPInstanceUID));
      expect(header.dataset.getString(Tags.SOPClassUID)).toBe('1.2.840.10008.5.1.4.1.1.2');
    }
  });

  test('Referenced Image Sequence resolves to the new SOP Instance UID', () => {
    const referring = readDicomFileHeaderSync((results[2] as { outPath: string }).outPath).dataset;
    const referenced = readDicomFileHeaderSync((results[0] as { outPath: string }).outPath).dataset;
    const items = referring.getItems(Tags.ReferencedImageSequence);
    expect(items).toHaveLength(1);
    expect(items[0].getString(Tags.ReferencedSOPInstanceUID)).toBe(referenced.getString(Tags.SOPInstanceUID));
    expect(items[0].getString(Tags.ReferencedSOPClassUID)).toBe('1.2.840.10008.5.1.4.1.1.2');
  });

  test('de-identification attributes are added', () => {
    const dataset = readDicomFileHeaderSync((results[0] as { outPath: string }).outPath).dataset;
    expect(dataset.getString(0x00120062)).toBe('YES');
    expect(dataset.getStrings(0x00120063)).toEqual(['Basic Application Confidentiality Profile']);
    const codes = dataset.getItems(0x00120064);
    expect(codes.map((item) => item.getString(0x00080100))).toEqual(['113100']);
    expect(codes[0].getString(0x00080102)).toBe('DCM');
    expect(dataset.getString(0x00280303)).toBe('REMOVED');
  });

  test('patient gets one pseudonym for the whole job', () => {
    const names = results.map((result) => readDicomFileHeaderSync((result as { outPath: string }).outPath).dataset.getString(Tags.PatientName));
    const ids = results.map((result) => readDicomFileHeaderSync((result as { outPath: string }).outPath).dataset.getString(Tags.PatientID));
    expect(new Set(names)).toEqual(new Set(['ANON^0001']));
    expect(new Set(ids)).toEqual(new Set(['ANON0001']));
  });

  test('report counts written files and UIDs', () => {
    const report = job.report();
    expect(report.written).toBe(3);
    expect(report.heldBack).toEqual([]);
    expect(report.patients).toBe(1);
    expect(report.uidMapSize).toBeGreaterThan(7);
  });

  test('pixel data bytes are unchanged', () => {
    expect(pixelDataBytes((results[0] as { outPath: string }).outPath)).toEqual(pixelDataBytes(corpus.files[0].path));
  });
});

describe('options', () => {
  test('safe private creator keeps its block only', async () => {
    const job = createAnonymizationJob({ keepPrivateCreators: ['SAFE CREATOR'] });
    const out = path.join(dir, 'out-private', 'a.dcm');
    await job.anonymizeFile(corpus.files[0].path, out);
    const bytes = fs.readFileSync(out);
    expect(occurrences(bytes, 'SAFEVALUE_L0')).toBe(1);
    expect(occurrences(bytes, 'SAFEVALUE_L3')).toBe(1);
    expect(occurrences(bytes, 'MRK')).toBe(0);
    const codes = readDicomFileHeaderSync(out).dataset.getItems(0x00120064).map((item) => item.getString(0x00080100));
    expect(codes).toEqual(['113100', '113111']);
  });

  test('safe private code only when kept', async () => {
    const cases = [
      // --keep-private without creators: the built-in list, on a file without private elements.
      { name: 'built-in', source: path.join(REPO_ROOT, 'test', '.corpus', 'samples', 'mr', 'mr-small-explicit-le.dcm'), creators: BUILT_IN_SAFE_PRIVATE_CREATORS },
      // A creator that none of the private blocks of the marked corpus has.
      { name: 'unmatched', source: corpus.files[0].path, creators: ['NO SUCH CREATOR'] },
    ];
    for (const { name, source, creators } of cases) {
      const out = path.join(dir, 'out-private-none', `${name}.dcm`);
      await createAnonymizationJob({ keepPrivateCreators: creators }).anonymizeFile(source, out);
      const dataset = readDicomFileHeaderSync(out).dataset;
      const privateTags = [...dataset.elements.keys()].filter((tag) => (tag >>> 16) % 2 === 1);
      expect({ name, privateTags }).toEqual({ name, privateTags: [] });
      const codes = dataset.getItems(0x00120064).map((item) => item.getString(0x00080100));
      expect({ name, codes }).toEqual({ name, codes: ['113100'] });
      expect({ name, method: dataset.getString(0x00120063) }).toEqual({ name, method: 'Basic Application Confidentiality Profile' });
    }
  });

  test('safe private code for block after Pixel Data', async () => {
    const input = path.join(dir, 'in', 'tail-private.dcm');
    const codesOf = (dataset: ReturnType<typeof readDicomFileHeaderSync>['dataset']) =>
      dataset.getItems(0x00120064).map((item) => item.getString(0x00080100));

    const kept = path.join(dir, 'out-tail-private', 'kept.dcm');
    await createAnonymizationJob({ keepPrivateCreators: ['TAIL CREATOR'] }).anonymizeFile(input, kept);
    expect(occurrences(fs.readFileSync(kept), 'TAILVALUE')).toBe(1);
    expect(codesOf(readDicomFileHeaderSync(kept).dataset)).toEqual(['113100', '113111']);

    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on('data', (chunk: Buffer) => chunks.push(chunk));
    const streamed = await createAnonymizationJob({ keepPrivateCreators: ['TAIL CREATOR'] }).anonymizeStream(fs.createReadStream(input), sink, 'tail');
    expect(streamed.status).toBe('written');
    const streamedPath = path.join(dir, 'out-tail-private', 'streamed.dcm');
    fs.writeFileSync(streamedPath, Buffer.concat(chunks));
    expect(occurrences(Buffer.concat(chunks), 'TAILVALUE')).toBe(1);
    expect(codesOf(readDicomFileHeaderSync(streamedPath).dataset)).toEqual(['113100', '113111']);

    const removed = path.join(dir, 'out-tail-private', 'removed.dcm');
    await createAnonymizationJob({ keepPrivateCreators: ['OTHER CREATOR'] }).anonymizeFile(input, removed);
    expect(occurrences(fs.readFileSync(removed), 'TAILVALUE')).toBe(0);
    expect(codesOf(readDicomFileHeaderSync(removed).dataset)).toEqual(['113100']);
  });

  test('overlay groups removed whole', async () => {
    const source = path.join(REPO_ROOT, 'test', '.corpus', corpusFile('ct').path);
    const input = path.join(dir, 'overlay', 'in.dcm');
    fs.mkdirSync(path.dirname(input), { recursive: true });
    fs.copyFileSync(source, input);
    const overlayData = path.join(dir, 'overlay', 'overlay.raw');
    fs.writeFileSync(overlayData, Buffer.alloc(8, 0xff));
    const added: string[] = [];
    for (const group of ['6000', '6002', '601E']) {
      added.push(
        '-i', `(${group},0010)=4`,
        '-i', `(${group},0011)=4`,
        '-i', `(${group},0022)=Zzyzxovich overlay description`,
        '-i', `(${group},0040)=G`,
        '-i', `(${group},0050)=1\\1`,
        '-i', `(${group},0100)=1`,
        '-i', `(${group},0102)=0`,
        '-i', `(${group},1500)=Zzyzxovich overlay label`,
        '-i', `(${group},4000)=Zzyzxovich overlay comments`,
        '-if', `(${group},3000)=${overlayData}`,
      );
    }
    const modified = await runDcmtk('dcmodify', ['-nb', ...added, input]);
    expect(modified.stderr).toBe('');
    expect(modified.code).toBe(0);
    const overlayTagsIn = [...readDicomFileHeaderSync(input).dataset.elements.keys()].filter((tag) => tag >>> 16 >= 0x6000 && tag >>> 16 <= 0x601e);
    expect(overlayTagsIn).toHaveLength(30);

    const out = path.join(dir, 'overlay', 'out.dcm');
    await createAnonymizationJob().anonymizeFile(input, out);
    const overlayTagsOut = [...readDicomFileHeaderSync(out).dataset.elements.keys()].filter((tag) => tag >>> 16 >= 0x6000 && tag >>> 16 <= 0x601e);
    expect(overlayTagsOut).toEqual([]);
    expect(occurrences(fs.readFileSync(out), 'Zzyzxovich')).toBe(0);
  });

  test('retain options keep their attributes and list their codes', async () => {
    const job = createAnonymizationJob({
      dates: 'keep',
      keepPatientCharacteristics: true,
      keepDeviceIdentity: true,
      keepInstitutionIdentity: true,
      cleanDescriptors: true,
      descriptorReplacement: 'CLEANED',
    });
    const out = path.join(dir, 'out-retain', 'a.dcm');
    await job.anonymizeFile(corpus.files[0].path, out);
    const bytes = fs.readFileSync(out);
    expect(occurrences(bytes, 'MRK0008_0020_L0')).toBe(1); // Study Date, full dates kept
    expect(occurrences(bytes, 'MRK0010_1010_L0')).toBe(1); // Patient's Age
    expect(occurrences(bytes, 'MRK0018_1000_L0')).toBe(1); // Device Serial Number
    expect(occurrences(bytes, 'MRK0008_0080_L0')).toBe(1); // Institution Name
    expect(occurrences(bytes, 'MRK0008_1030')).toBe(0); // Study Description, cleaned
    expect(occurrences(bytes, 'MRK0010_0010')).toBe(0);
    const dataset = readDicomFileHeaderSync(out).dataset;
    expect(dataset.getString(0x00081030)).toBe('CLEANED');
    expect(dataset.getItems(0x00120064).map((item) => item.getString(0x00080100))).toEqual([
      '113100', '113105', '113106', '113108', '113109', '113112',
    ]);
    expect(dataset.getString(0x00280303)).toBe('UNMODIFIED');
  });

  test('shifted dates keep intervals per patient', async () => {
    const source = path.join(REPO_ROOT, 'test', '.corpus', corpusFile('ct').path);
    const job = createAnonymizationJob({ dates: 'shift', jobSecret: Buffer.from('shift secret') });
    const out = path.join(dir, 'out-shift', 'a.dcm');
    await job.anonymizeFile(source, out);
    const before = readDicomFileHeaderSync(source).dataset;
    const after = readDicomFileHeaderSync(out).dataset;
    const original = before.getString(Tags.StudyDate) as string;
    const shifted = after.getString(Tags.StudyDate) as string;
    expect(shifted).toMatch(/^\d{8}$/);
    expect(shifted).not.toBe(original);
    const days = (Date.parse(`${shifted.slice(0, 4)}-${shifted.slice(4, 6)}-${shifted.slice(6)}`) -
      Date.parse(`${original.slice(0, 4)}-${original.slice(4, 6)}-${original.slice(6)}`)) / 86_400_000;
    expect(days).toBeLessThan(0);
    expect(after.getString(0x00280303)).toBe('MODIFIED');
    expect(after.getString(Tags.PatientName)).toBe('ANON^0001');
  });

  test('dates outside the table follow the option', async () => {
    // Instance Creation Date and Time (0008,0012-0013) are not in table E.1-1; this sample sets them to its study day.
    const source = path.join(REPO_ROOT, 'test', '.corpus', 'samples', 'mr', 'mr-small-explicit-le.dcm');
    const before = readDicomFileHeaderSync(source).dataset;
    expect(before.getString(0x00080012)).toBe('20040826');
    expect(before.getString(Tags.StudyDate)).toBe('20040826');

    const removed = path.join(dir, 'out-unlisted', 'removed.dcm');
    await createAnonymizationJob().anonymizeFile(source, removed);
    const afterRemove = readDicomFileHeaderSync(removed).dataset;
    expect(afterRemove.getString(0x00080012)).toBe('19000101');
    expect(afterRemove.getString(0x00080013)).toBe('000000');
    expect(occurrences(fs.readFileSync(removed), '20040826')).toBe(0);

    const shifted = path.join(dir, 'out-unlisted', 'shifted.dcm');
    await createAnonymizationJob({ dates: 'shift', jobSecret: Buffer.from('unlisted secret') }).anonymizeFile(source, shifted);
    const afterShift = readDicomFileHeaderSync(shifted).dataset;
    expect(afterShift.getString(Tags.StudyDate)).not.toBe('20040826');
    expect(afterShift.getString(0x00080012)).toBe(afterShift.getString(Tags.StudyDate));
    expect(afterShift.getString(0x00080013)).toBe('185434');

    const kept = path.join(dir, 'out-unlisted', 'kept.dcm');
    await createAnonymizationJob({ dates: 'keep' }).anonymizeFile(source, kept);
    expect(readDicomFileHeaderSync(kept).dataset.getString(0x00080012)).toBe('20040826');
  });

  test('unlisted names and free text replaced', async () => {
    const input = path.join(dir, 'in', 'unlisted-text.dcm');
    const before = readDicomFileHeaderSync(input).dataset;
    expect(before.getString(0x00400400)).toContain('Зызыкова');
    expect(before.getString(0x00142006)).toBe('Зызыков^Пётр');

    const out = path.join(dir, 'out-unlisted-text', 'a.dcm');
    expect((await createAnonymizationJob().anonymizeFile(input, out)).status).toBe('written');
    const bytes = fs.readFileSync(out);
    expect(occurrences(bytes, 'Zzyzx')).toBe(0);
    expect(occurrences(bytes, 'ZZYZX')).toBe(0);
    // ISO_IR 144 is ISO 8859-5: 'Зызык' is B7 EB D7 EB DA.
    expect(bytes.includes(Buffer.from([0xb7, 0xeb, 0xd7, 0xeb, 0xda]))).toBe(false);

    const after = readDicomFileHeaderSync(out).dataset;
    expect(after.getString(0x00400400)).toBe('ANONYMIZED'); // Comments on the Scheduled Procedure Step
    expect(after.getString(0x00140104)).toBe('ANONYMIZED'); // Secondary Reviewer Name
    expect(after.getString(0x00142006)).toBe('ANONYMIZED'); // Evaluator Name
    expect(after.getString(0x00420010)).toBe('ANONYMIZED'); // Document Title
    expect(after.elements.has(0x00880130)).toBe(false); // Storage Media File-set ID
    const items = after.getItems(0x00400260);
    expect(items).toHaveLength(1);
    expect(items[0].getString(0x00080104)).toBe('Kept code meaning');
    expect(items[0].getString(0x00080108)).toBe('Kept extended code meaning');
    expect(items[0].getString(0x00142006)).toBe('ANONYMIZED');
  });

  test('verified SR becomes unverified', async () => {
    // The table empties Verifying Observer Sequence, and PS3.3 C.17.2 requires an item in a VERIFIED document.
    const input = corpusSamples((sample) => sample.path.endsWith('/sr-comprehensive.dcm'))[0].absolutePath;
    expect(readDicomFileHeaderSync(input).dataset.getString(0x0040a493)).toBe('VERIFIED');

    const out = path.join(dir, 'out-verified-sr', 'a.dcm');
    expect((await createAnonymizationJob().anonymizeFile(input, out)).status).toBe('written');
    const after = readDicomFileHeaderSync(out).dataset;
    expect(after.getItems(0x0040a073)).toEqual([]);
    expect(after.getString(0x0040a493)).toBe('UNVERIFIED');
  });

  test('DICOMDIR rejected, not copied', async () => {
    const media = path.join(dir, 'media');
    fs.mkdirSync(path.join(media, 'DICOM'), { recursive: true });
    fs.copyFileSync(path.join(REPO_ROOT, 'test', '.corpus', 'samples', 'mr', 'mr-small-explicit-le.dcm'), path.join(media, 'DICOM', 'IM1'));
    const made = await runDcmtk('dcmmkdir', ['--recurse', '--input-directory', media, '--output-file', path.join(media, 'DICOMDIR'), 'DICOM']);
    expect(made.code).toBe(0);

    const job = createAnonymizationJob();
    const out = path.join(dir, 'out-media', 'DICOMDIR');
    await expect(job.anonymizeFile(path.join(media, 'DICOMDIR'), out)).rejects.toThrow(DicomdirNotAnonymizedError);
    expect(fs.existsSync(path.dirname(out))).toBe(false);
    expect(job.report().patients).toBe(0);
  });

  test('shiftDate moves across months and rejects invalid dates', () => {
    expect(shiftDate('20240301', -1)).toBe('20240229');
    expect(shiftDate('20240301120000.5+0100', -366)).toBe('20230301120000.5+0100');
    expect(shiftDate('20240230', -1)).toBeUndefined();
    expect(shiftDate('MRK', -1)).toBeUndefined();
  });
});

describe('burned-in annotation', () => {
  test('held back and listed unless allowed', async () => {
    const job = createAnonymizationJob();
    const yes = await job.anonymizeFile(path.join(dir, 'in', 'burned-yes.dcm'), path.join(dir, 'out-burned', 'yes.dcm'));
    const ultrasound = await job.anonymizeFile(path.join(dir, 'in', 'us-unset.dcm'), path.join(dir, 'out-burned', 'us.dcm'));
    expect(yes).toEqual({ status: 'held', reason: 'Burned In Annotation (0028,0301) is YES' });
    expect(ultrasound.status).toBe('held');
    expect(fs.existsSync(path.join(dir, 'out-burned', 'yes.dcm'))).toBe(false);
    expect(job.report().heldBack.map((entry) => path.basename(entry.source))).toEqual(['burned-yes.dcm', 'us-unset.dcm']);

    const allowing = createAnonymizationJob({ allowBurnedIn: true });
    expect((await allowing.anonymizeFile(path.join(dir, 'in', 'burned-yes.dcm'), path.join(dir, 'out-burned', 'yes.dcm'))).status).toBe('written');
  });

  test('encapsulated documents held back despite NO', async () => {
    const documents = corpus.holdBack.filter((input) => /\/(pdf|cda|stl)\.dcm$/.test(input.path));
    expect(documents).toHaveLength(3);
    const job = createAnonymizationJob();
    for (const input of documents) {
      const out = path.join(dir, 'out-documents', path.basename(input.path));
      const result = await job.anonymizeFile(input.path, out);
      const name = path.basename(input.path);
      expect({ name, status: result.status }).toEqual({ name, status: 'held' });
      if (result.status === 'held') expect(result.reason).toMatch(/^Encapsulated (PDF|CDA|STL) Storage instance: the anonymizer does not de-identify the encapsulated document/);
      expect(fs.existsSync(out)).toBe(false);
    }
    expect(job.report().written).toBe(0);
  });

  test('burned-in-prone classes held back without NO', async () => {
    const images = corpus.holdBack.filter((input) => !/\/(pdf|cda|stl)\.dcm$/.test(input.path));
    expect(images.length).toBeGreaterThan(10);
    const job = createAnonymizationJob();
    for (const input of images) {
      const result = await job.anonymizeFile(input.path, path.join(dir, 'out-prone', path.basename(input.path)));
      const name = path.basename(input.path);
      expect({ name, status: result.status }).toEqual({ name, status: input.expected });
      if (result.status === 'held') expect({ name, reason: result.reason }).toEqual({ name, reason: expect.stringMatching(/without Burned In Annotation \(0028,0301\) NO$/) });
    }
  });

  test('slide label images held back despite NO', async () => {
    expect(corpus.wholeSlide.length).toBe(5);
    const job = createAnonymizationJob();
    const reasons: Record<string, RegExp> = {
      'wsi-label.dcm': /Image Type \(0008,0008\) LABEL: the image shows the slide label/,
      'wsi-overview.dcm': /Image Type \(0008,0008\) OVERVIEW: the image shows the slide label/,
      'wsi-volume-with-label.dcm': /Specimen Label in Image \(0048,0010\) YES/,
    };
    for (const input of corpus.wholeSlide) {
      const name = path.basename(input.path);
      const result = await job.anonymizeFile(input.path, path.join(dir, 'out-whole-slide', name));
      expect({ name, status: result.status }).toEqual({ name, status: input.expected });
      if (result.status === 'held') {
        expect({ name, reason: result.reason }).toEqual({ name, reason: expect.stringMatching(reasons[name]) });
      }
    }
  });

  test('allowBurnedIn writes slide label images', async () => {
    const job = createAnonymizationJob({ allowBurnedIn: true });
    for (const input of corpus.wholeSlide) {
      const name = path.basename(input.path);
      const result = await job.anonymizeFile(input.path, path.join(dir, 'out-whole-slide-allowed', name));
      expect({ name, status: result.status }).toEqual({ name, status: 'written' });
    }
  });
});

describe('transfer syntaxes', () => {
  test.each(['jpeg2000', 'rle', 'ct-implicit-le'])('%s keeps syntax and pixel bytes', async (kind) => {
    const source = path.join(REPO_ROOT, 'test', '.corpus', corpusFile(kind).path);
    const out = path.join(dir, 'out-syntax', `${kind}.dcm`);
    // The implicit VR sample is a Secondary Capture image, which is held back unless allowed.
    const job = createAnonymizationJob({ allowBurnedIn: true });
    await job.anonymizeFile(source, out);
    const before = readDicomFileHeaderSync(source);
    const after = readDicomFileHeaderSync(out);
    expect(after.transferSyntaxUid).toBe(before.transferSyntaxUid);
    expect(pixelDataBytes(out)).toEqual(pixelDataBytes(source));
  });

  test('deflated file is re-deflated and readable', async () => {
    const source = path.join(REPO_ROOT, 'test', '.corpus', 'samples', 'sc', 'sc-deflated.dcm');
    const out = path.join(dir, 'out-syntax', 'deflated.dcm');
    const result = await createAnonymizationJob({ allowBurnedIn: true }).anonymizeFile(source, out);
    expect(result.status).toBe('written');
    const after = readDicomFileHeaderSync(out);
    expect(after.transferSyntaxUid).toBe('1.2.840.10008.1.2.1.99');
    expect(after.dataset.getString(0x00120062)).toBe('YES');
  });

  test('anonymizeStream writes to a stream', async () => {
    const job = createAnonymizationJob();
    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on('data', (chunk: Buffer) => chunks.push(chunk));
    const result = await job.anonymizeStream(fs.createReadStream(corpus.files[0].path), sink, 'stream-1');
    expect(result.status).toBe('written');
    const bytes = Buffer.concat(chunks);
    expect(bytes.toString('latin1', 128, 132)).toBe('DICM');
    expect(occurrences(bytes, 'MRK')).toBe(0);
  });
});

describe('Orthanc', () => {
  test('accepts the output and groups it as the input', async () => {
    const job = createAnonymizationJob();
    const outputs: string[] = [];
    for (const file of corpus.files) {
      const result = await job.anonymizeFile(file.path, path.join(dir, 'out-orthanc', path.basename(file.path)));
      outputs.push((result as { outPath: string }).outPath);
    }
    const original = await startOrthanc({ aeTitle: 'ORIGINAL' });
    const anonymized = await startOrthanc({ aeTitle: 'ANONYMIZED' });
    for (const file of corpus.files) await original.uploadFile(file.path);
    for (const file of outputs) await anonymized.uploadFile(file);

    const count = async (handle: typeof original) => {
      const studies = await handle.listStudies();
      const series = studies.reduce((sum, study) => sum + study.Series.length, 0);
      return { studies: studies.length, series, instances: (await handle.listInstances()).length };
    };
    const expected = await count(original);
    expect(expected).toEqual({ studies: 1, series: 2, instances: 3 });
    expect(await count(anonymized)).toEqual(expected);
  });
});
