/**
 * DCMTK movescu and getscu retrieve studies from `loader serve` holding the
 * corpus: every instance arrives with its data set bytes and transfer syntax
 * unchanged, and a C-MOVE to an unregistered destination fails with 0xA801
 * while the server stays up.
 */
import * as fs from 'fs';
import * as path from 'path';

import {
  CorpusFile,
  LoaderServer,
  StorescpHandle,
  associationArgs,
  corpusFile,
  corpusSamples,
  listFiles,
  makeTempDir,
  runDcmtk,
  runLoader,
  startLoader,
  startStorescp,
} from '../support/peers';
import { echo, readPart10, storeWithOwnSyntax } from './helpers';

const samples = corpusSamples();
/** The MR study stored in six syntaxes: explicit, implicit, big endian, RLE, JPEG-LS and JPEG 2000 lossless. */
const mixedStudy = samples.filter((file) => file.studyInstanceUid === corpusFile('jpeg-ls-lossless').studyInstanceUid);
/** The brain volume: 19 Explicit VR Little Endian slices and one big endian slice. */
const plainStudy = samples.filter((file) => file.studyInstanceUid === corpusFile('mr-volume').studyInstanceUid);

let loader: LoaderServer;
let storescp: StorescpHandle;

beforeAll(async () => {
  loader = await startLoader([], { aeTitle: 'LOADER' });
  const store = await storeWithOwnSyntax(loader, samples);
  if (store.code !== 0) throw new Error(`storing the corpus failed: ${store.stderr.slice(-2000)}`);

  storescp = await startStorescp({ aeTitle: 'MOVEDEST', acceptAll: true });
  const add = await runLoader(
    ['nodes', 'add', 'movedest', '--aet', storescp.aeTitle, '--host', storescp.host, '--port', String(storescp.port)],
    { dirs: loader.dirs },
  );
  if (add.code !== 0) throw new Error(`loader nodes add failed: ${add.stderr}`);
});

/** Returns the received file of each sent file, matched by SOP Instance UID; undefined when missing. */
function receivedBySop(received: string[]): Map<string, string> {
  const bySop = new Map<string, string>();
  for (const file of received) bySop.set(readPart10(file).sopInstanceUid, file);
  return bySop;
}

function expectSameInstances(received: string[], sent: CorpusFile[]): void {
  const bySop = receivedBySop(received);
  expect([...bySop.keys()].sort()).toEqual(sent.map((file) => file.sopInstanceUid!).sort());
  for (const file of sent) {
    const copy = bySop.get(file.sopInstanceUid!);
    if (!copy) continue;
    const original = readPart10(file.absolutePath);
    const arrived = readPart10(copy);
    expect({ file: file.path, transferSyntax: arrived.transferSyntax }).toEqual({ file: file.path, transferSyntax: original.transferSyntax });
    expect({ file: file.path, sameDataset: arrived.dataset.equals(original.dataset) }).toEqual({ file: file.path, sameDataset: true });
  }
}

/** Returns the files storescp received of one study, recognized by their SOP Instance UIDs. */
function receivedOfStudy(studyInstanceUid: string): string[] {
  const sopUids = new Set(samples.filter((file) => file.studyInstanceUid === studyInstanceUid).map((file) => file.sopInstanceUid));
  return storescp.receivedFiles().filter((file) => sopUids.has(readPart10(file).sopInstanceUid));
}

function move(studyInstanceUid: string, destination: string) {
  return runDcmtk('movescu', [
    '-v', '-S', '-aem', destination,
    '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${studyInstanceUid}`,
    ...associationArgs(loader, 'MOVESCU'),
  ]);
}

describe('C-MOVE to storescp', () => {
  test.each([
    ['mixed syntax study', mixedStudy],
    ['plain study', plainStudy],
  ])('%s arrives unchanged', async (_name, study) => {
    const result = await move(study[0].studyInstanceUid!, storescp.aeTitle);

    expect(result.stderr).toMatch(/Received Final Move Response \(Success\)/);
    expect(result.code).toBe(0);
    expectSameInstances(receivedOfStudy(study[0].studyInstanceUid!), study);
  });

  test('unknown destination gets A801', async () => {
    const result = await move(plainStudy[0].studyInstanceUid!, 'NOWHERE');

    expect(result.stderr).toMatch(/MoveDestinationUnknown|0xa801/i);
    expect(loader.readLog()).toMatch(/C-MOVE destination unknown.*moveDestination=NOWHERE/);
    expect((await echo(loader)).code).toBe(0);
  });
});

