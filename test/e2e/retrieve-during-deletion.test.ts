/**
 * `loader delete` removes a study while `loader serve` sends it to a DCMTK
 * storescp for a DCMTK movescu. The instances deleted after the C-MOVE
 * listed them fail, and the server logs one line with their count, without
 * the hint to reindex that a file missing under an existing index row gets.
 */
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

const INSTANCES = 8;
const studyInstanceUid = generateUid();
const seriesInstanceUid = generateUid();

let loader: LoaderServer;
let storescp: StorescpHandle;

beforeAll(async () => {
  loader = await startLoader([], { aeTitle: 'LOADER' });
  const folder = makeTempDir('retrieve-during-deletion');
  const files = Array.from({ length: INSTANCES }, (_, index) =>
    modifiedCopy(CT_SMALL, path.join(folder, `ct${index}.dcm`), {
      [Tag.PatientID]: 'DELETE-P001',
      [Tag.StudyInstanceUID]: studyInstanceUid,
      [Tag.SeriesInstanceUID]: seriesInstanceUid,
      [Tag.SOPInstanceUID]: generateUid(),
    }),
  );
  const store = await storeFiles(loader, files, { callingAeTitle: 'STORESCU' });
  if (store.code !== 0) throw new Error(`storing the test instances failed: ${store.stderr.slice(-2000)}`);

  // One second per instance leaves time to delete the study while the C-MOVE runs.
  storescp = await startStorescp({ aeTitle: 'SLOWDEST', acceptAll: true, extraArgs: ['--sleep-after', '1'] });
  const add = await runLoader(['nodes', 'add', 'slowdest', '--aet', storescp.aeTitle, '--host', storescp.host, '--port', String(storescp.port)], {
    dirs: loader.dirs,
  });
  if (add.code !== 0) throw new Error(`loader nodes add failed: ${add.stderr}`);
}, 60_000);

afterAll(async () => {
  await Promise.all([loader?.stop(), storescp?.stop()]);
});

async function waitForFirstReceivedFile(): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (storescp.receivedFiles().length === 0) {
    if (Date.now() > deadline) throw new Error('storescp received no instance within 20 s');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('C-MOVE during delete logs one count', async () => {
  const logStart = loader.readLog().length;
  const move = runDcmtk('movescu', [
    '-v', '-S', '-aem', storescp.aeTitle,
    '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${studyInstanceUid}`,
    ...associationArgs(loader, 'MOVESCU'),
  ]);
  await waitForFirstReceivedFile();

  const deletion = await runLoader(['delete', '--study-uid', studyInstanceUid, '--yes'], { dirs: loader.dirs });
  const moved = await move;
  const log = loader.readLog().slice(logStart);

  expect(deletion.code).toBe(0);
  expect(moved.stdout + moved.stderr).toMatch(/SubOperationsCompleteOneOrMoreFailures|0xb000/i);
  const received = storescp.receivedFiles().length;
  expect(received).toBeLessThan(INSTANCES);
  expect(log).not.toContain('it was deleted after it was indexed');
  expect(log).not.toContain('C-STORE sub-operation failed');
  expect(log.match(/instances were deleted from the archive after the request listed them/g) ?? []).toHaveLength(1);
  expect(log).toContain(`C-MOVE: ${INSTANCES - received} instances were deleted from the archive after the request listed them`);
  expect(log).toMatch(new RegExp(`C-MOVE finished .*failed=${INSTANCES - received}`));
}, 90_000);
