/**
 * The Patient ID check that `loader migrate` and `loader sync` share. A Study
 * Instance UID that the two ends store under different Patient IDs is a
 * conflict, and neither command transfers such a study. An end that already
 * has the study files new instances of it under the patient it has (loader
 * serve keeps the first patient), so the copy would join another patient.
 */
import { FindSession } from '../query-retrieve';
import type { LocalIdentity, RemoteNode, RequestKey } from '../query-retrieve';
import type { Endpoint } from './endpoints';

/**
 * Returns true when two Patient ID (0010,0020) values name different
 * patients. Patient ID is LO, whose leading and trailing spaces are not
 * significant (PS3.5 section 6.2), so both are trimmed first.
 */
export function patientIdsDiffer(a: string, b: string): boolean {
  return a.trim() !== b.trim();
}

/**
 * Lists the Patient IDs under which the endpoint stores the study, each once
 * and trimmed, or none when the endpoint lacks the study. A node gets a STUDY
 * level C-FIND in the Study Root model, where the attributes of the patient
 * are attributes of the study (PS3.4 section C.6.2). A node that keeps the
 * study under two patients therefore returns two matches. The local archive
 * is read from its index, where each study has one patient.
 */
export async function listStudyPatientIds(endpoint: Endpoint, local: LocalIdentity, studyInstanceUid: string, signal?: AbortSignal): Promise<string[]> {
  if (endpoint.kind === 'local') {
    return [...new Set(endpoint.archive.summarizeStudies([studyInstanceUid]).map((study) => study.patientId.trim()))];
  }
  const session = await FindSession.open(endpoint.node, local);
  const patientIds = new Set<string>();
  try {
    const keys: RequestKey[] = [
      { keyword: 'StudyInstanceUID', value: studyInstanceUid },
      { keyword: 'PatientID', value: '' },
    ];
    for await (const identifier of session.find('STUDY', keys, signal)) {
      if (identifier.values.StudyInstanceUID === studyInstanceUid) patientIds.add((identifier.values.PatientID ?? '').trim());
    }
  } finally {
    await session.close().catch(() => undefined);
  }
  return [...patientIds];
}

/** A study that the source and the destination of a transfer store under different Patient IDs. */
export interface StudyPatientConflict {
  studyInstanceUid: string;
  sourcePatientIds: string[];
  destinationPatientIds: string[];
}

/**
 * Returns the conflict when the destination stores the study under a Patient
 * ID that differs from one of the source's, and undefined when the
 * destination lacks the study or every Patient ID on both ends is the same.
 */
export function findPatientConflict(studyInstanceUid: string, sourcePatientIds: string[], destinationPatientIds: string[]): StudyPatientConflict | undefined {
  const differs = sourcePatientIds.some((sourceId) => destinationPatientIds.some((destinationId) => patientIdsDiffer(sourceId, destinationId)));
  return differs ? { studyInstanceUid, sourcePatientIds, destinationPatientIds } : undefined;
}

/**
 * Counts the instances of a study on a node under each Patient ID, trimmed.
 * It sends a SERIES level C-FIND for the series and then an IMAGE level
 * C-FIND of each series with PatientID (0010,0020) as a return key. Orthanc
 * 1.10 and dcmqrscp 3.6.7 return the Patient ID of each instance, so a series
 * whose instances came with two Patient IDs is counted right. Each SOP
 * Instance UID counts once per Patient ID.
 */
export async function countInstancesPerPatientId(node: RemoteNode, local: LocalIdentity, studyInstanceUid: string, signal?: AbortSignal): Promise<Map<string, number>> {
  const session = await FindSession.open(node, local);
  const instancesPerPatientId = new Map<string, Set<string>>();
  try {
    const seriesUids = new Set<string>();
    const seriesKeys: RequestKey[] = [
      { keyword: 'StudyInstanceUID', value: studyInstanceUid },
      { keyword: 'SeriesInstanceUID', value: '' },
    ];
    for await (const identifier of session.find('SERIES', seriesKeys, signal)) {
      if (identifier.values.SeriesInstanceUID) seriesUids.add(identifier.values.SeriesInstanceUID);
    }
    for (const seriesInstanceUid of seriesUids) {
      const imageKeys: RequestKey[] = [
        { keyword: 'StudyInstanceUID', value: studyInstanceUid },
        { keyword: 'SeriesInstanceUID', value: seriesInstanceUid },
        { keyword: 'SOPInstanceUID', value: '' },
        { keyword: 'PatientID', value: '' },
      ];
      for await (const identifier of session.find('IMAGE', imageKeys, signal)) {
        const patientId = (identifier.values.PatientID ?? '').trim();
        const uids = instancesPerPatientId.get(patientId) ?? new Set<string>();
        uids.add(identifier.values.SOPInstanceUID ?? '');
        instancesPerPatientId.set(patientId, uids);
      }
    }
  } finally {
    await session.close().catch(() => undefined);
  }
  return new Map([...instancesPerPatientId].map(([patientId, uids]) => [patientId, uids.size]));
}
