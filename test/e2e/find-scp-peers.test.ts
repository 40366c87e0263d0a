/**
 * C-FIND of `loader serve` next to DCMTK dcmqrscp with the same studies:
 * findscu sends each query to both, and the loader must return what the
 * standard asks (PS3.4 C.2.2.2), which here is what dcmqrscp returns. Also
 * covers a C-CANCEL-RQ in the middle of many matches, a key that the
 * requester sends as UN, and a request in a character set the loader does
 * not know.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CT_SMALL, Tag, freshCopy } from '../archive/fixtures';
import {
  DcmqrscpHandle,
  LoaderServer,
  createLoaderDirs,
  makeTempDir,
  runCommand,
  runLoader,
  startDcmqrscp,
  startLoader,
  storeFiles,
} from '../support/peers';
import { PYTHON, distinct, find, loaderClientFindStatuses } from './helpers';

const UID_ROOT = '1.2.826.0.1.3680043.9.7433.4.92';
/** Study Time of each study, keyed by the last component of its Study Instance UID. */
const STUDY_TIMES: Record<string, string> = {
  '1': '08',
  '2': '1030',
  '3': '103000',
  '4': '10:30:00',
  '5': '120000.123',
  '6': '2359',
};
const studyUid = (suffix: string) => `${UID_ROOT}.${suffix}`;

/** Instances of the one series that the cancel test queries. */
const MANY_INSTANCES = 600;
const MANY_STUDY = `${UID_ROOT}.100`;
const MANY_SERIES = `${UID_ROOT}.100.1`;

/** Writes MANY_INSTANCES small Secondary Capture files of one series into `dir` with pydicom. */
async function writeManyInstances(dir: string): Promise<void> {
  const script = `
import sys
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian
out, count, study, series = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
for number in range(1, count + 1):
    ds = Dataset()
    ds.SOPClassUID = '1.2.840.10008.5.1.4.1.1.7'
    ds.SOPInstanceUID = f'{series}.{number}'
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.PatientName = 'Many^Instances'
    ds.PatientID = 'LDR-MANY'
    ds.Modality = 'OT'
    ds.InstanceNumber = number
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.is_little_endian = True
    ds.is_implicit_VR = False
    ds.save_as(f'{out}/{number:05d}.dcm', write_like_original=False)
`;
  const result = await runCommand(PYTHON, ['-c', script, dir, String(MANY_INSTANCES), MANY_STUDY, MANY_SERIES], { timeoutMs: 60_000 });
  if (result.code !== 0) throw new Error(`writing the instances failed: ${result.stderr.slice(-2000)}`);
}

let loader: LoaderServer;
let dcmqrscp: DcmqrscpHandle;

beforeAll(async () => {
  const workDir = makeTempDir('find-peers');
  const files = Object.entries(STUDY_TIMES).map(([suffix, time]) =>
    freshCopy(CT_SMALL, path.join(workDir, 'times', `time-${suffix}.dcm`), {
      [Tag.StudyInstanceUID]: studyUid(suffix),
      [Tag.PatientID]: `LDR-TIME-${suffix}`,
      [Tag.StudyTime]: time,
    }),
  );

  const manyDir = path.join(workDir, 'many');
  fs.mkdirSync(manyDir);
  await writeManyInstances(manyDir);
  // Importing by scan before the server starts is far faster than C-STORE of each instance.
  const dirs = createLoaderDirs('find-peers');
  const scan = await runLoader(['scan', manyDir, '--import'], { dirs, timeoutMs: 120_000 });
  if (scan.code !== 0) throw new Error(`scan --import failed: ${scan.stderr.slice(-2000)}`);

  loader = await startLoader([], { aeTitle: 'LOADER', dirs });
  dcmqrscp = await startDcmqrscp({ aeTitle: 'DCMQRSCP' });
  for (const peer of [loader, dcmqrscp]) {
    const store = await storeFiles(peer, files);
    if (store.code !== 0) throw new Error(`storing into ${peer.aeTitle} failed: ${store.stderr.slice(-2000)}`);
  }
}, 180_000);

