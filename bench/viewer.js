#!/usr/bin/env node
/**
 * Benchmark of the viewer's rendering engine (src/services/viewer); appends
 * the results with the machine facts to docs/benchmarks.md.
 *
 * Usage: node bench/viewer.js [--runs N] [--dry-run]
 *
 * First image: the time from renderFrame to RGBA for the corpus 512 × 512 CT
 * (CT-MONO2-16-ankle), once including the worker start and once with a running worker.
 * Scrolling: frames per second rendering a 300-frame RLE palette clip frame
 * after frame, in the worker and in the calling thread. The clip is the corpus
 * 10-frame US clip repeated 30 times, built with pydicom.
 *
 * --runs sets the number of timed runs per measurement (median reported; default 5).
 * --dry-run prints the report without appending it.
 *
 * The sources run through a TypeScript require hook, so the worker start
 * includes transpiling the modules it loads; a built bundle starts faster.
 * Generated data lives in bench/.work/viewer/ (gitignored).
 */
'use strict';

const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const REPO_ROOT = path.resolve(__dirname, '..');
const WORK_DIR = path.join(__dirname, '.work', 'viewer');
const REPORT_FILE = path.join(REPO_ROOT, 'docs', 'benchmarks.md');
const PYTHON = '/usr/bin/python3';
const CT_FILE = path.join(REPO_ROOT, 'test', '.corpus', 'samples', 'ct', 'ct-ankle-implicit-le.dcm');
const CLIP_SOURCE = path.join(REPO_ROOT, 'test', '.corpus', 'samples', 'us', 'us-rle-10-frames.dcm');
const CLIP_FILE = path.join(WORK_DIR, 'us-rle-300-frames.dcm');
const CLIP_FRAMES = 300;

require(path.join(REPO_ROOT, 'src', 'services', 'viewer', 'register-typescript.js'));
const { ImageViewer, RenderPipeline } = require(path.join(REPO_ROOT, 'src', 'services', 'viewer', 'index.ts'));

function parseArguments(argv) {
  const options = { runs: 5, dryRun: false };
  for (let index = 0; index < argv.length; index++) {
    if (argv[index] === '--runs') options.runs = Number(argv[++index]);
    else if (argv[index] === '--dry-run') options.dryRun = true;
    else throw new Error(`unknown option ${argv[index]}; use --runs N or --dry-run`);
  }
  if (!Number.isInteger(options.runs) || options.runs < 1) throw new Error('--runs must be a positive integer');
  return options;
}

/** Repeats the frames of the 10-frame RLE clip into a 300-frame clip with a Basic Offset Table. */
const BUILD_CLIP = `
import sys, pydicom
from pydicom.encaps import generate_pixel_data_frame, encapsulate
dataset = pydicom.dcmread(sys.argv[1])
frames = list(generate_pixel_data_frame(dataset.PixelData, int(dataset.NumberOfFrames)))
count = int(sys.argv[3])
dataset.PixelData = encapsulate([frames[index % len(frames)] for index in range(count)], has_bot=True)
dataset.NumberOfFrames = count
dataset.save_as(sys.argv[2])
`;