describe('C-GET with getscu', () => {
  /** Returns a sub-operation count from getscu's final status report, or -1 when it printed none. */
  function subOperations(stderr: string, kind: 'Completed' | 'Failed' | 'Warning'): number {
    const match = new RegExp(`Number of ${kind} Suboperations\\s*:\\s*(\\d+)`).exec(stderr);
    return match ? Number(match[1]) : -1;
  }

  async function get(keys: string[], preference: string[]): Promise<{ stderr: string; files: string[] }> {
    const outputDir = makeTempDir('getscu');
    // +B writes each received data set as it arrived; getscu re-encodes sequence lengths otherwise.
    const args = ['-v', '-S', '+B', ...preference, '-od', outputDir];
    for (const key of keys) args.push('-k', key);
    const result = await runDcmtk('getscu', [...args, ...associationArgs(loader, 'GETSCU')]);
    return { stderr: result.stderr, files: listFiles(outputDir) };
  }

  test('plain study arrives whole', async () => {
    const result = await get(['QueryRetrieveLevel=STUDY', `StudyInstanceUID=${plainStudy[0].studyInstanceUid}`], []);

    expect(subOperations(result.stderr, 'Failed')).toBe(0);
    expect(subOperations(result.stderr, 'Completed')).toBe(plainStudy.length);
    expect([...receivedBySop(result.files).keys()].sort()).toEqual(plainStudy.map((file) => file.sopInstanceUid!).sort());
  });

  test('explicit instances unchanged', async () => {
    const explicit = plainStudy.filter((file) => file.transferSyntaxUid === '1.2.840.10008.1.2.1');
    const result = await get(['QueryRetrieveLevel=STUDY', `StudyInstanceUID=${plainStudy[0].studyInstanceUid}`], []);

    const arrived = result.files.filter((file) => explicit.some((sample) => sample.sopInstanceUid === readPart10(file).sopInstanceUid));
    expectSameInstances(arrived, explicit);
  });

  test.each([
    ['JPEG 2000 lossless', 'jpeg2000-lossless', '+xv'],
    ['JPEG-LS lossless', 'jpeg-ls-lossless', '+xt'],
    ['RLE', 'rle', '+xr'],
    ['JPEG lossless', 'jpeg-lossless', '+xs'],
  ])('%s instance keeps syntax', async (_name, kind, preference) => {
    const file = corpusFile(kind);
    const result = await get(
      [
        'QueryRetrieveLevel=IMAGE',
        `StudyInstanceUID=${file.studyInstanceUid}`,
        `SeriesInstanceUID=${file.seriesInstanceUid}`,
        `SOPInstanceUID=${file.sopInstanceUid}`,
      ],
      [preference],
    );

    expect(subOperations(result.stderr, 'Failed')).toBe(0);
    expect(subOperations(result.stderr, 'Completed')).toBe(1);
    expectSameInstances(result.files, [file]);
  });

  test('mixed study reports unsent instances', async () => {
    // getscu proposes one context per SOP class, JPEG 2000 lossless first. The server honours
    // that preference, so only the JPEG 2000 instance can go; the others cannot be compressed
    // to it and must be reported as failed sub-operations, never dropped silently.
    const jpeg2000 = mixedStudy.filter((file) => file.transferSyntaxUid === '1.2.840.10008.1.2.4.90');
    const others = mixedStudy.filter((file) => !jpeg2000.includes(file));
    const logBefore = loader.readLog().length;

    const result = await get(['QueryRetrieveLevel=STUDY', `StudyInstanceUID=${mixedStudy[0].studyInstanceUid}`], ['+xv']);

    expectSameInstances(result.files, jpeg2000);
    const log = loader.readLog().slice(logBefore);
    for (const file of others) {
      expect(log).toMatch(new RegExp(`sub-operation failed.*sopInstanceUid=${file.sopInstanceUid!.replace(/\./g, '\\.')}\\b`));
    }
    expect(log).toMatch(new RegExp(`C-GET finished.*completed=${jpeg2000.length} failed=${others.length}`));
  });

  test('server still answers', async () => {
    expect((await echo(loader)).code).toBe(0);
  });
});
