/**
 * The scan report of a file cut inside its header: it gives the file's size
 * and how many more bytes the element at the reported offset needs, so the
 * size and the offset do not read as a contradiction.
 */
import fs from 'node:fs';
import path from 'node:path';

import { corpusFile, createLoaderDirs, loaderIsBuilt, runLoader } from '../support/peers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

describeBuilt('truncated file report', () => {
  const dirs = createLoaderDirs('truncated-file');

  test('scan names size and missing bytes', async () => {
    const file = path.join(dirs.root, 'cut', 'ct-5000.dcm');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, fs.readFileSync(corpusFile('ct').absolutePath).subarray(0, 5000));

    const result = await runLoader(['scan', file], { dirs });

    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/The data set is truncated: the file has 5000 bytes, but the \d+-byte value of \([0-9A-F]{4},[0-9A-F]{4}\) \([A-Z]{2}\) needs \d+ more bytes \(at byte offset \d+\)/);
    expect(result.stdout).not.toContain('ends after');
  });
});
