/**
 * Builds the series list of the viewer: from the local archive's index for a
 * study, or from the headers of files given on the command line.
 */
import path from 'node:path';

import type { LegacyCharacterSet } from '../../dicom/charset';
import { LocalArchive } from '../../services/archive';
import type { StoredInstance } from '../../services/archive';
import { createLogger } from '../../services/logger';
import { checkStoredFile } from '../../services/transfers/stored-file-check';
import type { HeaderSummary } from '../../services/viewer/header-summary';
import type { StackInstance } from './slice-stack';

export interface ViewerSeries {
  /** Series Instance UID, or "file:PATH" for a file whose header could not be read. */
  key: string;
  number?: string;
  modality?: string;
  description?: string;
  /** Instances in display order: by Instance Number, then by path. */
  instances: StackInstance[];
  /** Why the file of a "file:" series could not be read; the viewer shows it in place of the image. */
  error?: string;
}

/** The study is not in the archive index. */
export class StudyNotFoundError extends Error {
  override name = 'StudyNotFoundError';
}

/** Returns a Series Number as a number for sorting; missing or non-numeric numbers sort last. */
function seriesOrder(series: ViewerSeries): number {
  const value = series.number === undefined || series.number === '' ? NaN : Number(series.number);
  return Number.isFinite(value) ? value : Number.MAX_VALUE;
}

/** Orders series by Series Number, then by key. */
function compareSeries(a: ViewerSeries, b: ViewerSeries): number {
  return seriesOrder(a) - seriesOrder(b) || a.key.localeCompare(b.key);
}

const log = createLogger('loader.viewer.ui');

/** Files checked against their index rows at once when a study opens. */
const FILE_CHECK_CONCURRENCY = 8;

/**
 * Reads the series of a study from the archive index, each with its instance
 * paths in the index's order (Instance Number, then SOP Instance UID). Frame
 * counts are not in the index, so every instance starts with 1 frame.
 *
 * Each file is checked against its index row first, as before a send: a file
 * indexed in place may have been overwritten with another instance, possibly
 * of another patient, which must not be shown under this study. Such a file,
 * and a missing or unreadable one, becomes a series of its own that carries
 * the error and what to do.
 *
 * Throws StudyNotFoundError when the archive has no instance of the study.
 */
export async function seriesFromArchive(archiveRoot: string, studyInstanceUid: string, legacyCharacterSet: LegacyCharacterSet): Promise<ViewerSeries[]> {
  // The character set matters when the open indexes stores that a stopped process left in .incoming.
  const archive = LocalArchive.open(archiveRoot, { legacyCharacterSet });
  const listed: { record: Record<string, string>; instances: StoredInstance[] }[] = [];
  try {
    const keys = ['SeriesInstanceUID', 'SeriesNumber', 'Modality', 'SeriesDescription'].map((keyword) => ({ keyword, value: '' }));
    const records = [...archive.query('SERIES', [{ keyword: 'StudyInstanceUID', value: studyInstanceUid }, ...keys], { model: 'STUDY' })];
    for (const record of records) {
      const instances = archive.listInstances({ studyInstanceUid, seriesInstanceUid: record.SeriesInstanceUID });
      if (instances.length > 0) listed.push({ record, instances });
    }
  } finally {
    archive.close();
  }
  if (listed.length === 0) {
    throw new StudyNotFoundError(`study ${studyInstanceUid} is not in the archive at ${archiveRoot}; list its studies with "loader studies"`);
  }

  const problems = await findChangedFiles(listed.flatMap((entry) => entry.instances));
  const series: ViewerSeries[] = [];
  for (const { record, instances } of listed) {
    const intact = instances.filter((instance) => !problems.has(instance.path));
    if (intact.length === 0) continue;
    series.push({
      key: record.SeriesInstanceUID,
      number: record.SeriesNumber || undefined,
      modality: record.Modality || undefined,
      description: record.SeriesDescription || undefined,
      instances: intact.map((instance) => ({ path: instance.path, frames: 1 })),
    });
  }
  const unreadable = [...problems].map(([file, error]) => ({ key: `file:${file}`, description: path.basename(file), instances: [{ path: file, frames: 1 }], error }));
  return [...series.sort(compareSeries), ...unreadable];
}

/** Returns the message of each instance whose file is missing, unreadable or no longer the indexed instance, by path. */
async function findChangedFiles(instances: StoredInstance[]): Promise<Map<string, string>> {
  const problems = new Map<string, string>();
  let next = 0;
  const worker = async () => {
    while (next < instances.length) {
      const instance = instances[next++];
      try {
        await checkStoredFile(instance);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        problems.set(instance.path, message);
        log.warn('Stored file does not match its index row; shown as an error, not as an image', { sopInstanceUid: instance.sopInstanceUid, error: message });
      }
    }
  };
  await Promise.all(Array.from({ length: FILE_CHECK_CONCURRENCY }, worker));
  return problems;
}

/**
 * Groups files into series by the Series Instance UID of their headers and
 * orders each series by Instance Number, then by path. A file whose header
 * cannot be read becomes a series of its own that carries the error.
 */
export async function seriesFromFiles(files: readonly string[], readHeader: (file: string) => Promise<HeaderSummary>): Promise<ViewerSeries[]> {
  const absolute = files.map((file) => path.resolve(file));
  const headers = await Promise.all(
    absolute.map((file) =>
      readHeader(file).then(
        (header) => ({ file, header }),
        (error: unknown) => ({ file, error: error instanceof Error ? error.message : String(error) }),
      ),
    ),
  );

  const bySeries = new Map<string, { series: ViewerSeries; numbers: Map<string, number> }>();
  const unreadable: ViewerSeries[] = [];
  for (const entry of headers) {
    if (!('header' in entry)) {
      unreadable.push({ key: `file:${entry.file}`, description: path.basename(entry.file), instances: [{ path: entry.file, frames: 1 }], error: entry.error });
      continue;
    }
    const { header, file } = entry;
    // Files without a Series Instance UID are grouped by their folder, the closest thing to a series they have.
    const key = header.series.instanceUid ?? `folder:${path.dirname(file)}`;
    let group = bySeries.get(key);
    if (!group) {
      group = {
        series: { key, number: header.series.number, modality: header.series.modality, description: header.series.description, instances: [] },
        numbers: new Map(),
      };
      bySeries.set(key, group);
    }
    group.series.instances.push({ path: file, frames: header.instance.numberOfFrames });
    group.numbers.set(file, Number(header.instance.number ?? NaN));
  }

  const series = [...bySeries.values()].map(({ series: entry, numbers }) => {
    const order = (file: string) => {
      const value = numbers.get(file)!;
      return Number.isFinite(value) ? value : Number.MAX_VALUE;
    };
    entry.instances.sort((a, b) => order(a.path) - order(b.path) || a.path.localeCompare(b.path));
    return entry;
  });
  return [...series.sort(compareSeries), ...unreadable];
}
