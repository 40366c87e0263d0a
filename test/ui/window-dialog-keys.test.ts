/**
 * Return in the desktop window's dialogs under Xvfb, in Russian: the dialogs
 * are plain top-level windows, not QDialog, so Qt itself gives Return no
 * meaning there. The window's server stays off, so the test needs no port.
 */

import { createLoaderDirs, makeTempDir } from '../support/peers';
import type { ManagedProcess } from '../support/peers';
import { describeWhenGuiAvailable } from './gui-prerequisites';
import { setLoaderSettings, sleep, startLoaderWindow, startWindowDisplay } from './window-driver';
import type { WindowDriver } from './window-driver';

const describeWithGui = describeWhenGuiAvailable('test/ui/window-dialog-keys', ['Xvfb', 'xdotool', 'import']);

describeWithGui('Return in dialogs', () => {
  const dirs = createLoaderDirs('ui-dialog-keys');
  const workDir = makeTempDir('ui-dialog-keys-x');
  let driver: WindowDriver;
  let xvfb: ManagedProcess;
  let loader: ManagedProcess;

  beforeAll(async () => {
    ({ driver, xvfb } = await startWindowDisplay(workDir));
    await setLoaderSettings(dirs, {
      'pacs.startWithWindow': 'off',
      'interface.language': 'ru',
      'interface.trayIcon': 'off',
    });
    loader = await startLoaderWindow(driver, { name: 'loader-dialog-keys', dirs, workDir });
  }, 120_000);

  afterAll(async () => {
    await loader?.stop();
    await xvfb?.stop();
  });

  test('Return presses focused Continue', async () => {
    await driver.waitForActiveWindow('license-window', 30_000);
    await driver.focusByKey('license-continue');

    driver.key('Return');
    await driver.waitForGone('license-window');
    await driver.waitForActiveWindow('main-window');
  }, 60_000);

  test('Return presses focused Cancel', async () => {
    await driver.click('left-fill');
    await driver.waitForActiveWindow('fill-dialog');
    await driver.focusByKey('fill-cancel');

    driver.key('Return');
    await driver.waitForGone('fill-dialog');
    await driver.waitForActiveWindow('main-window');
  }, 60_000);

  test('Return in a field changes nothing', async () => {
    await driver.click('open-settings');
    await driver.waitForActiveWindow('settings-window');
    await driver.focusByKey('settings-aet');

    driver.key('Return');
    await sleep(500);
    expect(driver.widget('settings-window')).toBeDefined();
    expect(driver.focusedWidget()).toBe('settings-aet');

    await driver.focusByKey('settings-close');
    driver.key('KP_Enter');
    await driver.waitForGone('settings-window');
  }, 60_000);
});
