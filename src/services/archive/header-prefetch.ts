/**
 * Reads the headers of the files a scan walks in a second thread, ahead of
 * the scan, so that parsing them runs beside the index writes on another core.
 *
 * In a CPU profile of `loader scan` over 10 000 small files, half of the time
 * went to parsing headers and a sixth to index inserts. The thread takes the
 * parse, and the scan's thread keeps the walk, the index and every decision.
 * A DICOMDIR, a damaged file or any other error comes back without a record.
 * The scan then reads that file itself, so each problem is classified and
 * reported in one place. A scan of 10 000 files (bench/.work/scan10k) took a
 * median 1.39 s with the thread and 1.62 s without it, in 6 alternating runs
 * on a 2-core machine. The thread's parse is now the slower side.
 *
 * The scan loop is synchronous between batch commits (see Scan.run), so it
 * takes replies with receiveMessageOnPort and blocks in Atomics.wait until
 * the thread replies, instead of waiting for 'message' events.
 */

import fs from 'node:fs';
import path from 'node:path';
import { MessageChannel, type MessagePort, Worker, receiveMessageOnPort } from 'node:worker_threads';
import { DEFAULT_LEGACY_CHARACTER_SET, type LegacyCharacterSet } from '../../dicom/charset';
import type { Logger } from '../logger';
import type { InstanceRecord } from './instance-record';
import type { FileWalker } from './walk';

/**
 * Files read on the scan's own thread before the thread starts. With the
 * thread, a scan of one file took about 50 ms longer (3 runs each, 2-core
 * machine), so a scan of a handful of files never starts it.
 */
const FILES_BEFORE_THREAD = 100;

/** Files per request to the thread. */
const FILES_PER_REQUEST = 32;

/** Maximum number of files requested but not yet taken. More are requested when fewer than half remain. */
const MAX_AHEAD = 256;

/**
 * Maximum wait for one reply, after which the scan reads the files itself.
 * The header reads of a request take milliseconds from a disk and can take
 * seconds from an optical disc, but a thread that hangs must not stop the scan.
 */
const REPLY_TIMEOUT_MS = 120_000;

/** Slots of the shared counter: replies posted, and 1 once the thread has exited. */
const REPLIES_SLOT = 0;
const EXITED_SLOT = 1;

/** Settings that tests change. */
export interface PrefetchOptions {
  /** The thread's script. */
  entry?: string;
  /** Files returned unread before the thread starts (default FILES_BEFORE_THREAD). Infinity never starts it. */
  filesBeforeThread?: number;
  /** Character set in which the thread indexes undeclared text that is not UTF-8 (default Latin-1). */
  legacyCharacterSet?: LegacyCharacterSet;
}

export interface PrefetchRequest {
  files: string[];
}

/** Header facts that the thread read from one file. */
export interface PrefetchedHeader {
  realPath: string;
  record: InstanceRecord;
  fileSize: number;
  datasetOffset: number;
  /** The file's modification time (fs.Stats.mtimeMs) before the thread read it. */
  modifiedMs: number;
}

/** One walked file, with `read` absent when the scan must read the file itself. */
export interface PrefetchResult {
  file: string;
  read?: PrefetchedHeader;
}

export interface PrefetchReply {
  results: PrefetchResult[];
}

