/**
 * `loader start`: the main job. Opens the desktop window when a display is
 * available and the GUI is built, and runs the headless PACS server otherwise.
 */
import type { Command } from 'commander';

import { createLogger } from '../../services/logger';
import { checkGuiAvailability } from '../../ui/qt-runtime';
import { resolveArchiveRoot, resolveLegacyCharacterSet } from '../context';
import type { GlobalOptions } from '../context';
import { warnWhenUnlicensed } from './license';
import { runServer } from './serve';

const log = createLogger('loader.cli');

export function registerStart(program: Command, globals: () => GlobalOptions): void {
  program
    .command('start')
    .description('start the loader: the desktop window on a display, otherwise the headless PACS server')
    .option('--headless', 'run the PACS server even when a display is available')
    .action(async (options: { headless?: boolean }) => {
      if (options.headless) {
        log.info('starting the headless PACS server (--headless given)');
        await runServer(globals(), {});
        return;
      }
      const gui = checkGuiAvailability();
      if (!gui.available) {
        log.info(`starting the headless PACS server: the desktop window is unavailable (${gui.reason})`);
        await runServer(globals(), {});
        return;
      }
      warnWhenUnlicensed(globals());
      // Loaded only here, because it loads the NodeGui addon.
      const { openWindow } = await import('../../ui/app');
      // Only a given --legacy-charset is passed, so that a change in the window's settings applies to archives opened later.
      const legacyCharacterSet = globals().legacyCharset !== undefined ? resolveLegacyCharacterSet(globals()) : undefined;
      await openWindow({ paths: gui.paths, configDir: globals().configDir, archiveRoot: resolveArchiveRoot(globals()), legacyCharacterSet });
      // Qt widgets still exist after the window closes, and a natural exit then aborts the process.
      process.exit(0);
    });
}
