#!/usr/bin/env node
/**
 * Benchmark of the desktop window (`loader start`) under Xvfb: cold start to
 * a usable window, and idle resident memory with 1000 studies listed in the
 * Local panel. Appends the results with the machine facts to docs/benchmarks.md.
 *
 * Usage: npm run bench:window -- [--runs N] [--idle-seconds S] [--settled-seconds S] [--dry-run]
 * --runs sets the number of timed runs (median reported; default 5).
 * --idle-seconds sets how long the window stays idle before its memory is read (default 5).
 * --settled-seconds sets when memory is read a second time, in seconds after the listing (default 30).
 *   Node's garbage collector returned about 27 MiB of the window's heap 10 to 25 s after the listing.
 * --dry-run prints the report without appending it.
 *
 * Each run starts `bin/loader --archive A --config-dir C start` with a new,
 * empty settings folder and HOME, so it is a first start: the window shows the
 * license prompt next to the main window, starts its PACS server (on 127.0.0.1
 * and a port of the bench's own) and connects the Local panel (right) to the
 * archive. The bench clicks the prompt's Cancel with xdotool, as
 * test/ui/window.test.ts does. Times come from the window's log lines
 * (LOADER_LOG_LEVEL=debug), read from its standard error as they arrive:
 *   shown    from the spawn of bin/loader to "main window shown"
 *   listing  from "main window shown" to "study rows shown side=right rows=1000"
 *   cold start = shown + listing, the time from the spawn to the listing.
 * After the listing the window stays idle for --idle-seconds, then VmRSS of the
 * window process and of its child processes, if any, is read from /proc, and
 * read again at --settled-seconds. The target is checked against the first reading.
 *
 * A first untimed run has the test hooks on (LOADER_UI_TEST_HOOKS=1): it finds
 * the buttons' screen positions in the widget geometry file, and it loads the
 * binaries and the archive into the page cache, so every timed run starts warm.
 * The timed runs have the hooks off and click the same positions, because
 * Xvfb without a window manager places the windows the same way each time.
 *
 * The archive (1000 studies of one 39 KB CT instance each, copies of the corpus
 * file ct-small.dcm with new UIDs, names and dates made by pydicom) is built
 * once into bench/.work/window/ (gitignored) by `loader scan --import`.
 */
'use strict';

const { spawn, spawnSync, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const { median, readProcStatus, sleep } = require('./common');

const REPO_ROOT = path.resolve(__dirname, '..');
const WORK_DIR = path.join(__dirname, '.work', 'window');
const ARCHIVE_DIR = path.join(WORK_DIR, 'archive');
const ARCHIVE_MARKER = `${ARCHIVE_DIR}.complete`;
const RUNS_DIR = path.join(WORK_DIR, 'runs');
const LOADER_BIN = path.join(REPO_ROOT, 'bin', 'loader');
const LOADER_BUNDLE = path.join(REPO_ROOT, 'dist', 'loader.js');
const GUI_SHIM = path.join(REPO_ROOT, 'native', 'qode-shim', 'build', 'qode_shim.node');
const GUI_ADDON = path.join(REPO_ROOT, 'node_modules', '@nodegui', 'nodegui', 'build', 'Release', 'nodegui_core.node');
const SOURCE_FILE = path.join(REPO_ROOT, 'test', '.corpus', 'samples', 'ct', 'ct-small.dcm');
const REPORT_FILE = path.join(REPO_ROOT, 'docs', 'benchmarks.md');
const PYTHON = '/usr/bin/python3';

const STUDY_COUNT = 1000;
const SCREEN = '1400x900x24';
// Fixed UID root of the generated studies: a sub-arc of bench/run.js's UUID-derived 2.25 root.
const WINDOW_UID_ROOT = '2.25.333967470741117958259441627269622020402.12';
const TARGET_START_MS = 1500;
const TARGET_RSS_BYTES = 200e6;
/** Time allowed for the window to show and for the listing, in milliseconds. */
const WAIT_TIMEOUT_MS = 60_000;
/** Delay between the "main window shown" line and the Cancel click, because a dialog raises itself 50 ms after it mounts. */
const DIALOG_RAISE_WAIT_MS = 500;

function log(message) {
  process.stderr.write(`bench:window: ${message}\n`);
}

function parseArguments(argv) {
  const options = { runs: 5, idleSeconds: 5, settledSeconds: 30, dryRun: false };
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index];
    if (arg === '--runs') options.runs = Number(argv[++index]);
    else if (arg === '--idle-seconds') options.idleSeconds = Number(argv[++index]);
    else if (arg === '--settled-seconds') options.settledSeconds = Number(argv[++index]);
    else if (arg === '--dry-run') options.dryRun = true;
    else {
      process.stderr.write(`bench:window: unknown option '${arg}' (expected --runs N, --idle-seconds S, --settled-seconds S or --dry-run)\n`);
      process.exit(2);
    }
  }
  if (!Number.isInteger(options.runs) || options.runs < 1) {
    process.stderr.write('bench:window: --runs must be a positive integer\n');
    process.exit(2);
  }
  if (!(options.idleSeconds >= 0)) {
    process.stderr.write('bench:window: --idle-seconds must be a number of seconds, 0 or more\n');
    process.exit(2);
  }
  if (!(options.settledSeconds >= options.idleSeconds + 1)) {
    process.stderr.write('bench:window: --settled-seconds must be at least 1 more than --idle-seconds\n');
    process.exit(2);
  }
  return options;
}

