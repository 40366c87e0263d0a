/**
 * ImageViewer: renders frames in worker threads, so reading and decoding never
 * block the event loop of the window that shows them.
 *
 * Requests wait in one queue and each idle worker takes the oldest. A request
 * supersedes the earlier requests of its channel: those still queued are
 * rejected with RenderCancelledError at once, and one already running is
 * rejected with it when the worker finishes, its result dropped. Scrolling
 * fast through a clip therefore decodes at most one stale frame per worker.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

import { createLogger } from '../logger';
import { ImageDecodeError } from './errors';
import type { HeaderSummary } from './header-summary';
import type { FrameRenderRequest, FrameRenderResult } from './pipeline';
import type { WorkerReply, WorkerRequest } from './worker-protocol';

const logger = createLogger('loader.viewer');

export interface ImageViewerOptions {
  /** Number of worker threads; default 1. Each keeps its own open files and decoder memory. */
  workers?: number;
  /**
   * Path of the compiled render-worker.js. By default the file next to this
   * module is used, or render-worker.ts through a TypeScript require hook when
   * only the sources are present.
   */
  workerScript?: string;
}

export interface ViewerRenderRequest extends FrameRenderRequest {
  /** Requests of the same channel supersede each other; default "default". Use another channel for prefetching. */
  channel?: string;
  /** Aborting rejects the request with RenderCancelledError. */
  signal?: AbortSignal;
}

/** A request was superseded by a newer one of its channel, aborted, or the viewer was closed. */
export class RenderCancelledError extends Error {
  override name = 'RenderCancelledError';
}

interface Job {
  id: number;
  channel: string;
  message: WorkerRequest;
  path: string;
  resolve: (reply: WorkerReply) => void;
  reject: (error: Error) => void;
  /** Set when a newer request of the channel or an abort made this job's result unwanted. */
  cancelled?: RenderCancelledError;
}

interface WorkerSlot {
  worker: Worker;
  job?: Job;
}

