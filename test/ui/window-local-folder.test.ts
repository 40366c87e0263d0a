/**
 * A Local panel of the window in Russian under Xvfb, connected to a folder of
 * DICOM files instead of the window's archive. A folder that does not exist
 * gets a Russian message and is not created. Scan indexes the folder's files
 * in place, and the filter matches names as `loader studies --name` does.
 * A read-only folder is shown as such, and Scan there is refused in Russian.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { LocalArchive } from '../../src/services/archive';
import { CT_SMALL, MR_SMALL, PYDICOM_TEST_FILES, Tag, freshCopy } from '../archive/fixtures';
import { makeTempDir } from '../support/peers';
import { describeWhenGuiAvailable } from './gui-prerequisites';
import { useWindowSession } from './window-driver';

const describeWithGui = describeWhenGuiAvailable('test/ui/window-local-folder', ['Xvfb', 'xdotool', 'import', 'dcmodify']);

/** Makes `folder` and everything below it immutable, or writable again; returns false where chattr fails. */
function setImmutable(folder: string, immutable: boolean): boolean {
  return spawnSync('chattr', ['-R', immutable ? '+i' : '-i', folder], { stdio: 'ignore' }).status === 0;
}

/** Creates an archive folder with an empty index and makes it immutable; returns undefined where chattr fails. */
function makeImmutableArchive(): string | undefined {
  // Not made by makeTempDir, whose cleanup may run before this file's afterAll and fails on an immutable folder.
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'loader-test-ui-local-folder-read-only-'));
  LocalArchive.open(root).close();
  if (setImmutable(root, true)) return root;
  fs.rmSync(root, { recursive: true, force: true });
  return undefined;
}

const immutableFolder = makeImmutableArchive();
afterAll(() => {
  if (!immutableFolder) return;
  setImmutable(immutableFolder, false);
  fs.rmSync(immutableFolder, { recursive: true, force: true });
});

describeWithGui('Local panel on a folder', () => {
  const folder = makeTempDir('ui-local-folder-files');
  const missingParent = makeTempDir('ui-local-folder-missing');
  const session = useWindowSession('local-folder', {
    language: 'ru',
    prepare: () => {
      const utf8 = { '(0008,0005)': 'ISO_IR 192' };
      freshCopy(CT_SMALL, path.join(folder, 'ct', 'image1.dcm'), { ...utf8, [Tag.PatientName]: 'Ёлкина^Алёна', [Tag.PatientID]: 'YOLKINA' });
      freshCopy(MR_SMALL, path.join(folder, 'mr', 'image1.dcm'), { ...utf8, [Tag.PatientName]: 'Иванов^Иван', [Tag.PatientID]: 'IVANOV' });
      // Its Pixel Data (7FE0,0010) declares more bytes than the file has.
      fs.copyFileSync(path.join(PYDICOM_TEST_FILES, 'MR_truncated.dcm'), path.join(folder, 'damaged.dcm'));
      return Promise.resolve();
    },
  });

  test('missing folder is not created', async () => {
    const { driver } = session;
    const missing = path.join(missingParent, 'no', 'such', 'folder');
    await driver.waitFor('right-connection', (label) => /^Подключено/.test(label.text ?? ''), 30_000, 'the window archive connected');

    await driver.typeInto('right-path', missing);
    driver.key('Return');

    const failed = await driver.waitFor('right-connection', (label) => /не существует/.test(label.text ?? ''), 10_000, 'the missing folder message');
    expect(failed.text).toBe(`Не подключено — Папка ${missing} не существует. Проверьте путь: панель «Локально» показывает существующую папку и не создаёт новых.`);
    expect(fs.existsSync(path.join(missingParent, 'no'))).toBe(false);
    const logLine = driver.app!.readLog().split('\n').find((line) => line.includes('panel connection failed'));
    expect(logLine).toContain('problem="not found"');
    expect(logLine).not.toMatch(/[А-яЁё]/);
  }, 60_000);

  test('Scan indexes the panel folder', async () => {
    const { driver } = session;
    await driver.typeInto('right-path', folder);
    driver.key('Return');
    await driver.waitFor('right-connection', (label) => label.text === `Подключено: ${folder}`, 10_000, 'the folder connected');

    await driver.click('right-scan');
    await driver.waitForActiveWindow('scan-dialog', 15_000);
    await driver.click('scan-dialog-ok');

    // The status bar shortens a long text with "…" and shows it in full in its tooltip.
    const finished = await driver.waitFor('status-text', (label) => /^Сканирование завершено/.test(label.text ?? ''), 30_000, 'scan finished');
    expect(finished.toolTip || finished.text).toBe('Сканирование завершено. Файлов: 3, проиндексировано: 2, повреждено: 1');
    await driver.waitFor('right-table', (table) => table.rows === 2, 10_000, '2 rows');
  }, 60_000);

  test('filter folds ё and caret', async () => {
    const { driver } = session;
    await driver.typeInto('right-filter', 'Алена');
    driver.key('Return');
    await driver.waitFor('right-table', (table) => table.rows === 1, 10_000, '1 row for Алена');

    await driver.typeInto('right-filter', 'иванов^иван');
    driver.key('Return');
    await driver.waitFor('right-table', (table) => table.rows === 1, 10_000, '1 row for иванов^иван');
    expect(driver.widget('right-table')?.rows).toBe(1);
  }, 60_000);

  // chattr +i stops writes also for root; where it fails (no ext4, no CAP_LINUX_IMMUTABLE), the test is skipped.
  (immutableFolder ? test : test.skip)('read-only folder refuses Scan', async () => {
    const { driver } = session;
    const readOnly = immutableFolder!;
    await driver.typeInto('right-path', readOnly);
    driver.key('Return');
    await driver.waitFor('right-connection', (label) => label.text === `Подключено, только чтение: ${readOnly}`, 10_000, 'the read-only folder connected');

    await driver.click('right-scan');
    await driver.waitForActiveWindow('scan-dialog', 15_000);
    await driver.click('scan-dialog-ok');

    const refused = await driver.waitFor('status-text', (label) => /только для чтения/.test(label.toolTip || label.text || ''), 10_000, 'the read-only message');
    expect(refused.toolTip || refused.text).toBe(
      `Папка ${readOnly} доступна только для чтения: сохранить или проиндексировать в ней ничего нельзя. Подключите локальную панель к папке, в которую можно писать.`,
    );
  }, 60_000);
});
