/**
 * The settings window in Russian with 24 registered locations under Xvfb: the
 * window stays on the screen and the list of locations scrolls, so the fields
 * to add a location, the message and Close stay reachable. Errors that only
 * the settings service finds (an invalid host, a name or AE title in use) show
 * in Russian, and a location that `loader nodes add` registers while the
 * window runs shows when the settings window opens again.
 */
import * as fs from 'fs';
import * as path from 'path';

import { runLoader } from '../support/loader';
import { translator } from '../../src/ui/i18n';
import { describeWhenGuiAvailable } from './gui-prerequisites';
import { useWindowSession } from './window-driver';

const describeWithGui = describeWhenGuiAvailable('test/ui/settings-window-fit', ['Xvfb', 'xdotool', 'import']);

const ru = translator('ru');

/** Height of the Xvfb screen that startXvfb in window-driver.ts starts, in pixels. */
const SCREEN_HEIGHT = 900;

const NODE_COUNT = 24;

describeWithGui('settings window with many locations', () => {
  const session = useWindowSession('settings-fit', {
    language: 'ru',
    // `loader nodes import` registers the locations in one run before the window starts.
    prepare: async (prepared) => {
      const pacs = Array.from({ length: NODE_COUNT }, (_, index) => ({ name: `NODE${index + 1}`, aeTitle: `AE${index + 1}`, host: '127.0.0.1', port: 14_000 + index }));
      const file = path.join(prepared.workDir, 'locations.json');
      fs.writeFileSync(file, JSON.stringify({ format: 'sciberia-loader-locations', version: 1, pacs, ssh: [] }));
      const result = await runLoader(['nodes', 'import', file], { dirs: prepared.dirs });
      expect(result.code).toBe(0);
    },
  });

  /** Opens the settings window on the Locations tab. */
  const openLocations = async () => {
    await session.driver.waitForStill('open-settings');
    await session.driver.click('open-settings');
    await session.driver.waitForActiveWindow('settings-window');
    await session.driver.focusByKey('settings-aet');
    session.driver.key('ctrl+Tab');
    await session.driver.focusByKey('settings-tray-icon');
    session.driver.key('ctrl+Tab');
    await session.driver.waitFor('location-name', (field) => field.focused, 5_000, 'focused');
  };
  const close = async () => {
    await session.driver.click('settings-close');
    await session.driver.waitForGone('settings-window');
  };
  /** Types a new location and presses Add. */
  const add = async (name: string, address: string) => {
    await session.driver.typeInto('location-name', name);
    await session.driver.typeInto('location-address', address);
    await session.driver.click('location-add');
  };
  /** Checks that a widget ends above the screen's bottom edge and above the Close button. */
  const expectReachable = (name: string) => {
    const widget = session.driver.widget(name);
    const closeButton = session.driver.widget('settings-close');
    expect(widget).toBeDefined();
    expect(closeButton).toBeDefined();
    expect(widget!.y + widget!.height).toBeLessThanOrEqual(closeButton!.y);
    expect(closeButton!.y + closeButton!.height).toBeLessThanOrEqual(SCREEN_HEIGHT);
  };

  test('window fits the screen', async () => {
    await openLocations();
    const window = await session.driver.waitForStill('settings-window');
    expect(window.y + window.height).toBeLessThanOrEqual(SCREEN_HEIGHT);
    for (const name of ['location-name', 'location-address', 'location-add', 'location-message']) expectReachable(name);

    // The list is lower than its rows, so it scrolls. The first row shows, and the last is below the list's edge.
    const list = session.driver.widget('location-list');
    const rows = session.driver.widget('location-rows');
    expect(list).toBeDefined();
    expect(rows).toBeDefined();
    expect(rows!.height).toBeGreaterThan(list!.height);
    expect(session.driver.widget('location-remove-NODE1')!.y).toBeGreaterThanOrEqual(list!.y);
    expect(session.driver.widget(`location-remove-NODE${NODE_COUNT}`)!.y).toBeGreaterThan(list!.y + list!.height);
    // The Remove buttons line up at the list's right edge instead of following each name.
    expect(session.driver.widget('location-remove-NODE1')!.x).toBe(session.driver.widget(`location-remove-NODE${NODE_COUNT}`)!.x);
    expect(session.driver.widget('location-remove-NODE1')!.x).toBeGreaterThan(list!.x + list!.width / 2);
    await close();
  }, 60_000);

  test('service errors show in Russian', async () => {
    await openLocations();
    const cases = [
      { name: 'WRONG1', address: 'WRONG1@10.999.1.1:104', text: ru('panel.invalidHost', { host: '10.999.1.1' }) },
      { name: 'node3', address: 'NEWAE@127.0.0.1:104', text: ru('settings.nameTaken', { name: 'node3' }) },
      { name: 'NEWNODE', address: 'AE2@127.0.0.2:104', text: ru('settings.aeTitleTaken', { aeTitle: 'AE2', owner: 'NODE2', host: '127.0.0.1', port: 14_001 }) },
    ];
    for (const { name, address, text } of cases) {
      await add(name, address);
      const expected = ru('settings.locations.rejected', { message: text });
      const message = await session.driver.waitFor('location-message', (label) => label.text === expected, 5_000, expected);
      expect(message.text).not.toMatch(/invalid|already|locations\.pacs/);
      await session.driver.waitForStill('location-message');
      expectReachable('location-message');
    }
    expect(ru('settings.nameTaken', { name: 'node3' })).toBe('Название «node3» уже занято другим расположением: выберите другое название или сначала удалите то расположение');
    await close();
  }, 60_000);

  test('reopened window reads CLI changes', async () => {
    const result = await runLoader(['nodes', 'add', 'FROMCLI', '--aet', 'CLIAE', '--host', '127.0.0.1', '--port', '14100'], { dirs: session.dirs });
    expect(result.code).toBe(0);
    await openLocations();
    await session.driver.waitFor('location-remove-FROMCLI', () => true, 5_000, 'the location added with the CLI');
    await close();
  }, 60_000);
});
