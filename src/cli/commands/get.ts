/**
 * `loader get`: retrieves studies from a node into the local archive, by
 * C-GET first (or --method move), falling back to the other service when the
 * node rejects the first. Studies come from --study-uid or from the filters.
 */
import type { Command } from 'commander';

import { describeNode, findStudies, retrieveStudies } from '../../services/query-retrieve';
import type { RetrieveMethod, RetrieveReport, StudyMatch } from '../../services/query-retrieve';
import { exitCodeForOutcome, openWritableArchive, resolveArchiveRoot, resolveLegacyCharacterSet, UsageError } from '../context';
import type { GlobalOptions } from '../context';
import { ProgressLine } from '../terminal';
import { abortOnInterrupt, addNodeOptions, resolveTarget } from './echo';
import type { NodeOptions } from './echo';
import { addFilterOptions, filtersFrom, hasAnyFilter } from './find';
import type { FilterOptions } from './find';
import { explainNetworkErrors, printInstanceProblems } from '../instance-problems';
import { formatRetrievedStudies, identifyRetrievedStudies } from '../transferred-studies';
import type { RetrievedStudy } from '../transferred-studies';

interface RetrieveCommandOptions extends NodeOptions, FilterOptions {
  method: string;
  fallback: boolean;
}

function printReport(report: RetrieveReport, studies: readonly RetrievedStudy[]): void {
  const notStarted = report.studies.filter((study) => study.notStarted);
  for (const study of report.studies) {
    if (study.notStarted) continue;
    const method = study.method === 'get' ? 'C-GET' : 'C-MOVE';
    const expected = study.expectedFrom ? ` of ${study.total}` : '';
    const foundElsewhere = study.missedDelivery ? `, ${study.missedDelivery.foundInArchive} found in the archive` : '';
    process.stdout.write(`${study.studyInstanceUid}: ${study.outcome}, ${study.completed}${expected} instances by ${method} (${study.stored} new, ${study.duplicates} already archived${foundElsewhere})\n`);
    for (const note of study.notes) process.stdout.write(`  note: ${explainNetworkErrors(note)}\n`);
    for (const warning of study.warnings) process.stdout.write(`  warning: ${explainNetworkErrors(warning.reason)}\n`);
    printInstanceProblems('failed', study.failures, (line) => process.stdout.write(line));
  }
  // One line for all of them, because a cancel early in a long retrieve would otherwise print a block per study.
  if (notStarted.length > 0) process.stdout.write(`not started: ${notStarted.length} of ${report.studies.length} studies, because the retrieve was cancelled\n`);
  // Studies not started are left out for the same reason; --json lists them.
  const started = studies.filter((study) => !study.notStarted);
  if (started.length > 0) process.stdout.write(`\n${formatRetrievedStudies(started)}\n`);
}

async function runRetrieve(globals: GlobalOptions, name: string | undefined, options: RetrieveCommandOptions, defaultMethod: RetrieveMethod): Promise<void> {
  const method = (options.method ?? defaultMethod).toLowerCase();
  if (method !== 'get' && method !== 'move') throw new UsageError(`--method "${options.method}" is invalid: use get or move`);
  const { node, local } = await resolveTarget(globals, name, options);
  const filters = filtersFrom(options);
  if (!hasAnyFilter(filters)) throw new UsageError('give --study-uid or at least one filter (--name, --date, --modality, ...)');

  const interrupt = abortOnInterrupt();
  const progress = new ProgressLine();
  const archive = openWritableArchive(resolveArchiveRoot(globals), { legacyCharacterSet: resolveLegacyCharacterSet(globals) });
  try {
    let studyUids = filters.studyInstanceUids ?? [];
    // The C-FIND matches by Study Instance UID, for the patient of a study of which nothing arrives.
    const matches = new Map<string, StudyMatch>();
    const onlyUids = Object.entries(filters).every(([key, value]) => key === 'studyInstanceUids' || value === undefined);
    if (!onlyUids) {
      studyUids = [];
      for await (const match of findStudies(node, local, filters, { signal: interrupt.signal, onNotice: (notice) => process.stderr.write(`loader: ${explainNetworkErrors(notice.message)}\n`) })) {
        studyUids.push(match.studyInstanceUid);
        matches.set(match.studyInstanceUid, match);
        progress.update(`found ${studyUids.length} studies`);
      }
      progress.done();
      if (studyUids.length === 0) {
        // Filters that match nothing leave nothing to do, so the exit code is 0.
        const message = `no studies on ${describeNode(node)} match the filters`;
        if (options.json) process.stdout.write(JSON.stringify({ studies: [], notes: [message], outcome: 'success' } satisfies RetrieveReport, null, 2) + '\n');
        else process.stderr.write(`loader: ${message}\n`);
        return;
      }
    }
    const received = new Map<string, number>();
    const report = await retrieveStudies(node, local, archive, studyUids, {
      method,
      fallback: options.fallback,
      signal: interrupt.signal,
      onNotice: (message) => {
        progress.done();
        process.stderr.write(`loader: ${explainNetworkErrors(message)}\n`);
      },
      onProgress: (event) => {
        received.set(event.studyInstanceUid, event.received);
        const total = [...received.values()].reduce((sum, count) => sum + count, 0);
        progress.update(`received ${total} instances; study ${received.size} of ${studyUids.length}: ${event.received}${event.expected !== undefined ? ` of ${event.expected}` : ''}`);
      },
    });
    progress.done();
    const studies = identifyRetrievedStudies(archive, report, matches);
    if (options.json) process.stdout.write(JSON.stringify({ ...report, studies }, null, 2) + '\n');
    else printReport(report, studies);
    if (interrupt.signal.aborted) {
      const arrived = report.studies.reduce((sum, study) => sum + study.completed, 0);
      process.stderr.write(`loader: retrieve cancelled by the user after ${arrived} instances arrived; run the same command again for the rest: the instances already stored are kept\n`);
    }
    process.exitCode = exitCodeForOutcome(report.outcome);
  } finally {
    progress.done();
    interrupt.dispose();
    archive.close();
  }
}

/** Registers `get` or `move`; they differ only in the service tried first. */
export function registerRetrieveCommand(program: Command, globals: () => GlobalOptions, commandName: 'get' | 'move'): void {
  const service = commandName === 'get' ? 'C-GET' : 'C-MOVE';
  const command = program
    .command(`${commandName} [node]`)
    .description(`retrieve studies from a node into the local archive by ${service}, falling back to the other service when the node rejects it`)
    .option('--method <method>', 'service to try first: get or move', commandName)
    .option('--no-fallback', 'do not try the other service when the first is rejected');
  addNodeOptions(addFilterOptions(command)).action((name: string | undefined, options: RetrieveCommandOptions) => runRetrieve(globals(), name, options, commandName));
}

export function registerGet(program: Command, globals: () => GlobalOptions): void {
  registerRetrieveCommand(program, globals, 'get');
}
