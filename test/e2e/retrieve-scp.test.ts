/**
 * DCMTK movescu and getscu retrieve studies from `loader serve` holding the
 * corpus. C-MOVE delivers every instance with its data set bytes and transfer
 * syntax unchanged, and a C-MOVE to an unregistered destination fails with
 * 0xA801 while the server stays up. getscu proposes one presentation context
 * per SOP class with its preferred syntax first. A C-GET still delivers every
 * instance of a study stored in several syntaxes, verbatim where the accepted
 * syntax is the stored one. The server keeps a compressed syntax when the
 * archive stores the SOP class only in it.
 */
import * as fs from 'fs';
import * as path from 'path';

import {
  CorpusFile,
  DicomNode,
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

/** Explicit VR Little Endian, Implicit VR Little Endian or Explicit VR Big Endian. */
const UNCOMPRESSED_SYNTAX = /^1\.2\.840\.10008\.1\.2(\.1|\.2)?$/;

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

/** Returns a sub-operation count from getscu's final status report, or -1 when it printed none. */
function subOperations(stderr: string, kind: 'Completed' | 'Failed' | 'Warning'): number {
  const match = new RegExp(`Number of ${kind} Suboperations\\s*:\\s*(\\d+)`).exec(stderr);
  return match ? Number(match[1]) : -1;
}

/** Runs getscu against `server` with the keys and the transfer syntax options in `preference`. */
async function get(server: DicomNode, keys: string[], preference: string[]): Promise<{ stderr: string; files: string[] }> {
  const outputDir = makeTempDir('getscu');
  // +B writes each received data set as it arrived; getscu re-encodes sequence lengths otherwise.
  const args = ['-v', '-S', '+B', ...preference, '-od', outputDir];
  for (const key of keys) args.push('-k', key);
  const result = await runDcmtk('getscu', [...args, ...associationArgs(server, 'GETSCU')]);
  return { stderr: result.stderr, files: listFiles(outputDir) };
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
  test('plain study arrives whole', async () => {
    const result = await get(loader, ['QueryRetrieveLevel=STUDY', `StudyInstanceUID=${plainStudy[0].studyInstanceUid}`], []);

    expect(subOperations(result.stderr, 'Failed')).toBe(0);
    expect(subOperations(result.stderr, 'Completed')).toBe(plainStudy.length);
    expect([...receivedBySop(result.files).keys()].sort()).toEqual(plainStudy.map((file) => file.sopInstanceUid!).sort());
  });

  test('explicit instances unchanged', async () => {
    const explicit = plainStudy.filter((file) => file.transferSyntaxUid === '1.2.840.10008.1.2.1');
    const result = await get(loader, ['QueryRetrieveLevel=STUDY', `StudyInstanceUID=${plainStudy[0].studyInstanceUid}`], []);

    const arrived = result.files.filter((file) => explicit.some((sample) => sample.sopInstanceUid === readPart10(file).sopInstanceUid));
    expectSameInstances(arrived, explicit);
  });

  test.each([
    ['no option', []],
    ['+xi', ['+xi']],
    ['+xb', ['+xb']],
    ['+xd', ['+xd']],
    ['+xe', ['+xe']],
    ['-xi', ['-xi']],
    ['-xb', ['-xb']],
    ['+xr', ['+xr']],
    ['+xs', ['+xs']],
    ['+xv', ['+xv']],
    ['+xt', ['+xt']],
  ])('mixed study arrives whole (%s)', async (_name, preference) => {
    // getscu proposes one MR context, and the archive stores MR in seven syntaxes, so the server
    // must accept an uncompressed syntax there even when the requester lists a compressed one first.
    const logBefore = loader.readLog().length;

    const result = await get(loader, ['QueryRetrieveLevel=STUDY', `StudyInstanceUID=${mixedStudy[0].studyInstanceUid}`], preference);

    expect(subOperations(result.stderr, 'Failed')).toBe(0);
    expect(subOperations(result.stderr, 'Completed')).toBe(mixedStudy.length);
    expect(loader.readLog().slice(logBefore)).toMatch(new RegExp(`C-GET finished.*completed=${mixedStudy.length} failed=0`));
    const bySop = receivedBySop(result.files);
    expect([...bySop.keys()].sort()).toEqual(mixedStudy.map((file) => file.sopInstanceUid!).sort());
    const arrivedSyntax = (file: CorpusFile) => {
      const copy = bySop.get(file.sopInstanceUid!);
      return copy === undefined ? undefined : readPart10(copy).transferSyntax;
    };
    const verbatim = mixedStudy.filter((file) => arrivedSyntax(file) === file.transferSyntaxUid);
    expectSameInstances(verbatim.map((file) => bySop.get(file.sopInstanceUid!)!), verbatim);
    for (const file of mixedStudy.filter((file) => !verbatim.includes(file) && bySop.has(file.sopInstanceUid!))) {
      expect({ file: file.path, transferSyntax: arrivedSyntax(file) }).toEqual({ file: file.path, transferSyntax: expect.stringMatching(UNCOMPRESSED_SYNTAX) });
    }
  });

  test('server still answers', async () => {
    expect((await echo(loader)).code).toBe(0);
  });
});

