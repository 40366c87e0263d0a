/**
 * Entry point of the `loader` command for administrators and scripts.
 * Exit codes: 0 success, 1 failure, 2 wrong usage, 3 partial success.
 */
import { Command, CommanderError } from 'commander';

import { LEGACY_CHARACTER_SETS } from '../dicom/charset';
import { SettingsValidationError, validateLegacyCharacterSet } from '../services/settings/validation';
import { ExitCode, UsageError } from './context';
import { explainNetworkErrors } from './instance-problems';
import { applyLogLevel } from './log-level';
import type { GlobalOptions } from './context';
import { registerAnonymize } from './commands/anonymize';
import { registerConfig } from './commands/config';
import { registerDelete } from './commands/delete';
import { normalizeDcmtkFlags, registerEcho } from './commands/echo';
import { registerFind } from './commands/find';
import { registerGet } from './commands/get';
import { registerLicense } from './commands/license';
import { registerMigrate } from './commands/migrate';
import { registerMove } from './commands/move';
import { registerNodes } from './commands/nodes';
import { registerReindex } from './commands/reindex';
import { registerScan } from './commands/scan';
import { registerSecrets } from './commands/secrets';
import { registerServe } from './commands/serve';
import { registerStart } from './commands/start';
import { registerSend } from './commands/send';
import { registerSsh } from './commands/ssh';
import { registerSync } from './commands/sync';
import { registerStudies } from './commands/studies';
import { registerUsers } from './commands/users';
import { registerView } from './commands/view';

function buildProgram(): Command {
  const program = new Command();
  program
    .name('loader')
    .description('Sciberia Loader: DICOM archive, PACS server and client')
    .option('--archive <dir>', 'archive folder (default: the user data folder; env LOADER_ARCHIVE)')
    .option('--config-dir <dir>', 'settings folder (default: the user config folder; env LOADER_CONFIG_DIR)')
    .option(
      '--legacy-charset <name>',
      `character set of names and descriptions in files that declare none and are not UTF-8: ${LEGACY_CHARACTER_SETS.join(', ')} ` +
        '(default: pacs.legacyCharacterSet from the settings; until set, windows-1251 for the Russian interface language and latin1 otherwise)',
    )
    .option(
      '--verbose',
      'log INFO lines, such as each association, also for echo, find, send, get and move on a terminal, ' +
        'which show only warnings and errors there by default (env LOADER_LOG_LEVEL: debug, info, warn or error)',
    )
    .showHelpAfterError()
    .exitOverride();

  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  // A mistyped --legacy-charset is a usage error for every command, also for one that decodes no text.
  program.hook('preAction', (_program, actionCommand) => {
    const { legacyCharset, verbose } = globals();
    if (legacyCharset !== undefined) validateLegacyCharacterSet('--legacy-charset', legacyCharset);
    // The top-level command, so that `loader ssh get` is not taken for `loader get`.
    let topCommand = actionCommand;
    while (topCommand.parent && topCommand.parent !== program) topCommand = topCommand.parent;
    applyLogLevel(topCommand.name(), verbose === true);
  });
  registerStart(program, globals);
  registerServe(program, globals);
  registerNodes(program, globals);
  registerScan(program, globals);
  registerReindex(program, globals);
  registerStudies(program, globals);
  registerDelete(program, globals);
  registerView(program, globals);
  registerEcho(program, globals);
  registerFind(program, globals);
  registerGet(program, globals);
  registerMove(program, globals);
  registerSend(program, globals);
  registerSsh(program, globals);
  registerMigrate(program, globals);
  registerSync(program, globals);
  registerAnonymize(program, globals);
  registerConfig(program, globals);
  registerSecrets(program, globals);
  registerUsers(program, globals);
  registerLicense(program, globals);

  return program;
}

async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(normalizeDcmtkFlags(argv));
    return process.exitCode === undefined ? ExitCode.Success : Number(process.exitCode);
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? ExitCode.Success : ExitCode.Usage;
    }
    if (error instanceof UsageError || error instanceof SettingsValidationError) {
      process.stderr.write(`loader: ${error.message}\n`);
      return ExitCode.Usage;
    }
    process.stderr.write(`loader: ${explainNetworkErrors(error instanceof Error ? error.message : String(error))}\n`);
    if (process.env.LOADER_LOG_LEVEL === 'debug' && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    return ExitCode.Failure;
  }
}

/**
 * Resolves once everything written to `stream` so far has left the process.
 * Writes to a pipe are asynchronous when the pipe is full, and process.exit()
 * drops what is still queued: `loader studies --json | wc -c` printed 65536
 * bytes, the pipe's capacity, of 423001. A closed reader (EPIPE) also ends
 * the wait.
 */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.writableLength === 0 || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('error', () => resolve());
    stream.write('', () => resolve());
  });
}

main(process.argv)
  .then(async (code) => {
    await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
    return code;
  })
  .then((code) => process.exit(code));
