/**
 * `loader sync A B`: compares two nodes (or a node and the local archive)
 * over a selection and copies what either lacks, through the resumable
 * migration jobs in <config folder>/jobs.sqlite. Also parses the schedules
 * of `loader serve --sync`.
 */
import path from 'node:path';

import { Command, CommanderError } from 'commander';

import { LocalArchive } from '../../services/archive';
import { JOB_DATABASE_FILE, JobStore, JobStoreError, LOCAL_ENDPOINT } from '../../services/migration';
import type { JobOptions, JobSelection, MigrationAnonymization } from '../../services/migration';
import type { LocalIdentity } from '../../services/query-retrieve';
import { findRemoteNode, localIdentityFromSettings } from '../../services/query-retrieve';
import { resolveConfigDir } from '../../services/settings/settings-store';
import { parseInterval, runSync, SYNC_DIRECTIONS, syncJobId } from '../../services/sync';
import type { SyncDirection, SyncReport, SyncTransfer } from '../../services/sync';
import type { StudyOnEndpoint } from '../../services/sync';
import { countOf, ExitCode, openSettings, openWritableArchive, resolveArchiveRoot, resolveLegacyCharacterSet, UsageError } from '../context';
import type { GlobalOptions } from '../context';
import { explainNetworkErrors } from '../instance-problems';
import { formatTable, ProgressLine } from '../terminal';
import { abortOnInterrupt } from './echo';
import { addFilterOptions } from './find';
import {
  addAllOption,
  addAnonymizeOptions,
  addJobOneOffSecretOption,
  anonymizationFrom,
  describeSecretSource,
  describeUnfinishedStudy,
  jobOptionsFrom,
  MAX_CONCURRENCY,
  parseMethod,
  printHeldBack,
  resolveEndpoint,
  selectionFrom,
  settleJobSecret,
} from './migrate';
import type { JobCommandOptions } from './migrate';

interface SyncOptions extends JobCommandOptions {
  direction: string;
}

/** One sync as the command line or a `serve --sync` schedule gives it, checked. */
export interface SyncSpec {
  a: string;
  b: string;
  selection: JobSelection;
  direction: SyncDirection;
  jobName?: string;
  options: JobOptions;
  aet?: string;
  /** Anonymization of what goes from A to B, with --anonymize. */
  anonymize?: MigrationAnonymization;
  /** --one-off-secret: a new anonymizing job gets a random secret instead of the installation secret. */
  oneOffSecret?: boolean;
}

/** Adds the options shared by `loader sync` and the schedules of `serve --sync`. */
function addSyncOptions(command: Command): Command {
  command
    .option('--direction <direction>', 'a-to-b: copy what B lacks; b-to-a: copy what A lacks; both: copy both ways', 'both')
    .option('--method <method>', 'auto: C-MOVE between the nodes, through the local archive when the source cannot; move: C-MOVE only; relay: always through the local archive', 'auto')
    .option('--concurrency <count>', `maximum associations open at once to each node, and studies in flight, 1 to ${MAX_CONCURRENCY}`, '2')
    .option('--retries <count>', 'retries of a study after a transient failure, with back-off doubling from 1 s', '3')
    .option('--job <name>', 'base of the job names (NAME-a-to-b, NAME-b-to-a); default: derived from both ends and the filters')
    .option('--aet <title>', 'calling AE title (default: pacs.aeTitle from the settings)');
  return addJobOneOffSecretOption(addAnonymizeOptions(addAllOption(addFilterOptions(command), 'on both ends')));
}

