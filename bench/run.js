#!/usr/bin/env node
/**
 * Benchmarks of the loader against DCMTK on this machine; appends the results
 * with the machine facts to docs/benchmarks.md.
 *
 * Usage: npm run bench -- [--scenarios a,b,c,d,e] [--runs N] [--dry-run]
 *   a  1000 CT instances (525 KB each) by storescu into storescp and into `loader serve`,
 *      once per durability mode (full, process-crash), then 1000 more into the same process
 *   b  resident memory of `loader serve` while it receives 10 files of 100 MB
 *   c  `loader scan` of 10 000 small files vs dcmdump on the same files
 *   d  `loader send` of the scenario a files from an imported archive into storescp,
 *      vs storescu +sd +r of the same files into storescp
 *   e  resident memory of `loader send` while it sends the scenario b files to storescp
 * --runs sets the number of timed runs per measurement (median reported; default 3).
 * --dry-run prints the report without appending it.
 *
 * Test data is generated once into bench/.work/ (gitignored, about 2.3 GB);
 * received files go to bench/.work/runs/, which is removed after the run.
 * Every server listens on 127.0.0.1, and DCMTK tools run with TCP_NODELAY=1,
 * because Debian's DCMTK otherwise waits for a delayed ACK on every C-STORE.
 * A scenario whose loader command is not implemented yet is skipped with a
 * message, so the DCMTK baselines can be measured on their own.
 */
'use strict';

const { spawn, spawnSync, execFileSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const { median, readProcStatus, sleep } = require('./common');

const REPO_ROOT = path.resolve(__dirname, '..');
const WORK_DIR = path.join(__dirname, '.work');
const LOADER_BIN = path.join(REPO_ROOT, 'bin', 'loader');
const LOADER_BUNDLE = path.join(REPO_ROOT, 'dist', 'loader.js');
const CORPUS_DIR = path.join(REPO_ROOT, 'test', '.corpus');
const REPORT_FILE = path.join(REPO_ROOT, 'docs', 'benchmarks.md');
const PYTHON = '/usr/bin/python3';
const LOOPBACK = '127.0.0.1';
const DCMTK_ENV = { ...process.env, TCP_NODELAY: '1' };

// Fixed UID prefix of generated bench data (a UUID-derived 2.25 root).
const BENCH_UID_ROOT = '2.25.333967470741117958259441627269622020402.9';

// --- helpers -----------------------------------------------------------------

function log(message) {
  process.stderr.write(`bench: ${message}\n`);
}

function parseArguments(argv) {
  const options = { scenarios: ['a', 'b', 'c', 'd', 'e'], runs: 3, dryRun: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--scenarios') options.scenarios = String(argv[++i] || '').split(',').filter(Boolean);
    else if (arg === '--runs') options.runs = Number(argv[++i]);
    else if (arg === '--dry-run') options.dryRun = true;
    else {
      process.stderr.write(`bench: unknown option '${arg}' (expected --scenarios a,b,c,d,e, --runs N or --dry-run)\n`);
      process.exit(2);
    }
  }
  if (!Number.isInteger(options.runs) || options.runs < 1) {
    process.stderr.write('bench: --runs must be a positive integer\n');
    process.exit(2);
  }
  return options;
}

function seconds(start) {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: LOOPBACK, port });
    const done = (result) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function tail(file, lines = 30) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch (error) {
    return `(cannot read ${file}: ${error.message})`;
  }
}

/** Runs a command to completion; resolves with its exit code, output and wall time in seconds. */
function run(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    // discardStdout sends stdout to /dev/null, so a pipe into this process does not slow the tool down.
    const stdio = ['ignore', options.discardStdout ? 'ignore' : 'pipe', 'pipe'];
    const child = spawn(command, args, { env: options.env || process.env, stdio });
    let stdout = '';
    let stderr = '';
    if (child.stdout) child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('error', (error) => reject(new Error(`failed to run ${command}: ${error.message}`)));
    child.once('close', (code) => resolve({ code, stdout, stderr, seconds: seconds(start) }));
  });
}

