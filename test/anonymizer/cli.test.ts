/**
 * `loader anonymize` through the built bundle (dist/loader.js); skipped on a
 * checkout that was not built, as the other command-line tests are.
 */
import * as fs from 'fs';
import * as path from 'path';

import { readDicomFileHeaderSync } from '../../src/dicom/file-reader';
import { Tags } from '../../src/dicom/tags';
import { loaderIsBuilt, runLoader } from '../support/loader';
import { corpusFile, makeTempDir, REPO_ROOT } from '../support/peers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

describeBuilt('loader anonymize', () => {
  test('folder input is mirrored and burned-in images are held back', async () => {
    const dir = makeTempDir('anonymize-cli');
    const input = path.join(dir, 'in');
    fs.mkdirSync(path.join(input, 'ct'), { recursive: true });
    fs.copyFileSync(path.join(REPO_ROOT, 'test', '.corpus', corpusFile('ct').path), path.join(input, 'ct', 'a.dcm'));
    fs.copyFileSync(path.join(REPO_ROOT, 'test', '.corpus', corpusFile('ct-implicit-le').path), path.join(input, 'sc.dcm'));
    const secretFile = path.join(dir, 'secret');
    fs.writeFileSync(secretFile, 'a job secret of enough bytes');

    const output = path.join(dir, 'out');
    const first = await runLoader(['anonymize', input, output, '--shift-dates', '--job-secret-file', secretFile]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(3);
    expect(first.stdout).toContain('anonymized 1 file of 2: 1 held back, 0 failed');
    expect(first.stdout).toContain('held back:');

    const written = fs.readdirSync(path.join(output, 'ct'));
    expect(written).toHaveLength(1);
    const dataset = readDicomFileHeaderSync(path.join(output, 'ct', written[0])).dataset;
    expect(written[0]).toBe(`${dataset.getString(Tags.SOPInstanceUID)}.dcm`);

    const again = await runLoader(['anonymize', path.join(input, 'ct', 'a.dcm'), path.join(dir, 'again.dcm'), '--shift-dates', '--job-secret-file', secretFile]);
    expect(again.code).toBe(0);
    const repeated = readDicomFileHeaderSync(path.join(dir, 'again.dcm')).dataset;
    expect(repeated.getString(Tags.SOPInstanceUID)).toBe(dataset.getString(Tags.SOPInstanceUID));
    expect(repeated.getString(Tags.StudyDate)).toBe(dataset.getString(Tags.StudyDate));
  });

  test('conflicting date options are a usage error', async () => {
    const result = await runLoader(['anonymize', 'in', 'out', '--keep-dates', '--shift-dates']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--keep-dates and --shift-dates exclude each other');
  });
});
