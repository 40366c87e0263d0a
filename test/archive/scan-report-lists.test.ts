/**
 * Scan report entries that used to appear only in the log: files rescanned
 * after they changed, files indexed into a study of another patient, files
 * left unindexed, skipped DICOMDIR records and file-system errors.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { readDicomFileHeaderSync } from '../../src/dicom/file-reader';
import { LocalArchive } from '../../src/services/archive';
import { setLogSink } from '../../src/services/logger';
import { loaderIsBuilt, runLoader, createLoaderDirs, type LoaderDirs } from '../support/loader';
import { CT_SMALL, Tag, freshCopy, makeTempDir, modifiedCopy } from './fixtures';

/** Removes a folder with rm, because fs.rmSync fails on paths longer than PATH_MAX. */
function removeDeepFolder(folder: string): void {
  execFileSync('rm', ['-rf', folder]);
}

function patientOfInstance(archive: LocalArchive, sopInstanceUid: string): { patientId: string; studyDescription: string } {
  return archive.catalog.db
    .prepare(`SELECT p.patient_id AS patientId, st.study_description AS studyDescription FROM instances i
      JOIN series se ON se.id = i.series_ref JOIN studies st ON st.id = se.study_ref
      JOIN patients p ON p.id = st.patient_ref WHERE i.sop_instance_uid = ?`)
    .get(sopInstanceUid) as { patientId: string; studyDescription: string };
}

/** Rewrites `file` with another patient and a longer description, keeping its UIDs. */
function changeInPlace(file: string, patientId: string, description: string): void {
  execFileSync('dcmodify', ['-nb', '-i', `${Tag.PatientID}=${patientId}`, '-i', `${Tag.StudyDescription}=${description}`, file], {
    stdio: 'pipe',
  });
}

/** Writes a DICOMDIR for `media/IMG1` whose image record points at ..\OUT\IMG1 instead. */
function writeDicomdirLeavingFolder(media: string): string {
  freshCopy(CT_SMALL, path.join(media, 'IMG1'));
  execFileSync('dcmmkdir', ['--output-file', 'DICOMDIR', '+r', 'IMG1'], { cwd: media, stdio: 'pipe' });
  execFileSync('dcmodify', ['-nb', '-m', '(0004,1220)[3].(0004,1500)=..\\OUT\\IMG1', 'DICOMDIR'], { cwd: media, stdio: 'pipe' });
  return path.join(media, 'DICOMDIR');
}

