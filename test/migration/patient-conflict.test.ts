/**
 * `loader migrate` of a study that the destination already stores under
 * another Patient ID. Orthanc has instance A of study X under PAT-A, and
 * dcmqrscp, a loader serve and a local archive have instance B of the same
 * Study Instance UID under PAT-B. Every method (move, relay, send,
 * retrieve) must fail that study without sending anything, name both
 * Patient IDs but not the patient names, and keep the other studies going.
 */
import * as fs from 'fs';
import * as path from 'path';

import { LocalArchive } from '../../src/services/archive';
import { setLogSink } from '../../src/services/logger';
import { findInstances } from '../../src/services/query-retrieve';
import { createLoaderDirs, freePort, loaderIsBuilt, makeTempDir, runDcmtk, runLoader, startDcmqrscp, startLoader, startOrthanc, storeFiles } from '../support/peers';
import type { DcmqrscpHandle, DicomNode, LoaderDirs, LoaderServer, OrthancHandle } from '../support/peers';
import { collect, localIdentity, nodeFor } from '../query-retrieve/helpers';
import { LOADER_AE, configure, orthancModality, randomUid, readStudyStates, registerNode, uncompressedStudies } from './helpers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

let previousSink: (line: string) => void;
beforeAll(() => {
  previousSink = setLogSink(() => undefined);
});
afterAll(() => {
  setLogSink(previousSink);
});

interface StudyEntry {
  studyInstanceUid: string;
  state: string;
  method?: string;
  attempts: number;
  lastError?: string;
}

interface Report {
  studies: StudyEntry[];
  summary: { migrated: number; alreadyPresent: number; failed: number; pending: number };
  outcome: string;
}

const NAME_A = 'Alpha^Anna';
const NAME_B = 'Beta^Boris';

/**
 * Copies a one-instance sample into `dir` under the given Study Instance UID, Patient ID and name, with a new SOP
 * Instance UID, and a new Series Instance UID unless one is given.
 */
async function makeInstance(dir: string, studyInstanceUid: string, patientId: string, patientName: string, seriesInstanceUid = randomUid()): Promise<{ file: string; sopInstanceUid: string }> {
  const sample = [...uncompressedStudies().values()].find((files) => files.length === 1)![0];
  const sopInstanceUid = randomUid();
  const file = path.join(dir, `${sopInstanceUid}.dcm`);
  fs.copyFileSync(sample.absolutePath, file);
  const edits = ['-i', `(0020,000D)=${studyInstanceUid}`, '-i', `(0020,000E)=${seriesInstanceUid}`, '-i', `(0008,0018)=${sopInstanceUid}`];
  edits.push('-i', `(0010,0020)=${patientId}`, '-i', `(0010,0010)=${patientName}`);
  const result = await runDcmtk('dcmodify', ['-nb', ...edits, file]);
  if (result.code !== 0) throw new Error(`dcmodify of ${file} failed: ${result.stderr}`);
  return { file, sopInstanceUid };
}

/** Imports a file into the archive of `dirs`, as `loader scan --import` does. */
async function importInto(dirs: LoaderDirs, file: string): Promise<void> {
  const archive = LocalArchive.open(dirs.archiveDir);
  try {
    expect((await archive.importFile(file, { copy: true })).outcome).toBe('stored');
  } finally {
    archive.close();
  }
}

function listArchived(dirs: LoaderDirs, studyInstanceUid: string): string[] {
  const archive = LocalArchive.open(dirs.archiveDir);
  try {
    return archive.listInstances({ studyInstanceUid }).map((instance) => instance.sopInstanceUid);
  } finally {
    archive.close();
  }
}

/** Checks the failure of the conflict study: state, reason with both Patient IDs, no patient name. */
function expectConflictFailure(study: StudyEntry | undefined, studyInstanceUid: string): void {
  expect(study?.state).toBe('failed');
  expect(study?.lastError).toContain(`study ${studyInstanceUid}`);
  expect(study?.lastError).toContain('Patient ID "PAT-A"');
  expect(study?.lastError).toContain('"PAT-B"');
  expect(study?.lastError).toContain('Nothing was sent');
  expect(study?.lastError).toContain('correct or delete the study on the wrong end');
  expect(study?.lastError).not.toContain('Alpha');
  expect(study?.lastError).not.toContain('Beta');
}