describe('C-GET of a SOP class stored in one compressed syntax', () => {
  /** Stores MR only in JPEG 2000 lossless, X-Ray Angiographic only in JPEG lossless and US Multi-frame only in RLE. */
  let single: LoaderServer;
  /** Stores MR only in JPEG-LS lossless. */
  let jpegLs: LoaderServer;

  beforeAll(async () => {
    single = await startLoader([], { aeTitle: 'LOADER' });
    const singleStore = await storeWithOwnSyntax(single, ['jpeg2000-lossless', 'jpeg-lossless', 'us-multiframe-rle'].map(corpusFile));
    if (singleStore.code !== 0) throw new Error(`storing the compressed instances failed: ${singleStore.stderr.slice(-2000)}`);

    jpegLs = await startLoader([], { aeTitle: 'LOADER' });
    const jpegLsStore = await storeWithOwnSyntax(jpegLs, [corpusFile('jpeg-ls-lossless')]);
    if (jpegLsStore.code !== 0) throw new Error(`storing the JPEG-LS instance failed: ${jpegLsStore.stderr.slice(-2000)}`);
  });

  afterAll(async () => {
    await Promise.all([single?.stop(), jpegLs?.stop()]);
  });

  function imageKeys(file: CorpusFile): string[] {
    return [
      'QueryRetrieveLevel=IMAGE',
      `StudyInstanceUID=${file.studyInstanceUid}`,
      `SeriesInstanceUID=${file.seriesInstanceUid}`,
      `SOPInstanceUID=${file.sopInstanceUid}`,
    ];
  }

  test.each([
    ['JPEG 2000 lossless', 'jpeg2000-lossless', '+xv', () => single],
    ['JPEG-LS lossless', 'jpeg-ls-lossless', '+xt', () => jpegLs],
    ['RLE', 'us-multiframe-rle', '+xr', () => single],
    ['JPEG lossless', 'jpeg-lossless', '+xs', () => single],
  ])('%s instance keeps syntax', async (_name, kind, preference, server) => {
    const file = corpusFile(kind);

    const result = await get(server(), imageKeys(file), [preference]);

    expect(subOperations(result.stderr, 'Failed')).toBe(0);
    expect(subOperations(result.stderr, 'Completed')).toBe(1);
    expectSameInstances(result.files, [file]);
  });

  test('unproposed stored syntax arrives decompressed', async () => {
    // The MR context proposes RLE first, and the archive stores no MR instance in RLE.
    const file = corpusFile('jpeg2000-lossless');

    const result = await get(single, imageKeys(file), ['+xr']);

    expect(subOperations(result.stderr, 'Failed')).toBe(0);
    expect(subOperations(result.stderr, 'Completed')).toBe(1);
    expect(result.files.length).toBe(1);
    const arrived = readPart10(result.files[0]);
    expect(arrived.sopInstanceUid).toBe(file.sopInstanceUid);
    expect(arrived.transferSyntax).toBe('1.2.840.10008.1.2.1');
  });
});
