/**
 * Discs in the window under Xvfb, in Russian. A read-only patient disc is a
 * DICOMDIR folder without index.sqlite on a read-only bind mount. A Local
 * panel lists it, its selected study is sent to the archive panel, and
 * «Загрузить с диска…» imports the whole disc. A folder that the panel left
 * can be unmounted while the window runs, and saved server settings restart
 * the window's server, checked with DCMTK echoscu. Mounting needs root, so
 * the tests that need a mount are skipped where it fails.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { LocalArchive } from '../../src/services/archive';
import { CT_SMALL, MR_SMALL, Tag, freshCopy } from '../archive/fixtures';
import { freePort, runDcmtk } from '../support/peers';
import { describeWhenGuiAvailable } from './gui-prerequisites';
import { useWindowSession } from './window-driver';

const describeWithGui = describeWhenGuiAvailable('test/ui/window-media', ['Xvfb', 'xdotool', 'import', 'dcmmkdir', 'echoscu']);

const mountFolders: string[] = [];
const mounted: string[] = [];

/** Creates a folder outside makeTempDir, whose cleanup may run before this file's afterAll unmounts it. */
function makeMountFolder(label: string): string {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), `loader-test-${label}-`));
  mountFolders.push(folder);
  return folder;
}

/** Bind-mounts `folder` onto itself, read-only when asked. Returns false where mounting is not permitted. */
function mountOnItself(folder: string, readOnly: boolean): boolean {
  if (spawnSync('mount', ['--bind', folder, folder], { stdio: 'ignore' }).status !== 0) return false;
  mounted.push(folder);
  return !readOnly || spawnSync('mount', ['-o', 'remount,bind,ro', folder], { stdio: 'ignore' }).status === 0;
}

const disc = makeMountFolder('ui-media-disc');
freshCopy(CT_SMALL, path.join(disc, 'IMAGES', 'IM1'), { [Tag.PatientID]: 'DISC1' });
freshCopy(MR_SMALL, path.join(disc, 'IMAGES', 'IM2'), { [Tag.PatientID]: 'DISC2' });
execFileSync('dcmmkdir', ['+r', '-Pgp', '+I', 'IMAGES'], { cwd: disc, stdio: 'pipe' });
const discMounted = mountOnItself(disc, true);

// An archive folder with its own index, which the left panel shows and then leaves.
const archiveFolder = makeMountFolder('ui-media-archive-folder');
freshCopy(CT_SMALL, path.join(archiveFolder, 'a.dcm'));
LocalArchive.open(archiveFolder).close();
const archiveFolderMounted = mountOnItself(archiveFolder, false);

afterAll(() => {
  for (const folder of mounted) spawnSync('umount', [folder], { stdio: 'ignore' });
  for (const folder of mountFolders) fs.rmSync(folder, { recursive: true, force: true });
});

describeWithGui('discs in the window', () => {
  const session = useWindowSession('media', { language: 'ru', startServer: true, settings: { 'pacs.acceptAnyCallingAeTitle': 'on' } });

  beforeAll(async () => {
    await session.driver.waitFor('right-connection', (label) => /^Подключено/.test(label.text ?? ''), 30_000, 'the window archive connected');
    await session.driver.openCombo('left-kind');
    await session.driver.chooseInCombo('left-kind', 'Down', 'Return');
    await session.driver.waitFor('left-path', () => true, 5_000, 'the Local fields');
  }, 60_000);

  /** Connects the left Local panel to `folder` and waits for `connectedText`. */
  const connectLeft = async (folder: string, connectedText: string) => {
    const { driver } = session;
    await driver.typeInto('left-path', folder);
    driver.key('Return');
    await driver.waitFor('left-connection', (label) => label.text === connectedText, 15_000, connectedText);
  };

  const statusText = async (pattern: RegExp, what: string) => {
    const label = await session.driver.waitFor('status-text', (record) => pattern.test(record.toolTip || record.text || ''), 30_000, what);
    return label.toolTip || label.text;
  };

  (discMounted ? test : test.skip)('read-only disc lists its studies', async () => {
    const { driver } = session;
    await connectLeft(disc, `Подключено, только чтение: ${disc}`);
    await driver.waitFor('left-table', (table) => table.rows === 2, 15_000, '2 rows');
    expect(await statusText(/^Диск прочитан/, 'the disc read')).toBe(
      'Диск прочитан, на него ничего не записано. Файлов: 2, снимков: 2. Выберите исследования и отправьте их в панель архива или нажмите «Загрузить с диска…»',
    );
  }, 60_000);

  (discMounted ? test : test.skip)('disc study goes to the archive panel', async () => {
    const { driver } = session;
    await driver.focusByKey('left-table');
    driver.key('Down');
    await driver.waitFor('left-table', (table) => (table.selectedRows ?? []).join() === '0', 5_000, 'row 0 selected');
    await driver.waitForStill('transfer-right');
    await driver.click('transfer-right');
    await driver.waitForActiveWindow('send-dialog', 15_000);
    await driver.click('send-confirm');

    expect(await statusText(/^Готово/, 'the copy finished')).toBe('Готово: снимков 1, ошибок 0');
    await driver.waitFor('right-table', (table) => table.rows === 1, 15_000, '1 row in the archive');
  }, 60_000);

  (discMounted ? test : test.skip)('import copies the whole disc', async () => {
    const { driver } = session;
    await driver.click('left-import');
    await driver.waitForActiveWindow('import-dialog', 15_000);
    await driver.click('import-dialog-ok');

    expect(await statusText(/^Загрузка завершена/, 'the import finished')).toBe('Загрузка завершена. Файлов: 2, скопировано в архив: 1, уже в архиве: 1');
    await driver.waitFor('right-table', (table) => table.rows === 2, 15_000, '2 rows in the archive');
  }, 60_000);

  (archiveFolderMounted ? test : test.skip)('left folder can be unmounted', async () => {
    const other = makeMountFolder('ui-media-other');
    // Connecting opens the folder's index.sqlite and its -wal and -shm files, which keep the mount busy until closed.
    await connectLeft(archiveFolder, `Подключено: ${archiveFolder}`);
    await connectLeft(other, `Подключено: ${other}`);

    const result = spawnSync('umount', [archiveFolder], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    mounted.splice(mounted.indexOf(archiveFolder), 1);
  }, 60_000);

  test('saved AE title and port restart the server', async () => {
    const { driver } = session;
    const port = await freePort();
    const echo = (aeTitle: string, echoPort: number) => runDcmtk('echoscu', ['-to', '5', '-aec', aeTitle, '-aet', 'UITEST', '127.0.0.1', String(echoPort)]);
    await driver.waitFor('server-state', (label) => /^Сервер принимает/.test(label.text ?? ''), 20_000, 'listening');
    await driver.click('open-settings');
    await driver.waitForActiveWindow('settings-window');
    await driver.typeInto('settings-aet', 'LOADERNEW');
    await driver.typeInto('settings-port', String(port));
    await driver.click('settings-save');
    await driver.waitFor('settings-message', (label) => label.text === 'Настройки сохранены', 5_000, 'saved');
    await driver.click('settings-close');
    await driver.waitForGone('settings-window');

    await driver.waitFor('server-state', (label) => label.text === `Сервер принимает на 127.0.0.1:${port} как LOADERNEW`, 20_000, 'listening with the new values');
    const echoed = await echo('LOADERNEW', port);
    expect({ code: echoed.code, stderr: echoed.stderr }).toEqual({ code: 0, stderr: '' });
    expect((await echo('LOADERNEW', session.serverPort)).code).not.toBe(0);
  }, 60_000);
});
