/**
 * Layout of the Russian window under Xvfb, where no window manager sizes
 * windows: the license window and the Fill dialog must show all of their
 * content, with their buttons inside the window.
 */
import { createLoaderDirs, freePort, makeTempDir, runLoader } from '../support/peers';
import type { ManagedProcess } from '../support/peers';
import { describeWhenGuiAvailable } from './gui-prerequisites';
import { setLoaderSettings, startLoaderWindow, startWindowDisplay } from './window-driver';
import type { WindowDriver } from './window-driver';

const describeWithGui = describeWhenGuiAvailable('test/ui/window-layout', ['Xvfb', 'xdotool', 'import']);

describeWithGui('window layout in Russian', () => {
  const dirs = createLoaderDirs('ui-layout');
  const workDir = makeTempDir('ui-layout-x');
  let driver: WindowDriver;
  let xvfb: ManagedProcess;
  let loader: ManagedProcess;

  beforeAll(async () => {
    // The Fill dialog lists this node; nothing connects to it.
    const added = await runLoader(['nodes', 'add', 'store', '--aet', 'DESTSCP', '--host', '127.0.0.1', '--port', '11104'], { dirs });
    expect({ code: added.code, stderr: added.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    ({ driver, xvfb } = await startWindowDisplay(workDir));
    await setLoaderSettings(dirs, {
      'pacs.port': String(await freePort()),
      'pacs.host': '127.0.0.1',
      'pacs.startWithWindow': 'off',
      'interface.trayIcon': 'off',
      'interface.language': 'ru',
    });
    loader = await startLoaderWindow(driver, { name: 'loader-layout', dirs, workDir });
  }, 120_000);

  afterAll(async () => {
    await loader?.stop();
    await xvfb?.stop();
  });

  test('license window holds its buttons', async () => {
    await driver.waitForActiveWindow('license-window', 30_000);
    try {
      const window = await driver.waitForStill('license-window');
      const windowBottom = window.y + window.height;
      for (const name of ['license-choose', 'license-cancel', 'license-continue']) {
        const button = driver.widget(name)!;
        const bottom = button.y + button.height;
        // A failure shows the button and its bottom edge next to the window's.
        expect({ name, bottom }).toEqual({ name, bottom: Math.min(bottom, windowBottom) });
      }
    } finally {
      // The next tests need the main window, also when this one fails.
      driver.key('Escape');
      await driver.waitForGone('license-window');
    }
  }, 60_000);

  test('Fill dialog says what OK does', async () => {
    await driver.click('left-fill');
    const window = await driver.waitForStill('fill-dialog');
    const text = driver.widget('fill-text');
    expect(text?.text).toBe('В списке сохранённые узлы PACS, источники SSH и локальный архив. ОК заполнит поля подключения этой панели выбранным расположением, а подключит к нему кнопка «Подключить».');
    // Every line of the text is shown: the label is at least as high as the wrapped lines need.
    const lineHeight = driver.widget('fill-locations')!.height / 2;
    expect(text!.height).toBeGreaterThanOrEqual(Math.ceil(text!.textWidth! / text!.width) * lineHeight);
    const ok = driver.widget('fill-ok')!;
    const bottom = ok.y + ok.height;
    expect(bottom).toBeLessThanOrEqual(window.y + window.height);
    // The window ends below its buttons with a margin, not with rows of empty space.
    expect(window.y + window.height - bottom).toBeLessThanOrEqual(20);
    driver.key('Escape');
    await driver.waitForGone('fill-dialog');
  }, 60_000);
});
