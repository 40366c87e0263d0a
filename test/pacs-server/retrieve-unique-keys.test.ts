/**
 * DCMTK movescu and getscu send C-MOVE and C-GET identifiers whose Unique
 * Keys break the baseline (hierarchical) retrieve of PS3.4 C.4.2.2.1 and
 * C.4.3.2.1: wildcards, or a missing key of a level above the retrieve level.
 * `loader serve` must answer A900 (Identifier does not match SOP Class) with
 * an Error Comment naming the key, not Success with no sub-operations.
 * A key of a level above the retrieve level whose value names another parent
 * entity must exclude the instances, as an unknown UID does.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CT_SMALL, Tag, modifiedCopy } from '../archive/fixtures';
import {
  LoaderServer,
  StorescpHandle,
  associationArgs,
  makeTempDir,
  runDcmtk,
  runLoader,
  startLoader,
  startStorescp,
  storeFiles,
} from '../support/peers';
import { generateUid } from '../../src/dicom/uid';

let loader: LoaderServer;
let storescp: StorescpHandle;
const PATIENT_ID = 'KEYS-P001';
const stored = { studyInstanceUid: generateUid(), seriesInstanceUid: generateUid(), sopInstanceUid: generateUid() };
const OTHER_PATIENT_ID = 'KEYS-P002';
const other = { studyInstanceUid: generateUid(), seriesInstanceUid: generateUid(), sopInstanceUid: generateUid() };

beforeAll(async () => {
  loader = await startLoader([], { aeTitle: 'LOADER' });
  const folder = makeTempDir('retrieve-keys');
  const file = modifiedCopy(CT_SMALL, path.join(folder, 'ct.dcm'), {
    [Tag.PatientID]: PATIENT_ID,
    [Tag.StudyInstanceUID]: stored.studyInstanceUid,
    [Tag.SeriesInstanceUID]: stored.seriesInstanceUid,
    [Tag.SOPInstanceUID]: stored.sopInstanceUid,
  });
  const otherFile = modifiedCopy(CT_SMALL, path.join(folder, 'other.dcm'), {
    [Tag.PatientID]: OTHER_PATIENT_ID,
    [Tag.StudyInstanceUID]: other.studyInstanceUid,
    [Tag.SeriesInstanceUID]: other.seriesInstanceUid,
    [Tag.SOPInstanceUID]: other.sopInstanceUid,
  });
  const store = await storeFiles(loader, [file, otherFile], { callingAeTitle: 'STORESCU' });
  if (store.code !== 0) throw new Error(`storing the test instance failed: ${store.stderr.slice(-2000)}`);

  storescp = await startStorescp({ aeTitle: 'KEYSDEST', acceptAll: true });
  const add = await runLoader(
    ['nodes', 'add', 'keysdest', '--aet', storescp.aeTitle, '--host', storescp.host, '--port', String(storescp.port)],
    { dirs: loader.dirs },
  );
  if (add.code !== 0) throw new Error(`loader nodes add failed: ${add.stderr}`);
});

afterAll(async () => {
  await Promise.all([loader?.stop(), storescp?.stop()]);
});

function move(model: '-S' | '-P', keys: string[]) {
  const args = ['-v', model, '-aem', storescp.aeTitle];
  for (const key of keys) args.push('-k', key);
  return runDcmtk('movescu', [...args, ...associationArgs(loader, 'MOVESCU')]);
}

function get(keys: string[], model: '-S' | '-P' = '-S', outputDir = makeTempDir('getscu-keys')) {
  const args = ['-v', model, '-od', outputDir];
  for (const key of keys) args.push('-k', key);
  return runDcmtk('getscu', [...args, ...associationArgs(loader, 'GETSCU')]);
}

/** Runs `request` and returns the loader log lines it added. */
async function logOf(request: () => Promise<{ stderr: string }>): Promise<{ stderr: string; log: string }> {
  const before = loader.readLog().length;
  const result = await request();
  return { stderr: result.stderr, log: loader.readLog().slice(before) };
}

