/**
 * SQLite schema of the archive index and its migrations.
 *
 * The schema version is PRAGMA user_version: version N means MIGRATIONS[0..N-1]
 * have run. Add a migration at the end, never edit a released one.
 *
 * Text columns contain decoded UTF-8 with '' for absent or empty values, so
 * matching treats "absent" and "empty" alike. Dates are YYYYMMDD and times
 * HHMMSS[.FFFFFF]. Counts on studies and series are kept by triggers.
 */

import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { createPrivateFile } from '../private-files';
import { ArchiveError } from './errors';

type Migration = (db: Database.Database) => void;

/** Recomputes ModalitiesInStudy of the study `ref`: distinct non-empty modalities, sorted, backslash-separated. */
const modalitiesOfStudy = (ref: string) => `(
  SELECT COALESCE(group_concat(modality, '\\'), '')
  FROM (SELECT DISTINCT modality FROM series WHERE study_ref = ${ref} AND modality <> '' ORDER BY modality)
)`;

/** Migrations in order, exported for tests that build an index of an earlier schema version. */
export const MIGRATIONS: readonly Migration[] = [
  (db) => {
    db.exec(`
      CREATE TABLE patients (
        id INTEGER PRIMARY KEY,
        -- Patient ID + issuer, or name + birth date when the Patient ID is empty.
        identity_key TEXT NOT NULL UNIQUE,
        patient_id TEXT NOT NULL DEFAULT '',
        issuer_of_patient_id TEXT NOT NULL DEFAULT '',
        patient_name TEXT NOT NULL DEFAULT '',
        birth_date TEXT NOT NULL DEFAULT '',
        sex TEXT NOT NULL DEFAULT '',
        specific_character_set TEXT NOT NULL DEFAULT ''
      );
      CREATE INDEX patients_patient_id ON patients(patient_id);
      CREATE INDEX patients_patient_name ON patients(patient_name);
      CREATE INDEX patients_birth_date ON patients(birth_date);

      CREATE TABLE studies (
        id INTEGER PRIMARY KEY,
        study_instance_uid TEXT NOT NULL UNIQUE,
        patient_ref INTEGER NOT NULL REFERENCES patients(id),
        study_date TEXT NOT NULL DEFAULT '',
        study_time TEXT NOT NULL DEFAULT '',
        study_description TEXT NOT NULL DEFAULT '',
        accession_number TEXT NOT NULL DEFAULT '',
        referring_physician_name TEXT NOT NULL DEFAULT '',
        study_id TEXT NOT NULL DEFAULT '',
        modalities_in_study TEXT NOT NULL DEFAULT '',
        number_of_series INTEGER NOT NULL DEFAULT 0,
        number_of_instances INTEGER NOT NULL DEFAULT 0,
        specific_character_set TEXT NOT NULL DEFAULT ''
      );
      CREATE INDEX studies_patient_ref ON studies(patient_ref);
      CREATE INDEX studies_study_date ON studies(study_date);
      CREATE INDEX studies_accession_number ON studies(accession_number);

      CREATE TABLE series (
        id INTEGER PRIMARY KEY,
        series_instance_uid TEXT NOT NULL UNIQUE,
        study_ref INTEGER NOT NULL REFERENCES studies(id),
        modality TEXT NOT NULL DEFAULT '',
        series_number INTEGER,
        series_description TEXT NOT NULL DEFAULT '',
        body_part_examined TEXT NOT NULL DEFAULT '',
        series_date TEXT NOT NULL DEFAULT '',
        series_time TEXT NOT NULL DEFAULT '',
        instance_count INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX series_study_ref_modality ON series(study_ref, modality);
      CREATE INDEX series_modality ON series(modality);

      CREATE TABLE instances (
        id INTEGER PRIMARY KEY,
        sop_instance_uid TEXT NOT NULL UNIQUE,
        series_ref INTEGER NOT NULL REFERENCES series(id),
        sop_class_uid TEXT NOT NULL DEFAULT '',
        instance_number INTEGER,
        transfer_syntax_uid TEXT NOT NULL DEFAULT '',
        size INTEGER NOT NULL,
        -- Relative to the archive root when in_place = 0, absolute when in_place = 1.
        path TEXT NOT NULL,
        in_place INTEGER NOT NULL DEFAULT 0 CHECK (in_place IN (0, 1)),
        specific_character_set TEXT NOT NULL DEFAULT '',
        received_at TEXT NOT NULL,
        source_ae_title TEXT NOT NULL DEFAULT ''
      );
      CREATE INDEX instances_series_ref ON instances(series_ref);
      CREATE INDEX instances_sop_class_uid ON instances(sop_class_uid);
      CREATE INDEX instances_path ON instances(path);

      -- The same Study Instance UID received under another patient; the first patient is kept.
      CREATE TABLE study_conflicts (
        id INTEGER PRIMARY KEY,
        study_instance_uid TEXT NOT NULL,
        stored_patient_id TEXT NOT NULL,
        stored_issuer_of_patient_id TEXT NOT NULL,
        received_patient_id TEXT NOT NULL,
        received_issuer_of_patient_id TEXT NOT NULL,
        sop_instance_uid TEXT NOT NULL,
        -- Calling AE title or file path the conflicting instance came from.
        source TEXT NOT NULL,
        detected_at TEXT NOT NULL
      );
      CREATE INDEX study_conflicts_study ON study_conflicts(study_instance_uid);

      CREATE TRIGGER instances_after_insert AFTER INSERT ON instances BEGIN
        UPDATE series SET instance_count = instance_count + 1 WHERE id = NEW.series_ref;
        UPDATE studies SET number_of_instances = number_of_instances + 1
          WHERE id = (SELECT study_ref FROM series WHERE id = NEW.series_ref);
      END;
      CREATE TRIGGER instances_after_delete AFTER DELETE ON instances BEGIN
        UPDATE series SET instance_count = instance_count - 1 WHERE id = OLD.series_ref;
        UPDATE studies SET number_of_instances = number_of_instances - 1
          WHERE id = (SELECT study_ref FROM series WHERE id = OLD.series_ref);
      END;
      CREATE TRIGGER instances_after_update_series AFTER UPDATE OF series_ref ON instances
      WHEN OLD.series_ref <> NEW.series_ref BEGIN
        UPDATE series SET instance_count = instance_count - 1 WHERE id = OLD.series_ref;
        UPDATE studies SET number_of_instances = number_of_instances - 1
          WHERE id = (SELECT study_ref FROM series WHERE id = OLD.series_ref);
        UPDATE series SET instance_count = instance_count + 1 WHERE id = NEW.series_ref;
        UPDATE studies SET number_of_instances = number_of_instances + 1
          WHERE id = (SELECT study_ref FROM series WHERE id = NEW.series_ref);
      END;

      CREATE TRIGGER series_after_insert AFTER INSERT ON series BEGIN
        UPDATE studies SET number_of_series = number_of_series + 1,
          modalities_in_study = ${modalitiesOfStudy('NEW.study_ref')}
          WHERE id = NEW.study_ref;
      END;
      CREATE TRIGGER series_after_delete AFTER DELETE ON series BEGIN
        UPDATE studies SET number_of_series = number_of_series - 1,
          modalities_in_study = ${modalitiesOfStudy('OLD.study_ref')}
          WHERE id = OLD.study_ref;
      END;
      CREATE TRIGGER series_after_update_modality AFTER UPDATE OF modality ON series BEGIN
        UPDATE studies SET modalities_in_study = ${modalitiesOfStudy('NEW.study_ref')}
          WHERE id = NEW.study_ref;
      END;
    `);
  },
  (db) => {
    // Patient's Name, Birth Date and Sex of each study, which C-FIND matches at STUDY level and below. The patient
    // record keeps the values of its first study, which may differ (a corrected name, a reused Patient ID).
    // NOTE: existing studies get their patient record's values here. Only `loader reindex` reads them from the files.
    db.exec(`
      ALTER TABLE studies ADD COLUMN patient_name TEXT NOT NULL DEFAULT '';
      ALTER TABLE studies ADD COLUMN patient_birth_date TEXT NOT NULL DEFAULT '';
      ALTER TABLE studies ADD COLUMN patient_sex TEXT NOT NULL DEFAULT '';
      UPDATE studies SET
        patient_name = (SELECT p.patient_name FROM patients p WHERE p.id = studies.patient_ref),
        patient_birth_date = (SELECT p.birth_date FROM patients p WHERE p.id = studies.patient_ref),
        patient_sex = (SELECT p.sex FROM patients p WHERE p.id = studies.patient_ref);
      CREATE INDEX studies_patient_name ON studies(patient_name);
      CREATE INDEX studies_patient_birth_date ON studies(patient_birth_date);
    `);
  },
];

