/**
 * Hostile input to `loader serve`, which accepts registered AE titles only:
 * a SOP Instance UID with '../', a 65-character Study Instance UID, a
 * truncated data set, a blank calling AE title and an unregistered one.
 * Each gets a failure status or an association rejection, and the log names
 * the AE titles and the UID. The server still accepts C-ECHO afterwards, and
 * the files already stored do not change.
 */
import * as fs from 'fs';
import * as path from 'path';

import { setLogSink } from '../../src/services/logger';
import {
  LoaderServer,
  associationArgs,
  corpusFile,
  corpusSamples,
  listFiles,
  runDcmtk,
  runLoader,
  startLoader,
  storeFiles,
} from '../support/peers';
import { FileState, echo, readPart10, snapshotArchive, snapshotObject, storeRawDataset, storeWithOwnSyntax } from './helpers';
import { incomingLeftovers } from '../support/incoming';

const stored = corpusSamples((file) => file.kind === 'mr-volume' || file.kind === 'ct');

let loader: LoaderServer;
let before: Map<string, FileState>;

beforeAll(async () => {
  // The test's own client logs through the loader's logger; keep jest's output clean.
  setLogSink(() => undefined);
  loader = await startLoader([], { aeTitle: 'LOADER', acceptAny: false });
  const add = await runLoader(['nodes', 'add', 'sender', '--aet', 'SENDER', '--host', '127.0.0.1', '--port', '104'], { dirs: loader.dirs });
  if (add.code !== 0) throw new Error(`loader nodes add failed: ${add.stderr}`);

  const store = await storeWithOwnSyntax(loader, stored, 'SENDER');
  if (store.code !== 0) throw new Error(`storing the corpus failed: ${store.stderr.slice(-2000)}`);
  before = snapshotArchive(loader.dirs.archiveDir);
});

/** Returns the log lines written after `offset` characters. */
function logSince(offset: number): string[] {
  return loader.readLog().slice(offset).split('\n');
}

describe('hostile C-STORE', () => {
  test.each([
    ['path traversal UID', 'hostile-path-traversal-uid'],
    ['65-character Study UID', 'hostile-long-uid'],
  ])('%s fails', async (_name, kind) => {
    const file = corpusFile(kind);
    const logOffset = loader.readLog().length;

    const result = await runDcmtk('storescu', ['-v', ...associationArgs(loader, 'SENDER'), file.absolutePath]);

    expect(result.stderr).toMatch(/Received Store Response \((Error|Failed|Refused)/);
    const lines = logSince(logOffset).filter((line) => line.includes(file.sopInstanceUid!));
    expect(lines.some((line) => /callingAe(Title)?=SENDER/.test(line) && /(ERROR|WARN)/.test(line))).toBe(true);
    expect((await echo(loader, 'SENDER')).code).toBe(0);
  });

  /** Sends raw data set bytes with the loader's own client, which does not check them, and returns the C-STORE status. */
  async function sendRaw(sopClassUid: string, sopInstanceUid: string, transferSyntaxUid: string, dataset: Buffer): Promise<number> {
    return (await storeRawDataset(loader, 'SENDER', { sopClassUid, sopInstanceUid, transferSyntaxUid, dataset })).status;
  }

  test('traversal UID in data set only', async () => {
    const file = corpusFile('hostile-path-traversal-uid');
    const validUid = '2.25.1234567890123456789';
    const logOffset = loader.readLog().length;

    const status = await sendRaw(file.sopClassUid!, validUid, file.transferSyntaxUid!, readPart10(file.absolutePath).dataset);

    expect(status).not.toBe(0x0000);
    const lines = logSince(logOffset).filter((line) => line.includes(validUid));
    expect(lines.some((line) => /callingAe(Title)?=SENDER/.test(line) && /(ERROR|WARN)/.test(line))).toBe(true);
  });

  test('truncated data set fails', async () => {
    const file = corpusFile('hostile-truncated-header');
    const dataset = readPart10(file.absolutePath).dataset;
    const logOffset = loader.readLog().length;

    // storescu does not send a file it cannot parse, so the test's own client sends the raw bytes.
    const status = await sendRaw(file.sopClassUid!, file.sopInstanceUid!, file.transferSyntaxUid!, dataset);

    expect(status).not.toBe(0x0000);
    const lines = logSince(logOffset).filter((line) => line.includes(file.sopInstanceUid!));
    expect(lines.some((line) => /callingAe(Title)?=SENDER/.test(line) && /(ERROR|WARN)/.test(line))).toBe(true);
    expect((await echo(loader, 'SENDER')).code).toBe(0);
  });

  test('no file named evil anywhere', () => {
    const everything = listFiles(loader.dirs.root);
    expect(everything.filter((file) => /evil/.test(file))).toEqual([]);
    expect(fs.readdirSync(path.dirname(loader.dirs.root)).filter((name) => /evil/.test(name))).toEqual([]);
  });
});

describe('hostile associations', () => {
  test('blank calling AE rejected', async () => {
    const logOffset = loader.readLog().length;

    // echoscu refuses an empty -aet itself, so it sends spaces, which is a blank AE title on the wire.
    const result = await runDcmtk('echoscu', associationArgs(loader, '   '));

    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/Calling AE Title Not Recognized/);
    expect(logSince(logOffset).some((line) => /association rejected/i.test(line) && /calledAe(Title)?=LOADER/.test(line))).toBe(true);
    expect((await echo(loader, 'SENDER')).code).toBe(0);
  });

  test('unregistered calling AE rejected', async () => {
    const logOffset = loader.readLog().length;

    const result = await runDcmtk('echoscu', associationArgs(loader, 'STRANGER'));

    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/Calling AE Title Not Recognized/);
    const lines = logSince(logOffset);
    expect(lines.some((line) => /calling AE title not recognized: STRANGER/.test(line))).toBe(true);
    expect((await echo(loader, 'SENDER')).code).toBe(0);
  });

  test('unregistered AE cannot store', async () => {
    const result = await storeFiles(loader, [corpusFile('jpeg2000').absolutePath], { callingAeTitle: 'STRANGER' });

    expect(result.code).not.toBe(0);
    expect(fs.existsSync(path.join(loader.dirs.archiveDir, corpusFile('jpeg2000').studyInstanceUid!))).toBe(false);
  });

  test('wrong called AE rejected', async () => {
    const result = await runDcmtk('echoscu', ['-aet', 'SENDER', '-aec', 'NOTLOADER', loader.host, String(loader.port)]);

    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/Called AE Title Not Recognized/);
  });
});

describe('archive after hostile input', () => {
  test('stored files unchanged', () => {
    expect(snapshotObject(snapshotArchive(loader.dirs.archiveDir))).toEqual(snapshotObject(before));
  });

  test('incoming folder empty', () => {
    expect(incomingLeftovers(loader.dirs.archiveDir)).toEqual([]);
  });

  test('server still running', async () => {
    expect(loader.process.exitStatus).toBeUndefined();
    expect((await echo(loader, 'SENDER')).code).toBe(0);
  });
});
