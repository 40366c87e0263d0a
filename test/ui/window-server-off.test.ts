/**
 * The desktop window in Russian under Xvfb with pacs.startWithWindow off: the
 * window opens with its PACS server stopped and gives the reason in the status bar,
 * PACS On starts the server without changing the setting, and the check box
 * in Settings: PACS turns the setting on, so the next window starts the server.
 *
 * Orthanc's move destination for the loader's AE title is the window server's
 * port, not pacs.moveScuPort. A C-MOVE retrieve then fails while the server is
 * off, and with the server on it reports the study as received.
 */
import * as fs from 'fs';
import * as path from 'path';

import { translator } from '../../src/ui/i18n';
import { createLoaderDirs, freePort, makeTempDir, runDcmtk, runLoader, startOrthanc } from '../support/peers';
import type { ManagedProcess, OrthancHandle } from '../support/peers';
import { describeWhenGuiAvailable } from './gui-prerequisites';
import { corpusStudyFiles, setLoaderSettings, startLoaderWindow, startWindowDisplay } from './window-driver';
import type { WindowDriver } from './window-driver';

const describeWithGui = describeWhenGuiAvailable('test/ui/window-server-off', ['Xvfb', 'xdotool', 'import', 'echoscu', 'Orthanc']);

const AE_TITLE = 'LOADEROFF';
const ORTHANC_AE_TITLE = 'ORTHANCOFF';
const ru = translator('ru');

describeWithGui('window with the server off at start', () => {
  const dirs = createLoaderDirs('ui-off');
  const workDir = makeTempDir('ui-off-x');
  let driver: WindowDriver;
  let xvfb: ManagedProcess;
  let loader: ManagedProcess;
  let serverPort: number;
  let orthanc: OrthancHandle;
  const files = corpusStudyFiles('mr-small-explicit-le.dcm');

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

  /** Connects the left panel to Orthanc, selects its study and retrieves it into the right Local panel by C-MOVE. */
  const retrieveByMove = async () => {
    await driver.typeInto('left-host', '127.0.0.1');
    await driver.typeInto('left-port', String(orthanc.port));
    await driver.typeInto('left-aet', ORTHANC_AE_TITLE);
    await driver.click('left-connect');
    await driver.waitFor('left-table', (table) => table.rows === 1, 30_000, '1 row');
    // In a full test run the click once selected nothing; the table may still lay out its new row then.
    await driver.waitForStill('left-table');
    await driver.click('left-table', { x: 40, y: 45 });
    await driver.waitFor('left-selection', (label) => /выбрано: 1$/.test(label.text ?? ''), 5_000, '1 selected');
    await driver.click('transfer-right');
    await driver.waitFor('send-confirm');
    // "C-MOVE" is the second and last choice of the method box.
    await driver.openCombo('send-method');
    await driver.chooseInCombo('send-method', 'End', 'Return');
    await driver.waitFor('send-method', (box) => box.text === 'C-MOVE', 5_000, 'C-MOVE');
    await driver.click('send-confirm');
    await driver.waitForGone('send-dialog');
  };

  beforeAll(async () => {
    ({ driver, xvfb } = await startWindowDisplay(workDir, 'xvfb-off'));
    serverPort = await freePort();
    // The move destination is the window server's port; the retrieve's own C-STORE SCP listens on pacs.moveScuPort.
    orthanc = await startOrthanc({ aeTitle: ORTHANC_AE_TITLE, modalities: { loader: { aet: AE_TITLE, host: '127.0.0.1', port: serverPort } } });
    for (const file of files) await orthanc.uploadFile(file);
    await setLoaderSettings(dirs, {
      'pacs.port': String(serverPort),
      'pacs.host': '127.0.0.1',
      'pacs.aeTitle': AE_TITLE,
      'pacs.acceptAnyCallingAeTitle': 'on',
      'pacs.moveScuPort': String(await freePort()),
      'pacs.startWithWindow': 'off',
      'interface.language': 'ru',
      'interface.trayIcon': 'off',
    });
    await openWindow('loader-server-off');
  }, 120_000);

  afterAll(async () => {
    await loader?.stop();
    await orthanc?.stop();
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

  test('C-MOVE fails with the server off', async () => {
    await retrieveByMove();
    const failed = await driver.waitFor('status-text', (label) => /^Передача не удалась/.test(label.toolTip ?? label.text ?? ''), 60_000, 'transfer failed');
    expect(failed.toolTip ?? failed.text).toMatch(/^Передача не удалась: получено снимков 0, /);
    expect(driver.widget('status-failures')?.text).toContain(`received 0 of ${files.length} instances`);
    expect(driver.widget('right-table')?.rows).toBe(0);
  }, 90_000);

  test('settings check box turns it on', async () => {
    // The failures list of the previous test can still move the window's layout, so the click waits until the button stays put.
    // A CI run once saw no settings window after the click, so a second click follows when none opens within 5 s.
    await driver.waitForStill('open-settings');
    await driver.click('open-settings');
    try {
      await driver.waitForActiveWindow('settings-window', 5_000);
    } catch {
      await driver.waitForStill('open-settings');
      await driver.click('open-settings');
      await driver.waitForActiveWindow('settings-window', 15_000);
    }
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

  test('C-MOVE to the server port succeeds', async () => {
    await retrieveByMove();
    await driver.waitFor('status-text', (label) => label.text === ru('status.done', { instances: files.length, failures: 0 }), 60_000, 'done');
    await driver.waitFor('right-table', (table) => table.rows === 1, 10_000, '1 row');
    expect(driver.widget('status-failures')).toBeUndefined();
    expect(loader.readLog()).toMatch(/C-MOVE instances arrived at the window's PACS server instead of the retrieve's port/);
  }, 90_000);
});
