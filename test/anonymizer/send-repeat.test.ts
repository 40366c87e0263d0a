/**
 * `loader send --anonymize` to Orthanc twice: the installation secret gives
 * the study the same pseudonym and UIDs in both sends, so Orthanc keeps one
 * patient and one study, and the result names them. --one-off-secret gives
 * another patient and study on each send.
 */
import * as fs from 'fs';
import * as path from 'path';

import { LocalArchive } from '../../src/services/archive';
import { INSTALLATION_SECRET_FILE } from '../../src/services/secrets';
import { corpusPath, createLoaderDirs, loaderIsBuilt, runLoader, startOrthanc } from '../support/peers';
import type { OrthancHandle } from '../support/peers';
import { registerNode } from '../migration/helpers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

const MR = corpusPath('samples/mr/siemens-csa.dcm');

interface SendJson {
  outcome: string;
  completed: number;
  secret?: string;
  studies?: Array<{ studyInstanceUid: string; patientName: string; patientId: string; originalStudyInstanceUid: string; originalPatientName: string; sent: number }>;
}

/** Returns Orthanc's patient and study counts. */
async function orthancCounts(orthanc: OrthancHandle): Promise<{ patients: number; studies: number; instances: number }> {
  const statistics = await orthanc.rest<{ CountPatients: number; CountStudies: number; CountInstances: number }>('GET', '/statistics');
  return { patients: statistics.CountPatients, studies: statistics.CountStudies, instances: statistics.CountInstances };
}

describeBuilt('send --anonymize twice', () => {
  const dirs = createLoaderDirs('anonymize-send-repeat');
  let orthanc: OrthancHandle;

  beforeAll(async () => {
    const archive = LocalArchive.open(dirs.archiveDir);
    try {
      expect((await archive.importFile(MR.absolutePath, { copy: true })).outcome).toBe('stored');
    } finally {
      archive.close();
    }
    orthanc = await startOrthanc({ aeTitle: 'ORTHANCREPEAT', httpPort: 11542 });
    await registerNode(dirs, 'orthanc', orthanc);
  });

  afterAll(async () => {
    await orthanc?.stop();
  });

  test('same study updated, not duplicated', async () => {
    const first = await runLoader(['send', 'orthanc', '--anonymize', '--study-uid', MR.studyInstanceUid!, '--json'], { dirs });
    const second = await runLoader(['send', 'orthanc', '--anonymize', '--study-uid', MR.studyInstanceUid!, '--json'], { dirs });

    expect(first.code).toBe(0);
    expect(second.code).toBe(0);
    expect(await orthancCounts(orthanc)).toEqual({ patients: 1, studies: 1, instances: 1 });
    const [stored] = await orthanc.listStudies();
    const firstReport = first.json<SendJson>();
    expect(firstReport.secret).toBe('installation');
    expect(firstReport.studies).toEqual([
      {
        studyInstanceUid: stored.MainDicomTags.StudyInstanceUID,
        patientName: stored.PatientMainDicomTags.PatientName,
        patientId: stored.PatientMainDicomTags.PatientID,
        originalStudyInstanceUid: MR.studyInstanceUid,
        originalPatientName: MR.patientName,
        sent: 1,
      },
    ]);
    expect(second.json<SendJson>().studies).toEqual(firstReport.studies);
    expect(stored.PatientMainDicomTags.PatientID).toMatch(/^ANON[0-9A-F]{20}$/);
    expect(fs.statSync(path.join(dirs.configDir, INSTALLATION_SECRET_FILE)).mode & 0o777).toBe(0o600);
  });

  test('text result names the pseudonym', async () => {
    const result = await runLoader(['send', 'orthanc', '--anonymize', '--study-uid', MR.studyInstanceUid!], { dirs });

    expect(result.code).toBe(0);
    const [stored] = await orthanc.listStudies();
    expect(result.stdout).toContain(
      `study ${MR.studyInstanceUid} of ${MR.patientName} sent as Patient's Name ${stored.PatientMainDicomTags.PatientName}, ` +
        `Patient ID ${stored.PatientMainDicomTags.PatientID}, Study Instance UID ${stored.MainDicomTags.StudyInstanceUID} (1 instance)`,
    );
  });

  test('one-off secret makes another patient', async () => {
    const before = await orthancCounts(orthanc);

    const result = await runLoader(['send', 'orthanc', '--anonymize', '--one-off-secret', '--study-uid', MR.studyInstanceUid!], { dirs });

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('note: anonymized with a one-off random secret');
    expect(await orthancCounts(orthanc)).toEqual({ patients: before.patients + 1, studies: before.studies + 1, instances: before.instances + 1 });
  });

  test('one-off secret needs anonymize', async () => {
    const result = await runLoader(['send', 'orthanc', '--one-off-secret', '--study-uid', MR.studyInstanceUid!], { dirs });

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--one-off-secret needs --anonymize');
  });
});
