/**
 * `loader migrate A B`: copies the selected studies from node or archive A
 * to node or archive B as a resumable job kept in <config folder>/jobs.sqlite.
 */
import path from 'node:path';

import type { Command } from 'commander';

import { BUILT_IN_SAFE_PRIVATE_CREATORS } from '../../dicom/anonymizer';
import { PseudonymTable } from '../../dicom/anonymizer/job-keys';

import { LocalArchive } from '../../services/archive';
import {
  deriveJobId,
  JOB_DATABASE_FILE,
  JobStore,
  JobStoreError,
  LOCAL_ENDPOINT,
  runMigration,
  validateJobName,
} from '../../services/migration';
import type { Endpoint, JobOptions, JobSelection, MigrationAnonymization, MigrationReport, StudyReport } from '../../services/migration';
import type { LocalIdentity } from '../../services/query-retrieve';
import { localIdentityFromSettings } from '../../services/query-retrieve';
import { resolveConfigDir } from '../../services/settings/settings-store';
import { countOf, exitCodeForOutcome, openSettings, openWritableArchive, resolveArchiveRoot, resolveLegacyCharacterSet, UsageError } from '../context';
import type { GlobalOptions } from '../context';
import { explainNetworkErrors } from '../instance-problems';
import { formatTable, ProgressLine } from '../terminal';
import { resolveAnonymizationSecret, toOptions } from './anonymize';
import type { AnonymizeFlags as AnonymizerFlags } from './anonymize';
import { abortOnInterrupt, resolveTarget } from './echo';
import { addFilterOptions, filtersFrom, hasAnyFilter } from './find';
import type { FilterOptions } from './find';

/** The --anonymize flag and the flags of `loader anonymize` that go with it. */
export interface AnonymizeFlags extends Omit<AnonymizerFlags, 'pseudonymHash'> {
  anonymize?: boolean;
}

/** Options of the job commands `loader migrate` and `loader sync`. */
export interface JobCommandOptions extends FilterOptions, AnonymizeFlags {
  all?: boolean;
  method: string;
  concurrency: string;
  retries: string;
  job?: string;
  json?: boolean;
  dryRun?: boolean;
  aet?: string;
}

/** Adds --anonymize and the anonymizer's options, with the names of `loader anonymize`. */
export function addAnonymizeOptions(command: Command): Command {
  return command
    .option('--anonymize', 'send anonymized copies (PS3.15 annex E Basic Application Level Confidentiality Profile); the archive keeps the originals')
    .option('--keep-dates', 'with --anonymize: keep dates and times unchanged')
    .option('--shift-dates', 'with --anonymize: move dates back by a per-patient number of days, 1 to 3650')
    .option('--keep-patient-characteristics', 'with --anonymize: keep sex, age, size, weight and similar')
    .option('--keep-device', 'with --anonymize: keep device names and serial numbers')
    .option('--keep-institution', 'with --anonymize: keep institution names and addresses')
    .option('--clean-descriptors [text]', 'with --anonymize: keep descriptions, replaced with TEXT, or emptied without it')
    .option('--keep-private [creators...]', `with --anonymize: keep the private blocks of ${BUILT_IN_SAFE_PRIVATE_CREATORS.join(', ')} and of the private creators named here`)
    .option('--allow-burned-in', 'with --anonymize: also send images that may show burned-in text (Burned In Annotation YES; US, Secondary Capture, XA, RF, endoscopy, microscopy and photographs without it set to NO) and encapsulated documents (PDF, CDA, 3D models); by default they are held back')
    .option('--pseudonym-prefix <text>', "with --anonymize: start of Patient's Name and Patient ID pseudonyms (default: ANON)")
    .option(
      '--job-secret-file <file>',
      'with --anonymize: file with the secret (at least 16 bytes) that fixes UIDs and pseudonyms; ' +
        'default: the installation secret, except that a migrate or sync job that exists keeps the secret it recorded',
    );
}

