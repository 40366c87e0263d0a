/**
 * The Patient ID check that `loader migrate` and `loader sync` share. A Study
 * Instance UID that the two ends store under different Patient IDs is a
 * conflict, and neither command transfers such a study. An end that already
 * has the study files new instances of it under the patient it has (loader
 * serve keeps the first patient), so the copy would join another patient.
 */
import { FindSession } from '../query-retrieve';
import type { LocalIdentity, RequestKey } from '../query-retrieve';
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
