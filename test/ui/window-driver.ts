/**
 * Drives the desktop window under Xvfb with xdotool, finding widgets by
 * objectName in the geometry file that the window writes with
 * LOADER_UI_TEST_HOOKS=1 (src/ui/test-hooks.ts).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import type { WidgetDump, WidgetRecord } from '../../src/ui/test-hooks';
import { corpusSamples, createLoaderDirs, freePort, LOADER_BIN, makeTempDir, runLoader, startProcess, waitUntil } from '../support/peers';
import type { LoaderDirs, ManagedProcess } from '../support/peers';

/** Interval between reads of the geometry file, in milliseconds. */
const POLL_MS = 100;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Starts Xvfb on a random display number well above the ones that other tests and desktops start from
 * (0, 90, 99), because another test's Xvfb once took display :0 away in the middle of a flow. Xvfb
 * rejects a display whose lock file exists, so a taken number costs one more try. `name` prefixes the
 * process name in logs.
 */
export async function startXvfb(workDir: string, name = 'xvfb'): Promise<{ display: string; xvfb: ManagedProcess }> {
  for (let attempt = 1; ; attempt++) {
    const number = 1000 + Math.floor(Math.random() * 30_000);
    const display = `:${number}`;
    const xvfb = startProcess({ name: `${name}-${attempt}`, command: 'Xvfb', args: [display, '-screen', '0', '1400x900x24', '-nolisten', 'tcp'], dir: workDir });
    try {
      await waitUntil(xvfb, `X socket of ${display}`, () => fs.existsSync(`/tmp/.X11-unix/X${number}`), 10_000);
      return { display, xvfb };
    } catch (error) {
      await xvfb.stop();
      if (attempt === 3) throw error;
    }
  }
}

/** Returns the absolute paths of the corpus files of the study whose first file ends with `/name`. */
export function corpusStudyFiles(name: string): string[] {
  const first = corpusSamples((sample) => sample.path.endsWith(`/${name}`))[0];
  if (!first?.studyInstanceUid) throw new Error(`corpus sample ${name} not found; rebuild test/.corpus with npm run corpus`);
  return corpusSamples((sample) => sample.studyInstanceUid === first.studyInstanceUid).map((sample) => sample.absolutePath);
}

/** Starts Xvfb as startXvfb does and returns it with a driver whose geometry file is widgets.json in `workDir`. */
export async function startWindowDisplay(workDir: string, name?: string): Promise<{ driver: WindowDriver; xvfb: ManagedProcess }> {
  const { display, xvfb } = await startXvfb(workDir, name);
  return { driver: new WindowDriver(display, path.join(workDir, 'widgets.json')), xvfb };
}

/** Writes each setting with `loader config set` into the settings folder of `dirs`; throws when one is rejected. */
export async function setLoaderSettings(dirs: LoaderDirs, settings: Record<string, string>): Promise<void> {
  for (const [key, value] of Object.entries(settings)) {
    const result = await runLoader(['config', 'set', key, value], { dirs });
    if (result.code !== 0) throw new Error(`loader config set ${key} ${value} failed with code ${result.code}: ${result.stderr}`);
  }
}

/**
 * Starts `loader start` with the test hooks on the driver's display, with its
 * archive, settings and home folder in `dirs`, makes it the driver's app and
 * waits until the window is opening. `env` adds to or overrides the variables.
 */
export async function startLoaderWindow(driver: WindowDriver, options: { name: string; dirs: LoaderDirs; workDir: string; env?: Record<string, string> }): Promise<ManagedProcess> {
  const { dirs, workDir } = options;
  const loader = startProcess({
    name: options.name,
    command: LOADER_BIN,
    args: ['--archive', dirs.archiveDir, '--config-dir', dirs.configDir, 'start'],
    dir: workDir,
    env: {
      DISPLAY: driver.display,
      HOME: dirs.homeDir,
      XDG_RUNTIME_DIR: workDir,
      LANG: 'C.UTF-8',
      LOADER_UI_TEST_HOOKS: '1',
      LOADER_UI_TEST_HOOKS_FILE: driver.widgetsFile,
      ...options.env,
    },
  });
  driver.app = loader;
  await waitUntil(loader, 'log line "desktop window opening"', () => /desktop window opening/.test(loader.readLog()), 60_000);
  return loader;
}

