/**
 * The C-FIND keys the index can match and return, with the SQL expression
 * that yields each one. Table aliases: p = patients, st = studies,
 * se = series, i = instances.
 */

export type QueryLevel = 'PATIENT' | 'STUDY' | 'SERIES' | 'IMAGE';

export const LEVEL_DEPTH: Record<QueryLevel, number> = { PATIENT: 0, STUDY: 1, SERIES: 2, IMAGE: 3 };

/** Matching type applied to a key value (PS3.4 section C.2.2.2). */
export type MatchKind =
  /** Single value and wildcard matching, case-sensitive. */
  | 'text'
  /** Like 'text', case-insensitive by default, against the whole value and each component group. */
  | 'person-name'
  /** Single value or list of UIDs, no wildcards. */
  | 'uid'
  /** Single value or range, YYYYMMDD. */
  | 'date'
  /** Single value or range, HHMMSS[.FFFFFF]. */
  | 'time'
  /** Single value of an IS attribute, compared as an integer, so '+2' and '02' match 2. */
  | 'integer'
  /** A study-level set (ModalitiesInStudy, SOPClassesInStudy): matches when any member matches any listed value. */
  | 'member';

export interface QueryAttribute {
  level: QueryLevel;
  /** Value representation of the attribute (PS3.6), which sets the maximum length of a key value. */
  vr: string;
  match: MatchKind;
  /** SQL expression returning the value as text, '' when absent. */
  column: string;
  /**
   * SQL expression that replaces `column` in queries at STUDY level and
   * below, for the patient attributes that each study stores itself.
   */
  studyColumn?: string;
  /**
   * For 'member' keys: SQL returning the rows of the set, with the member
   * column named `member`, correlated to the current study `st`.
   */
  members?: string;
}

const countAsText = (expression: string) => `COALESCE(CAST((${expression}) AS TEXT), '')`;

