/**
 * Log lines and responses of the PACS server for DCMTK peers. C-MOVE and
 * C-GET lines name the level and the requested UIDs, and each "started" line
 * gets a "finished" line. A rejection beyond pacs.maxAssociations names the
 * setting and the AE titles that hold the associations. A C-STORE that fails
 * on an invalid UID names the element in Offending Element (0000,0901). A
 * C-FIND with an invalid date gets the accepted forms, and one with non-ASCII
 * keys and no Specific Character Set logs a warning that names the tag.
 */
import * as path from 'path';

import { connect } from '../../src/dicom/network';
import type { ClientAssociation } from '../../src/dicom/network';
import { SopClass, TransferSyntax } from '../../src/dicom/uid';
import { LocalArchive } from '../../src/services/archive';
import { PacsServer } from '../../src/services/pacs-server/pacs-server';
import { defaultSettings } from '../../src/services/settings/settings-types';
import type { PacsNode } from '../../src/services/settings/settings-types';
import { captureLogLines } from '../support/log-capture';
import { LOOPBACK, corpusFile, makeTempDir, runDcmtk, startStorescp, storeFiles } from '../support/peers';
import type { StorescpHandle } from '../support/peers';

const lines = captureLogLines();

const AE_TITLE = 'LOADERLOGS';
const ct = corpusFile('ct');
const UNKNOWN_STUDY = '1.2.3.4';

