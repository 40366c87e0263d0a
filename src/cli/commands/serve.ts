/**
 * `loader serve`: runs the headless PACS server until Ctrl-C or SIGTERM, then
 * stops accepting associations, lets in-flight stores finish and exits.
 */
import path from 'node:path';

import type { Command } from 'commander';

import type { LegacyCharacterSet } from '../../dicom/charset';

import { LocalArchive } from '../../services/archive';
import { createLogger } from '../../services/logger';
import { JOB_DATABASE_FILE, JobStore } from '../../services/migration';
import { PacsServer } from '../../services/pacs-server/pacs-server';
import { ServerAccounts } from '../../services/pacs-server/user-identity';
import { resolveConfigDir, SettingsStore } from '../../services/settings/settings-store';
import { SyncScheduler } from '../../services/sync';
import type { PacsNode, PacsSettings } from '../../services/settings/settings-types';
import { rejectInvalidAccessSettings } from '../../services/settings/access-settings';
import {
  checkAssociationLimits,
  validateAeTitle,
  validateDurability,
  validateHost,
  validatePacsSettings,
  validatePort,
  validatePositiveInteger,
} from '../../services/settings/validation';
import { openSettings, resolveArchiveRoot, resolveLegacyCharacterSetWithSource } from '../context';
import type { GlobalOptions } from '../context';
import { lowerHelperThreadPriority } from '../helper-thread-priority';
import { warnWhenUnlicensed } from './license';
import { checkScheduleNodes, parseSyncSchedule, runSyncSpec } from './sync';
import type { SyncSchedule } from './sync';

const log = createLogger('loader.cli');

interface ServeOptions {
  aet?: string;
  host?: string;
  port?: string;
  acceptAny?: boolean;
  maxAssociationsPerAe?: string;
  durability?: string;
  sync?: string[];
}

/** Hints appended to listen errors, naming the options that change the address. */
const LISTEN_ERROR_HINTS: Record<string, string> = {
  EADDRINUSE: ' with --port or "loader config set pacs.port PORT"',
  EACCES: ' with --port or "loader config set pacs.port PORT"',
  EADDRNOTAVAIL: ' with --host or "loader config set pacs.host ADDRESS"',
  ENOTFOUND: ' with --host or "loader config set pacs.host ADDRESS"',
};

/** Options of serve that replace a stored setting, so an invalid stored value does not matter when they are given. */
const OPTION_FOR_SETTING: Partial<Record<keyof PacsSettings, { option: keyof ServeOptions; flag: string }>> = {
  host: { option: 'host', flag: '--host' },
  port: { option: 'port', flag: '--port' },
  maxAssociationsPerAe: { option: 'maxAssociationsPerAe', flag: '--max-associations-per-ae' },
};

/** Raises SettingsValidationError (exit code 2) for an invalid stored setting that has no safe default; see access-settings.ts. */
function checkAccessSettings(store: SettingsStore, options: ServeOptions): void {
  const replaced = new Set(
    (Object.keys(OPTION_FOR_SETTING) as (keyof PacsSettings)[]).filter((field) => options[OPTION_FOR_SETTING[field]!.option] !== undefined),
  );
  const fix = (field: keyof PacsSettings) => {
    const flag = OPTION_FOR_SETTING[field]?.flag;
    return `Fix it with "loader config set pacs.${field} VALUE" or in that file${flag ? `, or give ${flag}` : ''}.`;
  };
  rejectInvalidAccessSettings(store, fix, replaced);
}

/** Merges the command-line options into the stored settings; errors name the option and quote what was typed. */
function serverSettings(stored: PacsSettings, options: ServeOptions, legacyCharacterSet: LegacyCharacterSet): PacsSettings {
  return validatePacsSettings({
    ...stored,
    aeTitle: options.aet !== undefined ? validateAeTitle('--aet', options.aet) : stored.aeTitle,
    host: options.host !== undefined ? validateHost('--host', options.host) : stored.host,
    port: options.port !== undefined ? validatePort('--port', options.port) : stored.port,
    acceptAnyCallingAeTitle: options.acceptAny ?? stored.acceptAnyCallingAeTitle,
    maxAssociationsPerAe:
      options.maxAssociationsPerAe !== undefined ? maxAssociationsPerAeOption(options.maxAssociationsPerAe, stored.maxAssociations) : stored.maxAssociationsPerAe,
    storeDurability:
      options.durability !== undefined ? validateDurability('--durability', options.durability) : stored.storeDurability,
    legacyCharacterSet,
  });
}

/** Parses and checks --max-associations-per-ae, so that its errors name the option. */
function maxAssociationsPerAeOption(text: string, maxAssociations: number): number {
  const limit = validatePositiveInteger('--max-associations-per-ae', /^\d+$/.test(text) ? Number(text) : text);
  checkAssociationLimits(maxAssociations, limit, '--max-associations-per-ae');
  return limit;
}

/**
 * Returns a reader of the registered nodes for the server, which rereads the
 * settings file on every association so that registry edits apply at once.
 * Each warning about the file is logged once, not on every association.
 */
