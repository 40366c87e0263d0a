/**
 * A file indexed in place and then overwritten with another instance (another
 * SOP Instance UID at the same path): a rescan or importFile in place removes
 * the index entry of the instance the file held before.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readDicomFileHeaderSync } from '../../src/dicom/file-reader';
import { generateUid } from '../../src/dicom/uid';
import { LocalArchive } from '../../src/services/archive';
import { readInstanceRecord } from '../../src/services/archive/instance-record';
import { setLogSink } from '../../src/services/logger';
import { CT_SMALL, MR_SMALL, Tag, freshCopy, makeTempDir, modifiedCopy, removeTempDir } from './fixtures';

function uidsOf(file: string) {
  const dataset = readDicomFileHeaderSync(file).dataset;
  return { sop: dataset.getString(0x00080018)!, series: dataset.getString(0x0020000e)!, study: dataset.getString(0x0020000d)! };
}

/** Overwrites `file` with a copy of it that has a new SOP Instance UID, as a modality writing the next image to the same name. */
function overwriteWithNextInstance(file: string, workDir: string): string {
  const next = modifiedCopy(file, path.join(workDir, 'next.dcm'), { [Tag.SOPInstanceUID]: generateUid() });
  fs.copyFileSync(next, file);
  fs.rmSync(next);
  return uidsOf(file).sop;
}

