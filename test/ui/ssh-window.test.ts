/**
 * The SSH panel of the desktop window under Xvfb, driven by xdotool: fill it
 * from a registered SSH location, connect to a real OpenSSH server on
 * 127.0.0.1, accept its host key in the dialog,
 * enter and leave a folder, download a folder into the Local panel, and open
 * a remote file in the viewer.
 */
import * as fs from 'fs';
import * as path from 'path';

import { LocalArchive } from '../../src/services/archive';
import { corpusSamples, createLoaderDirs, freePort, makeTempDir, runLoader } from '../support/peers';
import type { ManagedProcess } from '../support/peers';
import { chownTree, ensureTestUser, lockTestUser, makeRemoteDir, sshdUnavailableReason, SshdServer } from '../support/sshd';
import type { TestUser } from '../support/sshd';
import { missingGuiPrerequisites } from './gui-prerequisites';
import { setLoaderSettings, startLoaderWindow, startWindowDisplay } from './window-driver';
import type { WindowDriver } from './window-driver';

const SCREENSHOTS = process.env.LOADER_UI_SCREENSHOTS;

/** A login of its own, because test/ssh changes the password of the default test user while this file runs. */
const TEST_LOGIN = 'loader-ssh-ui-window';

const missing = missingGuiPrerequisites(['Xvfb', 'xdotool']);
const sshdMissing = sshdUnavailableReason();
if (missing.length > 0 || sshdMissing !== undefined) {
  // eslint-disable-next-line no-console
  console.warn(`SSH window test skipped: ${[...missing, sshdMissing ?? ''].filter((item) => item !== '').join(', ')}`);
}
const describeWithGui = missing.length > 0 || sshdMissing !== undefined ? describe.skip : describe;

/** Height of the table header and of one row, in pixels, at the default font under Xvfb. */
const HEADER_PX = 28;
const ROW_PX = 30;