/** Schema version this code writes; a database with a higher user_version is rejected. */
export const SCHEMA_VERSION = MIGRATIONS.length;

export interface OpenIndexOptions {
  /** WAL for the live index; DELETE while reindex builds a replacement file. */
  journalMode?: 'WAL' | 'DELETE';
}

/** SQLite result codes of a file that is not a database or whose pages are damaged. */
const DAMAGED_DATABASE_CODES = new Set(['SQLITE_CORRUPT', 'SQLITE_NOTADB']);

/**
 * Opens (or creates) an index database, checks it with PRAGMA quick_check,
 * sets the pragmas and runs pending migrations, each in its own transaction.
 *
 * @throws ArchiveError with code 'index' that names the file and the reindex
 *   command when the file is not a database or is damaged.
 */
export function openIndexDatabase(file: string, options: OpenIndexOptions = {}): Database.Database {
  let db: Database.Database;
  try {
    // The index contains patient names and IDs, so a new one gets mode 0600, as the archive's DICOM files do.
    createPrivateFile(file);
    db = new Database(file);
  } catch (error) {
    throw new ArchiveError('index', `Failed to open the archive index ${file}: ${String(error)}`, { cause: error });
  }
  try {
    // First, so that the journal mode switch and the migration of a new index wait for another process creating it.
    db.pragma('busy_timeout = 5000');
    setJournalMode(db, options.journalMode ?? 'WAL');
    checkIndexIntegrity(db, file);
    // NORMAL is durable across application crashes in WAL mode; a power loss
    // may lose the last transactions, which reindex can rebuild from the files.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db, file);
    return db;
  } catch (error) {
    db.close();
    if (isDamagedDatabaseError(error)) throw damagedIndexError(file, String((error as { message?: unknown }).message), error);
    throw error;
  }
}

