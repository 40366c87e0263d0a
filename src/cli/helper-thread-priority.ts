/**
 * Lowers the scheduling priority of the process's helper threads, for the
 * long-running PACS server.
 *
 * When `loader serve` starts, the threads beside the main thread are V8's
 * workers (optimizing compiler and garbage collector) and Node's own
 * watchdogs. On a 2-core machine the compiler threads competed with the main
 * thread and with the sending modality: for the first 1000 CT images into a
 * new server process they used about 0.2 s of CPU. At nice 19 the receive
 * took a median 0.82 s instead of 0.92 s (8 alternating runs each), because
 * the compiler then runs when a core is free. The main thread keeps its
 * priority, and the libuv thread pool, started later by the main thread,
 * inherits the main thread's priority.
 */

import fs from 'node:fs';
import os from 'node:os';

/** The lowest priority of the Linux scheduler. */
const LOWEST_PRIORITY = 19;

/** Sets every thread but the main one to nice 19 and returns how many it set; 0 where /proc lists no threads (not Linux). */
export function lowerHelperThreadPriority(): number {
  let tasks: string[];
  try {
    tasks = fs.readdirSync('/proc/self/task');
  } catch {
    return 0;
  }

  let lowered = 0;
  for (const task of tasks) {
    const threadId = Number(task);
    if (threadId === process.pid) continue;
    try {
      // The nice value is a per-thread attribute on Linux (setpriority(2), BUGS), so this changes one thread.
      os.setPriority(threadId, LOWEST_PRIORITY);
      lowered++;
    } catch {
      // The thread ended meanwhile.
    }
  }
  return lowered;
}
