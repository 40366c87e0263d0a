/**
 * One Patient ID shared by studies with different Patient's Names, a known
 * clinical case. The index keeps one patient record per Patient ID, which the
 * Patient Root PATIENT level returns, while a STUDY level C-FIND matches each
 * study's own name. The record's name is the one of the earliest received
 * instance, so storescu order decides it on receive, and `loader reindex`,
 * which reads the files in folder order, keeps it. Each study with another
 * name is logged once, with the IDs and never the names.
 *
 * The studies are sent in descending Study Instance UID order. Before,
 * reindex took the name of the study it read first, which is the smallest
 * UID, so the name changed from Test^Patient0 to Test^Patient4.
 */
import * as path from 'node:path';

import { Tags } from '../../src/dicom/tags';
import { distinct, find } from '../e2e/helpers';
import { makeTempDir, runLoader, startLoader, storeFiles } from '../support/peers';
import type { LoaderServer } from '../support/peers';
import { writeSecondaryCapture } from '../support/secondary-capture';

const PATIENT_ID = 'PID3';
const STUDY_COUNT = 5;

/** Study Instance UIDs that sort in the order of their index. */
const studyUids = Array.from({ length: STUDY_COUNT }, (_, index) => `1.2.826.0.1.3680043.10.1234.77.${index + 1}`);

/** Returns the Study Instance UIDs of the studies whose PatientName matches `name` at STUDY level. */
async function findStudies(loader: LoaderServer, name: string): Promise<string[]> {
  const { run, finalStatus, responses } = await find(loader, '-S', ['QueryRetrieveLevel=STUDY', 'StudyInstanceUID', 'PatientName', `PatientName=${name}`]);
  expect(run.code).toBe(0);
  expect(finalStatus).toBe('Success');
  return distinct(responses.map((response) => String(response.StudyInstanceUID)));
}

/** Returns the Patient's Name of each Patient Root PATIENT level response for PATIENT_ID. */
async function findPatientNames(loader: LoaderServer): Promise<string[]> {
  const { run, finalStatus, responses } = await find(loader, '-P', ['QueryRetrieveLevel=PATIENT', `PatientID=${PATIENT_ID}`, 'PatientName']);
  expect(run.code).toBe(0);
  expect(finalStatus).toBe('Success');
  return responses.map((response) => String(response.PatientName));
}

test('shared Patient ID keeps the name', async () => {
  const filesDir = makeTempDir('shared-patient-id');
  // Test^Patient0 goes to the largest UID and is sent first.
  const files = studyUids
    .map((studyUid, index) => {
      const file = path.join(filesDir, `study-${index}.dcm`);
      const name = `Test^Patient${STUDY_COUNT - 1 - index}`;
      writeSecondaryCapture(file, studyUid, PATIENT_ID, [{ tag: Tags.PatientName, vr: 'PN', value: name }]);
      return file;
    })
    .reverse();

  let loader = await startLoader([], { aeTitle: 'SHAREDPID' });
  const dirs = loader.dirs;
  try {
    expect((await storeFiles(loader, files, { callingAeTitle: 'MODALITY1' })).code).toBe(0);

    expect(await findPatientNames(loader)).toEqual(['Test^Patient0']);
    expect(await findStudies(loader, 'Test^Patient0')).toEqual([studyUids[STUDY_COUNT - 1]]);
    expect(await findStudies(loader, 'Test^Patient4')).toEqual([studyUids[0]]);
    const warnings = loader.readLog().split('\n').filter((line) => line.includes("another Patient's Name"));
    expect(warnings).toHaveLength(STUDY_COUNT - 1);
    for (const line of warnings) {
      expect(line).toContain(`patientId=${PATIENT_ID}`);
      expect(line).toContain('MODALITY1');
      expect(line).not.toContain('Test^Patient');
    }
    for (const studyUid of studyUids.slice(0, STUDY_COUNT - 1)) {
      expect(warnings.filter((line) => line.includes(`studyInstanceUid=${studyUid}`))).toHaveLength(1);
    }
  } finally {
    await loader.stop();
  }

  const reindex = await runLoader(['reindex'], { dirs });
  expect(reindex.code).toBe(0);

  loader = await startLoader([], { aeTitle: 'SHAREDPID', dirs });
  try {
    expect(await findPatientNames(loader)).toEqual(['Test^Patient0']);
    expect(await findStudies(loader, 'Test^Patient0')).toEqual([studyUids[STUDY_COUNT - 1]]);
    expect(await findStudies(loader, 'Test^Patient4')).toEqual([studyUids[0]]);
  } finally {
    await loader.stop();
  }
}, 120_000);
