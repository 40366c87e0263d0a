/**
 * A file indexed in place (`loader scan` without --import) may later be
 * overwritten with another instance, by a modality or a user. DCMTK getscu and
 * movescu then retrieve its indexed instance from `loader serve`. The C-STORE
 * sub-operation must fail with a reason that names the path and the UIDs, and
 * no peer may receive the other instance's data set under the indexed SOP
 * Instance UID. The overwriting instance has the same size, so only the SOP
 * Instance UID distinguishes the two files.
 */
import { execFileSync } from 'node:child_process';
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
} from '../support/peers';
import { generateUid } from '../../src/dicom/uid';

interface InstanceUids {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
}

/** Returns a UID of the same length as `uid`, so that a file with it keeps its size. */
function sameLengthUid(uid: string): string {
  const last = Number(uid.at(-1));
  return `${uid.slice(0, -1)}${(last + 1) % 10}`;
}

/** Patient names of equal length. Neither may appear in the server log. */
const INDEXED_PATIENT = { id: 'INPL-A', name: 'Inplace^Alice' };
const OVERWRITING_PATIENT = { id: 'INPL-B', name: 'Another^Boris' };

interface OverwrittenFile {
  /** The path that the index row names. */
  path: string;
  indexed: InstanceUids;
  overwriting: InstanceUids;
  /** Bytes of the overwriting file, which no retrieve may change. */
  bytes: Buffer;
}

let loader: LoaderServer;
let storescp: StorescpHandle;
let storescpImplicit: StorescpHandle;
let partTen: OverwrittenFile;
let datasetOnly: OverwrittenFile;
let resized: OverwrittenFile;

function writeInstance(target: string, patient: { id: string; name: string }, uids: InstanceUids): string {
  return modifiedCopy(CT_SMALL, target, {
    [Tag.PatientID]: patient.id,
    [Tag.PatientName]: patient.name,
    [Tag.StudyInstanceUID]: uids.studyInstanceUid,
    [Tag.SeriesInstanceUID]: uids.seriesInstanceUid,
    [Tag.SOPInstanceUID]: uids.sopInstanceUid,
  });
}

/** Rewrites a Part 10 file as a bare data set in Explicit VR Little Endian, without file meta information. */
function stripFileMeta(file: string): void {
  execFileSync('dcmconv', ['-F', '+te', file, file], { stdio: 'pipe' });
}

/**
 * Indexes one instance in place in its own folder, then overwrites its file
 * with an instance of another patient and study, of the same size unless
 * `overwritingPatient` has a name of another length.
 */
async function indexThenOverwrite(label: string, withoutMeta: boolean, overwritingPatient = OVERWRITING_PATIENT): Promise<OverwrittenFile> {
  const folder = makeTempDir(`overwritten-${label}`);
  const indexed = { studyInstanceUid: generateUid(), seriesInstanceUid: generateUid(), sopInstanceUid: generateUid() };
  const overwriting = {
    studyInstanceUid: sameLengthUid(indexed.studyInstanceUid),
    seriesInstanceUid: sameLengthUid(indexed.seriesInstanceUid),
    sopInstanceUid: sameLengthUid(indexed.sopInstanceUid),
  };
  const file = writeInstance(path.join(folder, 'scanned', 'a.dcm'), INDEXED_PATIENT, indexed);
  const replacement = writeInstance(path.join(folder, 'replacement.dcm'), overwritingPatient, overwriting);
  if (withoutMeta) {
    stripFileMeta(file);
    stripFileMeta(replacement);
  }

  const scan = await runLoader(['scan', path.dirname(file)], { dirs: loader.dirs });
  if (scan.code !== 0) throw new Error(`loader scan failed with ${scan.code}: ${scan.stdout}\n${scan.stderr}`);

  fs.copyFileSync(replacement, file);
  return { path: file, indexed, overwriting, bytes: fs.readFileSync(replacement) };
}

beforeAll(async () => {
  loader = await startLoader([], { aeTitle: 'LOADER' });
  partTen = await indexThenOverwrite('part10', false);
  datasetOnly = await indexThenOverwrite('dataset', true);
  resized = await indexThenOverwrite('resized', false, { id: 'INPL-C', name: 'Longer^Boris^Middlename' });

  storescp = await startStorescp({ aeTitle: 'OVERDEST' });
  storescpImplicit = await startStorescp({ aeTitle: 'OVERIMPL', extraArgs: ['+xi'] });
  for (const [name, peer] of [['overdest', storescp], ['overimpl', storescpImplicit]] as const) {
    const add = await runLoader(['nodes', 'add', name, '--aet', peer.aeTitle, '--host', peer.host, '--port', String(peer.port)], { dirs: loader.dirs });
    if (add.code !== 0) throw new Error(`loader nodes add ${name} failed: ${add.stderr}`);
  }
});

afterAll(async () => {
  await Promise.all([loader?.stop(), storescp?.stop(), storescpImplicit?.stop()]);
});