/** Adds --one-off-secret to `loader migrate` and `loader sync`; `loader send` has its own text. */
export function addJobOneOffSecretOption(command: Command): Command {
  return command.option(
    '--one-off-secret',
    'with --anonymize: give a new job a random secret, recorded with the job, so its copies cannot be linked to other jobs and sends; ' +
      'default: the installation secret, which gives a patient the same pseudonym and UIDs in every job and send',
  );
}

/** Words for the origin of a job's secret in the text report. */
const SECRET_SOURCE_TEXT: Record<NonNullable<MigrationReport['secretSource']>, string> = {
  installation: 'the installation secret, as loader send --anonymize and other jobs use it',
  'job-secret-file': 'the secret from --job-secret-file',
  'one-off': 'a random secret of this job only (--one-off-secret)',
  recorded: 'the secret recorded with the job when it was created',
};

/** Returns the report line that names the secret of an anonymizing job. */
export function describeSecretSource(source: NonNullable<MigrationReport['secretSource']>): string {
  return `anonymized with: ${SECRET_SOURCE_TEXT[source]}`;
}

/**
 * Returns `anonymize` with the secret of job `jobId` and its origin. A job that exists keeps the secret
 * it recorded: --job-secret-file must match it when the job opens, and --one-off-secret is rejected.
 * A new job gets the secret of --job-secret-file or --one-off-secret, or else the installation secret,
 * so that two jobs give one patient one pseudonym and one study one Study Instance UID on the destination.
 */
export async function settleJobSecret(
  anonymize: MigrationAnonymization,
  oneOffSecret: boolean,
  store: JobStore,
  jobId: string,
  configDir: string | undefined,
): Promise<MigrationAnonymization> {
  const recorded = store.getJobSecret(jobId);
  if (recorded !== undefined) {
    if (oneOffSecret) throw new UsageError(`job "${jobId}" already has a recorded secret; drop --one-off-secret or give another --job name`);
    return anonymize.jobSecret === undefined ? { ...anonymize, jobSecret: recorded } : anonymize;
  }
  // anonymizationFrom read --job-secret-file into jobSecret already.
  if (anonymize.jobSecret !== undefined) return { ...anonymize, secretSource: 'job-secret-file' };
  const { secret, source } = await resolveAnonymizationSecret({ oneOffSecret }, configDir);
  return { ...anonymize, jobSecret: secret, secretSource: source };
}

const ANONYMIZATION_FLAGS: Array<[keyof AnonymizeFlags, string]> = [
  ['keepDates', '--keep-dates'],
  ['shiftDates', '--shift-dates'],
  ['keepPatientCharacteristics', '--keep-patient-characteristics'],
  ['keepDevice', '--keep-device'],
  ['keepInstitution', '--keep-institution'],
  ['cleanDescriptors', '--clean-descriptors'],
  ['keepPrivate', '--keep-private'],
  ['allowBurnedIn', '--allow-burned-in'],
  ['pseudonymPrefix', '--pseudonym-prefix'],
  ['jobSecretFile', '--job-secret-file'],
  ['oneOffSecret', '--one-off-secret'],
];

/**
 * Returns the anonymization the flags ask for, or undefined without
 * --anonymize. Options are normalized, so that equal choices are recorded
 * equally in a job. Throws UsageError for an anonymizer flag without
 * --anonymize, an invalid value or an unreadable secret file.
 */