/**
 * Opens an existing index for reading only, without creating files or
 * changing the schema, for an archive folder that this process may not
 * write. It checks the index with PRAGMA quick_check and its schema version.
 *
 * @throws ArchiveError with code 'index' that names the file and the next
 *   step when the index is missing, damaged, needs a schema upgrade or has a
 *   write-ahead log that cannot be read without write access.
 */
export function openReadOnlyIndexDatabase(file: string): Database.Database {
  const root = path.dirname(file);
  if (!fs.existsSync(file)) {
    throw new ArchiveError(
      'index',
      `The archive folder ${root} has no index ${path.basename(file)}, and the folder is read-only, so the index cannot be created. ` +
        `Check --archive or LOADER_ARCHIVE, or copy the folder to a writable place and run "loader reindex --archive COPY".`,
    );
  }

  let db: Database.Database;
  try {
    db = openReadOnlyConnection(file);
  } catch (error) {
    if (isDamagedDatabaseError(error)) throw damagedIndexError(file, String((error as Error).message), error, { readOnly: true });
    if (error instanceof ArchiveError) throw error;
    throw new ArchiveError('index', `Failed to open the archive index ${file} read-only: ${String(error)}`, { cause: error });
  }
  try {
    db.pragma('busy_timeout = 5000');
    checkIndexIntegrity(db, file, { readOnly: true });
    checkReadOnlySchema(db, file);
    return db;
  } catch (error) {
    db.close();
    if (isDamagedDatabaseError(error)) throw damagedIndexError(file, String((error as Error).message), error, { readOnly: true });
    throw error;
  }
}

