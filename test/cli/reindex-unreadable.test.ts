/**
 * `loader reindex` of an archive with a study folder that the user running
 * the loader may not list. The loader runs as the user `nobody` through
 * setpriv, which needs root, because root lists every folder whatever its mode.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { corpusFile, createLoaderDirs, type RunResult } from '../support/peers';
import { describeOtherUser, NOBODY_ID, runAsNobody } from '../support/other-user';

describeOtherUser('reindex of an unreadable study folder', () => {
  const dirs = createLoaderDirs('reindex-unreadable');
  const media = path.join(dirs.root, 'media');
  const ct = corpusFile('ct');
  let lockedStudy: string;
  let result: RunResult;
  let studies: RunResult;

  beforeAll(async () => {
    fs.mkdirSync(media, { recursive: true });
    fs.copyFileSync(ct.absolutePath, path.join(media, 'ct.dcm'));
    fs.copyFileSync(corpusFile('mr').absolutePath, path.join(media, 'mr.dcm'));
    expect(spawnSync('chmod', ['o+rX', dirs.root]).status).toBe(0);
    expect(spawnSync('chown', ['-R', `${NOBODY_ID}:${NOBODY_ID}`, dirs.archiveDir, dirs.configDir, dirs.homeDir, media]).status).toBe(0);
    expect((await runAsNobody(dirs, ['scan', media, '--import'])).code).toBe(0);

    lockedStudy = path.join(dirs.archiveDir, ct.studyInstanceUid!);
    fs.chmodSync(lockedStudy, 0o000);
    try {
      result = await runAsNobody(dirs, ['reindex']);
      studies = await runAsNobody(dirs, ['studies', '--json']);
    } finally {
      fs.chmodSync(lockedStudy, 0o700);
    }
  });

  test('exits with partial success', () => {
    expect(result.code).toBe(3);
    expect(result.stdout).toContain('indexed 1 instance\n');
  });

  test('keeps the rows of the folder', () => {
    expect(studies.code).toBe(0);
    expect(JSON.parse(studies.stdout)).toHaveLength(2);
  });

  test('names the folder and the remedy', () => {
    expect(result.stdout).toContain(
      `unreadable: ${lockedStudy}: permission denied (EACCES): the user running loader reindex may not list this folder; ` +
        'kept 1 instance indexed as before without checking',
    );
    expect(result.stdout).toContain("hint: give the user running loader reindex read access to these folders and files (chmod, chown), or run loader reindex as the archive's owner");
    expect(result.stdout).not.toContain('move it out of the archive folder');
    expect(result.stdout).not.toMatch(/\bscan\b/);
  });
});
