/**
 * DCMTK movescu and getscu retrieve a study from `loader serve` after one of
 * its stored files was deleted behind the loader's back. The other instances
 * arrive, and the server's log names the missing file and the next step.
 */
import * as fs from 'fs';

import {
  LoaderServer,
  StorescpHandle,
  associationArgs,
  corpusFile,
  corpusSamples,
  makeTempDir,
  runDcmtk,
  runLoader,
  startLoader,
  startStorescp,
} from '../support/peers';
import { archivePathOf, storeWithOwnSyntax } from './helpers';

/** The brain volume: 19 Explicit VR Little Endian slices and one big endian slice. */
const study = corpusSamples((file) => file.studyInstanceUid === corpusFile('mr-volume').studyInstanceUid);
const deleted = study[0];
let loader: LoaderServer;
let storescp: StorescpHandle;

function archivePathOfDeleted(): string {
  return archivePathOf(loader.dirs.archiveDir, deleted);
}

/** The log text that names the deleted file and the next step. */
function missingFileHint(): string {
  // The log quotes the error value, so the hint ends before the quoted command name.
  return `${archivePathOfDeleted()} is missing; it was deleted after it was indexed, so run`;
}

beforeAll(async () => {
  loader = await startLoader([], { aeTitle: 'LOADER' });
  const store = await storeWithOwnSyntax(loader, study);
  if (store.code !== 0) throw new Error(`storing the study failed: ${store.stderr.slice(-2000)}`);
  fs.rmSync(archivePathOfDeleted());

  storescp = await startStorescp({ aeTitle: 'MOVEDEST', acceptAll: true });
  const add = await runLoader(
    ['nodes', 'add', 'movedest', '--aet', storescp.aeTitle, '--host', storescp.host, '--port', String(storescp.port)],
    { dirs: loader.dirs },
  );
  if (add.code !== 0) throw new Error(`loader nodes add failed: ${add.stderr}`);
});

test('C-MOVE logs missing file hint', async () => {
  const result = await runDcmtk('movescu', [
    '-v', '-S', '-aem', storescp.aeTitle,
    '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${deleted.studyInstanceUid}`,
    ...associationArgs(loader, 'MOVESCU'),
  ]);

  expect(result.stderr).toMatch(/SubOperationsCompleteOneOrMoreFailures|0xb000/i);
  expect(storescp.receivedFiles()).toHaveLength(study.length - 1);
  expect(loader.readLog()).toContain(missingFileHint());
  expect(loader.readLog()).not.toContain('ENOENT: no such file or directory');
});

test('C-GET logs missing file hint', async () => {
  // The big endian slice goes out converted, so this request reads the deleted file's header on the conversion path.
  const outputDir = makeTempDir('getscu');
  const result = await runDcmtk('getscu', [
    '-v', '-S', '+xi', '-od', outputDir,
    '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${deleted.studyInstanceUid}`,
    ...associationArgs(loader, 'GETSCU'),
  ]);

  expect(result.stderr).toMatch(/Number of Failed Suboperations\s*:\s*1/);
  expect(fs.readdirSync(outputDir)).toHaveLength(study.length - 1);
  expect(loader.readLog().split(missingFileHint()).length - 1).toBeGreaterThanOrEqual(2);
});