describe('PACS server log lines', () => {
  const archive = LocalArchive.open(path.join(makeTempDir('server-logs'), 'archive'));
  const nodes: PacsNode[] = [];
  const server = new PacsServer({
    settings: { ...defaultSettings().pacs, aeTitle: AE_TITLE, host: LOOPBACK, port: 0, acceptAnyCallingAeTitle: true, maxAssociations: 1 },
    archive,
    listNodes: () => nodes,
  });
  let port: number;
  let storescp: StorescpHandle;

  const called = () => ({ aeTitle: AE_TITLE, host: LOOPBACK, port });
  const linesWith = (text: string) => lines.filter((line) => line.includes(text));

  beforeAll(async () => {
    ({ port } = await server.start());
    storescp = await startStorescp({ aeTitle: 'MOVEDEST', acceptAll: true });
    nodes.push({ name: 'movedest', aeTitle: storescp.aeTitle, host: storescp.host, port: storescp.port, characterSet: 'ISO_IR 192' });
    const result = await storeFiles(called(), [ct.absolutePath], { callingAeTitle: 'STORESCU' });
    if (result.code !== 0) throw new Error(`storing the CT failed: ${result.stderr.slice(-2000)}`);
  }, 120_000);

  afterAll(async () => {
    await storescp?.stop();
    await server.stop();
    archive.close();
  });

  const move = (studyInstanceUid: string, destination: string) =>
    runDcmtk('movescu', ['-S', '-aem', destination, '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${studyInstanceUid}`, '-aet', 'MOVESCU', '-aec', AE_TITLE, LOOPBACK, String(port)]);

  test('C-MOVE names level and study', async () => {
    await move(ct.studyInstanceUid!, storescp.aeTitle);

    const started = linesWith('C-MOVE started').filter((line) => line.includes(ct.studyInstanceUid!));
    const finished = linesWith('C-MOVE finished').filter((line) => line.includes(ct.studyInstanceUid!));
    expect(started).toHaveLength(1);
    expect(started[0]).toMatch(/level=STUDY/);
    expect(finished).toHaveLength(1);
    expect(finished[0]).toMatch(/status=0x0000 completed=1 failed=0 warning=0/);
  }, 60_000);

  test('C-MOVE of unknown study finishes', async () => {
    await move(UNKNOWN_STUDY, storescp.aeTitle);

    const finished = linesWith('C-MOVE finished').filter((line) => line.includes(`studyInstanceUid=${UNKNOWN_STUDY}`));
    expect(finished).toHaveLength(1);
    expect(finished[0]).toMatch(/status=0x0000 completed=0 failed=0 warning=0/);
  }, 60_000);

  test('unknown destination names study', async () => {
    await move(ct.studyInstanceUid!, 'NOWHERE');

    const warnings = linesWith('C-MOVE destination unknown').filter((line) => line.includes('moveDestination=NOWHERE'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`studyInstanceUid=${ct.studyInstanceUid}`);
  }, 60_000);

  test('C-GET names level and study', async () => {
    const outputDir = makeTempDir('server-logs-get');
    await runDcmtk('getscu', ['-S', '-od', outputDir, '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${ct.studyInstanceUid}`, '-aet', 'GETSCU', '-aec', AE_TITLE, LOOPBACK, String(port)]);

    const started = linesWith('C-GET started').filter((line) => line.includes(`studyInstanceUid=${ct.studyInstanceUid}`));
    const finished = linesWith('C-GET finished').filter((line) => line.includes(`studyInstanceUid=${ct.studyInstanceUid}`));
    expect(started).toHaveLength(1);
    expect(started[0]).toMatch(/level=STUDY/);
    expect(finished).toHaveLength(1);
    expect(finished[0]).toMatch(/status=0x0000 completed=1/);
  }, 60_000);

  test('invalid UID gets Offending Element', async () => {
    const hostile = corpusFile('hostile-path-traversal-uid');
    const result = await runDcmtk('storescu', ['-d', '-aet', 'STORESCU', '-aec', AE_TITLE, LOOPBACK, String(port), hostile.absolutePath]);

    expect(result.stderr).toMatch(/\(0000,0901\) AT \(0000,1000\)/);
  }, 60_000);

  const find = (keys: string[], callingAeTitle: string) =>
    runDcmtk('findscu', ['-d', '-S', ...keys.flatMap((key) => ['-k', key]), '-aet', callingAeTitle, '-aec', AE_TITLE, LOOPBACK, String(port)]);

  test('invalid date names accepted forms', async () => {
    const result = await find(['QueryRetrieveLevel=STUDY', 'StudyDate=2007', 'StudyInstanceUID'], 'DATESCU');

    expect(result.stderr).toMatch(/0xc000/i);
    expect(result.stderr).toContain('Invalid StudyDate "2007"; use YYYYMMDD or a range A-B');
    const rejected = linesWith('C-FIND rejected').filter((line) => line.includes('callingAeTitle=DATESCU'));
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toContain('Accepted forms: YYYYMMDD');
    expect(rejected[0]).toContain('either end may be left open');
  }, 60_000);

  test('non-ASCII key without charset warns', async () => {
    await find(['QueryRetrieveLevel=STUDY', 'PatientName=Иванов*', 'StudyInstanceUID'], 'CYRILSCU');

    const warnings = linesWith('no Specific Character Set').filter((line) => line.includes('callingAeTitle=CYRILSCU'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('(0010,0010)');
    expect(warnings[0]).not.toMatch(/Иванов|PatientName=/);
  }, 60_000);

  test('association limit names setting', async () => {
    let holder: ClientAssociation | undefined;
    try {
      holder = await connect({
        host: LOOPBACK,
        port,
        callingAeTitle: 'HOLDER',
        calledAeTitle: AE_TITLE,
        contexts: [{ abstractSyntax: SopClass.Verification, transferSyntaxes: [TransferSyntax.ImplicitVRLittleEndian] }],
        implementationClassUid: '1.2.826.0.1.3680043.10.1234.99',
        implementationVersionName: 'SERVERLOGS',
      });
      const result = await runDcmtk('echoscu', ['-aet', 'ECHOSCU', '-aec', AE_TITLE, LOOPBACK, String(port)]);
      expect(result.code).not.toBe(0);
    } finally {
      await holder?.release();
    }

    const rejections = linesWith('Association rejected association=').filter((line) => line.includes('callingAe=ECHOSCU'));
    expect(rejections).toHaveLength(1);
    expect(rejections[0]).toContain('pacs.maxAssociations');
    expect(rejections[0]).toContain('loader config set pacs.maxAssociations N');
    expect(rejections[0]).toContain('HOLDER=1');
  }, 60_000);
});