describe('overwritten file indexed in place', () => {
  let workDir: string;
  let archive: LocalArchive;
  let logLines: string[];
  let previousSink: (line: string) => void;

  beforeEach(() => {
    workDir = makeTempDir();
    logLines = [];
    previousSink = setLogSink((line) => logLines.push(line));
    archive = LocalArchive.open(path.join(workDir, 'archive'));
  });

  afterEach(() => {
    archive.close();
    setLogSink(previousSink);
    removeTempDir(workDir);
  });

  describe('rescan', () => {
    test.each([
      ['not DICOM', (file: string) => fs.writeFileSync(file, 'a text file now\n'), 'not a DICOM file', 'notDicom'],
      ['damaged', (file: string) => fs.truncateSync(file, 600), 'damaged', 'damaged'],
    ] as const)('removes entry of file now %s', async (_name, overwrite, state, list) => {
      const folder = path.join(workDir, 'disc');
      const file = freshCopy(CT_SMALL, path.join(folder, 'IM1'));
      const other = freshCopy(CT_SMALL, path.join(folder, 'IM2'));
      const old = uidsOf(file);
      await archive.scanPaths([folder], { import: false });

      overwrite(file);
      const report = await archive.scanPaths([folder], { import: false });

      const realFile = fs.realpathSync(file);
      expect(report[list].map((problem) => problem.path)).toEqual([realFile]);
      expect(report.replaced).toEqual([
        { path: realFile, previousSopInstanceUid: old.sop, sopInstanceUid: '', reason: expect.stringContaining(`now ${state}`) },
      ]);
      expect(archive.getInstancePath(old.sop)).toBeUndefined();
      expect(archive.getInstancePath(uidsOf(other).sop)).toBe(fs.realpathSync(other));
      expect(archive.searchStudies({}).map((study) => study.numberOfInstances)).toEqual([1]);
      expect(logLines.some((line) => line.includes('is now damaged or not DICOM') && line.includes(old.sop))).toBe(true);
    });

    test('removes the entry of the old instance', async () => {
      const folder = path.join(workDir, 'disc');
      const file = freshCopy(CT_SMALL, path.join(folder, 'IM1'));
      const other = freshCopy(CT_SMALL, path.join(folder, 'IM2'));
      const old = uidsOf(file);
      await archive.scanPaths([folder], { import: false });

      const next = overwriteWithNextInstance(file, workDir);
      const report = await archive.scanPaths([folder], { import: false });

      const realFile = fs.realpathSync(file);
      expect(report.replaced).toEqual([
        { path: realFile, previousSopInstanceUid: old.sop, sopInstanceUid: next, reason: expect.stringContaining(old.sop) },
      ]);
      expect(report.indexed).toBe(1);
      expect(report.duplicates).toBe(1);
      expect(archive.getInstancePath(old.sop)).toBeUndefined();
      expect(archive.getInstancePath(next)).toBe(realFile);
      expect(archive.getInstancePath(uidsOf(other).sop)).toBe(fs.realpathSync(other));
      expect(archive.listInstances({ seriesInstanceUid: old.series }).map((instance) => instance.sopInstanceUid)).toEqual([next]);
      expect(archive.searchStudies({}).map((study) => study.numberOfInstances)).toEqual([1, 1]);
      const warning = logLines.find((line) => line.includes('now contains another instance'));
      expect(warning).toContain(old.sop);
      expect(warning).toContain(next);
    });

    test('removes the study left empty', async () => {
      const folder = path.join(workDir, 'disc');
      const file = freshCopy(CT_SMALL, path.join(folder, 'IM1'));
      const old = uidsOf(file);
      await archive.scanPaths([folder], { import: false });

      freshCopy(MR_SMALL, file);
      const report = await archive.scanPaths([folder], { import: false });

      expect(report.replaced.map((entry) => entry.previousSopInstanceUid)).toEqual([old.sop]);
      expect(archive.searchStudies({}).map((study) => study.studyInstanceUid)).toEqual([uidsOf(file).study]);
      expect(archive.listInstances({ studyInstanceUid: old.study })).toEqual([]);
    });

    test('second rescan lists nothing', async () => {
      const folder = path.join(workDir, 'disc');
      const file = freshCopy(CT_SMALL, path.join(folder, 'IM1'));
      await archive.scanPaths([folder], { import: false });
      overwriteWithNextInstance(file, workDir);
      await archive.scanPaths([folder], { import: false });

      const again = await archive.scanPaths([folder], { import: false });

      expect(again.replaced).toEqual([]);
      expect(again.duplicates).toBe(1);
    });

    test('rescan with import removes the entry', async () => {
      const folder = path.join(workDir, 'disc');
      const file = freshCopy(CT_SMALL, path.join(folder, 'IM1'));
      const old = uidsOf(file);
      await archive.scanPaths([folder], { import: false });

      const next = overwriteWithNextInstance(file, workDir);
      const report = await archive.scanPaths([folder], { import: true });

      expect(report.replaced.map((entry) => [entry.previousSopInstanceUid, entry.sopInstanceUid])).toEqual([[old.sop, next]]);
      expect(report.imported).toBe(1);
      expect(archive.getInstancePath(old.sop)).toBeUndefined();
    });

    test('archived copy is kept', async () => {
      const folder = path.join(workDir, 'disc');
      const file = freshCopy(CT_SMALL, path.join(folder, 'IM1'));
      const old = uidsOf(file);
      await archive.scanPaths([folder], { import: true });
      const archivedPath = archive.getInstancePath(old.sop);

      overwriteWithNextInstance(file, workDir);
      const report = await archive.scanPaths([folder], { import: false });

      expect(report.replaced).toEqual([]);
      expect(report.indexed).toBe(1);
      expect(archive.getInstancePath(old.sop)).toBe(archivedPath);
    });

    test('file reached through a link', async () => {
      const outside = freshCopy(CT_SMALL, path.join(workDir, 'outside', 'IM1'));
      const folder = path.join(workDir, 'disc');
      fs.mkdirSync(folder);
      fs.symlinkSync(outside, path.join(folder, 'IM1'));
      const old = uidsOf(outside);
      await archive.scanPaths([folder], { import: false });

      const next = overwriteWithNextInstance(outside, workDir);
      const report = await archive.scanPaths([folder], { import: false });

      expect(report.replaced.map((entry) => [entry.path, entry.previousSopInstanceUid])).toEqual([[fs.realpathSync(outside), old.sop]]);
      expect(archive.getInstancePath(old.sop)).toBeUndefined();
      expect(archive.getInstancePath(next)).toBe(fs.realpathSync(outside));
    });

    test('stale entry left by an older version', async () => {
      // The state a rescan before this fix left: both instances indexed in place at one path.
      const folder = path.join(workDir, 'disc');
      const file = freshCopy(CT_SMALL, path.join(folder, 'IM1'));
      const oldRecord = readInstanceRecord(readDicomFileHeaderSync(file), 'latin1');
      const realFile = fs.realpathSync(file);
      const next = overwriteWithNextInstance(file, workDir);
      await archive.importFile(file, { copy: false });
      archive.catalog.addInstance(oldRecord, { path: realFile, inPlace: true, size: 1, receivedAt: new Date().toISOString(), sourceAeTitle: '' }, realFile);

      const report = await archive.scanPaths([folder], { import: false });

      expect(report.duplicates).toBe(1);
      expect(report.replaced.map((entry) => [entry.previousSopInstanceUid, entry.sopInstanceUid])).toEqual([[oldRecord.instance.sopInstanceUid, next]]);
      expect(archive.listInstances().map((instance) => instance.sopInstanceUid)).toEqual([next]);
    });
  });

  describe('importFile in place', () => {
    test('removes the entry of the old instance', async () => {
      const file = freshCopy(CT_SMALL, path.join(workDir, 'disc', 'IM1'));
      const old = uidsOf(file);
      await archive.importFile(file, { copy: false });

      const next = overwriteWithNextInstance(file, workDir);
      const outcome = await archive.importFile(file, { copy: false });

      expect(outcome.outcome).toBe('stored');
      expect(archive.getInstancePath(old.sop)).toBeUndefined();
      expect(archive.getInstancePath(next)).toBe(path.resolve(file));
      expect(archive.searchStudies({}).map((study) => study.numberOfInstances)).toEqual([1]);
    });

    test('archived copy is kept', async () => {
      const file = freshCopy(CT_SMALL, path.join(workDir, 'disc', 'IM1'));
      const old = uidsOf(file);
      const archived = await archive.importFile(file, { copy: true });

      overwriteWithNextInstance(file, workDir);
      await archive.importFile(file, { copy: false });

      expect(archive.getInstancePath(old.sop)).toBe(archived.path);
    });
  });
});
