/**
 * Two studies of one Patient ID with different Patient's Name, Birth Date and
 * Sex (a corrected name, a reused ID). The index keeps one patient record, but
 * a C-FIND at STUDY level and below matches and returns each study's own
 * values (PS3.4 C.4.1.2.1), as DCMTK dcmqrscp 3.6.7 and Orthanc 1.10 do. The
 * Patient Root PATIENT level returns the patient record. An index of schema
 * version 1, which stored these values only on the patient record, is
 * migrated with the patient record's values, and `loader reindex` reads them
 * from the files.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';

import { Tags } from '../../src/dicom/tags';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/services/archive/schema';
import { find, listStudies } from '../e2e/helpers';
import type { DicomAttributes } from '../e2e/helpers';
import { LOOPBACK, createLoaderDirs, makeTempDir, runLoader, startDcmqrscp, startLoader, startOrthanc, storeFiles } from '../support/peers';
import type { DicomNode, LoaderServer } from '../support/peers';
import { writeSecondaryCapture } from '../support/secondary-capture';

const PATIENT_ID = 'PIDSHARED7';
const FIRST_STUDY = '1.2.826.0.1.3680043.10.1234.79.1';
const SECOND_STUDY = '1.2.826.0.1.3680043.10.1234.79.2';

interface PatientValues {
  name: string;
  birthDate: string;
  sex: string;
}

const FIRST: PatientValues = { name: 'Doe^John', birthDate: '19800101', sex: 'M' };
const SECOND: PatientValues = { name: 'Roe^Jane', birthDate: '19811111', sex: 'F' };

const RETURN_KEYS = ['StudyInstanceUID', 'PatientID', 'PatientName', 'PatientBirthDate', 'PatientSex'];

/** Series Instance UID of the one series of each test study. */
const seriesUidOf = (studyUid: string) => `${studyUid}.1`;

/** Writes one Secondary Capture file of `studyUid` with the given patient values and returns its path and SOP Instance UID. */
function writeStudy(dir: string, fileName: string, studyUid: string, values: PatientValues): { file: string; sopInstanceUid: string } {
  const file = path.join(dir, fileName);
  const text = [
    { tag: Tags.PatientName, vr: 'PN', value: values.name },
    { tag: Tags.PatientBirthDate, vr: 'DA', value: values.birthDate },
    { tag: Tags.PatientSex, vr: 'CS', value: values.sex },
  ];
  const sopInstanceUid = writeSecondaryCapture(file, studyUid, PATIENT_ID, text, { seriesUid: seriesUidOf(studyUid) });
  return { file, sopInstanceUid };
}

/** Runs a C-FIND in the Study Root (-S) or Patient Root (-P) model and returns its responses. */
async function findResponses(loader: DicomNode, model: '-S' | '-P', level: string, keys: string[]): Promise<DicomAttributes[]> {
  const { run, finalStatus, responses } = await find(loader, model, [`QueryRetrieveLevel=${level}`, ...keys]);
  expect(run.code).toBe(0);
  expect(finalStatus).toBe('Success');
  return responses;
}

/** Returns Study Instance UID, Patient's Name, Birth Date and Sex of each response, sorted by UID. */
function studyValues(responses: DicomAttributes[]): [string, string, string, string][] {
  return responses
    .map((response): [string, string, string, string] => [
      String(response.StudyInstanceUID),
      String(response.PatientName),
      String(response.PatientBirthDate),
      String(response.PatientSex),
    ])
    .sort((a, b) => a[0].localeCompare(b[0]));
}

/** Runs a Study Root STUDY level C-FIND with one matching key and the return keys. */
function findStudies(loader: DicomNode, matchingKey: string): Promise<DicomAttributes[]> {
  const keyword = matchingKey.split('=')[0];
  return findResponses(loader, '-S', 'STUDY', [...RETURN_KEYS.filter((key) => key !== keyword), matchingKey]);
}