function nowMs() {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Returns the reason the bench cannot run, or undefined when everything it needs is present. */
function missingPrerequisite() {
  if (!fs.existsSync(LOADER_BUNDLE)) return `${path.relative(REPO_ROOT, LOADER_BUNDLE)} not found; run npm run build`;
  for (const file of [GUI_SHIM, GUI_ADDON]) {
    if (!fs.existsSync(file)) return `${path.relative(REPO_ROOT, file)} not found; build it with scripts/build-gui.sh`;
  }
  for (const tool of ['Xvfb', 'xdotool']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} not found; install it with scripts/setup.sh --test`;
  }
  if (spawnSync(PYTHON, ['-c', 'import pydicom']).status !== 0) return `pydicom not found for ${PYTHON}; install it with scripts/setup.sh --test`;
  return undefined;
}

// --- test data ---------------------------------------------------------------

/**
 * Writes COUNT copies of the source instance, each its own patient, study,
 * series and instance, with Latin and Cyrillic names in ISO_IR 192 and one
 * study date per day from 2015-01-01.
 */
const BUILD_STUDIES = `
import copy, datetime, os, sys, pydicom
source, output, count, root = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
families = ['Иванов', 'Петрова', 'Smith', 'Müller', 'Сидоров', 'Nguyen', 'Kowalski', 'Кузнецова', 'García', 'Волков']
givens = ['Иван', 'Анна', 'John', 'Eva', 'Пётр', 'Linh', 'Jan', 'Мария', 'Lucía', 'Олег', 'Tom']
template = pydicom.dcmread(source)
first_day = datetime.date(2015, 1, 1)
os.makedirs(output, exist_ok=True)
for index in range(count):
    dataset = copy.deepcopy(template)
    number = index + 1
    dataset.SpecificCharacterSet = 'ISO_IR 192'
    dataset.PatientName = f'{families[index % len(families)]}^{givens[index % len(givens)]}^{number:04d}'
    dataset.PatientID = f'WINDOW{number:05d}'
    dataset.StudyInstanceUID = f'{root}.{number}'
    dataset.SeriesInstanceUID = f'{root}.{number}.1'
    dataset.SOPInstanceUID = f'{root}.{number}.1.1'
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.StudyDate = (first_day + datetime.timedelta(days=index)).strftime('%Y%m%d')
    dataset.StudyDescription = f'Window bench study {number}'
    dataset.save_as(os.path.join(output, f'{number:05d}.dcm'))
`;

function loaderEnv(home) {
  return { ...process.env, HOME: home, XDG_CONFIG_HOME: path.join(home, '.config') };
}

/** Builds the archive of STUDY_COUNT studies once; a marker beside it records that it is complete. */
function ensureArchive() {
  if (fs.existsSync(ARCHIVE_MARKER)) return;
  if (!fs.existsSync(SOURCE_FILE)) {
    execFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'build-corpus.sh'), [], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const sourceDir = path.join(WORK_DIR, 'source');
  const configDir = path.join(WORK_DIR, 'build-config');
  const home = path.join(WORK_DIR, 'build-home');
  for (const dir of [sourceDir, ARCHIVE_DIR, configDir, home]) fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(home, { recursive: true });

  log(`writing ${STUDY_COUNT} studies into ${path.relative(REPO_ROOT, sourceDir)}`);
  execFileSync(PYTHON, ['-c', BUILD_STUDIES, SOURCE_FILE, sourceDir, String(STUDY_COUNT), WINDOW_UID_ROOT], { stdio: 'inherit' });
  log(`importing them into ${path.relative(REPO_ROOT, ARCHIVE_DIR)}`);
  const globals = ['--archive', ARCHIVE_DIR, '--config-dir', configDir];
  const scan = spawnSync(LOADER_BIN, [...globals, 'scan', '--import', sourceDir], { env: loaderEnv(home), encoding: 'utf8' });
  if (scan.status !== 0) throw new Error(`loader scan --import ${sourceDir} exited with ${scan.status}\n${scan.stderr}`);
  const studies = JSON.parse(execFileSync(LOADER_BIN, [...globals, 'studies', '--json'], { env: loaderEnv(home), encoding: 'utf8' }));
  if (studies.length !== STUDY_COUNT) throw new Error(`the archive lists ${studies.length} studies after the import; expected ${STUDY_COUNT}`);

  for (const dir of [sourceDir, configDir, home]) fs.rmSync(dir, { recursive: true, force: true });
  fs.writeFileSync(ARCHIVE_MARKER, `${new Date().toISOString()}\n`);
}

// --- X server and window -----------------------------------------------------

/** Starts Xvfb on a random free display number well above the usual ones, as test/ui/window.test.ts does. */
async function startXvfb() {
  for (let attempt = 1; attempt <= 3; attempt++) {
    const number = 1000 + Math.floor(Math.random() * 30_000);
    const socket = `/tmp/.X11-unix/X${number}`;
    if (fs.existsSync(socket)) continue;
    const xvfb = spawn('Xvfb', [`:${number}`, '-screen', '0', SCREEN, '-nolisten', 'tcp'], { stdio: 'ignore' });
    let exited = false;
    xvfb.once('exit', () => (exited = true));
    const deadline = Date.now() + 10_000;
    while (!exited && !fs.existsSync(socket) && Date.now() < deadline) await sleep(50);
    if (fs.existsSync(socket) && !exited) {
      return {
        display: `:${number}`,
        stop: () => {
          if (!exited) xvfb.kill('SIGTERM');
        },
      };
    }
    if (!exited) xvfb.kill('SIGTERM');
  }
  throw new Error('Xvfb did not start on a free display in 3 attempts');
}

function xdotool(display, ...args) {
  return execFileSync('xdotool', args, { env: { ...process.env, DISPLAY: display }, encoding: 'utf8' });
}

/** Returns the ids of the visible X windows of process PID. xdotool exits with 1 when it finds none. */
function visibleWindows(display, pid) {
  const result = spawnSync('xdotool', ['search', '--onlyvisible', '--pid', String(pid)], { env: { ...process.env, DISPLAY: display }, encoding: 'utf8' });
  if (result.status !== 0 && result.status !== 1) throw new Error(`xdotool search --pid ${pid} failed: ${result.stderr}`);
  return result.stdout.split('\n').filter((id) => id !== '');
}

function click(display, point) {
  xdotool(display, 'mousemove', String(point.x), String(point.y), 'click', '1');
}

/** Starts the window; `lines` collects its standard error lines with their arrival time in ms since the spawn. */
function startWindow(display, runDir, hooksFile) {
  const home = path.join(runDir, 'home');
  const runtime = path.join(runDir, 'runtime');
  fs.mkdirSync(home, { recursive: true });
  fs.mkdirSync(runtime, { recursive: true, mode: 0o700 });
  const env = { ...loaderEnv(home), DISPLAY: display, XDG_RUNTIME_DIR: runtime, LANG: 'C.UTF-8', LOADER_LOG_LEVEL: 'debug' };
  delete env.WAYLAND_DISPLAY;
  delete env.LOADER_UI_TEST_HOOKS;
  if (hooksFile) Object.assign(env, { LOADER_UI_TEST_HOOKS: '1', LOADER_UI_TEST_HOOKS_FILE: hooksFile });

  // The window starts its PACS server; it listens on the loopback address only, on a port of this bench's own.
  const config = path.join(runDir, 'config');
  for (const [key, value] of [['pacs.host', '127.0.0.1'], ['pacs.port', String(WINDOW_PACS_PORT)]]) {
    execFileSync(LOADER_BIN, ['--config-dir', config, 'config', 'set', key, value], { env, stdio: 'ignore' });
  }
  const args = ['--archive', ARCHIVE_DIR, '--config-dir', config, 'start'];
  const spawnedAt = nowMs();
  const child = spawn(LOADER_BIN, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const window = { child, spawnedAt, lines: [], exit: undefined, logFile: path.join(runDir, 'loader.log') };
  const logStream = fs.createWriteStream(window.logFile);
  let partial = '';
  child.stderr.on('data', (chunk) => {
    const at = nowMs() - spawnedAt;
    logStream.write(chunk);
    const parts = (partial + chunk).split('\n');
    partial = parts.pop();
    for (const text of parts) window.lines.push({ at, text });
  });
  child.once('exit', (code, signal) => {
    window.exit = { code, signal };
    logStream.end();
  });
  return window;
}

/** Waits for a log line matching PATTERN and returns it; fails when the window exits or the wait times out. */
async function waitForLine(window, pattern, what) {
  const deadline = Date.now() + WAIT_TIMEOUT_MS;
  for (;;) {
    const line = window.lines.find((candidate) => pattern.test(candidate.text));
    if (line) return line;
    if (window.exit) throw new Error(`the window exited (code ${window.exit.code}, signal ${window.exit.signal}) before ${what}; log: ${window.logFile}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${WAIT_TIMEOUT_MS} ms waiting for ${what}; log: ${window.logFile}`);
    await sleep(5);
  }
}

async function waitUntil(check, what, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

async function stopWindow(window) {
  if (window.exit) return;
  const exited = new Promise((resolve) => window.child.once('exit', resolve));
  window.child.kill('SIGTERM');
  const timer = setTimeout(() => window.child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

// --- memory ------------------------------------------------------------------

/** Reads the memory fields of /proc/PID/status in MiB, or returns undefined once the process is gone. */
function readStatus(pid) {
  const field = readProcStatus(pid);
  if (!field) return undefined;
  return { rss: field('VmRSS'), anon: field('RssAnon'), file: field('RssFile'), shmem: field('RssShmem'), hwm: field('VmHWM') };
}

/** Returns the PIDs of every descendant process of PID, from /proc/PID/task/TID/children. */
function descendants(pid) {
  const found = [];
  let tasks = [];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return found;
  }
  for (const task of tasks) {
    let children = '';
    try {
      children = fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const child of children.split(/\s+/).filter(Boolean).map(Number)) found.push(child, ...descendants(child));
  }
  return found;
}

/** Takes SAMPLES readings 100 ms apart and returns the median VmRSS of the process, the sum over its children, and the last breakdown. */
async function sampleMemory(pid, samples = 10) {
  const own = [];
  const children = [];
  let last;
  let childCount = 0;
  for (let index = 0; index < samples; index++) {
    last = readStatus(pid);
    if (!last) throw new Error(`the window process ${pid} exited while its memory was read`);
    own.push(last.rss);
    const childPids = descendants(pid);
    childCount = Math.max(childCount, childPids.length);
    children.push(childPids.map((child) => readStatus(child)?.rss ?? 0).reduce((sum, value) => sum + value, 0));
    await sleep(100);
  }
  return { rss: median(own), childRss: median(children), childCount, anon: last.anon, file: last.file, shmem: last.shmem, hwm: last.hwm };
}

// --- runs --------------------------------------------------------------------

/** Port of the PACS server that the window starts; the windows run one after another. */
const WINDOW_PACS_PORT = 45977;

const SHOWN = /loader\.ui: main window shown/;
const LISTED = new RegExp(`loader\\.ui: study rows shown side=right rows=${STUDY_COUNT}\\b`);

/**
 * Runs the window once with the test hooks on and returns the screen
 * position of the license prompt's Cancel.
 */
async function calibrate(display) {
  const runDir = path.join(RUNS_DIR, 'calibration');
  const hooksFile = path.join(runDir, 'widgets.json');
  fs.mkdirSync(runDir, { recursive: true });
  const window = startWindow(display, runDir, hooksFile);
  try {
    const shown = await waitForLine(window, SHOWN, '"main window shown"');
    const readWidgets = () => {
      try {
        return JSON.parse(fs.readFileSync(hooksFile, 'utf8'));
      } catch {
        return undefined;
      }
    };
    const centre = (record) => ({ x: record.x + Math.floor(record.width / 2), y: record.y + Math.floor(record.height / 2) });
    const dump = await waitUntil(() => {
      const current = readWidgets();
      return current?.activeWindow === 'license-window' && current.widgets['license-cancel'] ? current : undefined;
    }, 'the license prompt with focus in the geometry file');
    const positions = { cancel: centre(dump.widgets['license-cancel']) };

    click(display, positions.cancel);
    await waitUntil(() => !readWidgets()?.widgets['license-window'], 'the license prompt to close');
    const listed = await waitForLine(window, LISTED, `"study rows shown" with ${STUDY_COUNT} rows`);
    log(`calibration run (test hooks on): shown ${shown.at.toFixed(0)} ms, listing ${(listed.at - shown.at).toFixed(0)} ms; Cancel at ${JSON.stringify(positions.cancel)}`);
    return { positions, shownMs: shown.at, listingMs: listed.at - shown.at };
  } finally {
    await stopWindow(window);
  }
}

/** Runs the window once with the test hooks off, clicking the calibrated positions, and returns its times and memory. */
async function timedRun(display, positions, runNumber, options) {
  const runDir = path.join(RUNS_DIR, `run-${runNumber}`);
  fs.mkdirSync(runDir, { recursive: true });
  const window = startWindow(display, runDir, undefined);
  try {
    const shown = await waitForLine(window, SHOWN, '"main window shown"');
    const pid = window.child.pid;
    // bin/loader is a shell script that execs node, so the spawned PID is the window's node process.
    await waitUntil(() => visibleWindows(display, pid).length === 2, 'the main window and the license prompt to be mapped');
    await sleep(DIALOG_RAISE_WAIT_MS);
    click(display, positions.cancel);
    await waitUntil(() => visibleWindows(display, pid).length === 1, 'the license prompt to close after the Cancel click');

    // The window connects the Local panel to its archive at start; the license prompt does not hold the listing back.
    const listed = await waitForLine(window, LISTED, `"study rows shown" with ${STUDY_COUNT} rows`);
    const processUptimeMs = Number((shown.text.match(/processUptimeMs=(\d+)/) || [])[1]);

    const listedAt = window.spawnedAt + listed.at;
    await sleep(listedAt + options.idleSeconds * 1000 - nowMs());
    const memory = await sampleMemory(pid);
    await sleep(listedAt + options.settledSeconds * 1000 - nowMs());
    const settled = await sampleMemory(pid);
    const result = { shownMs: shown.at, processUptimeMs, listingMs: listed.at - shown.at, wallMs: listed.at, memory, settled };
    result.startMs = listed.at;
    log(
      `run ${runNumber}: shown ${result.shownMs.toFixed(0)} ms, listing ${result.listingMs.toFixed(0)} ms, cold start ${result.startMs.toFixed(0)} ms; ` +
        `idle VmRSS ${memory.rss.toFixed(1)} MiB, at ${options.settledSeconds} s ${settled.rss.toFixed(1)} MiB (children: ${memory.childCount}, ${memory.childRss.toFixed(1)} MiB)`,
    );
    return result;
  } finally {
    await stopWindow(window);
  }
}

// --- report ------------------------------------------------------------------

function commandOutput(command, args) {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

function machineFacts() {
  const cpuInfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const model = (cpuInfo.match(/^model name\s*:\s*(.+)$/m) || [])[1] || os.cpus()[0]?.model || 'unknown';
  const qt = commandOutput('dpkg-query', ['-W', '-f', '${Version}', 'libqt6core6t64']) || commandOutput('dpkg-query', ['-W', '-f', '${Version}', 'libqt6core6']) || 'unknown';
  const disk = commandOutput('findmnt', ['-n', '-o', 'SOURCE,FSTYPE', '--target', WORK_DIR]) || 'unknown';
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    commit: commandOutput('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD']) || 'unknown',
    text: `${model.trim()}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.type()} ${os.release()}; Node ${process.version}; Qt ${qt} (Debian package); bench/.work on ${disk}`,
  };
}

/** Returns the output of `uptime`, whose load averages show whether other jobs shared the machine during the run. */
function uptime() {
  return commandOutput('uptime', [])?.replace(/\s+/g, ' ') ?? 'uptime failed';
}

function megabytes(mebibytes) {
  return (mebibytes * 2 ** 20) / 1e6;
}

function buildReport(facts, options, calibration, runs, uptimes) {
  const fixed = (value, digits = 0) => value.toFixed(digits);
  const row = (label, values) => `| ${label} | ${values.join(' | ')} |`;
  const columns = (run) => [
    fixed(run.shownMs),
    fixed(run.processUptimeMs),
    fixed(run.listingMs),
    fixed(run.startMs),
    fixed(run.wallMs),
    fixed(run.memory.rss, 1),
    fixed(run.memory.anon, 1),
    fixed(run.memory.file, 1),
    fixed(run.memory.hwm, 1),
    fixed(run.settled.rss + run.settled.childRss, 1),
    `${run.memory.childCount} (${fixed(run.memory.childRss, 1)} MiB)`,
  ];
  const medianOf = (select) => median(runs.map(select));
  const medianStart = medianOf((run) => run.startMs);
  const medianRss = medianOf((run) => run.memory.rss + run.memory.childRss);
  const medianSettled = medianOf((run) => run.settled.rss + run.settled.childRss);
  const header =
    `| run | shown ms | process uptime at shown ms | listing ms | cold start ms | wall to listing ms | VmRSS at ${options.idleSeconds} s MiB | RssAnon MiB | RssFile MiB | VmHWM MiB | ` +
    `VmRSS at ${options.settledSeconds} s MiB | child processes |`;

  return [
    `## Desktop window, ${facts.date} (commit ${facts.commit})`,
    '',
    `Machine: ${facts.text}. Xvfb screen ${SCREEN}, no window manager.`,
    `Script: \`npm run bench:window -- --runs ${options.runs} --idle-seconds ${options.idleSeconds} --settled-seconds ${options.settledSeconds}\` (bench/window.js), ${options.runs} timed runs, medians reported.`,
    '',
    `\`uptime\` before the run: \`${uptimes.before}\`; after: \`${uptimes.after}\`.`,
    '',
    `Each run is a first start of \`bin/loader start\` (dist/loader.js) with a new settings folder on an archive of ${STUDY_COUNT} studies, one 39 KB CT instance each. ` +
      'Shown is the time from the spawn of bin/loader to the window\'s "main window shown" log line, logged after React mounted the main window and the license prompt. ' +
      `The window connects its Local panel to the archive at start, without a click. Listing is the time from "main window shown" to the "study rows shown" line with ${STUDY_COUNT} rows, logged after the rows are in the table. ` +
      'Cold start is their sum, the time from the spawn to the listing; wall to listing is the same time, since the bench no longer clicks before it. ' +
      `Memory is read ${options.idleSeconds} s and ${options.settledSeconds} s after the listing, from /proc/PID/status (the median VmRSS of 10 readings 100 ms apart), with the window idle. ` +
      `RssAnon, RssFile and VmHWM are of the ${options.idleSeconds} s reading. ` +
      'Child processes counts the descendants of the window process, whose VmRSS is added to the total.',
    '',
    `Page cache: warm. An untimed first run with the test hooks on started the same binaries on the same archive before the timed runs (its shown time was ${fixed(calibration.shownMs)} ms and its listing ${fixed(calibration.listingMs)} ms). ` +
      'No run measures a start after the caches were dropped.',
    '',
    header,
    `|${'---|'.repeat(12)}`,
    ...runs.map((run, index) => row(String(index + 1), columns(run))),
    row('median', [
      fixed(medianOf((run) => run.shownMs)),
      fixed(medianOf((run) => run.processUptimeMs)),
      fixed(medianOf((run) => run.listingMs)),
      fixed(medianStart),
      fixed(medianOf((run) => run.wallMs)),
      fixed(medianOf((run) => run.memory.rss), 1),
      fixed(medianOf((run) => run.memory.anon), 1),
      fixed(medianOf((run) => run.memory.file), 1),
      fixed(medianOf((run) => run.memory.hwm), 1),
      fixed(medianSettled, 1),
      '',
    ]),
    '',
    `Cold start to a usable window: median ${fixed(medianStart)} ms; target under ${TARGET_START_MS} ms, ${medianStart < TARGET_START_MS ? 'met' : 'not met'}.`,
    `Idle memory with ${STUDY_COUNT} studies listed: median ${fixed(medianRss, 1)} MiB = ${fixed(megabytes(medianRss), 1)} MB (window process and children) ${options.idleSeconds} s after the listing; target under ${TARGET_RSS_BYTES / 1e6} MB, ${megabytes(medianRss) * 1e6 < TARGET_RSS_BYTES ? 'met' : 'not met'}. ` +
      `At ${options.settledSeconds} s: median ${fixed(medianSettled, 1)} MiB = ${fixed(megabytes(medianSettled), 1)} MB.`,
  ].join('\n');
}

