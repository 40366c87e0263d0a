/**
 * Collects the log lines of a test file: the logger writes into the returned
 * list from beforeAll on, and to its earlier sink again after afterAll.
 */
import { setLogSink } from '../../src/services/logger';

export function captureLogLines(): string[] {
  const lines: string[] = [];
  let previousSink: (line: string) => void;
  beforeAll(() => {
    previousSink = setLogSink((line) => lines.push(line));
  });
  afterAll(() => {
    setLogSink(previousSink);
  });
  return lines;
}
