/**
 * The settings and license windows under Xvfb, in Russian: messages show in
 * full, the Locations tab stays shown after a location is added, and the
 * Locations errors are translated. The window is driven with xdotool as in
 * window.test.ts. With LOADER_UI_SCREENSHOTS=DIR the tests save screenshots there.
 */
import * as fs from 'fs';
import * as path from 'path';

import { createLoaderDirs, freePort, makeTempDir } from '../support/peers';
import type { ManagedProcess } from '../support/peers';
import { translator } from '../../src/ui/i18n';
import { describeWhenGuiAvailable } from './gui-prerequisites';
import { setLoaderSettings, sleep, startLoaderWindow, startWindowDisplay } from './window-driver';
import type { WindowDriver } from './window-driver';

const SCREENSHOTS = process.env.LOADER_UI_SCREENSHOTS;

const describeWithGui = describeWhenGuiAvailable('test/ui/settings-window', ['Xvfb', 'xdotool', 'import']);

const ru = translator('ru');

describeWithGui('settings window in Russian', () => {
  const dirs = createLoaderDirs('ui-settings');
  const workDir = makeTempDir('ui-settings-x');
  let xvfb: ManagedProcess;
  let loader: ManagedProcess;
  let driver: WindowDriver;

  const screenshot = (name: string, windowId: string) => {
    if (SCREENSHOTS) driver.screenshot(path.join(SCREENSHOTS, name), windowId);
  };
  /** Checks that a label lies inside its window, so Qt cannot clip it at the window's edge. */
  const expectInsideWindow = async (name: string) => {
    // A label that was just mounted still has Qt's default geometry (640x480) until its window lays it out.
    await driver.waitForStill(name);
    const widgets = driver.dump().widgets;
    const label = widgets[name];
    const window = widgets[label.window];
    expect(label.x + label.width).toBeLessThanOrEqual(window.x + window.width);
    expect(label.y + label.height).toBeLessThanOrEqual(window.y + window.height);
  };

  beforeAll(async () => {
    ({ driver, xvfb } = await startWindowDisplay(workDir, 'xvfb-settings'));
    await setLoaderSettings(dirs, {
      'interface.language': 'ru',
      'interface.trayIcon': 'off',
      // The window starts the loader's PACS server, so it gets a free port on loopback instead of the default 11112.
      'pacs.port': String(await freePort()),
      'pacs.host': '127.0.0.1',
    });
    loader = await startLoaderWindow(driver, { name: 'loader-settings-window', dirs, workDir });
    await driver.waitFor('main-window', () => true, 60_000);
  }, 120_000);

  afterAll(async () => {
    await loader?.stop();
    await xvfb?.stop();
  });

  test('license text is translated', async () => {
    const text = await driver.waitFor('license-text');
    expect(text.text).toBe(ru('license.missing'));
    await expectInsideWindow('license-text');
    screenshot('license-ru.png', 'license-window');
    await driver.click('license-cancel');
    await driver.waitForGone('license-window');
  });

  test('PACS tab messages show in full', async () => {
    await driver.click('open-settings');
    await driver.waitForActiveWindow('settings-window');
    await driver.typeInto('settings-port', '0');
    await driver.click('settings-save');
    const invalid = await driver.waitFor('settings-message', (label) => label.text === ru('settings.invalidPort', { port: '0' }), 5_000, 'invalid port');
    // NodeGui keeps the width a label had for its first text unless the label has a fixed width.
    expect(invalid.width).toBe(500);
    await expectInsideWindow('settings-message');
    screenshot('settings-invalid-port-ru.png', 'settings-window');

    await driver.typeInto('settings-port', '11112');
    await driver.click('settings-save');
    const saved = await driver.waitFor('settings-message', (label) => label.text === ru('settings.saved'), 5_000, 'saved');
    expect(saved.width).toBe(500);
  });

  test('Locations tab stays after add', async () => {
    await driver.focusByKey('settings-aet');
    driver.key('ctrl+Tab');
    await driver.focusByKey('settings-tray-icon');
    driver.key('ctrl+Tab');
    await driver.waitFor('location-name');
    expect(driver.widget('location-address')?.text).toBe('');

    await driver.typeInto('location-name', 'bad name');
    await driver.typeInto('location-address', 'X@999.1.1.1:0');
    await driver.click('location-add');
    const error = await driver.waitFor('location-message', (label) => label.text === ru('settings.locations.invalidName', { name: 'bad name' }), 5_000, 'invalid name');
    expect(error.text).not.toMatch(/invalid|a node name/);
    await expectInsideWindow('location-message');
    screenshot('settings-location-error-ru.png', 'settings-window');

    await driver.typeInto('location-name', 'orthanc');
    await driver.typeInto('location-address', 'ORTHANC@127.0.0.1:4242');
    await driver.click('location-add');
    // The main window mounts a new settings window; it must open on Locations with the name field focused.
    await driver.waitFor('location-name', (field) => field.focused && field.text === '', 10_000, 'focused and empty');
    await sleep(300);
    expect(driver.widget('settings-aet')).toBeUndefined();
    const stored = JSON.parse(fs.readFileSync(path.join(dirs.configDir, 'settings.json'), 'utf8')) as { locations: { pacs: { name: string }[] } };
    expect(stored.locations.pacs.map((node) => node.name)).toContain('orthanc');

    await driver.type('ignored');
    expect(driver.widget('settings-aet')).toBeUndefined();
    await driver.click('settings-close');
    await driver.waitForGone('settings-window');
  }, 60_000);

  test('settings opens on PACS after Close', async () => {
    await driver.click('open-settings');
    await driver.waitForActiveWindow('settings-window');
    const aeTitle = await driver.waitFor('settings-aet');
    expect(aeTitle.text).not.toContain('ignored');
    await driver.click('settings-close');
    await driver.waitForGone('settings-window');
  });

  test('theme box fits after language switch', async () => {
    const openInterfaceTab = async () => {
      await driver.click('open-settings');
      await driver.waitForActiveWindow('settings-window');
      await driver.focusByKey('settings-aet');
      driver.key('ctrl+Tab');
      await driver.focusByKey('settings-language');
      // The geometry record lags behind the window, so check the focus again once it has settled.
      await sleep(500);
      await driver.focusByKey('settings-language');
    };
    await openInterfaceTab();
    const russianWidth = (await driver.waitFor('settings-theme', (box) => box.text === 'Светлая', 5_000, 'Светлая')).width;

    // A box first shown in English was sized for "Light" and cut "Светлая" after the switch.
    await driver.focusByKey('settings-language');
    driver.key('Home');
    await driver.waitFor('settings-theme', (box) => box.text === 'Light', 5_000, 'Light');
    await driver.click('settings-close');
    await driver.waitForGone('settings-window');
    await openInterfaceTab();
    const englishWidth = (await driver.waitFor('settings-theme', (box) => box.text === 'Light', 5_000, 'Light')).width;
    await driver.focusByKey('settings-language');
    driver.key('End');
    await driver.waitFor('settings-theme', (box) => box.text === 'Светлая', 5_000, 'Светлая');
    await sleep(300);
    screenshot('settings-interface-ru.png', 'settings-window');

    expect(englishWidth).toBeLessThan(russianWidth);
    // The geometry file can lag behind the relayout under load, so the test waits for the width. A box that stays cut still fails.
    const switched = await driver.waitFor('settings-theme', (box) => box.width >= russianWidth, 5_000, `width ${russianWidth}`);
    expect(switched.width).toBeGreaterThanOrEqual(russianWidth);
    await driver.click('settings-close');
    await driver.waitForGone('settings-window');
  }, 60_000);
});