/** Checks the options and returns the sync they describe; throws UsageError naming the invalid value. */
function toSyncSpec(a: string, b: string, options: SyncOptions): SyncSpec {
  if (a.toLowerCase() === b.toLowerCase()) throw new UsageError(`both ends are "${a}": give two different ends`);
  const direction = options.direction.toLowerCase();
  if (!(SYNC_DIRECTIONS as readonly string[]).includes(direction)) throw new UsageError(`--direction "${options.direction}" is invalid: use a-to-b, b-to-a or both`);
  const method = parseMethod(options.method);
  // Without --all or a filter, sync compares every study too, as it did before --all; its jobs keep their names.
  const selection = selectionFrom(options, false);
  const anonymize = anonymizationFrom(options);
  if (anonymize && direction !== 'a-to-b') throw new UsageError(`--anonymize copies from A to B only: give --direction a-to-b, not ${direction}`);
  if (anonymize && b.toLowerCase() === LOCAL_ENDPOINT) throw new UsageError('--anonymize needs a node as B: the local archive keeps the original instances');
  if (anonymize && method === 'move') throw new UsageError('--anonymize cannot go with --method move: anonymized copies are sent from the local archive; use auto or relay');
  const spec: SyncSpec = {
    a,
    b,
    selection,
    direction: direction as SyncDirection,
    jobName: options.job,
    options: jobOptionsFrom(method, options),
    aet: options.aet,
    anonymize,
    oneOffSecret: options.oneOffSecret,
  };
  try {
    syncJobId(a, b, selection, 'a-to-b', spec.jobName, anonymize !== undefined);
  } catch (error) {
    if (error instanceof JobStoreError) throw new UsageError(`--job: ${error.message}`);
    throw error;
  }
  return spec;
}

/** Splits a schedule into words; double or single quotes keep spaces inside one word. */
function splitWords(text: string): string[] {
  const words: string[] = [];
  const pattern = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) words.push(match[1] ?? match[2] ?? match[3]);
  return words;
}

export interface SyncSchedule extends SyncSpec {
  /** The schedule as given, for logs. */
  text: string;
  intervalMs: number;
}

/**
 * Parses a schedule of `loader serve --sync`: "A B every INTERVAL [options]",
 * where INTERVAL is e.g. 30s, 15m or 2h and the options are those of
 * `loader sync` except --dry-run and --json. Throws UsageError.
 */
export function parseSyncSchedule(text: string): SyncSchedule {
  const words = splitWords(text);
  const usage = 'use "A B every 15m [--all, or filters such as --date D --modality M ...] [--direction both] ..."';
  if (words.length < 4 || words[2].toLowerCase() !== 'every') throw new UsageError(`--sync "${text}" is invalid: ${usage}`);
  let intervalMs: number;
  try {
    intervalMs = parseInterval(words[3]);
  } catch (error) {
    throw new UsageError(`--sync "${text}": ${(error as Error).message}`);
  }

  const parser = addSyncOptions(new Command('sync-schedule'))
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: () => undefined })
    .allowExcessArguments(false);
  try {
    parser.parse(words.slice(4), { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) throw new UsageError(`--sync "${text}": ${error.message.replace(/^error: /, '')}`);
    throw error;
  }
  try {
    return { ...toSyncSpec(words[0], words[1], parser.opts<SyncOptions>()), text, intervalMs };
  } catch (error) {
    if (error instanceof UsageError) throw new UsageError(`--sync "${text}": ${error.message}`);
    throw error;
  }
}

/** Checks that both ends of the schedule are 'local' or registered nodes; throws UsageError naming the schedule. */
export function checkScheduleNodes(globals: GlobalOptions, schedule: SyncSchedule): void {
  const settings = openSettings(globals);
  for (const name of [schedule.a, schedule.b]) {
    if (name.toLowerCase() === LOCAL_ENDPOINT) continue;
    try {
      findRemoteNode(settings, name);
    } catch (error) {
      throw new UsageError(`--sync "${schedule.text}": ${(error as Error).message.replace(/, or give --host.*$/, '')}`);
    }
  }
}

export interface SyncContext {
  globals: GlobalOptions;
  archive: LocalArchive;
  store: JobStore;
  dryRun?: boolean;
  signal?: AbortSignal;
  onProgress?: (detail: string) => void;
  onNotice?: (message: string) => void;
}