/** Starts a server process with output in LOGFILE and waits until PORT accepts connections (and READY matches the log). */
async function startServer(name, command, args, port, logFile, { env, ready } = {}) {
  const logFd = fs.openSync(logFile, 'w');
  const child = spawn(command, args, { env: env || process.env, stdio: ['ignore', logFd, logFd] });
  fs.closeSync(logFd);
  let exited = null;
  const exitPromise = new Promise((resolve) => child.once('exit', (code, signal) => resolve((exited = { code, signal }))));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`${name} exited (code ${exited.code}) before listening\n${tail(logFile)}`);
    const logReady = ready ? ready.test(fs.readFileSync(logFile, 'utf8')) : true;
    if (logReady && (await canConnect(port))) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name}: timed out waiting for port ${port}\n${tail(logFile)}`);
    }
    await sleep(50);
  }
  return {
    pid: child.pid,
    async stop() {
      if (exited) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const status = await exitPromise;
      clearTimeout(timer);
      return status;
    },
  };
}

function countFiles(dir) {
  let count = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) count += countFiles(path.join(dir, entry.name));
    else if (entry.isFile()) count++;
  }
  return count;
}

function directoryBytes(dir) {
  let bytes = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) bytes += directoryBytes(full);
    else if (entry.isFile()) bytes += fs.statSync(full).size;
  }
  return bytes;
}

function freshDir(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

const RUNS_DIR = path.join(WORK_DIR, 'runs');
/** Touched when a bench removes RUNS_DIR at its end; see clearEarlierRuns. */
const RUNS_REMOVED_MARKER = path.join(WORK_DIR, 'runs.removed');
let runDirCount = 0;

/** Run folders that receivers wrote into; see flushEarlierRuns. */
const outputDirs = new Set();

/**
 * Creates a new empty folder under RUNS_DIR for one run. Nothing is deleted
 * until the bench ends: on ext4 without a journal (this bench machine's root
 * file system), creating a file scans past every inode of its block group
 * freed in the last 30-35 s (the kernel's recently_deleted check). After the
 * previous run's archive was removed, that check made each file create in
 * `loader serve` take 0.4-0.7 ms instead of about 0.03 ms (strace -T, perf).
 */
function newRunDir(label, { output = true } = {}) {
  runDirCount++;
  const dir = path.join(RUNS_DIR, `${label}-${runDirCount}`);
  fs.mkdirSync(dir, { recursive: true });
  if (output) outputDirs.add(dir);
  return dir;
}

/**
 * Drops a file's pages from the page cache (posix_fadvise DONTNEED) for
 * every file under the folders given as arguments. Pages must be clean, so
 * sync runs first.
 */
const RELEASE_PAGE_CACHE_SCRIPT = `
import os, sys
for root in sys.argv[1:]:
    for folder, _, names in os.walk(root):
        for name in names:
            try:
                fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            except OSError:
                continue
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
`;

/**
 * Writes the output of earlier runs to disk, so its writeback does not slow
 * the next timed run, and drops it from the page cache. Without the drop the
 * outputs of earlier runs (525 MB each in scenario a) filled the page cache,
 * and once free memory fell under about 1 GB every new page cost reclaim
 * work: storescp then used 1.0-1.4 s of CPU per run instead of 0.3-0.45 s.
 * The inputs (the sent files and the archive that `loader send` reads) stay
 * cached.
 */
function flushEarlierRuns() {
  execFileSync('sync');
  if (outputDirs.size > 0) execFileSync(PYTHON, ['-c', RELEASE_PAGE_CACHE_SCRIPT, ...outputDirs]);
}

/**
 * Removes the run folders of an interrupted earlier bench, then waits until
 * the file system no longer counts their inodes as recently deleted (see
 * newRunDir): dirty_expire_centisecs plus the kernel's 5 s margin. Waits the
 * rest of that time too when a finished bench removed its folders recently:
 * a bench started 20 s after another one ended ran in the slow state.
 */
async function clearEarlierRuns() {
  const waitMs = (Number(fs.readFileSync('/proc/sys/vm/dirty_expire_centisecs', 'utf8')) / 100 + 5) * 1000;
  if (fs.existsSync(RUNS_DIR)) {
    fs.rmSync(RUNS_DIR, { recursive: true, force: true });
  fs.writeFileSync(RUNS_REMOVED_MARKER, '');
    execFileSync('sync');
    log(`removed the run folders of an earlier bench; waiting ${waitMs / 1000} s before the first run`);
    await sleep(waitMs);
    return;
  }
  // A bench that finished moments ago removed its run folders just as well.
  const removedAt = fs.existsSync(RUNS_REMOVED_MARKER) ? fs.statSync(RUNS_REMOVED_MARKER).mtimeMs : 0;
  const remainingMs = removedAt + waitMs - Date.now();
  if (remainingMs > 0) {
    log(`an earlier bench removed its run folders ${((Date.now() - removedAt) / 1000).toFixed(0)} s ago; waiting ${(remainingMs / 1000).toFixed(0)} s before the first run`);
    await sleep(remainingMs);
  }
}

/**
 * Fails when the file system of bench/.work has less free space than the
 * receivers of the chosen scenarios write: every run's output stays until
 * the bench ends (see newRunDir).
 */
function checkFreeSpace(options) {
  const ctBytes = 1000 * 530e3;
  const largeBytes = 10 * 105e6;
  // Scenario a: storescp, Orthanc and both loader modes per round, storescp and the loader twice.
  const perScenario = { a: ctBytes * 7, b: largeBytes, c: 0, d: ctBytes * 3, e: largeBytes * 2 };
  const needed = options.scenarios.reduce((sum, name) => sum + (perScenario[name] ?? 0) * (name === 'b' || name === 'c' ? 1 : options.runs), 0) + 2e9;
  const stats = fs.statfsSync(WORK_DIR);
  const free = stats.bavail * stats.bsize;
  if (free < needed) {
    throw new Error(`${(free / 1e9).toFixed(1)} GB free in ${WORK_DIR}, but these scenarios write about ${(needed / 1e9).toFixed(1)} GB: free space, or pass fewer --runs or --scenarios`);
  }
}

function loaderDirs(label, options) {
  const root = newRunDir(label, options);
  const dirs = { root, archive: path.join(root, 'archive'), config: path.join(root, 'config'), home: path.join(root, 'home') };
  for (const dir of [dirs.archive, dirs.config, dirs.home]) fs.mkdirSync(dir, { recursive: true });
  return dirs;
}

function loaderEnv(dirs) {
  return { ...process.env, HOME: dirs.home, XDG_CONFIG_HOME: path.join(dirs.home, '.config') };
}

/** Returns undefined when `loader COMMAND` exists, or the reason to skip. */
function loaderCommandMissing(command) {
  if (!fs.existsSync(LOADER_BUNDLE)) return `${path.relative(REPO_ROOT, LOADER_BUNDLE)} not found (run npm run build)`;
  const result = spawnSync(LOADER_BIN, [command, '--help'], { encoding: 'utf8' });
  if (result.status !== 0) return `\`loader ${command}\` is not implemented yet (\`loader ${command} --help\` exited with ${result.status})`;
  return undefined;
}

/** Starts `loader serve`; `durability` ('full' or 'process-crash') is passed as --durability when given. */
async function startLoaderServe(dirs, port, durability) {
  const args = ['--archive', dirs.archive, '--config-dir', dirs.config, 'serve', '--aet', 'LOADER', '--host', LOOPBACK, '--port', String(port), '--accept-any'];
  if (durability) args.push('--durability', durability);
  return startServer('loader serve', LOADER_BIN, args, port, path.join(dirs.root, 'loader.log'), { env: loaderEnv(dirs), ready: /listening/i });
}

