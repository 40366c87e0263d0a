/**
 * Resolves the folders every command works with: the settings folder and the
 * archive root, from flags, environment variables or the user's data folder.
 */
import fs from 'node:fs';
import path from 'node:path';

import envPaths from 'env-paths';

import { LocalArchive, type OpenArchiveOptions } from '../services/archive';
import { SettingsStore } from '../services/settings/settings-store';

export interface GlobalOptions {
  archive?: string;
  configDir?: string;
}

export function resolveArchiveRoot(options: GlobalOptions): string {
  const root = options.archive ?? process.env.LOADER_ARCHIVE ?? path.join(envPaths('sciberia-loader', { suffix: '' }).data, 'archive');
  return path.resolve(root);
}

/**
 * Raises a UsageError when the archive folder does not exist. Commands that
 * only read the archive call this first, so a mistyped --archive does not
 * create an empty archive.
 */
export function requireExistingArchive(root: string): void {
  if (fs.existsSync(root)) return;
  throw new UsageError(`archive folder ${root} does not exist; check --archive or LOADER_ARCHIVE`);
}

/**
 * Opens the archive at `root` for a command that only reads it; see
 * requireExistingArchive. An archive that this user may not write (a DVD, a
 * read-only mount) opens read-only.
 */
export function openExistingArchive(root: string): LocalArchive {
  requireExistingArchive(root);
  return LocalArchive.open(root, { access: 'read-if-not-writable' });
}

/**
 * Opens the archive at `root` for a command that stores or indexes
 * instances in it, so that a read-only archive fails before the command
 * starts its work, with a message that names the folder and the next step.
 */
export function openWritableArchive(root: string, options: Omit<OpenArchiveOptions, 'access'> = {}): LocalArchive {
  return LocalArchive.open(root, { ...options, access: 'read-write' });
}

/** Returns "1 study" or "2 studies": the count and the noun in the matching number. */
export function countOf(count: number, singular: string, plural = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : plural}`;
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

/** Returns the exit code of a transfer outcome: 0 success, 3 partial success, 1 failure. */
export function exitCodeForOutcome(outcome: 'success' | 'partial' | 'failure'): number {
  if (outcome === 'success') return ExitCode.Success;
  if (outcome === 'partial') return ExitCode.PartialSuccess;
  return ExitCode.Failure;
}
