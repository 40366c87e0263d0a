/**
 * `loader scan --import` of studies that share one Patient ID under different
 * Patient's Names. The report counts the studies whose name differs from the
 * patient record, `loader studies` lists each study's own name, and `loader
 * reindex` keeps the record's name, the one of the earliest imported file.
 * The file that sorts first has the largest Study Instance UID, so scan and
 * reindex read the studies in opposite orders.
 */
import * as path from 'node:path';
import Database from 'better-sqlite3';

import { Tags } from '../../src/dicom/tags';
import { listStudies } from '../e2e/helpers';
import { createLoaderDirs, makeTempDir, runLoader } from '../support/peers';
import { writeSecondaryCapture } from '../support/secondary-capture';

const STUDY_COUNT = 5;

/** Returns the Patient's Name of every patient record in the archive index. */
function patientRecordNames(archiveDir: string): string[] {
  const db = new Database(path.join(archiveDir, 'index.sqlite'), { readonly: true });
  try {
    return db.prepare('SELECT patient_name FROM patients').pluck().all() as string[];
  } finally {
    db.close();
  }
}

test('scan report counts other names', async () => {
  const filesDir = makeTempDir('scan-shared-patient-id');
  for (let index = 0; index < STUDY_COUNT; index++) {
    const studyUid = `1.2.826.0.1.3680043.10.1234.78.${STUDY_COUNT - index}`;
    const file = path.join(filesDir, `${String.fromCharCode(0x61 + index)}.dcm`);
    writeSecondaryCapture(file, studyUid, 'PID3', [{ tag: Tags.PatientName, vr: 'PN', value: `Test^Patient${index}` }]);
  }
  const dirs = createLoaderDirs('scan-shared-patient-id');

  const scan = await runLoader(['scan', '--import', filesDir], { dirs });

  expect(scan.code).toBe(0);
  expect(scan.stdout + scan.stderr).toContain(`${STUDY_COUNT - 1} studies carry another Patient's Name than the patient record of their Patient ID`);
  const names = Array.from({ length: STUDY_COUNT }, (_, index) => `Test^Patient${index}`);
  const imported = await listStudies(dirs);
  expect(imported.map((row) => row.patientName).sort()).toEqual(names);
  expect(patientRecordNames(dirs.archiveDir)).toEqual(['Test^Patient0']);

  expect((await runLoader(['reindex'], { dirs })).code).toBe(0);

  const reindexed = await listStudies(dirs);
  expect(reindexed.map((row) => row.patientName).sort()).toEqual(names);
  expect(patientRecordNames(dirs.archiveDir)).toEqual(['Test^Patient0']);
}, 120_000);