/** Returns the number of instances in a loader archive according to `loader studies --json`. */
async function archivedInstances(dirs) {
  const result = await run(LOADER_BIN, ['--archive', dirs.archive, '--config-dir', dirs.config, 'studies', '--json'], { env: loaderEnv(dirs) });
  if (result.code !== 0) throw new Error(`loader studies --json failed (exit ${result.code}): ${result.stderr.slice(-2000)}`);
  return JSON.parse(result.stdout).reduce((sum, study) => sum + Number(study.numberOfInstances), 0);
}

function storescuArgs(port, aeTitle, dir) {
  return ['--scan-directories', '--recurse', '-aec', aeTitle, LOOPBACK, String(port), dir];
}

async function timedStore(port, aeTitle, dir, expectedFiles) {
  flushEarlierRuns();
  const result = await run('storescu', storescuArgs(port, aeTitle, dir), { env: DCMTK_ENV });
  if (result.code !== 0) throw new Error(`storescu to ${aeTitle} failed (exit ${result.code}): ${result.stderr.slice(-2000)}`);
  return { seconds: result.seconds, files: expectedFiles };
}

// --- machine facts -----------------------------------------------------------

function machineFacts() {
  const cpuInfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const model = (cpuInfo.match(/^model name\s*:\s*(.+)$/m) || [])[1] || os.cpus()[0]?.model || 'unknown';
  const dcmtk = spawnSync('storescu', ['--version'], { encoding: 'utf8' });
  const dcmtkVersion = ((dcmtk.stdout || '').match(/v(\d+\.\d+\.\d+)/) || [])[1] || 'not found';
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    // Not a git checkout.
  }
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cpu: model.trim(),
    cores: os.cpus().length,
    ramGiB: (os.totalmem() / 2 ** 30).toFixed(1),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    dcmtk: dcmtkVersion,
    commit,
  };
}