describeBuilt('migrate with Patient ID conflict', () => {
  const dirs = createLoaderDirs('migrate-conflict');
  const conflictUid = randomUid();
  const normalUid = randomUid();
  let onSource: { file: string; sopInstanceUid: string };
  let onDestination: { file: string; sopInstanceUid: string };
  let normal: { file: string; sopInstanceUid: string };
  let orthanc: OrthancHandle;
  let dcmqrscp: DcmqrscpHandle;
  let server: LoaderServer;

  const listOn = async (peer: DicomNode, studyInstanceUid: string): Promise<string[]> =>
    (await collect(findInstances(nodeFor(peer), localIdentity(0, 'CHECKER'), studyInstanceUid, undefined))).map((instance) => instance.sopInstanceUid).sort();

  beforeAll(async () => {
    const dir = makeTempDir('conflict-files');
    onSource = await makeInstance(dir, conflictUid, 'PAT-A', NAME_A);
    onDestination = await makeInstance(dir, conflictUid, 'PAT-B', NAME_B);
    normal = await makeInstance(dir, normalUid, 'PAT-N', 'Normal^Nina');

    const movePort = await freePort();
    dcmqrscp = await startDcmqrscp({ aeTitle: 'DCMQRPC' });
    server = await startLoader([], { aeTitle: 'LSRVPC' });
    orthanc = await startOrthanc({
      aeTitle: 'ORTHANCPC',
      modalities: {
        loader: orthancModality(LOADER_AE, movePort),
        dcmqrscp: orthancModality('DCMQRPC', dcmqrscp.port),
        lsrv: orthancModality('LSRVPC', server.port),
      },
    });
    await orthanc.uploadFile(onSource.file);
    await orthanc.uploadFile(normal.file);
    expect((await storeFiles(dcmqrscp, [onDestination.file])).code).toBe(0);
    expect((await storeFiles(server, [onDestination.file])).code).toBe(0);

    await registerNode(dirs, 'orthanc', orthanc);
    await registerNode(dirs, 'dcmqrscp', dcmqrscp);
    await registerNode(dirs, 'lsrv', server);
    await configure(dirs, 'pacs.aeTitle', LOADER_AE);
    await configure(dirs, 'pacs.moveScuPort', String(movePort));
  });

  afterAll(async () => {
    await orthanc?.stop();
    await dcmqrscp?.stop();
    await server?.stop();
  });

  test.each(['dcmqrscp', 'lsrv'])('move to %s fails the conflict study', async (destination) => {
    const peer = destination === 'dcmqrscp' ? dcmqrscp : server;
    const job = `move-${destination}`;
    const result = await runLoader(['migrate', 'orthanc', destination, '--study-uid', conflictUid, normalUid, '--method', 'move', '--job', job, '--json'], { dirs });
    expect(result.code).toBe(3);
    const report = result.json<Report>();
    expect(report.outcome).toBe('partial');
    expect(report.summary).toEqual({ migrated: 1, alreadyPresent: 0, failed: 1, pending: 0 });
    expectConflictFailure(
      report.studies.find((study) => study.studyInstanceUid === conflictUid),
      conflictUid,
    );
    expect(report.studies.find((study) => study.studyInstanceUid === normalUid)?.state).toBe('done');
    expect(await listOn(peer, conflictUid)).toEqual([onDestination.sopInstanceUid]);
    expect(await listOn(peer, normalUid)).toEqual([normal.sopInstanceUid]);
    // The log names neither Patient ID.
    expect(result.stderr).toContain('Patient ID conflict');
    expect(result.stderr).not.toContain('PAT-A');
    expect(result.stderr).not.toContain('PAT-B');
  });

  test('re-run fails the conflict study again', async () => {
    const result = await runLoader(['migrate', 'orthanc', 'dcmqrscp', '--study-uid', conflictUid, normalUid, '--method', 'move', '--job', 'move-dcmqrscp', '--json'], { dirs });
    expect(result.code).toBe(3);
    const study = result.json<Report>().studies.find((entry) => entry.studyInstanceUid === conflictUid);
    expectConflictFailure(study, conflictUid);
    expect(study?.attempts).toBe(2);
    expect(readStudyStates(dirs, 'move-dcmqrscp').get(conflictUid)).toBe('failed');
    expect(await listOn(dcmqrscp, conflictUid)).toEqual([onDestination.sopInstanceUid]);
  });

  test('relay fails before retrieving', async () => {
    const result = await runLoader(['migrate', 'orthanc', 'dcmqrscp', '--study-uid', conflictUid, '--method', 'relay', '--job', 'relay', '--json'], { dirs });
    expect(result.code).toBe(1);
    const report = result.json<Report>();
    expect(report.outcome).toBe('failure');
    expectConflictFailure(report.studies[0], conflictUid);
    expect(listArchived(dirs, conflictUid)).toEqual([]);
    expect(await listOn(dcmqrscp, conflictUid)).toEqual([onDestination.sopInstanceUid]);
  });

  test('dry run reports the conflict', async () => {
    const result = await runLoader(['migrate', 'orthanc', 'dcmqrscp', '--study-uid', conflictUid, '--dry-run'], { dirs });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`failed: ${conflictUid}: Patient ID conflict`);
    expect(result.stdout).not.toContain('Alpha');
  });

  test('local destination is checked', async () => {
    const local = createLoaderDirs('migrate-conflict-local-destination');
    await registerNode(local, 'orthanc', orthanc);
    await configure(local, 'pacs.aeTitle', LOADER_AE);
    await importInto(local, onDestination.file);
    const result = await runLoader(['migrate', 'orthanc', 'local', '--study-uid', conflictUid, '--json'], { dirs: local });
    expect(result.code).toBe(1);
    expectConflictFailure(result.json<Report>().studies[0], conflictUid);
    expect(listArchived(local, conflictUid)).toEqual([onDestination.sopInstanceUid]);
  });

  test('local source is checked', async () => {
    const local = createLoaderDirs('migrate-conflict-local-source');
    await registerNode(local, 'dcmqrscp', dcmqrscp);
    await configure(local, 'pacs.aeTitle', LOADER_AE);
    await importInto(local, onSource.file);
    const result = await runLoader(['migrate', 'local', 'dcmqrscp', '--study-uid', conflictUid, '--json'], { dirs: local });
    expect(result.code).toBe(1);
    expectConflictFailure(result.json<Report>().studies[0], conflictUid);
    expect(await listOn(dcmqrscp, conflictUid)).toEqual([onDestination.sopInstanceUid]);
  });
});

