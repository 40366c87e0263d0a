/**
 * echo and find against an Orthanc that does not know the loader's calling AE
 * title. Orthanc 1.10 aborts such an association during C-FIND (and C-ECHO when
 * DicomAlwaysAllowEcho is off) instead of rejecting it, so the loader names the
 * likely cause.
 */
import { createLoaderDirs, loaderIsBuilt, runLoader, startOrthanc } from '../support/peers';
import type { OrthancHandle } from '../support/peers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

describeBuilt('unknown calling AE title', () => {
  let orthanc: OrthancHandle;
  const dirs = createLoaderDirs('unknown-aet');
  const args = () => ['--host', orthanc.host, '--port', String(orthanc.port), '--aec', orthanc.aeTitle, '--aet', 'STRANGER'];
  const hint = 'the node may not know the calling AE title STRANGER: register it on the node';

  beforeAll(async () => {
    orthanc = await startOrthanc({ aeTitle: 'ORTHANCAET', extraConfig: { DicomAlwaysAllowEcho: false } });
  });

  afterAll(async () => {
    await orthanc.stop();
  });

  test('find names the AE title', async () => {
    const result = await runLoader(['find', ...args(), '--name', 'x'], { dirs });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('aborted');
    expect(result.stderr).toContain(hint);
  });

  test('echo names the AE title', async () => {
    const result = await runLoader(['echo', ...args()], { dirs });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(hint);
  });
});
