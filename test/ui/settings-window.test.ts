/**
 * The settings and license windows under Xvfb, in Russian: messages show in
 * full, the Locations tab stays shown after a location is added, a location
 * is removed only after a confirmation, the Locations errors are translated,
 * and the legacy character set is saved in both languages. The window is
 * driven with xdotool as in window.test.ts. With LOADER_UI_SCREENSHOTS=DIR the tests save screenshots there.
 */
import * as fs from 'fs';
import * as path from 'path';

import { translator } from '../../src/ui/i18n';
import { describeWhenGuiAvailable } from './gui-prerequisites';
import { sleep, useWindowSession } from './window-driver';

const SCREENSHOTS = process.env.LOADER_UI_SCREENSHOTS;

const describeWithGui = describeWhenGuiAvailable('test/ui/settings-window', ['Xvfb', 'xdotool', 'import']);

const ru = translator('ru');
const en = translator('en');

describeWithGui('settings window in Russian', () => {
  // The window starts the loader's PACS server, on the session's free port of 127.0.0.1 instead of the default 11112.
  const session = useWindowSession('settings-window', { language: 'ru', startServer: true, closeLicense: false });

  const screenshot = (name: string, windowId: string) => {
    if (SCREENSHOTS) session.driver.screenshot(path.join(SCREENSHOTS, name), windowId);
  };
  /** Checks that a label lies inside its window, so Qt cannot clip it at the window's edge. */
  const expectInsideWindow = async (name: string) => {
    // A label that was just mounted still has Qt's default geometry (640x480) until its window lays it out.
    await session.driver.waitForStill(name);
    const widgets = session.driver.dump().widgets;
    const label = widgets[name];
    const window = widgets[label.window];
    expect(label.x + label.width).toBeLessThanOrEqual(window.x + window.width);
    expect(label.y + label.height).toBeLessThanOrEqual(window.y + window.height);
  };

  /** Checks that a label ends above the Close button, so the tab area does not clip it. */
  const expectAboveCloseButton = async (name: string) => {
    const label = await session.driver.waitForStill(name);
    const close = await session.driver.waitFor('settings-close');
    expect(label.y + label.height).toBeLessThanOrEqual(close.y);
  };
  /** Returns pacs.legacyCharacterSet from the session's settings file. */
  const storedLegacyCharacterSet = () => {
    const stored = JSON.parse(fs.readFileSync(path.join(session.dirs.configDir, 'settings.json'), 'utf8')) as { pacs: { legacyCharacterSet?: string } };
    return stored.pacs.legacyCharacterSet;
  };

  beforeAll(async () => {
    await session.driver.waitFor('main-window', () => true, 60_000);
  });

  test('license text is translated', async () => {
    const text = await session.driver.waitFor('license-text');
    expect(text.text).toBe(ru('license.missing'));
    await expectInsideWindow('license-text');
    screenshot('license-ru.png', 'license-window');
    await session.driver.click('license-cancel');
    await session.driver.waitForGone('license-window');
  });

  test('PACS tab messages show in full', async () => {
    await session.driver.click('open-settings');
    await session.driver.waitForActiveWindow('settings-window');
    await session.driver.typeInto('settings-port', '0');
    await session.driver.click('settings-save');
    const invalid = await session.driver.waitFor('settings-message', (label) => label.text === ru('settings.invalidPort', { port: '0' }), 5_000, 'invalid port');
    // NodeGui keeps the width a label had for its first text unless the label has a fixed width.
    expect(invalid.width).toBe(500);
    await expectInsideWindow('settings-message');
    screenshot('settings-invalid-port-ru.png', 'settings-window');

    await session.driver.typeInto('settings-port', '11112');
    await session.driver.click('settings-save');
    const saved = await session.driver.waitFor('settings-message', (label) => label.text === ru('settings.saved'), 5_000, 'saved');
    expect(saved.width).toBe(500);
  });

  test('Locations tab stays after add', async () => {
    await session.driver.focusByKey('settings-aet');
    session.driver.key('ctrl+Tab');
    await session.driver.focusByKey('settings-tray-icon');
    session.driver.key('ctrl+Tab');
    await session.driver.waitFor('location-name');
    expect(session.driver.widget('location-address')?.text).toBe('');

    await session.driver.typeInto('location-name', 'bad name');
    await session.driver.typeInto('location-address', 'X@999.1.1.1:0');
    await session.driver.click('location-add');
    const error = await session.driver.waitFor('location-message', (label) => label.text === ru('settings.locations.invalidName', { name: 'bad name' }), 5_000, 'invalid name');
    expect(error.text).not.toMatch(/invalid|a node name/);
    await expectInsideWindow('location-message');
    screenshot('settings-location-error-ru.png', 'settings-window');

    await session.driver.typeInto('location-name', 'orthanc');
    await session.driver.typeInto('location-address', 'ORTHANC@127.0.0.1:4242');
    await session.driver.click('location-add');
    // The main window mounts a new settings window; it must open on Locations with the name field focused.
    await session.driver.waitFor('location-name', (field) => field.focused && field.text === '', 10_000, 'focused and empty');
    await sleep(300);
    expect(session.driver.widget('settings-aet')).toBeUndefined();
    const stored = JSON.parse(fs.readFileSync(path.join(session.dirs.configDir, 'settings.json'), 'utf8')) as { locations: { pacs: { name: string }[] } };
    expect(stored.locations.pacs.map((node) => node.name)).toContain('orthanc');

    await session.driver.type('ignored');
    expect(session.driver.widget('settings-aet')).toBeUndefined();
    await session.driver.click('settings-close');
    await session.driver.waitForGone('settings-window');
  }, 60_000);

  test('settings opens on PACS after Close', async () => {
    await session.driver.click('open-settings');
    await session.driver.waitForActiveWindow('settings-window');
    const aeTitle = await session.driver.waitFor('settings-aet');
    expect(aeTitle.text).not.toContain('ignored');
    await session.driver.click('settings-close');
    await session.driver.waitForGone('settings-window');
  });

  test('location removal asks first', async () => {
    const storedLocations = () => (JSON.parse(fs.readFileSync(path.join(session.dirs.configDir, 'settings.json'), 'utf8')) as { locations: { pacs: { name: string }[] } }).locations.pacs.map((node) => node.name);
    /** Clicks the Remove button of the location added above and waits for the confirmation with Cancel focused. */
    const askToRemove = async () => {
      await session.driver.click('location-remove-orthanc');
      await session.driver.waitForActiveWindow('location-remove-dialog');
      const text = await session.driver.waitFor('location-remove-dialog-text');
      expect(text.text).toBe(ru('settings.locations.removeConfirm', { name: 'orthanc', address: 'ORTHANC@127.0.0.1:4242' }));
      expect(session.driver.widget('location-remove-dialog-ok')?.text).toBe(ru('settings.locations.remove'));
      await session.driver.waitFor('location-remove-dialog-cancel', (button) => button.focused, 5_000, 'focused');
    };
    expect(storedLocations()).toContain('orthanc');

    // The Save button has the focus when the PACS tab is hidden. Qt passes it on to the next widget in the chain, the first Remove button, unless the window moves it.
    await session.driver.click('open-settings');
    await session.driver.waitForActiveWindow('settings-window');
    await session.driver.click('settings-save');
    await session.driver.waitFor('settings-message', (label) => label.text === ru('settings.saved'), 5_000, 'saved');
    session.driver.key('ctrl+Tab');
    await session.driver.waitFor('settings-language', (box) => box.focused, 5_000, 'focused');
    // A focused combo box takes Ctrl+Tab for itself.
    await session.driver.focusByKey('settings-tray-icon');
    session.driver.key('ctrl+Tab');
    await session.driver.waitFor('location-name', (field) => field.focused, 5_000, 'focused');
    expect(session.driver.widget('location-remove-orthanc')?.focused).toBe(false);
    session.driver.key('Return');
    await sleep(500);
    expect(session.driver.widget('location-remove-dialog')).toBeUndefined();
    expect(storedLocations()).toContain('orthanc');

    // Return on the confirmation presses the focused Cancel.
    await askToRemove();
    screenshot('settings-location-remove-ru.png', 'location-remove-dialog');
    session.driver.key('Return');
    await session.driver.waitForGone('location-remove-dialog');
    await session.driver.waitForActiveWindow('settings-window');
    expect(storedLocations()).toContain('orthanc');
    expect(session.driver.widget('location-message')?.text).toBe('');

    await askToRemove();
    await session.driver.click('location-remove-dialog-ok');
    await session.driver.waitForGone('location-remove-dialog');
    const removed = await session.driver.waitFor('location-message', (label) => label.text === ru('settings.locations.removed', { name: 'orthanc' }), 10_000, 'removed');
    expect(removed.text).toBe('Расположение orthanc удалено');
    expect(storedLocations()).not.toContain('orthanc');
    expect(session.driver.widget('location-remove-orthanc')).toBeUndefined();
    await expectInsideWindow('location-message');
    await session.driver.click('settings-close');
    await session.driver.waitForGone('settings-window');
  }, 60_000);

  test('theme box fits after language switch', async () => {
    const openInterfaceTab = async () => {
      await session.driver.click('open-settings');
      await session.driver.waitForActiveWindow('settings-window');
      await session.driver.focusByKey('settings-aet');
      session.driver.key('ctrl+Tab');
      await session.driver.focusByKey('settings-language');
      // The geometry record lags behind the window, so check the focus again once it has settled.
      await sleep(500);
      await session.driver.focusByKey('settings-language');
    };
    await openInterfaceTab();
    const russianWidth = (await session.driver.waitFor('settings-theme', (box) => box.text === 'Светлая', 5_000, 'Светлая')).width;

    // A box first shown in English was sized for "Light" and cut "Светлая" after the switch.
    await session.driver.pressOn('settings-language', 'Home', 'settings-theme', (box) => box.text === 'Light', 'Light');
    await session.driver.click('settings-close');
    await session.driver.waitForGone('settings-window');
    await openInterfaceTab();
    const englishWidth = (await session.driver.waitFor('settings-theme', (box) => box.text === 'Light', 5_000, 'Light')).width;
    await session.driver.pressOn('settings-language', 'End', 'settings-theme', (box) => box.text === 'Светлая', 'Светлая');
    await sleep(300);
    screenshot('settings-interface-ru.png', 'settings-window');

    expect(englishWidth).toBeLessThan(russianWidth);
    // The geometry file can lag behind the relayout under load, so the test waits for the width. A box that stays cut still fails.
    const switched = await session.driver.waitFor('settings-theme', (box) => box.width >= russianWidth, 5_000, `width ${russianWidth}`);
    expect(switched.width).toBeGreaterThanOrEqual(russianWidth);
    await session.driver.click('settings-close');
    await session.driver.waitForGone('settings-window');
  }, 60_000);

  test('legacy character set saves in both languages', async () => {
    /**
     * Presses `key` in the legacy character set box, waits for `label`, saves,
     * and checks the message, the settings file and that the message fits.
     */
    const chooseAndSave = async (key: string, label: string, message: string, stored: string, screenshotName?: string) => {
      await session.driver.focusByKey('settings-legacy-charset');
      session.driver.key(key);
      await session.driver.waitFor('settings-legacy-charset', (record) => record.text === label, 5_000, label);
      await session.driver.click('settings-save');
      const saved = await session.driver.waitFor('settings-message', (record) => record.text === message, 5_000, message);
      expect(saved.width).toBe(500);
      expect(storedLegacyCharacterSet()).toBe(stored);
      await session.driver.waitForStill('settings-message');
      if (screenshotName !== undefined) screenshot(screenshotName, 'settings-window');
      await expectInsideWindow('settings-message');
      await expectAboveCloseButton('settings-message');
    };

    // The previous test leaves the interface in Russian.
    await session.driver.click('open-settings');
    await session.driver.waitForActiveWindow('settings-window');
    // Nothing is stored yet, so the box shows the default of a Russian interface, which the window started with.
    const box = await session.driver.waitFor('settings-legacy-charset', (record) => record.text === ru('settings.legacyCharacterSet.windows-1251'), 5_000, 'Windows-1251');
    expect(box.toolTip).toBe(ru('settings.legacyCharacterSet.toolTip'));
    await expectInsideWindow('settings-legacy-charset');
    await chooseAndSave('Down', ru('settings.legacyCharacterSet.koi8-r'), ru('settings.savedRestart'), 'koi8-r', 'settings-legacy-charset-ru.png');

    // Switch to English on the Interface tab. The reopened window then shows the PACS tab with the stored value.
    await session.driver.focusByKey('settings-aet');
    session.driver.key('ctrl+Tab');
    await session.driver.pressOn('settings-language', 'Home', 'settings-theme', (record) => record.text === 'Light', 'Light');
    await session.driver.click('settings-close');
    await session.driver.waitForGone('settings-window');
    await session.driver.click('open-settings');
    await session.driver.waitForActiveWindow('settings-window');
    await session.driver.waitFor('settings-legacy-charset', (record) => record.text === en('settings.legacyCharacterSet.koi8-r'), 5_000, 'KOI8-R in English');
    await chooseAndSave('Home', en('settings.legacyCharacterSet.latin1'), en('settings.savedRestart'), 'latin1', 'settings-legacy-charset-en.png');

    // Back to the value the window started with, so no restart is pending.
    await chooseAndSave('Down', en('settings.legacyCharacterSet.windows-1251'), en('settings.saved'), 'windows-1251');
    await session.driver.click('settings-close');
    await session.driver.waitForGone('settings-window');
  }, 90_000);
});
