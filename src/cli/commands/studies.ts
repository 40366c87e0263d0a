/**
 * `loader studies`: searches the archive index for studies.
 */
import type { Command } from 'commander';

import { LocalArchive } from '../../services/archive';
import { resolveArchiveRoot, UsageError } from '../context';
import type { GlobalOptions } from '../context';
import { formatTable } from '../terminal';

interface StudiesOptions {
  name?: string;
  patientId?: string;
  date?: string;
  modality?: string[];
  description?: string;
  json?: boolean;
}

const DATE_FILTER = /^(\d{8})?(-(\d{8})?)?$/;

export function registerStudies(program: Command, globals: () => GlobalOptions): void {
  program
    .command('studies')
    .description('search studies in the archive')
    .option('--name <text>', 'patient name, any part, case-insensitive; * and ? are wildcards')
    .option('--patient-id <id>', 'patient ID; * and ? are wildcards')
    .option('--date <date>', 'study date YYYYMMDD or range YYYYMMDD-YYYYMMDD (either end may be open)')
    .option('--modality <codes...>', 'one or more modalities, e.g. CT MR')
    .option('--description <text>', 'study description, any part, case-insensitive')
    .option('--json', 'print JSON')
    .action((options: StudiesOptions) => {
      if (options.date !== undefined && (options.date === '' || !DATE_FILTER.test(options.date))) {
        throw new UsageError(`--date "${options.date}" is invalid: use YYYYMMDD, YYYYMMDD-YYYYMMDD, YYYYMMDD- or -YYYYMMDD`);
      }
      const archive = LocalArchive.open(resolveArchiveRoot(globals()));
      try {
        const studies = archive.searchStudies({
          name: options.name,
          patientId: options.patientId,
          date: options.date,
          modalities: options.modality?.flatMap((value) => value.split(/[,\\]/)).filter(Boolean),
          description: options.description,
        });
        if (options.json) {
          process.stdout.write(JSON.stringify(studies, null, 2) + '\n');
          return;
        }
        const rows = studies.map((study) => [
          study.patientName ?? '',
          study.patientId ?? '',
          study.patientBirthDate ?? '',
          (study.modalitiesInStudy ?? []).join('\\'),
          study.studyDate ?? '',
          study.studyDescription ?? '',
          String(study.numberOfInstances ?? ''),
        ]);
        process.stdout.write(
          formatTable(['PATIENT NAME', 'PATIENT ID', 'BIRTH DATE', 'MODALITY', 'STUDY DATE', 'DESCRIPTION', 'INSTANCES'], rows) +
            `\n${studies.length} studies\n`,
        );
      } finally {
        archive.close();
      }
    });
}
