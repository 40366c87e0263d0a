import fs from 'node:fs';
import path from 'node:path';
import { LocalArchive, reindexArchive } from '../../src/services/archive';
import { setLogSink } from '../../src/services/logger';
import { generateUid } from '../../src/dicom/uid';
import { CHR_RUSS, CT_SMALL, MR_SMALL, RT_PLAN, Tag, chunkedStream, datasetPartOf, freshCopy, makeTempDir, readInstanceUids, removeTempDir } from './fixtures';

/** Reads every indexed row, with references replaced by UIDs so two databases compare equal. */
function snapshot(archive: LocalArchive) {
  const db = archive.catalog.db;
  return {
    patients: db
      .prepare(`SELECT identity_key, patient_id, issuer_of_patient_id, patient_name, birth_date, sex, specific_character_set
        FROM patients ORDER BY identity_key`)
      .all(),
    studies: db
      .prepare(`SELECT st.study_instance_uid, p.identity_key, st.study_date, st.study_time, st.study_description,
          st.accession_number, st.referring_physician_name, st.study_id, st.modalities_in_study,
          st.number_of_series, st.number_of_instances, st.specific_character_set
        FROM studies st JOIN patients p ON p.id = st.patient_ref ORDER BY st.study_instance_uid`)
      .all(),
    series: db
      .prepare(`SELECT se.series_instance_uid, st.study_instance_uid, se.modality, se.series_number, se.series_description,
          se.body_part_examined, se.series_date, se.series_time, se.instance_count
        FROM series se JOIN studies st ON st.id = se.study_ref ORDER BY se.series_instance_uid`)
      .all(),
    instances: db
      .prepare(`SELECT i.sop_instance_uid, se.series_instance_uid, i.sop_class_uid, i.instance_number, i.transfer_syntax_uid,
          i.size, i.path, i.in_place, i.specific_character_set, i.received_at, i.source_ae_title
        FROM instances i JOIN series se ON se.id = i.series_ref ORDER BY i.sop_instance_uid`)
      .all(),
  };
}

function receiveRequest(received: ReturnType<typeof datasetPartOf>) {
  return {
    sopClassUid: received.sopClassUid,
    sopInstanceUid: received.sopInstanceUid,
    transferSyntaxUid: received.transferSyntaxUid,
    sourceAeTitle: 'MODALITY1',
    data: chunkedStream(received.bytes),
    implementationClassUid: '1.2.826.0.1.3680043.9.7433.1',
    implementationVersionName: 'TEST_SCU_1',
  };
}