/** Options of useWindowSession. */
export interface WindowSessionOptions {
  /** Value of interface.language, which stays unset when this is omitted. */
  language?: string;
  /** Whether the window starts its PACS server (pacs.startWithWindow). False by default. */
  startServer?: boolean;
  /** More settings, written after the ones the session sets and overriding them. */
  settings?: Record<string, string>;
  /** Variables added to the loader's environment. */
  env?: Record<string, string>;
  /** Runs in beforeAll once serverPort is set, before Xvfb starts, to fill the archive or start peers. */
  prepare?: (session: WindowSession) => Promise<void>;
  /** Whether beforeAll closes the license window with Escape. True by default. */
  closeLicense?: boolean;
}

/** Processes and folders of one window under Xvfb. The fields driver, loader and serverPort are set in beforeAll. */
export interface WindowSession {
  dirs: LoaderDirs;
  workDir: string;
  driver: WindowDriver;
  loader: ManagedProcess;
  /** pacs.port, a free port of 127.0.0.1 where the window's server listens when it runs. */
  serverPort: number;
}

/**
 * Registers a beforeAll that starts Xvfb and `loader start` with fresh folders
 * named after `name`, and an afterAll that stops them. The server listens on
 * 127.0.0.1 at serverPort and the tray icon is off. Call it inside describe,
 * before the file's own beforeAll, which then runs after the window opens.
 */
export function useWindowSession(name: string, options: WindowSessionOptions = {}): WindowSession {
  const session = {
    dirs: createLoaderDirs(`ui-${name}`),
    workDir: makeTempDir(`ui-${name}-x`),
  } as WindowSession;
  let xvfb: ManagedProcess | undefined;

  beforeAll(async () => {
    session.serverPort = await freePort();
    await options.prepare?.(session);
    let driver: WindowDriver;
    ({ driver, xvfb } = await startWindowDisplay(session.workDir));
    session.driver = driver;
    await setLoaderSettings(session.dirs, {
      'pacs.port': String(session.serverPort),
      'pacs.host': '127.0.0.1',
      'pacs.startWithWindow': options.startServer ? 'on' : 'off',
      'interface.trayIcon': 'off',
      ...(options.language === undefined ? {} : { 'interface.language': options.language }),
      ...options.settings,
    });
    session.loader = await startLoaderWindow(driver, { name: `loader-${name}`, dirs: session.dirs, workDir: session.workDir, env: options.env });
    if (options.closeLicense ?? true) {
      // Without a license the window opens the license window first, in front of the main window.
      await driver.waitForActiveWindow('license-window', 30_000);
      driver.key('Escape');
      await driver.waitForGone('license-window');
    }
  }, 120_000);

  afterAll(async () => {
    await session.loader?.stop();
    await xvfb?.stop();
  });

  return session;
}

export class WindowDriver {
  /** The loader process that shows the window; failed waits report its exit status. */
  app?: ManagedProcess;

  constructor(
    readonly display: string,
    readonly widgetsFile: string,
  ) {}

  /**
   * Ends a failed wait: saves a screenshot and throws `message`, with the
   * loader's exit status when it has exited, because a window that vanished
   * from the screen may belong to a loader that crashed.
   */
  private fail(name: string, message: string): never {
    this.saveFailureScreenshot(name);
    const status = this.app?.exitStatus;
    const exit = status === undefined ? '' : `; the loader exited with code ${status.code}, signal ${status.signal} (log: ${this.app?.logFile})`;
    throw new Error(message + exit);
  }

  xdotool(...args: string[]): string {
    return execFileSync('xdotool', args, { env: { ...process.env, DISPLAY: this.display } }).toString();
  }

  /** Returns the last geometry file, or an empty dump before the window wrote one. */
  dump(): WidgetDump {
    try {
      return JSON.parse(fs.readFileSync(this.widgetsFile, 'utf8')) as WidgetDump;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { widgets: {} };
      throw error;
    }
  }

  widget(name: string): WidgetRecord | undefined {
    return this.dump().widgets[name];
  }

  /** Waits until the widget exists and `ready` accepts it; the error shows the last record seen. */
  async waitFor(name: string, ready: (widget: WidgetRecord) => boolean = () => true, timeoutMs = 15_000, what = ''): Promise<WidgetRecord> {
    const { reached, last } = await this.poll(name, ready, timeoutMs);
    if (reached) return reached;
    this.fail(name, `widget "${name}" did not reach ${what || 'the expected state'} within ${timeoutMs} ms; last record: ${JSON.stringify(last)}`);
  }