/**
 * Creates an empty index in memory with the current schema, for media that
 * the window browses without writing to them (LocalArchive access
 * 'in-memory-index'). Its rows are lost when the database is closed.
 */
export function openMemoryIndexDatabase(): Database.Database {
  const db = new Database(':memory:');
  db.pragma('foreign_keys = ON');
  migrate(db, ':memory:');
  return db;
}

/**
 * Opens `file` with SQLite's read-only flag. SQLite opens an index in WAL
 * mode read-only only when its -shm file exists or can be created, which a
 * read-only folder does not allow after the last writer closed the index.
 * It then reports SQLITE_CANTOPEN (seen on a read-only file system) or
 * SQLITE_READONLY_DIRECTORY (seen on a folder without write permission),
 * and the index is read into memory instead. On a full file system SQLite
 * creates the -shm file but cannot size it and reports SQLITE_IOERR_SHMSIZE
 * (seen on a full tmpfs), which falls back to the copy in memory too.
 */
function openReadOnlyConnection(file: string): Database.Database {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    // SQLite opens the file lazily, so this read makes a failure show here.
    db.pragma('user_version', { simple: true });
    return db;
  } catch (error) {
    db?.close();
    const code = (error as { code?: unknown }).code;
    if (code !== 'SQLITE_CANTOPEN' && code !== 'SQLITE_READONLY_DIRECTORY' && code !== 'SQLITE_IOERR_SHMSIZE') throw error;
    return openIndexCopyInMemory(file);
  }
}

/**
 * Reads the index file into memory and opens that copy read-only.
 *
 * NOTE: the whole index stays in memory while the archive is open, so an
 * index of 500 000 instances takes about 185 MB (the size measured for checkIndexIntegrity).
 */
function openIndexCopyInMemory(file: string): Database.Database {
  const walFile = `${file}-wal`;
  if (fs.existsSync(walFile) && fs.statSync(walFile).size > 0) {
    const root = path.dirname(file);
    throw new ArchiveError(
      'index',
      `The archive index ${file} has a write-ahead log ${walFile} that SQLite can read only with write access to ${root}. ` +
        `Open the archive once as a user who may write to it, so that the log is merged into the index, or copy the folder to a writable place and use the copy with --archive.`,
    );
  }
  const bytes = fs.readFileSync(file);
  // Bytes 18 and 19 of the header are the file format versions, 2 for WAL. An
  // in-memory database cannot use WAL, so the copy is marked as a rollback journal database (1).
  if (bytes.length >= 20 && bytes[18] === 2 && bytes[19] === 2) {
    bytes[18] = 1;
    bytes[19] = 1;
  }
  const db = new Database(bytes, { readonly: true });
  db.pragma('user_version', { simple: true });
  return db;
}

/** Raises an ArchiveError when the schema is not the one this version reads, because a read-only index cannot be upgraded. */
function checkReadOnlySchema(db: Database.Database, file: string): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  checkSchemaNotNewer(current, file);
  if (current === SCHEMA_VERSION) return;
  const root = path.dirname(file);
  throw new ArchiveError(
    'index',
    `The archive index ${file} has schema version ${current} and needs an upgrade to version ${SCHEMA_VERSION}, ` +
      `which needs write access to ${root}. Open the archive once as a user who may write to it, ` +
      `or copy the folder to a writable place and use the copy with --archive.`,
  );
}

