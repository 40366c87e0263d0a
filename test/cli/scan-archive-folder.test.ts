/**
 * `loader scan` of the archive folder itself, or of a folder inside it. The
 * scan skips the archive, so it warns and names `loader reindex`.
 */
import path from 'node:path';

import { corpusFile, loaderIsBuilt, runLoader, type LoaderDirs } from '../support/peers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

const WARNING = 'A given path is inside the archive folder, which scan skips because its files are indexed already';

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

  test('other folder does not warn', async () => {
    const result = await runLoader(['scan', path.dirname(ct.absolutePath)], { dirs });

    expect(result.stderr).not.toContain(WARNING);
  });
});