export const QUERY_ATTRIBUTES: Record<string, QueryAttribute> = {
  // Patient's Name, Birth Date and Sex are keys of the STUDY level in the Study Root model (PS3.4 C.6.2.1), and a
  // response carries the matching study's values (PS3.4 C.4.1.2.1). Studies of one Patient ID may carry other values
  // than its patient record (a corrected name, a reused ID), so levels below PATIENT read the study's own columns.
  PatientName: { level: 'PATIENT', vr: 'PN', match: 'person-name', column: 'p.patient_name', studyColumn: 'st.patient_name' },
  PatientID: { level: 'PATIENT', vr: 'LO', match: 'text', column: 'p.patient_id' },
  IssuerOfPatientID: { level: 'PATIENT', vr: 'LO', match: 'text', column: 'p.issuer_of_patient_id' },
  PatientBirthDate: { level: 'PATIENT', vr: 'DA', match: 'date', column: 'p.birth_date', studyColumn: 'st.patient_birth_date' },
  PatientSex: { level: 'PATIENT', vr: 'CS', match: 'text', column: 'p.sex', studyColumn: 'st.patient_sex' },
  NumberOfPatientRelatedStudies: {
    level: 'PATIENT',
    vr: 'IS',
    match: 'integer',
    column: countAsText('SELECT COUNT(*) FROM studies s2 WHERE s2.patient_ref = p.id'),
  },
  NumberOfPatientRelatedSeries: {
    level: 'PATIENT',
    vr: 'IS',
    match: 'integer',
    column: countAsText('SELECT COALESCE(SUM(s2.number_of_series), 0) FROM studies s2 WHERE s2.patient_ref = p.id'),
  },
  NumberOfPatientRelatedInstances: {
    level: 'PATIENT',
    vr: 'IS',
    match: 'integer',
    column: countAsText('SELECT COALESCE(SUM(s2.number_of_instances), 0) FROM studies s2 WHERE s2.patient_ref = p.id'),
  },

  StudyInstanceUID: { level: 'STUDY', vr: 'UI', match: 'uid', column: 'st.study_instance_uid' },
  StudyDate: { level: 'STUDY', vr: 'DA', match: 'date', column: 'st.study_date' },
  StudyTime: { level: 'STUDY', vr: 'TM', match: 'time', column: 'st.study_time' },
  AccessionNumber: { level: 'STUDY', vr: 'SH', match: 'text', column: 'st.accession_number' },
  StudyID: { level: 'STUDY', vr: 'SH', match: 'text', column: 'st.study_id' },
  StudyDescription: { level: 'STUDY', vr: 'LO', match: 'text', column: 'st.study_description' },
  ReferringPhysicianName: { level: 'STUDY', vr: 'PN', match: 'person-name', column: 'st.referring_physician_name' },
  ModalitiesInStudy: {
    level: 'STUDY',
    vr: 'CS',
    match: 'member',
    column: 'st.modalities_in_study',
    members: `SELECT m.modality AS member FROM series m WHERE m.study_ref = st.id AND m.modality <> ''`,
  },
  SOPClassesInStudy: {
    level: 'STUDY',
    vr: 'UI',
    match: 'member',
    column: `(SELECT COALESCE(group_concat(c, '\\'), '') FROM (
      SELECT DISTINCT i2.sop_class_uid AS c FROM instances i2 JOIN series s2 ON s2.id = i2.series_ref
      WHERE s2.study_ref = st.id AND i2.sop_class_uid <> '' ORDER BY c))`,
    members: `SELECT i2.sop_class_uid AS member FROM instances i2 JOIN series s2 ON s2.id = i2.series_ref
      WHERE s2.study_ref = st.id AND i2.sop_class_uid <> ''`,
  },
  NumberOfStudyRelatedSeries: { level: 'STUDY', vr: 'IS', match: 'integer', column: countAsText('st.number_of_series') },
  NumberOfStudyRelatedInstances: { level: 'STUDY', vr: 'IS', match: 'integer', column: countAsText('st.number_of_instances') },

  SeriesInstanceUID: { level: 'SERIES', vr: 'UI', match: 'uid', column: 'se.series_instance_uid' },
  Modality: { level: 'SERIES', vr: 'CS', match: 'text', column: 'se.modality' },
  SeriesNumber: { level: 'SERIES', vr: 'IS', match: 'integer', column: countAsText('se.series_number') },
  SeriesDescription: { level: 'SERIES', vr: 'LO', match: 'text', column: 'se.series_description' },
  BodyPartExamined: { level: 'SERIES', vr: 'CS', match: 'text', column: 'se.body_part_examined' },
  SeriesDate: { level: 'SERIES', vr: 'DA', match: 'date', column: 'se.series_date' },
  SeriesTime: { level: 'SERIES', vr: 'TM', match: 'time', column: 'se.series_time' },
  NumberOfSeriesRelatedInstances: { level: 'SERIES', vr: 'IS', match: 'integer', column: countAsText('se.instance_count') },

  SOPInstanceUID: { level: 'IMAGE', vr: 'UI', match: 'uid', column: 'i.sop_instance_uid' },
  SOPClassUID: { level: 'IMAGE', vr: 'UI', match: 'uid', column: 'i.sop_class_uid' },
  InstanceNumber: { level: 'IMAGE', vr: 'IS', match: 'integer', column: countAsText('i.instance_number') },
  AvailableTransferSyntaxUID: { level: 'IMAGE', vr: 'UI', match: 'uid', column: 'i.transfer_syntax_uid' },
};

/**
 * Returns the attribute of `keyword` as a query at `level` reads it: with
 * its `studyColumn` in place of `column` at STUDY level and below.
 */
export function queryAttributeAt(keyword: string, level: QueryLevel): QueryAttribute {
  const attribute = QUERY_ATTRIBUTES[keyword];
  if (attribute.studyColumn === undefined || level === 'PATIENT') return attribute;
  return { ...attribute, column: attribute.studyColumn };
}

/** Unique key of each level (PS3.4 section C.6). */
export const UNIQUE_KEY: Record<QueryLevel, string> = {
  PATIENT: 'PatientID',
  STUDY: 'StudyInstanceUID',
  SERIES: 'SeriesInstanceUID',
  IMAGE: 'SOPInstanceUID',
};

/** FROM clause of each level, joining the levels above so their keys can be matched. */
export const LEVEL_FROM: Record<QueryLevel, string> = {
  PATIENT: 'FROM patients p',
  STUDY: 'FROM studies st JOIN patients p ON p.id = st.patient_ref',
  SERIES: `FROM series se JOIN studies st ON st.id = se.study_ref JOIN patients p ON p.id = st.patient_ref`,
  IMAGE: `FROM instances i JOIN series se ON se.id = i.series_ref
    JOIN studies st ON st.id = se.study_ref JOIN patients p ON p.id = st.patient_ref`,
};

export const LEVEL_ORDER: Record<QueryLevel, string> = {
  PATIENT: 'p.patient_id, p.patient_name, p.id',
  STUDY: 'st.study_date, st.study_time, st.study_instance_uid',
  SERIES: 'se.series_number, se.series_instance_uid',
  IMAGE: 'i.instance_number, i.sop_instance_uid',
};
