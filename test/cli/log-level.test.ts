/** The log level that each command gets from --verbose, LOADER_LOG_LEVEL and whether standard error is a terminal. */
import { chooseLogLevel, type LogLevelInput } from '../../src/cli/log-level';

const TERMINAL: LogLevelInput = { command: 'send', verbose: false, environmentLevel: undefined, stderrIsTerminal: true };

describe('chooseLogLevel', () => {
  test.each(['echo', 'find', 'send', 'get', 'move'])('%s on terminal warns', (command) => {
    expect(chooseLogLevel({ ...TERMINAL, command })).toBe('warn');
  });

  test.each(['serve', 'scan', 'ssh', 'migrate', 'sync'])('%s keeps default', (command) => {
    expect(chooseLogLevel({ ...TERMINAL, command })).toBeUndefined();
  });

  test('pipe keeps default', () => {
    expect(chooseLogLevel({ ...TERMINAL, stderrIsTerminal: false })).toBeUndefined();
  });

  test('environment level wins', () => {
    expect(chooseLogLevel({ ...TERMINAL, environmentLevel: 'info' })).toBeUndefined();
    expect(chooseLogLevel({ ...TERMINAL, environmentLevel: 'debug' })).toBeUndefined();
  });

  test('empty environment level is unset', () => {
    expect(chooseLogLevel({ ...TERMINAL, environmentLevel: ' ' })).toBe('warn');
  });

  test('verbose gives info', () => {
    expect(chooseLogLevel({ ...TERMINAL, verbose: true })).toBe('info');
    expect(chooseLogLevel({ ...TERMINAL, verbose: true, environmentLevel: 'warn' })).toBe('info');
  });

  test('verbose keeps debug', () => {
    expect(chooseLogLevel({ ...TERMINAL, verbose: true, environmentLevel: 'DEBUG' })).toBe('debug');
  });
});
