/**
 * Log level of a command. The network clients (echo, find, send, get, move)
 * log each association at INFO, which on a terminal hides the result among
 * log lines, so there they show warnings and errors only unless --verbose or
 * LOADER_LOG_LEVEL requests more. Other commands, `serve` among them, and
 * output to a file or a pipe keep INFO, the logger's default.
 */
import { setLogLevel, type LogLevel } from '../services/logger';

/** Commands whose INFO lines are left out on a terminal by default. */
const NETWORK_CLIENT_COMMANDS = new Set(['echo', 'find', 'send', 'get', 'move']);

export interface LogLevelInput {
  command: string;
  verbose: boolean;
  /** The value of LOADER_LOG_LEVEL, or undefined when it is not set. */
  environmentLevel: string | undefined;
  stderrIsTerminal: boolean;
}

/**
 * Returns the level to set for a command, or undefined to keep the level that
 * the logger read from LOADER_LOG_LEVEL. --verbose means at least INFO, and
 * LOADER_LOG_LEVEL=debug with it still logs DEBUG lines.
 */
export function chooseLogLevel(input: LogLevelInput): LogLevel | undefined {
  const environmentLevel = input.environmentLevel?.trim().toLowerCase() || undefined;
  if (input.verbose) return environmentLevel === 'debug' ? 'debug' : 'info';
  if (environmentLevel !== undefined) return undefined;
  if (NETWORK_CLIENT_COMMANDS.has(input.command) && input.stderrIsTerminal) return 'warn';
  return undefined;
}

/** Sets the log level for `command` from --verbose, LOADER_LOG_LEVEL and whether standard error is a terminal. */
export function applyLogLevel(command: string, verbose: boolean): void {
  const level = chooseLogLevel({
    command,
    verbose,
    environmentLevel: process.env.LOADER_LOG_LEVEL,
    stderrIsTerminal: process.stderr.isTTY === true,
  });
  if (level !== undefined) setLogLevel(level);
}