/** Returns the output of `uptime`, whose load averages show whether other jobs shared the machine during the run. */
function uptime() {
  const result = spawnSync('uptime', [], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim().replace(/\s+/g, ' ') : `uptime failed (exit ${result.status})`;
}

// --- test data ---------------------------------------------------------------

function ensureCorpus() {
  execFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'build-corpus.sh'), [], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Copies SOURCE COUNT times into DIR and gives every copy a new SOP Instance UID and the given study. */
function buildCopies(dir, sources, count, studyUid) {
  // The marker sits beside the folder, because storescu and dcmdump read every file inside it.
  const marker = `${dir}.complete`;
  if (fs.existsSync(marker)) return;
  log(`building ${count} files in ${path.relative(REPO_ROOT, dir)}`);
  freshDir(dir);
  const files = [];
  for (let i = 0; i < count; i++) {
    const source = sources[i % sources.length];
    // Folders of 1000 files keep directory listings fast.
    const sub = path.join(dir, String(Math.floor(i / 1000)).padStart(3, '0'));
    if (i % 1000 === 0) fs.mkdirSync(sub, { recursive: true });
    const file = path.join(sub, `${String(i).padStart(5, '0')}.dcm`);
    fs.copyFileSync(source, file);
    files.push(file);
  }
  // dcmodify -gin gives each file its own new SOP Instance UID (also in the meta header).
  const edits = ['-nb', '-q', '-gin'];
  if (studyUid) edits.push('-i', `(0020,000d)=${studyUid}`, '-i', `(0020,000e)=${studyUid}.1`);
  for (let i = 0; i < files.length; i += 500) {
    execFileSync('dcmodify', [...edits, ...files.slice(i, i + 500)], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  fs.writeFileSync(marker, '');
}

function buildLargeFiles(dir, count, megabytes) {
  // The marker sits beside the folder, because storescu and dcmdump read every file inside it.
  const marker = `${dir}.complete`;
  if (fs.existsSync(marker)) return;
  log(`generating ${count} multi-frame files of about ${megabytes} MB in ${path.relative(REPO_ROOT, dir)}`);
  freshDir(dir);
  const script = `
import sys, numpy
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian
out_dir, count, megabytes, root = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rows = columns = 512
frames = megabytes * 2**20 // (rows * columns * 2)
rng = numpy.random.default_rng(1)
pixels = rng.integers(0, 4096, size=(frames, rows, columns), dtype=numpy.uint16)
for index in range(count):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = '1.2.840.10008.5.1.4.1.1.7.3'
    meta.MediaStorageSOPInstanceUID = f'{root}.3.{index + 1}'
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.is_little_endian = True
    ds.is_implicit_VR = False
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = f'{root}.1'
    ds.SeriesInstanceUID = f'{root}.2'
    ds.PatientName = 'Bench^Large'
    ds.PatientID = 'BENCH-LARGE'
    ds.StudyDate = '20240101'
    ds.Modality = 'OT'
    ds.InstanceNumber = index + 1
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = 'MONOCHROME2'
    ds.NumberOfFrames = frames
    ds.Rows = rows
    ds.Columns = columns
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    pixels[0, 0, 0] = index
    ds.PixelData = pixels.tobytes()
    ds.save_as(f'{out_dir}/large-{index + 1:02d}.dcm', write_like_original=False)
`;
  execFileSync(PYTHON, ['-c', script, dir, String(count), String(megabytes), `${BENCH_UID_ROOT}.2`], { stdio: 'inherit' });
  fs.writeFileSync(marker, '');
}

// --- scenarios ---------------------------------------------------------------

async function scenarioStoreThroughput(runs) {
  const ankle = path.join(CORPUS_DIR, 'samples', 'ct', 'ct-ankle-implicit-le.dcm');
  const dataDir = path.join(WORK_DIR, 'ct1000');
  buildCopies(dataDir, [ankle], 1000, `${BENCH_UID_ROOT}.1.1`);
  // The same images under other UIDs, sent next into the same storescp or loader process.
  const secondDir = path.join(WORK_DIR, 'ct1000-second');
  buildCopies(secondDir, [ankle], 1000, `${BENCH_UID_ROOT}.1.2`);
  const thirdDir = path.join(WORK_DIR, 'ct1000-third');
  buildCopies(thirdDir, [ankle], 1000, `${BENCH_UID_ROOT}.1.3`);
  const batchDirs = [dataDir, secondDir, thirdDir];
  // Row name suffixes of the batches, in sending order.
  const batchNames = ['', ', second', ', third'];
  const files = countFiles(dataDir);
  const megabytes = (directoryBytes(dataDir) / 1e6).toFixed(0);
  const lines = [
    `Scenario a: storescu --scan-directories sends ${files} CT instances (CT-MONO2-16-ankle copies, implicit VR little endian, ${megabytes} MB in all, one association) to each SCP. Median of ${runs} runs; each round runs storescp, Orthanc and then the loader in both modes, and every run starts with an empty output folder or archive in a new folder.`,
    '',
    `The rows marked "second" and "third" time ${files} more instances each (new UIDs) sent next to the same storescp or loader process, as a server that has been running meets them. The first send into a new Node process also pays for V8 compiling the receive path's hot functions, and some of them are compiled during the second send.`,
    '',
    '| receiver | median s | runs s | instances/s | MB/s |',
    '|---|---|---|---|---|',
  ];
  const row = (name, times) => {
    const m = median(times);
    return `| ${name} | ${m.toFixed(2)} | ${times.map((t) => t.toFixed(2)).join(', ')} | ${(files / m).toFixed(0)} | ${(megabytes / m).toFixed(0)} |`;
  };

  const missing = loaderCommandMissing('serve');
  if (missing) log(`a: skipping loader serve: ${missing}`);
  // storescp and the loader modes alternate within each round, so a change in machine load affects all alike.
  const modes = ['full', 'process-crash'];
  // times[batch][run]: storescu seconds of each batch in each run.
  const newTimes = () => batchDirs.map(() => []);
  const storescpTimes = newTimes();
  const orthancTimes = [];
  const loaderTimes = { full: newTimes(), 'process-crash': newTimes() };
  const record = (times, seconds) => seconds.forEach((value, batch) => times[batch].push(value));
  for (let i = 0; i < runs; i++) {
    record(storescpTimes, await timedStorescpStore(batchDirs, files, i + 1));
    orthancTimes.push(await timedOrthancStore(dataDir, files, i + 1));
    if (missing) continue;
    for (const durability of modes) {
      record(loaderTimes[durability], await timedLoaderStore(batchDirs, files, durability, i + 1));
    }
  }
  batchNames.forEach((suffix, batch) => lines.push(row(`DCMTK storescp (TCP_NODELAY=1)${suffix}`, storescpTimes[batch])));
  lines.push(row('Orthanc (SyncStorageArea true, its default)', orthancTimes));
  if (missing) {
    lines.push('', `loader serve: skipped, ${missing}.`);
    return lines;
  }
  for (const durability of modes) {
    batchNames.forEach((suffix, batch) => lines.push(row(`loader serve --durability ${durability}${suffix}`, loaderTimes[durability][batch])));
  }
  lines.push('');
  const ratio = (loader, reference) => (median(loader) / median(reference)).toFixed(2);
  for (const durability of modes) {
    const ratios = batchNames.map((suffix, batch) => ratio(loaderTimes[durability][batch], storescpTimes[batch]));
    lines.push(`Ratio loader (${durability}) / storescp (median time): ${ratios[0]}; second: ${ratios[1]}; third: ${ratios[2]}.`);
  }
  lines.push(`Ratio loader (full) / Orthanc (median time): ${ratio(loaderTimes.full[0], orthancTimes)}.`);
  return lines;
}

/**
 * Sends each folder of `dataDirs` (FILES instances each) in turn to one new
 * storescp with a fresh output folder. Returns the storescu time in seconds
 * of each folder.
 */
async function timedStorescpStore(dataDirs, files, runNumber) {
  const outputDir = newRunDir('storescp-output');
  const port = await freePort();
  const server = await startServer('storescp', 'storescp', ['--aetitle', 'STORESCP', '--output-directory', outputDir, String(port)], port, `${outputDir}.log`, { env: DCMTK_ENV });
  try {
    const seconds = [];
    for (const [index, dataDir] of dataDirs.entries()) {
      seconds.push((await timedStore(port, 'STORESCP', dataDir, files)).seconds);
      const received = countFiles(outputDir);
      if (received !== files * (index + 1)) throw new Error(`storescp received ${received} of ${files * (index + 1)} files`);
    }
    log(`a: storescp run ${runNumber}: ${seconds.map((value) => value.toFixed(2)).join(' s, then ')} s`);
    return seconds;
  } finally {
    await server.stop();
  }
}

/**
 * Sends the CT instances to a new Orthanc and returns the storescu time in
 * seconds. Orthanc runs with its default SyncStorageArea (true), so it
 * flushes each stored file with fsync before it sends the C-STORE response,
 * as the loader's 'full' durability does. storescp never calls fsync.
 */
async function timedOrthancStore(dataDir, files, runNumber) {
  const dir = newRunDir('orthanc');
  const dicomPort = await freePort();
  let httpPort = await freePort();
  while (httpPort === dicomPort) httpPort = await freePort();
  const config = {
    Name: 'BENCH',
    StorageDirectory: path.join(dir, 'storage'),
    IndexDirectory: path.join(dir, 'index'),
    StorageCompression: false,
    SyncStorageArea: true,
    Plugins: [],
    LuaScripts: [],
    HttpServerEnabled: true,
    HttpPort: httpPort,
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    OrthancExplorerEnabled: false,
    DicomServerEnabled: true,
    DicomAet: 'ORTHANC',
    DicomPort: dicomPort,
    DicomCheckCalledAet: false,
    DicomAlwaysAllowStore: true,
    UnknownSopClassAccepted: true,
  };
  const configFile = path.join(dir, 'orthanc.json');
  fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
  // Orthanc uses DCMTK's network code, which reads TCP_NODELAY like storescp does.
  const server = await startServer('Orthanc', 'Orthanc', [configFile], dicomPort, `${dir}.log`, { env: DCMTK_ENV });
  try {
    const result = await timedStore(dicomPort, 'ORTHANC', dataDir, files);
    const statistics = await (await fetch(`http://${LOOPBACK}:${httpPort}/statistics`)).json();
    if (Number(statistics.CountInstances) !== files) throw new Error(`Orthanc stored ${statistics.CountInstances} of ${files} instances`);
    log(`a: Orthanc run ${runNumber}: ${result.seconds.toFixed(2)} s`);
    return result.seconds;
  } finally {
    await server.stop();
  }
}

/**
 * Sends each folder of `dataDirs` (FILES instances each) in turn to one new
 * `loader serve` with a fresh archive. Returns the storescu time in seconds
 * of each folder.
 */
async function timedLoaderStore(dataDirs, files, durability, runNumber) {
  const dirs = loaderDirs('store-loader');
  const port = await freePort();
  const server = await startLoaderServe(dirs, port, durability);
  const seconds = [];
  try {
    for (const dataDir of dataDirs) seconds.push((await timedStore(port, 'LOADER', dataDir, files)).seconds);
    log(`a: loader (${durability}) run ${runNumber}: ${seconds.map((value) => value.toFixed(2)).join(' s, then ')} s`);
  } finally {
    const status = await server.stop();
    if (status.code !== 0) log(`a: loader serve exited with code ${status.code}, signal ${status.signal}; log: ${path.join(dirs.root, 'loader.log')}`);
  }
  const stored = await archivedInstances(dirs);
  const expected = files * dataDirs.length;
  if (stored !== expected) throw new Error(`loader archive (${durability}) contains ${stored} of ${expected} instances after run ${runNumber}`);
  return seconds;
}

async function scenarioServeMemory() {
  const missing = loaderCommandMissing('serve');
  if (missing) {
    log(`b: skipping: ${missing}`);
    return [`Scenario b (memory of loader serve while receiving large files): skipped, ${missing}.`];
  }
  const dataDir = path.join(WORK_DIR, 'large');
  buildLargeFiles(dataDir, 10, 100);
  const files = countFiles(dataDir);
  const megabytes = directoryBytes(dataDir) / 1e6;
  const largest = Math.max(...fs.readdirSync(dataDir).filter((name) => name.endsWith('.dcm')).map((name) => fs.statSync(path.join(dataDir, name)).size)) / 1e6;

  const dirs = loaderDirs('memory-loader');
  const port = await freePort();
  const server = await startLoaderServe(dirs, port);
  const readRss = () => {
    const status = fs.readFileSync(`/proc/${server.pid}/status`, 'utf8');
    return Number((status.match(/^VmRSS:\s+(\d+) kB$/m) || [])[1]) / 1024;
  };
  try {
    const idle = [];
    for (let i = 0; i < 10; i++) {
      idle.push(readRss());
      await sleep(100);
    }
    const baseline = median(idle);
    let peak = baseline;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, readRss());
      } catch {
        // The process may exit between samples.
      }
    }, 100);
    const result = await timedStore(port, 'LOADER', dataDir, files);
    clearInterval(sampler);
    const stored = await archivedInstances(dirs);
    if (stored !== files) throw new Error(`loader archive contains ${stored} of ${files} large instances`);
    log(`b: sent ${megabytes.toFixed(0)} MB in ${result.seconds.toFixed(2)} s; RSS baseline ${baseline.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB`);
    return [
      `Scenario b: storescu sends ${files} uncompressed multi-frame files (Multi-frame Grayscale Word SC, 512x512x16 bit, largest ${largest.toFixed(0)} MB, ${megabytes.toFixed(0)} MB in all) to loader serve; VmRSS sampled every 100 ms from /proc/PID/status.`,
      '',
      '| baseline RSS MiB | peak RSS MiB | growth MiB | transfer s | MB/s |',
      '|---|---|---|---|---|',
      `| ${baseline.toFixed(0)} | ${peak.toFixed(0)} | ${(peak - baseline).toFixed(0)} | ${result.seconds.toFixed(2)} | ${(megabytes / result.seconds).toFixed(0)} |`,
    ];
  } finally {
    await server.stop();
  }
}

