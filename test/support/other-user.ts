/**
 * Runs the bundled loader as the user `nobody` through setpriv, for tests of
 * files and folders that the user running the loader may not read. setpriv
 * needs root, and root reads every file whatever its mode, so such tests run
 * only as root.
 */
import { spawnSync } from 'node:child_process';

import { LOADER_BIN, loaderIsBuilt, runCommand, type LoaderDirs, type RunResult } from './peers';

/** User and group ID of `nobody` on Debian. */
export const NOBODY_ID = '65534';

const runsAsRoot = process.getuid?.() === 0 && spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status === 0;

/** `describe` when the loader is built and the tests run as root with setpriv installed, otherwise `describe.skip`. */
export const describeOtherUser = loaderIsBuilt() && runsAsRoot ? describe : describe.skip;

/** Runs the loader as the user `nobody` on the archive and settings folders of `dirs`. */
export function runAsNobody(dirs: LoaderDirs, args: string[]): Promise<RunResult> {
  return runCommand(
    'setpriv',
    ['--reuid', NOBODY_ID, '--regid', NOBODY_ID, '--clear-groups', LOADER_BIN, '--archive', dirs.archiveDir, '--config-dir', dirs.configDir, ...args],
    { env: { HOME: dirs.homeDir } },
  );
}
