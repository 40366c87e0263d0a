/**
 * `loader serve` runs its helper threads (V8's compiler and garbage
 * collector workers) at the lowest priority and keeps the main thread's.
 */
import fs from 'node:fs';
import os from 'node:os';

import { loaderIsBuilt, startLoader } from '../support/loader';
import { waitUntil } from '../support/process';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

/** Reads the nice value of each thread of process `pid` from /proc. */
function niceValues(pid: number): Map<number, number> {
  const values = new Map<number, number>();
  for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
    const stat = fs.readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8');
    // The fields after the command name, which is in parentheses; nice is field 19 of the whole line.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    values.set(Number(task), Number(fields[16]));
  }
  return values;
}

describeBuilt('loader serve thread priorities', () => {
  test('helper threads lowered, main thread kept', async () => {
    const server = await startLoader([], { env: { LOADER_LOG_LEVEL: 'debug' } });
    try {
      await waitUntil(server.process, 'the helper thread log line', () => server.readLog().includes('helper threads set to the lowest priority'));
      const values = niceValues(server.process.pid);
      const helpers = [...values].filter(([threadId]) => threadId !== server.process.pid);

      // The server inherits this process's priority.
      expect(values.get(server.process.pid)).toBe(os.getPriority());
      expect(helpers.length).toBeGreaterThan(0);
      expect(helpers.every(([, nice]) => nice === 19)).toBe(true);
    } finally {
      await server.stop();
    }
  });
});
