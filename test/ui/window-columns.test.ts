/**
 * Column widths of the study tables at startup, before any panel connects:
 * every column shows its whole header text, also in the empty PACS table,
 * whose columns are fitted only when it first appears. The Russian headers
 * are the longer ones.
 */
import { createLoaderDirs, freePort, makeTempDir } from '../support/peers';
import type { ManagedProcess } from '../support/peers';
import { describeWhenGuiAvailable } from './gui-prerequisites';
import { setLoaderSettings, sleep, startLoaderWindow, startWindowDisplay } from './window-driver';
import type { WindowDriver } from './window-driver';

const describeWithGui = describeWhenGuiAvailable('test/ui/window-columns', ['Xvfb', 'xdotool', 'import']);

describeWithGui.each(['ru', 'en'])('table columns in language %s', (language) => {
  const dirs = createLoaderDirs(`ui-columns-${language}`);
  const workDir = makeTempDir(`ui-columns-${language}-x`);
  let driver: WindowDriver;
  let xvfb: ManagedProcess;
  let loader: ManagedProcess;

  beforeAll(async () => {
    ({ driver, xvfb } = await startWindowDisplay(workDir));
    await setLoaderSettings(dirs, {
      'pacs.port': String(await freePort()),
      'pacs.host': '127.0.0.1',
      'pacs.startWithWindow': 'off',
      'interface.trayIcon': 'off',
      'interface.language': language,
    });
    loader = await startLoaderWindow(driver, { name: `loader-columns-${language}`, dirs, workDir });
    // Without a license the window opens the license window first, in front of the tables.
    await driver.waitForActiveWindow('license-window', 30_000);
    driver.key('Escape');
    await driver.waitForGone('license-window');
  }, 120_000);

  afterAll(async () => {
    await loader?.stop();
    await xvfb?.stop();
  });

  test.each(['left-table', 'right-table'])('%s columns show their headers', async (name) => {
    await driver.waitForStill(name);
    // The geometry file is written every 200 ms, so this reads widths that the window kept for several writes.
    await sleep(1_000);
    const table = driver.widget(name)!;
    expect(table.rows).toBe(0);
    expect(table.headerWidths).toHaveLength(5);
    expect(table.columnWidths).toHaveLength(5);
    table.headerWidths!.forEach((headerWidth, column) => {
      const width = table.columnWidths![column];
      // A failure shows the column and its width next to the width its header text needs.
      expect({ column, width }).toEqual({ column, width: Math.max(width, headerWidth) });
    });
  }, 60_000);
});
