/**
 * `loader reindex` through bin/loader: the text report labels each skipped
 * file by its reason with a hint, keeps files indexed in place while their
 * disc is ejected, gives a study to the patient of its oldest file with a
 * hint on the Patient ID conflict, and a refusal names the command of the
 * process that has the archive open.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { generateUid } from '../../src/dicom/uid';
import { CT_SMALL, Tag, freshCopy, readInstanceUids } from '../archive/fixtures';
import { corpusFile, loaderIsBuilt, runLoader, startLoader, storeFiles, type LoaderDirs } from '../support/peers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

describeBuilt('loader reindex report', () => {
  const ct = corpusFile('ct');
  const mr = corpusFile('mr');
  let workDir: string;
  let disc: string;
  let discFile: string;
  let dirs: LoaderDirs;

  beforeAll(async () => {
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'reindex-cli-'));
    disc = path.join(workDir, 'disc');
    discFile = path.join(disc, 'DICOM', 'IM1');
    fs.mkdirSync(path.dirname(discFile), { recursive: true });
    fs.copyFileSync(mr.absolutePath, discFile);

    const imported = await runLoader(['scan', ct.absolutePath, '--import']);
    expect(imported.code).toBe(0);
    dirs = imported.dirs;
    const inPlace = await runLoader(['scan', disc], { dirs });
    expect(inPlace.code).toBe(0);
  });

  afterAll(() => {
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  test('ejected disc kept, duplicate and unreadable labelled', async () => {
    const junk = path.join(dirs.archiveDir, 'junk');
    fs.mkdirSync(junk);
    fs.copyFileSync(ct.absolutePath, path.join(junk, 'copy.dcm'));
    fs.writeFileSync(path.join(dirs.archiveDir, 'notes.txt'), 'not DICOM\n');
    fs.renameSync(disc, `${disc}.ejected`);

    const result = await runLoader(['reindex'], { dirs });
    fs.renameSync(`${disc}.ejected`, disc);
    fs.rmSync(junk, { recursive: true });
    fs.rmSync(path.join(dirs.archiveDir, 'notes.txt'));

    expect(result.code).toBe(3);
    expect(result.stdout).toContain(`kept 1 instance indexed in place without checking it, because its file is not reachable (missing or unreadable: ${disc})`);
    expect(result.stdout).toContain('hint: insert the disc or mount the folder, then run loader reindex again to check them');
    expect(result.stdout).toContain(`misplaced: ${path.join(junk, 'copy.dcm')}: its UIDs belong at `);
    expect(result.stdout).toContain('hint: a misplaced file has UIDs that do not match its path');
    expect(result.stdout).toContain(`unreadable: ${path.join(dirs.archiveDir, 'notes.txt')}: `);
    expect(result.stdout).not.toContain(`unreadable: ${path.join(junk, 'copy.dcm')}`);
    expect(result.stdout).not.toContain(`: ${discFile}`);

    const studies = await runLoader(['studies', '--json'], { dirs });
    expect(studies.json<unknown[]>()).toHaveLength(2);
  });

  test('returned disc checked again', async () => {
    const result = await runLoader(['reindex', '--json'], { dirs });

    expect(result.code).toBe(0);
    expect(result.json()).toMatchObject({ indexed: 1, inPlaceInstances: 1, unreachable: [], skipped: [] });
  });

  test('drop-unreachable drops the ejected disc', async () => {
    fs.renameSync(disc, `${disc}.ejected`);
    const result = await runLoader(['reindex', '--drop-unreachable'], { dirs });
    fs.renameSync(`${disc}.ejected`, disc);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`dropped: ${discFile}: `);
    expect(result.stdout).toContain('hint: as --drop-unreachable requested');
    const studies = await runLoader(['studies', '--json'], { dirs });
    expect(studies.json<unknown[]>()).toHaveLength(1);
  });

  test('refusal names the server command', async () => {
    const server = await startLoader([], { dirs });
    try {
      const result = await runLoader(['reindex'], { dirs });

      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`is open in another loader process (PID ${server.process.pid}) that runs "loader serve"`);
      expect(result.stderr).not.toContain('such as');
    } finally {
      await server.stop();
    }
  });

  test('study kept by its received patient', async () => {
    // Two instances of Patient ID PA received by C-STORE, then a file of
    // Patient ID ZZ in their series folder whose name sorts first, as versions
    // that linked such instances into the first patient's study folder left one.
    const server = await startLoader();
    const studyInstanceUid = generateUid();
    const seriesInstanceUid = generateUid();
    const sent = [1, 2].map((n) =>
      freshCopy(CT_SMALL, path.join(workDir, 'pa', `ct${n}.dcm`), {
        [Tag.StudyInstanceUID]: studyInstanceUid,
        [Tag.SeriesInstanceUID]: seriesInstanceUid,
        [Tag.PatientID]: 'PA',
      }),
    );
    try {
      expect((await storeFiles(server, sent)).code).toBe(0);
    } finally {
      await server.stop();
    }
    const seriesFolder = path.join(server.dirs.archiveDir, studyInstanceUid, seriesInstanceUid);
    const hourAgo = new Date(Date.now() - 60 * 60 * 1000);
    for (const name of fs.readdirSync(seriesFolder)) fs.utimesSync(path.join(seriesFolder, name), hourAgo, hourAgo);
    // generateUid() returns 2.25.… UIDs, so 1.2.9.dcm sorts before the received files.
    const intruder = freshCopy(CT_SMALL, path.join(seriesFolder, '1.2.9.dcm'), {
      [Tag.StudyInstanceUID]: studyInstanceUid,
      [Tag.SeriesInstanceUID]: seriesInstanceUid,
      [Tag.SOPInstanceUID]: '1.2.9',
      [Tag.PatientID]: 'ZZ',
    });

    const result = await runLoader(['reindex'], { dirs: server.dirs });

    expect(result.code).toBe(3);
    expect(result.stdout).toContain('indexed 2 instances\n');
    expect(result.stdout).toContain(`conflict: ${intruder}: Study Instance UID ${studyInstanceUid} is indexed under Patient ID "PA", not under "ZZ"`);
    expect(result.stdout).toContain('hint: a conflicting file has another Patient ID than its study or series');
    expect(result.stdout).toContain('move the files of the wrong Patient ID out of the archive folder, then run loader reindex again');
    expect(result.stdout).not.toContain('belongs to a series that is indexed under another study');
    const studies = await runLoader(['studies', '--json'], { dirs: server.dirs });
    expect(studies.json<{ studyInstanceUid: string; patientId: string; numberOfInstances: number }[]>()).toEqual([
      expect.objectContaining({ studyInstanceUid, patientId: 'PA', numberOfInstances: 2 }),
    ]);
  });

  test('misplaced file of another patient kept aside', async () => {
    const server = await startLoader();
    const studyInstanceUid = generateUid();
    const seriesInstanceUid = generateUid();
    const sent = freshCopy(CT_SMALL, path.join(workDir, 'pata', 'ct.dcm'), {
      [Tag.StudyInstanceUID]: studyInstanceUid,
      [Tag.SeriesInstanceUID]: seriesInstanceUid,
      [Tag.PatientID]: 'PATA',
    });
    try {
      expect((await storeFiles(server, [sent])).code).toBe(0);
    } finally {
      await server.stop();
    }
    const seriesFolder = path.join(server.dirs.archiveDir, studyInstanceUid, seriesInstanceUid);
    // An instance of Patient ID PATB under PATA's study, copied into that study's folder by hand.
    const intruder = freshCopy(CT_SMALL, path.join(seriesFolder, 'foo.dcm'), {
      [Tag.StudyInstanceUID]: studyInstanceUid,
      [Tag.SeriesInstanceUID]: seriesInstanceUid,
      [Tag.PatientID]: 'PATB',
    });
    const intruderSop = readInstanceUids(intruder).sop;

    const result = await runLoader(['reindex'], { dirs: server.dirs });

    expect(result.code).toBe(3);
    expect(result.stdout).toContain(`conflict: ${intruder}: Study Instance UID ${studyInstanceUid} is indexed under Patient ID "PATA", not under "PATB"; the file was moved to ${path.join(server.dirs.archiveDir, '.conflicts', intruderSop)}.`);
    expect(result.stdout).not.toContain('moved: ');
    expect(result.stdout.split(intruder)).toHaveLength(2);
    expect(fs.existsSync(path.join(seriesFolder, `${intruderSop}.dcm`))).toBe(false);
  });

  test('instance copied over another stored again', async () => {
    // X and Y are received by C-STORE; then Y is copied over X's file, and reindex runs.
    const server = await startLoader();
    const [xFile, yFile] = ['x', 'y'].map((name) => freshCopy(CT_SMALL, path.join(workDir, 'over', `${name}.dcm`), { [Tag.PatientID]: name.toUpperCase() }));
    const xUids = readInstanceUids(xFile);
    const yUids = readInstanceUids(yFile);
    const archive = server.dirs.archiveDir;
    const xPath = path.join(archive, xUids.study, xUids.series, `${xUids.sop}.dcm`);
    try {
      expect((await storeFiles(server, [xFile, yFile])).code).toBe(0);
    } finally {
      await server.stop();
    }
    fs.copyFileSync(path.join(archive, yUids.study, yUids.series, `${yUids.sop}.dcm`), xPath);

    const result = await runLoader(['reindex'], { dirs: server.dirs });

    expect(result.code).toBe(3);
    expect(result.stdout).toContain('indexed 1 instance\n');
    expect(result.stdout).toContain(`misplaced: ${xPath}: its UIDs belong at ${path.join(archive, yUids.study, yUids.series, `${yUids.sop}.dcm`)}`);
    expect(fs.existsSync(xPath)).toBe(false);

    // The genuine X sent again is stored at its path and indexed.
    const again = await startLoader([], { dirs: server.dirs });
    try {
      expect((await storeFiles(again, [xFile])).code).toBe(0);
    } finally {
      await again.stop();
    }
    const studies = await runLoader(['studies', '--json'], { dirs: server.dirs });
    const listed = studies.json<{ studyInstanceUid: string; numberOfInstances: number }[]>();
    expect(listed).toContainEqual(expect.objectContaining({ studyInstanceUid: xUids.study, numberOfInstances: 1 }));
    expect(readInstanceUids(xPath).sop).toBe(xUids.sop);
  });
});

