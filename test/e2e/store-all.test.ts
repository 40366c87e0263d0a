/**
 * storescu sends every corpus sample to `loader serve`, proposing each file's
 * own transfer syntax in a context of its own: the archive keeps each data set byte for byte in its
 * original syntax, at <archive>/<Study>/<Series>/<SOP>.dcm, and lists every
 * study with its instance count. Sending the same files again changes nothing.
 */
import * as fs from 'fs';

import { LoaderServer, RunResult, corpusSamples, startLoader, storeFiles } from '../support/peers';
import {
  FileState,
  StudyRow,
  archivePathOf,
  listStudies,
  readPart10,
  snapshotArchive,
  snapshotObject,
  storeWithOwnSyntax,
} from './helpers';

const samples = corpusSamples();

function expectedInstanceCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const file of samples) counts[file.studyInstanceUid!] = (counts[file.studyInstanceUid!] ?? 0) + 1;
  return counts;
}

function instanceCounts(rows: StudyRow[]): Record<string, number> {
  return Object.fromEntries(rows.map((row) => [row.studyInstanceUid, row.numberOfInstances]));
}

describe('store of every corpus sample', () => {
  let loader: LoaderServer;
  let firstStore: RunResult;
  let firstSnapshot: Map<string, FileState>;

  beforeAll(async () => {
    loader = await startLoader([], { aeTitle: 'LOADER' });
    firstStore = await storeWithOwnSyntax(loader, samples);
    firstSnapshot = snapshotArchive(loader.dirs.archiveDir);
  });

  test('storescu reports no failure', () => {
    expect(firstStore.stderr).not.toMatch(/^[EF]:/m);
    expect(firstStore.code).toBe(0);
  });

  test.each(samples.map((file) => [file.path, file] as const))('stored file of %s', (_name, file) => {
    const stored = archivePathOf(loader.dirs.archiveDir, file);
    expect(fs.existsSync(stored)).toBe(true);

    const sent = readPart10(file.absolutePath);
    const received = readPart10(stored);
    expect(received.transferSyntax).toBe(sent.transferSyntax);
    expect(received.sopInstanceUid).toBe(file.sopInstanceUid);
    expect(received.dataset.length).toBe(sent.dataset.length);
    expect(received.dataset.equals(sent.dataset)).toBe(true);
  });

  test('archive has one file per sample', () => {
    const dcmFiles = [...firstSnapshot.keys()].filter((relative) => !relative.startsWith('.'));
    expect(dcmFiles).toHaveLength(samples.length);
  });

  test('studies lists every instance count', async () => {
    const rows = await listStudies(loader.dirs);
    expect(instanceCounts(rows)).toEqual(expectedInstanceCounts());
  });

  test('second store changes nothing', async () => {
    const rowsBefore = await listStudies(loader.dirs);

    const again = await storeWithOwnSyntax(loader, samples);
    expect(again.stderr).not.toMatch(/^[EF]:/m);
    expect(again.code).toBe(0);

    expect(snapshotObject(snapshotArchive(loader.dirs.archiveDir))).toEqual(snapshotObject(firstSnapshot));
    expect(await listStudies(loader.dirs)).toEqual(rowsBefore);
  });

  test('server log has no errors', () => {
    expect(loader.readLog()).not.toMatch(/ ERROR /);
  });
});

describe('store with the AllTS profile', () => {
  // AllTS proposes the three uncompressed syntaxes in one context, so storescu
  // converts Implicit VR and big endian files to the syntax the loader accepts.
  // Compressed files have a context of their own and must arrive unchanged.
  const UNCOMPRESSED = ['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.2'];
  const compressed = samples.filter((file) => !UNCOMPRESSED.includes(file.transferSyntaxUid!));
  let loader: LoaderServer;
  let store: RunResult;

  beforeAll(async () => {
    loader = await startLoader([], { aeTitle: 'LOADER' });
    store = await storeFiles(loader, samples.map((file) => file.absolutePath), { timeoutMs: 90_000 });
  });

  test('storescu reports no failure', () => {
    expect(store.stderr).not.toMatch(/^[EF]:/m);
    expect(store.code).toBe(0);
  });

  test('every sample is stored', () => {
    const missing = samples.filter((file) => !fs.existsSync(archivePathOf(loader.dirs.archiveDir, file)));
    expect(missing.map((file) => file.path)).toEqual([]);
  });

  test.each(compressed.map((file) => [file.path, file] as const))('compressed %s is unchanged', (_name, file) => {
    const sent = readPart10(file.absolutePath);
    const received = readPart10(archivePathOf(loader.dirs.archiveDir, file));
    expect(received.transferSyntax).toBe(sent.transferSyntax);
    expect(received.dataset.equals(sent.dataset)).toBe(true);
  });
});
