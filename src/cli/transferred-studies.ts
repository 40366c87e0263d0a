/**
 * Per-study results of `loader send`, `loader get` and `loader move`: whose
 * study was sent or retrieved, with the counts, in the columns of the study
 * tables. Patient names go to stdout only, never to a log line.
 */
import type { LocalArchive, StudySummary } from '../services/archive';
import type { RetrieveReport, StudyMatch, StudyRetrieveReport } from '../services/query-retrieve';
import { formatTable } from './terminal';

/** The patient and study attributes that the result tables show, as the archive index or a C-FIND match has them. */
export interface StudyIdentity {
  studyInstanceUid: string;
  patientName: string;
  patientId: string;
  studyDate: string;
  studyDescription: string;
  modalitiesInStudy: string[];
}

/** Maximum terminal columns of a cell; a longer value is cut with an ellipsis, and --json keeps it whole. */
const MAX_CELL_WIDTH = 40;

/** Returns the attributes the result tables show, taken from an index summary or a C-FIND match. */
export function identityOf(study: StudySummary | StudyMatch): StudyIdentity {
  return {
    studyInstanceUid: study.studyInstanceUid,
    patientName: study.patientName,
    patientId: study.patientId,
    studyDate: study.studyDate,
    studyDescription: study.studyDescription,
    modalitiesInStudy: study.modalitiesInStudy,
  };
}

/**
 * Returns the identity of each study in `studyInstanceUids`: from the archive
 * index, else from `matches` (the C-FIND matches the command found the studies
 * by), else with empty attributes, for a study of which nothing arrived.
 */
export function identifyStudies(archive: LocalArchive, studyInstanceUids: readonly string[], matches: ReadonlyMap<string, StudyMatch> = new Map()): Map<string, StudyIdentity> {
  const identities = new Map<string, StudyIdentity>();
  for (const summary of archive.summarizeStudies(studyInstanceUids)) identities.set(summary.studyInstanceUid, identityOf(summary));
  for (const studyInstanceUid of studyInstanceUids) {
    if (identities.has(studyInstanceUid)) continue;
    const match = matches.get(studyInstanceUid);
    identities.set(
      studyInstanceUid,
      match ? identityOf(match) : { studyInstanceUid, patientName: '', patientId: '', studyDate: '', studyDescription: '', modalitiesInStudy: [] },
    );
  }
  return identities;
}

/**
 * Formats one row per study: patient, study and description columns as in
 * the study tables, then `countHeadings` with each row's `counts`, then the
 * Study Instance UID, which is never cut.
 */
export function formatTransferTable(countHeadings: readonly string[], rows: ReadonlyArray<{ study: StudyIdentity; counts: string[] }>): string {
  const headings = ['PATIENT NAME', 'PATIENT ID', 'STUDY DATE', 'MODALITIES', 'DESCRIPTION', ...countHeadings, 'STUDY INSTANCE UID'];
  const cells = rows.map(({ study, counts }) => [
    study.patientName,
    study.patientId,
    study.studyDate,
    study.modalitiesInStudy.join('\\'),
    study.studyDescription,
    ...counts,
    study.studyInstanceUid,
  ]);
  return formatTable(headings, cells, MAX_CELL_WIDTH, [headings.length - 1]);
}

/** An archived study that `loader send` sent, with its patient as the archive index has it. */
export interface SentStudy extends StudyIdentity {
  /** Archived instances of the study. */
  instances: number;
  /** Instances that the node stored with status success or warning. */
  sent: number;
  /** Instances that failed. A cancelled send leaves the rest neither sent nor failed. */
  failed: number;
}

/**
 * Returns one entry per study of `perStudy` that has instances, counting the
 * SOP Instance UIDs in `sent` and in `failures`.
 */
export function summarizeSentStudies(
  archive: LocalArchive,
  perStudy: ReadonlyArray<{ studyInstanceUid: string; instances: ReadonlyArray<{ sopInstanceUid: string }> }>,
  sent: ReadonlySet<string>,
  failures: ReadonlyArray<{ sopInstanceUid: string }>,
): SentStudy[] {
  const failed = new Set(failures.map((failure) => failure.sopInstanceUid));
  const studies = perStudy.filter((study) => study.instances.length > 0);
  const identities = identifyStudies(
    archive,
    studies.map((study) => study.studyInstanceUid),
  );
  return studies.map((study) => ({
    ...identities.get(study.studyInstanceUid)!,
    instances: study.instances.length,
    sent: study.instances.filter((instance) => sent.has(instance.sopInstanceUid)).length,
    failed: study.instances.filter((instance) => failed.has(instance.sopInstanceUid)).length,
  }));
}

/** Formats the studies of a send as a table with SENT ("3 of 5") and FAILED columns. */
export function formatSentStudies(studies: readonly SentStudy[]): string {
  return formatTransferTable(
    ['SENT', 'FAILED'],
    studies.map((study) => ({ study, counts: [`${study.sent} of ${study.instances}`, String(study.failed)] })),
  );
}

/** A study of `loader get` or `loader move`: the retrieve report with its patient and study attributes. */
export type RetrievedStudy = StudyRetrieveReport & StudyIdentity;

/**
 * Returns the studies of `report` with their patient and study attributes
 * from the archive index, or from the C-FIND `matches` when nothing of a study
 * arrived. The report's own fields come last, so they win.
 */
export function identifyRetrievedStudies(archive: LocalArchive, report: RetrieveReport, matches: ReadonlyMap<string, StudyMatch>): RetrievedStudy[] {
  const identities = identifyStudies(
    archive,
    report.studies.map((study) => study.studyInstanceUid),
    matches,
  );
  return report.studies.map((study) => ({ ...identities.get(study.studyInstanceUid)!, ...study }));
}

/** Formats the studies of a retrieve as a table with RECEIVED ("3 of 5" when the count expected is known), NEW and OUTCOME columns. */
export function formatRetrievedStudies(studies: readonly RetrievedStudy[]): string {
  return formatTransferTable(
    ['RECEIVED', 'NEW', 'OUTCOME'],
    studies.map((study) => ({
      study,
      counts: [
        study.expectedFrom ? `${study.completed} of ${study.total}` : String(study.completed),
        String(study.stored),
        study.outcome,
      ],
    })),
  );
}
