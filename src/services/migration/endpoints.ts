/**
 * The two ends of a migration: a remote node, or the local archive. Lists
 * the studies a selection matches and the instances of one study on either.
 */
import type { LocalArchive, StudySummary } from '../archive';
import { FindNotSupportedError, describeNode, findInstances, findStudies, formatDateRange, parseDateFilter } from '../query-retrieve';
import type { LocalIdentity, QueryNotice, RemoteNode, StudyFilters } from '../query-retrieve';
import { studyFiltersOf } from './job-store';
import type { JobSelection } from './job-store';

/** Name that stands for the local archive in place of a node name. */
export const LOCAL_ENDPOINT = 'local';

export type Endpoint = { kind: 'local'; name: typeof LOCAL_ENDPOINT; archive: LocalArchive } | { kind: 'node'; name: string; node: RemoteNode };

/**
 * Returns the error to raise when a query of the endpoint failed. A node that
 * accepts none of the C-FIND presentation contexts, such as a storage-only
 * SCP, gets a message that explains why migrate and sync need C-FIND. Other
 * errors are returned unchanged.
 */
export function explainQueryRejection(endpoint: Endpoint, error: unknown): unknown {
  if (endpoint.kind !== 'node' || !(error instanceof Error) || !/accepted none/.test(error.message)) return error;
  // FindNotSupportedError's own advice is dropped, so the message suggests "loader send" once.
  const rejection = error instanceof FindNotSupportedError ? error.rejection : error.message;
  return new Error(
    `${rejection}: ${endpoint.name} does not offer C-FIND (Study Root Query/Retrieve), which migrate and sync need to count the instances on both ends; ` +
      `to store studies on a node without C-FIND, use "loader send"`,
  );
}

/** Returns a label for messages: the node name and AE title, or "the local archive". */
export function describeEndpoint(endpoint: Endpoint): string {
  return endpoint.kind === 'local' ? 'the local archive' : describeNode(endpoint.node);
}

/** True when the selection is all studies or has filters besides Study Instance UIDs, so the source must be searched. */
function needsSearch(selection: JobSelection): boolean {
  if (selection.all === true) return true;
  return Object.entries(studyFiltersOf(selection)).some(([key, value]) => key !== 'studyInstanceUids' && value !== undefined);
}

/**
 * Lists the Study Instance UIDs the selection matches on the endpoint. With
 * Study Instance UIDs alone the UIDs are taken as given; a UID missing on the
 * source fails later, when its instances are counted. All studies are found
 * with a C-FIND whose keys all have universal matching, or the whole index.
 */
export async function selectStudies(endpoint: Endpoint, local: LocalIdentity, selection: JobSelection, options: { signal?: AbortSignal; onNotice?: (notice: QueryNotice) => void } = {}): Promise<string[]> {
  const explicit = selection.studyInstanceUids ?? [];
  if (!needsSearch(selection)) return [...new Set(explicit)];

  if (endpoint.kind === 'node') {
    const found: string[] = [];
    const filters: StudyFilters = studyFiltersOf(selection);
    try {
      for await (const match of findStudies(endpoint.node, local, filters, { signal: options.signal, onNotice: options.onNotice })) found.push(match.studyInstanceUid);
    } catch (error) {
      throw explainQueryRejection(endpoint, error);
    }
    return found;
  }

  return searchArchiveStudies(endpoint.archive, selection).map((study) => study.studyInstanceUid);
}

/** Lists the archived studies that match every filter of the selection, with their patient and instance counts. */
export function searchArchiveStudies(archive: LocalArchive, selection: JobSelection): StudySummary[] {
  const explicit = selection.studyInstanceUids ?? [];
  const date = selection.date === undefined ? undefined : formatDateRange(parseDateFilter(selection.date));
  const studies = archive.searchStudies({
    name: selection.patientName,
    patientId: selection.patientId,
    date,
    modalities: selection.modalities,
    description: selection.studyDescription,
    accessionNumber: selection.accessionNumber,
  });
  return studies.filter((study) => explicit.length === 0 || explicit.includes(study.studyInstanceUid));
}

/**
 * Lists the SOP Instance UIDs of a study on the endpoint: an IMAGE level
 * C-FIND of every series on a node, the index on the local archive. A node
 * that stores one instance twice lists it twice, so the length is the count
 * the node reports.
 */
export async function listStudyInstances(endpoint: Endpoint, local: LocalIdentity, studyInstanceUid: string, signal?: AbortSignal): Promise<string[]> {
  if (endpoint.kind === 'local') return endpoint.archive.listInstances({ studyInstanceUid }).map((instance) => instance.sopInstanceUid);
  const uids: string[] = [];
  for await (const instance of findInstances(endpoint.node, local, studyInstanceUid, undefined, { signal })) uids.push(instance.sopInstanceUid);
  return uids;
}
