/**
 * `loader scan` of a copy of an indexed instance that DCMTK's dcmconv wrote in
 * another uncompressed transfer syntax: the report counts it as already
 * stored and the scan exits 0, in place and with --import. A copy with one
 * changed value is still a conflict, with exit code 3.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { corpusFile, createLoaderDirs, loaderIsBuilt, runLoader } from '../support/peers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

describeBuilt('scan of a re-encoded copy', () => {
  const ct = corpusFile('ct');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'loader-scan-reencoded-'));
  const original = path.join(work, 'original', 'ct.dcm');

  /** Writes `original` converted with the dcmconv `options` into folder `name`, and returns the folder. */
  function convertedCopy(name: string, options: string[]): string {
    const folder = path.join(work, name);
    fs.mkdirSync(folder);
    execFileSync('dcmconv', [...options, original, path.join(folder, 'ct.dcm')], { stdio: 'pipe' });
    return folder;
  }

  beforeAll(() => {
    fs.mkdirSync(path.dirname(original));
    fs.copyFileSync(ct.absolutePath, original);
  });

  afterAll(() => {
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('in place, implicit VR copy is duplicate', async () => {
    const dirs = createLoaderDirs('scan-reencoded-in-place');
    const first = await runLoader(['scan', path.dirname(original)], { dirs });
    expect(first.code).toBe(0);
    const copy = convertedCopy('implicit', ['+ti']);

    const result = await runLoader(['scan', copy], { dirs });

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('0 indexed');
    expect(result.stdout).toContain('1 already stored');
    expect(result.stdout).toContain('0 not indexed');
  });

  test('import, big endian copy is duplicate', async () => {
    const dirs = createLoaderDirs('scan-reencoded-import');
    const first = await runLoader(['scan', '--import', path.dirname(original)], { dirs });
    expect(first.code).toBe(0);
    const copy = convertedCopy('big-endian', ['+tb']);

    const result = await runLoader(['scan', '--import', copy], { dirs });

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('0 imported');
    expect(result.stdout).toContain('1 already stored');
    expect(result.stdout).toContain('0 conflicts kept aside');
    expect(fs.readdirSync(path.join(dirs.archiveDir, '.conflicts'))).toEqual([]);
  });

  test('changed deflated copy exits 3', async () => {
    const dirs = createLoaderDirs('scan-reencoded-changed');
    await runLoader(['scan', path.dirname(original)], { dirs });
    const copy = convertedCopy('changed-deflated', ['+td']);
    execFileSync('dcmodify', ['-nb', '-i', '(0008,1030)=changed', path.join(copy, 'ct.dcm')], { stdio: 'pipe' });

    const result = await runLoader(['scan', copy], { dirs });

    expect(result.code).toBe(3);
    expect(result.stdout).toContain('1 not indexed');
    expect(result.stdout).toContain('0 already stored');
  });
});