function buildClip() {
  if (fs.existsSync(CLIP_FILE)) return;
  fs.mkdirSync(WORK_DIR, { recursive: true });
  execFileSync(PYTHON, ['-c', BUILD_CLIP, CLIP_SOURCE, CLIP_FILE, String(CLIP_FRAMES)], { stdio: 'inherit' });
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function milliseconds(start) {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Copies the CT to `count` new paths, so each first render opens a file that no worker has open yet. */
function ctCopies(count) {
  const copies = [];
  for (let index = 0; index < count; index++) {
    const copy = path.join(WORK_DIR, `ct-copy-${index}.dcm`);
    fs.copyFileSync(CT_FILE, copy);
    copies.push(copy);
  }
  return copies;
}

async function measureFirstImage(runs) {
  const cold = [];
  const warm = [];
  const copies = ctCopies(runs);
  for (let run = 0; run < runs; run++) {
    let start = process.hrtime.bigint();
    const viewer = new ImageViewer();
    await viewer.renderFrame({ path: CT_FILE });
    cold.push(milliseconds(start));

    start = process.hrtime.bigint();
    await viewer.renderFrame({ path: copies[run] });
    warm.push(milliseconds(start));
    await viewer.close();
  }
  return { cold: median(cold), warm: median(warm) };
}

async function scrollWorker(size) {
  const viewer = new ImageViewer();
  await viewer.renderFrame({ path: CLIP_FILE, frame: 0 });
  const start = process.hrtime.bigint();
  for (let frame = 0; frame < CLIP_FRAMES; frame++) await viewer.renderFrame({ path: CLIP_FILE, frame, size, channel: 'scroll' });
  const elapsed = milliseconds(start);
  await viewer.close();
  return (CLIP_FRAMES * 1000) / elapsed;
}

async function scrollInThread() {
  const pipeline = new RenderPipeline();
  await pipeline.render({ path: CLIP_FILE, frame: 0 });
  const start = process.hrtime.bigint();
  for (let frame = 0; frame < CLIP_FRAMES; frame++) await pipeline.render({ path: CLIP_FILE, frame });
  const elapsed = milliseconds(start);
  await pipeline.close();
  return (CLIP_FRAMES * 1000) / elapsed;
}

async function measureScrolling(runs) {
  const worker = [];
  const fitted = [];
  const inThread = [];
  for (let run = 0; run < runs; run++) {
    worker.push(await scrollWorker(undefined));
    fitted.push(await scrollWorker({ width: 1024, height: 768, method: 'bilinear' }));
    inThread.push(await scrollInThread());
  }
  return { worker: median(worker), fitted: median(fitted), inThread: median(inThread) };
}

function machineFacts() {
  let cpuInfo = '';
  try {
    cpuInfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    // Not Linux: the model comes from os.cpus().
  }
  const model = (cpuInfo.match(/^model name\s*:\s*(.+)$/m) || [])[1] || os.cpus()[0]?.model || 'unknown';
  return `${model.trim()}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.type()} ${os.release()}; Node ${process.version}`;
}

function gitCommit() {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

async function main() {
  const options = parseArguments(process.argv.slice(2));
  buildClip();
  const first = await measureFirstImage(options.runs);
  const scrolling = await measureScrolling(options.runs);
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const report = [
    `## Viewer rendering, ${date} (commit ${gitCommit()})`,
    '',
    `Machine: ${machineFacts()}. Script: \`node bench/viewer.js --runs ${options.runs}\` (bench/viewer.js), medians of ${options.runs} runs, from the TypeScript sources.`,
    '',
    '| Measurement | Result |',
    '| --- | --- |',
    `| First image, 512 × 512 CT (CT-MONO2-16-ankle), worker start included | ${first.cold.toFixed(0)} ms |`,
    `| First image, same CT at a new path, worker running | ${first.warm.toFixed(1)} ms |`,
    `| Scrolling a 300-frame RLE palette clip (600 × 430), worker, native size | ${scrolling.worker.toFixed(1)} frames/s |`,
    `| Same, resampled to fit 1024 × 768 (bilinear) | ${scrolling.fitted.toFixed(1)} frames/s |`,
    `| Same, in the calling thread (no worker), native size | ${scrolling.inThread.toFixed(1)} frames/s |`,
    '',
    'The worker start includes transpiling the viewer sources with the TypeScript',
    'require hook; scrolling requests are awaited one after another, as a window',
    'showing every frame would issue them.',
    '',
  ].join('\n');
  process.stdout.write(report);
  if (!options.dryRun) fs.appendFileSync(REPORT_FILE, `\n${report}`);
}

main().catch((error) => {
  process.stderr.write(`bench/viewer.js failed: ${error.stack || error}\n`);
  process.exit(1);
});