/** Runs `request` and returns its stderr with the loader log lines it added. */
async function logOf(request: () => Promise<{ code: number | null; stderr: string }>): Promise<{ stderr: string; log: string }> {
  const before = loader.readLog().length;
  const result = await request();
  return { stderr: result.stderr, log: loader.readLog().slice(before) };
}

function get(file: OverwrittenFile, outputDir: string) {
  const keys = ['QueryRetrieveLevel=STUDY', `StudyInstanceUID=${file.indexed.studyInstanceUid}`];
  return runDcmtk('getscu', ['-v', '-S', '-od', outputDir, ...keys.flatMap((key) => ['-k', key]), ...associationArgs(loader, 'GETSCU')]);
}

function move(file: OverwrittenFile, destination: StorescpHandle) {
  const keys = ['QueryRetrieveLevel=STUDY', `StudyInstanceUID=${file.indexed.studyInstanceUid}`];
  return runDcmtk('movescu', ['-v', '-S', '-aem', destination.aeTitle, ...keys.flatMap((key) => ['-k', key]), ...associationArgs(loader, 'MOVESCU')]);
}

/** Checks the server log of one failed sub-operation: the path and both UIDs, and no patient name. */
function expectMismatchLogged(log: string, file: OverwrittenFile): void {
  expect(log).toMatch(/C-STORE sub-operation failed/);
  expect(log).toContain(file.path);
  expect(log).toContain(file.indexed.sopInstanceUid);
  expect(log).toContain(file.overwriting.sopInstanceUid);
  expect(log).toContain(`loader scan`);
  expect(log).not.toMatch(/Alice|Boris/i);
}

describe('retrieve of an overwritten file', () => {
  test('files have equal sizes', () => {
    expect(fs.statSync(partTen.path).size).toBe(fs.statSync(path.join(path.dirname(partTen.path), '..', 'replacement.dcm')).size);
    expect(fs.statSync(datasetOnly.path).size).toBe(fs.statSync(path.join(path.dirname(datasetOnly.path), '..', 'replacement.dcm')).size);
  });

  test.each([
    ['Part 10 file', () => partTen],
    ['data set without meta information', () => datasetOnly],
  ])('C-GET of %s fails', async (_case, fileOf) => {
    const file = fileOf();
    const outputDir = makeTempDir('getscu-overwritten');

    const { stderr, log } = await logOf(() => get(file, outputDir));

    expect(fs.readdirSync(outputDir)).toEqual([]);
    expect(stderr).not.toMatch(/Received C-GET Response \(Success\)/);
    expect(log).toMatch(/C-GET finished.*completed=0 failed=1/);
    expectMismatchLogged(log, file);
    expect(fs.readFileSync(file.path).equals(file.bytes)).toBe(true);
  });

  test('C-GET of resized file fails', async () => {
    const outputDir = makeTempDir('getscu-resized');

    const { stderr, log } = await logOf(() => get(resized, outputDir));

    expect(fs.readdirSync(outputDir)).toEqual([]);
    expect(stderr).not.toMatch(/Received C-GET Response \(Success\)/);
    expect(log).toMatch(/C-GET finished.*completed=0 failed=1/);
    expect(log).toContain(`stored file changed since it was indexed: ${resized.path} has ${resized.bytes.length} bytes`);
    expect(log).toContain(`loader scan ${resized.path}`);
    expect(log).not.toMatch(/Alice|Boris/i);
  });

  test.each([
    ['verbatim', () => storescp],
    ['converted to Implicit VR Little Endian', () => storescpImplicit],
  ])('C-MOVE %s sends nothing', async (_case, destinationOf) => {
    const destination = destinationOf();
    const before = destination.receivedFiles().length;

    const { stderr, log } = await logOf(() => move(partTen, destination));

    expect(destination.receivedFiles()).toHaveLength(before);
    expect(stderr).not.toMatch(/Received Final Move Response \(Success\)/);
    expect(log).toMatch(/C-MOVE finished.*completed=0 failed=1/);
    expectMismatchLogged(log, partTen);
    expect(fs.readFileSync(partTen.path).equals(partTen.bytes)).toBe(true);
  });
});

describe('loader send of an overwritten file', () => {
  test('data set without meta information fails', async () => {
    const before = storescp.receivedFiles().length;

    const send = await runLoader(['send', 'overdest', '--study-uid', datasetOnly.indexed.studyInstanceUid], { dirs: loader.dirs });

    expect(send.code).toBe(1);
    expect(storescp.receivedFiles()).toHaveLength(before);
    expect(send.stdout).toContain(`stored file now contains another instance: ${datasetOnly.path} contains SOP Instance UID ${datasetOnly.overwriting.sopInstanceUid}`);
    expect(send.stdout).toContain(`loader scan ${datasetOnly.path}`);
    expect(fs.readFileSync(datasetOnly.path).equals(datasetOnly.bytes)).toBe(true);
  });
});
