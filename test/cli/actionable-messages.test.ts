/**
 * Errors that must say what to do, not only name the value: a called AE title
 * that the peer rejects (dcmqrscp), a C-STORE refused for lack of resources
 * (storescp that cannot write its output folder), an AE title that another
 * node uses, and an SSH key file that does not exist.
 */
import * as fs from 'fs';
import * as path from 'path';

import { LocalArchive } from '../../src/services/archive';
import { corpusPath, createLoaderDirs, loaderIsBuilt, makeTempDir, runLoader, startDcmqrscp, startStorescp } from '../support/peers';
import type { DcmqrscpHandle, StorescpHandle } from '../support/peers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

describeBuilt('called AE title rejected', () => {
  let dcmqrscp: DcmqrscpHandle;
  const dirs = createLoaderDirs('called-aet');

  beforeAll(async () => {
    dcmqrscp = await startDcmqrscp({ aeTitle: 'QRSCPAET' });
  });

  afterAll(async () => {
    await dcmqrscp.stop();
  });

  test('echo with --aec names --aec', async () => {
    const result = await runLoader(['echo', '--host', dcmqrscp.host, '--port', String(dcmqrscp.port), '--aec', 'WRONGAET'], { dirs });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('called AE title not recognized');
    expect(result.stderr).toContain('the peer does not answer to the called AE title WRONGAET; check --aec against the AE title that the peer expects');
  });

  test('echo to registered node names the node', async () => {
    const added = await runLoader(['nodes', 'add', 'qr', '--aet', 'WRONGAET', '--host', dcmqrscp.host, '--port', String(dcmqrscp.port)], { dirs });
    expect(added.code).toBe(0);

    const result = await runLoader(['echo', 'qr'], { dirs });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('called AE title not recognized');
    expect(result.stderr).toContain('the peer does not answer to the called AE title of node qr; compare it ("loader nodes list") with the AE title that the peer expects');
    expect(result.stderr).toContain('remove the node ("loader nodes remove qr") and add it again with the right --aet');
  });
});

describeBuilt('send to a full destination', () => {
  let storescp: StorescpHandle;
  const dirs = createLoaderDirs('full-destination');
  const file = corpusPath('samples/ct/ct-small.dcm');

  beforeAll(async () => {
    const archive = LocalArchive.open(dirs.archiveDir);
    try {
      expect((await archive.importFile(file.absolutePath, { copy: true })).outcome).toBe('stored');
    } finally {
      archive.close();
    }
    storescp = await startStorescp({ aeTitle: 'FULLSTORE', acceptAll: true });
    // storescp returns 0xA700 (Refused: Out of Resources) when it cannot write the received file.
    fs.rmSync(storescp.outputDir, { recursive: true, force: true });
  });

  afterAll(async () => {
    await storescp.stop();
  });

  test('send explains status 0xA700', async () => {
    const result = await runLoader(['send', '--host', storescp.host, '--port', String(storescp.port), '--aec', storescp.aeTitle, '--study-uid', file.studyInstanceUid!], { dirs });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('returned status 0xA700 (out of resources)');
    expect(result.stdout).toContain('The destination is out of resources, for example a full disk: check its storage and try again');
  });
});

describeBuilt('nodes add checks', () => {
  const dirs = createLoaderDirs('nodes-add-checks');

  test('taken AE title names the owner', async () => {
    const first = await runLoader(['nodes', 'add', 'old-pacs', '--aet', 'SHAREDAET', '--host', '127.0.0.1', '--port', '1104'], { dirs });
    expect(first.code).toBe(0);

    const second = await runLoader(['nodes', 'add', 'new-pacs', '--aet', 'SHAREDAET', '--host', '127.0.0.1', '--port', '2104'], { dirs });
    expect(second.code).toBe(2);
    expect(second.stderr).toContain('AE title SHAREDAET is already used by node old-pacs at 127.0.0.1:1104: an AE title must identify one node');
    expect(second.stderr).toContain('remove it with "loader nodes remove old-pacs" and add new-pacs again');
    expect(second.stderr).toContain('Otherwise give new-pacs another AE title with --aet');
  });

  test('same peer may share AE title', async () => {
    const result = await runLoader(['nodes', 'add', 'old-pacs-2', '--aet', 'SHAREDAET', '--host', '127.0.0.1', '--port', '1104', '--login', 'bob'], { dirs });
    expect(result.code).toBe(0);
  });

  test('missing key file is rejected', async () => {
    const keyFile = path.join(makeTempDir('missing-key'), 'id_ed25519');
    const result = await runLoader(['nodes', 'add-ssh', 'nas', '--host', '127.0.0.1', '--login', 'backup', '--key-file', keyFile], { dirs });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`--key-file ${keyFile} not found: give the absolute path of an existing private key, or leave --key-file out`);

    const list = await runLoader(['nodes', 'list', '--json'], { dirs });
    expect(list.json<{ ssh: unknown[] }>().ssh).toEqual([]);
  });

  test('folder as key file is rejected', async () => {
    const folder = makeTempDir('key-folder');
    const result = await runLoader(['nodes', 'add-ssh', 'nas', '--host', '127.0.0.1', '--login', 'backup', '--key-file', folder], { dirs });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`--key-file ${folder} is not a file`);
  });

  test('existing key file is accepted', async () => {
    const keyFile = path.join(makeTempDir('present-key'), 'id_ed25519');
    fs.writeFileSync(keyFile, 'not parsed at add time\n', { mode: 0o600 });
    const result = await runLoader(['nodes', 'add-ssh', 'nas-with-key', '--host', '127.0.0.1', '--login', 'backup', '--key-file', keyFile], { dirs });
    expect(result.code).toBe(0);
  });
});
