/**
 * The table of studies that `loader scan` prints: it names the patient, and
 * it never cuts the Study Instance UID that later commands take.
 */
import { corpusFile, createLoaderDirs, loaderIsBuilt, runLoader } from '../support/peers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

describeBuilt('scan study table', () => {
  test('names the patient and shows the whole UID', async () => {
    const dirs = createLoaderDirs('scan-table');
    const file = corpusFile('ct');

    const result = await runLoader(['scan', file.absolutePath], { dirs });
    const lines = result.stdout.split('\n');
    const heading = lines.find((line) => line.startsWith('PATIENT NAME'));

    expect(result.code).toBe(0);
    expect(heading).toMatch(/^PATIENT NAME +PATIENT ID +BIRTH DATE +STUDY DATE +MODALITIES +DESCRIPTION +INSTANCES +STUDY INSTANCE UID$/);
    const row = lines.find((line) => line.includes(file.studyInstanceUid!));
    expect(row).toContain(file.patientName!);
  });
});