/**
 * A study that the source stores under two Patient IDs: two instances under
 * PAT-S and one under PAT-SX, all in one series, on Orthanc, which files them
 * as two studies with one Study Instance UID. migrate and sync must fail it
 * before anything is sent, even to a destination without the study, and name
 * both Patient IDs with their instance counts.
 */
describeBuilt('migrate of study split on source', () => {
  const dirs = createLoaderDirs('migrate-split-source');
  const splitUid = randomUid();
  const normalUid = randomUid();
  const splitFiles: string[] = [];
  let normal: { file: string; sopInstanceUid: string };
  let orthanc: OrthancHandle;
  let dcmqrscp: DcmqrscpHandle;

  const listOn = async (peer: DicomNode, studyInstanceUid: string): Promise<string[]> =>
    (await collect(findInstances(nodeFor(peer), localIdentity(0, 'CHECKER'), studyInstanceUid, undefined))).map((instance) => instance.sopInstanceUid).sort();

  /** Checks the failure of the split study: state, both Patient IDs with counts, no patient name. */
  function expectSplitFailure(study: StudyEntry | undefined): void {
    expect(study?.state).toBe('failed');
    expect(study?.lastError).toContain(`Patient ID conflict on the source: orthanc (ORTHANCSPL) stores study ${splitUid} under 2 Patient IDs`);
    expect(study?.lastError).toContain('"PAT-S" (2 instances)');
    expect(study?.lastError).toContain('"PAT-SX" (1 instance)');
    expect(study?.lastError).toContain('Nothing was sent');
    expect(study?.lastError).toContain('Correct the Patient ID of the wrong instances on orthanc');
    expect(study?.lastError).not.toContain('Split^');
  }

  beforeAll(async () => {
    const dir = makeTempDir('split-files');
    const seriesUid = randomUid();
    for (const patientId of ['PAT-S', 'PAT-S', 'PAT-SX']) splitFiles.push((await makeInstance(dir, splitUid, patientId, 'Split^Sam', seriesUid)).file);
    normal = await makeInstance(dir, normalUid, 'PAT-N', 'Normal^Nina');

    const movePort = await freePort();
    dcmqrscp = await startDcmqrscp({ aeTitle: 'DCMQRSPL' });
    orthanc = await startOrthanc({
      aeTitle: 'ORTHANCSPL',
      modalities: {
        loader: orthancModality(LOADER_AE, movePort),
        dcmqrscp: orthancModality('DCMQRSPL', dcmqrscp.port),
      },
    });
    for (const file of [...splitFiles, normal.file]) await orthanc.uploadFile(file);

    await registerNode(dirs, 'orthanc', orthanc);
    await registerNode(dirs, 'dcmqrscp', dcmqrscp);
    await configure(dirs, 'pacs.aeTitle', LOADER_AE);
    await configure(dirs, 'pacs.moveScuPort', String(movePort));
  });

  afterAll(async () => {
    await orthanc?.stop();
    await dcmqrscp?.stop();
  });

  test('move fails split study', async () => {
    const result = await runLoader(['migrate', 'orthanc', 'dcmqrscp', '--study-uid', splitUid, normalUid, '--method', 'move', '--job', 'split-move', '--json'], { dirs });
    expect(result.code).toBe(3);
    const report = result.json<Report>();
    expect(report.summary).toEqual({ migrated: 1, alreadyPresent: 0, failed: 1, pending: 0 });
    expectSplitFailure(report.studies.find((study) => study.studyInstanceUid === splitUid));
    expect(await listOn(dcmqrscp, splitUid)).toEqual([]);
    expect(await listOn(dcmqrscp, normalUid)).toEqual([normal.sopInstanceUid]);
    // The log names neither Patient ID.
    expect(result.stderr).toContain('the source stores the study under more than one Patient ID');
    expect(result.stderr).not.toContain('PAT-S');
  });

  test('relay fails before retrieving', async () => {
    const result = await runLoader(['migrate', 'orthanc', 'dcmqrscp', '--study-uid', splitUid, '--method', 'relay', '--job', 'split-relay', '--json'], { dirs });
    expect(result.code).toBe(1);
    expectSplitFailure(result.json<Report>().studies[0]);
    expect(listArchived(dirs, splitUid)).toEqual([]);
    expect(await listOn(dcmqrscp, splitUid)).toEqual([]);
  });

  test('dry run reports split study', async () => {
    const result = await runLoader(['migrate', 'orthanc', 'dcmqrscp', '--study-uid', splitUid, '--dry-run'], { dirs });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`failed: ${splitUid}: Patient ID conflict on the source`);
    expect(result.stdout).toContain('"PAT-S" (2 instances) and "PAT-SX" (1 instance)');
    expect(result.stdout).not.toContain('Split^');
  });

  test('sync fails split study', async () => {
    const result = await runLoader(['sync', 'orthanc', 'dcmqrscp', '--study-uid', splitUid, '--direction', 'a-to-b', '--json'], { dirs });
    expect(result.code).not.toBe(0);
    const report = result.json<{ transfers: Array<{ report?: Report }> }>();
    expectSplitFailure(report.transfers[0].report?.studies.find((study) => study.studyInstanceUid === splitUid));
    expect(await listOn(dcmqrscp, splitUid)).toEqual([]);
  });

  test('send leaves kept-aside instance out', async () => {
    const local = createLoaderDirs('migrate-split-send');
    await registerNode(local, 'dcmqrscp', dcmqrscp);
    await configure(local, 'pacs.aeTitle', LOADER_AE);
    const archive = LocalArchive.open(local.archiveDir);
    const outcomes: string[] = [];
    try {
      for (const file of splitFiles) outcomes.push((await archive.importFile(file, { copy: true })).outcome);
    } finally {
      archive.close();
    }
    // The archive files each study under one patient, so the PAT-SX instance is kept aside.
    expect(outcomes.slice(0, 2)).toEqual(['stored', 'stored']);
    expect(outcomes[2]).not.toBe('stored');
    const archived = listArchived(local, splitUid);
    expect(archived).toHaveLength(2);

    const result = await runLoader(['send', 'dcmqrscp', '--study-uid', splitUid], { dirs: local });
    expect(result.code).toBe(0);
    expect(await listOn(dcmqrscp, splitUid)).toEqual([...archived].sort());
  });
});