export function anonymizationFrom(flags: AnonymizeFlags): MigrationAnonymization | undefined {
  if (!flags.anonymize) {
    const given = ANONYMIZATION_FLAGS.find(([key]) => flags[key] !== undefined);
    if (given) throw new UsageError(`${given[1]} needs --anonymize`);
    return undefined;
  }
  if (flags.oneOffSecret && flags.jobSecretFile) throw new UsageError('--one-off-secret and --job-secret-file exclude each other; choose one');
  const options = toOptions({ ...flags, pseudonymHash: true });
  const pseudonymPrefix = options.pseudonymPrefix ?? 'ANON';
  try {
    new PseudonymTable(Buffer.alloc(16), pseudonymPrefix, 'hash');
  } catch (error) {
    throw new UsageError(`--pseudonym-prefix: ${(error as Error).message}`);
  }
  return {
    options: {
      dates: options.dates ?? 'remove',
      keepPatientCharacteristics: options.keepPatientCharacteristics === true,
      keepDeviceIdentity: options.keepDeviceIdentity === true,
      keepInstitutionIdentity: options.keepInstitutionIdentity === true,
      cleanDescriptors: options.cleanDescriptors === true,
      descriptorReplacement: options.descriptorReplacement,
      keepPrivateCreators: [...new Set(options.keepPrivateCreators ?? [])].sort(),
      allowBurnedIn: options.allowBurnedIn === true,
      pseudonymPrefix,
    },
    jobSecret: options.jobSecret,
  };
}

/** Prints the instances held back by the anonymizer, which the destination lacks on purpose. */
export function printHeldBack(report: Pick<MigrationReport, 'heldBack' | 'pseudonymizedPatients'>, anonymized: boolean): void {
  if (!anonymized) return;
  const studies = new Set(report.heldBack.map((held) => held.studyInstanceUid));
  process.stdout.write(`anonymized: ${countOf(report.pseudonymizedPatients, 'patient')} with pseudonyms in this job\n`);
  if (report.heldBack.length === 0) return;
  const instances = countOf(report.heldBack.length, 'instance');
  const verb = report.heldBack.length === 1 ? 'was' : 'were';
  const incomplete = studies.size === 1 ? 'this study is' : 'these studies are';
  process.stdout.write(
    `held back: ${instances} in ${countOf(studies.size, 'study', 'studies')} ${verb} not sent, so ${incomplete} incomplete on the destination on purpose (use --allow-burned-in to send them)\n`,
  );
  for (const held of report.heldBack) process.stdout.write(`  held back: ${held.studyInstanceUid}: ${held.sopInstanceUid}: ${held.reason}\n`);
}

/** The filter options of `find` in the order of its help, with their flags. */
const FILTER_FLAGS: Array<[keyof FilterOptions, string]> = [
  ['name', '--name'],
  ['patientId', '--patient-id'],
  ['date', '--date'],
  ['modality', '--modality'],
  ['description', '--description'],
  ['accession', '--accession'],
  ['studyUid', '--study-uid'],
];

/** Adds --all, which selects every study; `scope` names the ends searched, for example "on the source". */
export function addAllOption(command: Command, scope: string): Command {
  return command.option(
    '--all',
    `every study ${scope}, also studies without Study Date, Patient Name or another optional attribute (universal matching); cannot go with filters`,
  );
}

/**
 * Returns the selection of --all or of the filters. Throws UsageError when
 * --all goes with a filter, or, with `filterRequired`, when neither is given.
 */
export function selectionFrom(options: JobCommandOptions, filterRequired: boolean): JobSelection {
  if (options.all === true) {
    const conflicting = FILTER_FLAGS.filter(([key]) => options[key] !== undefined).map(([, flag]) => flag);
    if (conflicting.length > 0) throw new UsageError(`--all selects every study and cannot go with ${conflicting.join(', ')}: give either --all or filters`);
    return { all: true };
  }
  const filters = filtersFrom(options);
  if (filterRequired && !hasAnyFilter(filters)) {
    throw new UsageError('give --all for every study, or --study-uid, or at least one filter (--name, --date, --modality, --description, ...)');
  }
  return { ...filters };
}

const METHODS = ['auto', 'move', 'relay'] as const;

/** Returns --method in lower case, or throws UsageError unless it is auto, move or relay. */
export function parseMethod(text: string): JobOptions['method'] {
  const method = text.toLowerCase();
  if (!(METHODS as readonly string[]).includes(method)) throw new UsageError(`--method "${text}" is invalid: use auto, move or relay`);
  return method as JobOptions['method'];
}