  /** Reads the widget until `ready` accepts it or `timeoutMs` passes; `reached` is unset on timeout. */
  private async poll(name: string, ready: (widget: WidgetRecord) => boolean, timeoutMs: number): Promise<{ reached?: WidgetRecord; last?: WidgetRecord }> {
    const deadline = Date.now() + timeoutMs;
    let last: WidgetRecord | undefined;
    while (Date.now() < deadline) {
      last = this.widget(name);
      if (last && ready(last)) return { reached: last, last };
      await sleep(POLL_MS);
    }
    return { last };
  }

  /**
   * Waits until the widget's position and size stay the same for `stillMs`.
   * NodeGui lays out a widget that React just mounted 10 ms later, so its first
   * record can show a place that a click would then miss.
   */
  async waitForStill(name: string, stillMs = 500, timeoutMs = 10_000): Promise<WidgetRecord> {
    const deadline = Date.now() + timeoutMs;
    const geometryOf = (record: WidgetRecord | undefined) => (record ? `${record.x},${record.y} ${record.width}x${record.height}` : 'missing');
    let last = geometryOf(this.widget(name));
    let since = Date.now();
    while (Date.now() < deadline) {
      await sleep(POLL_MS);
      const record = this.widget(name);
      const geometry = geometryOf(record);
      if (geometry !== last) {
        last = geometry;
        since = Date.now();
      } else if (record && Date.now() - since >= stillMs) {
        return record;
      }
    }
    this.fail(name, `widget "${name}" did not keep its place for ${stillMs} ms within ${timeoutMs} ms; last geometry: ${last}`);
  }

