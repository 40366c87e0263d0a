/**
 * Return in the desktop window's dialogs under Xvfb, in Russian: the dialogs
 * are plain top-level windows, not QDialog, so Qt itself gives Return no
 * meaning there. The window's server stays off.
 */

import { describeWhenGuiAvailable } from './gui-prerequisites';
import { sleep, useWindowSession } from './window-driver';

const describeWithGui = describeWhenGuiAvailable('test/ui/window-dialog-keys', ['Xvfb', 'xdotool', 'import']);

describeWithGui('Return in dialogs', () => {
  const session = useWindowSession('dialog-keys', { language: 'ru', closeLicense: false });

  test('Return presses focused Continue', async () => {
    await session.driver.waitForActiveWindow('license-window', 30_000);
    await session.driver.focusByKey('license-continue');

    session.driver.key('Return');
    await session.driver.waitForGone('license-window');
    await session.driver.waitForActiveWindow('main-window');
  }, 60_000);

  test('Return presses focused Cancel', async () => {
    await session.driver.click('left-fill');
    await session.driver.waitForActiveWindow('fill-dialog');
    await session.driver.focusByKey('fill-cancel');

    session.driver.key('Return');
    await session.driver.waitForGone('fill-dialog');
    await session.driver.waitForActiveWindow('main-window');
  }, 60_000);

  test('Return in a field changes nothing', async () => {
    await session.driver.click('open-settings');
    await session.driver.waitForActiveWindow('settings-window');
    await session.driver.focusByKey('settings-aet');

    session.driver.key('Return');
    await sleep(500);
    expect(session.driver.widget('settings-window')).toBeDefined();
    expect(session.driver.focusedWidget()).toBe('settings-aet');

    await session.driver.focusByKey('settings-close');
    session.driver.key('KP_Enter');
    await session.driver.waitForGone('settings-window');
  }, 60_000);
});
