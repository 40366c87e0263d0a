/**
 * `loader send`: C-STORE of archived studies to a node. Stored bytes go
 * verbatim when the node accepts the stored transfer syntax; uncompressed data
 * is converted otherwise, and compressed instances the node cannot take are
 * reported as failed.
 */
import type { Command } from 'commander';

import { LocalArchive } from '../../services/archive';
import type { StoredInstance } from '../../services/archive';
import { outcomeOf, sendInstances } from '../../services/transfers';
import { resolveArchiveRoot, UsageError } from '../context';
import type { GlobalOptions } from '../context';
import { ProgressLine } from '../terminal';
import { abortOnInterrupt, addNodeOptions, resolveTarget } from './echo';
import type { NodeOptions } from './echo';
import { addFilterOptions, filtersFrom, hasAnyFilter } from './find';
import type { FilterOptions } from './find';
import { exitCodeOf } from './get';

interface SendOptions extends NodeOptions, FilterOptions {
  allMatching?: boolean;
}

export function registerSend(program: Command, globals: () => GlobalOptions): void {
  const command = program
    .command('send [node]')
    .description('send archived studies to a node with C-STORE: --study-uid UID..., or --all-matching with filters')
    .option('--all-matching', 'send every archived study that matches the filters');
  addNodeOptions(addFilterOptions(command)).action(async (name: string | undefined, options: SendOptions) => {
    const { node, local } = await resolveTarget(globals(), name, options);
    const filters = filtersFrom(options);
    const archive = LocalArchive.open(resolveArchiveRoot(globals()));
    const interrupt = abortOnInterrupt();
    const progress = new ProgressLine();
    try {
      let studyUids: string[];
      if (options.allMatching) {
        if (!hasAnyFilter(filters)) throw new UsageError('--all-matching needs at least one filter; to send the whole archive use --date 19000101-');
        const studies = archive.searchStudies({ name: filters.patientName, patientId: filters.patientId, date: filters.date, modalities: filters.modalities, description: filters.studyDescription });
        studyUids = studies.map((study) => study.studyInstanceUid).filter((uid) => !filters.studyInstanceUids || filters.studyInstanceUids.includes(uid));
      } else {
        if (!filters.studyInstanceUids?.length) throw new UsageError('give --study-uid UID... or --all-matching with filters');
        studyUids = filters.studyInstanceUids;
      }
      const instances: StoredInstance[] = studyUids.flatMap((studyInstanceUid) => archive.listInstances({ studyInstanceUid }));
      const missing = studyUids.filter((uid) => archive.listInstances({ studyInstanceUid: uid }).length === 0);
      for (const uid of missing) process.stderr.write(`loader: study ${uid} is not in the archive\n`);
      if (instances.length === 0) throw new Error('nothing to send: no archived instances match');

      const report = await sendInstances(node, local, instances, {
        signal: interrupt.signal,
        onProgress: (event) => progress.update(`sent ${event.done} of ${event.total} instances to ${node.aeTitle}`),
      });
      progress.done();
      if (missing.length > 0) report.notes.push(`${missing.length} requested studies are not in the archive`);
      const outcome = missing.length > 0 && outcomeOf(report) === 'success' ? 'partial' : outcomeOf(report);
      if (options.json) {
        process.stdout.write(JSON.stringify({ ...report, outcome }, null, 2) + '\n');
      } else {
        process.stdout.write(`${outcome}: ${report.completed} of ${report.total} instances sent to ${node.aeTitle} at ${node.host}:${node.port}\n`);
        for (const note of report.notes) process.stdout.write(`  note: ${note}\n`);
        for (const warning of report.warnings) process.stdout.write(`  warning: ${warning.sopInstanceUid}: ${warning.reason}\n`);
        for (const failure of report.failures) process.stdout.write(`  failed: ${failure.sopInstanceUid}: ${failure.reason}\n`);
      }
      process.exitCode = exitCodeOf(outcome);
    } finally {
      progress.done();
      interrupt.dispose();
      archive.close();
    }
  });
}
