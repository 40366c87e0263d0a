/**
 * An instance sent again in another uncompressed transfer syntax is a
 * duplicate, not a conflict: storescu re-encodes the stored Explicit VR
 * instance in Implicit VR and Explicit VR Big Endian, and `loader serve`
 * keeps nothing in .conflicts. A really different data set under a stored
 * SOP Instance UID, or an RLE copy, is kept aside once, however often it
 * comes. A private sequence of defined length, which storescu writes in
 * Implicit VR as a value of an unknown tag, makes no conflict either. `loader get` from Orthanc, which stores the Explicit VR copy of an
 * instance that the archive stores in Implicit VR, counts it as already
 * archived.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import {
  LOOPBACK,
  associationArgs,
  corpusFile,
  createLoaderDirs,
  freePort,
  loaderIsBuilt,
  runDcmtk,
  runLoader,
  startLoader,
  startOrthanc,
} from '../support/peers';
import type { CorpusFile, LoaderServer, OrthancHandle, RunResult } from '../support/peers';
import { readPart10, storeWithOwnSyntax } from './helpers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

const IMPLICIT_LE = '1.2.840.10008.1.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const EXPLICIT_BE = '1.2.840.10008.1.2.2';
const DEFLATED = '1.2.840.10008.1.2.1.99';
const RLE_LOSSLESS = '1.2.840.10008.1.2.5';

/** Sends `file` with storescu proposing only the syntax of `syntaxOption` (-xi, -xe, -xb), so storescu re-encodes it. */
function sendAs(server: LoaderServer, syntaxOption: string, file: string): Promise<RunResult> {
  return runDcmtk('storescu', [syntaxOption, ...associationArgs(server, 'STORESCU'), file], { timeoutMs: 120_000 });
}

function conflictCopies(archiveDir: string, sopInstanceUid: string): string[] {
  const folder = path.join(archiveDir, '.conflicts');
  if (!fs.existsSync(folder)) return [];
  return fs.readdirSync(folder).filter((name) => name.startsWith(`${sopInstanceUid}.`));
}

/** Converts `file` with a DCMTK tool (dcmconv, dcmcrle) into `target`, and returns it as a corpus entry in `transferSyntaxUid`. */
async function convertWith(tool: string, options: string[], file: CorpusFile, target: string, transferSyntaxUid: string): Promise<CorpusFile> {
  const result = await runDcmtk(tool, [...options, file.absolutePath, target]);
  if (result.code !== 0) throw new Error(`${tool} failed: ${result.stderr}`);
  return { ...file, absolutePath: target, transferSyntaxUid };
}

function expectSent(result: RunResult): void {
  expect(result.stderr).not.toMatch(/^[EF]:/m);
  expect(result.code).toBe(0);
}

/**
 * Checks that `server` kept nothing aside for `sopInstanceUid` and logged `count`
 * duplicates of an Implicit VR copy of an instance stored in Explicit VR.
 */
function expectImplicitDuplicates(server: LoaderServer, sopInstanceUid: string, count: number): void {
  expect(conflictCopies(server.dirs.archiveDir, sopInstanceUid)).toEqual([]);
  const log = server.readLog();
  expect(log).not.toContain('kept it aside');
  const duplicateLines = log.split('\n').filter((line) => line.includes('Received duplicate instance') && line.includes(sopInstanceUid));
  expect(duplicateLines).toHaveLength(count);
  expect(duplicateLines[0]).toContain(`storedTransferSyntaxUid=${EXPLICIT_LE}`);
  expect(duplicateLines[0]).toContain(`receivedTransferSyntaxUid=${IMPLICIT_LE}`);
}

