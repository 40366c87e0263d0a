/**
 * kill -9 of `loader serve` while it receives a ~300 MB multi-frame instance.
 * After a restart on the same archive, no partial file remains and every
 * stored file parses and has an index row. The index has no row for the lost
 * instance, and sending it again stores it completely.
 */
import Database from 'better-sqlite3';
import * as fs from 'fs';
import * as path from 'path';

import {
  LoaderServer,
  ManagedProcess,
  associationArgs,
  corpusSamples,
  listFiles,
  makeTempDir,
  runDcmtk,
  sleep,
  startLoader,
  startProcess,
} from '../support/peers';
import { listStudies, readPart10, runPydicom, storeWithOwnSyntax } from './helpers';
import { incomingLeftovers } from '../support/incoming';

const BIG_FILE_MEGABYTES = 300;
const UID_ROOT = '2.25.99887766554433221100';
const BIG_SOP_INSTANCE_UID = `${UID_ROOT}.3`;

const stored = corpusSamples((file) => file.kind === 'mr-volume');

let bigFile: string;
let loader: LoaderServer;
let sender: ManagedProcess;
let incomingBytesAtKill = 0;

/** Returns the size of the largest file in the archive's .incoming folder, 0 when it is empty. */
function largestIncomingFile(archiveDir: string): number {
  const sizes = listFiles(path.join(archiveDir, '.incoming')).map((file) => fs.statSync(file).size);
  return Math.max(0, ...sizes);
}

/** Reads the relative or absolute paths and SOP Instance UIDs of the index's instances. */
function indexedInstances(archiveDir: string): { sopInstanceUid: string; path: string }[] {
  const db = new Database(path.join(archiveDir, 'index.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT sop_instance_uid AS sopInstanceUid, path FROM instances').all() as { sopInstanceUid: string; path: string }[];
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  const dir = makeTempDir('crash-file');
  bigFile = path.join(dir, 'large-multiframe.dcm');
  await runPydicom(['big', bigFile, String(BIG_FILE_MEGABYTES), UID_ROOT], 120_000);

  loader = await startLoader([], { aeTitle: 'LOADER' });
  const store = await storeWithOwnSyntax(loader, stored);
  if (store.code !== 0) throw new Error(`storing the corpus failed: ${store.stderr.slice(-2000)}`);

  sender = startProcess({
    name: 'storescu-large',
    command: 'storescu',
    args: ['-v', ...associationArgs(loader, 'STORESCU'), bigFile],
    dir,
    env: { TCP_NODELAY: '1' },
  });

  // Kill the loader once at least 20 MB of the instance has reached .incoming.
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && sender.exitStatus === undefined) {
    incomingBytesAtKill = largestIncomingFile(loader.dirs.archiveDir);
    if (incomingBytesAtKill > 20 * 1024 * 1024) break;
    await sleep(20);
  }
  // SIGKILL to the process group that startProcess created for `loader serve`.
  process.kill(-loader.process.pid, 'SIGKILL');
  await loader.process.exited;
  await sender.exited;
}, 180_000);

describe('kill -9 during a large C-STORE', () => {
  test('loader was killed mid-transfer', () => {
    expect(incomingBytesAtKill).toBeGreaterThan(20 * 1024 * 1024);
    expect(loader.process.exitStatus?.signal).toBe('SIGKILL');
  });

  describe('after restart', () => {
    let restarted: LoaderServer;

    beforeAll(async () => {
      restarted = await startLoader([], { aeTitle: 'LOADER', dirs: loader.dirs });
    });

    test('incoming folder is empty', () => {
      expect(incomingLeftovers(loader.dirs.archiveDir)).toEqual([]);
    });

    test('every stored file parses', () => {
      const dcmFiles = listFiles(loader.dirs.archiveDir).filter((file) => file.endsWith('.dcm'));
      const broken = dcmFiles.filter((file) => {
        try {
          return readPart10(file).sopInstanceUid === '';
        } catch {
          return true;
        }
      });
      expect(broken).toEqual([]);
      expect(dcmFiles).toHaveLength(stored.length);
    });

    test('every stored file is indexed', () => {
      const indexed = indexedInstances(loader.dirs.archiveDir).map((row) => path.resolve(loader.dirs.archiveDir, row.path)).sort();
      const dcmFiles = listFiles(loader.dirs.archiveDir).filter((file) => file.endsWith('.dcm') && !file.includes('/.'));
      expect(indexed).toEqual(dcmFiles);
    });

    test('lost instance not indexed', async () => {
      const uids = indexedInstances(loader.dirs.archiveDir).map((row) => row.sopInstanceUid);
      expect(uids).not.toContain(BIG_SOP_INSTANCE_UID);
      expect(await listStudies(loader.dirs, ['--patient-id', 'LDR-LARGE'])).toEqual([]);
    });

    test('resend stores it completely', async () => {
      const result = await runDcmtk('storescu', ['-v', ...associationArgs(restarted, 'STORESCU'), bigFile], { timeoutMs: 120_000 });
      expect(result.stderr).toMatch(/Received Store Response \(Success\)/);

      const target = path.join(restarted.dirs.archiveDir, `${UID_ROOT}.1`, `${UID_ROOT}.2`, `${BIG_SOP_INSTANCE_UID}.dcm`);
      expect(fs.existsSync(target)).toBe(true);
      expect(readPart10(target).dataset.equals(readPart10(bigFile).dataset)).toBe(true);
      expect(indexedInstances(restarted.dirs.archiveDir).map((row) => row.sopInstanceUid)).toContain(BIG_SOP_INSTANCE_UID);
      expect(incomingLeftovers(restarted.dirs.archiveDir)).toEqual([]);
    });
  });
});
