/**
 * Output to a pipe that is longer than the pipe's capacity (64 KiB on Linux)
 * must reach the reader whole before the command exits. The harness reads a
 * child's output through a socket pair with a larger buffer, so the command
 * runs in a shell pipeline here.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { LOADER_BIN, createLoaderDirs, loaderIsBuilt } from '../support/loader';
import { makeTempDir } from '../support/process';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

describeBuilt('output through a pipe', () => {
  test('scan --json longer than 64 KiB', () => {
    const folder = makeTempDir('output-flush');
    // Each file gives a report entry of about 200 bytes, so 600 files give more than 100 KiB.
    for (let i = 0; i < 600; i++) fs.writeFileSync(path.join(folder, `not-dicom-file-with-a-rather-long-name-number-${i}.txt`), 'x\n');
    const dirs = createLoaderDirs('output-flush');
    const command = `"${LOADER_BIN}" --archive "${dirs.archiveDir}" --config-dir "${dirs.configDir}" scan "${folder}" --json | cat`;

    const result = spawnSync('sh', ['-c', command], { encoding: 'utf8', env: { ...process.env, HOME: dirs.homeDir }, maxBuffer: 16 * 1024 * 1024 });

    expect(result.stdout.length).toBeGreaterThan(64 * 1024);
    expect(() => JSON.parse(result.stdout)).not.toThrow();
    expect(result.stdout).toContain('number-599.txt');
  });
});