describeWithGui('SSH panel in the window', () => {
  const dirs = createLoaderDirs('ui-ssh');
  const workDir = makeTempDir('ui-ssh-x');
  const study = corpusSamples((file) => file.kind === 'mr-volume');
  let user: TestUser;
  let server: SshdServer;
  let remoteRoot: string;
  let folder: string;
  let xvfb: ManagedProcess;
  let loader: ManagedProcess;
  let driver: WindowDriver;

  beforeAll(async () => {
    user = await ensureTestUser(TEST_LOGIN);
    server = await SshdServer.start(user);
    remoteRoot = makeRemoteDir(user, 'loader-ui-window');
    folder = path.join(remoteRoot, 'exam');
    fs.mkdirSync(path.join(folder, 'study'), { recursive: true });
    study.forEach((sample, index) => fs.copyFileSync(sample.absolutePath, path.join(folder, 'study', `IM${index}.dcm`)));
    chownTree(remoteRoot, user);

    ({ driver, xvfb } = await startWindowDisplay(workDir, 'xvfb-ssh'));
    await setLoaderSettings(dirs, {
      'interface.language': 'en',
      'interface.trayIcon': 'off',
      // The window starts the loader's PACS server, so it gets a free port on loopback instead of the default 11112.
      'pacs.port': String(await freePort()),
      'pacs.host': '127.0.0.1',
    });
    await runLoader(['nodes', 'add-ssh', 'exam-ws', '--host', '127.0.0.1', '--port', String(server.port), '--login', user.login, '--folder', folder], { dirs });
    loader = await startLoaderWindow(driver, { name: 'loader-ssh-window', dirs, workDir, env: { LOADER_SECRET_EXAM_WS: user.password } });
    await driver.waitFor('main-window', () => true, 60_000);
  }, 180_000);

  afterAll(async () => {
    await loader?.stop();
    await xvfb?.stop();
    await server?.stop();
    if (user) await lockTestUser(TEST_LOGIN);
    if (remoteRoot) fs.rmSync(remoteRoot, { recursive: true, force: true });
  });

  test('SSH panel downloads and opens files', async () => {
    await driver.waitFor('license-window');
    await driver.waitForActiveWindow('license-window');
    await driver.click('license-cancel');
    await driver.waitForGone('license-window');
    await driver.waitForActiveWindow('main-window');

    // The Fill dialog lists the registered SSH location first, and the loader reads its password from LOADER_SECRET_EXAM_WS.
    await driver.click('left-fill');
    await driver.waitForActiveWindow('fill-dialog');
    await driver.click('fill-ok');
    await driver.waitForGone('fill-dialog');
    await driver.waitFor('left-ssh-folder', (field) => field.text === folder, 5_000, 'the registered folder');
    expect(driver.widget('left-ssh-name')?.text).toBe('exam-ws');
    expect(driver.widget('left-ssh-port')?.text).toBe(String(server.port));
    expect(driver.widget('left-ssh-login')?.text).toBe(user.login);
    await driver.waitForActiveWindow('main-window');
    await driver.click('left-connect');

    await driver.waitForActiveWindow('host-key-dialog', 15_000);
    // The question ends the text, so a label cut at the bottom would hide it.
    const question = driver.widget('host-key-dialog-text')!;
    expect(question.text).toMatch(/Accept this key and connect\?$/);
    const accept = driver.widget('host-key-dialog-ok')!;
    expect(accept.text).toBe('Accept key and connect');
    expect(question.height).toBeGreaterThanOrEqual(4 * 15);
    expect(question.y + question.height).toBeLessThanOrEqual(accept.y);
    if (process.env.LOADER_UI_SCREENSHOTS) driver.screenshot(path.join(process.env.LOADER_UI_SCREENSHOTS, 'host-key-dialog.png'), 'host-key-dialog');
    await driver.click('host-key-dialog-ok');
    await driver.waitForGone('host-key-dialog');
    // The ".." row and the study folder.
    await driver.waitFor('left-files', (table) => table.rows === 2, 15_000, '2 rows');
    expect(driver.widget('left-connection')?.text).toContain(`${user.login}@[127.0.0.1]:${server.port}`);

    // A double-click on the folder enters it, and the ".." row leads back.
    const files = driver.widget('left-files')!;
    driver.xdotool('mousemove', String(files.x + 40), String(files.y + HEADER_PX + ROW_PX + ROW_PX / 2), 'click', '--repeat', '2', '--delay', '80', '1');
    await driver.waitFor('left-ssh-folder', (field) => field.text === path.posix.join(folder, 'study'), 10_000, 'the study folder');
    await driver.waitFor('left-files', (table) => table.rows === study.length + 1, 10_000, `${study.length + 1} rows`);
    await driver.click('left-ssh-up');
    await driver.waitFor('left-ssh-folder', (field) => field.text === folder, 10_000, 'the parent folder');
    if (SCREENSHOTS) driver.screenshot(path.join(SCREENSHOTS, 'main-ssh-en-light.png'));

    // Select the study folder and send it to the Local panel.
    await driver.click('right-connect');
    await driver.waitFor('right-connection', (label) => label.text !== 'Not connected', 10_000, 'connected');
    await driver.click('left-files', { x: 40, y: HEADER_PX + ROW_PX + ROW_PX / 2 });
    await driver.waitFor('left-selection', (label) => /selected: 1$/.test(label.text ?? ''), 5_000, '1 selected');
    await driver.click('transfer-right');
    await driver.waitForActiveWindow('ssh-send-dialog');
    await driver.click('ssh-send-dialog-ok');
    await driver.waitFor('status-text', (label) => new RegExp(`^Done: ${study.length} instances, 0 failures$`).test(label.text ?? ''), 60_000, 'Done');
    await driver.waitFor('right-table', (table) => table.rows === 1, 10_000, '1 row');
    const archive = LocalArchive.open(dirs.archiveDir);
    try {
      expect(archive.listInstances({ studyInstanceUid: study[0].studyInstanceUid! })).toHaveLength(study.length);
    } finally {
      archive.close();
    }

    // With nothing selected in the Local panel, Ctrl+Return on the selected SSH folder downloads it into the viewer's cache and opens the viewer.
    driver.key('ctrl+Return');
    await driver.waitForActiveWindow('viewer-window', 60_000);
    driver.key('Escape');
    await driver.waitForActiveWindow('main-window', 15_000);
  }, 180_000);
});