async function main() {
  const options = parseArguments(process.argv.slice(2));
  const missing = missingPrerequisite();
  if (missing) {
    process.stderr.write(`bench:window: cannot run: ${missing}\n`);
    process.exit(1);
  }
  fs.mkdirSync(WORK_DIR, { recursive: true });
  ensureArchive();
  fs.rmSync(RUNS_DIR, { recursive: true, force: true });

  const facts = machineFacts();
  const uptimes = { before: uptime(), after: '' };
  const xvfb = await startXvfb();
  log(`Xvfb on display ${xvfb.display}`);
  let calibration;
  const runs = [];
  try {
    calibration = await calibrate(xvfb.display);
    for (let run = 1; run <= options.runs; run++) runs.push(await timedRun(xvfb.display, calibration.positions, run, options));
  } finally {
    xvfb.stop();
  }
  uptimes.after = uptime();

  const report = buildReport(facts, options, calibration, runs, uptimes);
  // Settings folders and logs of the runs; the archive stays for the next bench.
  fs.rmSync(RUNS_DIR, { recursive: true, force: true });
  process.stdout.write(`${report}\n`);
  if (options.dryRun) return;
  fs.appendFileSync(REPORT_FILE, `\n${report}\n`);
  log(`appended to ${path.relative(REPO_ROOT, REPORT_FILE)}`);
}

main().catch((error) => {
  process.stderr.write(`bench:window: ${error.stack || error.message}\n`);
  process.exit(1);
});