async function scenarioScan(runs) {
  const sources = ['ct/ct-small.dcm', 'mr/mr-small-explicit-le.dcm', 'sc/sc-rgb-jpeg-baseline.dcm', 'rt/rt-plan.dcm', 'seg/seg-liver.dcm'].map((name) =>
    path.join(CORPUS_DIR, 'samples', name),
  );
  const dataDir = path.join(WORK_DIR, 'scan10k');
  buildCopies(dataDir, sources, 10_000);
  const files = countFiles(dataDir);
  const megabytes = (directoryBytes(dataDir) / 1e6).toFixed(0);
  const lines = [
    `Scenario c: header indexing of ${files} distinct small files (copies of 5 corpus files with new SOP Instance UIDs, ${megabytes} MB). Warm page cache (one untimed pass first); median of ${runs} runs.`,
    '',
    '| tool | median s | runs s | files/s |',
    '|---|---|---|---|',
  ];
  const row = (name, times) => `| ${name} | ${median(times).toFixed(2)} | ${times.map((t) => t.toFixed(2)).join(', ')} | ${(files / median(times)).toFixed(0)} |`;

  const dcmdumpArgs = ['-q', '--scan-directories', '--recurse', dataDir];
  await run('dcmdump', dcmdumpArgs, { discardStdout: true });
  const dcmdumpTimes = [];
  for (let i = 0; i < runs; i++) {
    const result = await run('dcmdump', dcmdumpArgs, { discardStdout: true });
    if (result.code !== 0) throw new Error(`dcmdump failed (exit ${result.code}): ${result.stderr.slice(-2000)}`);
    dcmdumpTimes.push(result.seconds);
    log(`c: dcmdump run ${i + 1}: ${result.seconds.toFixed(2)} s`);
  }
  // dcmdump prints every element of each file, but loads values over 4 KB (pixel data) only on demand.
  lines.push(row('DCMTK dcmdump --scan-directories (full text dump to /dev/null)', dcmdumpTimes));

  const missing = loaderCommandMissing('scan');
  if (missing) {
    log(`c: skipping loader scan: ${missing}`);
    lines.push('', `loader scan: skipped, ${missing}.`);
    return lines;
  }
  const loaderTimes = [];
  for (let i = 0; i < runs; i++) {
    // A fresh index every run, so no run can skip files indexed before.
    const dirs = loaderDirs('scan-loader');
    flushEarlierRuns();
    const result = await run(LOADER_BIN, ['--archive', dirs.archive, '--config-dir', dirs.config, 'scan', dataDir], { env: loaderEnv(dirs), discardStdout: true });
    if (result.code !== 0) throw new Error(`loader scan failed (exit ${result.code}): ${result.stderr.slice(-2000)}`);
    const indexed = await archivedInstances(dirs);
    if (indexed !== files) throw new Error(`loader scan indexed ${indexed} of ${files} files in run ${i + 1}`);
    loaderTimes.push(result.seconds);
    log(`c: loader scan run ${i + 1}: ${result.seconds.toFixed(2)} s`);
  }
  lines.push(row('loader scan (new index each run)', loaderTimes));
  lines.push('', `Ratio loader / dcmdump (median time): ${(median(loaderTimes) / median(dcmdumpTimes)).toFixed(2)}.`);
  return lines;
}

