/**
 * `loader start`: the main job. Opens the desktop window when a display is
 * available and runs the headless PACS server otherwise.
 */
import type { Command } from 'commander';

import { createLogger } from '../../services/logger';
import type { GlobalOptions } from '../context';
import { runServer } from './serve';

const log = createLogger('loader.cli');

export function registerStart(program: Command, globals: () => GlobalOptions): void {
  program
    .command('start')
    .description('start the loader: the desktop window on a display, otherwise the headless PACS server')
    .option('--headless', 'run the PACS server even when a display is available')
    .action(async (options: { headless?: boolean }) => {
      const hasDisplay = Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
      if (hasDisplay && !options.headless) {
        // NOTE: the desktop window is not built yet, so a display also gets the headless server.
        log.warn('the desktop window is not available in this version; starting the headless PACS server');
      }
      await runServer(globals(), {});
    });
}
