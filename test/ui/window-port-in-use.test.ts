/**
 * The desktop window in Russian under Xvfb when another program listens on the
 * port of the loader's PACS server. `loader start` still opens the window,
 * connects the Local panel to its archive, and the status bar says that the
 * port is in use and what to do, with the whole message in the tooltip when
 * it does not fit. PACS On starts the server once the port is free.
 */
import * as net from 'net';

import { translator } from '../../src/ui/i18n';
import { createLoaderDirs, freePort, makeTempDir } from '../support/peers';
import type { ManagedProcess } from '../support/peers';
import { describeWhenGuiAvailable } from './gui-prerequisites';
import { setLoaderSettings, startLoaderWindow, startWindowDisplay } from './window-driver';
import type { WindowDriver } from './window-driver';
import type { WidgetRecord } from '../../src/ui/test-hooks';

const describeWithGui = describeWhenGuiAvailable('test/ui/window-port-in-use', ['Xvfb', 'xdotool', 'import']);

const ru = translator('ru');

/** Listens on 127.0.0.1:`port` with a plain TCP server, as another program that took the loader's port would. */
async function occupyPort(port: number): Promise<net.Server> {
  const blocker = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    blocker.once('error', reject);
    blocker.listen(port, '127.0.0.1', resolve);
  });
  return blocker;
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * Returns whether the label shows all of `full`, or its start with an ellipsis and `full` as the tooltip, and
 * its text fits its width, so that Qt does not cut it off on the screen.
 */
function showsReadably(label: WidgetRecord, full: string): boolean {
  const text = label.text ?? '';
  if (label.textWidth === undefined || label.textWidth > label.width) return false;
  if (text === full) return label.toolTip === undefined;
  return text.endsWith('…') && full.startsWith(text.slice(0, -1)) && label.toolTip === full;
}

describeWithGui('window with its port in use', () => {
  const dirs = createLoaderDirs('ui-port');
  const workDir = makeTempDir('ui-port-x');
  let driver: WindowDriver;
  let xvfb: ManagedProcess;
  let loader: ManagedProcess;
  let blocker: net.Server | undefined;
  let serverPort: number;
  let portInUse: string;

  beforeAll(async () => {
    ({ driver, xvfb } = await startWindowDisplay(workDir, 'xvfb-port'));
    serverPort = await freePort();
    blocker = await occupyPort(serverPort);
    portInUse = ru('server.failed', { message: ru('network.portInUse', { port: serverPort, host: '127.0.0.1' }) });
    await setLoaderSettings(dirs, { 'pacs.port': String(serverPort), 'pacs.host': '127.0.0.1', 'pacs.aeTitle': 'LOADERPORT', 'interface.language': 'ru', 'interface.trayIcon': 'off' });
    loader = await startLoaderWindow(driver, { name: 'loader-port-in-use', dirs, workDir });
  }, 120_000);

  afterAll(async () => {
    await loader?.stop();
    if (blocker) await closeServer(blocker);
    await xvfb?.stop();
  });

  test('window opens and names the taken port', async () => {
    await driver.waitForActiveWindow('license-window', 30_000);
    driver.key('Escape');
    await driver.waitForGone('license-window');

    const state = await driver.waitFor('server-state', (label) => (label.text ?? '').startsWith('Ошибка сервера: Порт'), 20_000, 'the port-in-use message');
    // The bar has room for far more than the one letter that a label sized for "Сервер остановлен" kept.
    await driver.waitFor('server-state', (label) => showsReadably(label, portInUse), 5_000, `"${portInUse}", elided with a tooltip`);
    expect((driver.widget('server-state')?.text ?? '').length).toBeGreaterThanOrEqual(60);
    expect(state.text).toContain(`Порт ${serverPort} на 127.0.0.1 уже занят`);
    expect(driver.widget('server-switch')?.checked).toBe(false);
    expect(loader.readLog()).toMatch(/PACS server switch failed/);

    // The Local panel shows the archive without a click.
    await driver.waitFor('right-connection', (label) => (label.text ?? '').startsWith('Подключено'), 10_000, 'connected');
    expect(driver.widget('right-connection')?.text).toContain(dirs.archiveDir);
  }, 60_000);

  test('PACS On starts once the port is free', async () => {
    await closeServer(blocker!);
    blocker = undefined;
    await driver.click('server-switch');
    const listening = await driver.waitFor('server-state', (label) => label.text === ru('server.on', { host: '127.0.0.1', port: serverPort, aeTitle: 'LOADERPORT' }), 20_000, 'listening');
    expect(listening.toolTip).toBeUndefined();
    // A label that NodeGui measured for "Сервер остановлен" cut this longer text off, too.
    expect(listening.textWidth).toBeLessThanOrEqual(listening.width);
    expect(driver.widget('server-switch')?.checked).toBe(true);
  }, 60_000);

  test('PACS On reports the taken port again', async () => {
    await driver.click('server-switch');
    await driver.waitFor('server-state', (label) => label.text === ru('server.off'), 20_000, 'stopped');
    blocker = await occupyPort(serverPort);

    await driver.click('server-switch');
    await driver.waitFor('server-state', (label) => showsReadably(label, portInUse), 20_000, `"${portInUse}", elided with a tooltip`);
    expect((driver.widget('server-state')?.text ?? '').length).toBeGreaterThanOrEqual(60);
    expect(driver.widget('server-switch')?.checked).toBe(false);
  }, 60_000);
});
