/**
 * Writes and reads the archive index: patients, studies, series and instances.
 * Each added or removed instance is one transaction, and the schema's triggers
 * keep the study and series counts right.
 *
 * Write transactions start with BEGIN IMMEDIATE. A deferred BEGIN reads
 * first and then upgrades to a write, and in WAL mode that upgrade fails at
 * once with SQLITE_BUSY_SNAPSHOT when another process committed meanwhile,
 * without waiting for busy_timeout.
 */

import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { trimPersonName } from '../../dicom/values';
import type { Logger } from '../logger';
import type { InstanceRecord, PatientAttributes } from './instance-record';

/** Location and arrival details of an indexed file. */
export interface StoredFile {
  /** Absolute path. Files inside the archive root are stored relative to it. */
  path: string;
  /** True when the file was indexed where it is, outside the archive layout. */
  inPlace: boolean;
  size: number;
  /** ISO 8601 time the archive received or indexed the file. */
  receivedAt: string;
  /** Calling AE title of the C-STORE, '' for files imported from disk. */
  sourceAeTitle: string;
}

/** Arguments of one addInstance call. */
export interface IndexEntry {
  record: InstanceRecord;
  file: StoredFile;
  source: string;
  /** Reject a row that conflicts with the index instead of replacing or merging it (see IndexConflictError). */
  rejectConflicts?: boolean;
}

/**
 * Thrown by addInstance with `rejectConflicts` when the SOP Instance UID is
 * already indexed with another file that exists (`storedPath` is that file),
 * or when the Series Instance UID is indexed under another study. The checks
 * run inside the write transaction, so they also catch a row that another
 * process committed after the caller looked the UID up.
 */
export class IndexConflictError extends Error {
  override readonly name: string = 'IndexConflictError';

