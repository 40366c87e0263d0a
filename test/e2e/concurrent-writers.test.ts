/**
 * Several loader processes using one archive at once: `loader serve`
 * receiving from storescu while two `loader scan --import` run. SQLite lets
 * one writer in at a time, and each must wait for the lock instead of failing
 * with "database is locked". `loader reindex`, which replaces the index
 * file, must refuse while the server has the archive open.
 */
import * as fs from 'fs';
import * as path from 'path';

import { readDicomFileHeaderSync } from '../../src/dicom/file-reader';
import { Tags } from '../../src/dicom/tags';
import { CT_SMALL } from '../archive/fixtures';
import { LoaderServer, makeTempDir, runLoader, startLoader, storeFiles } from '../support/peers';
import { listStudies } from './helpers';

const FILES_PER_WRITER = 150;

/**
 * Writes `count` copies of `source` into `dir`, each with its own Study,
 * Series and SOP Instance UID. The new UIDs have the lengths of the old ones,
 * so the copies differ from `source` only in those bytes.
 */
function uniqueCopies(source: string, dir: string, count: number, seed: number): string[] {
  const header = readDicomFileHeaderSync(source);
  const original = fs.readFileSync(source);
  const uids = [Tags.StudyInstanceUID, Tags.SeriesInstanceUID, Tags.SOPInstanceUID].map((tag) => header.dataset.getString(tag)!);
  fs.mkdirSync(dir, { recursive: true });

  const files: string[] = [];
  for (let index = 0; index < count; index++) {
    let copy = original.toString('latin1');
    uids.forEach((uid, position) => {
      const digits = `${position + 7}${seed}${String(index).padStart(6, '0')}`;
      const replacement = `2.25.${digits.padEnd(uid.length - 5, '1')}`;
      copy = copy.split(uid).join(replacement);
    });
    const file = path.join(dir, `${String(index).padStart(4, '0')}.dcm`);
    fs.writeFileSync(file, Buffer.from(copy, 'latin1'));
    files.push(file);
  }
  return files;
}

let loader: LoaderServer;
let sent: string[];
const scanFolders: string[] = [];

beforeAll(async () => {
  const work = makeTempDir('concurrent-writers');
  sent = uniqueCopies(CT_SMALL, path.join(work, 'sent'), FILES_PER_WRITER, 1);
  for (const seed of [2, 3]) {
    const folder = path.join(work, `scanned-${seed}`);
    uniqueCopies(CT_SMALL, folder, FILES_PER_WRITER, seed);
    scanFolders.push(folder);
  }
  loader = await startLoader(['--durability', 'process-crash']);
}, 120_000);

afterAll(async () => {
  await loader?.stop();
});

describe('three processes writing one archive', () => {
  let results: { code: number | null; stderr: string }[];

  beforeAll(async () => {
    results = await Promise.all([
      storeFiles(loader, sent, { timeoutMs: 120_000 }),
      ...scanFolders.map((folder) => runLoader(['scan', '--import', folder], { dirs: loader.dirs, timeoutMs: 120_000 })),
    ]);
  }, 180_000);

  test('every writer succeeds', () => {
    expect(results.map((result) => result.code)).toEqual([0, 0, 0]);
    expect(results.map((result) => result.stderr).join('\n')).not.toMatch(/database is locked/);
  });

  test('every instance indexed', async () => {
    const studies = await listStudies(loader.dirs);
    const instances = studies.reduce((sum, study) => sum + Number(study.numberOfInstances), 0);

    expect(instances).toBe(3 * FILES_PER_WRITER);
    expect(loader.readLog()).not.toMatch(/database is locked|Failed to index/);
  });
});

describe('loader reindex beside loader serve', () => {
  test('refused with the server process named', async () => {
    const result = await runLoader(['reindex'], { dirs: loader.dirs });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`is open in another loader process (PID ${loader.process.pid})`);
    expect(result.stderr).toContain('Stop it, then run loader reindex again');
  });

  test('server keeps its index', async () => {
    const studies = await listStudies(loader.dirs);

    expect(studies.reduce((sum, study) => sum + Number(study.numberOfInstances), 0)).toBe(3 * FILES_PER_WRITER);
  });
});