describeBuilt('instance sent again in another syntax', () => {
  const ct = corpusFile('ct');
  const sopInstanceUid = ct.sopInstanceUid!;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'loader-resend-'));
  let server: LoaderServer;

  beforeAll(async () => {
    server = await startLoader([], { aeTitle: 'RESEND', env: { LOADER_LOG_LEVEL: 'debug' } });
    expectSent(await sendAs(server, '-xe', ct.absolutePath));
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('implicit VR repeats are duplicates', async () => {
    for (let round = 0; round < 3; round++) expectSent(await sendAs(server, '-xi', ct.absolutePath));

    expectImplicitDuplicates(server, sopInstanceUid, 3);
  }, 240_000);

  test('big endian repeat is duplicate', async () => {
    const bigEndian = await convertWith('dcmconv', ['+tb'], ct, path.join(work, 'big-endian.dcm'), EXPLICIT_BE);
    expectSent(await storeWithOwnSyntax(server, [bigEndian]));

    expect(conflictCopies(server.dirs.archiveDir, sopInstanceUid)).toEqual([]);
    expect(server.readLog()).toContain(`receivedTransferSyntaxUid=${EXPLICIT_BE}`);
  }, 120_000);

  test('deflated repeat is duplicate', async () => {
    const deflated = await convertWith('dcmconv', ['+td'], ct, path.join(work, 'deflated.dcm'), DEFLATED);
    expectSent(await storeWithOwnSyntax(server, [deflated]));

    expect(conflictCopies(server.dirs.archiveDir, sopInstanceUid)).toEqual([]);
    expect(server.readLog()).toContain(`receivedTransferSyntaxUid=${DEFLATED}`);
  }, 120_000);

  test('stored file stays explicit VR', () => {
    const stored = path.join(server.dirs.archiveDir, ct.studyInstanceUid!, ct.seriesInstanceUid!, `${sopInstanceUid}.dcm`);
    expect(readPart10(stored).transferSyntax).toBe(EXPLICIT_LE);
    expect(readPart10(stored).dataset.equals(readPart10(ct.absolutePath).dataset)).toBe(true);
  });

  test('different content is kept aside once', async () => {
    const changed = path.join(work, 'changed.dcm');
    fs.copyFileSync(ct.absolutePath, changed);
    const modify = await runDcmtk('dcmodify', ['-nb', '-i', '(0008,1030)=CHANGED CONTENT', changed]);
    expect(modify.code).toBe(0);

    expectSent(await sendAs(server, '-xe', changed));
    expect(conflictCopies(server.dirs.archiveDir, sopInstanceUid)).toHaveLength(1);
    expect(server.readLog()).toContain('Received different content for a stored SOP Instance UID; kept it aside');

    expectSent(await sendAs(server, '-xe', changed));
    expectSent(await sendAs(server, '-xi', changed));
    expect(conflictCopies(server.dirs.archiveDir, sopInstanceUid)).toHaveLength(1);
    const notKeptAgain = server.readLog().split('\n').filter((line) => line.includes('equals a copy kept aside before') && line.includes(sopInstanceUid));
    expect(notKeptAgain).toHaveLength(2);
  }, 240_000);

  test('RLE copy stays a conflict', async () => {
    const rle = await convertWith('dcmcrle', [], ct, path.join(work, 'rle.dcm'), RLE_LOSSLESS);
    const before = conflictCopies(server.dirs.archiveDir, sopInstanceUid).length;

    expectSent(await storeWithOwnSyntax(server, [rle]));

    expect(conflictCopies(server.dirs.archiveDir, sopInstanceUid)).toHaveLength(before + 1);
  }, 120_000);
});

/** Dump of a data set with a private sequence of defined length, as dump2dcm writes by default. */
const PRIVATE_SEQUENCE_DUMP = [
  '(0008,0016) UI =SecondaryCaptureImageStorage',
  '(0008,0018) UI [1.2.826.0.1.3680043.2.1143.7002.1]',
  '(0010,0020) LO [SQRESEND]',
  '(0020,000d) UI [1.2.826.0.1.3680043.2.1143.7002.2]',
  '(0020,000e) UI [1.2.826.0.1.3680043.2.1143.7002.3]',
  '(0029,0010) LO [ACME]',
  '(0029,1000) SQ (Sequence with explicit length #=1)',
  '(fffe,e000) na (Item with explicit length #=2)',
  '(0029,0010) LO [ACME]',
  '(0029,1001) US 5\\5',
  '(fffe,e00d) na (ItemDelimitationItem)',
  '(fffe,e0dd) na (SequenceDelimitationItem)',
  '',
].join('\n');

describeBuilt('private sequence sent again in implicit VR', () => {
  const sopInstanceUid = '1.2.826.0.1.3680043.2.1143.7002.1';
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'loader-resend-sq-'));
  const file = path.join(work, 'private-sequence.dcm');
  let server: LoaderServer;

  beforeAll(async () => {
    fs.writeFileSync(path.join(work, 'private-sequence.dump'), PRIVATE_SEQUENCE_DUMP);
    const written = await runDcmtk('dump2dcm', ['--write-xfer-little', path.join(work, 'private-sequence.dump'), file]);
    if (written.code !== 0) throw new Error(`dump2dcm failed: ${written.stderr}`);
    server = await startLoader([], { aeTitle: 'RESENDSQ', env: { LOADER_LOG_LEVEL: 'debug' } });
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('implicit repeat is duplicate', async () => {
    expectSent(await sendAs(server, '-xe', file));
    expectSent(await sendAs(server, '-xi', file));

    expectImplicitDuplicates(server, sopInstanceUid, 1);
  }, 240_000);
});

