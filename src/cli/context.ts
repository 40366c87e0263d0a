/**
 * Resolves the folders every command works with: the settings folder and the
 * archive root, from flags, environment variables or the user's data folder.
 */
import fs from 'node:fs';
import path from 'node:path';

import envPaths from 'env-paths';

import { INCOMING_FOLDER, INDEX_FILE, LocalArchive, type OpenArchiveOptions } from '../services/archive';
import type { LegacyCharacterSet } from '../dicom/charset';
import type { LegacyCharacterSetSource } from '../services/archive/legacy-charset-notice';
import { SettingsStore } from '../services/settings/settings-store';
import { validateLegacyCharacterSet } from '../services/settings/validation';

export interface GlobalOptions {
  archive?: string;
  configDir?: string;
  /** --legacy-charset: overrides pacs.legacyCharacterSet from the settings. */
  legacyCharset?: string;
  /** --verbose: INFO log lines also where a command shows only warnings and errors by default (see log-level.ts). */
  verbose?: boolean;
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

/** Quotes `text` for a POSIX shell when it contains characters such as spaces, so a suggested command can be pasted. */
function quoteForShell(text: string): string {
  return /^[\p{L}\p{N}_./@:+=,-]+$/u.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * Checks that `root` is an archive folder: one with the loader's index, or an
 * empty folder, which has no studies yet. Any other folder without the loader's
 * index raises an error, because opening it as an archive would write an
 * empty index and the archive's internal folders into it. A missing folder
 * is a UsageError (exit code 2), the other cases are plain errors (exit code 1).
 */
export function checkArchiveFolder(root: string): 'archive' | 'empty' {
  requireExistingArchive(root);
  if (!fs.statSync(root).isDirectory()) {
    throw new Error(`archive ${root} is a file, not a folder; give the archive folder with --archive or LOADER_ARCHIVE`);
  }

  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch {
    // An unreadable folder is left to LocalArchive.open, whose message names the permission problem.
    return 'archive';
  }
  if (names.includes(INDEX_FILE)) return 'archive';
  // A new ext4 file system holds only lost+found, so such a mount point counts as empty.
  if (names.every((name) => name === 'lost+found')) return 'empty';
  if (names.includes(INCOMING_FOLDER)) {
    throw new Error(`archive ${root} has no ${INDEX_FILE}; run \`loader reindex --archive ${quoteForShell(root)}\` to rebuild the index from its files`);
  }
  throw new Error(`${root} is not a loader archive (no ${INDEX_FILE}); use \`loader scan ${quoteForShell(root)}\` to load its files`);
}

/**
 * Opens the archive at `root` for a command that only reads it; see
 * checkArchiveFolder. An empty folder raises an error too, because opening it
 * would create an archive with nothing to read. An archive that this user may
 * not write (a DVD, a read-only mount) opens read-only. The character set is
 * needed even so, because opening a writable archive indexes the stores that
 * a stopped process left in .incoming.
 */
export function openExistingArchive(root: string, legacyCharacterSet: LegacyCharacterSet): LocalArchive {
  if (checkArchiveFolder(root) === 'empty') {
    throw new Error(`archive ${root} is empty: it has no ${INDEX_FILE} and no studies yet; receive, get or scan studies into it first`);
  }
  return LocalArchive.open(root, { access: 'read-if-not-writable', legacyCharacterSet });
}

/**
 * Opens the archive at `root` for a command that stores or indexes
 * instances in it, so that a read-only archive fails before the command
 * starts its work, with a message that names the folder and the next step.
 */
export function openWritableArchive(
  root: string,
  options: Omit<OpenArchiveOptions, 'access' | 'legacyCharacterSet'> & { legacyCharacterSet: LegacyCharacterSet },
): LocalArchive {
  return LocalArchive.open(root, { ...options, access: 'read-write' });
}

/**
 * Returns the character set of names and descriptions in files that declare
 * none and are not UTF-8: --legacy-charset when given, otherwise
 * pacs.legacyCharacterSet from `settings` (opened from the options when not given).
 *
 * @throws SettingsValidationError naming the value and the accepted ones.
 */
export function resolveLegacyCharacterSet(options: GlobalOptions, settings?: SettingsStore): LegacyCharacterSet {
  if (options.legacyCharset !== undefined) return validateLegacyCharacterSet('--legacy-charset', options.legacyCharset);
  return (settings ?? openSettings(options)).settings.pacs.legacyCharacterSet;
}

/** Returns resolveLegacyCharacterSet() with its origin, for the log line about text decoded in it. */
export function resolveLegacyCharacterSetWithSource(
  options: GlobalOptions,
  settings: SettingsStore = openSettings(options),
): { legacyCharacterSet: LegacyCharacterSet; legacyCharacterSetSource: LegacyCharacterSetSource } {
  const legacyCharacterSet = resolveLegacyCharacterSet(options, settings);
  const legacyCharacterSetSource = options.legacyCharset !== undefined ? { chosen: true, description: 'given with --legacy-charset' } : settings.legacyCharacterSetSource();
  return { legacyCharacterSet, legacyCharacterSetSource };
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
