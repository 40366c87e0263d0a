/**
 * The echo, find, get and send commands of the built loader against dcmqrscp
 * and storescp, with DCMTK-style flags and exit codes.
 */
import { corpusFile, createLoaderDirs, loaderIsBuilt, runLoader, startDcmqrscp, startStorescp, storeFiles } from '../support/peers';
import type { DcmqrscpHandle, StorescpHandle } from '../support/peers';
import { DAMAGED_SOP_INSTANCE_UID, damagedJpeg2000Copy } from '../codecs/reference';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

describeBuilt('query/retrieve commands', () => {
  let dcmqrscp: DcmqrscpHandle;
  let storescp: StorescpHandle;
  const koi8 = corpusFile('charset-iso-ir-144');
  const ct = corpusFile('ct');
  const jpeg2000 = corpusFile('jpeg2000');
  const dirs = createLoaderDirs('qr-cli');

  const peerArgs = (peer: { host: string; port: number; aeTitle: string }) => ['--host', peer.host, '--port', String(peer.port), '-aec', peer.aeTitle, '-aet', 'LOADERCLI'];

  beforeAll(async () => {
    dcmqrscp = await startDcmqrscp({ aeTitle: 'DCMQRSCP' });
    expect((await storeFiles(dcmqrscp, [koi8.absolutePath, ct.absolutePath])).code).toBe(0);
    storescp = await startStorescp({ aeTitle: 'STOREPLAIN' });
  });

  afterAll(async () => {
    await dcmqrscp.stop();
    await storescp.stop();
  });

  test('echo exits 0', async () => {
    const result = await runLoader(['echo', ...peerArgs(dcmqrscp), '--json'], { dirs });
    expect(result.code).toBe(0);
    expect(result.json<{ status: number }>().status).toBe(0);
  });

  test('find prints Cyrillic matches as JSON', async () => {
    const result = await runLoader(['find', ...peerArgs(dcmqrscp), '--charset', 'ISO_IR 144', '--name', 'Люк', '--json'], { dirs });
    expect(result.code).toBe(0);
    const matches = result.json<{ studyInstanceUid: string; patientName: string }[]>();
    expect(matches.map((match) => match.patientName)).toEqual([koi8.patientName]);
  });

  test('find counts one study', async () => {
    const result = await runLoader(['find', ...peerArgs(dcmqrscp), '--charset', 'ISO_IR 144', '--name', 'Люк'], { dirs });
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^1 study$/m);
  });

  test('find prints column headings', async () => {
    const result = await runLoader(['find', ...peerArgs(dcmqrscp), '--charset', 'ISO_IR 144', '--name', 'Люк'], { dirs });
    const lines = result.stdout.trimEnd().split('\n');

    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^PATIENT NAME +PATIENT ID +BIRTH DATE +STUDY DATE +MODALITIES +DESCRIPTION +INSTANCES +STUDY INSTANCE UID$/);
    expect(lines[2]).toContain(koi8.studyInstanceUid);
    // Each heading starts where its column does.
    expect(lines[2].indexOf(koi8.studyInstanceUid!)).toBe(lines[0].indexOf('STUDY INSTANCE UID'));
  });

  test('get by date stores into the archive', async () => {
    const result = await runLoader(['get', ...peerArgs(dcmqrscp), '--date', '20040119', '--json'], { dirs });
    expect(result.code).toBe(0);
    const report = result.json<{ outcome: string; studies: { studyInstanceUid: string; stored: number }[] }>();
    expect(report.outcome).toBe('success');
    expect(report.studies).toEqual([expect.objectContaining({ studyInstanceUid: ct.studyInstanceUid, stored: 1 })]);
  });

  test('send with one rejected instance exits 3', async () => {
    // The JPEG 2000 instance arrives decompressed; its damaged copy, in the same study, cannot be decoded.
    const damaged = damagedJpeg2000Copy(jpeg2000.absolutePath);
    expect((await runLoader(['scan', jpeg2000.absolutePath, damaged, '--import'], { dirs })).code).toBe(0);
    const result = await runLoader(['send', ...peerArgs(storescp), '--study-uid', ct.studyInstanceUid!, jpeg2000.studyInstanceUid!], { dirs });
    expect(result.code).toBe(3);
    expect(result.stdout).toContain(`failed: ${DAMAGED_SOP_INSTANCE_UID}: OpenJPEG failed to decode`);
    expect(result.stdout).not.toContain(`failed: ${jpeg2000.sopInstanceUid}`);
    expect(storescp.receivedFiles().some((file) => file.includes(jpeg2000.sopInstanceUid!))).toBe(true);
  });

  test('missing node is a usage error', async () => {
    const result = await runLoader(['find', '--name', 'x'], { dirs });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('give a registered node name, or --host, --port and --aec');
  });
});