describe('scan report lists', () => {
  let workDir: string;
  let archive: LocalArchive;
  let previousSink: (line: string) => void;

  beforeEach(() => {
    workDir = makeTempDir('scan-lists-');
    previousSink = setLogSink(() => {});
    archive = LocalArchive.open(path.join(workDir, 'archive'));
  });

  afterEach(() => {
    archive.close();
    setLogSink(previousSink);
    removeDeepFolder(workDir);
  });

  test('changed file indexed again', async () => {
    const file = freshCopy(CT_SMALL, path.join(workDir, 'disc', 'ct.dcm'), { [Tag.PatientID]: 'FIRST' });
    const sopInstanceUid = readDicomFileHeaderSync(file).dataset.getString(0x00080018)!;
    await archive.scanPaths([path.dirname(file)], { import: false });
    changeInPlace(file, 'SECOND', 'second version of the study');

    const again = await archive.scanPaths([path.dirname(file)], { import: false });

    expect(again.updated).toBe(1);
    expect(again.duplicates).toBe(0);
    expect(patientOfInstance(archive, sopInstanceUid)).toEqual({ patientId: 'SECOND', studyDescription: 'second version of the study' });
    expect(again.studies.map((study) => study.patientId)).toEqual(['SECOND']);
  });

  test('changed file imported under its patient', async () => {
    const file = freshCopy(CT_SMALL, path.join(workDir, 'disc', 'ct.dcm'), { [Tag.PatientID]: 'FIRST' });
    const sopInstanceUid = readDicomFileHeaderSync(file).dataset.getString(0x00080018)!;
    await archive.scanPaths([path.dirname(file)], { import: false });
    changeInPlace(file, 'THIRD', 'third version of the study');

    const imported = await archive.scanPaths([path.dirname(file)], { import: true });

    expect(imported.imported).toBe(1);
    const storedPath = archive.getInstancePath(sopInstanceUid)!;
    expect(storedPath.startsWith(archive.root)).toBe(true);
    expect(readDicomFileHeaderSync(storedPath).dataset.getString(0x00100020)).toBe('THIRD');
    expect(patientOfInstance(archive, sopInstanceUid).patientId).toBe('THIRD');
  });

  test.each([false, true])('study of another patient listed (import %s)', async (importCopies) => {
    const studyInstanceUid = '2.25.81726354';
    const first = freshCopy(CT_SMALL, path.join(workDir, 'src', 'a.dcm'), { [Tag.StudyInstanceUID]: studyInstanceUid, [Tag.PatientID]: 'P-A' });
    const second = freshCopy(CT_SMALL, path.join(workDir, 'src', 'b.dcm'), { [Tag.StudyInstanceUID]: studyInstanceUid, [Tag.PatientID]: 'P-B' });

    const report = await archive.scanPaths([path.join(workDir, 'src')], { import: importCopies });

    expect(report.otherPatient).toHaveLength(1);
    const entry = report.otherPatient[0];
    expect(entry.path).toBe(fs.realpathSync(second));
    expect(entry.storedPatientId).toBe('P-A');
    expect(entry.filePatientId).toBe('P-B');
    expect(entry.studyInstanceUid).toBe(studyInstanceUid);
    expect(entry.reason).toContain('P-A');
    expect(entry.reason).toContain('P-B');
    expect(entry.reason).toMatch(importCopies ? /^kept aside as .*\.conflicts/ : /^not indexed: /);
    expect(report.otherPatient.map((item) => item.path)).not.toContain(fs.realpathSync(first));
    expect(report.conflicts).toBe(1);
    expect(report.notIndexed).toEqual([]);
    expect(archive.listInstances({ studyInstanceUid })).toHaveLength(1);
    expect(archive.listInstances({ patientId: 'P-B' })).toEqual([]);
  });

  test.each([false, true])('SOP Instance UID of another patient listed (import %s)', async (importCopies) => {
    const first = freshCopy(CT_SMALL, path.join(workDir, 'a', 'ct.dcm'), { [Tag.PatientID]: 'P-A' });
    await archive.scanPaths([path.join(workDir, 'a')], { import: false });
    // The same SOP Instance UID in another study of another patient.
    const second = modifiedCopy(first, path.join(workDir, 'b', 'ct.dcm'), {
      [Tag.PatientID]: 'P-B',
      [Tag.StudyInstanceUID]: '2.25.81726357',
      [Tag.SeriesInstanceUID]: '2.25.81726358',
    });

    const report = await archive.scanPaths([path.join(workDir, 'b')], { import: importCopies });

    expect(report.conflicts).toBe(1);
    expect(report.otherPatient.map((item) => [item.path, item.storedPatientId, item.filePatientId])).toEqual([[fs.realpathSync(second), 'P-A', 'P-B']]);
    expect(report.notIndexed).toEqual([]);
  });

  test('other issuer named in the listing', async () => {
    const studyInstanceUid = '2.25.81726356';
    freshCopy(CT_SMALL, path.join(workDir, 'src', 'a.dcm'), { [Tag.StudyInstanceUID]: studyInstanceUid, [Tag.PatientID]: 'P-A', '(0010,0021)': 'HOSP-A' });
    const second = freshCopy(CT_SMALL, path.join(workDir, 'src', 'b.dcm'), { [Tag.StudyInstanceUID]: studyInstanceUid, [Tag.PatientID]: 'P-A', '(0010,0021)': 'HOSP-B' });

    const report = await archive.scanPaths([path.join(workDir, 'src')], { import: false });

    // The same Patient ID of another issuer is kept in the study, as before, but listed with what differs.
    expect(report.otherPatient.map((item) => item.path)).toEqual([fs.realpathSync(second)]);
    expect(report.otherPatient[0].reason).toContain('of issuer "HOSP-A", although the file names issuer "HOSP-B"');
    expect(report.otherPatient[0].reason).toContain('Issuer of Patient ID (0010,0021)');
    expect(archive.listInstances({ studyInstanceUid })).toHaveLength(2);
  });

  test('study of another patient rejected again by a rescan', async () => {
    const studyInstanceUid = '2.25.81726355';
    freshCopy(CT_SMALL, path.join(workDir, 'src', 'a.dcm'), { [Tag.StudyInstanceUID]: studyInstanceUid, [Tag.PatientID]: 'P-A' });
    const second = freshCopy(CT_SMALL, path.join(workDir, 'src', 'b.dcm'), { [Tag.StudyInstanceUID]: studyInstanceUid, [Tag.PatientID]: 'P-B' });
    await archive.scanPaths([path.join(workDir, 'src')], { import: false });

    const rescan = await archive.scanPaths([path.join(workDir, 'src')], { import: false });

    expect(rescan.duplicates).toBe(1);
    expect(rescan.conflicts).toBe(1);
    expect(rescan.otherPatient.map((item) => [item.path, item.storedPatientId, item.filePatientId])).toEqual([[fs.realpathSync(second), 'P-A', 'P-B']]);
  });

  test('conflicting file listed with path', async () => {
    const original = freshCopy(CT_SMALL, path.join(workDir, 'a', 'ct.dcm'));
    await archive.scanPaths([path.join(workDir, 'a')], { import: false });
    const changed = modifiedCopy(original, path.join(workDir, 'b', 'ct.dcm'), { [Tag.StudyDescription]: 'changed' });

    const report = await archive.scanPaths([path.join(workDir, 'b')], { import: false });

    expect(report.conflicts).toBe(1);
    expect(report.notIndexed.map((item) => item.path)).toEqual([fs.realpathSync(changed)]);
    expect(report.notIndexed[0].reason).toContain(fs.realpathSync(original));
  });

  test('DICOMDIR record leaving folder listed', async () => {
    const dicomdir = writeDicomdirLeavingFolder(path.join(workDir, 'media'));

    const report = await archive.scanPaths([dicomdir], { import: false });

    expect(report.skippedRecords).toHaveLength(1);
    expect(report.skippedRecords[0].path).toBe(fs.realpathSync(dicomdir));
    expect(report.skippedRecords[0].reason).toContain('leaves the DICOMDIR folder');
    expect(report.missing).toEqual([]);
    expect(report.scanned).toBe(1);
  });

  test('name not in UTF-8 is unreadable', async () => {
    const folder = path.join(workDir, 'weird');
    fs.mkdirSync(folder);
    const name = Buffer.concat([Buffer.from(`${folder}/bad`), Buffer.from([0xe9]), Buffer.from('name.dcm')]);
    fs.copyFileSync(CT_SMALL, name);
    freshCopy(CT_SMALL, path.join(folder, 'good.dcm'));

    const report = await archive.scanPaths([folder], { import: false });

    expect(report.damaged).toEqual([]);
    expect(report.unreadable).toHaveLength(1);
    expect(report.unreadable[0].reason).toContain('not valid UTF-8');
    expect(report.unreadable[0].reason).toContain('iocharset');
    expect(report.scanned).toBe(2);
  });

  test('path too long is unreadable', async () => {
    const top = path.join(workDir, 'deep');
    fs.mkdirSync(top);
    // 25 levels of 200-character names exceed PATH_MAX (4096 bytes on Linux).
    execFileSync('bash', ['-c', 'for i in $(seq 25); do d=$(printf "%0200d" $i); mkdir "$d" && cd "$d" || exit 1; done; cp "$0" ct.dcm', CT_SMALL], { cwd: top });
    freshCopy(CT_SMALL, path.join(top, 'shallow.dcm'));

    const report = await archive.scanPaths([top], { import: false });

    expect(report.damaged).toEqual([]);
    expect(report.unreadable).toHaveLength(1);
    expect(report.unreadable[0].reason).toContain('ENAMETOOLONG');
    expect(report.unreadable[0].reason).toContain('shorter');
    expect(report.scanned).toBe(2);
  });
});

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