describe('archive import and reindex', () => {
  let workDir: string;
  let root: string;
  let archive: LocalArchive;
  let previousSink: (line: string) => void;

  beforeEach(() => {
    workDir = makeTempDir();
    root = path.join(workDir, 'archive');
    previousSink = setLogSink(() => undefined);
    archive = LocalArchive.open(root);
  });

  afterEach(() => {
    archive.close();
    setLogSink(previousSink);
    removeTempDir(workDir);
  });

  async function fillArchive() {
    const received = datasetPartOf(freshCopy(CT_SMALL, path.join(workDir, 'in', 'ct.dcm')));
    await archive.receive(receiveRequest(received));
    const copied = await archive.importFile(freshCopy(MR_SMALL, path.join(workDir, 'in', 'mr.dcm')), { copy: true });
    const inPlace = await archive.importFile(freshCopy(RT_PLAN, path.join(workDir, 'in', 'plan.dcm')), { copy: false });
    const cyrillic = await archive.importFile(CHR_RUSS, { copy: true });
    return { received, copied, inPlace, cyrillic };
  }

  test('importFile copies verbatim or indexes in place', async () => {
    const source = freshCopy(MR_SMALL, path.join(workDir, 'in', 'mr.dcm'));
    const copied = await archive.importFile(source, { copy: true });

    expect(copied.outcome).toBe('stored');
    expect(copied.path.startsWith(root + path.sep)).toBe(true);
    expect(fs.readFileSync(copied.path).equals(fs.readFileSync(source))).toBe(true);
    expect((await archive.importFile(source, { copy: true })).outcome).toBe('duplicate');
    expect((await archive.importFile(source, { copy: false })).outcome).toBe('duplicate');

    const inPlaceSource = freshCopy(RT_PLAN, path.join(workDir, 'in', 'plan.dcm'));
    const inPlace = await archive.importFile(inPlaceSource, { copy: false });
    expect(inPlace).toEqual(expect.objectContaining({ outcome: 'stored', path: inPlaceSource }));
    expect(archive.getInstancePath(inPlace.sopInstanceUid)).toBe(inPlaceSource);
    expect(fs.readdirSync(path.join(root, '.incoming'))).toEqual([]);
  });

  test('importFile copies a file indexed in place', async () => {
    const source = freshCopy(RT_PLAN, path.join(workDir, 'in', 'plan.dcm'));
    await archive.importFile(source, { copy: false });

    const copied = await archive.importFile(source, { copy: true });
    fs.rmSync(source);

    expect(copied.outcome).toBe('stored');
    expect(copied.path.startsWith(root + path.sep)).toBe(true);
    expect(archive.getInstancePath(copied.sopInstanceUid)).toBe(copied.path);
    expect(archive.catalog.findInstance(copied.sopInstanceUid)?.inPlace).toBe(false);
    expect(archive.listInstances()).toHaveLength(1);
    expect(fs.readdirSync(path.join(root, '.incoming'))).toEqual([]);
  });

  test('importFile of a text file is unreadable', async () => {
    const text = path.join(workDir, 'notes.txt');
    fs.writeFileSync(text, 'not DICOM\n');

    await expect(archive.importFile(text, { copy: true })).rejects.toMatchObject({ code: 'unreadable' });
    expect(fs.readdirSync(path.join(root, '.incoming'))).toEqual([]);
  });

  test('reindex restores the same rows', async () => {
    await fillArchive();
    const before = snapshot(archive);
    expect(before.instances).toHaveLength(4);

    const report = await archive.reindex();

    expect(report.indexed).toBe(3);
    expect(report.inPlaceInstances).toBe(1);
    expect(report.studies).toBe(4);
    expect(report.skipped).toEqual([]);
    expect(snapshot(archive)).toEqual(before);
  });

  test('reindex without the old index', async () => {
    const { inPlace } = await fillArchive();
    const before = snapshot(archive);
    archive.close();
    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(path.join(root, 'index.sqlite' + suffix), { force: true });

    const report = await reindexArchive(root);
    archive = LocalArchive.open(root);

    expect(report.indexed).toBe(3);
    expect(report.inPlaceInstances).toBe(0);
    const after = snapshot(archive);
    expect(after.instances).toHaveLength(3);
    expect(after.studies).toEqual(before.studies.filter((study) => (study as { study_instance_uid: string }).study_instance_uid !== inPlace.studyInstanceUid));
  });

  test('reindex reports unreadable files and skips dot folders', async () => {
    const { received } = await fillArchive();
    const seriesFolder = path.join(root, received.studyInstanceUid, received.seriesInstanceUid);
    fs.writeFileSync(path.join(seriesFolder, 'garbage.dcm'), 'not a DICOM file');
    fs.copyFileSync(path.join(seriesFolder, `${received.sopInstanceUid}.dcm`), path.join(root, '.conflicts', 'copy.dcm'));
    fs.mkdirSync(path.join(root, '.trash'));
    fs.writeFileSync(path.join(root, '.trash', 'junk'), 'junk');

    const report = await archive.reindex();

    expect(report.indexed).toBe(3);
    expect(report.skipped.map((item) => item.path)).toEqual([path.join(seriesFolder, 'garbage.dcm')]);
    expect(report.skipped[0].kind).toBe('unreadable');
    expect(report.skipped[0].reason).toContain('not a DICOM file');
    expect(report.skipped[0].reason).not.toContain(seriesFolder);
    expect(archive.listInstances()).toHaveLength(4);
  });

  test('reindex reports a series under two studies', async () => {
    const { received } = await fillArchive();
    // A layout file whose series is indexed under another study, as a crash between placement and index commit can leave one.
    const otherStudy = `${received.studyInstanceUid}.9`;
    const sopInstanceUid = `${received.sopInstanceUid}.9`;
    const stray = path.join(root, otherStudy, received.seriesInstanceUid, `${sopInstanceUid}.dcm`);
    freshCopy(CT_SMALL, stray, { [Tag.StudyInstanceUID]: otherStudy, [Tag.SeriesInstanceUID]: received.seriesInstanceUid, [Tag.SOPInstanceUID]: sopInstanceUid });

    const report = await archive.reindex();

    expect(report.indexed).toBe(3);
    expect(report.skipped.map((item) => item.path)).toEqual([stray]);
    expect(report.skipped[0].kind).toBe('conflict');
    expect(report.skipped[0].reason).toBe(`Series Instance UID ${received.seriesInstanceUid} is indexed under study ${received.studyInstanceUid}, not under study ${otherStudy}`);
    expect(archive.getInstancePath(sopInstanceUid)).toBeUndefined();
  });

  test('reindex reports a study of another patient', async () => {
    const { received } = await fillArchive();
    // A layout file of another Patient ID in the study's folder, as versions that merged such instances left one.
    const seriesInstanceUid = `${received.seriesInstanceUid}.9`;
    const sopInstanceUid = `${received.sopInstanceUid}.9`;
    const stray = path.join(root, received.studyInstanceUid, seriesInstanceUid, `${sopInstanceUid}.dcm`);
    const changes = { [Tag.StudyInstanceUID]: received.studyInstanceUid, [Tag.SeriesInstanceUID]: seriesInstanceUid, [Tag.SOPInstanceUID]: sopInstanceUid };
    freshCopy(CT_SMALL, stray, { ...changes, [Tag.PatientID]: 'OTHER' });

    const report = await archive.reindex();

    expect(report.indexed).toBe(3);
    expect(report.skipped.map((item) => item.path)).toEqual([stray]);
    expect(report.skipped[0].kind).toBe('conflict');
    expect(report.skipped[0].reason).toContain(`Study Instance UID ${received.studyInstanceUid} is indexed under Patient ID`);
    expect(report.skipped[0].reason).toContain('not under "OTHER"');
    expect(archive.getInstancePath(sopInstanceUid)).toBeUndefined();
    expect(archive.listInstances({ studyInstanceUid: received.studyInstanceUid })).toHaveLength(1);
  });

  describe('study folder with a file of another patient', () => {
    const hourMs = 60 * 60 * 1000;

    /**
     * Receives four CT instances of Patient ID "PA" and writes a file of
     * Patient ID "ZZ" into their series folder, named to sort before theirs.
     * Versions that linked such instances into the first patient's study
     * folder left such files. Sets the files' modification times.
     */
    async function fillStudyWithIntruder(received: Date, intruderWritten: Date) {
      const studyInstanceUid = generateUid();
      const seriesInstanceUid = generateUid();
      const receivedFiles: string[] = [];
      for (let n = 1; n <= 4; n++) {
        const copy = freshCopy(CT_SMALL, path.join(workDir, 'in', `ct${n}.dcm`), {
          [Tag.StudyInstanceUID]: studyInstanceUid,
          [Tag.SeriesInstanceUID]: seriesInstanceUid,
          [Tag.PatientID]: 'PA',
        });
        const part = datasetPartOf(copy);
        const stored = await archive.receive({
          sopClassUid: part.sopClassUid,
          sopInstanceUid: part.sopInstanceUid,
          transferSyntaxUid: part.transferSyntaxUid,
          sourceAeTitle: 'MODALITY1',
          data: chunkedStream(part.bytes),
          implementationClassUid: '1.2.826.0.1.3680043.9.7433.1',
          implementationVersionName: 'TEST_SCU_1',
        });
        receivedFiles.push(stored.path);
        fs.utimesSync(stored.path, received, received);
      }
      // generateUid() returns 2.25.… UIDs, so 1.2.9.dcm sorts before the received files.
      const intruder = path.join(root, studyInstanceUid, seriesInstanceUid, '1.2.9.dcm');
      freshCopy(CT_SMALL, intruder, {
        [Tag.StudyInstanceUID]: studyInstanceUid,
        [Tag.SeriesInstanceUID]: seriesInstanceUid,
        [Tag.SOPInstanceUID]: '1.2.9',
        [Tag.PatientID]: 'ZZ',
      });
      fs.utimesSync(intruder, intruderWritten, intruderWritten);
      return { studyInstanceUid, receivedFiles, intruder };
    }

    test('reindex keeps the study of the oldest file', async () => {
      const now = Date.now();
      const { studyInstanceUid, intruder } = await fillStudyWithIntruder(new Date(now - hourMs), new Date(now));

      const report = await archive.reindex();

      expect(report.skipped.map((item) => item.path)).toEqual([intruder]);
      expect(report.skipped[0].kind).toBe('conflict');
      expect(report.skipped[0].otherPatient).toBe(true);
      expect(report.skipped[0].reason).toContain(`Study Instance UID ${studyInstanceUid} is indexed under Patient ID "PA", not under "ZZ"`);
      expect(archive.listInstances({ studyInstanceUid })).toHaveLength(4);
      expect(archive.listInstances({ studyInstanceUid, patientId: 'PA' })).toHaveLength(4);
      expect(archive.getInstancePath('1.2.9')).toBeUndefined();
    });

    test('reindex gives the study to an older intruder', async () => {
      const now = Date.now();
      const { studyInstanceUid, receivedFiles, intruder } = await fillStudyWithIntruder(new Date(now - hourMs), new Date(now - 2 * hourMs));

      const report = await archive.reindex();

      expect(report.skipped.map((item) => item.path).sort()).toEqual([...receivedFiles].sort());
      expect(report.skipped.every((item) => item.kind === 'conflict' && item.otherPatient === true)).toBe(true);
      expect(report.skipped[0].reason).toContain(`Study Instance UID ${studyInstanceUid} is indexed under Patient ID "ZZ", not under "PA"`);
      expect(archive.listInstances({ studyInstanceUid }).map((item) => item.path)).toEqual([intruder]);
    });
  });

  describe('files indexed in place', () => {
    /** Indexes RT_PLAN in place at `folder`/DICOM/plan.dcm, as a scan of a disc does, and returns the file path. */
    async function indexFromDisc(folder: string): Promise<string> {
      const file = freshCopy(RT_PLAN, path.join(folder, 'DICOM', 'plan.dcm'));
      await archive.importFile(file, { copy: false });
      return file;
    }

    test('reindex keeps rows of an ejected disc', async () => {
      await fillArchive();
      const disc = path.join(workDir, 'disc');
      const file = await indexFromDisc(disc);
      const before = snapshot(archive);
      fs.renameSync(disc, `${disc}.ejected`);

      const report = await archive.reindex();

      expect(report.unreachable).toEqual([file]);
      expect(report.unreachableFolders).toEqual([disc]);
      expect(report.skipped).toEqual([]);
      expect(snapshot(archive)).toEqual(before);
    });

    test('reindex checks kept rows when the disc returns', async () => {
      const disc = path.join(workDir, 'disc');
      await indexFromDisc(disc);
      const before = snapshot(archive);
      fs.renameSync(disc, `${disc}.ejected`);
      await archive.reindex();
      fs.renameSync(`${disc}.ejected`, disc);

      const report = await archive.reindex();

      expect(report.inPlaceInstances).toBe(1);
      expect(report.unreachable).toEqual([]);
      expect(snapshot(archive)).toEqual(before);
    });

    test('reindex keeps rows under an empty mount point', async () => {
      const mountPoint = path.join(workDir, 'cdrom');
      const file = freshCopy(RT_PLAN, path.join(mountPoint, 'plan.dcm'));
      await archive.importFile(file, { copy: false });
      fs.rmSync(file);

      const report = await archive.reindex();

      expect(report.unreachable).toEqual([file]);
      expect(report.unreachableFolders).toEqual([mountPoint]);
      expect(archive.listInstances()).toHaveLength(1);
    });

    test('reindex drops a file deleted from its folder', async () => {
      const disc = path.join(workDir, 'disc');
      const file = await indexFromDisc(disc);
      freshCopy(MR_SMALL, path.join(disc, 'DICOM', 'mr.dcm'));
      fs.rmSync(file);

      const report = await archive.reindex();

      expect(report.unreachable).toEqual([]);
      expect(report.skipped).toEqual([{ kind: 'removed', path: file, reason: `The file was deleted from ${path.dirname(file)}, which is still there` }]);
      expect(archive.listInstances()).toEqual([]);
    });

    test('reindex drops a file that holds another instance', async () => {
      const disc = path.join(workDir, 'disc');
      const file = await indexFromDisc(disc);
      const planUid = archive.listInstances()[0].sopInstanceUid;
      freshCopy(CT_SMALL, file);
      const ctUid = datasetPartOf(file).sopInstanceUid;

      const report = await archive.reindex();

      expect(report.skipped).toEqual([{ kind: 'removed', path: file, reason: `The file now contains SOP Instance UID ${ctUid} instead of ${planUid}` }]);
      expect(report.inPlaceInstances).toBe(1);
      expect(archive.getInstancePath(planUid)).toBeUndefined();
      expect(archive.getInstancePath(ctUid)).toBe(file);
    });

    test('reindex with dropUnreachable drops them', async () => {
      const disc = path.join(workDir, 'disc');
      const file = await indexFromDisc(disc);
      fs.renameSync(disc, `${disc}.ejected`);
      archive.close();

      const report = await reindexArchive(root, { dropUnreachable: true });
      archive = LocalArchive.open(root);

      expect(report.unreachable).toEqual([]);
      expect(report.skipped.map((problem) => [problem.kind, problem.path])).toEqual([['dropped', file]]);
      expect(archive.listInstances()).toEqual([]);
    });
  });

  test('reindex moves a second copy aside', async () => {
    const { received } = await fillArchive();
    const stored = path.join(root, received.studyInstanceUid, received.seriesInstanceUid, `${received.sopInstanceUid}.dcm`);
    const copy = path.join(root, 'junk', 'copy.dcm');
    fs.mkdirSync(path.dirname(copy));
    fs.copyFileSync(stored, copy);

    const report = await archive.reindex();

    expect(report.skipped).toHaveLength(1);
    expect(report.skipped[0].path).toBe(copy);
    expect(report.skipped[0].kind).toBe('misplaced');
    expect(report.skipped[0].reason).toContain(`its UIDs belong at ${stored}, which contains another file, so it was moved to ${path.join(root, '.conflicts', received.sopInstanceUid)}.`);
    expect(fs.existsSync(copy)).toBe(false);
    expect(fs.readdirSync(path.join(root, '.conflicts')).filter((name) => name.startsWith(`${received.sopInstanceUid}.`))).toHaveLength(1);
    expect(archive.getInstancePath(received.sopInstanceUid)).toBe(stored);
  });

  describe('files whose UIDs do not match their path', () => {
    let logLines: string[];

    beforeEach(() => {
      logLines = [];
      setLogSink((line) => logLines.push(line));
    });

    test('reindex moves a file to its free layout path', async () => {
      const { received } = await fillArchive();
      const stray = path.join(root, received.studyInstanceUid, received.seriesInstanceUid, '1.2.9.dcm');
      freshCopy(CT_SMALL, stray, { [Tag.PatientID]: 'OTHER' });
      const uids = readInstanceUids(stray);
      const layoutPath = path.join(root, uids.study, uids.series, `${uids.sop}.dcm`);

      const report = await archive.reindex();

      expect(report.skipped).toEqual([]);
      expect(report.moved).toEqual([{ from: stray, to: layoutPath }]);
      expect(fs.existsSync(stray)).toBe(false);
      expect(archive.getInstancePath(uids.sop)).toBe(layoutPath);
      expect(report.indexed).toBe(4);
      const warnings = logLines.filter((line) => line.includes('Reindex moved a file whose UIDs do not match its path'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(stray);
      expect(warnings[0]).toContain(layoutPath);
      expect(warnings[0]).toContain(uids.sop);
    });

    test('reindex keeps aside a file over another instance', async () => {
      const { received, copied } = await fillArchive();
      // Another instance copied over the received one, as a person restoring a backup by hand can do.
      const receivedPath = path.join(root, received.studyInstanceUid, received.seriesInstanceUid, `${received.sopInstanceUid}.dcm`);
      fs.copyFileSync(copied.path, receivedPath);

      const report = await archive.reindex();

      expect(report.skipped.map((problem) => [problem.kind, problem.path])).toEqual([['misplaced', receivedPath]]);
      expect(fs.existsSync(receivedPath)).toBe(false);
      expect(archive.getInstancePath(copied.sopInstanceUid)).toBe(copied.path);
      expect(archive.getInstancePath(received.sopInstanceUid)).toBeUndefined();
      const warnings = logLines.filter((line) => line.includes('Reindex moved a file whose UIDs do not match its path to .conflicts'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(receivedPath);
      expect(warnings[0]).toContain(copied.path);

      // The genuine instance sent again is stored and indexed at its own path.
      const again = await archive.receive(receiveRequest(received));
      expect(again.outcome).toBe('stored');
      expect(archive.getInstancePath(received.sopInstanceUid)).toBe(receivedPath);
    });

    test('reindex moves other patient file aside', async () => {
      const { received } = await fillArchive();
      // An instance of another Patient ID under the received study's UIDs, copied into that study's folder by hand.
      const stray = path.join(root, received.studyInstanceUid, received.seriesInstanceUid, 'foo.dcm');
      freshCopy(CT_SMALL, stray, { [Tag.PatientID]: 'PATB', [Tag.StudyInstanceUID]: received.studyInstanceUid, [Tag.SeriesInstanceUID]: received.seriesInstanceUid });
      const uids = readInstanceUids(stray);
      const layoutPath = path.join(root, uids.study, uids.series, `${uids.sop}.dcm`);

      const report = await archive.reindex();

      expect(report.moved).toEqual([]);
      expect(report.skipped.map((problem) => [problem.kind, problem.path, problem.otherPatient])).toEqual([['conflict', stray, true]]);
      expect(report.skipped[0].reason).toContain('.conflicts');
      expect(fs.existsSync(stray)).toBe(false);
      expect(fs.existsSync(layoutPath)).toBe(false);
      const kept = fs.readdirSync(path.join(root, '.conflicts'));
      expect(kept.filter((name) => name.startsWith(`${uids.sop}.`))).toHaveLength(1);
      expect(archive.getInstancePath(uids.sop)).toBeUndefined();
      expect(archive.getInstancePath(received.sopInstanceUid)).toBeDefined();
    });

    test('reindex lists a moved in-place file once', async () => {
      const { received } = await fillArchive();
      // The row an older `loader scan` wrote for a file inside the archive folder: indexed in place at another instance's layout path.
      const otherLayoutPath = path.join(root, received.studyInstanceUid, received.seriesInstanceUid, `${generateUid()}.dcm`);
      freshCopy(CT_SMALL, otherLayoutPath, { [Tag.StudyInstanceUID]: received.studyInstanceUid, [Tag.SeriesInstanceUID]: received.seriesInstanceUid });
      const uids = readInstanceUids(otherLayoutPath);
      const layoutPath = path.join(root, uids.study, uids.series, `${uids.sop}.dcm`);
      expect((await archive.importFile(otherLayoutPath, { copy: false })).outcome).toBe('stored');

      const report = await archive.reindex();

      expect(report.moved).toEqual([{ from: otherLayoutPath, to: layoutPath }]);
      expect(report.skipped).toEqual([]);
      expect(archive.getInstancePath(uids.sop)).toBe(layoutPath);
    });

    test('receive moves aside a symbolic link at its path', async () => {
      const received = datasetPartOf(freshCopy(CT_SMALL, path.join(workDir, 'in', 'ct.dcm')));
      const external = path.join(workDir, 'external', 'ct.dcm');
      fs.mkdirSync(path.dirname(external));
      fs.copyFileSync(path.join(workDir, 'in', 'ct.dcm'), external);
      const layoutPath = path.join(root, received.studyInstanceUid, received.seriesInstanceUid, `${received.sopInstanceUid}.dcm`);
      fs.mkdirSync(path.dirname(layoutPath), { recursive: true });
      // A link to a file with the same data set, which must not count as the stored copy.
      fs.symlinkSync(external, layoutPath);

      const outcome = await archive.receive(receiveRequest(received));

      expect(outcome.outcome).toBe('stored');
      expect(outcome.path).toBe(layoutPath);
      expect(fs.lstatSync(layoutPath).isFile()).toBe(true);
      fs.rmSync(external);
      expect(fs.readFileSync(layoutPath).subarray(-received.bytes.length)).toEqual(received.bytes);
      expect(archive.getInstancePath(received.sopInstanceUid)).toBe(layoutPath);
      const kept = fs.readdirSync(path.join(root, '.conflicts'));
      expect(kept.filter((name) => fs.lstatSync(path.join(root, '.conflicts', name)).isSymbolicLink())).toHaveLength(1);
    });

    test.each(['full', 'process-crash'] as const)('receive replaces a row naming a link (%s)', async (durability) => {
      archive.close();
      archive = LocalArchive.open(root, { durability });
      const received = datasetPartOf(freshCopy(CT_SMALL, path.join(workDir, 'in', 'ct.dcm')));
      const layoutPath = path.join(root, received.studyInstanceUid, received.seriesInstanceUid, `${received.sopInstanceUid}.dcm`);
      expect((await archive.receive(receiveRequest(received))).outcome).toBe('stored');
      // The row that an older version wrote: it names a symbolic link elsewhere in the archive folder.
      const external = path.join(workDir, 'external', 'ct.dcm');
      const link = path.join(path.dirname(layoutPath), 'linked.dcm');
      fs.mkdirSync(path.dirname(external));
      fs.renameSync(layoutPath, external);
      fs.symlinkSync(external, link);
      archive.catalog.db.prepare('UPDATE instances SET path = ? WHERE sop_instance_uid = ?').run(path.relative(root, link), received.sopInstanceUid);

      const outcome = await archive.receive(receiveRequest(received));

      expect(outcome.outcome).toBe('stored');
      expect(outcome.path).toBe(layoutPath);
      expect(fs.lstatSync(layoutPath).isFile()).toBe(true);
      expect(archive.getInstancePath(received.sopInstanceUid)).toBe(layoutPath);
      expect(logLines.filter((line) => line.includes('Indexed file is a symbolic link'))).toHaveLength(1);
    });

    test('receive moves aside an unindexed file at its path', async () => {
      const { received, copied } = await fillArchive();
      const receivedPath = path.join(root, received.studyInstanceUid, received.seriesInstanceUid, `${received.sopInstanceUid}.dcm`);
      archive.catalog.removeInstance(received.sopInstanceUid);
      fs.copyFileSync(copied.path, receivedPath);

      const outcome = await archive.receive(receiveRequest(received));

      expect(outcome.outcome).toBe('stored');
      expect(outcome.path).toBe(receivedPath);
      expect(archive.getInstancePath(received.sopInstanceUid)).toBe(receivedPath);
      expect(readInstanceUids(receivedPath).sop).toBe(received.sopInstanceUid);
      const kept = fs.readdirSync(path.join(root, '.conflicts'));
      expect(kept.filter((name) => name.startsWith(`${copied.sopInstanceUid}.`))).toHaveLength(1);
      const warnings = logLines.filter((line) => line.includes('Moved an unindexed file with another data set out of the layout path'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(copied.sopInstanceUid);
      expect(warnings[0]).not.toContain('Received different content for a stored SOP Instance UID');
    });

    test('concurrent stores of one UID keep the indexed copy', async () => {
      // The second store finds the first one's file linked but its row not yet committed (full durability flushes first).
      const first = datasetPartOf(freshCopy(CT_SMALL, path.join(workDir, 'in', 'race.dcm')));
      const changed = Buffer.from(first.bytes);
      changed[changed.length - 1] ^= 0xff;
      const second = { ...first, bytes: changed };

      const outcomes = await Promise.all([archive.receive(receiveRequest(first)), archive.receive(receiveRequest(second))]);

      // Either store may link its file first; the other copy is kept aside, and the index lists the file at the layout path.
      expect(outcomes.map((outcome) => outcome.outcome).sort()).toEqual(['conflict', 'stored']);
      const stored = outcomes[0].outcome === 'stored' ? first : second;
      const layoutPath = path.join(root, first.studyInstanceUid, first.seriesInstanceUid, `${first.sopInstanceUid}.dcm`);
      expect(archive.getInstancePath(first.sopInstanceUid)).toBe(layoutPath);
      expect(fs.readFileSync(layoutPath).subarray(-first.bytes.length)).toEqual(stored.bytes);
      expect(logLines.filter((line) => line.includes('Moved an unindexed file'))).toEqual([]);
    });

    test('receive fails when its path is indexed as another', async () => {
      const { received, copied } = await fillArchive();
      const receivedPath = path.join(root, received.studyInstanceUid, received.seriesInstanceUid, `${received.sopInstanceUid}.dcm`);
      archive.catalog.removeInstance(received.sopInstanceUid);
      fs.copyFileSync(copied.path, receivedPath);
      // The row an older reindex wrote for such a file: the copied instance, indexed at the received one's path.
      archive.catalog.db.prepare('UPDATE instances SET path = ? WHERE sop_instance_uid = ?').run(archive.catalog.toStoredPath(receivedPath), copied.sopInstanceUid);

      await expect(archive.receive(receiveRequest(received))).rejects.toMatchObject({
        code: 'index',
        message: 'Path contains another indexed instance; run loader reindex',
      });
      expect(readInstanceUids(receivedPath).sop).toBe(copied.sopInstanceUid);
      const warnings = logLines.filter((line) => line.includes('layout path contains a file indexed under another SOP Instance UID'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(copied.sopInstanceUid);

      await archive.reindex();
      expect(archive.getInstancePath(copied.sopInstanceUid)).toBe(copied.path);
      expect((await archive.receive(receiveRequest(received))).outcome).toBe('stored');
      expect(archive.getInstancePath(received.sopInstanceUid)).toBe(receivedPath);
    });
  });

  test('importFile rejects invalid Series UID', async () => {
    const file = freshCopy(CT_SMALL, path.join(workDir, 'in', 'bad.dcm'), { [Tag.SeriesInstanceUID]: '1.2.3.' });

    await expect(archive.importFile(file, { copy: true })).rejects.toMatchObject({ code: 'invalid-uid' });
    await expect(archive.importFile(file, { copy: false })).rejects.toMatchObject({ code: 'invalid-uid' });
    expect(archive.listInstances()).toEqual([]);
  });
});