/**
 * Maximum of --concurrency. Each unit is one more association to each node and
 * one more study in flight, and nodes limit associations per calling AE title
 * (the loader's own SCP to 8 by default), so a larger value mostly gets
 * associations rejected.
 * NOTE: the value is a chosen bound, not measured against a particular node.
 */
export const MAX_CONCURRENCY = 32;

/** Returns the job options of a checked method, --concurrency and --retries. Throws UsageError on an invalid count. */
export function jobOptionsFrom(method: JobOptions['method'], options: Pick<JobCommandOptions, 'concurrency' | 'retries'>): JobOptions {
  return {
    method,
    concurrency: parseWholeNumber('--concurrency', options.concurrency, 1, MAX_CONCURRENCY),
    retries: parseWholeNumber('--retries', options.retries, 0),
  };
}

/** Returns the count given as `text`, or throws UsageError unless it is a whole number from `minimum` to `maximum`. */
export function parseWholeNumber(flag: string, text: string, minimum: number, maximum = Number.MAX_SAFE_INTEGER): number {
  const range = maximum === Number.MAX_SAFE_INTEGER ? `${minimum} or more` : `from ${minimum} to ${maximum}`;
  if (!/^\d+$/.test(text) || Number(text) < minimum || Number(text) > maximum) throw new UsageError(`${flag} "${text}" is invalid: give a whole number ${range}`);
  return Number(text);
}

/** Resolves 'local' to the archive and any other name to a registered node, with its password when it has a login. */
export async function resolveEndpoint(globals: GlobalOptions, name: string, archive: LocalArchive, aet: string | undefined): Promise<Endpoint> {
  if (name.toLowerCase() === LOCAL_ENDPOINT) return { kind: 'local', name: LOCAL_ENDPOINT, archive };
  try {
    const { node } = await resolveTarget(globals, name, { aet });
    return { kind: 'node', name: node.name, node };
  } catch (error) {
    const message = (error as Error).message;
    if (!/is not registered/.test(message)) throw error;
    // migrate and sync take no --host, --port or --aec, so the hint of the other commands is replaced.
    throw new UsageError(`${message.replace(/, or give --host.*$/, '')}; give a registered node name, or "${LOCAL_ENDPOINT}" for the local archive`);
  }
}

/**
 * Maps a study's state to the words the report shows. A dry run shows the
 * planned method in the words of the METHOD column and of the JSON `method`
 * field: move, relay, send or retrieve. The JSON `state` field keeps the
 * job store's value, for example `already-present`.
 */
function describeState(study: StudyReport, dryRun: boolean): string {
  if (dryRun && study.state === 'pending' && study.plannedMethod !== undefined) return `would ${study.plannedMethod}`;
  if (study.state === 'done') return study.processedThisRun ? 'migrated' : 'migrated earlier';
  // Spelled as in the summary line, "N already present".
  if (study.state === 'already-present') return 'already present';
  return study.state;
}

/**
 * Returns the line that explains a failed or pending study, or undefined for
 * other studies. A dry run's pending studies need none, because their STATE
 * column already shows what the run would do.
 */
export function describeUnfinishedStudy(study: StudyReport, dryRun: boolean): string | undefined {
  const lastError = study.lastError === undefined ? undefined : explainNetworkErrors(study.lastError);
  if (study.state === 'failed') return `failed: ${study.studyInstanceUid}: ${lastError ?? 'no reason recorded'}`;
  if (study.state !== 'pending' || (dryRun && study.plannedMethod !== undefined)) return undefined;
  return `pending: ${study.studyInstanceUid}: ${lastError ?? 'not attempted yet; run the same command again to continue'}`;
}