function nodeRegistryReader(globals: GlobalOptions, alreadyLogged: string[]): () => PacsNode[] {
  const logged = new Set(alreadyLogged);
  return () => {
    const store = new SettingsStore({ configDir: globals.configDir, logWarnings: false });
    for (const warning of store.warnings) {
      if (logged.has(warning)) continue;
      logged.add(warning);
      log.warn(warning);
    }
    return store.listPacsNodes();
  };
}

/** Starts the schedules of --sync on the server's archive; returns undefined when none is given. */
function startSyncSchedules(globals: GlobalOptions, schedules: SyncSchedule[], archive: LocalArchive): { stop: () => Promise<void> } | undefined {
  if (schedules.length === 0) return undefined;
  const store = JobStore.open(path.join(resolveConfigDir(globals.configDir), JOB_DATABASE_FILE));
  const scheduler = new SyncScheduler(
    schedules.map((schedule) => ({
      label: schedule.text,
      intervalMs: schedule.intervalMs,
      run: (signal) =>
        runSyncSpec(schedule, {
          globals,
          archive,
          store,
          signal,
          onNotice: (message) => log.info(message, { schedule: schedule.text }),
        }),
    })),
  );
  scheduler.start();
  return {
    stop: async () => {
      await scheduler.stop();
      store.close();
    },
  };
}

export async function runServer(globals: GlobalOptions, options: ServeOptions): Promise<void> {
  const settingsStore = openSettings(globals);
  checkAccessSettings(settingsStore, options);
  const { legacyCharacterSet, legacyCharacterSetSource } = resolveLegacyCharacterSetWithSource(globals, settingsStore);
  const pacs = serverSettings(settingsStore.settings.pacs, options, legacyCharacterSet);
  // Schedules are checked before the server starts, so a typing error stops serve at once.
  const schedules = (options.sync ?? []).map(parseSyncSchedule);
  for (const schedule of schedules) checkScheduleNodes(globals, schedule);
  // After the options are checked, so that a usage error is the first message.
  warnWhenUnlicensed(globals);

  // Passwords are read once here, so a server that requires user identity fails at start, not at the first association.
  const accounts = pacs.requireUserIdentity ? await ServerAccounts.load(settingsStore.listServerAccounts()) : undefined;
  if (accounts) log.info('server accounts loaded', { accounts: accounts.size });

  const archiveRoot = resolveArchiveRoot(globals);
  // On a full disk the server still starts, so that studies can be queried and moved off, and it rejects C-STORE with A700.
  const archive = LocalArchive.open(archiveRoot, {
    durability: pacs.storeDurability,
    legacyCharacterSet: pacs.legacyCharacterSet,
    legacyCharacterSetSource,
    access: 'read-if-disk-full',
  });
  log.info('archive opened', {
    root: archiveRoot,
    settings: settingsStore.path,
    durability: pacs.storeDurability,
    legacyCharacterSet: pacs.legacyCharacterSet,
    legacyCharacterSetSource: legacyCharacterSetSource.description,
  });

  const server = new PacsServer({
    settings: pacs,
    archive,
    listNodes: nodeRegistryReader(globals, settingsStore.warnings),
    accounts,
    loadDictionaryAtStart: true,
  });
  try {
    await server.start();
  } catch (error) {
    archive.close();
    const hint = LISTEN_ERROR_HINTS[(error as NodeJS.ErrnoException).code ?? ''];
    if (hint !== undefined && error instanceof Error) throw new Error(error.message + hint, { cause: error });
    throw error;
  }
  if (!pacs.acceptAnyCallingAeTitle && settingsStore.listPacsNodes().length === 0) {
    log.warn(
      'no calling AE titles are registered and accept-any is off, so every association will be rejected: ' +
        'add nodes with "loader nodes add" or start with --accept-any',
    );
  }
  const syncSchedules = startSyncSchedules(globals, schedules, archive);
  const loweredThreads = lowerHelperThreadPriority();
  log.debug('helper threads set to the lowest priority', { threads: loweredThreads });

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        log.warn('second stop signal: exiting without waiting', { signal });
        process.exit(130);
      }
      stopping = true;
      log.info('stop requested', { signal });
      Promise.all([syncSchedules?.stop(), server.stop()])
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
      '--max-associations-per-ae <count>',
      'concurrent associations accepted from one calling AE title, at most pacs.maxAssociations (default from settings, 8)',
    )
    .option(
      '--durability <mode>',
      'what is flushed to disk before a C-STORE is answered: full (fsync, survives power loss) or process-crash (no fsync, survives a crash of the loader); default from settings',
    )
    .option(
      '--sync <schedule>',
      'repeat a sync while serving: "A B every 15m [options of loader sync]", interval in s, m or h (10s or more); ' +
        'runs at start, then every interval, one run at a time; repeat the option for more schedules',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .addHelpText(
      'after',
      '\nAE titles are not authentication: any program can send any AE title. The server accepts the calling AE titles of ' +
        'registered nodes ("loader nodes add"), and with pacs.checkCallingAeHost on (the default) only from the host each ' +
        'node is registered with. To require a username and password, turn on pacs.requireUserIdentity (see "loader users").\n',
    )
    .action((options: ServeOptions) => runServer(globals(), options));
}