  async waitForGone(name: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.widget(name)) return;
      await sleep(POLL_MS);
    }
    this.fail(name, `widget "${name}" is still shown after ${timeoutMs} ms`);
  }

  async waitForActiveWindow(id: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.dump().activeWindow === id) return;
      await sleep(POLL_MS);
    }
    this.fail(id, `window "${id}" did not get the keyboard focus within ${timeoutMs} ms; active: ${this.dump().activeWindow}`);
  }

  /**
   * Clicks the centre of an enabled widget, or `offset` pixels from its top
   * left corner, once the widget's window is the active one. A new dialog
   * raises itself 50 ms after React mounts it (ACTIVATE_DELAY_MS in
   * dialogs.ts), and without a window manager a click before that can land in
   * the window below.
   */
  async click(name: string, offset?: { x: number; y: number }): Promise<void> {
    const enabled = await this.waitFor(name, (record) => record.enabled, 15_000, 'enabled');
    await this.waitForActiveWindow(enabled.window);
    // Read the geometry again, because the window may have moved or changed its layout while it was activated.
    const widget = await this.waitFor(name, (record) => record.enabled, 5_000, 'enabled');
    const x = widget.x + (offset?.x ?? Math.floor(widget.width / 2));
    const y = widget.y + (offset?.y ?? Math.floor(widget.height / 2));
    this.xdotool('mousemove', String(x), String(y), 'click', '1');
    await sleep(300);
  }

  /**
   * Drags the right edge of column `column` of the table `name` by `dx` pixels
   * (negative narrows it) with the left mouse button, as a user resizes a
   * column. Qt starts a resize when the press is within a few pixels of a
   * section edge, so the press is 1 pixel left of the edge. The pointer moves
   * in steps, because Qt resizes the section on each motion event it receives.
   */
  async dragColumnEdge(name: string, column: number, dx: number): Promise<void> {
    const table = await this.waitFor(name, (record) => record.horizontalHeader !== undefined && (record.columnWidths?.length ?? 0) > column, 5_000, 'a horizontal header');
    await this.waitForActiveWindow(table.window);
    const header = table.horizontalHeader!;
    const edge = header.x + table.columnWidths!.slice(0, column + 1).reduce((total, width) => total + width, 0) - 1;
    const y = header.y + Math.floor(header.height / 2);
    const steps = 5;
    this.xdotool('mousemove', String(edge), String(y));
    await sleep(200);
    this.xdotool('mousedown', '1');
    for (let step = 1; step <= steps; step++) {
      await sleep(50);
      this.xdotool('mousemove', String(edge + Math.round((dx * step) / steps)), String(y));
    }
    await sleep(100);
    this.xdotool('mouseup', '1');
    await sleep(300);
  }

  /** Clicks the middle of the header section of column `column` of the table `name`, as a user sorts by that column. */
  async clickColumnHeader(name: string, column: number): Promise<void> {
    const table = await this.waitFor(name, (record) => record.horizontalHeader !== undefined && (record.columnWidths?.length ?? 0) > column, 5_000, 'a horizontal header');
    const header = table.horizontalHeader!;
    const left = header.x - table.x + table.columnWidths!.slice(0, column).reduce((total, width) => total + width, 0);
    await this.click(name, { x: left + Math.floor(table.columnWidths![column] / 2), y: header.y - table.y + Math.floor(header.height / 2) });
  }

  /**
   * Returns true when a drop-down list is shown at the combo box `name`. Qt of
   * NodeGui 0.74.2 on X11 shows the list as an override-redirect top-level
   * window that overlaps the box or touches its edge, and unmaps it when it closes.
   */
  comboListOpen(name: string): boolean {
    const combo = this.widget(name);
    if (!combo) return false;
    const env = { ...process.env, DISPLAY: this.display };
    for (const id of this.searchWindows('--onlyvisible', '--name', '')) {
      let info: string;
      try {
        info = execFileSync('xwininfo', ['-id', id], { env, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
      } catch {
        // xwininfo fails for a window that was destroyed after the search listed it.
        continue;
      }
      if (!/Override Redirect State: yes/.test(info)) continue;
      const field = (label: string) => Number(new RegExp(`${label}:\\s+(-?\\d+)`).exec(info)?.[1]);
      const [x, y, width, height] = [field('Absolute upper-left X'), field('Absolute upper-left Y'), field('Width'), field('Height')];
      const overlapsColumn = x < combo.x + combo.width && x + width > combo.x;
      const touchesRow = y <= combo.y + combo.height && y + height >= combo.y;
      if (overlapsColumn && touchesRow) return true;
    }
    return false;
  }

  /**
   * Clicks the combo box `name` and waits until its drop-down list is open.
   * A click sometimes leaves the list closed, and then the keys that follow do
   * not reach the list, so the helper clicks once more before it fails.
   */
  async openCombo(name: string, timeoutMs = 2_000): Promise<void> {
    for (let attempt = 1; attempt <= 2; attempt++) {
      await this.click(name);
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (this.comboListOpen(name)) return;
        await sleep(POLL_MS);
      }
    }
    this.fail(name, `the drop-down list of "${name}" did not open after 2 clicks`);
  }

  /**
   * Presses `keys` in the open drop-down list of the combo box `name` (End and
   * Return choose the last entry) and waits until the list is closed. A Qt
   * pop-up grabs the pointer while it is shown, so a click in that time only
   * closes it. This is the likely cause of a line edit that did not get the
   * focus when it was clicked right after a choice on a loaded CI machine.
   */
  async chooseInCombo(name: string, ...keys: string[]): Promise<void> {
    this.key(...keys);
    const deadline = Date.now() + 5_000;
    while (this.comboListOpen(name)) {
      if (Date.now() > deadline) this.fail(name, `the drop-down list of "${name}" stayed open after the keys ${keys.join(' ')}`);
      await sleep(POLL_MS);
    }
  }

  /**
   * Replaces the text of a line edit by clicking it, selecting all and typing.
   * A click that a closing pop-up swallowed leaves the focus elsewhere, so the
   * helper clicks once more before it fails.
   */
  async typeInto(name: string, text: string): Promise<void> {
    await this.click(name);
    const { reached } = await this.poll(name, (record) => record.focused, 2_000);
    if (!reached) {
      await this.click(name);
      await this.waitFor(name, (record) => record.focused, 5_000, 'focused');
    }
    this.key('ctrl+a');
    this.xdotool('type', '--delay', typingDelayMs(text), text);
    await this.waitFor(name, (record) => record.text === text, 5_000, `text "${text}"`);
  }

  /**
   * Gives `name` the keyboard focus, presses `key` and waits until the widget
   * `watched` passes `ready`. The focus is checked again after a pause,
   * because the geometry record lags behind the window after a tab switch,
   * and the key is pressed once more when the first press changed nothing:
   * on a loaded CI machine a language switch by Home once never happened.
   */
  async pressOn(name: string, key: string, watched: string, ready: (widget: WidgetRecord) => boolean, what: string): Promise<WidgetRecord> {
    await this.focusByKey(name);
    await sleep(500);
    await this.focusByKey(name);
    this.key(key);
    const { reached } = await this.poll(watched, ready, 5_000);
    if (reached) return reached;
    await this.focusByKey(name);
    this.key(key);
    return this.waitFor(watched, ready, 10_000, what);
  }

  key(...keys: string[]): void {
    this.xdotool('key', '--delay', '60', ...keys);
  }

  /** Types text into whatever widget has the keyboard focus. */
  async type(text: string): Promise<void> {
    this.xdotool('type', '--delay', typingDelayMs(text), text);
    await sleep(200);
  }

  /** Returns the name of the widget that has the keyboard focus, if a named widget has it. */
  focusedWidget(): string | undefined {
    return Object.entries(this.dump().widgets).find(([, widget]) => widget.focused)?.[0];
  }

  /** Presses `key` (Tab by default) until the widget has the keyboard focus; fails after `maxPresses`. */
  async focusByKey(name: string, key = 'Tab', maxPresses = 60): Promise<void> {
    for (let press = 0; press <= maxPresses; press++) {
      const focused = this.focusedWidget();
      if (focused === name) return;
      this.key(key);
      // The geometry file lags behind the window, so wait until it shows the focus moved.
      const deadline = Date.now() + 2_000;
      while (this.focusedWidget() === focused && Date.now() < deadline) await sleep(POLL_MS);
    }
    this.fail(name, `widget "${name}" did not get the focus after ${maxPresses} presses of ${key}`);
  }

  /**
   * Presses Tab until the keyboard focus comes back to the widget that had it
   * first, and returns the named widgets that got the focus on the way, in
   * order and starting with that widget. Fails after `maxPresses`.
   */
  async focusChain(maxPresses = 150): Promise<string[]> {
    const start = this.focusedWidget();
    if (start === undefined) this.fail('focus-chain', 'no named widget has the keyboard focus, so the Tab chain has no start');
    const chain = [start];
    for (let press = 0; press < maxPresses; press++) {
      const previous = this.focusedWidget();
      this.key('Tab');
      // A widget without a name shows as undefined, and the wait then ends at the deadline.
      const deadline = Date.now() + 2_000;
      while (this.focusedWidget() === previous && Date.now() < deadline) await sleep(POLL_MS);
      const focused = this.focusedWidget();
      if (focused === start) return chain;
      if (focused !== undefined && focused !== previous) chain.push(focused);
    }
    this.fail(start, `the focus did not come back to "${start}" after ${maxPresses} presses of Tab; it passed ${chain.join(', ')}`);
  }

  /** Returns the ids of the windows that `xdotool search` finds; xdotool exits with code 1 when it finds none. */
  searchWindows(...args: string[]): string[] {
    try {
      return this.xdotool('search', ...args).trim().split('\n').filter((id) => id !== '');
    } catch (error) {
      if ((error as { status?: number }).status === 1) return [];
      throw error;
    }
  }

  /**
   * Returns the screen centre of the icon that the tray host `trayClass` (a
   * window class, such as "trayer") embeds, from the xwininfo tree of its windows.
   */
  trayIconCentre(trayClass: string): { x: number; y: number } | undefined {
    const env = { ...process.env, DISPLAY: this.display };
    for (const host of this.searchWindows('--class', trayClass)) {
      const tree = execFileSync('xwininfo', ['-tree', '-id', host], { env }).toString();
      // Child lines read "0x200026 (has no name): ()  22x30+97+1  +1377+1": size, offset in the parent, then the screen position.
      for (const match of tree.matchAll(/^\s+0x[0-9a-f]+ .*?\s(\d+)x(\d+)[+-]-?\d+[+-]-?\d+\s+\+(-?\d+)\+(-?\d+)$/gm)) {
        const [width, height, x, y] = match.slice(1).map(Number);
        if (width > 1 && height > 1) return { x: x + Math.floor(width / 2), y: y + Math.floor(height / 2) };
      }
    }
    return undefined;
  }

  /** Saves the whole screen next to the geometry file, so that a failed wait can be looked at. */
  saveFailureScreenshot(name: string): void {
    const file = path.join(path.dirname(this.widgetsFile), `failure-${name}-${Date.now()}.png`);
    execFileSync('import', ['-window', 'root', file], { env: { ...process.env, DISPLAY: this.display } });
  }

  /** Saves a PNG of the screen area of `windowId`, or of the whole screen when it is not shown. */
  screenshot(file: string, windowId = 'main-window'): void {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const window = this.widget(windowId);
    const args = ['-window', 'root'];
    if (window) args.push('-crop', `${window.width}x${window.height}+${window.x}+${window.y}`, '+repage');
    execFileSync('import', [...args, file], { env: { ...process.env, DISPLAY: this.display } });
  }
}

/**
 * Milliseconds between the keys that xdotool types. Under Xvfb, xdotool
 * remaps a spare keycode for each character outside the keyboard map, and
 * with 15 ms Cyrillic letters were dropped, while 150 ms typed them all.
 */
function typingDelayMs(text: string): string {
  return /[^\x00-\x7f]/.test(text) ? '150' : '15';
}
