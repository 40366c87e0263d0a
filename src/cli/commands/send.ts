/**
 * `loader send`: C-STORE of archived studies to a node. Stored bytes go
 * verbatim when the node accepts the stored transfer syntax; uncompressed data
 * is converted otherwise, and compressed instances the node cannot take are
 * reported as failed. With --anonymize, anonymized copies written to a
 * temporary folder are sent in place of the stored files.
 */
import type { Command } from 'commander';

import type { StoredInstance } from '../../services/archive';
import { searchArchiveStudies } from '../../services/migration';
import type { RemoteNode } from '../../services/query-retrieve';
import { AnonymizingTransform, emptyReport, outcomeOf, sendInstances } from '../../services/transfers';
import type { InstanceProblem, TransferOutcome, TransferReport, TransformResult } from '../../services/transfers';
import { exitCodeForOutcome, openExistingArchive, resolveArchiveRoot, resolveLegacyCharacterSet, UsageError } from '../context';
import type { GlobalOptions } from '../context';
import { printInstanceProblems } from '../instance-problems';
import { formatSentStudies, summarizeSentStudies } from '../transferred-studies';
import type { SentStudy } from '../transferred-studies';
import { ProgressLine } from '../terminal';
import { abortOnInterrupt, addNodeOptions, resolveTarget } from './echo';
import type { NodeOptions } from './echo';
import { addFilterOptions, filtersFrom, hasAnyFilter } from './find';
import type { FilterOptions } from './find';
import { resolveAnonymizationSecret } from './anonymize';
import type { AnonymizationSecretSource } from './anonymize';
import { addAnonymizeOptions, anonymizationFrom } from './migrate';
import { searchOrExplain } from './studies';
import type { AnonymizeFlags } from './migrate';

interface SendOptions extends NodeOptions, FilterOptions, AnonymizeFlags {
  allMatching?: boolean;
  oneOffSecret?: boolean;
}

/** Anonymized copies of archived instances, the instances held back and those the anonymizer failed on. */
interface AnonymizedBatch {
  copies: StoredInstance[];
  heldBack: InstanceProblem[];
  failures: InstanceProblem[];
  results: TransformResult[];
}

/** Anonymizes each instance into the transform's temporary folder; a failing instance never stops the others. */
async function anonymizeAll(transform: AnonymizingTransform, instances: StoredInstance[], onProgress: (done: number) => void): Promise<AnonymizedBatch> {
  const batch: AnonymizedBatch = { copies: [], heldBack: [], failures: [], results: [] };
  for (const [index, instance] of instances.entries()) {
    try {
      const result = await transform.transform(instance);
      batch.results.push(result);
      if (result.status === 'held') batch.heldBack.push({ sopInstanceUid: instance.sopInstanceUid, reason: result.reason });
      else batch.copies.push(result.instance);
    } catch (error) {
      batch.failures.push({ sopInstanceUid: instance.sopInstanceUid, reason: `anonymizing ${instance.path} failed: ${(error as Error).message}` });
    }
    onProgress(index + 1);
  }
  return batch;
}

/**
 * An anonymized study as the destination stores it, for the technician to
 * tell the recipient what to look for. The original Patient's Name goes to
 * stdout only, never to a log.
 */
interface AnonymizedStudy {
  /** Study Instance UID on the destination. */
  studyInstanceUid: string;
  patientName: string;
  patientId: string;
  originalStudyInstanceUid: string;
  originalPatientName: string;
  /** Anonymized instances of the study that reached the destination. */
  sent: number;
}

