/**
 * Comparison of two endpoints over one selection, counts first. Studies are
 * matched by Study Instance UID with their instance counts. Series are listed
 * only for studies on both ends whose counts differ or are not reported, and
 * SOP Instance UIDs only for series on both ends whose counts differ.
 *
 * NOTE: equal counts are taken as equal content, so two studies with the same
 * number of different instances are reported in sync.
 */
import { patientIdsDiffer } from '../migration';
import type { Endpoint, JobSelection } from '../migration';
import { shortInstanceListError } from '../query-retrieve';
import type { LocalIdentity, QueryNotice } from '../query-retrieve';
import { EndpointInventory } from './inventory';
import type { SeriesOnEndpoint, StudyOnEndpoint } from './inventory';

export interface SeriesDifference {
  seriesInstanceUid: string;
  /** Instances of the series on A; 0 when A lacks the series. */
  countA: number;
  countB: number;
  /** Instances on B that A lacks. */
  missingOnA: number;
  /** Instances on A that B lacks. */
  missingOnB: number;
}

/** A study on both ends, with the same Patient ID, where either end lacks instances the other has. */
export interface StudyMismatch {
  studyInstanceUid: string;
  patientId: string;
  patientName: string;
  countA: number;
  countB: number;
  missingOnA: number;
  missingOnB: number;
  /** The series that differ; series equal on both ends are left out. */
  series: SeriesDifference[];
}

/** A Study Instance UID that A and B store under different Patient IDs; sync never transfers it. */
export interface PatientConflict {
  studyInstanceUid: string;
  patientIdA: string;
  patientIdB: string;
  patientNameA: string;
  patientNameB: string;
  countA?: number;
  countB?: number;
}

export interface SyncComparison {
  /** Endpoint names as given: a registered node name or 'local'. */
  a: string;
  b: string;
  studiesOnA: number;
  studiesOnB: number;
  /** Studies on both ends with the same instances, judged by counts where they are equal. */
  inSync: number;
  /** Studies only on B. */
  missingOnA: StudyOnEndpoint[];
  /** Studies only on A. */
  missingOnB: StudyOnEndpoint[];
  mismatched: StudyMismatch[];
  conflicts: PatientConflict[];
}

export interface CompareOptions {
  signal?: AbortSignal;
  onNotice?: (notice: QueryNotice) => void;
  /** Description of the current step, e.g. "series of study 1.2.3". */
  onProgress?: (detail: string) => void;
}

function sameCount(a: number | undefined, b: number | undefined): boolean {
  return a !== undefined && b !== undefined && a === b;
}

/** Returns the instance count of a series, listing its instances when the endpoint does not report the count. */
async function countSeries(inventory: EndpointInventory, studyInstanceUid: string, series: SeriesOnEndpoint): Promise<number> {
  if (series.instances !== undefined) return series.instances;
  return new Set(await inventory.listInstances(studyInstanceUid, series.seriesInstanceUid)).size;
}

/**
 * Throws FindIncompleteError when a node listed fewer SOP Instance UIDs of a series than it
 * reported as Number of Series Related Instances (0020,1209), because comparing such a list
 * would take the instances it left out for instances the node lacks.
 */
function requireCompleteList(inventory: EndpointInventory, series: SeriesOnEndpoint, listed: number): void {
  const endpoint = inventory.endpoint;
  if (endpoint.kind !== 'node' || series.instances === undefined || listed >= series.instances) return;
  throw shortInstanceListError(endpoint.node, series.seriesInstanceUid, listed, series.instances);
}

/** Compares one series present on both ends: counts first, then SOP Instance UIDs when they differ. */
async function compareSeries(a: EndpointInventory, b: EndpointInventory, studyInstanceUid: string, onA: SeriesOnEndpoint, onB: SeriesOnEndpoint): Promise<SeriesDifference> {
  const seriesInstanceUid = onA.seriesInstanceUid;
  if (sameCount(onA.instances, onB.instances)) {
    return { seriesInstanceUid, countA: onA.instances!, countB: onB.instances!, missingOnA: 0, missingOnB: 0 };
  }
  const uidsA = new Set(await a.listInstances(studyInstanceUid, seriesInstanceUid));
  const uidsB = new Set(await b.listInstances(studyInstanceUid, seriesInstanceUid));
  requireCompleteList(a, onA, uidsA.size);
  requireCompleteList(b, onB, uidsB.size);
  return {
    seriesInstanceUid,
    countA: uidsA.size,
    countB: uidsB.size,
    missingOnA: [...uidsB].filter((uid) => !uidsA.has(uid)).length,
    missingOnB: [...uidsA].filter((uid) => !uidsB.has(uid)).length,
  };
}

/** Compares the series of a study present on both ends; returns the series that differ and the study's counts. */
async function compareStudy(a: EndpointInventory, b: EndpointInventory, studyOnA: StudyOnEndpoint): Promise<Omit<StudyMismatch, 'patientId' | 'patientName'>> {
  const { studyInstanceUid } = studyOnA;
  const seriesA = await a.listSeries(studyInstanceUid);
  const seriesB = await b.listSeries(studyInstanceUid);
  const differences: SeriesDifference[] = [];
  let countA = 0;
  let countB = 0;
  for (const seriesInstanceUid of new Set([...seriesA.keys(), ...seriesB.keys()])) {
    const onA = seriesA.get(seriesInstanceUid);
    const onB = seriesB.get(seriesInstanceUid);
    let difference: SeriesDifference;
    if (onA && onB) {
      difference = await compareSeries(a, b, studyInstanceUid, onA, onB);
    } else if (onA) {
      const count = await countSeries(a, studyInstanceUid, onA);
      difference = { seriesInstanceUid, countA: count, countB: 0, missingOnA: 0, missingOnB: count };
    } else {
      const count = await countSeries(b, studyInstanceUid, onB!);
      difference = { seriesInstanceUid, countA: 0, countB: count, missingOnA: count, missingOnB: 0 };
    }
    countA += difference.countA;
    countB += difference.countB;
    if (difference.missingOnA > 0 || difference.missingOnB > 0) differences.push(difference);
  }
  const missingOnA = differences.reduce((sum, series) => sum + series.missingOnA, 0);
  const missingOnB = differences.reduce((sum, series) => sum + series.missingOnB, 0);
  return { studyInstanceUid, countA, countB, missingOnA, missingOnB, series: differences };
}