/** Resolves both ends of the spec and runs one sync; `loader sync` and `serve --sync` share it. */
export async function runSyncSpec(spec: SyncSpec, context: SyncContext): Promise<SyncReport> {
  const a = await resolveEndpoint(context.globals, spec.a, context.archive, spec.aet);
  const b = await resolveEndpoint(context.globals, spec.b, context.archive, spec.aet);
  const local: LocalIdentity = localIdentityFromSettings(openSettings(context.globals), spec.aet);
  let anonymize = spec.anonymize;
  if (anonymize !== undefined) {
    const jobId = syncJobId(spec.a, spec.b, spec.selection, 'a-to-b', spec.jobName, true);
    anonymize = await settleJobSecret(anonymize, spec.oneOffSecret === true, context.store, jobId, context.globals.configDir);
  }
  try {
    return await runSync({
      a,
      b,
      selection: spec.selection,
      direction: spec.direction,
      dryRun: context.dryRun,
      jobName: spec.jobName,
      options: spec.options,
      local,
      archive: context.archive,
      store: context.store,
      anonymize,
      signal: context.signal,
      onProgress: context.onProgress,
      onNotice: context.onNotice,
    });
  } catch (error) {
    if (error instanceof JobStoreError) throw new UsageError(error.message);
    throw error;
  }
}

function formatCount(count: number | undefined): string {
  return count === undefined ? '?' : String(count);
}

function studyRows(studies: StudyOnEndpoint[]): string[][] {
  return studies.map((study) => [study.studyInstanceUid, study.patientId, study.studyDate, formatCount(study.instances)]);
}

function describeTransfer(transfer: SyncTransfer, dryRun: boolean): string {
  const head = `${transfer.source} to ${transfer.destination}`;
  if (transfer.studyInstanceUids.length === 0) return `${head}: nothing to transfer`;
  const missing =
    transfer.uncountedStudies === 0
      ? `${countOf(transfer.missingInstances, 'instance')} missing`
      : `${transfer.missingInstances} or more instances missing (${transfer.source} does not report the instance count of ${countOf(transfer.uncountedStudies, 'study', 'studies')})`;
  const planned = `${countOf(transfer.studyInstanceUids.length, 'study', 'studies')}, ${missing}`;
  if (dryRun || !transfer.report) return `${head}: would transfer ${planned}`;
  const { migrated, alreadyPresent, failed, pending } = transfer.report.summary;
  const counts = `${migrated} copied, ${alreadyPresent} already present, ${failed} failed${pending > 0 ? `, ${pending} pending` : ''}`;
  return `${head}: ${planned}; job ${transfer.jobId}: ${counts}`;
}

function printReport(report: SyncReport, anonymized: boolean): void {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const { comparison, a, b } = report;
  out(`${report.dryRun ? 'dry run: ' : ''}sync of ${a} and ${b}, direction ${report.direction}`);
  out(`studies: ${comparison.studiesOnA} on ${a}, ${comparison.studiesOnB} on ${b}, ${comparison.inSync} on both with the same instance counts`);

  const headers = ['STUDY INSTANCE UID', 'PATIENT ID', 'DATE', 'INSTANCES'];
  if (comparison.missingOnB.length > 0) {
    out(`missing on ${b} (only on ${a}): ${countOf(comparison.missingOnB.length, 'study', 'studies')}`);
    out(formatTable(headers, studyRows(comparison.missingOnB), 64));
  }
  if (comparison.missingOnA.length > 0) {
    out(`missing on ${a} (only on ${b}): ${countOf(comparison.missingOnA.length, 'study', 'studies')}`);
    out(formatTable(headers, studyRows(comparison.missingOnA), 64));
  }
  if (comparison.mismatched.length > 0) {
    out(`instance count mismatches: ${countOf(comparison.mismatched.length, 'study', 'studies')}`);
    const rows = comparison.mismatched.map((study) => [study.studyInstanceUid, study.patientId, String(study.countA), String(study.countB), String(study.missingOnA), String(study.missingOnB)]);
    out(formatTable(['STUDY INSTANCE UID', 'PATIENT ID', `ON ${a}`, `ON ${b}`, `MISSING ON ${a}`, `MISSING ON ${b}`], rows, 64));
  }
  if (comparison.conflicts.length > 0) {
    out(`conflicts, not transferred: ${countOf(comparison.conflicts.length, 'study', 'studies')} with one Study Instance UID under different Patient IDs`);
    const rows = comparison.conflicts.map((conflict) => [conflict.studyInstanceUid, conflict.patientIdA, conflict.patientIdB]);
    out(formatTable(['STUDY INSTANCE UID', `PATIENT ID ON ${a}`, `PATIENT ID ON ${b}`], rows, 64));
  }

  for (const transfer of report.transfers) {
    out(describeTransfer(transfer, report.dryRun));
    for (const study of transfer.report?.studies ?? []) {
      const line = describeUnfinishedStudy(study, false);
      if (line !== undefined) out(`  ${line}`);
    }
    if (transfer.report) printHeldBack(transfer.report, anonymized);
  }
  for (const note of report.notes) out(`  note: ${note}`);
  if (report.secretSource !== undefined) out(describeSecretSource(report.secretSource));
  const { summary } = report;
  if (report.transfers.every((transfer) => transfer.studyInstanceUids.length === 0)) {
    // Studies with equal instance counts on both ends are not compared by SOP Instance UID, so the line names what was compared.
    const compared = report.undatedNotListed ? 'the studies with a Study Date that were compared' : 'the same studies';
    out(`nothing to transfer: ${a} and ${b} contain ${compared} with the same instance counts${summary.conflicts > 0 ? ', apart from the conflicts' : ''}`);
  }
  if (report.outcome === 'nothing-to-do') return;
  // A dry run copies nothing, so its line counts the studies it would transfer.
  const planned = report.transfers.reduce((total, transfer) => total + transfer.studyInstanceUids.length, 0);
  const done = report.dryRun ? `${countOf(planned, 'study', 'studies')} to transfer` : `${countOf(summary.transferred, 'study', 'studies')} copied, ${summary.failed} failed`;
  out(`${summaryWord(report)}: ${done}, ${countOf(summary.conflicts, 'conflict')}`);
}

