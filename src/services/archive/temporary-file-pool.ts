/**
 * Empty temporary files in .incoming, created ahead of the transfers that
 * will fill them, when creating a file is slow.
 *
 * Creating a file took about 15-60 us on the bench machine (ext4 without a
 * journal in a virtual machine, Linux 6.18). It took 200-700 us of system
 * time in a folder whose block group had many inodes freed in the last 30 s,
 * for example after deleting earlier received copies. A network file system adds a round
 * trip to each creation. Then the creation, on the main thread between a
 * C-STORE request and its data set, delays every transfer. So the pool
 * times the files it creates on the main thread. Once the median of the last
 * CREATE_SAMPLES is above SLOW_CREATE_MS, a thread of its own at the lowest
 * priority creates the next files, and runs when a core is free.
 *
 * Medians of 6 alternating runs of 1000 CT images from storescu (2 cores),
 * with slow creation:
 * - files created on the main thread: 1.67 s in a new server process, 1.48 s
 *   for the next 1000;
 * - created by the libuv thread pool: 1.52 and 1.22 s. Its threads keep the
 *   main thread's priority and preempted the receive when they woke up;
 * - created by this thread at nice 19: 1.38 and 1.18 s, while storescp took
 *   1.16 and 1.17 s in the same runs.
 * With fast creation, in two sets of 5 runs, the thread made no clear
 * difference: 1.59 against 1.41 s and 1.62 against 1.59 s for the first
 * 1000, 1.29 against 1.27 s and 1.32 against 1.38 s for the next. So the
 * thread starts only when creation is slow.
 *
 * A pooled file is an empty file with one link, named like every temporary
 * file (incoming.ts), so the next archive open deletes it when this process
 * stops without closing the pool.
 */

import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../logger';
import { describeError } from './errors';
import { temporaryPath } from './incoming';
import { FILE_MODE, incomingFolder } from './layout';

/** Files kept ready, enough for a few associations that store at the same moment. */
const POOL_SIZE = 4;

/** Creations on the main thread whose median decides whether the pool creates files ahead. */
const CREATE_SAMPLES = 8;

/**
 * Median creation time above which the pool creates files ahead. The first
 * 8 creations of a new `loader serve` that received 1000 CT images took a
 * median of about 60 us with fast creation, and 200-700 us with slow
 * creation.
 */
export const SLOW_CREATE_MS = 0.2;

/**
 * The thread that creates the files: it lowers its own priority to nice 19,
 * then creates and closes every path it receives, and reports each path or
 * error. It closes the files because Node tracks the descriptors that fs
 * opens in a worker: one used on the main thread aborted the process with
 * "File descriptor opened in unmanaged mode twice". The main thread opens a
 * created file again without O_CREAT, which took about 5 us. The script is
 * plain JavaScript, so that it runs the same from the bundle and under jest.
 */