// --- send scenarios (d, e) ---------------------------------------------------

/** Runs `loader ARGS` on the bench archive DIRS and throws with its output when it fails. */
async function runLoader(dirs, args, what) {
  const result = await run(LOADER_BIN, ['--archive', dirs.archive, '--config-dir', dirs.config, ...args], { env: loaderEnv(dirs) });
  if (result.code !== 0) throw new Error(`${what} failed (exit ${result.code}): ${result.stderr.slice(-2000)}`);
  return result;
}

/** Imports DATA_DIR into a new archive (`loader scan --import`) and returns the archive with its Study Instance UIDs and import time. */
async function importedArchive(label, dataDir, expectedFiles) {
  const dirs = loaderDirs(label, { output: false });
  const result = await runLoader(dirs, ['scan', '--import', dataDir], `loader scan --import ${dataDir}`);
  const stored = await archivedInstances(dirs);
  if (stored !== expectedFiles) throw new Error(`loader scan --import stored ${stored} of ${expectedFiles} instances from ${dataDir}`);
  const studies = JSON.parse((await runLoader(dirs, ['studies', '--json'], 'loader studies --json')).stdout);
  return { dirs, studyUids: studies.map((study) => study.studyInstanceUid), importSeconds: result.seconds };
}

/** Starts storescp on a free port with an empty output folder. */
async function startStorescp(label) {
  const outputDir = newRunDir(`${label}-output`);
  const port = await freePort();
  const args = ['--aetitle', 'STORESCP', '--output-directory', outputDir, String(port)];
  const server = await startServer('storescp', 'storescp', args, port, `${outputDir}.log`, { env: DCMTK_ENV });
  return { ...server, port, outputDir };
}

/** Registers storescp as node STORESCP of the archive, replacing the entry of an earlier run. */
async function registerStorescp(dirs, port) {
  const list = await runLoader(dirs, ['nodes', 'list', '--json'], 'loader nodes list');
  const registered = JSON.parse(list.stdout).pacs.some((node) => node.name === 'STORESCP');
  if (registered) await runLoader(dirs, ['nodes', 'remove', 'STORESCP'], 'loader nodes remove STORESCP');
  await runLoader(dirs, ['nodes', 'add', 'STORESCP', '--aet', 'STORESCP', '--host', LOOPBACK, '--port', String(port)], 'loader nodes add STORESCP');
}

function sendArgs(dirs, studyUids) {
  return ['--archive', dirs.archive, '--config-dir', dirs.config, 'send', 'STORESCP', '--study-uid', ...studyUids, '--json'];
}

/** Checks the JSON report of `loader send` and the number of files storescp wrote. */
function checkSend(result, outputDir, expectedFiles, what) {
  if (result.code !== 0) throw new Error(`${what}: loader send failed (exit ${result.code}): ${result.stderr.slice(-2000)}`);
  const report = JSON.parse(result.stdout);
  if (report.completed !== expectedFiles) throw new Error(`${what}: loader send reports ${report.completed} of ${expectedFiles} instances completed (outcome ${report.outcome})`);
  const received = countFiles(outputDir);
  if (received !== expectedFiles) throw new Error(`${what}: storescp received ${received} of ${expectedFiles} files`);
}

/** Returns seconds from the loader's "Association established" log line to its "Send finished" line, or undefined when either is missing. */
function associationSeconds(stderr) {
  const stamp = (pattern) => {
    const line = stderr.split('\n').find((text) => pattern.test(text));
    const time = line && Date.parse(line.split(' ')[0]);
    return Number.isFinite(time) ? time : undefined;
  };
  const start = stamp(/Association established/);
  const end = stamp(/Send finished/);
  return start !== undefined && end !== undefined ? (end - start) / 1000 : undefined;
}