/**
 * Compares the studies that the selection matches on A and on B. Only reads:
 * nothing is transferred. Throws when either end cannot be queried.
 */
export async function compareEndpoints(a: Endpoint, b: Endpoint, local: LocalIdentity, selection: JobSelection, options: CompareOptions = {}): Promise<SyncComparison> {
  const inventoryA = new EndpointInventory(a, local, options);
  const inventoryB = new EndpointInventory(b, local, options);
  try {
    options.onProgress?.(`listing studies on ${a.name}`);
    const studiesA = await inventoryA.listStudies(selection);
    options.onProgress?.(`listing studies on ${b.name}`);
    const studiesB = await inventoryB.listStudies(selection);

    const comparison: SyncComparison = {
      a: a.name,
      b: b.name,
      studiesOnA: studiesA.size,
      studiesOnB: studiesB.size,
      inSync: 0,
      missingOnA: [...studiesB.values()].filter((study) => !studiesA.has(study.studyInstanceUid)),
      missingOnB: [...studiesA.values()].filter((study) => !studiesB.has(study.studyInstanceUid)),
      mismatched: [],
      conflicts: [],
    };

    for (const studyOnA of studiesA.values()) {
      const studyOnB = studiesB.get(studyOnA.studyInstanceUid);
      if (!studyOnB) continue;
      if (options.signal?.aborted) throw new Error('comparison cancelled');
      if (patientIdsDiffer(studyOnA.patientId, studyOnB.patientId)) {
        comparison.conflicts.push({
          studyInstanceUid: studyOnA.studyInstanceUid,
          patientIdA: studyOnA.patientId,
          patientIdB: studyOnB.patientId,
          patientNameA: studyOnA.patientName,
          patientNameB: studyOnB.patientName,
          countA: studyOnA.instances,
          countB: studyOnB.instances,
        });
        continue;
      }
      if (sameCount(studyOnA.instances, studyOnB.instances)) {
        comparison.inSync++;
        continue;
      }
      options.onProgress?.(`comparing series of study ${studyOnA.studyInstanceUid}`);
      const difference = await compareStudy(inventoryA, inventoryB, studyOnA);
      if (difference.missingOnA === 0 && difference.missingOnB === 0) comparison.inSync++;
      else comparison.mismatched.push({ ...difference, patientId: studyOnA.patientId, patientName: studyOnA.patientName });
    }
    return comparison;
  } finally {
    await inventoryA.close().catch(() => undefined);
    await inventoryB.close().catch(() => undefined);
  }
}

/**
 * Compares A with the anonymized copies of its studies on B: each study of
 * A is looked up on B under `mapper.replace(uid)` and the instance counts are
 * compared. Nothing is compared in the other direction, and there are no
 * Patient ID conflicts, because B stores pseudonyms.
 * NOTE: a study with instances held back by the anonymizer has fewer
 * instances on B, so it is listed as mismatched on every run. The migration
 * engine then finds it complete by SOP Instance UID and sends nothing.
 */
export async function compareAnonymized(
  a: Endpoint,
  b: Endpoint,
  local: LocalIdentity,
  selection: JobSelection,
  mapper: { replace(uid: string): string },
  options: CompareOptions = {},
): Promise<SyncComparison> {
  const inventoryA = new EndpointInventory(a, local, options);
  const inventoryB = new EndpointInventory(b, local, options);
  try {
    options.onProgress?.(`listing studies on ${a.name}`);
    const studiesA = await inventoryA.listStudies(selection);
    const mapped = new Map([...studiesA.keys()].map((uid) => [mapper.replace(uid), uid]));
    options.onProgress?.(`listing anonymized studies on ${b.name}`);
    const studiesB = mapped.size === 0 ? new Map<string, StudyOnEndpoint>() : await inventoryB.listStudies({ studyInstanceUids: [...mapped.keys()] });

    const comparison: SyncComparison = {
      a: a.name,
      b: b.name,
      studiesOnA: studiesA.size,
      studiesOnB: studiesB.size,
      inSync: 0,
      missingOnA: [],
      missingOnB: [],
      mismatched: [],
      conflicts: [],
    };
    for (const studyOnA of studiesA.values()) {
      const studyOnB = studiesB.get(mapper.replace(studyOnA.studyInstanceUid));
      if (!studyOnB) {
        comparison.missingOnB.push(studyOnA);
        continue;
      }
      if (sameCount(studyOnA.instances, studyOnB.instances)) {
        comparison.inSync++;
        continue;
      }
      const countA = studyOnA.instances ?? 0;
      const countB = studyOnB.instances ?? 0;
      comparison.mismatched.push({
        studyInstanceUid: studyOnA.studyInstanceUid,
        patientId: studyOnA.patientId,
        patientName: studyOnA.patientName,
        countA,
        countB,
        missingOnA: 0,
        // An unreported count on either end queues the study, and the engine then compares SOP Instance UIDs.
        missingOnB: Math.max(1, countA - countB),
        series: [],
      });
    }
    return comparison;
  } finally {
    await inventoryA.close().catch(() => undefined);
    await inventoryB.close().catch(() => undefined);
  }
}
