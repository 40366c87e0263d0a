/**
 * The study table of `loader studies`, `loader find`, `loader scan` and
 * `loader ssh get`: the same columns in the same order, newest study first.
 */
import type { StudyMatch } from '../services/query-retrieve';
import { formatTable } from './terminal';

/** One study as the table shows it. A StudySummary of the archive index is one, and rowFromMatch converts a C-FIND match. */
export interface StudyTableRow {
  patientName: string;
  patientId: string;
  patientBirthDate: string;
  studyDate: string;
  studyTime: string;
  modalitiesInStudy: string[];
  studyDescription: string;
  /** Number of Study Related Instances, or undefined when a node did not return it. */
  numberOfInstances?: number;
  studyInstanceUid: string;
}

const HEADINGS = ['PATIENT NAME', 'PATIENT ID', 'BIRTH DATE', 'STUDY DATE', 'MODALITIES', 'DESCRIPTION', 'INSTANCES', 'STUDY INSTANCE UID'];

/** Maximum terminal columns of a cell. A longer value is cut with an ellipsis, and --json keeps it whole. */
const MAX_CELL_WIDTH = 40;

/** The UID is what later commands take, so it is never cut. */
const WHOLE_COLUMNS = [HEADINGS.indexOf('STUDY INSTANCE UID')];

export function rowFromMatch(match: StudyMatch): StudyTableRow {
  return { ...match, numberOfInstances: match.numberOfStudyRelatedInstances };
}

/** Returns the digits of a DA or TM value, so that legacy forms such as 2024.03.01 and 10:15:30 compare as the standard ones. */
function digitsOf(value: string | undefined): string {
  return (value ?? '').replace(/\D/g, '');
}

/**
 * Returns the studies ordered by Study Date and Study Time, newest first.
 * Studies without Study Date come last, and ties keep their order.
 */
export function sortNewestFirst<T extends { studyDate: string; studyTime: string }>(studies: readonly T[]): T[] {
  const keyOf = (study: T) => ({ date: digitsOf(study.studyDate), time: digitsOf(study.studyTime) });
  return [...studies].sort((a, b) => {
    const first = keyOf(a);
    const second = keyOf(b);
    if (first.date === '' || second.date === '') return (first.date === '' ? 1 : 0) - (second.date === '' ? 1 : 0);
    if (first.date !== second.date) return first.date < second.date ? 1 : -1;
    if (first.time !== second.time) return first.time < second.time ? 1 : -1;
    return 0;
  });
}

/** Formats the studies as a table with a heading line and a dash line, in the order given. */
export function formatStudyTable(studies: readonly StudyTableRow[]): string {
  const rows = studies.map((study) => [
    study.patientName ?? '',
    study.patientId ?? '',
    study.patientBirthDate ?? '',
    study.studyDate ?? '',
    (study.modalitiesInStudy ?? []).join('\\'),
    study.studyDescription ?? '',
    study.numberOfInstances === undefined ? '' : String(study.numberOfInstances),
    study.studyInstanceUid,
  ]);
  return formatTable(HEADINGS, rows, MAX_CELL_WIDTH, WHOLE_COLUMNS);
}
