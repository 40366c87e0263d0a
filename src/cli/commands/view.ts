/**
 * `loader view`: opens the study viewer window for a study of the local
 * archive or for DICOM files.
 */
import fs from 'node:fs';

import type { Command } from 'commander';

import type { LegacyCharacterSet } from '../../dicom/charset';
import { checkGuiAvailability } from '../../ui/qt-runtime';
import { openExistingArchive, openSettings, resolveArchiveRoot, resolveLegacyCharacterSet, UsageError } from '../context';
import type { GlobalOptions } from '../context';

/** A DICOM UID: dot-separated numbers, at most 64 characters (PS3.5 section 9.1). */
const UID_PATTERN = /^[0-9]+(\.[0-9]+)*$/;

type ViewTarget = { files: string[] } | { studyInstanceUid: string };

/** Raises a UsageError unless the archive contains an instance of the study. */
function requireArchivedStudy(archiveRoot: string, studyInstanceUid: string, legacyCharacterSet: LegacyCharacterSet): void {
  const archive = openExistingArchive(archiveRoot, legacyCharacterSet);
  try {
    if (archive.listInstances({ studyInstanceUid }).length > 0) return;
  } finally {
    archive.close();
  }
  throw new UsageError(`study ${studyInstanceUid} is not in the archive at ${archiveRoot}; list its studies with "loader studies"`);
}

/** Decides whether the arguments name files or one Study Instance UID; raises a UsageError for anything else. */
export function parseViewTargets(targets: string[]): ViewTarget {
  if (targets.length === 1 && !fs.existsSync(targets[0]) && UID_PATTERN.test(targets[0]) && targets[0].length <= 64) {
    return { studyInstanceUid: targets[0] };
  }
  for (const target of targets) {
    if (!fs.existsSync(target)) throw new UsageError(`${target} is neither an existing file nor a Study Instance UID`);
    if (fs.statSync(target).isDirectory()) {
      throw new UsageError(`${target} is a folder: give the DICOM files in it, or index it with "loader scan" and view the study by its UID`);
    }
  }
  return { files: targets };
}

export function registerView(program: Command, globals: () => GlobalOptions): void {
  program
    .command('view')
    .description('open the study viewer for a study of the archive (by Study Instance UID) or for DICOM files')
    .argument('<study-uid-or-files...>', 'one Study Instance UID of the archive, or one or more DICOM files')
    .action(async (targets: string[]) => {
      const target = parseViewTargets(targets);
      const archiveRoot = resolveArchiveRoot(globals());
      const legacyCharacterSet = resolveLegacyCharacterSet(globals());
      // The input is checked before the display, so a wrong UID is reported on any machine.
      if ('studyInstanceUid' in target) requireArchivedStudy(archiveRoot, target.studyInstanceUid, legacyCharacterSet);
      const gui = checkGuiAvailability();
      if (!gui.available) throw new Error(`cannot open the viewer window: ${gui.reason}`);
      const { language, theme } = openSettings(globals()).settings.interface;

      // Loaded only here, because it loads the NodeGui addon.
      const { runStudyViewer, StudyNotFoundError } = await import('../../ui/viewer');
      try {
        await runStudyViewer(gui.paths, { ...('files' in target ? target : { archiveRoot, legacyCharacterSet, ...target }), language, theme });
      } catch (error) {
        if (error instanceof StudyNotFoundError) throw new UsageError(error.message);
        throw error;
      }
      // Qt widgets still exist after the window closes, and a natural exit then aborts the process.
      process.exit(0);
    });
}
