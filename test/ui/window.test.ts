/**
 * The desktop window under Xvfb, driven by xdotool like a user: connect the
 * left panel to Orthanc, filter, select two studies, retrieve them into the
 * local archive of the right panel with the mouse and then with the keyboard
 * only, check that the PACS server started with the window and switch it Off
 * and On under C-ECHO, and switch language and theme.
 * A second window runs with the tray host `trayer` and uses the tray menu.
 *
 * The window writes the global geometry of its named widgets to a JSON file
 * (LOADER_UI_TEST_HOOKS=1), and WindowDriver clicks by objectName. With
 * LOADER_UI_SCREENSHOTS=DIR the tests also save the README screenshots there.
 */
import * as fs from 'fs';
import * as path from 'path';

import { LocalArchive } from '../../src/services/archive';
import {
  corpusSamples,
  createLoaderDirs,
  freePort,
  makeTempDir,
  runDcmtk,
  startOrthanc,
  startProcess,
  waitUntil,
} from '../support/peers';
import type { ManagedProcess, OrthancHandle } from '../support/peers';
import { describeWhenGuiAvailable } from './gui-prerequisites';
import { setLoaderSettings, sleep, startLoaderWindow, startWindowDisplay } from './window-driver';
import type { WindowDriver } from './window-driver';

const SCREENSHOTS = process.env.LOADER_UI_SCREENSHOTS;

const describeWithGui = describeWhenGuiAvailable('test/ui', ['Xvfb', 'xdotool', 'import', 'Orthanc', 'echoscu']);

const describeWithTray = describeWhenGuiAvailable('tray icon tests', ['Xvfb', 'xdotool', 'xwininfo', 'import', 'trayer', 'echoscu']);

/** Corpus studies uploaded to Orthanc, by the last component of their Study Instance UID. */
interface UploadedStudy {
  uid: string;
  modality: string;
  studyDate: string;
}

