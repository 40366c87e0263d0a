/**
 * The desktop window in Russian under Xvfb with DCMTK storescp as a send
 * destination, as a technician uses it: the PACS panel connects to a node
 * that only stores images, so its search fails with a Russian message that
 * says sending still works, and that message is shown on all its lines. Then
 * studies selected in the Local panel are sent to the node, after a dialog
 * that names their patients. Before that, the
 * node's address with a closed port gives a refused connection, whose message
 * also shows on all its lines.
 */
import * as fs from 'fs';
import * as path from 'path';

import { corpusSamples, freePort, makeTempDir, runLoader, startStorescp } from '../support/peers';
import type { StorescpHandle } from '../support/peers';
import { describeWhenGuiAvailable } from './gui-prerequisites';
import { useWindowSession } from './window-driver';

const describeWithGui = describeWhenGuiAvailable('test/ui/window-storage-node', ['Xvfb', 'xdotool', 'import', 'storescp']);

/**
 * MAIN_WINDOW_MIN_SIZE of main-window.ts, the size the window opens at
 * without a window manager. The tests import no module that loads NodeGui.
 */
const MAIN_WINDOW_MIN_SIZE = { width: 1360, height: 680 };

describeWithGui('window with a storage-only node', () => {
  let storescp: StorescpHandle;
  const session = useWindowSession('store-node', {
    language: 'ru',
    prepare: async ({ dirs }) => {
      // Two studies of one file each: Иванов^Иван^Петрович (OT, 2007) and CompressedSamples^CT1 (CT, 2004).
      const source = makeTempDir('ui-store-node-files');
      for (const relative of ['samples/charset/cyrillic-iso-ir-192.dcm', 'samples/ct/ct-small.dcm']) {
        const sample = corpusSamples((file) => file.path === relative)[0];
        fs.copyFileSync(sample.absolutePath, path.join(source, path.basename(relative)));
      }
      const scan = await runLoader(['scan', source, '--import'], { dirs });
      expect({ code: scan.code, stderr: scan.stderr.slice(-500) }).toEqual({ code: 0, stderr: expect.any(String) });

      storescp = await startStorescp({ aeTitle: 'DESTSCP' });
      // A registered node fills the PACS panel at start, which then shows no hint about registering one.
      const added = await runLoader(['nodes', 'add', 'destscp', '--aet', 'DESTSCP', '--host', '127.0.0.1', '--port', String(storescp.port)], { dirs });
      expect({ code: added.code, stderr: added.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    },
  });

  afterAll(async () => {
    await storescp?.stop();
  });

  /** Height of the one-line connection label of a panel that was never connected, in pixels. */
  let lineHeight = 0;

  beforeAll(async () => {
    lineHeight = (await session.driver.waitFor('left-connection', (label) => label.text === 'Не подключено', 10_000, 'not connected')).height;
  });

  test('one-line connection lines equally high', async () => {
    // The Local panel connects to the window's archive at start, with a longer one-line text than "Не подключено".
    const connected = await session.driver.waitFor('right-connection', (label) => (label.text ?? '').startsWith('Подключено'), 15_000, 'connected');
    expect(connected.textWidth).toBeLessThan(connected.width);
    expect(connected.textWidth).toBeGreaterThan(session.driver.widget('left-connection')!.textWidth!);
    // A one-line text of any length gets one line's height, so the controls below it stay in place between connects.
    expect(connected.height).toBe(lineHeight);
  }, 60_000);

  test('refused connection shown on all lines', async () => {
    // Nothing listens on a port that freePort just released.
    const closedPort = await freePort();
    await session.driver.typeInto('left-host', '127.0.0.1');
    await session.driver.typeInto('left-port', String(closedPort));
    await session.driver.typeInto('left-aet', 'DESTSCP');
    await session.driver.click('left-connect');

    const peer = `DESTSCP@127.0.0.1:${closedPort}`;
    const refused = await session.driver.waitFor('left-connection', (label) => (label.text ?? '').includes(peer), 15_000, 'the refused connection');
    expect(refused.text).toBe(`Не подключено — Не удалось подключиться к ${peer}: в соединении отказано (ECONNREFUSED). Проверьте IP-адрес и порт и что узел запущен.`);
    expect(refused.textWidth).toBeGreaterThan(refused.width);

    // No other change lays the window out after a refused connection, so the label must grow by itself, at once.
    const lines = Math.ceil(refused.textWidth! / refused.width);
    const wrapped = await session.driver.waitFor('left-connection', (label) => label.height >= lines * lineHeight, 2_000, `${lines} lines of ${lineHeight} px`);
    expect(wrapped.height).toBeGreaterThanOrEqual(lines * lineHeight);
    const port = session.driver.widget('left-port')!;
    expect(wrapped.y).toBeGreaterThanOrEqual(port.y + port.height);
    const date = session.driver.widget('left-date')!;
    expect(date.y).toBeGreaterThanOrEqual(wrapped.y + wrapped.height);
  }, 60_000);

  test('search failure shown on all lines', async () => {
    await session.driver.typeInto('left-host', '127.0.0.1');
    await session.driver.typeInto('left-port', String(storescp.port));
    await session.driver.typeInto('left-aet', 'DESTSCP');
    await session.driver.click('left-connect');

    const failed = await session.driver.waitFor('left-connection', (label) => /не принял ни одного/.test(label.text ?? ''), 15_000, 'the search failure');
    expect(failed.text).toContain(`DESTSCP@127.0.0.1:${storescp.port} не принял ни одного из предложенных контекстов представления (1)`);
    expect(failed.text).toContain('отправлять на него исследования можно');
    expect(failed.textWidth).toBeGreaterThan(2 * failed.width);

    // Word wrap needs at least this many lines; a label left one line high cuts the text off at its top and bottom.
    const lines = Math.ceil(failed.textWidth! / failed.width);
    const wrapped = await session.driver.waitFor('left-connection', (label) => label.height >= lines * lineHeight, 5_000, `${lines} lines of ${lineHeight} px`);
    expect(wrapped.height).toBeGreaterThanOrEqual(lines * lineHeight);
    const date = session.driver.widget('left-date')!;
    expect(date.y).toBeGreaterThanOrEqual(wrapped.y + wrapped.height);
  }, 60_000);

  test('selected studies are sent', async () => {
    await session.driver.waitFor('right-table', (table) => table.rows === 2, 10_000, '2 rows');
    await session.driver.click('right-table', { x: 40, y: 45 });
    session.driver.key('ctrl+a');
    await session.driver.waitFor('right-selection', (label) => label.text === 'Исследований: 2, выбрано: 2', 5_000, '2 selected');

    await session.driver.click('transfer-left');
    const summary = await session.driver.waitFor('send-summary', undefined, 10_000, 'shown');
    expect(summary.text).toBe(`Исследований: 2, из ${session.dirs.archiveDir} в DESTSCP@127.0.0.1:${storescp.port}`);

    // The dialog names each patient with the Patient ID, so that a wrong selection shows before the send.
    const patients = (await session.driver.waitFor('send-patients', undefined, 10_000, 'shown')).text!.split('\n');
    expect(patients[0]).toBe('Пациенты:');
    expect(patients.slice(1).sort()).toEqual(['CompressedSamples CT1, ID пациента LDR-0001', 'Иванов Иван Петрович, ID пациента LDR-0027']);

    // Every line shows, and the buttons stay inside the dialog, which stays inside the main window at its minimum size.
    const dialog = await session.driver.waitForStill('send-dialog');
    const patientsLabel = session.driver.widget('send-patients')!;
    const lineHeight = session.driver.widget('right-selection')!.height;
    expect(patientsLabel.height).toBeGreaterThanOrEqual(patients.length * (lineHeight - 2));
    const confirm = session.driver.widget('send-confirm')!;
    expect(confirm.y).toBeGreaterThanOrEqual(patientsLabel.y + patientsLabel.height);
    expect(confirm.y + confirm.height).toBeLessThanOrEqual(dialog.y + dialog.height);
    const main = session.driver.widget('main-window')!;
    expect({ width: main.width, height: main.height }).toEqual(MAIN_WINDOW_MIN_SIZE);
    expect(dialog.x + dialog.width).toBeLessThanOrEqual(main.x + main.width);
    expect(dialog.y + dialog.height).toBeLessThanOrEqual(main.y + main.height);
    await session.driver.click('send-confirm');

    await session.driver.waitFor('status-text', (label) => label.text === 'Готово: снимков 2, ошибок 0', 30_000, 'send done');
    expect(storescp.receivedFiles()).toHaveLength(2);
  }, 60_000);
});