describe('C-MOVE Unique Keys', () => {
  test.each([
    ['star as StudyInstanceUID', '-S', ['QueryRetrieveLevel=STUDY', 'StudyInstanceUID=*'], 'Wildcards are not allowed in StudyInstanceUID'],
    ['pattern as PatientID', '-P', ['QueryRetrieveLevel=PATIENT', 'PatientID=KEYS-P00*'], 'Wildcards are not allowed in PatientID'],
    ['question mark in a UID list', '-S', ['QueryRetrieveLevel=STUDY', 'StudyInstanceUID=1.2.3\\1.2.?'], 'Wildcards are not allowed in StudyInstanceUID'],
    ['series without its study', '-S', ['QueryRetrieveLevel=SERIES', 'SeriesInstanceUID=<series>'], 'SERIES retrieve needs StudyInstanceUID of its study'],
    ['study without its patient', '-P', ['QueryRetrieveLevel=STUDY', 'StudyInstanceUID=<study>'], 'STUDY retrieve needs PatientID of its patient'],
    ['image with two series', '-S', ['QueryRetrieveLevel=IMAGE', 'StudyInstanceUID=<study>', 'SeriesInstanceUID=1.2.3\\1.2.4', 'SOPInstanceUID=<sop>'], 'IMAGE retrieve needs a single SeriesInstanceUID'],
  ] as const)('%s rejected', async (_case, model, keys, comment) => {
    const filled = keys.map((key) =>
      key
        .replace('<study>', stored.studyInstanceUid)
        .replace('<series>', stored.seriesInstanceUid)
        .replace('<sop>', stored.sopInstanceUid),
    );
    const { stderr, log } = await logOf(() => move(model, [...filled]));

    // DCMTK 3.6.7 names status A900 DataSetDoesNotMatchSOPClass in C-MOVE responses.
    expect(stderr).toMatch(/Received Final Move Response \(Error: DataSetDoesNotMatchSOPClass\)/);
    expect(log).toContain(comment);
    expect(log).toMatch(/callingAe=MOVESCU/);
  });

  test('series with its study moved', async () => {
    const { stderr, log } = await logOf(() =>
      move('-S', ['QueryRetrieveLevel=SERIES', `StudyInstanceUID=${stored.studyInstanceUid}`, `SeriesInstanceUID=${stored.seriesInstanceUid}`]),
    );

    expect(stderr).toMatch(/Received Final Move Response \(Success\)/);
    expect(log).toMatch(/C-MOVE finished.*completed=1/);
  });

  test('patient by its ID moved', async () => {
    const { stderr, log } = await logOf(() => move('-P', ['QueryRetrieveLevel=PATIENT', `PatientID=${PATIENT_ID}`]));

    expect(stderr).toMatch(/Received Final Move Response \(Success\)/);
    expect(log).toMatch(/C-MOVE finished.*completed=1/);
  });
});

describe('C-GET Unique Keys', () => {
  test('star as StudyInstanceUID rejected', async () => {
    const { stderr, log } = await logOf(() => get(['QueryRetrieveLevel=STUDY', 'StudyInstanceUID=*']));

    expect(stderr).toMatch(/DoesNotMatchSOPClass/);
    expect(log).toContain('Wildcards are not allowed in StudyInstanceUID');
  });

  test('series without its study rejected', async () => {
    const { stderr, log } = await logOf(() => get(['QueryRetrieveLevel=SERIES', `SeriesInstanceUID=${stored.seriesInstanceUid}`]));

    expect(stderr).toMatch(/DoesNotMatchSOPClass/);
    expect(log).toContain('SERIES retrieve needs StudyInstanceUID of its study');
  });
});

