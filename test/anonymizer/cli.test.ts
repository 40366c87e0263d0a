/**
 * `loader anonymize` through the built bundle (dist/loader.js); skipped on a
 * checkout that was not built, as the other command-line tests are.
 */
import * as fs from 'fs';
import * as path from 'path';

import { readDicomFileHeaderSync } from '../../src/dicom/file-reader';
import { Tags } from '../../src/dicom/tags';
import { loaderIsBuilt, runLoader } from '../support/loader';
import { corpusFile, makeTempDir, REPO_ROOT, runDcmtk } from '../support/peers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

/** Returns the paths of the regular files under `dir`, at any depth, sorted. */
function listFilesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort();
}

/** Creates a temporary folder with an input folder of one CT file and a job secret file, and returns their paths and an output path. */
function prepareCtJob(): { input: string; secretFile: string; output: string } {
  const dir = makeTempDir('anonymize-cli');
  const input = path.join(dir, 'in');
  fs.mkdirSync(input);
  fs.copyFileSync(path.join(REPO_ROOT, 'test', '.corpus', corpusFile('ct').path), path.join(input, 'a.dcm'));
  const secretFile = path.join(dir, 'secret');
  fs.writeFileSync(secretFile, 'a job secret of enough bytes');
  return { input, secretFile, output: path.join(dir, 'out') };
}

/** Checks that stderr contains only the notice of a run that created the installation secret in a fresh settings folder. */
function expectOnlySecretNotice(stderr: string): void {
  expect(stderr).toMatch(/^loader: created the installation anonymization secret in \S+anonymization-secret \(mode 0600\)[^\n]*\n$/);
}

