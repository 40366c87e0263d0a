import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buildFileMetaInformation } from '../../src/dicom/writer';
import { ArchiveError, LocalArchive } from '../../src/services/archive';
import { incomingFolder, relativeInstancePath } from '../../src/services/archive/layout';
import { setLogSink } from '../../src/services/logger';
import {
  CT_SMALL,
  MR_SMALL,
  Tag,
  chunkedStream,
  datasetPartOf,
  freshCopy,
  storedFiles,
  makeTempDir,
  modifiedCopy,
  removeTempDir,
  TEST_IMPLEMENTATION,
  requestFor,
} from './fixtures';
import { incomingLeftovers } from '../support/incoming';

function countInstances(archive: LocalArchive): number {
  return (archive.catalog.db.prepare('SELECT COUNT(*) AS n FROM instances').get() as { n: number }).n;
}

describe('LocalArchive.receive', () => {
  let workDir: string;
  let root: string;
  let archive: LocalArchive;
  let logLines: string[];
  let previousSink: (line: string) => void;

  beforeEach(() => {
    workDir = makeTempDir();
    root = path.join(workDir, 'archive');
    logLines = [];
    previousSink = setLogSink((line) => logLines.push(line));
    archive = LocalArchive.open(root);
  });

  afterEach(() => {
    archive.close();
    setLogSink(previousSink);
    removeTempDir(workDir);
  });

  test('stores meta plus identical bytes and indexes', async () => {
    const part = datasetPartOf(CT_SMALL);
    const outcome = await archive.receive(requestFor(part));

    const expectedPath = path.join(root, part.studyInstanceUid, part.seriesInstanceUid, `${part.sopInstanceUid}.dcm`);
    expect(outcome.outcome).toBe('stored');
    expect(outcome.path).toBe(expectedPath);
    expect(outcome.sopInstanceUid).toBe(part.sopInstanceUid);
    expect(outcome.studyInstanceUid).toBe(part.studyInstanceUid);
    expect(outcome.seriesInstanceUid).toBe(part.seriesInstanceUid);

    const meta = buildFileMetaInformation({
      mediaStorageSopClassUid: part.sopClassUid,
      mediaStorageSopInstanceUid: part.sopInstanceUid,
      transferSyntaxUid: part.transferSyntaxUid,
      sourceApplicationEntityTitle: 'MODALITY1',
      ...TEST_IMPLEMENTATION,
    });
    const stored = fs.readFileSync(expectedPath);
    expect(stored.subarray(0, meta.length).equals(meta)).toBe(true);
    expect(stored.subarray(meta.length).equals(part.bytes)).toBe(true);
    expect(outcome.size).toBe(stored.length);

    expect(archive.getInstancePath(part.sopInstanceUid)).toBe(expectedPath);
    expect(archive.listInstances({ studyInstanceUid: part.studyInstanceUid })).toEqual([
      {
        sopInstanceUid: part.sopInstanceUid,
        sopClassUid: part.sopClassUid,
        transferSyntaxUid: part.transferSyntaxUid,
        path: expectedPath,
        size: stored.length,
        inPlace: false,
      },
    ]);
    const row = archive.catalog.db
      .prepare('SELECT in_place, source_ae_title, specific_character_set FROM instances WHERE sop_instance_uid = ?')
      .get(part.sopInstanceUid) as { in_place: number; source_ae_title: string };
    expect(row.in_place).toBe(0);
    expect(row.source_ae_title).toBe('MODALITY1');
    expect(incomingLeftovers(root)).toEqual([]);
  });

  test('same instance again is a duplicate', async () => {
    const part = datasetPartOf(CT_SMALL);
    const first = await archive.receive(requestFor(part));
    const before = fs.statSync(first.path);

    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = await archive.receive(requestFor(part));

    expect(second.outcome).toBe('duplicate');
    expect(second.path).toBe(first.path);
    expect(fs.statSync(first.path).mtimeMs).toBe(before.mtimeMs);
    expect(fs.statSync(first.path).ino).toBe(before.ino);
    expect(countInstances(archive)).toBe(1);
    expect(incomingLeftovers(root)).toEqual([]);
    expect(fs.readdirSync(path.join(root, '.conflicts'))).toEqual([]);
  });

  test('different bytes under one UID conflict', async () => {
    const part = datasetPartOf(CT_SMALL);
    const first = await archive.receive(requestFor(part));
    const original = fs.readFileSync(first.path);

    const changedFile = modifiedCopy(CT_SMALL, path.join(workDir, 'changed.dcm'), { [Tag.StudyDescription]: 'changed' });
    const changed = datasetPartOf(changedFile);
    expect(changed.sopInstanceUid).toBe(part.sopInstanceUid);

    const second = await archive.receive(requestFor(changed));

    expect(second.outcome).toBe('conflict');
    expect(path.dirname(second.path)).toBe(path.join(root, '.conflicts'));
    expect(path.basename(second.path).startsWith(`${part.sopInstanceUid}.`)).toBe(true);
    expect(fs.readFileSync(second.path).subarray(-changed.bytes.length).equals(changed.bytes)).toBe(true);
    expect(fs.readFileSync(first.path).equals(original)).toBe(true);
    expect(archive.getInstancePath(part.sopInstanceUid)).toBe(first.path);
    expect(countInstances(archive)).toBe(1);
    expect(logLines.some((line) => line.includes('WARN') && line.includes(part.sopInstanceUid))).toBe(true);
  });

  test.each([
    ['path traversal', '../x'],
    ['65 characters', '1.' + '2'.repeat(63)],
    ['letters', '1.2.abc'],
  ])('rejects SOP Instance UID with %s', async (_case, badUid) => {
    const part = datasetPartOf(CT_SMALL);
    const request = { ...requestFor(part), sopInstanceUid: badUid };

    const error = await archive.receive(request).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ArchiveError);
    expect((error as ArchiveError).code).toBe('invalid-uid');
    expect((error as ArchiveError).message).toContain('SOP Instance UID');
    expect(storedFiles(root)).toEqual([]);
    expect(fs.existsSync(path.join(workDir, 'x'))).toBe(false);
    expect(countInstances(archive)).toBe(0);
  });

  test('rejects data set with invalid Study Instance UID', async () => {
    const file = modifiedCopy(CT_SMALL, path.join(workDir, 'bad-study.dcm'), { [Tag.StudyInstanceUID]: '1.2.3..4' });
    const part = datasetPartOf(file);

    const error = await archive.receive(requestFor(part)).catch((caught: unknown) => caught);

    expect((error as ArchiveError).code).toBe('invalid-uid');
    expect((error as ArchiveError).message).toContain('Study Instance UID');
    expect(storedFiles(root)).toEqual([]);
    expect(countInstances(archive)).toBe(0);
  });

  test('rejects SOP Instance UID mismatch', async () => {
    const part = datasetPartOf(CT_SMALL);
    const request = { ...requestFor(part), sopInstanceUid: '1.2.3.4.5' };

    const error = await archive.receive(request).catch((caught: unknown) => caught);

    expect((error as ArchiveError).code).toBe('uid-mismatch');
    expect((error as ArchiveError).message).toContain('1.2.3.4.5');
    expect(storedFiles(root)).toEqual([]);
    expect(countInstances(archive)).toBe(0);
  });

  test('rejects bytes that are not a data set', async () => {
    const part = datasetPartOf(CT_SMALL);
    const request = requestFor(part, chunkedStream(Buffer.from('this is not a DICOM data set, just text')));

    const error = await archive.receive(request).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ArchiveError);
    expect(['unreadable', 'missing-attribute']).toContain((error as ArchiveError).code);
    expect(storedFiles(root)).toEqual([]);
  });

  test('stream error mid-way leaves nothing', async () => {
    const part = datasetPartOf(CT_SMALL);
    const data = new Readable({ read() {} });
    data.push(part.bytes.subarray(0, 10000));
    setTimeout(() => data.destroy(new Error('association aborted')), 10);

    const error = await archive.receive(requestFor(part, data)).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ArchiveError);
    expect((error as ArchiveError).code).toBe('io');
    expect((error as ArchiveError).message).toContain('association aborted');
    expect(storedFiles(root)).toEqual([]);
    expect(countInstances(archive)).toBe(0);
  });

  test('stream error keeps the stored copy', async () => {
    const part = datasetPartOf(CT_SMALL);
    const first = await archive.receive(requestFor(part));
    const original = fs.readFileSync(first.path);
    const data = new Readable({ read() {} });
    data.push(part.bytes.subarray(0, 5000));
    setTimeout(() => data.destroy(new Error('association aborted')), 10);

    await expect(archive.receive(requestFor(part, data))).rejects.toBeInstanceOf(ArchiveError);

    expect(fs.readFileSync(first.path).equals(original)).toBe(true);
    expect(incomingLeftovers(root)).toEqual([]);
    expect(countInstances(archive)).toBe(1);
  });

  test('concurrent receives of one UID', async () => {
    const part = datasetPartOf(MR_SMALL);
    const outcomes = await Promise.all([1, 2, 3].map(() => archive.receive(requestFor(part))));

    expect(outcomes.map((outcome) => outcome.outcome).sort()).toEqual(['duplicate', 'duplicate', 'stored']);
    expect(countInstances(archive)).toBe(1);
    expect(incomingLeftovers(root)).toEqual([]);
  });

  test('open removes .incoming leftovers', () => {
    archive.close();
    fs.writeFileSync(path.join(root, '.incoming', '1.2.3.999.part'), 'partial');

    archive = LocalArchive.open(root);

    expect(incomingLeftovers(root)).toEqual([]);
    expect(logLines.some((line) => line.includes('interrupted transfer'))).toBe(true);
  });

  test('counts follow add and remove', async () => {
    const studyUid = '1.2.826.0.1.3680043.9.7433.3.1';
    const samePatient = { [Tag.StudyInstanceUID]: studyUid, [Tag.PatientID]: 'PID-A' };
    const first = datasetPartOf(freshCopy(CT_SMALL, path.join(workDir, 'a.dcm'), samePatient));
    const second = datasetPartOf(freshCopy(MR_SMALL, path.join(workDir, 'b.dcm'), samePatient));
    await archive.receive(requestFor(first));
    await archive.receive(requestFor(second));
    const study = () =>
      archive.catalog.db
        .prepare('SELECT number_of_series AS series, number_of_instances AS instances, modalities_in_study AS modalities FROM studies WHERE study_instance_uid = ?')
        .get(studyUid);

    expect(study()).toEqual({ series: 2, instances: 2, modalities: 'CT\\MR' });

    expect(await archive.removeInstance(second.sopInstanceUid)).toBe(true);
    expect(study()).toEqual({ series: 1, instances: 1, modalities: 'CT' });
    expect(fs.existsSync(path.join(root, studyUid, second.seriesInstanceUid, `${second.sopInstanceUid}.dcm`))).toBe(false);

    expect(await archive.removeInstance(first.sopInstanceUid)).toBe(true);
    expect(study()).toBeUndefined();
    expect(archive.catalog.db.prepare('SELECT COUNT(*) AS n FROM patients').get()).toEqual({ n: 0 });
  });

  test('study under another patient kept aside', async () => {
    const studyUid = '1.2.826.0.1.3680043.9.7433.3.2';
    const first = datasetPartOf(freshCopy(CT_SMALL, path.join(workDir, 'a.dcm'), { [Tag.StudyInstanceUID]: studyUid, [Tag.PatientID]: 'PID-A' }));
    const second = datasetPartOf(freshCopy(MR_SMALL, path.join(workDir, 'b.dcm'), { [Tag.StudyInstanceUID]: studyUid, [Tag.PatientID]: 'PID-B' }));
    await archive.receive(requestFor(first));
    const outcome = await archive.receive(requestFor(second));
    const again = await archive.receive(requestFor(second));

    expect(outcome.outcome).toBe('conflict');
    expect(outcome.otherPatient).toEqual(expect.objectContaining({ level: 'study', storedPatientId: 'PID-A', receivedPatientId: 'PID-B' }));
    expect(again.outcome).toBe('conflict');
    expect(again.path).toBe(outcome.path);
    expect(fs.readdirSync(path.join(root, '.conflicts'))).toHaveLength(1);
    expect(fs.existsSync(path.join(root, studyUid, second.seriesInstanceUid))).toBe(false);
    expect(archive.listInstances({ studyInstanceUid: studyUid }).map((instance) => instance.sopInstanceUid)).toEqual([first.sopInstanceUid]);
    expect(archive.listInstances({ patientId: 'PID-B' })).toHaveLength(0);
    const warning = logLines.find((line) => line.includes('another Patient ID'));
    expect(warning).toContain('storedPatientId=PID-A');
    expect(warning).toContain('receivedPatientId=PID-B');
    expect(warning).not.toContain('CompressedSamples');
  });

  test('recovered store of another patient kept aside', async () => {
    const studyUid = '1.2.826.0.1.3680043.9.7433.3.7';
    const first = datasetPartOf(freshCopy(CT_SMALL, path.join(workDir, 'a.dcm'), { [Tag.StudyInstanceUID]: studyUid, [Tag.PatientID]: 'PID-A' }));
    const otherFile = freshCopy(MR_SMALL, path.join(workDir, 'b.dcm'), { [Tag.StudyInstanceUID]: studyUid, [Tag.PatientID]: 'PID-B' });
    const other = datasetPartOf(otherFile);
    await archive.receive(requestFor(first));
    archive.close();
    // A store whose process stopped before its index commit: the file in the layout and its second link in .incoming.
    const stored = path.join(root, relativeInstancePath(other));
    fs.mkdirSync(path.dirname(stored), { recursive: true });
    fs.copyFileSync(otherFile, stored);
    fs.linkSync(stored, path.join(incomingFolder(root), `${other.sopInstanceUid}.${spawnSync('true').pid}.0123456789ab.1.part`));

    archive = LocalArchive.open(root);

    expect(archive.listInstances({ studyInstanceUid: studyUid }).map((instance) => instance.sopInstanceUid)).toEqual([first.sopInstanceUid]);
    expect(fs.existsSync(stored)).toBe(false);
    expect(fs.readdirSync(path.join(root, '.conflicts'))).toEqual([expect.stringMatching(new RegExp(`^${other.sopInstanceUid.replace(/\./g, '\\.')}\\.`))]);
    const warning = logLines.find((line) => line.includes('interrupted index commit conflicts'));
    expect(warning).toContain('storedPatientId=PID-A');
    expect(warning).toContain('receivedPatientId=PID-B');
  });

  test('padded Patient ID is the same patient', async () => {
    const studyUid = '1.2.826.0.1.3680043.9.7433.3.3';
    const first = datasetPartOf(freshCopy(CT_SMALL, path.join(workDir, 'a.dcm'), { [Tag.StudyInstanceUID]: studyUid, [Tag.PatientID]: 'PID-A' }));
    const second = datasetPartOf(freshCopy(MR_SMALL, path.join(workDir, 'b.dcm'), { [Tag.StudyInstanceUID]: studyUid, [Tag.PatientID]: ' PID-A' }));
    await archive.receive(requestFor(first));

    const outcome = await archive.receive(requestFor(second));

    expect(outcome.outcome).toBe('stored');
    expect(archive.listInstances({ studyInstanceUid: studyUid })).toHaveLength(2);
  });

  test('empty Patient ID differs from a stored one', async () => {
    const studyUid = '1.2.826.0.1.3680043.9.7433.3.4';
    const first = datasetPartOf(freshCopy(CT_SMALL, path.join(workDir, 'a.dcm'), { [Tag.StudyInstanceUID]: studyUid, [Tag.PatientID]: 'PID-A' }));
    const second = datasetPartOf(freshCopy(MR_SMALL, path.join(workDir, 'b.dcm'), { [Tag.StudyInstanceUID]: studyUid, [Tag.PatientID]: '' }));
    await archive.receive(requestFor(first));

    const outcome = await archive.receive(requestFor(second));

    expect(outcome.outcome).toBe('conflict');
    expect(outcome.otherPatient).toEqual(expect.objectContaining({ storedPatientId: 'PID-A', receivedPatientId: '' }));
  });

  test('SOP Instance UID of another patient kept aside', async () => {
    const firstFile = freshCopy(CT_SMALL, path.join(workDir, 'a.dcm'), { [Tag.PatientID]: 'PID-A' });
    const first = datasetPartOf(firstFile);
    const renamed = { [Tag.StudyInstanceUID]: '1.2.826.0.1.3680043.9.7433.3.5', [Tag.SeriesInstanceUID]: '1.2.826.0.1.3680043.9.7433.3.6', [Tag.PatientID]: 'PID-B' };
    const second = datasetPartOf(modifiedCopy(firstFile, path.join(workDir, 'b.dcm'), renamed));
    const samePatient = datasetPartOf(modifiedCopy(firstFile, path.join(workDir, 'c.dcm'), { [Tag.StudyDescription]: 'changed' }));
    await archive.receive(requestFor(first));

    const otherPatient = await archive.receive(requestFor(second));
    const differentContent = await archive.receive(requestFor(samePatient));

    expect(second.sopInstanceUid).toBe(first.sopInstanceUid);
    expect(otherPatient.outcome).toBe('conflict');
    expect(otherPatient.otherPatient).toEqual(expect.objectContaining({ level: 'instance', storedPatientId: 'PID-A', receivedPatientId: 'PID-B' }));
    expect(differentContent.outcome).toBe('conflict');
    expect(differentContent.otherPatient).toBeUndefined();
  });
});