// The exit handler comes first, so that a thread that fails to load its entry still wakes the scan.
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
process.on('exit', () => {
  Atomics.store(workerData.replies, ${EXITED_SLOT}, 1);
  Atomics.notify(workerData.replies, ${REPLIES_SLOT});
});
if (workerData.entry.endsWith('.ts')) require(workerData.typescriptHook);
require(workerData.entry);
`;

/** Finds the thread's script: dist/header-prefetch-worker.js beside the bundle (a webpack entry), or the .ts source under jest. */
function defaultWorkerEntry(): string | undefined {
  const candidates = [path.join(__dirname, 'header-prefetch-worker.js'), path.join(__dirname, 'header-prefetch-worker.ts')];
  return candidates.find((candidate) => fs.existsSync(candidate));
}

/**
 * Returns true when the file still has the size and modification time it had
 * when the thread read it. A header read can be up to MAX_AHEAD files, and
 * any wait for the index lock, older than the scan's use of it.
 */
function unchangedSince(read: PrefetchedHeader): boolean {
  try {
    const stats = fs.statSync(read.realPath);
    return stats.size === read.fileSize && stats.mtimeMs === read.modifiedMs;
  } catch {
    return false;
  }
}

/**
 * Walk of a scan with headers read ahead. next() returns the files in the
 * walker's order. Files pushed onto the walker meanwhile (those of a
 * DICOMDIR) come after the ones already requested. A file that changed or
 * disappeared after the thread read it is returned without its header, so
 * the scan reads it again (or reports it) as it finds it at that moment.
 */
export class HeaderPrefetch {
  private worker: Worker | undefined;
  private port: MessagePort | undefined;
  /** True once the thread failed to start or stopped replying. The rest of the walk is then read on this thread. */
  private stopped = false;
  private readonly replies = new Int32Array(new SharedArrayBuffer(8));
  /** The files of each request whose reply has not arrived, oldest first. */
  private readonly inFlight: string[][] = [];
  /** Number of files in inFlight. */
  private awaited = 0;
  private readonly ready: PrefetchResult[] = [];
  private readyIndex = 0;
  /** Files returned before the thread started. */
  private directFiles = 0;

  private readonly entry: string | undefined;
  private readonly filesBeforeThread: number;
  private readonly legacyCharacterSet: LegacyCharacterSet;

  constructor(
    private readonly walker: FileWalker,
    private readonly logger: Logger,
    options: PrefetchOptions = {},
  ) {
    this.entry = options.entry ?? defaultWorkerEntry();
    this.filesBeforeThread = options.filesBeforeThread ?? FILES_BEFORE_THREAD;
    this.legacyCharacterSet = options.legacyCharacterSet ?? DEFAULT_LEGACY_CHARACTER_SET;
  }

  /** Returns the next file with what the thread read from it, or undefined when the walk is done. */
  next(): PrefetchResult | undefined {
    if (this.directFiles < this.filesBeforeThread) {
      this.directFiles++;
      return this.readHere();
    }

    if (this.usable()) {
      if (this.awaited + this.readyCount() < MAX_AHEAD / 2) this.request();
      if (this.readyCount() === 0 && this.awaited > 0) this.receive();
    }
    if (this.readyCount() > 0) return this.take();
    return this.readHere();
  }

  /** Returns the next file of the walk without a header, for the scan to read itself. */
  private readHere(): PrefetchResult | undefined {
    const file = this.walker.next();
    return file === undefined ? undefined : { file };
  }

  /** Stops the thread. */
  close(): void {
    void this.worker?.terminate();
    this.port?.close();
    this.worker = undefined;
    this.port = undefined;
    this.stopped = true;
  }

  private readyCount(): number {
    return this.ready.length - this.readyIndex;
  }

  private take(): PrefetchResult {
    const result = this.ready[this.readyIndex++];
    if (this.readyIndex === this.ready.length) {
      this.ready.length = 0;
      this.readyIndex = 0;
    }
    if (result.read && !unchangedSince(result.read)) return { file: result.file };
    return result;
  }

  /** True when the thread runs; starts it on the first call. */
  private usable(): boolean {
    if (this.worker) return true;
    if (this.stopped) return false;
    this.stopped = !this.start();
    return !this.stopped;
  }

  private start(): boolean {
    const entry = this.entry;
    if (!entry) return false;
    const channel = new MessageChannel();
    try {
      this.worker = new Worker(BOOTSTRAP, {
        eval: true,
        workerData: {
          entry,
          typescriptHook: path.join(__dirname, '..', 'viewer', 'register-typescript.js'),
          port: channel.port2,
          replies: this.replies,
          legacyCharacterSet: this.legacyCharacterSet,
        },
        transferList: [channel.port2],
      });
    } catch (error) {
      this.logger.debug('Could not start the header reading thread; the scan reads headers itself', { error: String(error) });
      return false;
    }
    // A scan that ends early must not be kept alive by the thread.
    this.worker.unref();
    this.port = channel.port1;
    this.logger.debug('Started the header reading thread', { threadId: this.worker.threadId });
    return true;
  }

  /** Requests files from the walk until MAX_AHEAD are ahead or the walk has no more. */
  private request(): void {
    while (this.awaited + this.readyCount() < MAX_AHEAD) {
      const files: string[] = [];
      for (let file = this.walker.next(); file !== undefined; file = this.walker.next()) {
        files.push(file);
        if (files.length === FILES_PER_REQUEST) break;
      }
      if (files.length === 0) return;
      const request: PrefetchRequest = { files };
      this.port!.postMessage(request);
      this.inFlight.push(files);
      this.awaited += files.length;
    }
  }

  /** Blocks until a reply arrives; after a timeout or the thread's exit, hands the awaited files back unread. */
  private receive(): void {
    const deadline = Date.now() + REPLY_TIMEOUT_MS;
    for (;;) {
      const seen = Atomics.load(this.replies, REPLIES_SLOT);
      const message = receiveMessageOnPort(this.port!);
      if (message) {
        const reply = message.message as PrefetchReply;
        for (const result of reply.results) this.ready.push(result);
        this.awaited -= this.inFlight.shift()!.length;
        return;
      }
      const remaining = deadline - Date.now();
      if (Atomics.load(this.replies, EXITED_SLOT) === 1 || remaining <= 0) break;
      Atomics.wait(this.replies, REPLIES_SLOT, seen, remaining);
    }

    this.logger.warn('The header reading thread exited or sent no reply in time; the scan reads the remaining headers itself', {
      awaitedFiles: this.awaited,
      timeoutMs: REPLY_TIMEOUT_MS,
    });
    this.close();
    for (const files of this.inFlight) for (const file of files) this.ready.push({ file });
    this.inFlight.length = 0;
    this.awaited = 0;
  }
}