describeBuilt('scan report lists in the CLI', () => {
  let dirs: LoaderDirs;

  beforeEach(() => {
    dirs = createLoaderDirs('scan-lists-cli');
  });

  afterEach(() => removeDeepFolder(dirs.root));

  test('other patient exits partial', async () => {
    const source = path.join(dirs.root, 'src');
    const studyInstanceUid = '2.25.81726355';
    freshCopy(CT_SMALL, path.join(source, 'a.dcm'), { [Tag.StudyInstanceUID]: studyInstanceUid, [Tag.PatientID]: 'P-A' });
    const second = freshCopy(CT_SMALL, path.join(source, 'b.dcm'), { [Tag.StudyInstanceUID]: studyInstanceUid, [Tag.PatientID]: 'P-B' });

    const run = await runLoader(['scan', source], { dirs });

    expect(run.code).toBe(3);
    expect(run.stdout).toContain(`other patient: ${fs.realpathSync(second)}: `);
    expect(run.stdout).toContain('P-A');
  });

  test('skipped DICOMDIR record in JSON', async () => {
    const dicomdir = writeDicomdirLeavingFolder(path.join(dirs.root, 'media'));

    const run = await runLoader(['scan', '--json', dicomdir], { dirs });

    expect(run.code).toBe(3);
    expect(run.json<{ skippedRecords: unknown[] }>().skippedRecords).toHaveLength(1);
  });
});
