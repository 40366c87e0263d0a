/**
 * C-FIND of `loader serve` next to DCMTK dcmqrscp with the same studies:
 * findscu sends each query to both, and the loader must return what the
 * standard asks (PS3.4 C.2.2.2), which here is what dcmqrscp returns.
 */
import path from 'node:path';
import { CT_SMALL, Tag, freshCopy } from '../archive/fixtures';
import { DcmqrscpHandle, LoaderServer, makeTempDir, startDcmqrscp, startLoader, storeFiles } from '../support/peers';
import { distinct, find } from './helpers';

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

  loader = await startLoader([], { aeTitle: 'LOADER' });
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
      distinct(responses.map((response) => response.StudyInstanceUID)).filter((uid) => uid.startsWith(`${UID_ROOT}.`));

    expect(fromLoader.finalStatus).toBe('Success');
    expect(studies(fromLoader.responses)).toEqual(expected.map(studyUid).sort());
    expect(studies(fromLoader.responses)).toEqual(studies(fromDcmqrscp.responses));
  });
});
