/**
 * importFile without copy (indexing in place) of a file that changed at the
 * same path since it was indexed, and of a copy in another transfer syntax.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { LocalArchive } from '../../src/services/archive';
import { setLogSink } from '../../src/services/logger';
import { CT_SMALL, Tag, freshCopy, makeTempDir, modifiedCopy, removeTempDir } from './fixtures';

describe('importFile in place', () => {
  let workDir: string;
  let archive: LocalArchive;
  let previousSink: (line: string) => void;

  beforeEach(() => {
    workDir = makeTempDir();
    previousSink = setLogSink(() => undefined);
    archive = LocalArchive.open(path.join(workDir, 'archive'));
  });

  afterEach(() => {
    archive.close();
    setLogSink(previousSink);
    removeTempDir(workDir);
  });

  test('changed file is indexed again', async () => {
    const file = freshCopy(CT_SMALL, path.join(workDir, 'disc', 'IM1'), { [Tag.PatientID]: 'FIRST-1' });
    const first = await archive.importFile(file, { copy: false });
    // The same instance rewritten at the same path with another patient, after the first import.
    const rewritten = modifiedCopy(file, path.join(workDir, 'rewritten'), { [Tag.PatientID]: 'SECOND-2' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    fs.copyFileSync(rewritten, file);

    const second = await archive.importFile(file, { copy: false });
    const again = await archive.importFile(file, { copy: false });

    expect(first.outcome).toBe('stored');
    expect(second.outcome).toBe('stored');
    expect(again.outcome).toBe('duplicate');
    expect(archive.searchStudies({}).map((study) => study.patientId)).toEqual(['SECOND-2']);
  });

  test('unchanged file stays a duplicate', async () => {
    const file = freshCopy(CT_SMALL, path.join(workDir, 'disc', 'IM1'));
    await archive.importFile(file, { copy: false });

    const again = await archive.importFile(file, { copy: false });

    expect(again.outcome).toBe('duplicate');
  });

  test('re-encoded copy is duplicate', async () => {
    const file = freshCopy(CT_SMALL, path.join(workDir, 'disc', 'IM1'));
    await archive.importFile(file, { copy: false });
    const bigEndian = path.join(workDir, 'export', 'IM1');
    fs.mkdirSync(path.dirname(bigEndian));
    execFileSync('dcmconv', ['+tb', file, bigEndian], { stdio: 'pipe' });

    const copy = await archive.importFile(bigEndian, { copy: false });

    expect(copy.outcome).toBe('duplicate');
    expect(copy.path).toBe(file);
  });

  test('re-encoded changed copy conflicts', async () => {
    const file = freshCopy(CT_SMALL, path.join(workDir, 'disc', 'IM1'));
    await archive.importFile(file, { copy: false });
    const implicit = path.join(workDir, 'export', 'IM1');
    fs.mkdirSync(path.dirname(implicit));
    execFileSync('dcmconv', ['+ti', file, implicit], { stdio: 'pipe' });
    execFileSync('dcmodify', ['-nb', '-i', `${Tag.StudyDescription}=changed`, implicit], { stdio: 'pipe' });

    const copy = await archive.importFile(implicit, { copy: false });

    expect(copy.outcome).toBe('conflict');
    expect(copy.path).toBe(implicit);
  });
});