/** Returns the first word of the summary line: the outcome, which a dry run marks as planned. */
function summaryWord(report: SyncReport): string {
  if (!report.dryRun) return report.outcome;
  return report.outcome === 'partial' ? 'partial (dry run)' : 'planned';
}

/** Exit code: 1 when every transfer failed, 3 for a partial outcome (some failed, a conflict was found or instances were held back), 0 otherwise. */
function exitCodeOf(report: SyncReport): number {
  if (report.outcome === 'failure') return ExitCode.Failure;
  if (report.outcome === 'partial') return ExitCode.PartialSuccess;
  return ExitCode.Success;
}

export function registerSync(program: Command, globals: () => GlobalOptions): void {
  const command = program
    .command('sync <a> <b>')
    .description(
      "compare two nodes over the filters, or over every study with --all or without filters, and copy the studies and instances either one lacks; either end may be 'local' (the local archive). " +
        'A study under different Patient IDs on the two ends is reported as a conflict and not copied. ' +
        'Exit code 3 when some transfers failed, a conflict was found or --anonymize held back instances',
    )
    .option('--dry-run', 'compare and show what would be copied; nothing is sent or recorded')
    .option('--json', 'print the report as JSON');
  addSyncOptions(command).action(async (a: string, b: string, options: SyncOptions) => {
    const spec = toSyncSpec(a, b, options);
    const global = globals();
    // Sync copies both ways, so an end that is the local archive may store into it; a read-only archive fails here.
    const archiveRoot = resolveArchiveRoot(global);
    const storesLocally = [spec.a, spec.b].some((name) => name.toLowerCase() === LOCAL_ENDPOINT) && !options.dryRun;
    const legacyCharacterSet = resolveLegacyCharacterSet(global);
    const archive = storesLocally ? openWritableArchive(archiveRoot, { legacyCharacterSet }) : LocalArchive.open(archiveRoot, { legacyCharacterSet });
    const store = JobStore.open(path.join(resolveConfigDir(global.configDir), JOB_DATABASE_FILE));
    const interrupt = abortOnInterrupt();
    const progressLine = new ProgressLine();
    try {
      const report = await runSyncSpec(spec, {
        globals: global,
        archive,
        store,
        dryRun: options.dryRun,
        signal: interrupt.signal,
        onProgress: (detail) => progressLine.update(detail),
        onNotice: (message) => {
          progressLine.done();
          process.stderr.write(`loader: ${explainNetworkErrors(message)}\n`);
        },
      });
      progressLine.done();
      if (options.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      else printReport(report, spec.anonymize !== undefined);
      process.exitCode = exitCodeOf(report);
    } finally {
      progressLine.done();
      interrupt.dispose();
      store.close();
      archive.close();
    }
  });
}