const CREATOR_SCRIPT = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const os = require('node:os');
try {
  const threadId = Number(fs.readlinkSync('/proc/thread-self').split('/').pop());
  os.setPriority(threadId, 19);
} catch {
  // Not Linux: the thread keeps the process's priority.
}
parentPort.on('message', (paths) => {
  for (const path of paths) {
    try {
      fs.closeSync(fs.openSync(path, 'wx', workerData.mode));
      parentPort.postMessage({ path });
    } catch (error) {
      parentPort.postMessage({ path, error: error instanceof Error ? error.message : String(error) });
    }
  }
});
`;

/** A temporary file opened for writing, empty and not yet linked anywhere else. */
export interface TemporaryFile {
  path: string;
  fd: number;
}

type CreatorReport = { path: string } | { path: string; error: string };

export class TemporaryFilePool {
  /** Paths of created, empty files. */
  private readonly ready: string[] = [];
  private creating = 0;
  private creator: Worker | undefined;
  private closed = false;
  /** Set after a failed creation, so that a full or read-only disk does not repeat it in the background. */
  private failed = false;
  /** Durations in milliseconds of the last creations on the main thread, while the pool does not create ahead. */
  private readonly createTimes: number[] = [];
  private createAhead: boolean;
  private readonly slowCreateMs: number;

  /**
   * `createAhead` 'always' creates files ahead from the first take on, for
   * tests. `slowCreateMs` replaces SLOW_CREATE_MS.
   */
  constructor(
    private readonly root: string,
    private readonly logger: Logger,
    options: { createAhead?: 'when-slow' | 'always'; slowCreateMs?: number } = {},
  ) {
    this.createAhead = options.createAhead === 'always';
    this.slowCreateMs = options.slowCreateMs ?? SLOW_CREATE_MS;
  }

  /** True once the pool creates files ahead. */
  get createsAhead(): boolean {
    return this.createAhead;
  }

  /** Files created ahead and ready to be taken. */
  get readyCount(): number {
    return this.ready.length;
  }

  /**
   * Returns an open, empty temporary file for the instance `sopInstanceUid`:
   * a pooled one when one is ready, or one created now, whose error is
   * thrown. When the pool creates ahead, it then starts on the next ones.
   */
  take(sopInstanceUid: string): TemporaryFile {
    let file = this.takeReady();
    if (!file) {
      const created = temporaryPath(this.root, sopInstanceUid);
      const start = performance.now();
      file = { path: created, fd: fs.openSync(created, 'wx', FILE_MODE) };
      this.recordCreateTime(performance.now() - start);
      this.failed = false;
    }
    if (this.createAhead) this.refill();
    return file;
  }

  /** Starts creating ahead once the median of the last CREATE_SAMPLES creations is slow. */
  private recordCreateTime(milliseconds: number): void {
    if (this.createAhead) return;
    this.createTimes.push(milliseconds);
    if (this.createTimes.length > CREATE_SAMPLES) this.createTimes.shift();
    if (this.createTimes.length < CREATE_SAMPLES) return;

    const sorted = [...this.createTimes].sort((a, b) => a - b);
    const median = (sorted[CREATE_SAMPLES / 2 - 1] + sorted[CREATE_SAMPLES / 2]) / 2;
    if (median <= this.slowCreateMs) return;
    this.createAhead = true;
    this.logger.info('Creating a file in the archive is slow, so temporary files are now created ahead of transfers', {
      folder: incomingFolder(this.root),
      medianCreateMs: Number(median.toFixed(3)),
    });
  }

  /** Opens the next created file; undefined when none is left that opens. */
  private takeReady(): TemporaryFile | undefined {
    for (let file = this.ready.shift(); file !== undefined; file = this.ready.shift()) {
      try {
        return { path: file, fd: fs.openSync(file, 'r+') };
      } catch (error) {
        this.logger.debug('Failed to open a temporary file created ahead; trying the next one', { path: file, error: describeError(error) });
        removeQuietly(file);
      }
    }
    return undefined;
  }

  /**
   * Closes and deletes the files that are ready, and stops the creating
   * thread. A file it was creating at that moment stays in .incoming until
   * the next archive open deletes it.
   */
  close(): void {
    this.closed = true;
    for (const file of this.ready.splice(0)) removeQuietly(file);
    void this.creator?.terminate();
    this.creator = undefined;
  }

  private refill(): void {
    if (this.closed || this.failed) return;
    const paths: string[] = [];
    while (this.ready.length + this.creating + paths.length < POOL_SIZE) paths.push(temporaryPath(this.root));
    if (paths.length === 0) return;

    this.creating += paths.length;
    this.startCreator().postMessage(paths);
  }

  private startCreator(): Worker {
    if (this.creator) return this.creator;
    const creator = new Worker(CREATOR_SCRIPT, { eval: true, workerData: { mode: FILE_MODE } });
    // The process may exit while the thread waits for work.
    creator.unref();
    creator.on('message', (report: CreatorReport) => this.onCreated(report));
    creator.on('error', (error) => {
      this.failed = true;
      this.creating = 0;
      this.creator = undefined;
      this.logger.warn('The thread that creates temporary files ahead of transfers failed; each transfer creates its own', {
        error: describeError(error),
      });
    });
    this.creator = creator;
    return creator;
  }

  private onCreated(report: CreatorReport): void {
    this.creating--;
    if ('error' in report) {
      this.failed = true;
      this.logger.debug('Failed to create a temporary file ahead of a transfer; the next transfer creates its own', {
        path: report.path,
        error: report.error,
      });
      return;
    }
    if (this.closed) removeQuietly(report.path);
    else this.ready.push(report.path);
  }
}

function removeQuietly(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // The next archive open deletes a temporary file left behind.
  }
}
