/**
 * File names reach the scan and reindex reports as they are on disk. A name
 * with a newline must stay on its problem line, escaped, so that it cannot
 * print a line that reads like a report line of its own.
 */
import fs from 'node:fs';
import path from 'node:path';

import { corpusFile, createLoaderDirs, loaderIsBuilt, runLoader } from '../support/peers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

const FORGED_NAME = 'evil.dcm: truncated\nscan finished: all files OK';

describeBuilt('control characters in reported paths', () => {
  const dirs = createLoaderDirs('scan-report-control-characters');

  test('newline in damaged file name', async () => {
    const folder = path.join(dirs.root, 'names');
    fs.mkdirSync(folder, { recursive: true });
    fs.writeFileSync(path.join(folder, FORGED_NAME), fs.readFileSync(corpusFile('ct').absolutePath).subarray(0, 300));

    const result = await runLoader(['scan', folder], { dirs });

    expect(result.code).toBe(3);
    const lines = result.stdout.split('\n');
    expect(lines.filter((line) => line.startsWith('scan finished'))).toEqual([]);
    expect(lines.filter((line) => line.startsWith('damaged: '))).toEqual([
      expect.stringContaining(`${path.join(folder, 'evil.dcm: truncated')}\\nscan finished: all files OK: `),
    ]);
  });
});