/**
 * Placeholder for a value the report lacks: the METHOD of a study that no
 * transfer was started for (already present, pending, or failed before it),
 * or a count that was never taken or that failed after a stopped transfer.
 */
const NO_VALUE = '-';

/**
 * Returns the line that says what the run compared on the destination. A
 * study of this run is complete when the destination lists each of its SOP
 * Instance UIDs. A study finished by an earlier run is only counted again.
 */
function describeVerification(report: MigrationReport): string {
  const contentNote = 'The content of instances was not compared, so an instance with the same SOP Instance UID and other content counts as present';
  if (report.dryRun) return `compared: the SOP Instance UIDs on both ends. ${contentNote}`;
  const finished = (study: StudyReport) => study.state === 'done' || study.state === 'already-present';
  const earlier = report.studies.some((study) => !study.processedThisRun && finished(study));
  const earlierText = earlier ? ', and for studies finished by an earlier run, that it has at least as many instances as the source' : '';
  return `verified: that the destination lists every SOP Instance UID of the source study${earlierText}. ${contentNote}`;
}

/** True when the study was counted on the destination: done or already present, or in a dry run counted on both ends. */
function isChecked(study: StudyReport, dryRun: boolean): boolean {
  if (dryRun) return study.state !== 'failed' && study.destinationCount !== undefined;
  return study.state === 'done' || study.state === 'already-present';
}

/** Returns the lines of the text report of a migration job, without the held-back list. */
export function formatMigrationReport(report: MigrationReport): string[] {
  const lines = [`${report.dryRun ? 'dry run of ' : ''}job ${report.jobId}: ${report.source} to ${report.destination}`];
  const rows = report.studies.map((study) => [
    study.studyInstanceUid,
    describeState(study, report.dryRun),
    study.method ?? NO_VALUE,
    study.sourceCount === undefined ? NO_VALUE : String(study.sourceCount),
    study.destinationCount === undefined ? NO_VALUE : String(study.destinationCount),
    String(study.attempts),
  ]);
  if (rows.length > 0) lines.push(formatTable(['STUDY INSTANCE UID', 'STATE', 'METHOD', 'SOURCE', 'DESTINATION', 'ATTEMPTS'], rows, 64));
  for (const study of report.studies) {
    const line = describeUnfinishedStudy(study, report.dryRun);
    if (line !== undefined) lines.push(`  ${line}`);
  }
  for (const note of report.notes) lines.push(`  note: ${explainNetworkErrors(note)}`);
  // A run in which every study failed or stayed pending verified nothing, so the line would claim a check that did not happen.
  if (report.studies.some((study) => isChecked(study, report.dryRun))) lines.push(describeVerification(report));
  const { migrated, alreadyPresent, failed, pending } = report.summary;
  const pendingText = pending > 0 ? `, ${pending} ${report.dryRun ? 'to transfer' : 'pending'}` : '';
  lines.push(`${report.outcome}: ${migrated} migrated, ${alreadyPresent} already present, ${failed} failed${pendingText}`);
  return lines;
}

function printReport(report: MigrationReport, anonymized: boolean): void {
  const lines = formatMigrationReport(report);
  const summary = lines.pop()!;
  for (const line of lines) process.stdout.write(`${line}\n`);
  if (report.secretSource !== undefined) process.stdout.write(`${describeSecretSource(report.secretSource)}\n`);
  if (!report.dryRun) printHeldBack(report, anonymized);
  process.stdout.write(`${summary}\n`);
}

