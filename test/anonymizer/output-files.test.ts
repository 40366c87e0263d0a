/**
 * How an anonymization job puts output files in place: what it counts as
 * written and when it replaces an existing file.
 */
import * as fs from 'fs';
import * as path from 'path';

import { createAnonymizationJob, OutputExistsError } from '../../src/dicom/anonymizer';
import { readDicomFileHeaderSync } from '../../src/dicom/file-reader';
import { Tags } from '../../src/dicom/tags';
import { corpusFile, makeTempDir, REPO_ROOT } from '../support/peers';

const CT = path.join(REPO_ROOT, 'test', '.corpus', corpusFile('ct').path);
const MR = path.join(REPO_ROOT, 'test', '.corpus', corpusFile('mr').path);

test('failed move not counted as written', async () => {
  const dir = makeTempDir('anonymize-output');
  const folder = path.join(dir, 'folder');
  fs.mkdirSync(folder);
  const job = createAnonymizationJob();

  await expect(job.anonymizeFile(CT, folder)).rejects.toThrow();
  expect(job.report().written).toBe(0);
  expect(fs.readdirSync(dir)).toEqual(['folder']);
  expect(fs.readdirSync(folder)).toEqual([]);
});

test('existing file kept when overwrite is false', async () => {
  const dir = makeTempDir('anonymize-output');
  const out = path.join(dir, 'out.dcm');
  fs.writeFileSync(out, 'a file the user keeps');
  const job = createAnonymizationJob();

  const attempt = job.anonymizeFile(CT, out, { overwrite: false });
  await expect(attempt).rejects.toBeInstanceOf(OutputExistsError);
  await expect(attempt).rejects.toMatchObject({ outPath: out });
  expect(fs.readFileSync(out, 'utf8')).toBe('a file the user keeps');
  expect(fs.readdirSync(dir)).toEqual(['out.dcm']);
  expect(job.report().written).toBe(0);

  const replaced = await job.anonymizeFile(CT, out);
  expect(replaced.status).toBe('written');
  expect(fs.readFileSync(out).subarray(128, 132).toString('latin1')).toBe('DICM');
  expect(job.report().written).toBe(1);
});

test('report counts only written files', async () => {
  const dir = makeTempDir('anonymize-output');
  const existing = path.join(dir, 'existing.dcm');
  fs.writeFileSync(existing, 'a file the user keeps');
  const secret = Buffer.from('a job secret of enough bytes');
  const job = createAnonymizationJob({ jobSecret: secret });
  const mrOnly = createAnonymizationJob({ jobSecret: secret });

  await expect(job.anonymizeFile(CT, existing, { overwrite: false })).rejects.toBeInstanceOf(OutputExistsError);
  const afterSkip = job.report();
  const written = await job.anonymizeFile(MR, path.join(dir, 'mr.dcm'), { overwrite: false });
  await mrOnly.anonymizeFile(MR, path.join(dir, 'mr-only.dcm'));
  const mrName = readDicomFileHeaderSync(path.join(dir, 'mr.dcm')).dataset.getString(Tags.PatientName);

  expect(afterSkip.written).toBe(0);
  expect(afterSkip.patients).toBe(0);
  expect(afterSkip.uidMapSize).toBe(0);
  expect(written.status).toBe('written');
  expect(job.report().written).toBe(1);
  expect(job.report().patients).toBe(1);
  expect(job.report().uidMapSize).toBe(mrOnly.report().uidMapSize);
  expect(mrOnly.report().uidMapSize).toBeGreaterThan(2);
  // The skipped file's patient keeps its place in the counter scheme, so pseudonyms match a run that wrote it.
  expect(mrName).toBe('ANON^0002');
});
