/**
 * Line-oriented logging to standard error, one named logger per subsystem
 * ("loader.server", "loader.archive", ...).
 *
 * Lines read: 2026-12-04T20:50:00.123Z INFO  loader.server: message key=value
 * The level comes from LOADER_LOG_LEVEL (debug, info, warn, error; default info).
 * Never pass a password or a patient name in a log field.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, string | number | boolean | undefined | null>;

export interface Logger {
  readonly name: string;
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(suffix: string): Logger;
}

type LogSink = (line: string) => void;

let sink: LogSink = (line) => process.stderr.write(line + '\n');
let threshold: LogLevel = parseLevel(process.env.LOADER_LOG_LEVEL);

function parseLevel(text: string | undefined): LogLevel {
  const level = (text ?? '').toLowerCase();
  return level in LEVEL_RANK ? (level as LogLevel) : 'info';
}

/** Sets the minimum level written; the CLI sets it from --verbose and the command (see src/cli/log-level.ts). */
export function setLogLevel(level: LogLevel): void {
  threshold = level;
}

/** Redirects log lines, for example into a test's buffer. Returns the previous sink. */
export function setLogSink(next: LogSink): LogSink {
  const previous = sink;
  sink = next;
  return previous;
}

/**
 * C0 and C1 control characters and DEL. A peer chooses some logged values (an AE title, an
 * Error Comment), and these characters would let it move the cursor or recolour a terminal
 * that shows the log, or split a line.
 */
const CONTROL_CHARACTER = /[\x00-\x1f\x7f-\x9f]/;
const CONTROL_CHARACTERS = /[\x00-\x1f\x7f-\x9f]/g;

const SHORT_ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** Replaces each control character with an escape (\n, \r, \t or \u001b style), so a line shows it as text. */
function escapeControlCharacters(text: string): string {
  return text.replace(CONTROL_CHARACTERS, (character) => SHORT_ESCAPES[character] ?? `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function formatValue(value: string | number | boolean): string {
  const text = String(value);
  if (text !== '' && !/[\s"=]/.test(text) && !CONTROL_CHARACTER.test(text)) return text;
  // JSON.stringify escapes the C0 characters already, but not DEL and the C1 characters.
  return escapeControlCharacters(JSON.stringify(text));
}

function formatFields(fields: LogFields | undefined): string {
  if (!fields) return '';
  const parts: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined || value === null) continue;
    parts.push(`${key}=${formatValue(value)}`);
  }
  return parts.length > 0 ? ' ' + parts.join(' ') : '';
}

export function createLogger(name: string): Logger {
  const write = (level: LogLevel, message: string, fields?: LogFields) => {
    if (LEVEL_RANK[level] < LEVEL_RANK[threshold]) return;
    const label = level.toUpperCase().padEnd(5);
    sink(`${new Date().toISOString()} ${label} ${name}: ${escapeControlCharacters(message)}${formatFields(fields)}`);
  };
  return {
    name,
    debug: (message, fields) => write('debug', message, fields),
    info: (message, fields) => write('info', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    error: (message, fields) => write('error', message, fields),
    child: (suffix) => createLogger(`${name}.${suffix}`),
  };
}

/** Distinct peer addresses a RepeatLimiter counts per interval; a flood from more shows this number with "or more". */
const MAX_COUNTED_ADDRESSES = 1024;

/** Keys a RepeatLimiter tracks per interval; occurrences of further keys are only counted, under OVERFLOW_KEY. */
const MAX_TRACKED_KEYS = 256;
const OVERFLOW_KEY = '\0overflow';

/** Repeats of one key that a RepeatLimiter has counted since it last wrote a line for it. */
interface RepeatCount {
  count: number;
  addresses: Set<string>;
  fields: LogFields;
}

/**
 * Limits a log line that a peer can repeat at will, such as one per connection, so
 * that a flood cannot fill the disk. The first occurrence of each key is written at
 * once. Later ones within the interval are counted, and when the interval ends one
 * summary line gives their number and the number of distinct peer addresses. A key
 * with no repeats in an interval is written at once again the next time.
 */
export class RepeatLimiter {
  private readonly counts = new Map<string, RepeatCount>();
  private timer?: NodeJS.Timeout;
  private windowStartedAt = 0;

  constructor(
    private readonly logger: Logger,
    private readonly level: LogLevel,
    private readonly message: string,
    private readonly intervalMs = 60_000,
  ) {}

  /**
   * Writes or counts one occurrence. `key` separates occurrences that differ, such as the calling AE title.
   * Without `peerAddress` (a local failure), the summary counts no addresses.
   */
  report(fields: LogFields, peerAddress?: string, key = ''): void {
    if (!this.counts.has(key) && this.counts.size >= MAX_TRACKED_KEYS) {
      key = OVERFLOW_KEY;
      if (!this.counts.has(key)) this.counts.set(key, { count: 0, addresses: new Set(), fields });
    }
    const counted = this.counts.get(key);
    if (counted) {
      counted.count++;
      if (peerAddress !== undefined && counted.addresses.size < MAX_COUNTED_ADDRESSES) counted.addresses.add(peerAddress);
      counted.fields = fields;
      return;
    }
    this.logger[this.level](this.message, fields);
    this.counts.set(key, { count: 0, addresses: new Set(), fields });
    if (!this.timer) this.startWindow();
  }

  /** Writes the summaries of the repeats counted so far and stops the timer; call it when the server stops. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.writeSummaries();
    this.counts.clear();
  }

  private startWindow(): void {
    this.windowStartedAt = Date.now();
    this.timer = setTimeout(() => this.endWindow(), this.intervalMs);
    this.timer.unref();
  }

  private endWindow(): void {
    this.timer = undefined;
    this.writeSummaries();
    // A key that repeated stays counted for one more interval, so a steady flood gives one line per interval.
    for (const [key, counted] of this.counts) {
      if (counted.count === 0) this.counts.delete(key);
      else this.counts.set(key, { count: 0, addresses: new Set(), fields: counted.fields });
    }
    if (this.counts.size > 0) this.startWindow();
  }

  private writeSummaries(): void {
    const seconds = Math.max(1, Math.round((Date.now() - this.windowStartedAt) / 1000));
    for (const counted of this.counts.values()) {
      if (counted.count === 0) continue;
      const addresses = counted.addresses.size;
      let peerAddresses: number | string | undefined;
      if (addresses >= MAX_COUNTED_ADDRESSES) peerAddresses = `${addresses} or more`;
      else if (addresses > 0) peerAddresses = addresses;
      this.logger[this.level](`${this.message} (repeated ${counted.count} more times in the last ${seconds} s)`, {
        ...counted.fields,
        repeats: counted.count,
        peerAddresses,
      });
    }
  }
}
