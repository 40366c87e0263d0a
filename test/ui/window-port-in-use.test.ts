/**
 * The desktop window in Russian under Xvfb when another program listens on the
 * port of the loader's PACS server. `loader start` still opens the window,
 * connects the Local panel to its archive, and the status bar says that the
 * port is in use and what to do, with the whole message in the tooltip when
 * it does not fit. PACS On starts the server once the port is free.
 */
import * as net from 'net';

import { translator } from '../../src/ui/i18n';
import { describeWhenGuiAvailable } from './gui-prerequisites';
import { useWindowSession } from './window-driver';
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
  let blocker: net.Server | undefined;
  let portInUse: string;
  const session = useWindowSession('port-in-use', {
    language: 'ru',
    startServer: true,
    closeLicense: false,
    settings: { 'pacs.aeTitle': 'LOADERPORT' },
    prepare: async ({ serverPort }) => {
      blocker = await occupyPort(serverPort);
      portInUse = ru('server.failed', { message: ru('network.portInUse', { port: serverPort, host: '127.0.0.1' }) });
    },
  });

  afterAll(async () => {
    if (blocker) await closeServer(blocker);
  });

  test('window opens and names the taken port', async () => {
    await session.driver.waitForActiveWindow('license-window', 30_000);
    session.driver.key('Escape');
    await session.driver.waitForGone('license-window');

    const state = await session.driver.waitFor('server-state', (label) => (label.text ?? '').startsWith('Ошибка сервера: Порт'), 20_000, 'the port-in-use message');
    // The bar has room for far more than the one letter that a label sized for "Сервер остановлен" kept.
    await session.driver.waitFor('server-state', (label) => showsReadably(label, portInUse), 5_000, `"${portInUse}", elided with a tooltip`);
    expect((session.driver.widget('server-state')?.text ?? '').length).toBeGreaterThanOrEqual(60);
    expect(state.text).toContain(`Порт ${session.serverPort} на 127.0.0.1 уже занят`);
    expect(session.driver.widget('server-switch')?.checked).toBe(false);
    expect(session.loader.readLog()).toMatch(/PACS server switch failed/);

    // The Local panel shows the archive without a click.
    await session.driver.waitFor('right-connection', (label) => (label.text ?? '').startsWith('Подключено'), 10_000, 'connected');
    expect(session.driver.widget('right-connection')?.text).toContain(session.dirs.archiveDir);
  }, 60_000);

  test('PACS On starts once the port is free', async () => {
    await closeServer(blocker!);
    blocker = undefined;
    await session.driver.click('server-switch');
    const listening = await session.driver.waitFor('server-state', (label) => label.text === ru('server.on', { host: '127.0.0.1', port: session.serverPort, aeTitle: 'LOADERPORT' }), 20_000, 'listening');
    expect(listening.toolTip).toBeUndefined();
    // A label that NodeGui measured for "Сервер остановлен" cut this longer text off, too.
    expect(listening.textWidth).toBeLessThanOrEqual(listening.width);
    expect(session.driver.widget('server-switch')?.checked).toBe(true);
  }, 60_000);

  test('PACS On reports the taken port again', async () => {
    await session.driver.click('server-switch');
    await session.driver.waitFor('server-state', (label) => label.text === ru('server.off'), 20_000, 'stopped');
    blocker = await occupyPort(session.serverPort);

    await session.driver.click('server-switch');
    await session.driver.waitFor('server-state', (label) => showsReadably(label, portInUse), 20_000, `"${portInUse}", elided with a tooltip`);
    expect((session.driver.widget('server-state')?.text ?? '').length).toBeGreaterThanOrEqual(60);
    expect(session.driver.widget('server-switch')?.checked).toBe(false);
  }, 60_000);
});