/** Retrieves whose parent key names the other patient's study or the other study's series. */
const MISMATCHED_PARENT_CASES = [
  ['study under another PatientID', '-P', ['QueryRetrieveLevel=STUDY', `PatientID=${OTHER_PATIENT_ID}`, `StudyInstanceUID=${stored.studyInstanceUid}`], 'PatientID'],
  [
    'series under another StudyInstanceUID',
    '-S',
    ['QueryRetrieveLevel=SERIES', `StudyInstanceUID=${other.studyInstanceUid}`, `SeriesInstanceUID=${stored.seriesInstanceUid}`],
    'StudyInstanceUID',
  ],
  [
    'image under another PatientID',
    '-P',
    [
      'QueryRetrieveLevel=IMAGE',
      `PatientID=${OTHER_PATIENT_ID}`,
      `StudyInstanceUID=${stored.studyInstanceUid}`,
      `SeriesInstanceUID=${stored.seriesInstanceUid}`,
      `SOPInstanceUID=${stored.sopInstanceUid}`,
    ],
    'PatientID',
  ],
] as const;

describe('C-MOVE parent keys', () => {
  test.each(MISMATCHED_PARENT_CASES)('%s sends nothing', async (_case, model, keys, unmatchedKey) => {
    const { stderr, log } = await logOf(() => move(model, [...keys]));

    // The same response as for an unknown UID, which is Success with no sub-operations.
    expect(stderr).toMatch(/Received Final Move Response \(Success\)/);
    expect(log).toMatch(/C-MOVE finished.*completed=0/);
    expect(log).toContain(`C-MOVE did not send instances whose`);
    expect(log).toContain(`unmatchedKey=${unmatchedKey}`);
    expect(log).toContain('excludedInstances=1');
    expect(log).not.toContain(OTHER_PATIENT_ID);
  });

  test('unknown StudyInstanceUID sends nothing', async () => {
    const { stderr, log } = await logOf(() => move('-P', ['QueryRetrieveLevel=STUDY', `PatientID=${PATIENT_ID}`, `StudyInstanceUID=${generateUid()}`]));

    expect(stderr).toMatch(/Received Final Move Response \(Success\)/);
    expect(log).toMatch(/C-MOVE finished.*completed=0/);
    expect(log).not.toContain('unmatchedKey');
  });

  test('study list keeps only its patient', async () => {
    const studies = `StudyInstanceUID=${stored.studyInstanceUid}\\${other.studyInstanceUid}`;
    const { stderr, log } = await logOf(() => move('-P', ['QueryRetrieveLevel=STUDY', `PatientID=${PATIENT_ID}`, studies]));

    expect(stderr).toMatch(/Received Final Move Response \(Success\)/);
    expect(log).toMatch(/C-MOVE finished.*completed=1/);
    expect(log).toContain('unmatchedKey=PatientID');
  });
});

describe('C-GET parent keys', () => {
  test.each(MISMATCHED_PARENT_CASES)('%s sends nothing', async (_case, model, keys, unmatchedKey) => {
    const outputDir = makeTempDir('getscu-parent');
    const { stderr, log } = await logOf(() => get([...keys], model, outputDir));

    expect(stderr).toMatch(/Received C-GET Response \(Success\)/);
    expect(fs.readdirSync(outputDir)).toEqual([]);
    expect(log).toMatch(/C-GET finished.*completed=0/);
    expect(log).toContain(`unmatchedKey=${unmatchedKey}`);
  });

  test('matching parent keys send the study', async () => {
    const outputDir = makeTempDir('getscu-parent');
    const { stderr } = await logOf(() =>
      get(['QueryRetrieveLevel=STUDY', `PatientID=${PATIENT_ID}`, `StudyInstanceUID=${stored.studyInstanceUid}`], '-P', outputDir),
    );

    expect(stderr).toMatch(/Received C-GET Response \(Success\)/);
    expect(fs.readdirSync(outputDir)).toHaveLength(1);
  });
});
