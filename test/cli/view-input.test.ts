/**
 * `loader view` checks its input before the display: a Study Instance UID
 * that the archive lacks is reported even where no display is available.
 */
import { LocalArchive } from '../../src/services/archive';
import { corpusFile } from '../support/corpus';
import { createLoaderDirs, loaderIsBuilt, runLoader } from '../support/loader';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

/** Environment without any display, so the viewer window cannot open. */
const NO_DISPLAY = { DISPLAY: '', WAYLAND_DISPLAY: '', QT_QPA_PLATFORM: '' };

describeBuilt('view input before display', () => {
  test('unknown study reported first', async () => {
    const dirs = createLoaderDirs('view-input');
    LocalArchive.open(dirs.archiveDir).close();

    const result = await runLoader(['view', '1.2.3.999'], { dirs, env: NO_DISPLAY });

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`study 1.2.3.999 is not in the archive at ${dirs.archiveDir}; list its studies with "loader studies"`);
    expect(result.stderr).not.toContain('display');
  });

  test('archived study reaches display check', async () => {
    const dirs = createLoaderDirs('view-input');
    const file = corpusFile('charset-iso-ir-100');
    const archive = LocalArchive.open(dirs.archiveDir);
    try {
      expect((await archive.importFile(file.absolutePath, { copy: true })).outcome).toBe('stored');
    } finally {
      archive.close();
    }

    const result = await runLoader(['view', file.studyInstanceUid!], { dirs, env: NO_DISPLAY });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cannot open the viewer window');
    expect(result.stderr).not.toContain('is not in the archive');
  });

  test('missing archive folder reported', async () => {
    const dirs = createLoaderDirs('view-input');

    const result = await runLoader(['--archive', `${dirs.root}/nowhere`, 'view', '1.2.3.999'], { dirs, env: NO_DISPLAY });

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`archive folder ${dirs.root}/nowhere does not exist`);
  });
});