const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
if (workerData.entry.endsWith('.ts')) require(workerData.typescriptHook);
require(workerData.entry);
`;

// The bundle has dist/render-worker.js beside dist/loader.js (a webpack entry); jest runs the .ts source.
function resolveWorkerEntry(explicit: string | undefined): string {
  if (explicit) return explicit;
  const compiled = path.join(__dirname, 'render-worker.js');
  return fs.existsSync(compiled) ? compiled : path.join(__dirname, 'render-worker.ts');
}

export class ImageViewer {
  private readonly slots: WorkerSlot[] = [];
  private readonly queue: Job[] = [];
  private readonly entry: string;
  private nextId = 1;
  private closed = false;

  constructor(options: ImageViewerOptions = {}) {
    this.entry = resolveWorkerEntry(options.workerScript);
    const count = Math.max(1, Math.trunc(options.workers ?? 1));
    for (let index = 0; index < count; index++) this.slots.push(this.startWorker());
  }

  /**
   * Renders one frame to RGBA. Rejects with ImageDecodeError (file, transfer
   * syntax and reason) when the frame cannot be shown, and with
   * RenderCancelledError when a newer request of the channel superseded it.
   */
  async renderFrame(request: ViewerRenderRequest): Promise<FrameRenderResult> {
    const { channel = 'default', signal, ...renderRequest } = request;
    const reply = await this.submit(channel, renderRequest.path, { id: 0, type: 'render', request: renderRequest }, signal);
    if (!('result' in reply)) throw new Error('render worker sent a reply without a result');
    return reply.result;
  }

  /** Reads the header summary of a file in a worker. Rejects with ImageDecodeError when the header cannot be read. */
  async readHeader(filePath: string): Promise<HeaderSummary> {
    const reply = await this.submit(`header:${filePath}`, filePath, { id: 0, type: 'header', path: filePath });
    if (!('header' in reply)) throw new Error('render worker sent a reply without a header');
    return reply.header;
  }

  /** Rejects every pending request with RenderCancelledError and stops the workers. */
  async close(): Promise<void> {
    this.closed = true;
    const cancelled = new RenderCancelledError('the viewer was closed');
    for (const job of this.queue.splice(0)) job.reject(cancelled);
    for (const slot of this.slots) slot.job?.reject(cancelled);
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
    this.slots.length = 0;
  }

  private submit(channel: string, filePath: string, message: WorkerRequest, signal?: AbortSignal): Promise<WorkerReply> {
    if (this.closed) return Promise.reject(new RenderCancelledError('the viewer is closed'));
    this.supersede(channel);
    return new Promise<WorkerReply>((resolve, reject) => {
      const id = this.nextId++;
      const job: Job = { id, channel, message: { ...message, id }, path: filePath, resolve, reject };
      if (signal) {
        if (signal.aborted) {
          reject(new RenderCancelledError(`request for ${filePath} was aborted`));
          return;
        }
        signal.addEventListener('abort', () => this.cancel(job, new RenderCancelledError(`request for ${filePath} was aborted`)), { once: true });
      }
      this.queue.push(job);
      this.dispatch();
    });
  }

  private supersede(channel: string): void {
    for (const job of this.queue.filter((queued) => queued.channel === channel)) {
      this.cancel(job, new RenderCancelledError(`request for ${job.path} was superseded by a newer request on channel "${channel}"`));
    }
    for (const slot of this.slots) {
      if (slot.job?.channel === channel && !slot.job.cancelled) {
        slot.job.cancelled = new RenderCancelledError(`request for ${slot.job.path} was superseded by a newer request on channel "${channel}"`);
      }
    }
  }

  private cancel(job: Job, error: RenderCancelledError): void {
    const queuedAt = this.queue.indexOf(job);
    if (queuedAt >= 0) {
      this.queue.splice(queuedAt, 1);
      job.reject(error);
    } else {
      job.cancelled ??= error;
    }
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.job || this.queue.length === 0) continue;
      const job = this.queue.shift()!;
      slot.job = job;
      slot.worker.ref();
      slot.worker.postMessage(job.message);
    }
  }

  private startWorker(): WorkerSlot {
    const worker = new Worker(BOOTSTRAP, {
      eval: true,
      workerData: { entry: this.entry, typescriptHook: path.join(__dirname, 'register-typescript.js') },
    });
    const slot: WorkerSlot = { worker };
    worker.on('message', (reply: WorkerReply) => this.finish(slot, reply));
    worker.on('error', (error) => {
      logger.error('Render worker failed', { error: error.message, path: slot.job?.path });
      this.replaceWorker(slot, error.message);
    });
    worker.on('exit', (code) => {
      if (this.closed || !this.slots.includes(slot)) return;
      logger.error('Render worker exited', { code, path: slot.job?.path });
      this.replaceWorker(slot, `the render worker exited with code ${code}`);
    });
    // An idle worker must not keep a command-line process alive; dispatch refs it while it has a job.
    worker.unref();
    return slot;
  }

  /** Rejects the job of a failed worker, naming its file, and starts a new worker in its place. */
  private replaceWorker(slot: WorkerSlot, reason: string): void {
    const index = this.slots.indexOf(slot);
    if (index < 0 || this.closed) return;
    const job = slot.job;
    slot.job = undefined;
    void slot.worker.terminate();
    this.slots[index] = this.startWorker();
    job?.reject(new ImageDecodeError(job.path, undefined, `the render worker stopped while reading the file: ${reason}`));
    this.dispatch();
  }

  private finish(slot: WorkerSlot, reply: WorkerReply): void {
    const job = slot.job;
    slot.job = undefined;
    slot.worker.unref();
    this.dispatch();
    if (!job || job.id !== reply.id) return;
    if (job.cancelled) {
      job.reject(job.cancelled);
    } else if (reply.ok) {
      job.resolve(reply);
    } else {
      const { path: filePath, transferSyntaxUid, reason, frameIndex } = reply.error;
      job.reject(new ImageDecodeError(filePath, transferSyntaxUid, reason, frameIndex));
    }
  }
}
