/**
 * Layout of the Russian window under Xvfb, where no window manager sizes
 * windows: the license window and the Fill dialog must show all of their
 * content, with their buttons inside the window.
 */
import { runLoader } from '../support/peers';
import { describeWhenGuiAvailable } from './gui-prerequisites';
import { useWindowSession } from './window-driver';

const describeWithGui = describeWhenGuiAvailable('test/ui/window-layout', ['Xvfb', 'xdotool', 'import']);

describeWithGui('window layout in Russian', () => {
  const session = useWindowSession('layout', {
    language: 'ru',
    closeLicense: false,
    // The Fill dialog lists this node; nothing connects to it.
    prepare: async ({ dirs }) => {
      const added = await runLoader(['nodes', 'add', 'store', '--aet', 'DESTSCP', '--host', '127.0.0.1', '--port', '11104'], { dirs });
      expect({ code: added.code, stderr: added.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    },
  });

  test('license window holds its buttons', async () => {
    await session.driver.waitForActiveWindow('license-window', 30_000);
    try {
      const window = await session.driver.waitForStill('license-window');
      const windowBottom = window.y + window.height;
      for (const name of ['license-choose', 'license-cancel', 'license-continue']) {
        const button = session.driver.widget(name)!;
        const bottom = button.y + button.height;
        // A failure shows the button and its bottom edge next to the window's.
        expect({ name, bottom }).toEqual({ name, bottom: Math.min(bottom, windowBottom) });
      }
    } finally {
      // The next tests need the main window, also when this one fails.
      session.driver.key('Escape');
      await session.driver.waitForGone('license-window');
    }
  }, 60_000);

  test('Fill dialog says what OK does', async () => {
    await session.driver.click('left-fill');
    const window = await session.driver.waitForStill('fill-dialog');
    const text = session.driver.widget('fill-text');
    expect(text?.text).toBe('В списке сохранённые узлы PACS, источники SSH и локальный архив. ОК заполнит поля подключения этой панели выбранным расположением, а подключит к нему кнопка «Подключить».');
    // Every line of the text is shown: the label is at least as high as the wrapped lines need.
    const lineHeight = session.driver.widget('fill-locations')!.height / 2;
    expect(text!.height).toBeGreaterThanOrEqual(Math.ceil(text!.textWidth! / text!.width) * lineHeight);
    const ok = session.driver.widget('fill-ok')!;
    const bottom = ok.y + ok.height;
    expect(bottom).toBeLessThanOrEqual(window.y + window.height);
    // The window ends below its buttons with a margin, not with rows of empty space.
    expect(window.y + window.height - bottom).toBeLessThanOrEqual(20);
    session.driver.key('Escape');
    await session.driver.waitForGone('fill-dialog');
  }, 60_000);
});
