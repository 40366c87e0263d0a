/**
 * The desktop window in Russian under Xvfb with pacs.startWithWindow off: the
 * window opens with its PACS server stopped and gives the reason in the status bar,
 * PACS On starts the server without changing the setting, and the check box
 * in Settings: PACS turns the setting on, so the next window starts the server.
 */
import * as fs from 'fs';
import * as path from 'path';

import { translator } from '../../src/ui/i18n';
import { createLoaderDirs, freePort, makeTempDir, runDcmtk, runLoader } from '../support/peers';
import type { ManagedProcess } from '../support/peers';
import { missingGuiPrerequisites } from './gui-prerequisites';
import { setLoaderSettings, startLoaderWindow, startWindowDisplay } from './window-driver';
import type { WindowDriver } from './window-driver';

const missing = missingGuiPrerequisites(['Xvfb', 'xdotool', 'import', 'echoscu']);
if (missing.length > 0) {
  // eslint-disable-next-line no-console
  console.warn(`test/ui/window-server-off skipped: missing ${missing.join(', ')}; run scripts/setup.sh --test`);
}
const describeWithGui = missing.length > 0 ? describe.skip : describe;

const AE_TITLE = 'LOADEROFF';
const ru = translator('ru');

describeWithGui('window with the server off at start', () => {
  const dirs = createLoaderDirs('ui-off');
  const workDir = makeTempDir('ui-off-x');
  let driver: WindowDriver;
  let xvfb: ManagedProcess;
  let loader: ManagedProcess;
  let serverPort: number;

  const echo = () => runDcmtk('echoscu', ['-to', '5', '-aec', AE_TITLE, '-aet', 'UITEST', '127.0.0.1', String(serverPort)]);
  const storedStartWithWindow = () => (JSON.parse(fs.readFileSync(path.join(dirs.configDir, 'settings.json'), 'utf8')) as { pacs: { startWithWindow?: boolean } }).pacs.startWithWindow;
  const listening = () => ru('server.on', { host: '127.0.0.1', port: serverPort, aeTitle: AE_TITLE });

  /** Starts the window and leaves the license prompt with Esc. */
  const openWindow = async (name: string) => {
    loader = await startLoaderWindow(driver, { name, dirs, workDir });
    await driver.waitForActiveWindow('license-window', 30_000);
    driver.key('Escape');
    await driver.waitForGone('license-window');
    await driver.waitForActiveWindow('main-window');
  };

  beforeAll(async () => {
    ({ driver, xvfb } = await startWindowDisplay(workDir, 'xvfb-off'));
    serverPort = await freePort();
    await setLoaderSettings(dirs, {
      'pacs.port': String(serverPort),
      'pacs.host': '127.0.0.1',
      'pacs.aeTitle': AE_TITLE,
      'pacs.acceptAnyCallingAeTitle': 'on',
      'pacs.startWithWindow': 'off',
      'interface.language': 'ru',
      'interface.trayIcon': 'off',
    });
    await openWindow('loader-server-off');
  }, 120_000);

  afterAll(async () => {
    await loader?.stop();
    await xvfb?.stop();
  });

  test('config show lists the setting', async () => {
    const listing = await runLoader(['config', 'show'], { dirs });
    expect(listing.code).toBe(0);
    expect(listing.stdout).toMatch(/^pacs\.startWithWindow +off +start the server when the desktop window opens/m);
  });

  test('window opens with the server off', async () => {
    const state = await driver.waitFor('server-state', (label) => label.text === ru('server.offAtStart') || label.toolTip === ru('server.offAtStart'), 20_000, 'the server-off text');
    expect(state.textWidth).toBeLessThanOrEqual(state.width);
    expect(driver.widget('server-switch')?.checked).toBe(false);
    expect((await echo()).code).not.toBe(0);
    expect(loader.readLog()).toMatch(/PACS server stays off because pacs\.startWithWindow is off/);
    // The Local panel opens the archive as with the server on.
    const connected = await driver.waitFor('right-connection', (label) => (label.text ?? '').startsWith('Подключено'), 10_000, 'connected');
    expect(connected.text).toBe(`Подключено: ${dirs.archiveDir}`);
  }, 60_000);

  test('PACS On keeps the setting', async () => {
    await driver.click('server-switch');
    await driver.waitFor('server-state', (label) => label.text === listening(), 20_000, 'listening');
    expect((await echo()).code).toBe(0);
    expect(storedStartWithWindow()).toBe(false);

    await driver.click('server-switch');
    await driver.waitFor('server-state', (label) => label.text === ru('server.off'), 20_000, 'stopped');
    expect(storedStartWithWindow()).toBe(false);
  }, 60_000);

  test('settings check box turns it on', async () => {
    await driver.click('open-settings');
    await driver.waitForActiveWindow('settings-window', 15_000);
    const box = await driver.waitFor('settings-start-with-window', (record) => record.checked === false, 5_000, 'unchecked');
    expect(box.text).toBe(ru('settings.startWithWindow'));
    const window = driver.widget('settings-window')!;
    expect(box.x + box.width).toBeLessThanOrEqual(window.x + window.width);

    // QCheckBox toggles only on a click on its box or text, and the layout stretches it wider than both.
    await driver.click('settings-start-with-window', { x: 8, y: Math.floor(box.height / 2) });
    await driver.waitFor('settings-start-with-window', (record) => record.checked === true, 5_000, 'checked');
    // The box takes effect with Save, like the other fields of the tab.
    expect(storedStartWithWindow()).toBe(false);
    await driver.click('settings-save');
    await driver.waitFor('settings-message', (label) => label.text === ru('settings.saved'), 5_000, 'saved');
    expect(storedStartWithWindow()).toBe(true);
    await driver.click('settings-close');
    await driver.waitForGone('settings-window');
    // Saving starts nothing now; the setting applies when the window opens.
    expect(driver.widget('server-state')?.text).toBe(ru('server.off'));
  }, 60_000);

  test('next window starts the server', async () => {
    const status = await loader.stop();
    expect(status).toEqual(expect.objectContaining({ code: 0 }));

    await openWindow('loader-server-on');
    await driver.waitFor('server-state', (label) => label.text === listening(), 20_000, 'listening');
    expect(driver.widget('server-switch')?.checked).toBe(true);
    expect((await echo()).code).toBe(0);
  }, 90_000);
});