/** Groups the anonymized copies by destination study and counts those that were sent without failure. */
function summarizeAnonymizedStudies(results: TransformResult[], failures: InstanceProblem[]): AnonymizedStudy[] {
  const failed = new Set(failures.map((failure) => failure.sopInstanceUid));
  const studies = new Map<string, AnonymizedStudy>();
  for (const result of results) {
    if (result.status !== 'transformed') continue;
    let study = studies.get(result.studyInstanceUid);
    if (!study) {
      study = {
        studyInstanceUid: result.studyInstanceUid,
        patientName: result.pseudonym.patientName,
        patientId: result.pseudonym.patientId,
        originalStudyInstanceUid: result.originalStudyInstanceUid,
        originalPatientName: result.originalPatientName,
        sent: 0,
      };
      studies.set(result.studyInstanceUid, study);
    }
    if (!failed.has(result.sopInstanceUid)) study.sent++;
  }
  return [...studies.values()];
}

/**
 * The report of `loader send`: the transfer report with the instances the
 * anonymizer held back and the outcome. `total` counts the held-back
 * instances, and `completed` does not. An anonymizing send adds the secret's
 * source and the studies as the destination stores them.
 */
interface SendReport extends TransferReport {
  heldBack: InstanceProblem[];
  outcome: TransferOutcome;
  secret?: AnonymizationSecretSource;
  studies?: AnonymizedStudy[];
  /** A send without --anonymize: each archived study sent, with its patient, as the archive index has it. */
  archivedStudies?: SentStudy[];
}

function printSendReport(node: RemoteNode, report: SendReport, json: boolean | undefined): void {
  if (json) {
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    return;
  }
  process.stdout.write(`${report.outcome}: ${report.completed} of ${report.total} instances sent to ${node.aeTitle} at ${node.host}:${node.port}\n`);
  if (report.heldBack.length > 0) {
    // The anonymizer holds an instance back only for possible burned-in text or an encapsulated document (src/dicom/anonymizer/hold-back.ts).
    process.stdout.write(
      `held back: ${report.heldBack.length} of ${report.total} instances were not sent because they may show burned-in text or contain an encapsulated document, ` +
        `so the studies are incomplete on ${node.aeTitle} on purpose (use --allow-burned-in to send them)\n`,
    );
  }
  for (const study of report.studies ?? []) {
    const original = study.originalPatientName === '' ? 'patient without a name' : study.originalPatientName;
    process.stdout.write(
      `study ${study.originalStudyInstanceUid} of ${original} sent as Patient's Name ${study.patientName}, Patient ID ${study.patientId}, ` +
        `Study Instance UID ${study.studyInstanceUid} (${study.sent} ${study.sent === 1 ? 'instance' : 'instances'})\n`,
    );
  }
  for (const note of report.notes) process.stdout.write(`  note: ${note}\n`);
  const write = (line: string) => process.stdout.write(line);
  printInstanceProblems('held back', report.heldBack, write);
  printInstanceProblems('warning', report.warnings, write);
  printInstanceProblems('failed', report.failures, write);
  if (report.archivedStudies?.length) write(`\n${formatSentStudies(report.archivedStudies)}\n`);
}