describeWithGui('desktop window', () => {
  const dirs = createLoaderDirs('ui');
  const workDir = makeTempDir('ui-x');
  let driver: WindowDriver;
  let xvfb: ManagedProcess;
  let orthanc: OrthancHandle;
  let loader: ManagedProcess;
  let serverPort: number;
  const uploaded: UploadedStudy[] = [];

  const waitForLog = (pattern: RegExp, timeoutMs = 60_000) => waitUntil(loader, `log line ${pattern}`, () => pattern.test(loader.readLog()), timeoutMs);
  const screenshot = (name: string, windowId = 'main-window') => {
    if (SCREENSHOTS) driver.screenshot(path.join(SCREENSHOTS, name), windowId);
  };
  const archivedStudies = (): string[] => {
    const archive = LocalArchive.open(dirs.archiveDir);
    try {
      const uids = archive.searchStudies({}).map((study) => study.studyInstanceUid);
      for (const studyInstanceUid of uids) {
        for (const instance of archive.listInstances({ studyInstanceUid })) expect(fs.existsSync(instance.path)).toBe(true);
      }
      return uids.sort();
    } finally {
      archive.close();
    }
  };
  /**
   * Returns the main window's widgets that are cut off, each with the pixels it overflows by. A widget of a
   * panel (a left- or right- name) is cut off when its right edge lies past its panel's. Any other widget,
   * and each panel, is cut off when it reaches past the window.
   */
  const clippedWidgets = (): string[] => {
    const widgets = driver.dump().widgets;
    const window = widgets['main-window'];
    return Object.entries(widgets)
      .filter(([name, widget]) => widget.window === 'main-window' && name !== 'main-window')
      .map(([name, widget]) => {
        const side = /^(left|right)-/.exec(name)?.[1];
        const container = side === undefined || name.endsWith('-panel') ? window : widgets[`${side}-panel`];
        return { name, overflow: widget.x + widget.width - (container.x + container.width) };
      })
      .filter(({ overflow }) => overflow > 0)
      .map(({ name, overflow }) => `${name} +${overflow} px`);
  };
  const uidsWhere = (match: (study: UploadedStudy) => boolean) =>
    uploaded
      .filter(match)
      .map((study) => study.uid)
      .sort();

  beforeAll(async () => {
    ({ driver, xvfb } = await startWindowDisplay(workDir));

    // Five studies: two CT studies of 2003-2004 (the filter's target), a CT study of 1993 outside the
    // date range, an MR study of 2004 outside the modality filter, and an MR study of 2001.
    const wanted = ['ct-small.dcm', 'ct-rle.dcm', 'ct-ankle-implicit-le.dcm', 'mr-small-explicit-le.dcm', 'brain_002.dcm'];
    const samples = corpusSamples((sample) => /^samples\/(ct|mr)\//.test(sample.path) && sample.studyInstanceUid !== null);
    for (const name of wanted) {
      const first = samples.find((sample) => sample.path.endsWith(`/${name}`));
      if (!first) throw new Error(`corpus sample ${name} not found; rebuild test/.corpus with npm run corpus`);
      uploaded.push({ uid: first.studyInstanceUid!, modality: first.modality!, studyDate: first.studyDate! });
    }
    serverPort = await freePort();
    orthanc = await startOrthanc({ aeTitle: 'ORTHANCUI', modalities: { LOADERUI: { aet: 'LOADERUI', host: '127.0.0.1', port: serverPort } } });
    for (const study of uploaded) {
      for (const sample of samples.filter((file) => file.studyInstanceUid === study.uid)) await orthanc.uploadFile(sample.absolutePath);
    }

    await setLoaderSettings(dirs, {
      'pacs.port': String(serverPort),
      'pacs.host': '127.0.0.1',
      'pacs.aeTitle': 'LOADERUI',
      'pacs.acceptAnyCallingAeTitle': 'on',
      'interface.language': 'en',
      'interface.theme': 'light',
    });
    loader = await startLoaderWindow(driver, { name: 'loader-window', dirs, workDir });
    await driver.waitFor('main-window');
  }, 180_000);

  afterAll(async () => {
    await loader?.stop();
    await orthanc?.stop();
    await xvfb?.stop();
  });

  test('window opens with the license prompt', async () => {
    await driver.waitFor('license-window');
    await driver.waitForActiveWindow('license-window');
    screenshot('license-en-light.png');
    const windows = driver.xdotool('search', '--name', 'Sciberia Loader').trim();
    expect(windows).not.toBe('');
  });

  test('mouse flow retrieves two filtered studies', async () => {
    await driver.click('license-cancel');
    await driver.waitForGone('license-window');
    await driver.waitForActiveWindow('main-window');

    await driver.typeInto('left-host', '127.0.0.1');
    await driver.typeInto('left-port', String(orthanc.port));
    await driver.typeInto('left-aet', 'ORTHANCUI');
    await driver.click('left-connect');
    await driver.waitFor('left-table', (table) => table.rows === uploaded.length, 30_000, `${uploaded.length} rows`);
    expect(driver.widget('left-connection')?.text).toContain('ORTHANCUI');

    // Date: "Range" is the last choice of the combo box, chosen with the keyboard once a click opened its list.
    await driver.openCombo('left-date');
    await driver.chooseInCombo('left-date', 'End', 'Return');
    await driver.waitFor('left-date-text', (field) => field.enabled, 5_000, 'enabled');
    await driver.typeInto('left-date-text', '20030101-20041231');
    await driver.click('left-modality-CT');
    await driver.waitFor('left-modality-CT', (box) => box.checked === true, 5_000, 'checked');
    await driver.click('left-search');
    const expected = uidsWhere((study) => study.modality === 'CT' && study.studyDate >= '20030101' && study.studyDate <= '20041231');
    expect(expected).toHaveLength(2);
    await driver.waitFor('left-table', (table) => table.rows === expected.length, 30_000, `${expected.length} rows`);

    await driver.click('right-connect');
    await driver.waitFor('right-connection', (label) => label.text !== 'Not connected', 10_000, 'connected');

    const table = driver.widget('left-table')!;
    // The first row lies below the 28-pixel header; Shift+Down extends the selection to the second row.
    await driver.click('left-table', { x: 40, y: 45 });
    driver.key('shift+Down');
    await driver.waitFor('left-selection', (label) => /2 selected/.test(label.text ?? ''), 5_000, '2 selected');
    expect(table.rows).toBe(2);
    screenshot('main-en-light.png');

    await driver.click('transfer-right');
    await driver.waitFor('send-confirm');
    expect(driver.widget('send-summary')?.text).toMatch(/^2 studies from ORTHANCUI@127\.0\.0\.1:\d+ to /);
    expect(driver.widget('send-method')?.text).toBe('C-GET');
    screenshot('send-dialog-en-light.png');
    await driver.click('send-confirm');
    await driver.waitForGone('send-dialog');

    await driver.waitFor('status-text', (label) => /^Done: \d+ instances, 0 failures$/.test(label.text ?? ''), 90_000, 'Done');
    expect(archivedStudies()).toEqual(expected);
    await driver.waitFor('right-table', (right) => right.rows === 2, 5_000, '2 rows');
    expect(driver.widget('status-progress')).toBeDefined();

    // Ctrl+Return opens the selected local study in the viewer window; Esc closes it.
    await driver.click('right-table', { x: 40, y: 45 });
    await driver.waitFor('right-selection', (label) => /1 selected/.test(label.text ?? ''), 5_000, '1 selected');
    driver.key('ctrl+Return');
    await driver.waitForActiveWindow('viewer-window', 30_000);
    driver.key('Escape');
    await driver.waitForActiveWindow('main-window', 15_000);
  }, 180_000);

  test('keyboard flow retrieves the MR study', async () => {
    // Only keys from here on: Tab moves the focus, Space toggles and presses, F5 transfers.
    await driver.waitForActiveWindow('main-window');

    // Tab reaches every enabled control: with the left PACS panel and the right Local panel connected, that is
    // every named widget except the labels, panels and the progress bar.
    await driver.focusByKey('left-kind');
    const chain = await driver.focusChain();
    const notControls = /^(muted(#\d+)?|(left|right)-(panel|connection|selection)|server-state|status-(text|progress|failures|bar)|main-window)$/;
    const controls = Object.entries(driver.dump().widgets)
      .filter(([name, widget]) => widget.window === 'main-window' && widget.enabled && !notControls.test(name))
      .map(([name]) => name);
    expect(controls.length).toBeGreaterThan(30);
    expect(controls.filter((name) => !chain.includes(name))).toEqual([]);

    await driver.focusByKey('left-modality-CT');
    driver.key('space');
    await driver.waitFor('left-modality-CT', (box) => box.checked === false, 5_000, 'unchecked');
    await driver.focusByKey('left-modality-MR');
    driver.key('space');
    await driver.waitFor('left-modality-MR', (box) => box.checked === true, 5_000, 'checked');
    await driver.focusByKey('left-search');
    driver.key('space');
    const expected = uidsWhere((study) => study.modality === 'MR' && study.studyDate >= '20030101' && study.studyDate <= '20041231');
    expect(expected).toHaveLength(1);
    await driver.waitFor('left-table', (table) => table.rows === 1, 30_000, '1 row');

    await driver.focusByKey('left-table');
    driver.key('ctrl+a');
    await driver.waitFor('left-selection', (label) => /1 selected/.test(label.text ?? ''), 5_000, '1 selected');
    driver.key('F5');
    await driver.waitForActiveWindow('send-dialog');
    await driver.focusByKey('send-confirm');
    driver.key('space');
    await driver.waitForGone('send-dialog');

    await driver.waitFor('status-text', (label) => /^Done: 6 instances, 0 failures$/.test(label.text ?? ''), 90_000, 'Done with 6 instances');
    expect(archivedStudies()).toEqual(uidsWhere((study) => study.studyDate >= '20030101' && study.studyDate <= '20041231'));
    await driver.waitFor('right-table', (table) => table.rows === 3, 5_000, '3 rows');

    // Arrows select one row, Ctrl+arrows move without selecting, and Space adds the current row: rows 1 and 3.
    await driver.focusByKey('right-table');
    driver.key('ctrl+Home', 'Down', 'Up');
    await driver.waitFor('right-selection', (label) => /1 selected/.test(label.text ?? ''), 5_000, '1 selected');
    driver.key('ctrl+Down', 'ctrl+Down', 'space');
    await driver.waitFor('right-selection', (label) => /2 selected/.test(label.text ?? ''), 5_000, '2 selected');

    // Enter opens the study of the current row in the viewer, Ctrl+Return the first selected study; Esc closes it.
    driver.key('Return');
    await driver.waitForActiveWindow('viewer-window', 30_000);
    driver.key('Escape');
    await driver.waitForActiveWindow('main-window', 15_000);
    await driver.waitFor('right-table', (table) => table.focused, 5_000, 'focused again');
    driver.key('ctrl+Return');
    await driver.waitForActiveWindow('viewer-window', 30_000);
    driver.key('Escape');
    await driver.waitForActiveWindow('main-window', 15_000);

    // Shift+F5 sends the Local selection to the PACS panel; Exit leaves the dialog without sending.
    driver.key('shift+F5');
    await driver.waitForActiveWindow('send-dialog');
    expect(driver.widget('send-summary')?.text).toMatch(/^2 studies from .* to ORTHANCUI@127\.0\.0\.1:\d+$/);
    await driver.focusByKey('send-exit');
    driver.key('space');
    await driver.waitForGone('send-dialog');
    await driver.waitForActiveWindow('main-window');
  }, 180_000);

  test('Ctrl+F filters the local panel', async () => {
    await driver.waitForActiveWindow('main-window');
    driver.key('ctrl+f');
    await driver.waitFor('right-filter', (field) => field.focused, 5_000, 'focused');
    await driver.type('no such patient');
    await driver.waitFor('right-table', (table) => table.rows === 0, 5_000, '0 rows');
    driver.key('ctrl+a', 'BackSpace');
    await driver.waitFor('right-table', (table) => table.rows === 3, 5_000, '3 rows');
  }, 60_000);

  test('Shift+F5 opens the send dialog', async () => {
    await driver.focusByKey('right-table');
    driver.key('ctrl+a');
    await driver.waitFor('right-selection', (label) => /3 selected/.test(label.text ?? ''), 5_000, '3 selected');
    driver.key('shift+F5');
    await driver.waitFor('send-confirm');
    expect(driver.widget('send-summary')?.text).toMatch(/^3 studies from .* to ORTHANCUI@127\.0\.0\.1:\d+$/);
    // C-STORE has no method to choose.
    expect(driver.widget('send-method')).toBeUndefined();
    expect(driver.widget('send-exit')?.text).toBe('Cancel');
    await driver.click('send-exit');
    await driver.waitForGone('send-dialog');
  }, 60_000);

  test('PACS server starts with the window', async () => {
    const echo = () => runDcmtk('echoscu', ['-to', '5', '-aec', 'LOADERUI', '-aet', 'UITEST', '127.0.0.1', String(serverPort)]);
    const listening = (label: { text?: string }) => /^Server listening on 127\.0\.0\.1:\d+ as LOADERUI$/.test(label.text ?? '');
    // The server started when the window opened.
    expect(listening(driver.widget('server-state')!)).toBe(true);
    expect(driver.widget('server-switch')?.checked).toBe(true);
    expect((await echo()).code).toBe(0);
    expect(await orthanc.echo('LOADERUI')).toBe(true);

    await driver.click('server-switch');
    await driver.waitFor('server-state', (label) => label.text === 'Server stopped', 20_000, 'stopped');
    expect((await echo()).code).not.toBe(0);

    await driver.click('server-switch');
    await driver.waitFor('server-state', listening, 20_000, 'listening');
    expect((await echo()).code).toBe(0);

    // The settings flow below expects the server stopped.
    await driver.click('server-switch');
    await driver.waitFor('server-state', (label) => label.text === 'Server stopped', 20_000, 'stopped');
  }, 90_000);

  test('settings switch language and theme', async () => {
    const variants = [
      { language: 'en', theme: 'light', settingsButton: 'Settings' },
      { language: 'en', theme: 'dark', settingsButton: 'Settings' },
      { language: 'ru', theme: 'dark', settingsButton: 'Настройки' },
      { language: 'ru', theme: 'light', settingsButton: 'Настройки' },
    ] as const;
    let current: { language: string; theme: string } = { language: 'en', theme: 'light' };
    for (const variant of variants) {
      await driver.click('open-settings');
      await driver.waitFor('settings-window');
      await driver.waitForActiveWindow('settings-window');
      // Ctrl+Tab moves to the Interface tab; the combo boxes then change with Home and End.
      await driver.focusByKey('settings-aet');
      driver.key('ctrl+Tab');
      await driver.waitFor('settings-language');
      if (variant.language !== current.language) {
        const key = variant.language === 'en' ? 'Home' : 'End';
        await driver.pressOn('settings-language', key, 'open-settings', (button) => button.text === variant.settingsButton, `text ${variant.settingsButton}`);
      }
      if (variant.theme !== current.theme) {
        await driver.focusByKey('settings-theme');
        driver.key(variant.theme === 'light' ? 'Home' : 'End');
      }
      current = variant;
      await sleep(500);
      screenshot(`settings-${variant.language}-${variant.theme}.png`, 'settings-window');
      await driver.click('settings-close');
      await driver.waitForGone('settings-window');
      await sleep(300);
      screenshot(`main-${variant.language}-${variant.theme}.png`);
      expect(clippedWidgets()).toEqual([]);
      // The status bar shows the result of the keyboard flow's retrieve in the language just chosen.
      const done = variant.language === 'en' ? /^Done: 6 instances, 0 failures$/ : /^Готово: снимков 6, ошибок 0$/;
      expect(driver.widget('status-text')?.text).toMatch(done);
      expect(driver.widget('server-state')?.text).toBe(variant.language === 'en' ? 'Server stopped' : 'Сервер остановлен');

      await driver.click('left-table', { x: 40, y: 45 });
      driver.key('F5');
      await driver.waitFor('send-confirm');
      await sleep(300);
      screenshot(`send-dialog-${variant.language}-${variant.theme}.png`);
      expect(driver.widget('send-exit')?.text).toBe(variant.language === 'en' ? 'Cancel' : 'Отмена');
      await driver.click('send-exit');
      await driver.waitForGone('send-dialog');

      const stored = JSON.parse(fs.readFileSync(path.join(dirs.configDir, 'settings.json'), 'utf8')) as { interface: { language: string; theme: string } };
      expect(stored.interface).toMatchObject({ language: variant.language, theme: variant.theme });
    }
  }, 240_000);

  test('panels of every kind fit in Russian', async () => {
    // The settings flow leaves the window in Russian, with the left PACS panel and the right Local panel listing studies.
    await driver.waitFor('open-settings', (button) => button.text === 'Настройки', 5_000, 'Russian');
    // The window opens at MAIN_WINDOW_MIN_SIZE of main-window.ts, so this checks the narrowest layout.
    expect(driver.widget('main-window')?.width).toBe(1360);

    const kinds = ['pacs', 'local', 'ssh'] as const;
    type Kind = (typeof kinds)[number];
    const kindTexts: Record<Kind, string> = { pacs: 'PACS', local: 'Локально', ssh: 'SSH' };
    const fieldOf: Record<Kind, string> = { pacs: 'aet', local: 'path', ssh: 'ssh-folder' };
    const shown: Record<'left' | 'right', Kind> = { left: 'pacs', right: 'local' };

    /** Switches a panel to `kind` with its combo box and, unless it is SSH, connects it and waits for its studies. */
    const showKind = async (side: 'left' | 'right', kind: Kind) => {
      if (shown[side] === kind) return;
      await driver.click(`${side}-kind`);
      driver.key('Home', ...Array<string>(kinds.indexOf(kind)).fill('Down'), 'Return');
      await driver.waitFor(`${side}-kind`, (combo) => combo.text === kindTexts[kind], 5_000, kindTexts[kind]);
      await driver.waitForStill(`${side}-${fieldOf[kind]}`);
      shown[side] = kind;
      if (kind === 'ssh') return;
      if (kind === 'pacs') {
        await driver.typeInto(`${side}-host`, '127.0.0.1');
        await driver.typeInto(`${side}-port`, String(orthanc.port));
        await driver.typeInto(`${side}-aet`, 'ORTHANCUI');
      }
      await driver.click(`${side}-connect`);
      await driver.waitFor(`${side}-table`, (table) => (table.rows ?? 0) > 0, 30_000, 'studies listed');
    };

    const layouts: [Kind, Kind][] = [
      ['pacs', 'local'],
      ['pacs', 'pacs'],
      ['local', 'pacs'],
      ['local', 'local'],
      ['ssh', 'local'],
      ['ssh', 'ssh'],
      ['pacs', 'ssh'],
    ];
    for (const [left, right] of layouts) {
      await showKind('left', left);
      await showKind('right', right);
      // The geometry file is rewritten every 200 ms, after NodeGui's layout pass.
      await sleep(600);
      expect({ layout: `${left} + ${right}`, clipped: clippedWidgets() }).toEqual({ layout: `${left} + ${right}`, clipped: [] });
    }
  }, 240_000);
});

describeWithGui('closing during a transfer', () => {
  const dirs = createLoaderDirs('ui-close');
  const workDir = makeTempDir('ui-close-x');
  let driver: WindowDriver;
  let xvfb: ManagedProcess;
  let orthanc: OrthancHandle;
  let loader: ManagedProcess;
  let orthancPaused = false;
  const study = corpusSamples((sample) => sample.path.endsWith('/ct-small.dcm'))[0];

  const waitForLog = (pattern: RegExp, timeoutMs = 30_000) => waitUntil(loader, `log line ${pattern}`, () => pattern.test(loader.readLog()), timeoutMs);

  beforeAll(async () => {
    ({ driver, xvfb } = await startWindowDisplay(workDir));
    orthanc = await startOrthanc({ aeTitle: 'ORTHANCCLOSE', modalities: { LOADERCLOSE: { aet: 'LOADERCLOSE', host: '127.0.0.1', port: await freePort() } } });
    await orthanc.uploadFile(study.absolutePath);
    // The retrieves here use C-GET, so the window needs no server of its own, which would listen on 0.0.0.0:11112.
    await setLoaderSettings(dirs, { 'pacs.aeTitle': 'LOADERCLOSE', 'pacs.startWithWindow': 'off', 'interface.language': 'en' });
    loader = await startLoaderWindow(driver, { name: 'loader-close', dirs, workDir });
    await driver.click('license-cancel');
    await driver.waitForGone('license-window');
    await driver.waitForActiveWindow('main-window');
  }, 120_000);

  afterAll(async () => {
    if (orthancPaused) process.kill(orthanc.process.pid, 'SIGCONT');
    await loader?.stop();
    await orthanc?.stop();
    await xvfb?.stop();
  });

  test('long status error is elided', async () => {
    // Opening a study of a node that stopped after the search fails with a long message in the status bar.
    const gone = await startOrthanc({ aeTitle: 'ORTHANCGONE', modalities: { LOADERCLOSE: { aet: 'LOADERCLOSE', host: '127.0.0.1', port: await freePort() } } });
    await gone.uploadFile(study.absolutePath);
    await driver.typeInto('left-host', '127.0.0.1');
    await driver.typeInto('left-port', String(gone.port));
    await driver.typeInto('left-aet', 'ORTHANCGONE');
    await driver.click('left-connect');
    await driver.waitFor('left-table', (table) => table.rows === 1, 30_000, '1 row');
    await driver.click('left-table', { x: 40, y: 45 });
    await driver.waitFor('left-selection', (label) => /1 selected/.test(label.text ?? ''), 5_000, '1 selected');
    await gone.stop();
    driver.key('ctrl+Return');
    const status = await driver.waitFor('status-text', (label) => /^The study could not be retrieved/.test(label.text ?? ''), 30_000, 'retrieve failed');

    const widgets = driver.dump().widgets;
    const window = widgets['main-window'];
    expect(status.text).toMatch(/…$/);
    expect(status.x + status.width).toBeLessThanOrEqual(widgets['status-progress'].x);
    for (const name of ['status-progress', 'open-settings']) {
      expect({ name, right: widgets[name].x + widgets[name].width <= window.x + window.width }).toEqual({ name, right: true });
    }
  }, 90_000);

  test('close asks and cancels the retrieve', async () => {
    await driver.typeInto('left-host', '127.0.0.1');
    await driver.typeInto('left-port', String(orthanc.port));
    await driver.typeInto('left-aet', 'ORTHANCCLOSE');
    await driver.click('left-connect');
    await driver.waitFor('left-table', (table) => table.rows === 1, 30_000, `1 row (${driver.widget('left-connection')?.text ?? ''})`);
    await driver.click('right-connect');
    await driver.waitFor('right-connection', (label) => label.text !== 'Not connected', 10_000, 'connected');
    await driver.click('left-table', { x: 40, y: 45 });
    await driver.waitFor('left-selection', (label) => /1 selected/.test(label.text ?? ''), 5_000, '1 selected');

    // A stopped Orthanc still accepts TCP connections, so the retrieve waits for it and keeps running.
    process.kill(orthanc.process.pid, 'SIGSTOP');
    orthancPaused = true;
    await driver.click('transfer-right');
    await driver.click('send-confirm');
    await driver.waitForGone('send-dialog');
    await driver.waitFor('status-text', (label) => /^Studies 0\/1/.test(label.text ?? ''), 10_000, 'transfer running');

    // Cancel keeps the window and the transfer. The buttons are pressed with Tab and Space.
    // NOTE: with this two-line question the dialog's button row lies partly below its window, so a click at a button's centre can miss.
    driver.key('ctrl+w');
    await driver.waitForActiveWindow('close-transfer-dialog', 15_000);
    await driver.focusByKey('close-transfer-dialog-cancel');
    driver.key('space');
    await driver.waitForGone('close-transfer-dialog');
    expect(driver.widget('main-window')).toBeDefined();
    expect(loader.exitStatus).toBeUndefined();
    expect(loader.readLog()).not.toMatch(/transfer cancelled/);

    // OK cancels the transfer, logs the study and the node, and ends the loader.
    await driver.waitForActiveWindow('main-window');
    driver.key('ctrl+w');
    await driver.waitForActiveWindow('close-transfer-dialog', 15_000);
    await driver.focusByKey('close-transfer-dialog-ok');
    driver.key('space');
    await waitForLog(/transfer cancelled because the window was closed/);
    const line = loader.readLog().split('\n').find((entry) => /transfer cancelled because the window was closed/.test(entry)) ?? '';
    expect(line).toContain(study.studyInstanceUid!);
    expect(line).toContain('ORTHANCCLOSE');
    const deadline = Date.now() + 30_000;
    while (loader.exitStatus === undefined && Date.now() < deadline) await sleep(200);
    expect(loader.exitStatus?.code).toBe(0);
    expect(loader.readLog()).toMatch(/desktop window closed/);
  }, 120_000);
});

describeWithTray('tray icon', () => {
  const dirs = createLoaderDirs('ui-tray');
  const workDir = makeTempDir('ui-tray-x');
  let driver: WindowDriver;
  let xvfb: ManagedProcess;
  let trayer: ManagedProcess;
  let loader: ManagedProcess;
  let serverPort: number;

  const waitForLog = (pattern: RegExp, timeoutMs = 30_000) => waitUntil(loader, `log line ${pattern}`, () => pattern.test(loader.readLog()), timeoutMs);
  const echo = () => runDcmtk('echoscu', ['-to', '5', '-aec', 'LOADERTRAY', '-aet', 'UITEST', '127.0.0.1', String(serverPort)]);

  /** Opens the tray menu with a right click on the icon and triggers its item at `index` (0: PACS On) with the keyboard. */
  const chooseTrayItem = async (index: number) => {
    const icon = driver.trayIconCentre('trayer');
    if (!icon) throw new Error('the tray icon is not embedded in trayer');
    driver.xdotool('mousemove', String(icon.x), String(icon.y), 'click', '3');
    await sleep(700);
    // Down selects the first item, and every further Down the next one, skipping the separator.
    driver.key(...Array<string>(index + 1).fill('Down'), 'Return');
    await sleep(500);
  };

  beforeAll(async () => {
    ({ driver, xvfb } = await startWindowDisplay(workDir));
    trayer = startProcess({
      name: 'trayer',
      command: 'trayer',
      args: ['--edge', 'top', '--align', 'right', '--widthtype', 'pixel', '--width', '120', '--height', '32'],
      dir: workDir,
      env: { DISPLAY: driver.display },
    });

    serverPort = await freePort();
    await setLoaderSettings(dirs, {
      'pacs.port': String(serverPort),
      'pacs.host': '127.0.0.1',
      'pacs.aeTitle': 'LOADERTRAY',
      'pacs.acceptAnyCallingAeTitle': 'on',
      'interface.language': 'en',
      'interface.trayIcon': 'on',
    });
    // trayer owns the tray selection once its window exists; the loader checks the selection only at start.
    await waitUntil(trayer, 'trayer window', () => driver.searchWindows('--class', 'trayer').length > 0, 10_000);

    loader = await startLoaderWindow(driver, { name: 'loader-tray', dirs, workDir });
    await waitForLog(/tray icon shown/);
    await driver.click('license-cancel');
    await driver.waitForGone('license-window');
    await driver.waitForActiveWindow('main-window');
  }, 120_000);

  afterAll(async () => {
    await loader?.stop();
    await trayer?.stop();
    await xvfb?.stop();
  });

  test('tray menu stops and starts the server', async () => {
    const listening = (label: { text?: string }) => /^Server listening on 127\.0\.0\.1:\d+ as LOADERTRAY$/.test(label.text ?? '');
    // The server started with the window.
    await driver.waitFor('server-state', listening, 20_000, 'listening');
    expect((await echo()).code).toBe(0);

    await chooseTrayItem(0);
    await driver.waitFor('server-state', (label) => label.text === 'Server stopped', 20_000, 'stopped');
    expect(driver.widget('server-switch')?.checked).toBe(false);
    expect((await echo()).code).not.toBe(0);

    await chooseTrayItem(0);
    await driver.waitFor('server-state', listening, 20_000, 'listening');
    expect(driver.widget('server-switch')?.checked).toBe(true);
    expect((await echo()).code).toBe(0);
  }, 60_000);

  test('closed window hides to the tray', async () => {
    driver.key('ctrl+w');
    await driver.waitForGone('main-window');
    await waitForLog(/main window hidden to the tray/);
    expect(loader.exitStatus).toBeUndefined();
    expect((await echo()).code).toBe(0);

    await chooseTrayItem(1);
    await driver.waitFor('main-window');
    expect(driver.widget('server-switch')?.checked).toBe(true);
  }, 60_000);

  test('tray menu stops the server', async () => {
    await chooseTrayItem(0);
    await driver.waitFor('server-state', (label) => label.text === 'Server stopped', 20_000, 'stopped');
    expect((await echo()).code).not.toBe(0);
  }, 60_000);

  test('settings switch removes the tray icon', async () => {
    const storedTrayIcon = () => (JSON.parse(fs.readFileSync(path.join(dirs.configDir, 'settings.json'), 'utf8')) as { interface: { trayIcon: boolean } }).interface.trayIcon;
    const waitForTrayIcon = async (shown: boolean) => {
      const deadline = Date.now() + 10_000;
      while ((driver.trayIconCentre('trayer') !== undefined) !== shown) {
        if (Date.now() > deadline) throw new Error(`the tray icon is ${shown ? 'still missing' : 'still shown'} after 10000 ms`);
        await sleep(200);
      }
    };

    await driver.click('open-settings');
    await driver.waitForActiveWindow('settings-window');
    // Ctrl+Tab moves from the PACS tab to the Interface tab.
    await driver.focusByKey('settings-aet');
    driver.key('ctrl+Tab');
    await driver.waitFor('settings-tray-icon', (box) => box.checked === true, 5_000, 'checked');

    await driver.click('settings-tray-icon');
    await driver.waitFor('settings-tray-icon', (box) => box.checked === false, 5_000, 'unchecked');
    await waitForTrayIcon(false);
    expect(storedTrayIcon()).toBe(false);

    await driver.click('settings-tray-icon');
    await driver.waitFor('settings-tray-icon', (box) => box.checked === true, 5_000, 'checked');
    await waitForTrayIcon(true);
    expect(storedTrayIcon()).toBe(true);
    expect(loader.readLog().match(/tray icon shown/g)).toHaveLength(2);

    await driver.click('settings-close');
    await driver.waitForGone('settings-window');
    await driver.waitForActiveWindow('main-window');
  }, 60_000);

  test('tray menu Quit ends the loader', async () => {
    await chooseTrayItem(2);
    const deadline = Date.now() + 20_000;
    while (loader.exitStatus === undefined && Date.now() < deadline) await sleep(200);
    expect(loader.exitStatus?.code).toBe(0);
    expect(loader.readLog()).toMatch(/desktop window closed/);
  }, 60_000);
});
