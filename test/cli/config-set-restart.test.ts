/**
 * `loader config set` of a setting that a running `loader serve` reads only
 * at start: the command prints a note to restart the server, with its PID.
 */
import {
  associationArgs,
  createLoaderDirs,
  loaderIsBuilt,
  runDcmtk,
  runLoader,
  startLoader,
  type LoaderServer,
} from '../support/peers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

describeBuilt('config set while serve runs', () => {
  const dirs = createLoaderDirs('config-set-restart');
  let server: LoaderServer;

  beforeAll(async () => {
    server = await startLoader([], { dirs, aeTitle: 'OLDNAME' });
  }, 30_000);

  afterAll(async () => {
    await server?.stop();
  });

  test('aeTitle names the serve PID', async () => {
    const result = await runLoader(['config', 'set', 'pacs.aeTitle', 'NEWNAME'], { dirs });

    expect(result.code).toBe(0);
    expect(result.stdout).toBe('pacs.aeTitle = NEWNAME\n');
    expect(result.stderr).toContain('restart loader serve to apply: a running server reads pacs.aeTitle only at start');
    expect(result.stderr).toContain(`PID ${server.process.pid} "loader serve"`);
  });

  test('server keeps the old AE title', async () => {
    expect((await runDcmtk('echoscu', associationArgs(server, 'ECHOSCU'))).code).toBe(0);
  });

  test('interface setting has no note', async () => {
    const result = await runLoader(['config', 'set', 'interface.theme', 'dark'], { dirs });

    expect(result.code).toBe(0);
    expect(result.stderr).not.toContain('restart loader serve');
  });
});

describeBuilt('config set without serve', () => {
  test('port prints restart note', async () => {
    const result = await runLoader(['config', 'set', 'pacs.port', '11112'], { dirs: createLoaderDirs('config-set-restart') });

    expect(result.stderr).toContain('restart loader serve to apply: a running server reads pacs.port only at start (no server runs on this archive now)');
  });
});
