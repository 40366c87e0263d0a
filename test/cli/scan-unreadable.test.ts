/**
 * `loader scan` of a file and a folder that the user running the loader may
 * not read. The loader runs as the user `nobody` through setpriv, which needs
 * root, because root reads every file whatever its mode.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { corpusFile, createLoaderDirs, type RunResult } from '../support/peers';
import { describeOtherUser, NOBODY_ID, runAsNobody } from '../support/other-user';

describeOtherUser('scan of unreadable files', () => {
  const dirs = createLoaderDirs('scan-unreadable');
  const media = path.join(dirs.root, 'media');
  const readableFile = path.join(media, 'readable.dcm');
  const lockedFile = path.join(media, 'locked.dcm');
  const lockedFolder = path.join(media, 'locked-folder');
  let result: RunResult;

  beforeAll(async () => {
    fs.mkdirSync(lockedFolder, { recursive: true });
    fs.copyFileSync(corpusFile('ct').absolutePath, readableFile);
    fs.copyFileSync(corpusFile('mr').absolutePath, lockedFile);
    fs.copyFileSync(corpusFile('ct').absolutePath, path.join(lockedFolder, 'inside.dcm'));
    expect(spawnSync('chmod', ['o+rX', dirs.root]).status).toBe(0);
    expect(spawnSync('chown', ['-R', `${NOBODY_ID}:${NOBODY_ID}`, dirs.archiveDir, dirs.configDir, dirs.homeDir, media]).status).toBe(0);
    fs.chmodSync(lockedFile, 0o000);
    fs.chmodSync(lockedFolder, 0o000);

    result = await runAsNobody(dirs, ['scan', media]);
  });

  test('exits with partial success', () => {
    expect(result.code).toBe(3);
    expect(result.stdout).toContain('1 indexed');
  });

  test('names the fix for a locked file', () => {
    expect(result.stdout).toContain(
      `unreadable: ${lockedFile}: permission denied (EACCES): the user running the loader may not read this file; ` +
        'give that user read access (chmod, chown) or run the scan as a user who has it',
    );
  });

  test('names the fix for a locked folder', () => {
    expect(result.stdout).toContain(
      `unreadable: ${lockedFolder}: permission denied (EACCES): the user running the loader may not list this folder; ` +
        'give that user read access (chmod, chown) or run the scan as a user who has it',
    );
  });

  test('prints no raw Node message', () => {
    expect(result.stdout).not.toContain('EACCES: permission denied');
  });
});
