/**
 * An anonymizing migration job started when derived pseudonyms had 10 hex
 * digits keeps giving its patients those pseudonyms after the change to 20
 * digits, so a study it sends later joins the patient already on Orthanc.
 */
import * as fs from 'fs';
import * as path from 'path';

import Database from 'better-sqlite3';

import { readDicomFileHeaderSync } from '../../src/dicom/file-reader';
import { Tags } from '../../src/dicom/tags';
import { LocalArchive } from '../../src/services/archive';
import { corpusPath, createLoaderDirs, loaderIsBuilt, makeTempDir, runDcmtk, runLoader, startOrthanc } from '../support/peers';
import type { OrthancHandle } from '../support/peers';
import { jobDatabase, orthancModality, registerNode } from '../migration/helpers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

const MR = corpusPath('samples/mr/siemens-csa.dcm');

describeBuilt('legacy pseudonym length in migration jobs', () => {
  const dirs = createLoaderDirs('anonymize-legacy');
  let orthanc: OrthancHandle;
  let laterStudyUid: string;

  beforeAll(async () => {
    // A second study of the same patient: the MR with new study, series and instance UIDs.
    const later = path.join(makeTempDir('anonymize-legacy'), 'later.dcm');
    fs.copyFileSync(MR.absolutePath, later);
    expect((await runDcmtk('dcmodify', ['--no-backup', '--gen-stud-uid', '--gen-ser-uid', '--gen-inst-uid', later])).code).toBe(0);
    laterStudyUid = readDicomFileHeaderSync(later).dataset.getString(Tags.StudyInstanceUID) ?? '';
    const archive = LocalArchive.open(dirs.archiveDir);
    try {
      for (const file of [MR.absolutePath, later]) expect((await archive.importFile(file, { copy: true })).outcome).toBe('stored');
    } finally {
      archive.close();
    }
    // Orthanc accepts the C-FIND of the migration only from a known AE title, and LOADER is the default calling AE title.
    orthanc = await startOrthanc({ aeTitle: 'ORTHANCLEGACY', httpPort: 11543, modalities: { loader: orthancModality('LOADER', 11544) } });
    await registerNode(dirs, 'orthanc', orthanc);
  });

  afterAll(async () => {
    await orthanc?.stop();
  });

  test('resumed job keeps 10-digit pseudonyms', async () => {
    const args = ['migrate', 'local', 'orthanc', '--anonymize', '--job', 'legacy', '--study-uid', MR.studyInstanceUid!, laterStudyUid];
    const first = await runLoader(args, { dirs });
    expect(first.code).toBe(0);

    // Turn the job into one of the earlier version: its recorded pseudonym had 10 hex digits, and the later study was not sent yet.
    const db = new Database(jobDatabase(dirs));
    let legacyId: string;
    let destinationStudyUid: string;
    try {
      db.prepare("UPDATE job_pseudonyms SET patient_id = substr(patient_id, 1, 14), patient_name = substr(patient_name, 1, 15) WHERE job_id = 'legacy'").run();
      db.prepare("UPDATE job_studies SET state = 'pending' WHERE job_id = 'legacy' AND study_instance_uid = ?").run(laterStudyUid);
      legacyId = (db.prepare("SELECT patient_id FROM job_pseudonyms WHERE job_id = 'legacy'").get() as { patient_id: string }).patient_id;
      const row = db.prepare("SELECT destination_study_uid FROM job_studies WHERE job_id = 'legacy' AND study_instance_uid = ?").get(laterStudyUid);
      destinationStudyUid = (row as { destination_study_uid: string }).destination_study_uid;
    } finally {
      db.close();
    }
    expect(legacyId).toMatch(/^ANON[0-9A-F]{10}$/);
    const sentBefore = (await orthanc.listStudies()).find((study) => study.MainDicomTags.StudyInstanceUID === destinationStudyUid);
    expect(sentBefore?.PatientMainDicomTags.PatientID).toMatch(/^ANON[0-9A-F]{20}$/);
    await orthanc.rest('DELETE', `/studies/${sentBefore!.ID}`);

    const second = await runLoader(args, { dirs });

    expect(second.code).toBe(0);
    const sentAgain = (await orthanc.listStudies()).find((study) => study.MainDicomTags.StudyInstanceUID === destinationStudyUid);
    expect(sentAgain?.PatientMainDicomTags.PatientID).toBe(legacyId);
  });
});
