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

/** Sets the minimum level written; used by the CLI's --verbose and --quiet flags. */
export function setLogLevel(level: LogLevel): void {
  threshold = level;
}

/** Redirects log lines, for example into a test's buffer. Returns the previous sink. */
export function setLogSink(next: LogSink): LogSink {
  const previous = sink;
  sink = next;
  return previous;
}

function formatValue(value: string | number | boolean): string {
  const text = String(value);
  return /[\s"=]/.test(text) || text === '' ? JSON.stringify(text) : text;
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
    sink(`${new Date().toISOString()} ${label} ${name}: ${message}${formatFields(fields)}`);
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
