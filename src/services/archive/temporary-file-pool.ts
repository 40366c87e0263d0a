/**
 * Empty temporary files in .incoming, created ahead of the transfers that
 * will fill them.
 *
 * Creating a file is the costliest step of storing a received instance on
 * some file systems. On the bench machine (ext4 in a virtual machine, Linux
 * 6.18), one open with O_CREAT took 300-390 us of system time. Writing 512 KiB
 * into a file took about 155 us. The pool creates the next files in a thread
 * of its own at the lowest priority, so the creation runs when a core is
 * free instead of between a C-STORE request and its data set.
 *
 * Medians of 6 alternating runs of 1000 CT images from storescu (2 cores):
 * - files created on the main thread: 1.67 s in a new server process, 1.48 s
 *   for the next 1000;
 * - created by the libuv thread pool: 1.52 and 1.22 s. Its threads keep the
 *   main thread's priority and preempted the receive when they woke up;
 * - created by this thread at nice 19: 1.38 and 1.18 s, while storescp took
 *   1.16 and 1.17 s in the same runs.
 *
 * The pool fills only after its first use, so a process that never receives
 * creates no files. A pooled file is an empty file with one link, named like
 * every temporary file (incoming.ts), so the next archive open deletes it
 * when this process stops without closing the pool.
 */

import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../logger';
import { describeError } from './errors';
import { temporaryPath } from './incoming';
import { FILE_MODE } from './layout';

/** Files kept ready, enough for a few associations that store at the same moment. */
const POOL_SIZE = 4;

/**
 * The thread that creates the files: it lowers its own priority to nice 19,
 * then creates and closes every path it receives, and reports each path or
 * error. It closes the files because Node tracks the descriptors that fs
 * opens in a worker: one used on the main thread aborted the process with
 * "File descriptor opened in unmanaged mode twice". The main thread opens a
 * created file again without O_CREAT, which took about 5 us. The script is plain JavaScript, so
 * that it runs the same from the bundle and under jest.
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

  constructor(
    private readonly root: string,
    private readonly logger: Logger,
  ) {}

  /** Files created ahead and ready to be taken. */
  get readyCount(): number {
    return this.ready.length;
  }

  /**
   * Returns an open, empty temporary file for the instance `sopInstanceUid`:
   * a pooled one when one is ready, or one created now, whose error is
   * thrown. Either way the pool starts creating the next ones.
   */
  take(sopInstanceUid: string): TemporaryFile {
    let file = this.takeReady();
    if (!file) {
      const created = temporaryPath(this.root, sopInstanceUid);
      file = { path: created, fd: fs.openSync(created, 'wx', FILE_MODE) };
      this.failed = false;
    }
    this.refill();
    return file;
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