async function scenarioSendThroughput(runs) {
  const ankle = path.join(CORPUS_DIR, 'samples', 'ct', 'ct-ankle-implicit-le.dcm');
  const dataDir = path.join(WORK_DIR, 'ct1000');
  buildCopies(dataDir, [ankle], 1000, `${BENCH_UID_ROOT}.1.1`);
  const files = countFiles(dataDir);
  const megabytes = directoryBytes(dataDir) / 1e6;
  const missing = loaderCommandMissing('send');
  const storescuTimes = [];
  const loaderTimes = [];
  const loaderAssociationTimes = [];
  let archive;
  if (missing) log(`d: skipping loader send: ${missing}`);
  else archive = await importedArchive('send-loader', dataDir, files);

  // storescu and loader send alternate within each round, so a change in machine load affects both alike.
  for (let i = 0; i < runs; i++) {
    const dcmtkServer = await startStorescp('send-storescp');
    try {
      const result = await timedStore(dcmtkServer.port, 'STORESCP', dataDir, files);
      const received = countFiles(dcmtkServer.outputDir);
      if (received !== files) throw new Error(`storescu run ${i + 1}: storescp received ${received} of ${files} files`);
      storescuTimes.push(result.seconds);
      log(`d: storescu run ${i + 1}: ${result.seconds.toFixed(2)} s`);
    } finally {
      await dcmtkServer.stop();
    }
    if (missing) continue;

    const loaderServer = await startStorescp('send-storescp');
    try {
      await registerStorescp(archive.dirs, loaderServer.port);
      flushEarlierRuns();
      const result = await run(LOADER_BIN, sendArgs(archive.dirs, archive.studyUids), { env: loaderEnv(archive.dirs) });
      checkSend(result, loaderServer.outputDir, files, `run ${i + 1}`);
      loaderTimes.push(result.seconds);
      loaderAssociationTimes.push(associationSeconds(result.stderr));
      log(`d: loader send run ${i + 1}: ${result.seconds.toFixed(2)} s`);
    } finally {
      await loaderServer.stop();
    }
  }

  const row = (name, times) => {
    const m = median(times);
    return `| ${name} | ${m.toFixed(2)} | ${times.map((t) => t.toFixed(2)).join(', ')} | ${(files / m).toFixed(0)} | ${(megabytes / m).toFixed(0)} |`;
  };
  const lines = [
    `Scenario d: ${files} CT instances (the scenario a files, ${megabytes.toFixed(0)} MB) sent over one association to DCMTK storescp --output-directory (TCP_NODELAY=1), by DCMTK storescu +sd +r (TCP_NODELAY=1) and by \`loader send STORESCP --study-uid UID\` from an archive filled once by \`loader scan --import\`. Times are wall times of the whole sending process, so they include its start. Median of ${runs} runs; each round runs storescu and then the loader, each into a new storescp with an empty output folder that must hold ${files} files afterwards.`,
    '',
    '| sender | median s | runs s | instances/s | MB/s |',
    '|---|---|---|---|---|',
    row('DCMTK storescu +sd +r (TCP_NODELAY=1)', storescuTimes),
  ];
  if (missing) {
    lines.push('', `loader send: skipped, ${missing}.`);
    return lines;
  }
  lines.push(row('loader send (registered node, --study-uid)', loaderTimes));
  lines.push('');
  const ratio = median(loaderTimes) / median(storescuTimes);
  lines.push(`Ratio loader / storescu (median time): ${ratio.toFixed(2)}; target 1.0 or less, ${ratio <= 1 ? 'met' : 'not met'}.`);
  if (loaderAssociationTimes.every((t) => t !== undefined)) {
    lines.push(`From the loader's "Association established" to its "Send finished" log line: median ${median(loaderAssociationTimes).toFixed(2)} s (runs ${loaderAssociationTimes.map((t) => t.toFixed(2)).join(', ')}).`);
  }
  lines.push(`The untimed \`loader scan --import\` of the ${files} files took ${archive.importSeconds.toFixed(2)} s.`);
  return lines;
}

/** Reads VmRSS and VmHWM of PID in MiB from /proc/PID/status, or returns undefined once the process is gone. */
function readMemory(pid) {
  const field = readProcStatus(pid);
  if (!field) return undefined;
  const rss = field('VmRSS');
  // A zombie has no VmRSS line, and its numbers are of no use.
  return Number.isFinite(rss) ? { rss, hwm: field('VmHWM') } : undefined;
}

/** Runs one `loader send` and samples its VmRSS every 100 ms. The baseline is the RSS when the association is established. */
function sendWithMemorySamples(dirs, studyUids) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(LOADER_BIN, sendArgs(dirs, studyUids), { env: loaderEnv(dirs), stdio: ['ignore', 'pipe', 'pipe'] });
    const samples = { first: undefined, baseline: undefined, peak: 0, hwm: 0, count: 0 };
    const sample = () => {
      const memory = readMemory(child.pid);
      if (!memory) return undefined;
      samples.count++;
      if (samples.first === undefined) samples.first = memory.rss;
      samples.peak = Math.max(samples.peak, memory.rss);
      samples.hwm = Math.max(samples.hwm, memory.hwm);
      return memory;
    };
    const timer = setInterval(sample, 100);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      if (samples.baseline === undefined && /Association established/.test(stderr)) samples.baseline = sample()?.rss;
    });
    child.once('error', (error) => {
      clearInterval(timer);
      reject(new Error(`failed to run ${LOADER_BIN}: ${error.message}`));
    });
    child.once('close', (code) => {
      clearInterval(timer);
      resolve({ code, stdout, stderr, seconds: seconds(start), samples });
    });
  });
}