  constructor(
    readonly sopInstanceUid: string,
    readonly storedPath: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Thrown by addInstance with `rejectConflicts` when the record's Study
 * Instance UID or Series Instance UID is already indexed under another
 * Patient ID (see samePatientId). One UID cannot belong to two patients, so
 * the instance is never added to the other patient's study.
 */
export class OtherPatientError extends IndexConflictError {
  override readonly name = 'OtherPatientError';

  constructor(readonly conflict: OtherPatientConflict) {
    super(conflict.sopInstanceUid, undefined, `${describeOtherPatient(conflict)}; correct the Patient ID or the UIDs of the wrong copy`);
  }
}

/** An instance whose Study, Series or SOP Instance UID is indexed under another Patient ID. */
export interface OtherPatientConflict {
  /** The UID that is indexed under the other patient. */
  level: 'study' | 'series' | 'instance';
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  /** Patient ID (0010,0020) of the indexed rows. */
  storedPatientId: string;
  /** Patient ID (0010,0020) of the rejected instance. */
  receivedPatientId: string;
}

/** Returns which UID of an OtherPatientConflict is indexed under which Patient ID, with the received Patient ID. */
export function describeOtherPatient(conflict: OtherPatientConflict): string {
  const attribute = { study: 'Study Instance UID', series: 'Series Instance UID', instance: 'SOP Instance UID' }[conflict.level];
  return `${attribute} ${conflictingUid(conflict)} is indexed under Patient ID "${conflict.storedPatientId}", not under "${conflict.receivedPatientId}"`;
}

/** Returns the UID that is indexed under the other patient: the study's, the series' or the instance's. */
export function conflictingUid(conflict: OtherPatientConflict): string {
  if (conflict.level === 'study') return conflict.studyInstanceUid;
  if (conflict.level === 'series') return conflict.seriesInstanceUid;
  return conflict.sopInstanceUid;
}

/**
 * True when two Patient ID (0010,0020) values name the same patient. Patient ID
 * is LO, whose leading and trailing spaces are not significant (PS3.5 section
 * 6.2), so they are removed first. An empty ID differs from a non-empty one.
 */
export function samePatientId(stored: string, received: string): boolean {
  return stored.trim() === received.trim();
}

export interface IndexedInstance {
  sopInstanceUid: string;
  sopClassUid: string;
  transferSyntaxUid: string;
  seriesInstanceUid: string;
  studyInstanceUid: string;
  path: string;
  inPlace: boolean;
  size: number;
  /** Patient ID (0010,0020) of the instance's patient row. */
  patientId: string;
}

/** Keys that every listed instance matches; absent keys match any instance. */
export interface InstanceFilter {
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  sopInstanceUids?: string[];
  /** Patient ID (0010,0020), compared without leading and trailing spaces as samePatientId does. */
  patientId?: string;
}

export interface StoredInstance {
  sopInstanceUid: string;
  sopClassUid: string;
  transferSyntaxUid: string;
  /** Absolute path; the file may have been removed from disk since it was indexed. */
  path: string;
  size: number;
  /** The file was indexed where it was found, outside the archive folder (loader scan without --import). */
  inPlace?: boolean;
}

export interface StudyConflict {
  studyInstanceUid: string;
  storedPatientId: string;
  storedIssuerOfPatientId: string;
  receivedPatientId: string;
  receivedIssuerOfPatientId: string;
  sopInstanceUid: string;
  /** Calling AE title or file path the conflicting instance came from. */
  source: string;
  detectedAt: string;
}

/** One study of `loader studies` and the window. Patient's Name, Birth Date and Sex are the study's own values. */
export interface StudySummary {
  studyInstanceUid: string;
  patientId: string;
  patientName: string;
  patientBirthDate: string;
  patientSex: string;
  studyDate: string;
  studyTime: string;
  studyDescription: string;
  accessionNumber: string;
  modalitiesInStudy: string[];
  numberOfSeries: number;
  numberOfInstances: number;
}

export const STUDY_SUMMARY_COLUMNS = `
  st.study_instance_uid AS studyInstanceUid, p.patient_id AS patientId,
  st.patient_name AS patientName, st.patient_birth_date AS patientBirthDate, st.patient_sex AS patientSex,
  st.study_date AS studyDate, st.study_time AS studyTime,
  st.study_description AS studyDescription, st.accession_number AS accessionNumber,
  st.modalities_in_study AS modalitiesInStudy, st.number_of_series AS numberOfSeries,
  st.number_of_instances AS numberOfInstances`;

type StudySummaryRow = Omit<StudySummary, 'modalitiesInStudy'> & { modalitiesInStudy: string };

export function toStudySummary(row: StudySummaryRow): StudySummary {
  return { ...row, modalitiesInStudy: row.modalitiesInStudy === '' ? [] : row.modalitiesInStudy.split('\\') };
}

interface InstanceRow {
  sopInstanceUid: string;
  sopClassUid: string;
  transferSyntaxUid: string;
  seriesInstanceUid: string;
  studyInstanceUid: string;
  path: string;
  inPlace: number;
  size: number;
  patientId: string;
}

const INSTANCE_COLUMNS = `
  i.sop_instance_uid AS sopInstanceUid, i.sop_class_uid AS sopClassUid,
  i.transfer_syntax_uid AS transferSyntaxUid, se.series_instance_uid AS seriesInstanceUid,
  st.study_instance_uid AS studyInstanceUid, i.path AS path, i.in_place AS inPlace, i.size AS size,
  p.patient_id AS patientId`;

const INSTANCE_JOINS = `
  FROM instances i
  JOIN series se ON se.id = i.series_ref
  JOIN studies st ON st.id = se.study_ref
  JOIN patients p ON p.id = st.patient_ref`;

/** Returns the conflict of `record` with rows of `storedPatientId` found by their `level` UID, or undefined when the Patient IDs match. */
export function otherPatientConflict(
  level: OtherPatientConflict['level'],
  storedPatientId: string,
  record: InstanceRecord,
): OtherPatientConflict | undefined {
  if (samePatientId(storedPatientId, record.patient.patientId)) return undefined;
  return {
    level,
    studyInstanceUid: record.study.studyInstanceUid,
    seriesInstanceUid: record.series.seriesInstanceUid,
    sopInstanceUid: record.instance.sopInstanceUid,
    storedPatientId,
    receivedPatientId: record.patient.patientId,
  };
}

/** Returns the key that identifies a patient: Patient ID and issuer, or name and birth date without an ID. */
export function patientIdentityKey(patient: PatientAttributes): string {
  if (patient.patientId !== '') return `id:${patient.patientId}\u0000${patient.issuerOfPatientId}`;
  // NOTE: without a Patient ID, records with the same name and birth date are one patient.
  return `name:${patient.patientName}\u0000${patient.birthDate}`;
}

/**
 * Returns an UPDATE of the row `@id` of `table` that sets each of the
 * columns of Patient's Name, Birth Date and Sex that is still empty to the
 * parameter @patientName, @birthDate or @sex. The row is written only when a
 * parameter fills an empty column, so instances that bring nothing new cost
 * one lookup.
 */
function fillEmptyPatientColumns(table: 'patients' | 'studies', [name, birthDate, sex]: [string, string, string]): string {
  return `
    UPDATE ${table} SET
      ${name} = CASE WHEN ${name} = '' THEN @patientName ELSE ${name} END,
      ${birthDate} = CASE WHEN ${birthDate} = '' THEN @birthDate ELSE ${birthDate} END,
      ${sex} = CASE WHEN ${sex} = '' THEN @sex ELSE ${sex} END
    WHERE id = @id AND ((${name} = '' AND @patientName <> '') OR (${birthDate} = '' AND @birthDate <> '') OR (${sex} = '' AND @sex <> ''))`;
}

/** Patient's Name, Birth Date and Sex of a patient record. */
interface PatientRecordRow {
  id: number;
  patientName: string;
  birthDate: string;
  sex: string;
}

/**
 * Returns the keywords of the attributes that both the patient record and the
 * received instance carry with different values. An empty value on either
 * side is no difference, because fillPatient fills an empty stored value and
 * ignores an empty received one.
 */
function differentPatientAttributes(stored: PatientRecordRow, received: PatientAttributes): string[] {
  const attributes: string[] = [];
  if (differentValues(stored.patientName, received.patientName, trimPersonName)) attributes.push('PatientName');
  if (differentValues(stored.birthDate, received.birthDate, (value) => value.trim())) attributes.push('PatientBirthDate');
  if (differentValues(stored.sex, received.sex, (value) => value.trim())) attributes.push('PatientSex');
  return attributes;
}

function differentValues(stored: string, received: string, normalize: (value: string) => string): boolean {
  return stored !== '' && received !== '' && normalize(stored) !== normalize(received);
}

/**
 * Returns true when the file of a row still exists and counts as its stored
 * copy: any file for a row indexed in place, but only a regular file for a row
 * of the archive folder, where a symbolic link is no stored copy (see
 * findIndexedFile in placement.ts).
 */
function storedCopyExists(stored: IndexedInstance): boolean {
  if (stored.inPlace) return fs.existsSync(stored.path);
  try {
    return fs.lstatSync(stored.path).isFile();
  } catch {
    return false;
  }
}

export class ArchiveCatalog {
  private readonly statements;
  private readonly addTransaction: Database.Transaction<(record: InstanceRecord, file: StoredFile, source: string, rejectConflicts: boolean) => void>;
  private readonly removeTransaction: Database.Transaction<(sopInstanceUid: string) => boolean>;
  private inPlaceAtPathQuery: Database.Statement | undefined;
  /**
   * Keywords of the patient attributes in which the instance being added
   * differs from the patient record, set by resolvePatient when the instance starts a study.
   */
  private otherPatientAttributesInAdd: string[] = [];
  /**
   * Studies indexed by this catalog whose first instance carries another
   * Patient's Name than the patient record of the same Patient ID. `loader scan`
   * reports how many its run added.
   */
  studiesWithOtherPatientName = 0;
  private atPathQuery: Database.Statement | undefined;

  constructor(
    readonly db: Database.Database,
    /** Absolute archive root; paths of files below it are stored relative to it. */
    readonly root: string,
    private readonly logger: Logger,
  ) {
    this.statements = {
      findInstance: db.prepare(`SELECT ${INSTANCE_COLUMNS} ${INSTANCE_JOINS} WHERE i.sop_instance_uid = ?`),
      instanceIndexedAt: db.prepare('SELECT received_at AS indexedAt FROM instances WHERE sop_instance_uid = ?'),
      findPatient: db.prepare(`SELECT id, patient_name AS patientName, birth_date AS birthDate, sex FROM patients WHERE identity_key = ?`),
      insertPatient: db.prepare(`
        INSERT INTO patients (identity_key, patient_id, issuer_of_patient_id, patient_name, birth_date, sex, specific_character_set)
        VALUES (@identityKey, @patientId, @issuerOfPatientId, @patientName, @birthDate, @sex, @specificCharacterSet)`),
      // Birth date and sex of the first instance win, and later instances only fill values that are still empty.
      // Patient's Name also keeps the first value, unless keepEarliestPatientName replaces it.
      fillPatient: db.prepare(fillEmptyPatientColumns('patients', ['patient_name', 'birth_date', 'sex'])),
      findStudy: db.prepare(`
        SELECT st.id AS id, p.identity_key AS identityKey, p.patient_id AS patientId, p.issuer_of_patient_id AS issuer
        FROM studies st JOIN patients p ON p.id = st.patient_ref WHERE st.study_instance_uid = ?`),
      insertStudy: db.prepare(`
        INSERT INTO studies (study_instance_uid, patient_ref, study_date, study_time, study_description,
          accession_number, referring_physician_name, study_id, specific_character_set,
          patient_name, patient_birth_date, patient_sex)
        VALUES (@studyInstanceUid, @patientRef, @studyDate, @studyTime, @studyDescription,
          @accessionNumber, @referringPhysicianName, @studyId, @specificCharacterSet,
          @patientName, @birthDate, @sex)`),
      // The study's Patient's Name, Birth Date and Sex are those of its first instance, and later instances only fill empty values.
      fillStudy: db.prepare(fillEmptyPatientColumns('studies', ['patient_name', 'patient_birth_date', 'patient_sex'])),
      findSeries: db.prepare(`
        SELECT se.id AS id, st.study_instance_uid AS studyInstanceUid, p.patient_id AS patientId
        FROM series se JOIN studies st ON st.id = se.study_ref JOIN patients p ON p.id = st.patient_ref
        WHERE se.series_instance_uid = ?`),
      insertSeries: db.prepare(`
        INSERT INTO series (series_instance_uid, study_ref, modality, series_number, series_description,
          body_part_examined, series_date, series_time)
        VALUES (@seriesInstanceUid, @studyRef, @modality, @seriesNumber, @seriesDescription,
          @bodyPartExamined, @seriesDate, @seriesTime)`),
      deleteInstance: db.prepare(`DELETE FROM instances WHERE sop_instance_uid = ? RETURNING series_ref AS seriesRef`),
      insertInstance: db.prepare(`
        INSERT INTO instances (sop_instance_uid, series_ref, sop_class_uid, instance_number, transfer_syntax_uid,
          size, path, in_place, specific_character_set, received_at, source_ae_title)
        VALUES (@sopInstanceUid, @seriesRef, @sopClassUid, @instanceNumber, @transferSyntaxUid,
          @size, @path, @inPlace, @specificCharacterSet, @receivedAt, @sourceAeTitle)`),
      insertConflict: db.prepare(`
        INSERT INTO study_conflicts (study_instance_uid, stored_patient_id, stored_issuer_of_patient_id,
          received_patient_id, received_issuer_of_patient_id, sop_instance_uid, source, detected_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
      pruneSeries: db.prepare(`DELETE FROM series WHERE id = ? AND instance_count <= 0 RETURNING study_ref AS studyRef`),
      pruneStudy: db.prepare(`DELETE FROM studies WHERE id = ? AND number_of_series <= 0 RETURNING patient_ref AS patientRef`),
      earliestReceiveOfPatient: db.prepare(`
        SELECT MIN(i.received_at) AS receivedAt FROM instances i
        JOIN series se ON se.id = i.series_ref JOIN studies st ON st.id = se.study_ref
        WHERE st.patient_ref = ?`),
      setPatientName: db.prepare(`UPDATE patients SET patient_name = ? WHERE id = ?`),
      prunePatient: db.prepare(`DELETE FROM patients WHERE id = ? AND NOT EXISTS (SELECT 1 FROM studies WHERE patient_ref = ?)`),
    };
    this.addTransaction = db.transaction((record, file, source, rejectConflicts) => this.addInstanceRows(record, file, source, rejectConflicts));
    this.removeTransaction = db.transaction((sopInstanceUid) => this.removeInstanceRows(sopInstanceUid));
  }

  /** Returns the indexed instance with this SOP Instance UID, with an absolute path. */
  findInstance(sopInstanceUid: string): IndexedInstance | undefined {
    const row = this.statements.findInstance.get(sopInstanceUid) as InstanceRow | undefined;
    return row ? this.toIndexedInstance(row) : undefined;
  }

  /** Returns when the row of an instance was written (received_at, an ISO time), or undefined when it is not indexed. */
  instanceIndexedAt(sopInstanceUid: string): string | undefined {
    return (this.statements.instanceIndexedAt.get(sopInstanceUid) as { indexedAt: string } | undefined)?.indexedAt;
  }

  /**
   * Returns the conflict when the record's Study Instance UID or Series
   * Instance UID is indexed under another Patient ID, or undefined.
   * addInstance with `rejectConflicts` runs the same check inside its
   * transaction. A stored SOP Instance UID is left to the caller, which
   * compares the files first.
   */
  findOtherPatient(record: InstanceRecord): OtherPatientConflict | undefined {
    const { study, series } = record;
    const storedStudy = this.statements.findStudy.get(study.studyInstanceUid) as { patientId: string } | undefined;
    const studyConflict = storedStudy && otherPatientConflict('study', storedStudy.patientId, record);
    if (studyConflict) return studyConflict;
    const storedSeries = this.statements.findSeries.get(series.seriesInstanceUid) as { patientId: string } | undefined;
    return storedSeries && otherPatientConflict('series', storedSeries.patientId, record);
  }

  /**
   * Indexes one instance in one transaction, replacing the row of an instance
   * with the same SOP Instance UID unless `rejectConflicts` is set. `source`
   * (AE title or path) is recorded with a study conflict.
   *
   * @throws IndexConflictError with `rejectConflicts`, see there, and its
   *   subclass OtherPatientError.
   */
  addInstance(record: InstanceRecord, file: StoredFile, source: string, options: { rejectConflicts?: boolean } = {}): void {
    this.addTransaction.immediate(record, file, source, options.rejectConflicts ?? false);
  }

  /**
   * Indexes several instances in one transaction, each in its own savepoint,
   * and returns each entry's error or undefined. An entry that fails leaves
   * no rows, and the others are still committed. An error of the commit
   * itself is thrown, and then no entry is indexed.
   */
  addInstances(entries: readonly IndexEntry[]): unknown[] {
    return this.db.transaction(() =>
      entries.map((entry) => {
        try {
          this.addTransaction(entry.record, entry.file, entry.source, entry.rejectConflicts ?? false);
          return undefined;
        } catch (error) {
          return error;
        }
      }),
    ).immediate();
  }

  /** Removes an instance row, and its series, study and patient when they become empty. */
  removeInstance(sopInstanceUid: string): boolean {
    return this.removeTransaction.immediate(sopInstanceUid);
  }

  /**
   * Returns the SOP Instance UIDs of the rows indexed in place at each path
   * inside `folders` (absolute real paths, files or folders), keyed by path.
   * One range query on instances_path per folder, so a scan reads them once.
   */
  listInPlaceInstancesUnder(folders: readonly string[]): Map<string, string[]> {
    const query = this.db.prepare(
      `SELECT path, sop_instance_uid AS sopInstanceUid FROM instances
       WHERE in_place = 1 AND (path = ? OR (path >= ? AND path < ?))`,
    );
    const uidsByPath = new Map<string, string[]>();
    for (const folder of new Set(folders)) {
      const prefix = folder.endsWith(path.sep) ? folder : folder + path.sep;
      // SQLite compares TEXT bytewise, so [prefix, end) with end = prefix whose last character is incremented contains exactly the paths that start with prefix.
      const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
      for (const row of query.iterate(folder, prefix, end) as IterableIterator<{ path: string; sopInstanceUid: string }>) {
        const uids = uidsByPath.get(row.path);
        if (uids === undefined) uidsByPath.set(row.path, [row.sopInstanceUid]);
        else if (!uids.includes(row.sopInstanceUid)) uids.push(row.sopInstanceUid);
      }
    }
    return uidsByPath;
  }

  /** Returns the SOP Instance UIDs of every row at `absolutePath`, in place or not, through the instances_path index. */
  findInstancesAt(absolutePath: string): string[] {
    this.atPathQuery ??= this.db.prepare('SELECT sop_instance_uid AS sopInstanceUid FROM instances WHERE path = ?');
    return (this.atPathQuery.all(this.toStoredPath(absolutePath)) as Array<{ sopInstanceUid: string }>).map((row) => row.sopInstanceUid);
  }

  /** Returns the SOP Instance UIDs of the rows indexed in place at `absolutePath`, through the instances_path index. */
  findInPlaceInstancesAt(absolutePath: string): string[] {
    this.inPlaceAtPathQuery ??= this.db.prepare('SELECT sop_instance_uid AS sopInstanceUid FROM instances WHERE path = ? AND in_place = 1');
    return (this.inPlaceAtPathQuery.all(absolutePath) as Array<{ sopInstanceUid: string }>).map((row) => row.sopInstanceUid);
  }

  /**
   * Removes the row of `sopInstanceUid`, as removeInstance does, only while it
   * is indexed in place at `absolutePath`. Returns false when it is not, for
   * example because it was indexed again at another path since it was read.
   */
  removeInPlaceInstanceAt(sopInstanceUid: string, absolutePath: string): boolean {
    return this.db
      .transaction(() => {
        const indexed = this.findInstance(sopInstanceUid);
        if (!indexed?.inPlace || indexed.path !== absolutePath) return false;
        return this.removeInstanceRows(sopInstanceUid);
      })
      .immediate();
  }

  /**
   * Lists the distinct transfer syntaxes of the indexed instances of one SOP class.
   * NOTE: the index on sop_class_uid finds the rows, but the query still reads
   * every instance of the class, because no index covers transfer_syntax_uid.
   */
  listTransferSyntaxes(sopClassUid: string): string[] {
    return this.db
      .prepare('SELECT DISTINCT transfer_syntax_uid FROM instances WHERE sop_class_uid = ?')
      .pluck()
      .all(sopClassUid) as string[];
  }

  listInstances(filter: InstanceFilter = {}): StoredInstance[] {
    const conditions: string[] = [];
    const parameters: string[] = [];
    if (filter.studyInstanceUid !== undefined) {
      conditions.push('st.study_instance_uid = ?');
      parameters.push(filter.studyInstanceUid);
    }
    if (filter.seriesInstanceUid !== undefined) {
      conditions.push('se.series_instance_uid = ?');
      parameters.push(filter.seriesInstanceUid);
    }
    if (filter.sopInstanceUids !== undefined) {
      if (filter.sopInstanceUids.length === 0) return [];
      // json_each keeps one bound parameter however long the list is.
      conditions.push('i.sop_instance_uid IN (SELECT value FROM json_each(?))');
      parameters.push(JSON.stringify(filter.sopInstanceUids));
    }
    if (filter.patientId !== undefined) {
      // NOTE: SQLite trim() removes only spaces, the padding that LO allows,
      // where samePatientId also removes other whitespace.
      conditions.push('trim(p.patient_id) = ?');
      parameters.push(filter.patientId.trim());
    }
    const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
    const rows = this.db
      .prepare(`SELECT ${INSTANCE_COLUMNS} ${INSTANCE_JOINS} ${where}
        ORDER BY st.study_instance_uid, se.series_number, se.series_instance_uid, i.instance_number, i.sop_instance_uid`)
      .all(...parameters) as InstanceRow[];
    return rows.map((row) => {
      const instance = this.toIndexedInstance(row);
      return {
        sopInstanceUid: instance.sopInstanceUid,
        sopClassUid: instance.sopClassUid,
        transferSyntaxUid: instance.transferSyntaxUid,
        path: instance.path,
        size: instance.size,
        inPlace: instance.inPlace,
      };
    });
  }

  listStudyConflicts(studyInstanceUid?: string): StudyConflict[] {
    const where = studyInstanceUid === undefined ? '' : 'WHERE study_instance_uid = ?';
    return this.db
      .prepare(`
        SELECT study_instance_uid AS studyInstanceUid, stored_patient_id AS storedPatientId,
          stored_issuer_of_patient_id AS storedIssuerOfPatientId, received_patient_id AS receivedPatientId,
          received_issuer_of_patient_id AS receivedIssuerOfPatientId, sop_instance_uid AS sopInstanceUid,
          source, detected_at AS detectedAt
        FROM study_conflicts ${where} ORDER BY id`)
      .all(...(studyInstanceUid === undefined ? [] : [studyInstanceUid])) as StudyConflict[];
  }

  /** Returns summaries of the given studies, skipping UIDs that are not indexed. */
  summarizeStudies(studyInstanceUids: Iterable<string>): StudySummary[] {
    const uids = [...new Set(studyInstanceUids)];
    if (uids.length === 0) return [];
    const rows = this.db
      .prepare(`
        SELECT ${STUDY_SUMMARY_COLUMNS}
        FROM studies st JOIN patients p ON p.id = st.patient_ref
        WHERE st.study_instance_uid IN (SELECT value FROM json_each(?))
        ORDER BY st.study_date, st.study_time, st.study_instance_uid`)
      .all(JSON.stringify(uids)) as StudySummaryRow[];
    return rows.map(toStudySummary);
  }

  /** Converts an absolute path to its stored form: relative inside the root, absolute outside. */
  toStoredPath(absolutePath: string): string {
    const relative = path.relative(this.root, absolutePath);
    const inside = relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
    return inside ? relative : absolutePath;
  }

  private toIndexedInstance(row: InstanceRow): IndexedInstance {
    return {
      ...row,
      path: path.isAbsolute(row.path) ? row.path : path.join(this.root, row.path),
      inPlace: row.inPlace === 1,
    };
  }

  private addInstanceRows(record: InstanceRecord, file: StoredFile, source: string, rejectConflicts: boolean): void {
    const { patient, study, series, instance } = record;
    this.otherPatientAttributesInAdd = [];
    const stored = this.findInstance(instance.sopInstanceUid);
    if (rejectConflicts && stored && stored.path !== file.path && storedCopyExists(stored)) {
      throw new IndexConflictError(instance.sopInstanceUid, stored.path, `SOP Instance UID ${instance.sopInstanceUid} is already indexed with the file ${stored.path}`);
    }
    if (rejectConflicts) {
      const otherPatient = this.findOtherPatient(record);
      if (otherPatient) throw new OtherPatientError(otherPatient);
    }
    const studyRef = this.resolveStudy(record, file, source);
    const seriesRef = this.resolveSeries(record, studyRef, rejectConflicts);

    // A new UID, the common case, needs no delete.
    if (stored) this.removeInstanceRows(instance.sopInstanceUid, seriesRef);
    this.statements.insertInstance.run({
      sopInstanceUid: instance.sopInstanceUid,
      seriesRef,
      sopClassUid: instance.sopClassUid,
      instanceNumber: instance.instanceNumber,
      transferSyntaxUid: instance.transferSyntaxUid,
      size: file.size,
      path: this.toStoredPath(file.path),
      inPlace: file.inPlace ? 1 : 0,
      specificCharacterSet: instance.specificCharacterSet,
      receivedAt: file.receivedAt,
      sourceAeTitle: file.sourceAeTitle,
    });
    this.logger.debug('Indexed instance', {
      sopInstanceUid: instance.sopInstanceUid,
      studyInstanceUid: study.studyInstanceUid,
      seriesInstanceUid: series.seriesInstanceUid,
      patientId: patient.patientId,
      path: file.path,
    });
    if (this.otherPatientAttributesInAdd.length > 0) this.reportOtherPatientAttributes(record, source, this.otherPatientAttributesInAdd);
  }

  /**
   * Logs a study whose Patient's Name, Birth Date or Sex differs from the
   * patient record of its Patient ID, once per study. One Patient ID shared by
   * two people is a known clinical case, so the line names the IDs and the
   * differing attributes, never their values.
   */
  private reportOtherPatientAttributes(record: InstanceRecord, source: string, attributes: string[]): void {
    if (attributes.includes('PatientName')) this.studiesWithOtherPatientName++;
    this.logger.warn("Study carries another Patient's Name, Birth Date or Sex than the patient record of its Patient ID, which only a PATIENT level C-FIND returns", {
      differentAttributes: attributes.join(','),
      patientId: record.patient.patientId,
      issuerOfPatientId: record.patient.issuerOfPatientId,
      studyInstanceUid: record.study.studyInstanceUid,
      sopInstanceUid: record.instance.sopInstanceUid,
      source,
    });
  }

  /** Returns the study row id, inserting the patient and study when they are new. */
  private resolveStudy(record: InstanceRecord, file: StoredFile, source: string): number {
    const { patient, study, instance } = record;
    const identityKey = patientIdentityKey(patient);
    const existing = this.statements.findStudy.get(study.studyInstanceUid) as
      | { id: number; identityKey: string; patientId: string; issuer: string }
      | undefined;

    if (existing) {
      if (existing.identityKey !== identityKey) {
        // Another Patient ID was rejected before (findOtherPatient), so the issuer differs, or, without a Patient ID, the name or birth date.
        const difference = patient.patientId === '' ? "another Patient's Name or Birth Date and no Patient ID" : 'another Issuer of Patient ID (0010,0021)';
        this.logger.warn(`Study Instance UID received with ${difference}; keeping the first patient`, {
          studyInstanceUid: study.studyInstanceUid,
          storedPatientId: existing.patientId,
          receivedPatientId: patient.patientId,
          storedIssuerOfPatientId: existing.issuer,
          receivedIssuerOfPatientId: patient.issuerOfPatientId,
          sopInstanceUid: instance.sopInstanceUid,
          source,
        });
        this.statements.insertConflict.run(
          study.studyInstanceUid,
          existing.patientId,
          existing.issuer,
          patient.patientId,
          patient.issuerOfPatientId,
          instance.sopInstanceUid,
          source,
          new Date().toISOString(),
        );
      } else {
        this.statements.fillStudy.run({ ...patient, id: existing.id });
      }
      return existing.id;
    }

    const patientRef = this.resolvePatient(record, identityKey, file);
    const result = this.statements.insertStudy.run({
      ...study,
      patientName: patient.patientName,
      birthDate: patient.birthDate,
      sex: patient.sex,
      patientRef,
      specificCharacterSet: instance.specificCharacterSet,
    });
    return Number(result.lastInsertRowid);
  }

  private resolvePatient(record: InstanceRecord, identityKey: string, file: StoredFile): number {
    const { patient, instance } = record;
    const existing = this.statements.findPatient.get(identityKey) as PatientRecordRow | undefined;
    if (existing) {
      this.statements.fillPatient.run({ ...patient, id: existing.id });
      this.otherPatientAttributesInAdd = differentPatientAttributes(existing, patient);
      if (this.otherPatientAttributesInAdd.includes('PatientName')) {
        this.keepEarliestPatientName(existing.id, existing.patientName, patient.patientName, file.receivedAt);
      }
      return existing.id;
    }
    const result = this.statements.insertPatient.run({
      ...patient,
      identityKey,
      specificCharacterSet: instance.specificCharacterSet,
    });
    return Number(result.lastInsertRowid);
  }

  /**
   * Gives the patient record the Patient's Name of its earliest received
   * instance, so that the name does not depend on the order in which reindex
   * or scan reads the files. Received instances come after the stored ones,
   * so on receive the stored name stays. Reindex keeps each instance's
   * received_at, so it ends with the same name. Of two names received in the
   * same millisecond, the smaller string wins. The comparison runs once per
   * new study, only when the names differ.
   * NOTE: only the instance that starts a study is compared, so a study whose
   * instances carry several names counts with the name of the one read first.
   * When reindex replaces the name, the warning names the study that brought
   * the earlier name, not the studies that differ from it from then on.
   */
  private keepEarliestPatientName(patientRef: number, storedName: string, receivedName: string, receivedAt: string): void {
    const earliest = (this.statements.earliestReceiveOfPatient.get(patientRef) as { receivedAt: string | null }).receivedAt;
    const isEarlier = earliest === null || receivedAt < earliest || (receivedAt === earliest && receivedName < storedName);
    if (isEarlier) this.statements.setPatientName.run(receivedName, patientRef);
  }

  /**
   * Returns the row ID of the record's series, inserting the series when new.
   * A Series Instance UID already indexed under another study is invalid
   * DICOM: with `rejectConflicts` it throws IndexConflictError, otherwise the
   * instance joins the series of the first study.
   */
  private resolveSeries(record: InstanceRecord, studyRef: number, rejectConflicts: boolean): number {
    const { study, series, instance } = record;
    const existing = this.statements.findSeries.get(series.seriesInstanceUid) as
      | { id: number; studyInstanceUid: string }
      | undefined;
    if (existing) {
      if (existing.studyInstanceUid !== study.studyInstanceUid && rejectConflicts) {
        throw new IndexConflictError(
          instance.sopInstanceUid,
          undefined,
          `Series Instance UID ${series.seriesInstanceUid} is indexed under study ${existing.studyInstanceUid}, not under study ${study.studyInstanceUid}`,
        );
      }
      if (existing.studyInstanceUid !== study.studyInstanceUid) {
        this.logger.warn('Series Instance UID received in another study; keeping the first study', {
          seriesInstanceUid: series.seriesInstanceUid,
          storedStudyInstanceUid: existing.studyInstanceUid,
          receivedStudyInstanceUid: study.studyInstanceUid,
          sopInstanceUid: instance.sopInstanceUid,
        });
      }
      return existing.id;
    }
    const result = this.statements.insertSeries.run({ ...series, studyRef });
    return Number(result.lastInsertRowid);
  }

  /**
   * Deletes the instance row and prunes its series, study and patient when
   * they become empty. The series `keepSeriesRef` is about to receive the
   * replacement row, so it is never pruned.
   */
  private removeInstanceRows(sopInstanceUid: string, keepSeriesRef?: number): boolean {
    const deleted = this.statements.deleteInstance.get(sopInstanceUid) as { seriesRef: number } | undefined;
    if (!deleted || deleted.seriesRef === keepSeriesRef) return deleted !== undefined;

    const series = this.statements.pruneSeries.get(deleted.seriesRef) as { studyRef: number } | undefined;
    if (!series) return true;
    const study = this.statements.pruneStudy.get(series.studyRef) as { patientRef: number } | undefined;
    if (study) this.statements.prunePatient.run(study.patientRef, study.patientRef);
    return true;
  }
}
