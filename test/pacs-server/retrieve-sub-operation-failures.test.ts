/**
 * C-MOVE sub-operations that cannot reach their destination, against DCMTK
 * movescu and storescp. The final response counts every instance that was not
 * stored as a failed sub-operation and lists it in Failed SOP Instance UID
 * List (0008,0058) (PS3.4 C.4.2.1.4.2 and C.4.2.2.1). A destination that
 * aborts the association mid-move costs one log line, not two per instance.
 * A C-GET requester that aborts its association is logged as having ended it,
 * not as a cancel, and the instance in flight is not counted as failed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CT_SMALL, Tag, modifiedCopy } from '../archive/fixtures';
import {
  LoaderServer,
  StorescpHandle,
  associationArgs,
  freePort,
  makeTempDir,
  runDcmtk,
  runLoader,
  startLoader,
  startStorescp,
  storeFiles,
} from '../support/peers';
import { connect } from '../../src/dicom/network';
import { generateUid } from '../../src/dicom/uid';
import { CT_IMAGE_STORAGE, EXPLICIT_LE, IMPLEMENTATION, IMPLICIT_LE, STUDY_ROOT_GET, encodeDataset } from '../network/helpers';

const INSTANCES = 12;
const studyInstanceUid = generateUid();
const seriesInstanceUid = generateUid();
const sopInstanceUids = Array.from({ length: INSTANCES }, () => generateUid());

let loader: LoaderServer;
const peers: StorescpHandle[] = [];

async function addNode(name: string, aeTitle: string, port: number): Promise<void> {
  const add = await runLoader(['nodes', 'add', name, '--aet', aeTitle, '--host', '127.0.0.1', '--port', String(port)], { dirs: loader.dirs });
  if (add.code !== 0) throw new Error(`loader nodes add ${name} failed: ${add.stderr}`);
}

beforeAll(async () => {
  loader = await startLoader([], { aeTitle: 'LOADER' });
  const folder = makeTempDir('retrieve-failures');
  const files = sopInstanceUids.map((sopInstanceUid, index) =>
    modifiedCopy(CT_SMALL, path.join(folder, `ct${index}.dcm`), {
      [Tag.PatientID]: 'FAIL-P001',
      [Tag.StudyInstanceUID]: studyInstanceUid,
      [Tag.SeriesInstanceUID]: seriesInstanceUid,
      [Tag.SOPInstanceUID]: sopInstanceUid,
    }),
  );
  const store = await storeFiles(loader, files, { callingAeTitle: 'STORESCU' });
  if (store.code !== 0) throw new Error(`storing the test instances failed: ${store.stderr.slice(-2000)}`);

  // Nothing listens on this port once freePort() has closed its probe.
  await addNode('nolisten', 'NOLISTEN', await freePort());

  // An association profile that accepts MR only, so no context fits the CT instances.
  const profile = path.join(folder, 'mr-only.cfg');
  fs.writeFileSync(
    profile,
    [
      '[[TransferSyntaxes]]', '[Uncompressed]', 'TransferSyntax1 = LocalEndianExplicit', 'TransferSyntax2 = LittleEndianImplicit',
      '[[PresentationContexts]]', '[MROnly]', 'PresentationContext1 = MRImageStorage\\Uncompressed',
      '[[Profiles]]', '[Default]', 'PresentationContexts = MROnly', '',
    ].join('\n'),
  );
  const mrOnly = await startStorescp({ aeTitle: 'MRONLY', extraArgs: ['-xf', profile, 'Default'] });
  peers.push(mrOnly);
  await addNode('mronly', mrOnly.aeTitle, mrOnly.port);

  const aborting = await startStorescp({ aeTitle: 'ABORTING', extraArgs: ['--abort-after'] });
  peers.push(aborting);
  await addNode('aborting', aborting.aeTitle, aborting.port);
});

afterAll(async () => {
  await Promise.all([loader?.stop(), ...peers.map((peer) => peer.stop())]);
});

/** Moves the study to `destination` with movescu -d, which prints the final response's counts and data set. */
async function moveStudy(destination: string): Promise<{ stderr: string; log: string }> {
  const before = loader.readLog().length;
  const result = await runDcmtk('movescu', [
    '-d', '-S', '-aem', destination,
    '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${studyInstanceUid}`,
    ...associationArgs(loader, 'MOVESCU'),
  ]);
  return { stderr: result.stdout + result.stderr, log: loader.readLog().slice(before) };
}

/** Returns the part of movescu's output from the final response on. */
function finalResponse(output: string): string {
  const start = output.indexOf('Received Final Move Response');
  expect(start).toBeGreaterThanOrEqual(0);
  return output.slice(start);
}

