/**
 * Settings of `loader serve` that decide who may connect: an invalid stored
 * value whose default would let in more stops serve, and pacs.checkCallingAeHost
 * accepts a registered calling AE title only from its node's host. DCMTK's
 * echoscu and getscu are the peers, on 127.0.0.1.
 */
import fs from 'node:fs';
import path from 'node:path';

import {
  associationArgs,
  corpusFile,
  createLoaderDirs,
  freePort,
  listFiles,
  loaderIsBuilt,
  makeTempDir,
  runDcmtk,
  runLoader,
  startLoader,
  type LoaderDirs,
  type LoaderServer,
} from '../support/peers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

/** Changes fields of the "pacs" section of the settings file directly, as an administrator editing it would. */
function editPacsSettings(dirs: LoaderDirs, fields: Record<string, unknown>): string {
  const file = path.join(dirs.configDir, 'settings.json');
  const stored = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as { pacs?: Record<string, unknown> }) : {};
  stored.pacs = { ...stored.pacs, ...fields };
  fs.writeFileSync(file, JSON.stringify(stored, null, 2));
  return file;
}

describeBuilt('serve with invalid access settings', () => {
  test('invalid host exits 2', async () => {
    const dirs = createLoaderDirs('serve-invalid-host');
    const file = editPacsSettings(dirs, { host: '999.1.1.1' });

    const result = await runLoader(['serve', '--port', String(await freePort())], { dirs, timeoutMs: 15_000 });

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('pacs.host "999.1.1.1" is invalid');
    expect(result.stderr).toContain(`(in ${file})`);
    expect(result.stderr).toContain('does not start with the default "0.0.0.0"');
    expect(result.stderr).toContain('"loader config set pacs.host VALUE"');
    expect(result.stderr).not.toMatch(/listening/);
  });

  test('invalid requireUserIdentity exits 2', async () => {
    const dirs = createLoaderDirs('serve-invalid-identity');
    editPacsSettings(dirs, { requireUserIdentity: 'yes' });

    const result = await runLoader(['serve', '--host', '127.0.0.1', '--port', String(await freePort())], { dirs, timeoutMs: 15_000 });

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('pacs.requireUserIdentity "yes" is invalid');
    expect(result.stderr).toContain('does not start with the default false');
  });

  test('invalid maxAssociations exits 2', async () => {
    const dirs = createLoaderDirs('serve-invalid-limit');
    editPacsSettings(dirs, { maxAssociations: '4' });

    const result = await runLoader(['serve', '--host', '127.0.0.1', '--port', String(await freePort())], { dirs, timeoutMs: 15_000 });

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('pacs.maxAssociations "4" is invalid');
  });

  test('--host replaces invalid host', async () => {
    const dirs = createLoaderDirs('serve-host-option');
    editPacsSettings(dirs, { host: '999.1.1.1' });

    const server = await startLoader([], { dirs });
    try {
      expect((await runDcmtk('echoscu', associationArgs(server, 'ECHOSCU'))).code).toBe(0);
    } finally {
      await server.stop();
    }
  });
});

describeBuilt('calling AE title from another host', () => {
  const ct = corpusFile('ct');
  let dirs: LoaderDirs;
  let server: LoaderServer;

  beforeAll(async () => {
    dirs = createLoaderDirs('calling-host');
    expect((await runLoader(['scan', '--import', ct.absolutePath], { dirs })).code).toBe(0);
    expect((await runLoader(['nodes', 'add', 'far', '--aet', 'FARNODE', '--host', '10.9.9.9', '--port', '104'], { dirs })).code).toBe(0);
    expect((await runLoader(['nodes', 'add', 'near', '--aet', 'NEARNODE', '--host', 'localhost', '--port', '105'], { dirs })).code).toBe(0);
    server = await startLoader([], { dirs, acceptAny: false, aeTitle: 'HOSTCHECK' });
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  test('C-ECHO rejected', async () => {
    const result = await runDcmtk('echoscu', associationArgs(server, 'FARNODE'));

    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('Calling AE Title Not Recognized');
  });

  test('C-GET rejected', async () => {
    const outputDir = makeTempDir('calling-host-get');
    const result = await runDcmtk('getscu', ['-S', '-od', outputDir, '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${ct.studyInstanceUid}`, ...associationArgs(server, 'FARNODE')]);

    expect(result.code).not.toBe(0);
    expect(listFiles(outputDir)).toEqual([]);
  });

  test('rejection logged with hosts', async () => {
    await runDcmtk('echoscu', associationArgs(server, 'FARNODE'));

    const line = server.readLog().split('\n').find((each) => each.includes('Association rejected') && each.includes('FARNODE'));
    expect(line).toBeDefined();
    expect(line).toContain('calling AE title not recognized: FARNODE is registered for host 10.9.9.9');
    expect(line).toContain('but the association comes from 127.0.0.1');
  });

  test('host name of node accepted', async () => {
    const outputDir = makeTempDir('calling-host-get');
    const result = await runDcmtk('getscu', ['-S', '-od', outputDir, '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${ct.studyInstanceUid}`, ...associationArgs(server, 'NEARNODE')]);

    expect(result.code).toBe(0);
    expect(listFiles(outputDir)).toHaveLength(1);
  });
});

describeBuilt('calling host check off', () => {
  test('C-ECHO accepted from any host', async () => {
    const dirs = createLoaderDirs('calling-host-off');
    expect((await runLoader(['nodes', 'add', 'far', '--aet', 'FARNODE', '--host', '10.9.9.9', '--port', '104'], { dirs })).code).toBe(0);
    expect((await runLoader(['config', 'set', 'pacs.checkCallingAeHost', 'off'], { dirs })).code).toBe(0);

    const server = await startLoader([], { dirs, acceptAny: false });
    try {
      expect((await runDcmtk('echoscu', associationArgs(server, 'FARNODE'))).code).toBe(0);
    } finally {
      await server.stop();
    }
  });
});