export function registerMigrate(program: Command, globals: () => GlobalOptions): void {
  const command = program
    .command('migrate <source> <destination>')
    .description(
      "copy studies from one node to another as a resumable job; either end may be 'local' (the local archive). " +
        'Select the studies with --all or with filters. Running the same command again resumes the job and skips studies already done',
    )
    .option('--method <method>', 'auto: C-MOVE from source to destination, through the local archive when the source cannot; move: C-MOVE only; relay: always through the local archive', 'auto')
    .option('--concurrency <count>', `maximum associations open at once to each node, and studies in flight, 1 to ${MAX_CONCURRENCY}`, '2')
    .option('--retries <count>', 'retries of a study after a transient failure (A7xx status, transient rejection, timeout, refused or reset connection, instances missing after a successful transfer), with back-off doubling from 1 s', '3')
    .option('--job <name>', 'job name; default: derived from source, destination and selection, so the same command resumes the same job')
    .option('--dry-run', 'count the instances on both ends and show what would be transferred; nothing is sent or recorded')
    .option('--aet <title>', 'calling AE title (default: pacs.aeTitle from the settings)')
    .option('--json', 'print the report as JSON');
  addJobOneOffSecretOption(addAnonymizeOptions(addAllOption(addFilterOptions(command), 'on the source'))).action(async (sourceName: string, destinationName: string, options: JobCommandOptions) => {
    let anonymize = anonymizationFrom(options);
    if (anonymize && destinationName.toLowerCase() === LOCAL_ENDPOINT) throw new UsageError('--anonymize needs a node as destination: the local archive keeps the original instances');
    if (anonymize && options.method.toLowerCase() === 'move') throw new UsageError('--anonymize cannot go with --method move: anonymized copies are sent from the local archive; use auto or relay');
    const method = parseMethod(options.method);
    const jobOptions = jobOptionsFrom(method, options);
    if (sourceName.toLowerCase() === destinationName.toLowerCase()) throw new UsageError(`source and destination are both "${sourceName}": give two different ends`);
    const selection = selectionFrom(options, true);
    let jobId: string;
    try {
      jobId = options.job === undefined ? deriveJobId(sourceName, destinationName, selection, anonymize !== undefined) : validateJobName(options.job);
    } catch (error) {
      if (error instanceof JobStoreError) throw new UsageError(error.message);
      throw error;
    }

    const global = globals();
    // A read-only archive fails here, before any transfer, when the job stores into it.
    const archiveRoot = resolveArchiveRoot(global);
    const legacyCharacterSet = resolveLegacyCharacterSet(global);
    const archive =
      destinationName.toLowerCase() === LOCAL_ENDPOINT
        ? openWritableArchive(archiveRoot, { legacyCharacterSet })
        : LocalArchive.open(archiveRoot, { legacyCharacterSet });
    const store = JobStore.open(path.join(resolveConfigDir(global.configDir), JOB_DATABASE_FILE));
    const interrupt = abortOnInterrupt();
    const progressLine = new ProgressLine();
    try {
      const source = await resolveEndpoint(global, sourceName, archive, options.aet);
      const destination = await resolveEndpoint(global, destinationName, archive, options.aet);
      if (source.kind === 'local' && destination.kind === 'local') throw new UsageError('source and destination are both the local archive');
      const local: LocalIdentity = localIdentityFromSettings(openSettings(global), options.aet);
      if (anonymize) anonymize = await settleJobSecret(anonymize, options.oneOffSecret === true, store, jobId, global.configDir);

      let report: MigrationReport;
      try {
        report = await runMigration({
          jobId,
          source,
          destination,
          selection,
          options: jobOptions,
          local,
          archive,
          store,
          dryRun: options.dryRun,
          anonymize,
          signal: interrupt.signal,
          onProgress: (event) => progressLine.update(`${event.finished} of ${event.total} studies; ${event.detail}`),
          onNotice: (message) => {
            progressLine.done();
            process.stderr.write(`loader: ${explainNetworkErrors(message)}\n`);
          },
        });
      } catch (error) {
        if (error instanceof JobStoreError) throw new UsageError(error.message);
        throw error;
      }
      progressLine.done();
      if (options.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      else printReport(report, anonymize !== undefined);
      process.exitCode = exitCodeForOutcome(report.outcome);
    } finally {
      progressLine.done();
      interrupt.dispose();
      store.close();
      archive.close();
    }
  });
}
