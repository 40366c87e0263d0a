/**
 * Resolves the folders every command works with: the settings folder and the
 * archive root, from flags, environment variables or the user's data folder.
 */
import path from 'node:path';

import envPaths from 'env-paths';

import { SettingsStore } from '../services/settings/settings-store';

export interface GlobalOptions {
  archive?: string;
  configDir?: string;
}

export function resolveArchiveRoot(options: GlobalOptions): string {
  const root = options.archive ?? process.env.LOADER_ARCHIVE ?? path.join(envPaths('sciberia-loader', { suffix: '' }).data, 'archive');
  return path.resolve(root);
}

export function openSettings(options: GlobalOptions): SettingsStore {
  return new SettingsStore({ configDir: options.configDir });
}

/** Error for a wrong command line; main.ts prints it and exits with code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Exit codes shared by every command, so scripts can tell outcomes apart. */
export const ExitCode = {
  Success: 0,
  Failure: 1,
  Usage: 2,
  /** Some items succeeded and some failed (for example a scan with damaged files). */
  PartialSuccess: 3,
} as const;
