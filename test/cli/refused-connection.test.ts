/**
 * get, move and migrate against a node whose port has no listener: each
 * explains "connect ECONNREFUSED" in the same words as send, and get and
 * move also in their log records.
 */
import { explainNetworkErrors } from '../../src/services/network-errors';
import { createLoaderDirs, freePort, loaderIsBuilt, LOOPBACK, runLoader } from '../support/peers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

const EXPLANATION = "refused: nothing listens on that port; check the node's port and that its DICOM service runs";
const STUDY_UID = '1.2.826.0.1.3680043.8.498.1';

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Lines of the loader's own output. Log records are left out, because those of migrate keep the raw error. */
function loaderLines(result: { stdout: string; stderr: string }): string {
  return (result.stdout + result.stderr)
    .split('\n')
    .filter((line) => !/^\d{4}-\d{2}-\d{2}T/.test(line))
    .join('\n');
}

describe('explainNetworkErrors', () => {
  test('keeps text after quoted error', () => {
    const message = 'cannot list the instances with C-FIND (Failed to connect to CLOSED at 127.0.0.1:104: connect ECONNREFUSED 127.0.0.1:104); counts are not checked';

    expect(explainNetworkErrors(message)).toBe(
      `cannot list the instances with C-FIND (Failed to connect to CLOSED at 127.0.0.1:104: connection to 127.0.0.1:104 ${EXPLANATION}); counts are not checked`,
    );
  });

  test('stops host name at comma', () => {
    expect(explainNetworkErrors('getaddrinfo ENOTFOUND pacs.invalid, retrying')).toBe("host pacs.invalid not found: check the node's host name or IP address, retrying");
  });
});

describeBuilt('refused connection', () => {
  const dirs = createLoaderDirs('refused');
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    expect((await runLoader(['nodes', 'add', 'closed', '--aet', 'CLOSED', '--host', LOOPBACK, '--port', String(port)], { dirs })).code).toBe(0);
    expect((await runLoader(['config', 'set', 'pacs.moveScuPort', String(await freePort())], { dirs })).code).toBe(0);
  });

  test.each(['get', 'move'])('%s explains the refusal in every line', async (command) => {
    const result = await runLoader([command, 'closed', '--study-uid', STUDY_UID], { dirs });
    const output = result.stdout + result.stderr;
    const findFailure = `cannot list the instances with C-FIND (Failed to connect to CLOSED at ${LOOPBACK}:${port}: connection to ${LOOPBACK}:${port} ${EXPLANATION}); counts are not checked`;

    expect(result.code).toBe(1);
    expect(output).not.toContain('ECONNREFUSED');
    expect(result.stderr).toContain(`\nloader: ${findFailure}\n`);
    expect(result.stderr).toMatch(new RegExp(`INFO  loader\\.retrieve: ${escapeRegExp(findFailure)} node=closed\\n`));
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
