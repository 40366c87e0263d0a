/**
 * Index rows of the archive folder that point at a symbolic link, as versions
 * before the layout-path check wrote them when a link occupied the layout path
 * of a received instance. The link is no stored copy: a C-STORE from DCMTK
 * storescu stores the received instance as a regular file and corrects the
 * row, and a C-GET, C-MOVE or `loader send` sends nothing through a link but
 * names the path and `loader reindex`. Reindex replaces such a link with a
 * copy of the file it leads to.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CT_SMALL, freshCopy, readInstanceUids } from '../archive/fixtures';
import {
  LoaderServer,
  StorescpHandle,
  associationArgs,
  makeTempDir,
  runDcmtk,
  runLoader,
  startLoader,
  startStorescp,
  storeFiles,
} from '../support/peers';

interface LinkedInstance {
  /** The original file, which storescu sends. */
  source: string;
  /** The layout path, where the symbolic link is. */
  layoutPath: string;
  /** The file outside the archive that the link leads to. */
  target: string;
  uids: { study: string; series: string; sop: string };
}

const LINK_MESSAGE = 'stored file is a symbolic link';

let loader: LoaderServer;
let storescp: StorescpHandle;

/**
 * Stores a fresh instance through storescu, then moves its archive file out
 * of the archive and leaves a symbolic link to it at the layout path, so the
 * index row points at the link.
 */
async function storeThenLink(label: string): Promise<LinkedInstance> {
  const folder = makeTempDir(`archive-link-${label}`);
  const source = freshCopy(CT_SMALL, path.join(folder, 'ct.dcm'));
  const uids = readInstanceUids(source);
  const stored = await storeFiles(loader, [source]);
  if (stored.code !== 0) throw new Error(`storescu failed with ${stored.code}: ${stored.stderr}`);

  const layoutPath = path.join(loader.dirs.archiveDir, uids.study, uids.series, `${uids.sop}.dcm`);
  const target = path.join(folder, 'outside', 'ct.dcm');
  fs.mkdirSync(path.dirname(target));
  fs.renameSync(layoutPath, target);
  fs.symlinkSync(target, layoutPath);
  return { source, layoutPath, target, uids };
}

/** Runs `request` and returns its result with the loader log lines it added. */
async function withLog<T>(request: () => Promise<T>): Promise<{ result: T; log: string }> {
  const before = loader.readLog().length;
  const result = await request();
  return { result, log: loader.readLog().slice(before) };
}

function studyKeys(instance: LinkedInstance): string[] {
  return ['QueryRetrieveLevel=STUDY', `StudyInstanceUID=${instance.uids.study}`].flatMap((key) => ['-k', key]);
}

beforeAll(async () => {
  loader = await startLoader([], { aeTitle: 'LOADER' });
  storescp = await startStorescp({ aeTitle: 'LINKDEST' });
  const add = await runLoader(['nodes', 'add', 'linkdest', '--aet', storescp.aeTitle, '--host', storescp.host, '--port', String(storescp.port)], {
    dirs: loader.dirs,
  });
  if (add.code !== 0) throw new Error(`loader nodes add failed: ${add.stderr}`);
});

afterAll(async () => {
  await Promise.all([loader?.stop(), storescp?.stop()]);
});

describe('C-STORE over a linked row', () => {
  test('stores a regular file', async () => {
    const linked = await storeThenLink('store');

    const { result, log } = await withLog(() => storeFiles(loader, [linked.source]));

    expect(result.code).toBe(0);
    expect(fs.lstatSync(linked.layoutPath).isFile()).toBe(true);
    expect(fs.readFileSync(linked.layoutPath).equals(fs.readFileSync(linked.target))).toBe(true);
    expect(log).toContain('Indexed file is a symbolic link');
    expect(log).toContain(linked.layoutPath);
    const conflicts = path.join(loader.dirs.archiveDir, '.conflicts');
    const keptLinks = fs.readdirSync(conflicts).filter((name) => fs.lstatSync(path.join(conflicts, name)).isSymbolicLink());
    expect(keptLinks.filter((name) => name.startsWith(`${linked.uids.sop}.`))).toHaveLength(1);
  });

  test('stored copy outlives the link target', async () => {
    const linked = await storeThenLink('outlive');
    expect((await storeFiles(loader, [linked.source])).code).toBe(0);
    fs.rmSync(linked.target);
    const outputDir = makeTempDir('getscu-outlive');

    const get = await runDcmtk('getscu', ['-S', '-od', outputDir, ...studyKeys(linked), ...associationArgs(loader, 'GETSCU')]);

    expect(get.code).toBe(0);
    expect(fs.readdirSync(outputDir)).toHaveLength(1);
  });
});

describe('retrieve through a linked row', () => {
  let linked: LinkedInstance;

  beforeAll(async () => {
    linked = await storeThenLink('retrieve');
  });

  test('C-GET sends nothing', async () => {
    const outputDir = makeTempDir('getscu-link');

    const { log } = await withLog(() => runDcmtk('getscu', ['-S', '-od', outputDir, ...studyKeys(linked), ...associationArgs(loader, 'GETSCU')]));

    expect(fs.readdirSync(outputDir)).toEqual([]);
    expect(log).toMatch(/C-GET finished.*completed=0 failed=1/);
    expect(log).toContain(`${LINK_MESSAGE}: ${linked.layoutPath}`);
    expect(log).toContain('loader reindex');
  });

  test('C-MOVE sends nothing', async () => {
    const before = storescp.receivedFiles().length;

    const { log } = await withLog(() => runDcmtk('movescu', ['-S', '-aem', storescp.aeTitle, ...studyKeys(linked), ...associationArgs(loader, 'MOVESCU')]));

    expect(storescp.receivedFiles()).toHaveLength(before);
    expect(log).toMatch(/C-MOVE finished.*completed=0 failed=1/);
    expect(log).toContain(`${LINK_MESSAGE}: ${linked.layoutPath}`);
  });

  test('loader send fails', async () => {
    const before = storescp.receivedFiles().length;

    const send = await runLoader(['send', 'linkdest', '--study-uid', linked.uids.study], { dirs: loader.dirs });

    expect(send.code).toBe(1);
    expect(storescp.receivedFiles()).toHaveLength(before);
    expect(send.stdout).toContain(`${LINK_MESSAGE}: ${linked.layoutPath}`);
    expect(send.stdout).toContain('loader reindex');
  });
});

describe('reindex of a linked row', () => {
  test('replaces the link with a copy', async () => {
    const linked = await storeThenLink('reindex');
    await loader.stop();

    const reindex = await runLoader(['reindex', '--json'], { dirs: loader.dirs });

    expect(fs.lstatSync(linked.layoutPath).isFile()).toBe(true);
    expect(fs.readFileSync(linked.layoutPath).equals(fs.readFileSync(linked.target))).toBe(true);
    expect(fs.existsSync(linked.target)).toBe(true);
    expect(reindex.json<{ skipped: unknown[] }>().skipped).toEqual([]);
    const find = await runLoader(['studies', '--json'], { dirs: loader.dirs });
    expect(find.json<{ studyInstanceUid: string }[]>().map((study) => study.studyInstanceUid)).toContain(linked.uids.study);
  });
});
