/**
 * `loader serve`: runs the headless PACS server until Ctrl-C or SIGTERM, then
 * stops accepting associations, lets in-flight stores finish and exits.
 */
import type { Command } from 'commander';

import { LocalArchive } from '../../services/archive';
import { createLogger } from '../../services/logger';
import { PacsServer } from '../../services/pacs-server/pacs-server';
import { ServerAccounts } from '../../services/pacs-server/user-identity';
import type { PacsSettings } from '../../services/settings/settings-types';
import { validatePacsSettings } from '../../services/settings/validation';
import { openSettings, resolveArchiveRoot } from '../context';
import type { GlobalOptions } from '../context';

const log = createLogger('loader.cli');

interface ServeOptions {
  aet?: string;
  host?: string;
  port?: string;
  acceptAny?: boolean;
  durability?: string;
}

export async function runServer(globals: GlobalOptions, options: ServeOptions): Promise<void> {
  const settingsStore = openSettings(globals);
  const stored = settingsStore.settings.pacs;
  const pacs: PacsSettings = validatePacsSettings({
    ...stored,
    aeTitle: options.aet ?? stored.aeTitle,
    host: options.host ?? stored.host,
    port: options.port !== undefined ? Number(options.port) : stored.port,
    acceptAnyCallingAeTitle: options.acceptAny ?? stored.acceptAnyCallingAeTitle,
    storeDurability: (options.durability ?? stored.storeDurability) as PacsSettings['storeDurability'],
  });

  // Passwords are read once here, so a server that requires user identity fails at start, not at the first association.
  const accounts = pacs.requireUserIdentity ? await ServerAccounts.load(settingsStore.listServerAccounts()) : undefined;
  if (accounts) log.info('server accounts loaded', { accounts: accounts.size });

  const archiveRoot = resolveArchiveRoot(globals);
  const archive = LocalArchive.open(archiveRoot, { durability: pacs.storeDurability });
  log.info('archive opened', { root: archiveRoot, settings: settingsStore.path, durability: pacs.storeDurability });

  const server = new PacsServer({
    settings: pacs,
    archive,
    listNodes: () => openSettings(globals).listPacsNodes(),
    accounts,
  });
  await server.start();

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        log.warn('second stop signal: exiting without waiting', { signal });
        process.exit(130);
      }
      stopping = true;
      log.info('stop requested', { signal });
      server
        .stop()
        .catch((error: Error) => log.error('server stop failed', { error: error.message }))
        .finally(() => {
          archive.close();
          resolve();
        });
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
}

export function registerServe(program: Command, globals: () => GlobalOptions): void {
  program
    .command('serve')
    .description('run the PACS server (C-ECHO, C-STORE, C-FIND, C-MOVE, C-GET) on the local archive')
    .option('--aet <title>', 'AE title of this server (default from settings)')
    .option('--host <address>', 'address to listen on, 0.0.0.0 for all interfaces (default from settings)')
    .option('--port <number>', 'TCP port to listen on (default from settings)')
    .option('--accept-any', 'accept calling AE titles that are not registered nodes')
    .option(
      '--durability <mode>',
      'what is flushed to disk before a C-STORE is answered: full (fsync, survives power loss) or process-crash (no fsync, survives a crash of the loader); default from settings',
    )
    .action((options: ServeOptions) => runServer(globals(), options));
}