afterAll(async () => {
  await loader?.stop();
  await dcmqrscp?.stop();
});

describe('C-FIND times like dcmqrscp', () => {
  test.each([
    ['hour-only value in range', '0800-0900', ['1']],
    ['hour-only value at lower bound', '0800-', ['1', '2', '3', '4', '5', '6']],
    ['single value with omitted seconds', '1030', ['2', '3', '4']],
    ['single value with seconds', '103000', ['2', '3', '4']],
    ['single value equals hour-only', '080000', ['1']],
    ['single value equals hour and minute', '235900', ['6']],
    ['fraction differs', '120000', []],
    ['upper bound', '-0800', ['1']],
  ])('%s', async (_case, time, expected) => {
    const keys = ['QueryRetrieveLevel=STUDY', `StudyTime=${time}`, 'StudyInstanceUID'];
    const fromLoader = await find(loader, '-S', keys);
    const fromDcmqrscp = await find(dcmqrscp, '-S', keys);
    const studies = (responses: { StudyInstanceUID?: string }[]) =>
      distinct(responses.map((response) => response.StudyInstanceUID)).filter((uid) => uid.startsWith(`${UID_ROOT}.`) && uid !== MANY_STUDY);

    expect(fromLoader.finalStatus).toBe('Success');
    expect(studies(fromLoader.responses)).toEqual(expected.map(studyUid).sort());
    expect(studies(fromLoader.responses)).toEqual(studies(fromDcmqrscp.responses));
  });
});

describe('C-FIND cancel', () => {
  test('C-CANCEL-RQ stops many matches', async () => {
    const outputDir = makeTempDir('findscu-cancel');
    const run = await runCommand('findscu', [
      '-v', '-S', '--cancel', '3', '-X', '-od', outputDir,
      '-k', 'QueryRetrieveLevel=IMAGE', '-k', `StudyInstanceUID=${MANY_STUDY}`, '-k', `SeriesInstanceUID=${MANY_SERIES}`, '-k', 'SOPInstanceUID',
      '-aet', 'FINDSCU', '-aec', loader.aeTitle, loader.host, String(loader.port),
    ]);
    const responses = fs.readdirSync(outputDir).filter((name) => name.startsWith('rsp'));

    expect(run.stderr).toContain('Sending Cancel Request');
    expect(/Received Final Find Response \(([^)]*)\)/.exec(run.stderr)?.[1]).toMatch(/^Cancel/);
    expect(responses.length).toBeGreaterThanOrEqual(3);
    expect(responses.length).toBeLessThan(MANY_INSTANCES);
    expect(loader.readLog()).toContain('C-FIND cancelled');
  });
});

describe('C-FIND request encodings', () => {
  test('key sent as UN', async () => {
    // Referenced Study Sequence as UN, the way a requester without it in its dictionary sends it.
    const statuses = await loaderClientFindStatuses(loader, 'UNKEYSCU', [
      { tag: 0x00080052, vr: 'CS', value: 'STUDY' },
      { tag: 0x00081110, vr: 'UN', value: Buffer.alloc(0) },
      { tag: 0x0020000d, vr: 'UI', value: studyUid('2') },
    ]);

    expect(statuses).toEqual([0xff00, 0x0000]);
  });

  test('unknown character set not repeated', async () => {
    const { finalStatus, responses } = await find(loader, '-S', [
      'SpecificCharacterSet=ISO_IR 999',
      'QueryRetrieveLevel=STUDY',
      `StudyInstanceUID=${studyUid('1')}`,
      'PatientID',
    ]);

    expect(finalStatus).toBe('Success');
    expect(responses.map((response) => response.PatientID)).toEqual(['LDR-TIME-1']);
    expect(responses[0].SpecificCharacterSet).toBeUndefined();
  });
});