interface RetrieveJson {
  outcome: string;
  studies: { studyInstanceUid: string; outcome: string; completed: number; stored: number; duplicates: number; conflicts: number }[];
}

/**
 * Runs the `first` loader commands, then registers `orthanc` as node orth and
 * sets the loader's AE title and C-MOVE port. Throws when a command fails.
 */
async function configureLoader(
  dirs: ReturnType<typeof createLoaderDirs>,
  orthanc: OrthancHandle,
  callingAeTitle: string,
  movePort: number,
  first: string[][] = [],
): Promise<void> {
  const commands = [
    ...first,
    ['nodes', 'add', 'orth', '--aet', orthanc.aeTitle, '--host', orthanc.host, '--port', String(orthanc.port)],
    ['config', 'set', 'pacs.aeTitle', callingAeTitle],
    ['config', 'set', 'pacs.moveScuPort', String(movePort)],
  ];
  for (const command of commands) {
    const result = await runLoader(command, { dirs });
    if (result.code !== 0) throw new Error(`loader ${command.join(' ')} failed: ${result.stderr}`);
  }
}

describeBuilt('get of a copy in another syntax', () => {
  const mr = corpusFile('mr');
  const dirs = createLoaderDirs('resend-get');
  const callingAeTitle = 'LOADERRESEND';
  let server: LoaderServer;
  let orthanc: OrthancHandle;

  beforeAll(async () => {
    const movePort = await freePort();
    orthanc = await startOrthanc({ aeTitle: 'ORTHRESEND', modalities: { loader: { aet: callingAeTitle, host: LOOPBACK, port: movePort } } });
    await orthanc.uploadFile(mr.absolutePath);

    server = await startLoader([], { aeTitle: 'RESENDGET', dirs });
    expectSent(await sendAs(server, '-xi', mr.absolutePath));
    await server.stop();
    const archived = path.join(dirs.archiveDir, mr.studyInstanceUid!, mr.seriesInstanceUid!, `${mr.sopInstanceUid!}.dcm`);
    expect(readPart10(archived).transferSyntax).toBe(IMPLICIT_LE);
    expect(mr.transferSyntaxUid).toBe(EXPLICIT_LE);

    await configureLoader(dirs, orthanc, callingAeTitle, movePort);
  }, 180_000);

  afterAll(async () => {
    await server?.stop();
    await orthanc?.stop();
  });

  test('get counts it as already archived', async () => {
    const result = await runLoader(['get', 'orth', '--study-uid', mr.studyInstanceUid!, '--json'], { dirs, timeoutMs: 120_000 });

    expect(result.code).toBe(0);
    const report = result.json<RetrieveJson>();
    expect(report.outcome).toBe('success');
    expect(report.studies[0].duplicates).toBe(1);
    expect(report.studies[0].conflicts).toBe(0);
    expect(conflictCopies(dirs.archiveDir, mr.sopInstanceUid!)).toEqual([]);
  }, 180_000);
});

describeBuilt('get of a changed copy, twice', () => {
  const mr = corpusFile('mr');
  const dirs = createLoaderDirs('resend-get-changed');
  const callingAeTitle = 'LOADERCHANGED';
  let orthanc: OrthancHandle;

  beforeAll(async () => {
    const movePort = await freePort();
    orthanc = await startOrthanc({ aeTitle: 'ORTHCHANGED', modalities: { loader: { aet: callingAeTitle, host: LOOPBACK, port: movePort } } });
    const changed = path.join(dirs.root, 'changed.dcm');
    fs.copyFileSync(mr.absolutePath, changed);
    expect((await runDcmtk('dcmodify', ['-nb', '-i', '(0008,1030)=CHANGED ON THE PACS', changed])).code).toBe(0);
    await orthanc.uploadFile(changed);

    await configureLoader(dirs, orthanc, callingAeTitle, movePort, [['scan', '--import', mr.absolutePath]]);
  }, 180_000);

  afterAll(async () => {
    await orthanc?.stop();
  });

  test('each run reports the conflict', async () => {
    const runs = [];
    for (let i = 0; i < 2; i++) runs.push(await runLoader(['get', 'orth', '--study-uid', mr.studyInstanceUid!, '--json'], { dirs, timeoutMs: 120_000 }));

    for (const result of runs) {
      expect(result.code).toBe(1);
      expect(result.json<RetrieveJson>().studies[0].conflicts).toBe(1);
    }
    expect(conflictCopies(dirs.archiveDir, mr.sopInstanceUid!)).toHaveLength(1);
  }, 240_000);
});
