/**
 * The files in an archive's .incoming folder, besides the empty files that a
 * running archive creates ahead of transfers (temporary-file-pool.ts).
 */
import * as fs from 'fs';
import * as path from 'path';

import { isUnusedSpare } from '../../src/services/archive/incoming';

/** Names in `archiveRoot`/.incoming, without unused spare files; [] when the folder is missing. */
export function incomingLeftovers(archiveRoot: string): string[] {
  const folder = path.join(archiveRoot, '.incoming');
  if (!fs.existsSync(folder)) return [];
  return fs
    .readdirSync(folder)
    .filter((name) => !isUnusedSpare(path.join(folder, name)))
    .sort();
}
