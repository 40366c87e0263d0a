/**
 * The secret of anonymizing `loader migrate` and `loader sync` jobs, against
 * Orthanc as destination. New jobs use the installation secret, so two jobs
 * and a send of one study give Orthanc one patient and one study. A job
 * created with --one-off-secret keeps its random secret when it runs again.
 */
import { LocalArchive } from '../../src/services/archive';
import { corpusPath, createLoaderDirs, loaderIsBuilt, runLoader, startOrthanc } from '../support/peers';
import type { OrthancHandle } from '../support/peers';
import { configure, orthancModality, registerNode } from '../migration/helpers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

const MR = corpusPath('samples/mr/siemens-csa.dcm');

/** Calling AE title of the loader, registered in Orthanc as a modality so that Orthanc accepts its C-FIND. */
const LOADER_AE = 'LOADERSECRET';

interface MigrationJson {
  jobId: string;
  outcome: string;
  secretSource?: string;
  summary: { migrated: number; alreadyPresent: number; failed: number; pending: number };
}

interface SyncJson {
  outcome: string;
  secretSource?: string;
}

/** Returns Orthanc's patient and study counts. */
async function orthancCounts(orthanc: OrthancHandle): Promise<{ patients: number; studies: number }> {
  const statistics = await orthanc.rest<{ CountPatients: number; CountStudies: number }>('GET', '/statistics');
  return { patients: statistics.CountPatients, studies: statistics.CountStudies };
}

describeBuilt('anonymizing job secret', () => {
  const dirs = createLoaderDirs('anonymize-job-secret');
  let orthanc: OrthancHandle;
  const migrate = (job: string, ...extra: string[]) =>
    runLoader(['migrate', 'local', 'orthanc', '--anonymize', '--study-uid', MR.studyInstanceUid!, '--job', job, ...extra], { dirs });

  beforeAll(async () => {
    const archive = LocalArchive.open(dirs.archiveDir);
    try {
      expect((await archive.importFile(MR.absolutePath, { copy: true })).outcome).toBe('stored');
    } finally {
      archive.close();
    }
    orthanc = await startOrthanc({ aeTitle: 'ORTHANCSECRET', httpPort: 12601, modalities: { loader: orthancModality(LOADER_AE, 12602) } });
    await registerNode(dirs, 'orthanc', orthanc);
    await configure(dirs, 'pacs.aeTitle', LOADER_AE);
  }, 60_000);

  afterAll(async () => {
    await orthanc?.stop();
  });

  test('two migrate jobs give one study', async () => {
    const first = await migrate('first', '--json');
    const second = await migrate('second', '--json');

    expect(first.code).toBe(0);
    expect(second.code).toBe(0);
    expect(first.json<MigrationJson>().secretSource).toBe('installation');
    expect(second.json<MigrationJson>().secretSource).toBe('installation');
    expect(second.json<MigrationJson>().summary.failed).toBe(0);
    expect(await orthancCounts(orthanc)).toEqual({ patients: 1, studies: 1 });
  }, 120_000);

  test('send and sync match the jobs', async () => {
    const sent = await runLoader(['send', 'orthanc', '--anonymize', '--study-uid', MR.studyInstanceUid!], { dirs });
    const synced = await runLoader(['sync', 'local', 'orthanc', '--anonymize', '--direction', 'a-to-b', '--study-uid', MR.studyInstanceUid!, '--json'], { dirs });

    expect(sent.code).toBe(0);
    expect(synced.code).toBe(0);
    expect(synced.json<SyncJson>().secretSource).toBe('installation');
    expect(await orthancCounts(orthanc)).toEqual({ patients: 1, studies: 1 });
  }, 120_000);

  test('text report names the secret', async () => {
    const result = await migrate('first');

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('anonymized with: the installation secret');
  }, 60_000);

  test('one-off job keeps its secret', async () => {
    const created = await migrate('random', '--one-off-secret', '--json');
    expect(created.code).toBe(0);
    expect(created.json<MigrationJson>().secretSource).toBe('one-off');
    expect(await orthancCounts(orthanc)).toEqual({ patients: 2, studies: 2 });

    const resumed = await migrate('random', '--json');

    expect(resumed.code).toBe(0);
    expect(resumed.json<MigrationJson>().secretSource).toBe('one-off');
    expect(await orthancCounts(orthanc)).toEqual({ patients: 2, studies: 2 });
    const again = await migrate('random', '--one-off-secret');
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('job "random" already has a recorded secret; drop --one-off-secret or give another --job name');
  }, 120_000);
});
