/** Checks for what the desktop window tests under Xvfb need before they start. */
import * as fs from 'fs';
import * as path from 'path';

import { commandExists, loaderIsBuilt, REPO_ROOT } from '../support/peers';

const ADDON = path.join(REPO_ROOT, 'node_modules', '@nodegui', 'nodegui', 'build', 'Release', 'nodegui_core.node');
const SHIM = path.join(REPO_ROOT, 'native', 'qode-shim', 'build', 'qode_shim.node');

/**
 * Returns what is missing of the loader bundle, the NodeGui addon with the
 * qode shim, and the given commands, each with the step that provides it.
 */
export function missingGuiPrerequisites(commands: string[]): string[] {
  return [
    ...(loaderIsBuilt() ? [] : ['dist/loader.js (npm run build)']),
    ...(fs.existsSync(ADDON) && fs.existsSync(SHIM) ? [] : ['the NodeGui addon and qode shim (scripts/build-gui.sh)']),
    ...commands.filter((tool) => !commandExists(tool)),
  ];
}

/**
 * Returns `describe` when the window tests of `suite` can run with the given
 * commands, and otherwise `describe.skip`, after a warning that names what is
 * missing.
 */
export function describeWhenGuiAvailable(suite: string, commands: string[]): typeof describe | typeof describe.skip {
  const missing = missingGuiPrerequisites(commands);
  if (missing.length === 0) return describe;
  // eslint-disable-next-line no-console
  console.warn(`${suite} skipped: missing ${missing.join(', ')}; run scripts/setup.sh --test`);
  return describe.skip;
}