async function scenarioSendMemory(runs) {
  const missing = loaderCommandMissing('send');
  if (missing) {
    log(`e: skipping: ${missing}`);
    return [`Scenario e (memory of loader send while sending large files): skipped, ${missing}.`];
  }
  const dataDir = path.join(WORK_DIR, 'large');
  buildLargeFiles(dataDir, 10, 100);
  const files = countFiles(dataDir);
  const megabytes = directoryBytes(dataDir) / 1e6;
  const largest = Math.max(...fs.readdirSync(dataDir).filter((name) => name.endsWith('.dcm')).map((name) => fs.statSync(path.join(dataDir, name)).size)) / 1e6;
  const archive = await importedArchive('send-memory-loader', dataDir, files);

  const rows = [];
  for (let i = 0; i < runs; i++) {
    const server = await startStorescp('send-memory-storescp');
    try {
      await registerStorescp(archive.dirs, server.port);
      const result = await sendWithMemorySamples(archive.dirs, archive.studyUids);
      checkSend(result, server.outputDir, files, `run ${i + 1}`);
      const { samples } = result;
      if (samples.baseline === undefined) throw new Error(`run ${i + 1}: no RSS sample when the association was established`);
      rows.push({ ...samples, seconds: result.seconds });
      log(`e: run ${i + 1}: ${result.seconds.toFixed(2)} s; RSS at association ${samples.baseline.toFixed(0)} MiB, sampled peak ${samples.peak.toFixed(0)} MiB, VmHWM ${samples.hwm.toFixed(0)} MiB`);
    } finally {
      await server.stop();
    }
  }

  const maxPeak = Math.max(...rows.map((row) => Math.max(row.peak, row.hwm)));
  return [
    `Scenario e: \`loader send STORESCP --study-uid UID\` sends ${files} uncompressed multi-frame files (the scenario b files, largest ${largest.toFixed(0)} MB, ${megabytes.toFixed(0)} MB in all) from an archive filled by \`loader scan --import\` to DCMTK storescp (TCP_NODELAY=1). VmRSS of the loader process is sampled every 100 ms from /proc/PID/status. The baseline is VmRSS when the loader logs "Association established", after its start and before the first C-STORE. VmHWM is the kernel's peak RSS, read at each sample. ${runs} runs, each into a new storescp with an empty output folder that must hold ${files} files afterwards.`,
    '',
    '| run | first sample MiB | baseline MiB | sampled peak MiB | VmHWM MiB | growth MiB | samples | transfer s | MB/s |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (row, index) =>
        `| ${index + 1} | ${row.first.toFixed(0)} | ${row.baseline.toFixed(0)} | ${row.peak.toFixed(0)} | ${row.hwm.toFixed(0)} | ${(Math.max(row.peak, row.hwm) - row.baseline).toFixed(0)} | ${row.count} | ${row.seconds.toFixed(2)} | ${(megabytes / row.seconds).toFixed(0)} |`,
    ),
    '',
    `Highest peak over the runs (sampled VmRSS or VmHWM): ${maxPeak.toFixed(0)} MiB = ${((maxPeak * 2 ** 20) / 1e6).toFixed(1)} MB; target under 150 MB, ${maxPeak * 2 ** 20 < 150e6 ? 'met' : 'not met'}.`,
  ];
}

// --- report ------------------------------------------------------------------

const REPORT_INTRO = `# Benchmarks

Measurements of Sciberia Loader against DCMTK on loopback, appended by
\`npm run bench\` (bench/run.js). Each section is one run on one machine; the
numbers hold only for that machine and commit. DCMTK tools run with
\`TCP_NODELAY=1\`, because Debian's DCMTK build otherwise leaves Nagle's
algorithm on and each C-STORE waits for a delayed ACK (about 45 ms).
Generated test data lives in bench/.work/.
`;

async function main() {
  const options = parseArguments(process.argv.slice(2));
  fs.mkdirSync(WORK_DIR, { recursive: true });
  ensureCorpus();
  checkFreeSpace(options);
  await clearEarlierRuns();
  const facts = machineFacts();
  const uptimeBefore = uptime();
  const sections = [];
  const scenarios = { a: scenarioStoreThroughput, b: scenarioServeMemory, c: scenarioScan, d: scenarioSendThroughput, e: scenarioSendMemory };
  for (const name of options.scenarios) {
    const scenario = scenarios[name];
    if (!scenario) {
      process.stderr.write(`bench: unknown scenario '${name}' (expected a, b, c, d or e)\n`);
      process.exit(2);
    }
    log(`scenario ${name}`);
    try {
      sections.push(await scenario(options.runs));
    } catch (error) {
      log(`scenario ${name} failed: ${error.message}`);
      sections.push([`Scenario ${name}: failed: ${error.message.split('\n')[0]}`]);
    }
  }

  const report = [
    `## ${facts.date} (commit ${facts.commit})`,
    '',
    `Machine: ${facts.cpu}, ${facts.cores} cores, ${facts.ramGiB} GiB RAM, ${facts.kernel}; Node ${facts.node}; DCMTK ${facts.dcmtk}.`,
    '',
    `\`uptime\` before the run: \`${uptimeBefore}\`; after: \`${uptime()}\`.`,
    '',
    ...sections.flatMap((lines) => [...lines, '']),
  ].join('\n');

  // Received files and archives of the runs; the generated input data stays for the next run.
  fs.rmSync(RUNS_DIR, { recursive: true, force: true });
  fs.writeFileSync(RUNS_REMOVED_MARKER, '');

  process.stdout.write(`${report}\n`);
  if (options.dryRun) return;
  if (!fs.existsSync(REPORT_FILE)) fs.writeFileSync(REPORT_FILE, REPORT_INTRO);
  fs.appendFileSync(REPORT_FILE, `\n${report}`);
  log(`appended to ${path.relative(REPO_ROOT, REPORT_FILE)}`);
}

main().catch((error) => {
  process.stderr.write(`bench: ${error.stack || error.message}\n`);
  process.exit(1);
});