/** Returns the SOP Instance UIDs of Failed SOP Instance UID List (0008,0058) as dcmdump prints it. */
function failedUids(output: string): string[] {
  const line = /\(0008,0058\) UI \[([^\]]*)\]/.exec(output);
  return line ? line[1].split('\\') : [];
}

describe('C-MOVE to an unusable destination', () => {
  test.each([
    ['nothing listening', 'NOLISTEN', 'Failed to connect to NOLISTEN'],
    ['no accepted context', 'MRONLY', 'MRONLY accepted none of the proposed presentation contexts'],
  ])('%s counts every instance failed', async (_case, destination, comment) => {
    const { stderr } = await moveStudy(destination);
    const final = finalResponse(stderr);

    expect(final).toMatch(/DIMSE Status\s+: 0xa702/);
    expect(final).toMatch(/Completed Suboperations\s+: 0/);
    expect(final).toMatch(new RegExp(`Failed Suboperations\\s+: ${INSTANCES}`));
    expect(failedUids(final).sort()).toEqual([...sopInstanceUids].sort());
    expect(final).toContain(comment);
  });

  test('unreachable destination logs failed count', async () => {
    const { log } = await moveStudy('NOLISTEN');

    expect(log).toMatch(new RegExp(`C-MOVE finished .*status=0xa702 completed=0 failed=${INSTANCES}`));
  });
});

describe('C-MOVE destination that aborts', () => {
  test('rest counted failed with one line', async () => {
    const { stderr, log } = await moveStudy('ABORTING');
    const final = finalResponse(stderr);

    expect(final).toMatch(/DIMSE Status\s+: 0xa702/);
    expect(final).toMatch(new RegExp(`Failed Suboperations\\s+: ${INSTANCES}`));
    expect(failedUids(final).sort()).toEqual([...sopInstanceUids].sort());
    expect(final).toMatch(/\(0000,0902\) LO \[Move destination association ended\]/);
    expect(log.match(/C-STORE sub-operation failed/g) ?? []).toHaveLength(1);
    expect(log).toMatch(new RegExp(`C-MOVE destination association ended; counted the ${INSTANCES - 1} instances not yet sent as failed`));
    expect(log).toMatch(new RegExp(`C-MOVE finished .*completed=0 failed=${INSTANCES}`));
  });
});

describe('C-GET requester that aborts', () => {
  test('logged as ended by the requester', async () => {
    const before = loader.readLog().length;
    const association = await connect({
      host: loader.host,
      port: loader.port,
      callingAeTitle: 'GETABORT',
      calledAeTitle: loader.aeTitle,
      contexts: [
        { abstractSyntax: STUDY_ROOT_GET, transferSyntaxes: [EXPLICIT_LE, IMPLICIT_LE] },
        { abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: [EXPLICIT_LE, IMPLICIT_LE] },
      ],
      roleSelections: [{ sopClassUid: CT_IMAGE_STORAGE, scuRole: true, scpRole: true }],
      ...IMPLEMENTATION,
    });
    const identifier = encodeDataset([[0x00080052, 'CS', 'STUDY'], [0x0020000d, 'UI', studyInstanceUid]], EXPLICIT_LE);

    // The third C-STORE-RQ gets no response: the requester sends A-ABORT instead, as getscu does on Ctrl+C.
    let stores = 0;
    const get = association.get({
      contextId: association.findContext(STUDY_ROOT_GET)!.id,
      identifier,
      onStore: async (ctx) => {
        // The abort ends the data set stream of the third instance with an error, which is expected here.
        ctx.data.on('error', () => undefined);
        ctx.data.resume();
        stores += 1;
        if (stores === 3) association.abort();
        return { status: 0x0000 };
      },
    });
    await expect(get).rejects.toThrow();

    const ended = /C-GET stopped because the requester ended the association.*/;
    const deadline = Date.now() + 30_000;
    while (!ended.test(loader.readLog().slice(before)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    const log = loader.readLog().slice(before);
    const line = ended.exec(log)?.[0] ?? '';

    expect(line).toContain('callingAeTitle=GETABORT');
    expect(line).toContain('reason=peer-aborted');
    expect(line).toContain('completed=2 failed=0');
    expect(line).toContain(`notSent=${INSTANCES - 2}`);
    expect(log).not.toMatch(/C-GET finished .*callingAeTitle=GETABORT|C-GET finished .*status=0xfe00/);
    expect(log).not.toContain('C-STORE sub-operation failed');
  });
});