describeBuilt('loader anonymize', () => {
  test('folder input laid out by new UIDs', async () => {
    const dir = makeTempDir('anonymize-cli');
    const input = path.join(dir, 'in');
    // Workstation exports often name folders after the patient, so no input folder name may reach OUT.
    const patientFolder = path.join(input, 'Иванов И.И', 'КТ грудь');
    fs.mkdirSync(patientFolder, { recursive: true });
    fs.copyFileSync(path.join(REPO_ROOT, 'test', '.corpus', corpusFile('ct').path), path.join(patientFolder, 'a.dcm'));
    fs.copyFileSync(path.join(REPO_ROOT, 'test', '.corpus', corpusFile('ct-implicit-le').path), path.join(input, 'sc.dcm'));
    const secretFile = path.join(dir, 'secret');
    fs.writeFileSync(secretFile, 'a job secret of enough bytes');

    const output = path.join(dir, 'out');
    const first = await runLoader(['anonymize', input, output, '--shift-dates', '--job-secret-file', secretFile]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(3);
    expect(first.stdout).toContain('anonymized 1 file of 2: 1 held back, 0 failed');
    expect(first.stdout).toContain('held back:');

    const written = listFilesUnder(output);
    expect(written).toHaveLength(1);
    const dataset = readDicomFileHeaderSync(written[0]).dataset;
    const expectedPath = path.join(
      output,
      dataset.getString(Tags.StudyInstanceUID) ?? '',
      dataset.getString(Tags.SeriesInstanceUID) ?? '',
      `${dataset.getString(Tags.SOPInstanceUID)}.dcm`,
    );
    expect(written[0]).toBe(expectedPath);
    expect(written[0]).not.toContain('Иванов');
    expect(written[0]).not.toContain('КТ');

    const again = await runLoader(['anonymize', path.join(patientFolder, 'a.dcm'), path.join(dir, 'again.dcm'), '--shift-dates', '--job-secret-file', secretFile]);
    expect(again.code).toBe(0);
    const repeated = readDicomFileHeaderSync(path.join(dir, 'again.dcm')).dataset;
    expect(repeated.getString(Tags.SOPInstanceUID)).toBe(dataset.getString(Tags.SOPInstanceUID));
    expect(repeated.getString(Tags.StudyDate)).toBe(dataset.getString(Tags.StudyDate));
  });

  test('DICOMDIR in the input is skipped and listed', async () => {
    const dir = makeTempDir('anonymize-cli');
    const input = path.join(dir, 'cd');
    fs.mkdirSync(path.join(input, 'DICOM'), { recursive: true });
    fs.copyFileSync(path.join(REPO_ROOT, 'test', '.corpus', corpusFile('ct').path), path.join(input, 'DICOM', 'IM1'));
    const made = await runDcmtk('dcmmkdir', ['--recurse', '--input-directory', input, '--output-file', path.join(input, 'DICOMDIR'), 'DICOM']);
    expect(made.code).toBe(0);

    const output = path.join(dir, 'out');
    const result = await runLoader(['anonymize', input, output]);
    expectOnlySecretNotice(result.stderr);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('anonymized 1 file of 2: 0 held back, 0 failed, 1 skipped; 1 patient');
    expect(result.stdout).toContain(`skipped: ${path.join(input, 'DICOMDIR')}: a DICOMDIR is not anonymized`);
    // Only the image was written, under its new UIDs; nothing was written for the DICOMDIR.
    const written = listFilesUnder(output);
    expect(written).toHaveLength(1);
    expect(path.basename(written[0])).not.toBe('DICOMDIR');
    expect(written[0]).not.toContain(`${path.sep}DICOM${path.sep}`);
  });

  test('output onto the input rejected', async () => {
    const dir = makeTempDir('anonymize-cli');
    const input = path.join(dir, 'in');
    fs.mkdirSync(input);
    const file = path.join(input, 'a.dcm');
    fs.copyFileSync(path.join(REPO_ROOT, 'test', '.corpus', corpusFile('ct').path), file);
    const original = fs.readFileSync(file);
    fs.symlinkSync(input, path.join(dir, 'link'));

    const sameFile = await runLoader(['anonymize', file, path.join(dir, 'link', 'a.dcm')]);
    expect(sameFile.code).toBe(2);
    expect(sameFile.stderr).toContain('is the input file itself, which the anonymized copy would replace');
    expect(fs.readFileSync(file).equals(original)).toBe(true);

    for (const output of [input, path.join(input, 'anon'), path.join(dir, 'link', 'anon')]) {
      const nested = await runLoader(['anonymize', input, output]);
      expect({ output, code: nested.code }).toEqual({ output, code: 2 });
      expect(nested.stderr).toContain(`is inside the input folder ${input}`);
    }
    expect(fs.readdirSync(input)).toEqual(['a.dcm']);
    expect(fs.readFileSync(file).equals(original)).toBe(true);
  });

  test('existing output file kept without --overwrite', async () => {
    const dir = makeTempDir('anonymize-cli');
    const input = path.join(dir, 'a.dcm');
    const other = path.join(dir, 'b.dcm');
    fs.copyFileSync(path.join(REPO_ROOT, 'test', '.corpus', corpusFile('ct').path), input);
    fs.copyFileSync(path.join(REPO_ROOT, 'test', '.corpus', corpusFile('ct-implicit-le').path), other);
    const otherOriginal = fs.readFileSync(other);

    const rejected = await runLoader(['anonymize', input, other]);
    expect(rejected.code).toBe(2);
    expect(rejected.stderr).toContain(`OUT ${other} already exists`);
    expect(rejected.stderr).toContain('--overwrite');
    expect(rejected.stdout).toBe('');
    expect(fs.readFileSync(other).equals(otherOriginal)).toBe(true);
    expect(fs.readdirSync(dir).sort()).toEqual(['a.dcm', 'b.dcm']);

    const replaced = await runLoader(['anonymize', input, other, '--overwrite']);
    expectOnlySecretNotice(replaced.stderr);
    expect(replaced.code).toBe(0);
    expect(replaced.stdout).toContain('anonymized 1 file of 1');
    expect(readDicomFileHeaderSync(other).dataset.getString(Tags.PatientName)).toMatch(/^ANON\^[0-9A-F]{20}$/);
  });

  test('existing files in output folder kept without --overwrite', async () => {
    const { input, secretFile, output } = prepareCtJob();

    const first = await runLoader(['anonymize', input, output, '--job-secret-file', secretFile]);
    expect(first.code).toBe(0);
    const [written] = listFilesUnder(output);
    fs.writeFileSync(written, 'a file the user keeps');

    // The same secret gives the same SOP Instance UID, so the second run meets the file of the first.
    const second = await runLoader(['anonymize', input, output, '--job-secret-file', secretFile]);
    expect(second.stderr).toBe('');
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('anonymized 0 files of 1: 0 held back, 0 failed, 1 skipped');
    expect(second.stdout).toContain(`skipped: ${path.join(input, 'a.dcm')}: output ${written} already exists; add --overwrite to replace it`);
    expect(second.stdout).not.toContain('failed:');
    expect(fs.readFileSync(written, 'utf8')).toBe('a file the user keeps');
    expect(listFilesUnder(output)).toEqual([written]);

    const third = await runLoader(['anonymize', input, output, '--job-secret-file', secretFile, '--overwrite']);
    expect(third.code).toBe(0);
    expect(readDicomFileHeaderSync(written).dataset.getString(Tags.PatientName)).toMatch(/^ANON\^[0-9A-F]{20}$/);
  });

  test('job secret keeps pseudonyms across runs', async () => {
    const dir = makeTempDir('anonymize-cli');
    const ct = path.join(REPO_ROOT, 'test', '.corpus', corpusFile('ct').path);
    const secretFile = path.join(dir, 'secret');
    fs.writeFileSync(secretFile, 'a job secret of enough bytes');
    const output = path.join(dir, 'out');

    // Three inputs, each in its own folder and with its own SOP Instance UID: patients one, two, and one again.
    const inputs: string[] = [];
    for (const [name, patientId, patientName] of [
      ['run1', 'PAT-ONE', 'ONE^PATIENT'],
      ['run2', 'PAT-TWO', 'TWO^PATIENT'],
      ['run3', 'PAT-ONE', 'ONE^PATIENT'],
    ]) {
      const input = path.join(dir, name);
      fs.mkdirSync(input);
      const file = path.join(input, 'a.dcm');
      fs.copyFileSync(ct, file);
      const modified = await runDcmtk('dcmodify', ['-nb', '-gin', '-m', `(0010,0020)=${patientId}`, '-m', `(0010,0010)=${patientName}`, file]);
      expect(modified.code).toBe(0);
      inputs.push(input);
    }

    // Each run writes into the same OUT, as a user adds exports to one folder day by day.
    const pseudonyms: Array<{ patientName?: string; patientId?: string }> = [];
    for (const input of inputs) {
      const before = new Set(fs.existsSync(output) ? listFilesUnder(output) : []);
      const result = await runLoader(['anonymize', input, output, '--shift-dates', '--job-secret-file', secretFile]);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const added = listFilesUnder(output).filter((file) => !before.has(file));
      expect(added).toHaveLength(1);
      const dataset = readDicomFileHeaderSync(added[0]).dataset;
      pseudonyms.push({ patientName: dataset.getString(Tags.PatientName), patientId: dataset.getString(Tags.PatientID) });
    }

    const [first, second, third] = pseudonyms;
    expect(second.patientId).not.toBe(first.patientId);
    expect(second.patientName).not.toBe(first.patientName);
    expect(third).toEqual(first);
    expect(first.patientId).toMatch(/^ANON[0-9A-F]{20}$/);
    expect(first.patientName).toBe(`ANON^${first.patientId?.slice(4)}`);
    expect(second.patientId).toMatch(/^ANON[0-9A-F]{20}$/);
  });

  test('counter pseudonyms with job secret rejected', async () => {
    const { input, secretFile, output } = prepareCtJob();

    const rejected = await runLoader(['anonymize', input, output, '--job-secret-file', secretFile, '--pseudonym-counter']);
    expect(rejected.code).toBe(2);
    expect(rejected.stderr).toContain('--pseudonym-counter cannot be used with --job-secret-file');
    expect(rejected.stderr).toContain('leave out --pseudonym-counter to derive pseudonyms from the secret');
    expect(rejected.stdout).toBe('');
    expect(fs.existsSync(output)).toBe(false);

    const both = await runLoader(['anonymize', input, output, '--pseudonym-hash', '--pseudonym-counter']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--pseudonym-hash and --pseudonym-counter exclude each other');

    // Without a job secret file, numbering stays the default and may be asked for by name.
    const counted = await runLoader(['anonymize', input, output, '--pseudonym-counter']);
    expect(counted.stderr).toBe('');
    expect(counted.code).toBe(0);
    const [written] = listFilesUnder(output);
    expect(readDicomFileHeaderSync(written).dataset.getString(Tags.PatientID)).toBe('ANON0001');
  });

  test('repeated run skips its own output', async () => {
    const { input, secretFile, output } = prepareCtJob();
    fs.copyFileSync(path.join(REPO_ROOT, 'test', '.corpus', corpusFile('ct-implicit-le').path), path.join(input, 'sc.dcm'));

    const first = await runLoader(['anonymize', input, output, '--job-secret-file', secretFile]);
    expect(first.code).toBe(3);
    const [written] = listFilesUnder(output);
    const firstBytes = fs.readFileSync(written);

    // The held-back image makes the run partial. The file of the first run counts as done, so the exit code is 3, not 1.
    const second = await runLoader(['anonymize', input, output, '--job-secret-file', secretFile]);
    expect(second.stderr).toBe('');
    expect(second.code).toBe(3);
    expect(second.stdout).toContain('anonymized 0 files of 2: 1 held back, 0 failed, 1 skipped; 0 patients, 0 UIDs replaced');
    expect(second.stdout).toContain(`skipped: ${path.join(input, 'a.dcm')}: output ${written} already exists; add --overwrite to replace it`);
    expect(second.stdout).toContain(`held back: ${path.join(input, 'sc.dcm')}`);
    expect(fs.readFileSync(written).equals(firstBytes)).toBe(true);

    // Without the held-back image, a run that only skips existing files succeeds.
    fs.rmSync(path.join(input, 'sc.dcm'));
    const third = await runLoader(['anonymize', input, output, '--job-secret-file', secretFile]);
    expect(third.stderr).toBe('');
    expect(third.code).toBe(0);
    expect(third.stdout).toContain('anonymized 0 files of 1: 0 held back, 0 failed, 1 skipped; 0 patients, 0 UIDs replaced');
  });

  test('file input into existing folder', async () => {
    const dir = makeTempDir('anonymize-cli');
    const input = path.join(dir, 'a.dcm');
    fs.copyFileSync(path.join(REPO_ROOT, 'test', '.corpus', corpusFile('ct').path), input);
    const output = path.join(dir, 'out');
    fs.mkdirSync(output);

    const result = await runLoader(['anonymize', input, output]);
    expectOnlySecretNotice(result.stderr);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('anonymized 1 file of 1: 0 held back, 0 failed');
    const written = fs.readdirSync(output);
    expect(written).toHaveLength(1);
    const dataset = readDicomFileHeaderSync(path.join(output, written[0])).dataset;
    expect(written[0]).toBe(`${dataset.getString(Tags.SOPInstanceUID)}.dcm`);

    // A trailing slash names a folder that does not exist yet.
    const newFolder = path.join(dir, 'new');
    const slashed = await runLoader(['anonymize', input, `${newFolder}/`]);
    expect(slashed.code).toBe(0);
    expect(fs.readdirSync(newFolder)).toHaveLength(1);
  });

  test('folder input onto existing file rejected', async () => {
    const dir = makeTempDir('anonymize-cli');
    const input = path.join(dir, 'in');
    fs.mkdirSync(input);
    fs.copyFileSync(path.join(REPO_ROOT, 'test', '.corpus', corpusFile('ct').path), path.join(input, 'a.dcm'));
    const output = path.join(dir, 'out.dcm');
    fs.writeFileSync(output, 'a file the user keeps');

    const result = await runLoader(['anonymize', input, output]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`OUT ${output} is a file, but IN ${input} is a folder; give a folder for OUT`);
    expect(fs.readFileSync(output, 'utf8')).toBe('a file the user keeps');
  });

  test('repeated SOP Instance UID skipped', async () => {
    const dir = makeTempDir('anonymize-cli');
    const input = path.join(dir, 'in');
    fs.mkdirSync(path.join(input, 'copy'), { recursive: true });
    const ct = path.join(REPO_ROOT, 'test', '.corpus', corpusFile('ct').path);
    fs.copyFileSync(ct, path.join(input, 'a.dcm'));
    fs.copyFileSync(ct, path.join(input, 'b.dcm'));
    fs.copyFileSync(ct, path.join(input, 'copy', 'c.dcm'));
    const output = path.join(dir, 'out');

    const result = await runLoader(['anonymize', input, output]);
    expectOnlySecretNotice(result.stderr);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('anonymized 1 file of 3: 0 held back, 0 failed, 2 skipped');
    const written = listFilesUnder(output);
    expect(written).toHaveLength(1);
    const [writtenPath] = written;
    const firstCopy = `same SOP Instance UID as ${path.join(input, 'a.dcm')}, which was written to ${writtenPath}`;
    expect(result.stdout).toContain(`skipped: ${path.join(input, 'b.dcm')}: ${firstCopy}`);
    expect(result.stdout).toContain(`skipped: ${path.join(input, 'copy', 'c.dcm')}: ${firstCopy}`);
    expect(fs.existsSync(path.join(output, 'copy'))).toBe(false);
    expect(written[0]).not.toContain(`${path.sep}copy${path.sep}`);
  });

  test('conflicting date options are a usage error', async () => {
    const result = await runLoader(['anonymize', 'in', 'out', '--keep-dates', '--shift-dates']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--keep-dates and --shift-dates exclude each other');
  });
});
