/**
 * get and migrate against a node whose port has no listener: each
 * explains "connect ECONNREFUSED" in the same words as send.
 */
import { createLoaderDirs, freePort, loaderIsBuilt, LOOPBACK, runLoader } from '../support/peers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

const EXPLANATION = "refused: nothing listens on that port; check the node's port and that its DICOM service runs";
const STUDY_UID = '1.2.826.0.1.3680043.8.498.1';

/** Lines of the loader's own output; log records, which keep the raw error, are left out. */
function loaderLines(result: { stdout: string; stderr: string }): string {
  return (result.stdout + result.stderr)
    .split('\n')
    .filter((line) => !/^\d{4}-\d{2}-\d{2}T/.test(line))
    .join('\n');
}

describeBuilt('refused connection', () => {
  const dirs = createLoaderDirs('refused');
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    expect((await runLoader(['nodes', 'add', 'closed', '--aet', 'CLOSED', '--host', LOOPBACK, '--port', String(port)], { dirs })).code).toBe(0);
  });

  test('get explains the refusal', async () => {
    const result = await runLoader(['get', 'closed', '--study-uid', STUDY_UID], { dirs });
    const output = loaderLines(result);

    expect(result.code).toBe(1);
    expect(output).toContain(`connection to ${LOOPBACK}:${port} ${EXPLANATION}`);
    expect(output).not.toContain('connect ECONNREFUSED');
  });

  test('migrate explains the refusal', async () => {
    const result = await runLoader(['migrate', 'closed', 'local', '--study-uid', STUDY_UID, '--retries', '0'], { dirs });
    const output = loaderLines(result);

    expect(result.code).toBe(1);
    expect(output).toContain(`connection to ${LOOPBACK}:${port} ${EXPLANATION}`);
    expect(output).not.toContain('connect ECONNREFUSED');
  });
});