test('study level returns own patient values', async () => {
  const filesDir = makeTempDir('study-patient-values');
  const files = [writeStudy(filesDir, 'first.dcm', FIRST_STUDY, FIRST).file, writeStudy(filesDir, 'second.dcm', SECOND_STUDY, SECOND).file];
  const loader = await startLoader([], { aeTitle: 'STUDYPAT' });
  try {
    // One association sends the files in order, so the first study starts the patient record.
    expect((await storeFiles(loader, files, { callingAeTitle: 'MODALITY7' })).code).toBe(0);
    const second: [string, string, string, string] = [SECOND_STUDY, SECOND.name, SECOND.birthDate, SECOND.sex];
    const first: [string, string, string, string] = [FIRST_STUDY, FIRST.name, FIRST.birthDate, FIRST.sex];

    expect(studyValues(await findStudies(loader, `PatientBirthDate=${SECOND.birthDate}`))).toEqual([second]);
    expect(studyValues(await findStudies(loader, `PatientName=${SECOND.name}`))).toEqual([second]);
    expect(studyValues(await findStudies(loader, 'PatientSex=F'))).toEqual([second]);
    expect(studyValues(await findStudies(loader, `PatientName=${FIRST.name}`))).toEqual([first]);
    expect(studyValues(await findStudies(loader, `PatientID=${PATIENT_ID}`))).toEqual([first, second]);

    const series = await findResponses(loader, '-S', 'SERIES', [`StudyInstanceUID=${SECOND_STUDY}`, 'SeriesInstanceUID', 'PatientName', 'PatientBirthDate', 'PatientSex']);
    expect(studyValues(series)).toEqual([second]);
    const images = await findResponses(loader, '-S', 'IMAGE', [
      `StudyInstanceUID=${SECOND_STUDY}`,
      `SeriesInstanceUID=${seriesUidOf(SECOND_STUDY)}`,
      'SOPInstanceUID',
      `PatientSex=${SECOND.sex}`,
      'PatientName',
      'PatientBirthDate',
    ]);
    expect(studyValues(images)).toEqual([second]);

    const patientRootStudies = await findResponses(loader, '-P', 'STUDY', [`PatientID=${PATIENT_ID}`, 'StudyInstanceUID', 'PatientName', 'PatientSex=F', 'PatientBirthDate']);
    expect(studyValues(patientRootStudies)).toEqual([second]);

    const patients = await findResponses(loader, '-P', 'PATIENT', [`PatientID=${PATIENT_ID}`, 'PatientName', 'PatientBirthDate', 'PatientSex']);
    expect(patients).toHaveLength(1);
    expect([patients[0].PatientName, patients[0].PatientBirthDate, patients[0].PatientSex]).toEqual([FIRST.name, FIRST.birthDate, FIRST.sex]);

    const warnings = loader.readLog().split('\n').filter((line) => line.includes('than the patient record of its Patient ID'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`studyInstanceUid=${SECOND_STUDY}`);
    expect(warnings[0]).toContain('differentAttributes=PatientName,PatientBirthDate,PatientSex');
    expect(warnings[0]).not.toContain('Roe');
    expect(warnings[0]).not.toContain(SECOND.birthDate);
  } finally {
    await loader.stop();
  }

  const rows = await runLoader(['studies', '--json'], { dirs: loader.dirs });
  expect(rows.code).toBe(0);
  const listed = rows
    .json<Array<{ studyInstanceUid: string; patientName: string; patientBirthDate: string; patientSex: string }>>()
    .map((row) => [row.studyInstanceUid, row.patientName, row.patientBirthDate, row.patientSex])
    .sort((a, b) => a[0].localeCompare(b[0]));
  expect(listed).toEqual([
    [FIRST_STUDY, FIRST.name, FIRST.birthDate, FIRST.sex],
    [SECOND_STUDY, SECOND.name, SECOND.birthDate, SECOND.sex],
  ]);
  expect((await listStudies(loader.dirs, ['--name', 'Roe'])).map((row) => row.studyInstanceUid)).toEqual([SECOND_STUDY]);
}, 120_000);

test('dcmqrscp and Orthanc agree', async () => {
  const filesDir = makeTempDir('study-patient-peers');
  const files = [writeStudy(filesDir, 'first.dcm', FIRST_STUDY, FIRST).file, writeStudy(filesDir, 'second.dcm', SECOND_STUDY, SECOND).file];
  const [loader, dcmqrscp, orthanc] = await Promise.all([
    startLoader([], { aeTitle: 'STUDYPAT' }),
    startDcmqrscp({ aeTitle: 'DCMQR' }),
    startOrthanc({ aeTitle: 'ORTHANC', modalities: { findscu: { aet: 'FINDSCU', host: LOOPBACK, port: 1 } } }),
  ]);
  try {
    expect((await storeFiles(loader, files)).code).toBe(0);
    expect((await storeFiles(dcmqrscp, files)).code).toBe(0);
    for (const file of files) await orthanc.uploadFile(file);

    const second: [string, string, string, string] = [SECOND_STUDY, SECOND.name, SECOND.birthDate, SECOND.sex];
    for (const node of [loader, dcmqrscp, orthanc]) {
      expect(studyValues(await findStudies(node, `PatientBirthDate=${SECOND.birthDate}`))).toEqual([second]);
      expect(studyValues(await findStudies(node, `PatientName=${SECOND.name}`))).toEqual([second]);
    }
  } finally {
    await Promise.all([loader.stop(), dcmqrscp.stop(), orthanc.stop()]);
  }
}, 120_000);

test('later instances fill empty values', async () => {
  const filesDir = makeTempDir('study-patient-fill');
  const studyUid = '1.2.826.0.1.3680043.10.1234.79.3';
  const files = [
    writeStudy(filesDir, 'a.dcm', studyUid, { name: SECOND.name, birthDate: '', sex: '' }).file,
    writeStudy(filesDir, 'b.dcm', studyUid, { name: FIRST.name, birthDate: SECOND.birthDate, sex: '' }).file,
    writeStudy(filesDir, 'c.dcm', studyUid, { name: FIRST.name, birthDate: FIRST.birthDate, sex: SECOND.sex }).file,
  ];
  const loader = await startLoader([], { aeTitle: 'STUDYPAT' });
  try {
    expect((await storeFiles(loader, files, { callingAeTitle: 'MODALITY7' })).code).toBe(0);

    // The first instance sets the name, the second fills the birth date and the third the sex.
    expect(studyValues(await findStudies(loader, `PatientID=${PATIENT_ID}`))).toEqual([[studyUid, SECOND.name, SECOND.birthDate, SECOND.sex]]);
  } finally {
    await loader.stop();
  }
}, 120_000);

/**
 * Writes an index of schema version 1 that lists both files under one patient
 * record with the first study's values, as the previous version indexed them.
 */
function writeVersionOneIndex(archiveDir: string, files: { studyUid: string; relativePath: string; sopInstanceUid: string }[]): void {
  const db = new Database(path.join(archiveDir, 'index.sqlite'));
  try {
    MIGRATIONS[0](db);
    db.pragma('user_version = 1');
    const patientRef = db
      .prepare(`INSERT INTO patients (identity_key, patient_id, patient_name, birth_date, sex) VALUES (?, ?, ?, ?, ?)`)
      .run(`id:${PATIENT_ID}\u0000`, PATIENT_ID, FIRST.name, FIRST.birthDate, FIRST.sex).lastInsertRowid;
    files.forEach((file, index) => {
      const studyRef = db.prepare(`INSERT INTO studies (study_instance_uid, patient_ref, study_date) VALUES (?, ?, '20240115')`).run(file.studyUid, patientRef).lastInsertRowid;
      const seriesRef = db.prepare(`INSERT INTO series (series_instance_uid, study_ref, modality) VALUES (?, ?, 'OT')`).run(seriesUidOf(file.studyUid), studyRef).lastInsertRowid;
      db.prepare(`INSERT INTO instances (sop_instance_uid, series_ref, sop_class_uid, transfer_syntax_uid, size, path, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)`).run(
        file.sopInstanceUid,
        seriesRef,
        '1.2.840.10008.5.1.4.1.1.7',
        '1.2.840.10008.1.2.1',
        fs.statSync(path.join(archiveDir, file.relativePath)).size,
        file.relativePath,
        `2024-01-15T10:00:0${index}.000Z`,
      );
    });
  } finally {
    db.close();
  }
}

test('version 1 index is migrated', async () => {
  const dirs = createLoaderDirs('study-patient-migration');
  const filesDir = makeTempDir('study-patient-migration-files');
  // Each file goes to the archive layout path <Study Instance UID>/<Series Instance UID>/<SOP Instance UID>.dcm.
  const indexed = [
    { studyUid: FIRST_STUDY, ...writeStudy(filesDir, 'first.dcm', FIRST_STUDY, FIRST) },
    { studyUid: SECOND_STUDY, ...writeStudy(filesDir, 'second.dcm', SECOND_STUDY, SECOND) },
  ].map(({ studyUid, file, sopInstanceUid }) => {
    const relativePath = path.join(studyUid, seriesUidOf(studyUid), `${sopInstanceUid}.dcm`);
    fs.mkdirSync(path.dirname(path.join(dirs.archiveDir, relativePath)), { recursive: true });
    fs.copyFileSync(file, path.join(dirs.archiveDir, relativePath));
    return { studyUid, relativePath, sopInstanceUid };
  });
  writeVersionOneIndex(dirs.archiveDir, indexed);

  let loader = await startLoader([], { aeTitle: 'STUDYPAT', dirs });
  try {
    const db = new Database(path.join(dirs.archiveDir, 'index.sqlite'), { readonly: true });
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    } finally {
      db.close();
    }
    // The migration copies the patient record's values, so both studies carry the first study's values.
    const migrated = studyValues(await findStudies(loader, `PatientID=${PATIENT_ID}`));
    expect(migrated).toEqual([
      [FIRST_STUDY, FIRST.name, FIRST.birthDate, FIRST.sex],
      [SECOND_STUDY, FIRST.name, FIRST.birthDate, FIRST.sex],
    ]);
    expect(await findStudies(loader, `PatientBirthDate=${SECOND.birthDate}`)).toHaveLength(0);
  } finally {
    await loader.stop();
  }

  const reindex = await runLoader(['reindex'], { dirs });
  expect(reindex.code).toBe(0);

  loader = await startLoader([], { aeTitle: 'STUDYPAT', dirs });
  try {
    expect(studyValues(await findStudies(loader, `PatientBirthDate=${SECOND.birthDate}`))).toEqual([[SECOND_STUDY, SECOND.name, SECOND.birthDate, SECOND.sex]]);
    const patients = await findResponses(loader, '-P', 'PATIENT', [`PatientID=${PATIENT_ID}`, 'PatientName', 'PatientBirthDate', 'PatientSex']);
    expect(patients).toHaveLength(1);
  } finally {
    await loader.stop();
  }
}, 120_000);
