/**
 * Selections that match nothing and failure statuses in the find, get, move,
 * send and migrate commands of the built loader, against dcmqrscp (which
 * returns success and no sub-operations for a retrieve of an unknown study),
 * Orthanc (which returns 0xC000 for it) and `loader serve`.
 */
import { corpusFile, createLoaderDirs, freePort, LOOPBACK, loaderIsBuilt, runLoader, startDcmqrscp, startLoader, startOrthanc, storeFiles } from '../support/peers';
import type { DcmqrscpHandle, LoaderDirs, LoaderServer, OrthancHandle } from '../support/peers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

const CALLING_AE = 'LOADERSEL';
const UNKNOWN_STUDY = '1.2.3.999';

interface RetrieveJson {
  outcome: string;
  notes: string[];
  studies: { studyInstanceUid: string; outcome: string; completed: number; notes: string[] }[];
}

async function addNode(dirs: LoaderDirs, name: string, peer: { aeTitle: string; host: string; port: number }): Promise<void> {
  const result = await runLoader(['nodes', 'add', name, '--aet', peer.aeTitle, '--host', peer.host, '--port', String(peer.port)], { dirs });
  if (result.code !== 0) throw new Error(`loader nodes add ${name} failed: ${result.stderr}`);
}

describeBuilt('empty selections and failures', () => {
  const ct = corpusFile('ct');
  const dirs = createLoaderDirs('qr-selection');
  let dcmqrscp: DcmqrscpHandle;
  let orthanc: OrthancHandle;
  let server: LoaderServer;

  beforeAll(async () => {
    const movePort = await freePort();
    dcmqrscp = await startDcmqrscp({ aeTitle: 'QRSEL', hostTable: [{ aeTitle: CALLING_AE, host: LOOPBACK, port: movePort }] });
    expect((await storeFiles(dcmqrscp, [ct.absolutePath])).code).toBe(0);
    orthanc = await startOrthanc({ aeTitle: 'ORTHSEL', modalities: { loader: { aet: CALLING_AE, host: LOOPBACK, port: movePort } } });
    server = await startLoader([], { aeTitle: 'SERVESEL' });

    await addNode(dirs, 'qr', dcmqrscp);
    await addNode(dirs, 'orth', orthanc);
    await addNode(dirs, 'srv', server);
    for (const [key, value] of [['pacs.aeTitle', CALLING_AE], ['pacs.moveScuPort', String(movePort)], ['pacs.host', LOOPBACK]]) {
      const result = await runLoader(['config', 'set', key, value], { dirs });
      if (result.code !== 0) throw new Error(`loader config set ${key} failed: ${result.stderr}`);
    }
  });

  afterAll(async () => {
    await dcmqrscp?.stop();
    await orthanc?.stop();
    await server?.stop();
  });

  test.each(['get', 'move'])('%s of unknown study fails', async (command) => {
    const result = await runLoader([command, 'qr', '--study-uid', UNKNOWN_STUDY, '--json'], { dirs });

    expect(result.code).toBe(1);
    const report = result.json<RetrieveJson>();
    expect(report.outcome).toBe('failure');
    expect(report.studies).toHaveLength(1);
    expect(report.studies[0].outcome).toBe('failure');
    expect(report.studies[0].notes[0]).toBe('study not found on qr (QRSEL): its C-FIND lists neither the study nor any instance of it');
  });

  test('get of known study succeeds', async () => {
    const result = await runLoader(['get', 'qr', '--study-uid', ct.studyInstanceUid!, '--json'], { dirs });

    expect(result.code).toBe(0);
    expect(result.json<RetrieveJson>().outcome).toBe('success');
  });

  test('get from Orthanc names status', async () => {
    const result = await runLoader(['get', 'orth', '--study-uid', UNKNOWN_STUDY], { dirs });

    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`${UNKNOWN_STUDY}: failure`);
    expect(result.stdout).toContain('note: study not found on orth (ORTHSEL)');
    expect(result.stdout).toMatch(/C-GET on orth \(ORTHSEL\) failed with status 0xC0[0-9A-F]{2} \(unable to process\)/);
  });

  test('get with no matching study', async () => {
    const result = await runLoader(['get', 'qr', '--name', 'zzzz', '--json'], { dirs });

    expect(result.code).toBe(0);
    expect(result.json<RetrieveJson>()).toEqual({ studies: [], notes: ['no studies on qr (QRSEL) match the filters'], outcome: 'success' });
  });

  test('find with no matching study', async () => {
    const result = await runLoader(['find', 'qr', '--name', 'zzzz', '--json'], { dirs });

    expect(result.code).toBe(0);
    expect(result.json<unknown[]>()).toEqual([]);
  });

  test('send of unknown study fails', async () => {
    const result = await runLoader(['send', 'qr', '--study-uid', UNKNOWN_STUDY, '--json'], { dirs });

    expect(result.code).toBe(1);
    const report = result.json<{ outcome: string; total: number; notes: string[] }>();
    expect(report.outcome).toBe('failure');
    expect(report.total).toBe(0);
    expect(report.notes).toEqual(['nothing to send: none of the 1 requested studies is in the archive']);
  });

  test('send with no matching study', async () => {
    const result = await runLoader(['send', 'qr', '--all-matching', '--name', 'zzzz', '--json'], { dirs });

    expect(result.code).toBe(0);
    const report = result.json<{ outcome: string; notes: string[] }>();
    expect(report.outcome).toBe('success');
    expect(report.notes).toEqual(['no archived studies match the filters']);
  });

  test('migrate with no matching study', async () => {
    const result = await runLoader(['migrate', 'qr', 'local', '--name', 'zzzz', '--json'], { dirs });

    expect(result.code).toBe(0);
    const report = result.json<{ outcome: string; studies: unknown[] }>();
    expect(report.outcome).toBe('success');
    expect(report.studies).toEqual([]);
  });

  test('migrate of unknown study fails', async () => {
    const result = await runLoader(['migrate', 'qr', 'local', '--study-uid', UNKNOWN_STUDY, '--json'], { dirs });

    expect(result.code).toBe(1);
    const report = result.json<{ outcome: string; studies: { lastError: string }[] }>();
    expect(report.outcome).toBe('failure');
    expect(report.studies[0].lastError).toContain('study not found on qr (QRSEL)');
  });

  test.each(['find', 'get', 'send'])('%s rejects wildcard UID', async (command) => {
    const result = await runLoader([command, 'orth', '--study-uid', '1.2.*'], { dirs });

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--study-uid "1.2.*" is invalid: UID matching allows no wildcards (* or ?); give whole UIDs');
  });

  test('find names rejecting node and status', async () => {
    const result = await runLoader(['find', 'srv', '--name', 'A'.repeat(70)], { dirs });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('C-FIND on srv (SERVESEL) failed with status 0xA900 (identifier does not match SOP class): PatientName has 70 characters');
  });
});
