/**
 * Keyboard selection in a study table that has no current row yet: the first
 * Down selects the first row, as in other Qt lists. Before, the table kept
 * its first row as the current row after each listing, so Down selected the
 * second row.
 */
import { createLoaderDirs, freePort, makeTempDir, runLoader } from '../support/peers';
import type { ManagedProcess } from '../support/peers';
import { describeWhenGuiAvailable } from './gui-prerequisites';
import { corpusStudyFiles, setLoaderSettings, startLoaderWindow, startWindowDisplay } from './window-driver';
import type { WindowDriver } from './window-driver';

const describeWithGui = describeWhenGuiAvailable('test/ui/window-table-keys', ['Xvfb', 'xdotool', 'import']);

describeWithGui('study table keys', () => {
  const dirs = createLoaderDirs('ui-table-keys');
  const workDir = makeTempDir('ui-table-keys-x');
  let driver: WindowDriver;
  let xvfb: ManagedProcess;
  let loader: ManagedProcess;

  beforeAll(async () => {
    // Three studies in the archive, which the Local panel lists at start.
    for (const name of ['ct-small.dcm', 'mr-small-explicit-le.dcm', 'siemens-csa.dcm']) {
      const imported = await runLoader(['scan', '--import', ...corpusStudyFiles(name)], { dirs });
      if (imported.code !== 0) throw new Error(`loader scan --import of ${name} failed: ${imported.stderr.slice(-1000)}`);
    }
    ({ driver, xvfb } = await startWindowDisplay(workDir));
    await setLoaderSettings(dirs, {
      'pacs.port': String(await freePort()),
      'pacs.host': '127.0.0.1',
      'pacs.startWithWindow': 'off',
      'interface.trayIcon': 'off',
    });
    loader = await startLoaderWindow(driver, { name: 'loader-table-keys', dirs, workDir });
    await driver.waitForActiveWindow('license-window', 30_000);
    driver.key('Escape');
    await driver.waitForGone('license-window');
  }, 120_000);

  afterAll(async () => {
    await loader?.stop();
    await xvfb?.stop();
  });

  test('first Down selects row 1', async () => {
    await driver.waitFor('right-table', (table) => table.rows === 3, 30_000, '3 rows');
    expect(driver.widget('right-table')?.selectedRows).toEqual([]);

    await driver.focusByKey('right-table');
    driver.key('Down');

    await driver.waitFor('right-table', (table) => (table.selectedRows ?? []).length === 1, 5_000, '1 selected row');
    expect(driver.widget('right-table')?.selectedRows).toEqual([0]);
  }, 60_000);
});
