/**
 * `loader scan` of the archive folder itself, of a folder inside it, or of a
 * folder outside it that holds symbolic links into it. The scan skips the
 * archive, so it warns and names `loader reindex`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { generateUid } from '../../src/dicom/uid';
import { CT_SMALL, freshCopy, readInstanceUids } from '../archive/fixtures';
import { corpusFile, loaderIsBuilt, runLoader, type LoaderDirs } from '../support/peers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

const WARNING = 'A given path is inside the archive folder, which scan skips because its files are indexed already';
const LINK_WARNING = 'A symbolic link leads into the archive folder, which scan skips because its files are indexed already';

describeBuilt('scan of the archive folder', () => {
  const ct = corpusFile('ct');
  let dirs: LoaderDirs;

  beforeAll(async () => {
    const imported = await runLoader(['scan', ct.absolutePath, '--import']);
    expect(imported.code).toBe(0);
    dirs = imported.dirs;
  });

  test('archive root warns about reindex', async () => {
    const result = await runLoader(['scan', dirs.archiveDir], { dirs });

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('scanned 0 files');
    expect(result.stderr).toContain(WARNING);
    expect(result.stderr).toContain('run "loader reindex"');
  });

  test('study folder warns too', async () => {
    const result = await runLoader(['scan', path.join(dirs.archiveDir, ct.studyInstanceUid!)], { dirs });

    expect(result.stderr).toContain(WARNING);
  });

  test('file inside the archive is not indexed', async () => {
    // A file copied by hand into a series folder under another instance's name: scan skips it, and reindex moves it once.
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'scan-archive-folder-'));
    try {
      const external = freshCopy(CT_SMALL, path.join(workDir, 'x.dcm'));
      const uids = readInstanceUids(external);
      const seriesFolder = path.join(dirs.archiveDir, uids.study, uids.series);
      const copy = path.join(seriesFolder, `${generateUid()}.dcm`);
      fs.mkdirSync(seriesFolder, { recursive: true });
      fs.copyFileSync(external, copy);

      const scanned = await runLoader(['scan', copy], { dirs });

      expect(scanned.stderr).toContain(WARNING);
      expect(scanned.stdout).toContain('scanned 0 files');
      const find = await runLoader(['studies', '--json'], { dirs });
      expect(find.json<{ studyInstanceUid: string }[]>().map((study) => study.studyInstanceUid)).not.toContain(uids.study);

      const reindexed = await runLoader(['reindex'], { dirs });

      const layoutPath = path.join(seriesFolder, `${uids.sop}.dcm`);
      expect(reindexed.stdout).toContain(`moved: ${copy}: its UIDs do not match its path; moved to ${layoutPath} and indexed there`);
      expect(reindexed.stdout).not.toContain('duplicate:');
    } finally {
      fs.rmSync(workDir, { recursive: true, force: true });
    }
  });

  test('other folder does not warn', async () => {
    const result = await runLoader(['scan', path.dirname(ct.absolutePath)], { dirs });

    expect(result.stderr).not.toContain(WARNING);
  });
});

describeBuilt('scan of links into the archive folder', () => {
  const ct = corpusFile('ct');
  let dirs: LoaderDirs;
  let workDir: string;
  /** A file copied by hand into a series folder of the archive, which no row lists. */
  let unindexed: string;
  let unindexedUids: { study: string; series: string; sop: string };

  beforeAll(async () => {
    const imported = await runLoader(['scan', ct.absolutePath, '--import']);
    expect(imported.code).toBe(0);
    dirs = imported.dirs;
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'scan-archive-links-'));
    const external = freshCopy(CT_SMALL, path.join(workDir, 'x.dcm'));
    unindexedUids = readInstanceUids(external);
    unindexed = path.join(dirs.archiveDir, unindexedUids.study, unindexedUids.series, `${generateUid()}.dcm`);
    fs.mkdirSync(path.dirname(unindexed), { recursive: true });
    fs.renameSync(external, unindexed);
  });

  afterAll(() => {
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  async function studyUids(): Promise<string[]> {
    const find = await runLoader(['studies', '--json'], { dirs });
    return find.json<{ studyInstanceUid: string }[]>().map((study) => study.studyInstanceUid);
  }

  test('link to a file is skipped', async () => {
    const folder = path.join(workDir, 'file-link');
    const link = path.join(folder, 'IM1');
    fs.mkdirSync(folder);
    fs.symlinkSync(unindexed, link);

    const result = await runLoader(['scan', folder], { dirs });

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('scanned 0 files');
    expect(result.stderr).toContain(LINK_WARNING);
    expect(result.stderr).toContain(link);
    expect(result.stderr).toContain(unindexed);
    expect(result.stderr).toContain('run "loader reindex"');
    expect(await studyUids()).not.toContain(unindexedUids.study);
  });

  test('link to a folder is skipped', async () => {
    // The archive is inside the scanned folder, so the walk would follow a link to one of its study folders.
    const link = path.join(dirs.root, 'study-link');
    const studyFolder = path.join(dirs.archiveDir, unindexedUids.study);
    fs.symlinkSync(studyFolder, link);
    try {
      const result = await runLoader(['scan', dirs.root], { dirs });

      expect(result.code).toBe(0);
      expect(result.stdout).toContain('scanned 0 files');
      expect(result.stdout).toContain(`link not followed: ${link}: symbolic link to ${studyFolder}, inside the archive folder`);
      expect(result.stderr).toContain(LINK_WARNING);
      expect(result.stderr).toContain(link);
      expect(result.stderr).toContain(studyFolder);
      expect(await studyUids()).not.toContain(unindexedUids.study);
    } finally {
      fs.rmSync(link);
    }
  });
});
