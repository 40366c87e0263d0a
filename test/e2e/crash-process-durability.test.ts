/**
 * kill -9 of `loader serve --durability process-crash` right after storescu
 * got its last C-STORE response. Index rows of this durability are committed
 * up to 20 ms after the response (index-writer.ts), so the kill may land
 * before some commits. After a restart on the same archive, every stored file
 * is indexed and .incoming is empty, whichever way the race went.
 */
import Database from 'better-sqlite3';
import * as fs from 'fs';
import * as path from 'path';

import { LoaderServer, corpusSamples, listFiles, startLoader } from '../support/peers';
import { storeWithOwnSyntax } from './helpers';
import { incomingLeftovers } from '../support/incoming';

const stored = corpusSamples((file) => file.kind === 'mr-volume');

let loader: LoaderServer;
let committedBeforeRestart: number;

function indexedPaths(archiveDir: string): string[] {
  const db = new Database(path.join(archiveDir, 'index.sqlite'), { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT path FROM instances').all() as { path: string }[];
    return rows.map((row) => path.resolve(archiveDir, row.path)).sort();
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  loader = await startLoader(['--durability', 'process-crash'], { aeTitle: 'LOADER' });
  const store = await storeWithOwnSyntax(loader, stored);
  // SIGKILL to the process group that startProcess created for `loader serve`.
  process.kill(-loader.process.pid, 'SIGKILL');
  await loader.process.exited;
  if (store.code !== 0) throw new Error(`storing the corpus failed: ${store.stderr.slice(-2000)}`);
  committedBeforeRestart = indexedPaths(loader.dirs.archiveDir).length;
}, 120_000);

describe("kill -9 of 'process-crash' after the last C-STORE response", () => {
  let restarted: LoaderServer;

  beforeAll(async () => {
    restarted = await startLoader(['--durability', 'process-crash'], { aeTitle: 'LOADER', dirs: loader.dirs });
  });

  afterAll(async () => {
    await restarted?.stop();
  });

  test('every stored file indexed', () => {
    const dcmFiles = listFiles(loader.dirs.archiveDir).filter((file) => file.endsWith('.dcm') && !file.includes('/.'));

    expect(dcmFiles).toHaveLength(stored.length);
    expect(indexedPaths(loader.dirs.archiveDir)).toEqual(dcmFiles);
    expect(committedBeforeRestart).toBeLessThanOrEqual(stored.length);
  });

  test('restart indexes uncommitted rows', () => {
    const recovered = /Indexed stored files whose index commit was interrupted.*count=(\d+)/.exec(restarted.readLog());

    expect(Number(recovered?.[1] ?? 0)).toBe(stored.length - committedBeforeRestart);
  });

  test('incoming folder is empty', () => {
    expect(incomingLeftovers(loader.dirs.archiveDir)).toEqual([]);
    expect(fs.existsSync(path.join(loader.dirs.archiveDir, 'index.sqlite'))).toBe(true);
  });
});