/** Maximum wait in milliseconds for another connection that holds the lock a journal mode switch needs. */
const JOURNAL_MODE_WAIT_MS = 5000;

/**
 * Sets the journal mode. Switching a new database to WAL needs an exclusive
 * lock, and SQLite reports SQLITE_BUSY at once there instead of waiting for
 * busy_timeout, so two processes creating one archive at once failed with
 * "database is locked". The switch is tried again for up to
 * JOURNAL_MODE_WAIT_MS.
 */
function setJournalMode(db: Database.Database, mode: 'WAL' | 'DELETE'): void {
  const deadline = Date.now() + JOURNAL_MODE_WAIT_MS;
  for (;;) {
    try {
      db.pragma(`journal_mode = ${mode}`);
      return;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      const busy = typeof code === 'string' && code.startsWith('SQLITE_BUSY');
      if (!busy || Date.now() > deadline) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}

/**
 * Runs PRAGMA quick_check, so a damaged index fails when the archive opens
 * instead of failing every later store and query.
 *
 * NOTE: quick_check reads every page, so opening takes longer as the index
 * grows. A synthetic table of 500 000 instance rows (185 MB) in the page
 * cache took about 0.2 s, and a cold read from a slow disk takes longer.
 */
function checkIndexIntegrity(db: Database.Database, file: string, options: { readOnly?: boolean } = {}): void {
  const rows = db.pragma('quick_check') as { quick_check: string }[];
  const problems = rows.map((row) => row.quick_check).filter((result) => result !== 'ok');
  if (problems.length === 0) return;
  const listed = problems.slice(0, 3).join('; ');
  const more = problems.length > 3 ? ` and ${problems.length - 3} more problems` : '';
  throw damagedIndexError(file, `quick_check found: ${listed}${more}`, undefined, options);
}

/**
 * Recognises SQLite's errors by name and code, not by instanceof: the native
 * addon keeps the SqliteError class of the first module instance that loaded
 * it, so under jest's per-file module registries instanceof can fail.
 */
function isDamagedDatabaseError(error: unknown): boolean {
  const candidate = error as { name?: unknown; code?: unknown } | null;
  return (
    candidate?.name === 'SqliteError' && typeof candidate.code === 'string' && DAMAGED_DATABASE_CODES.has(candidate.code)
  );
}

function damagedIndexError(file: string, detail: string, cause?: unknown, options: { readOnly?: boolean } = {}): ArchiveError {
  const root = path.dirname(file);
  const nextStep = options.readOnly
    ? `The folder is read-only, so copy it to a writable place and run "loader reindex --archive COPY" to rebuild the index from the files.`
    : `Run "loader reindex --archive ${root}" to rebuild it from the files.`;
  return new ArchiveError('index', `The archive index ${file} is damaged (${detail}). ${nextStep}`, { cause });
}

/**
 * Brings the schema to SCHEMA_VERSION. The version is read again inside an
 * exclusive transaction, so two processes opening a new archive at once do
 * not both create its tables.
 */
function migrate(db: Database.Database, file: string): void {
  const schemaVersion = () => db.pragma('user_version', { simple: true }) as number;
  const current = schemaVersion();
  checkSchemaNotNewer(current, file);
  if (current === SCHEMA_VERSION) return;

  db.transaction(() => {
    for (let version = schemaVersion(); version < SCHEMA_VERSION; version++) {
      MIGRATIONS[version](db);
      db.pragma(`user_version = ${version + 1}`);
    }
  }).exclusive();
}

function checkSchemaNotNewer(current: number, file: string): void {
  if (current <= SCHEMA_VERSION) return;
  throw new ArchiveError(
    'index',
    `The archive index ${file} has schema version ${current}, newer than ${SCHEMA_VERSION} ` +
      'supported by this version of the loader; upgrade the loader or run reindex',
  );
}
