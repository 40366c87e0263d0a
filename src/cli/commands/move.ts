/**
 * `loader move`: as `loader get`, with C-MOVE tried first. The node sends the
 * instances to our AE title at pacs.moveScuPort, where a temporary server
 * stores them in the archive, so the node must know that AE title and port.
 */
import type { Command } from 'commander';

import type { GlobalOptions } from '../context';
import { registerRetrieveCommand } from './get';

export function registerMove(program: Command, globals: () => GlobalOptions): void {
  registerRetrieveCommand(program, globals, 'move');
}