export function registerSend(program: Command, globals: () => GlobalOptions): void {
  const command = program
    .command('send [node]')
    .description('send archived studies to a node with C-STORE: --study-uid UID..., or --all-matching with filters')
    .option('--all-matching', 'send every archived study that matches the filters')
    .option(
      '--one-off-secret',
      'with --anonymize: use a random secret for this send only, so its copies cannot be linked to other sends and a study sent again arrives as another patient and study; ' +
        'default: the installation secret, which gives a patient the same pseudonym and UIDs in every send',
    );
  addAnonymizeOptions(addNodeOptions(addFilterOptions(command, 'archive'))).action(async (name: string | undefined, options: SendOptions) => {
    const anonymize = anonymizationFrom(options);
    if (options.oneOffSecret && !anonymize) throw new UsageError('--one-off-secret needs --anonymize');
    const { node, local } = await resolveTarget(globals(), name, options);
    const filters = filtersFrom(options);
    // Usage errors come before the archive check, so that they name the option.
    if (options.allMatching && !hasAnyFilter(filters)) {
      throw new UsageError('--all-matching needs at least one filter; to send every archived study, also those without Study Date, use "loader migrate local NODE --all"');
    }
    if (!options.allMatching && !filters.studyInstanceUids?.length) throw new UsageError('give --study-uid UID... or --all-matching with filters');
    const secret = anonymize ? await resolveAnonymizationSecret(options, globals().configDir) : undefined;
    const archive = openExistingArchive(resolveArchiveRoot(globals()), resolveLegacyCharacterSet(globals()));
    const interrupt = abortOnInterrupt();
    const progress = new ProgressLine();
    const transform = anonymize && secret ? new AnonymizingTransform({ ...anonymize.options, jobSecret: secret.secret }) : undefined;
    let batch: AnonymizedBatch | undefined;
    try {
      let studyUids: string[];
      if (options.allMatching) {
        // The same search as `loader migrate local`: every filter, the --date presets and --accession included.
        studyUids = searchOrExplain(() => searchArchiveStudies(archive, filters)).map((study) => study.studyInstanceUid);
      } else {
        studyUids = filters.studyInstanceUids ?? [];
      }
      const perStudy = studyUids.map((studyInstanceUid) => ({ studyInstanceUid, instances: archive.listInstances({ studyInstanceUid }) }));
      const instances: StoredInstance[] = perStudy.flatMap((study) => study.instances);
      const missing = perStudy.filter((study) => study.instances.length === 0).map((study) => study.studyInstanceUid);
      for (const uid of missing) process.stderr.write(`loader: study ${uid} is not in the archive\n`);
      if (instances.length === 0) {
        // Filters that match nothing leave nothing to do; UIDs the user named that the archive lacks are a failure.
        const report = emptyReport(0);
        report.notes.push(options.allMatching ? 'no archived studies match the filters' : `nothing to send: none of the ${studyUids.length} requested studies is in the archive`);
        const outcome = options.allMatching ? 'success' : 'failure';
        printSendReport(node, { ...report, heldBack: [], outcome }, options.json);
        process.exitCode = exitCodeForOutcome(outcome);
        return;
      }

      let toSend = instances;
      if (transform) {
        batch = await anonymizeAll(transform, instances, (done) => progress.update(`anonymized ${done} of ${instances.length} instances`));
        toSend = batch.copies;
      }
      // The SOP Instance UIDs that the node stored, because the report of a cancelled send does not list the instances it did not try.
      const sent = new Set<string>();
      let completed = 0;
      const report = await sendInstances(node, local, toSend, {
        signal: interrupt.signal,
        onProgress: (event) => {
          if (event.completed > completed) sent.add(event.sopInstanceUid);
          completed = event.completed;
          progress.update(`sent ${event.done} of ${event.total} instances to ${node.aeTitle}`);
        },
      });
      progress.done();
      const heldBack = batch?.heldBack ?? [];
      if (batch) {
        // Failed anonymizations count as failed sends. Held-back instances count in the total but are not failures,
        // so a send that held back some of them is partial (exit code 3) and one that held back all is a failure (1), as in `loader anonymize`.
        report.total += batch.failures.length + heldBack.length;
        report.failures.push(...batch.failures);
        if (secret?.source === 'one-off') report.notes.push('anonymized with a one-off random secret: another send gives the same patients and studies other pseudonyms and UIDs');
      }
      for (const uid of missing) report.notes.push(`study ${uid} is not in the archive`);
      const outcome = missing.length > 0 && outcomeOf(report) === 'success' ? 'partial' : outcomeOf(report);
      const anonymized = batch && secret ? { secret: secret.source, studies: summarizeAnonymizedStudies(batch.results, report.failures) } : {};
      // An anonymizing send reports its studies as the destination stores them (the `studies` above) instead.
      const archived = batch ? {} : { archivedStudies: summarizeSentStudies(archive, perStudy, sent, report.failures) };
      printSendReport(node, { ...report, heldBack, outcome, ...anonymized, ...archived }, options.json);
      process.exitCode = exitCodeForOutcome(outcome);
    } finally {
      progress.done();
      interrupt.dispose();
      for (const result of batch?.results ?? []) transform?.discard(result);
      transform?.close();
      archive.close();
    }
  });
}
