/**
 * Persisted migration jobs: one SQLite file with a row per job and a row per
 * study of each job, so an interrupted migration resumes where it stopped.
 *
 * The schema version is PRAGMA user_version. The file uses WAL mode, so
 * another process (a test, a status command) can read it while a migration
 * writes.
 *
 * An anonymizing job also keeps its secret, its anonymization options, the
 * destination UIDs and held-back instances of its studies, and its
 * pseudonym table. The secret lets a later run write the same UIDs and
 * pseudonyms, so anyone who can read this file can link anonymized studies
 * back to the originals in the local archive.
 *
 * The table job_owners names the process that runs each job (claimJob), so a
 * second run of a job fails while the first runs, and a run resumes the
 * studies left in state running only when their owner has stopped.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import Database from 'better-sqlite3';

import { isRunningProcess, PROCESS_TAG, processStartIdentity } from '../archive/archive-users';
import { createLogger } from '../logger';
import { createPrivateFile, makePrivateFolder, OTHERS_ANY, tightenFileMode } from '../private-files';
import type { StudyFilters } from '../query-retrieve/study-filters';

const log = createLogger('loader.jobs');

/** File name of the job database inside the settings folder. */
export const JOB_DATABASE_FILE = 'jobs.sqlite';

const SCHEMA_VERSION = 4;

/** Bytes of a job secret generated at job creation. */
export const JOB_SECRET_BYTES = 32;

/** Returns a new random job secret for an anonymizing job. */
export function generateJobSecret(): Buffer {
  return randomBytes(JOB_SECRET_BYTES);
}

/** 'interrupted': the run was cancelled and studies remain pending. */
export type JobState = 'running' | 'done' | 'partial' | 'failed' | 'interrupted';

export type StudyState = 'pending' | 'running' | 'done' | 'already-present' | 'failed';

/**
 * The way a study reached the destination, with the same words in the text
 * report and in JSON. move: C-MOVE from the source node straight to the
 * destination node. relay: retrieve into the local archive, then C-STORE to
 * the destination. send: C-STORE from the local archive. retrieve: C-GET or
 * C-MOVE from a node into the local archive.
 */
export type TransferMethod = 'move' | 'relay' | 'send' | 'retrieve';

/**
 * Selection of studies on the source: the filters of `loader find` and
 * explicit Study Instance UIDs, or `all` for every study.
 */
export interface JobSelection extends StudyFilters {
  /**
   * Every study on the source, found with universal matching, so studies
   * without Study Date, Patient Name or another optional attribute are
   * included. It goes with no filter (see checkSelection).
   */
  all?: boolean;
}

export interface JobOptions {
  method: 'auto' | 'move' | 'relay';
  concurrency: number;
  retries: number;
}

export interface JobRecord {
  id: string;
  /** Registered node name, or 'local' for the local archive. */
  source: string;
  destination: string;
  selection: JobSelection;
  /** Options of the latest run. */
  options: JobOptions;
  state: JobState;
  /** Anonymization options of an anonymizing job, without the secret; undefined for a plain copy. */
  anonymization?: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

export interface StudyRecord {
  studyInstanceUid: string;
  state: StudyState;
  /** Method by which the study reached the destination, or for a failed study the method of the last transfer attempted. */
  method?: TransferMethod;
  /** Attempts over every run of the job. */
  attempts: number;
  lastError?: string;
  /** Instances of the study on the source, from an IMAGE level C-FIND or the archive index. */
  sourceCount?: number;
  /** Instances of the study on the destination at the last check. */
  destinationCount?: number;
  /** Study Instance UID on the destination when the job anonymizes; undefined otherwise. */
  destinationStudyUid?: string;
  /** Instances the anonymizer held back, which the destination lacks on purpose. */
  heldBack?: number;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  updatedAt: string;
}

interface StudyRow {
  study_instance_uid: string;
  state: StudyState;
  method: TransferMethod | null;
  attempts: number;
  last_error: string | null;
  source_count: number | null;
  destination_count: number | null;
  destination_study_uid: string | null;
  held_back: number | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
}

interface JobRow {
  id: string;
  source: string;
  destination: string;
  selection: string;
  options: string;
  state: JobState;
  anonymization: string | null;
  created_at: string;
  updated_at: string;
}

/** Job names given with --job: letters, digits, '.', '_' and '-', up to 64 characters. */
const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export class JobStoreError extends Error {
  override readonly name = 'JobStoreError';
}

/** The process that runs a job, as recorded in job_owners. */
export interface JobOwner {
  pid: number;
  /** Host name of the machine the process runs on (os.hostname()). */
  host: string;
  /** processStartIdentity() of the process, or undefined where it cannot be read. */
  startIdentity?: string;
  /** Random tag of the process (PROCESS_TAG), which distinguishes this process from an earlier one with the same ID. */
  tag: string;
  /** When the process claimed the job, as an ISO 8601 timestamp. */
  claimedAt: string;
}

/** Raised when another run of the job is in progress; the CLI exits with 1. */
export class JobRunningError extends Error {
  override readonly name = 'JobRunningError';

  constructor(
    readonly jobId: string,
    readonly owner: JobOwner,
    databaseFile: string,
  ) {
    super(describeRunningJob(jobId, owner, databaseFile));
  }
}

function describeRunningJob(jobId: string, owner: JobOwner, databaseFile: string): string {
  const since = `since ${owner.claimedAt}`;
  if (owner.pid === process.pid && owner.tag === PROCESS_TAG) return `job "${jobId}" is already running in this process (${since}); wait until that run finishes`;
  if (owner.host !== os.hostname()) {
    return (
      `job "${jobId}" is running in loader process ${owner.pid} on host ${owner.host} (${since}), which this host cannot check; ` +
      `wait until it finishes, or if that process has stopped, run the command on ${owner.host}, ` +
      `or delete the job's row from table job_owners in ${databaseFile}`
    );
  }
  return `job "${jobId}" is already running in loader process ${owner.pid} (${since}); wait until it finishes, or stop that process and run the command again`;
}

/** Returns this process as a job owner. */
function currentOwner(): JobOwner {
  return { pid: process.pid, host: os.hostname(), startIdentity: processStartIdentity(process.pid), tag: PROCESS_TAG, claimedAt: new Date().toISOString() };
}

/**
 * True while the owner runs. A process on another host cannot be checked,
 * so it counts as running.
 * NOTE: a config folder that moves to a machine or container with another
 * host name keeps its claims until the job_owners row is deleted by hand.
 */
function isOwnerRunning(owner: JobOwner): boolean {
  if (owner.host !== os.hostname()) return true;
  return isRunningProcess(owner.pid, owner.tag, owner.startIdentity);
}

/** A job claimed by this process; release() ends the claim. */
export interface JobClaim {
  jobId: string;
  /** The earlier owner, which had stopped without releasing the job; undefined when the job had no owner. */
  stoppedOwner?: JobOwner;
  release(): void;
}

interface OwnerRow {
  pid: number;
  host: string;
  start_identity: string | null;
  tag: string;
  claimed_at: string;
}

/** Checks a job name given by the user; throws JobStoreError naming the allowed characters. */
export function validateJobName(name: string): string {
  if (!JOB_NAME.test(name)) {
    throw new JobStoreError(`job name "${name}" is invalid: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  }
  return name;
}

/** Returns the study filters of the selection, without `all`, for a C-FIND or an archive search. */
export function studyFiltersOf(selection: JobSelection): StudyFilters {
  const filters: JobSelection = { ...selection };
  delete filters.all;
  return filters;
}

/** True when the selection sets any study filter, Study Instance UIDs included. */
export function hasStudyFilter(selection: JobSelection): boolean {
  return Object.values(studyFiltersOf(selection)).some((value) => value !== undefined && value !== '' && !(Array.isArray(value) && value.length === 0));
}

/** Checks that `all` goes with no filter; throws JobStoreError otherwise. */
export function checkSelection(selection: JobSelection): void {
  if (selection.all === true && hasStudyFilter(selection)) {
    throw new JobStoreError('a selection of all studies cannot also have filters: give either all studies or filters');
  }
}

/**
 * Returns the selection with sorted lists and without empty fields, so equal
 * selections serialize equally. `all` is kept as `all: true`, so every study
 * is a selection of its own, apart from no filter and from any filter.
 */
export function canonicalSelection(selection: JobSelection): JobSelection {
  if (selection.all === true) {
    checkSelection(selection);
    return { all: true };
  }
  const canonical: JobSelection = {};
  const text = (value: string | undefined) => (value === undefined || value.trim() === '' ? undefined : value.trim());
  const list = (values: string[] | undefined) => (values === undefined || values.length === 0 ? undefined : [...new Set(values)].sort());
  const fields: JobSelection = {
    patientName: text(selection.patientName),
    patientId: text(selection.patientId),
    date: text(selection.date),
    modalities: list(selection.modalities?.map((code) => code.toUpperCase())),
    studyDescription: text(selection.studyDescription),
    accessionNumber: text(selection.accessionNumber),
    studyInstanceUids: list(selection.studyInstanceUids),
  };
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) (canonical as Record<string, unknown>)[key] = value;
  }
  return canonical;
}

/**
 * Derives the job id of a migration without --job: the same source,
 * destination and selection give the same id, so re-running the command resumes it.
 * Node names are compared case-insensitively, as the registry does. An
 * anonymizing migration gets another id than a plain one of the same studies.
 */
export function deriveJobId(source: string, destination: string, selection: JobSelection, anonymized = false): string {
  const parts: unknown[] = [source.toLowerCase(), destination.toLowerCase(), canonicalSelection(selection)];
  if (anonymized) parts.push('anonymized');
  const key = JSON.stringify(parts);
  return `migration-${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;
}

function toStudyRecord(row: StudyRow): StudyRecord {
  return {
    studyInstanceUid: row.study_instance_uid,
    state: row.state,
    method: row.method ?? undefined,
    attempts: row.attempts,
    lastError: row.last_error ?? undefined,
    sourceCount: row.source_count ?? undefined,
    destinationCount: row.destination_count ?? undefined,
    destinationStudyUid: row.destination_study_uid ?? undefined,
    heldBack: row.held_back ?? undefined,
    createdAt: row.created_at,
    startedAt: row.started_at ?? undefined,
    finishedAt: row.finished_at ?? undefined,
    updatedAt: row.updated_at,
  };
}

function toJobOwner(row: OwnerRow): JobOwner {
  return { pid: row.pid, host: row.host, startIdentity: row.start_identity ?? undefined, tag: row.tag, claimedAt: row.claimed_at };
}

function toJobRecord(row: JobRow): JobRecord {
  return {
    id: row.id,
    source: row.source,
    destination: row.destination,
    selection: JSON.parse(row.selection) as JobSelection,
    options: JSON.parse(row.options) as JobOptions,
    state: row.state,
    anonymization: row.anonymization === null ? undefined : (JSON.parse(row.anonymization) as Record<string, unknown>),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** An instance of an anonymizing job: its destination SOP Instance UID, or why it was held back. */
export interface InstanceRecord {
  studyInstanceUid: string;
  sopInstanceUid: string;
  destinationSopInstanceUid?: string;
  heldReason?: string;
}

/**
 * Origin of the secret of an anonymizing job. installation: the installation secret, which `loader send
 * --anonymize` and other jobs use too. job-secret-file: --job-secret-file. one-off: random, for this job only.
 */
export type JobSecretSource = 'installation' | 'job-secret-file' | 'one-off';

/** Anonymization of a job as openJob records it: the options without the secret, the secret and its origin. */
export interface JobAnonymization {
  settings: Record<string, unknown>;
  secret: Buffer;
  secretSource?: JobSecretSource;
}

/** Lists the settings that differ, such as `allowBurnedIn: false in the job, true now`. */
function describeSettingChanges(stored: Record<string, unknown>, requested: Record<string, unknown>): string {
  const keys = [...new Set([...Object.keys(stored), ...Object.keys(requested)])].sort();
  const format = (value: unknown) => (value === undefined ? 'not set' : JSON.stringify(value));
  return keys
    .filter((key) => JSON.stringify(stored[key]) !== JSON.stringify(requested[key]))
    .map((key) => `${key}: ${format(stored[key])} in the job, ${format(requested[key])} now`)
    .join('; ');
}

/** Returns the JSON of an object with its keys sorted, so equal settings compare equal. */
function stableJson(value: Record<string, unknown>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined).sort(([a], [b]) => a.localeCompare(b))));
}

export interface StudyUpdate {
  state?: StudyState;
  method?: TransferMethod;
  lastError?: string | null;
  sourceCount?: number;
  /** null clears the count, when the destination could not be counted. */
  destinationCount?: number | null;
  destinationStudyUid?: string;
  heldBack?: number;
}

export class JobStore {
  private constructor(
    private readonly db: Database.Database,
    /** Path of the database file, for messages. */
    readonly file: string,
  ) {}

  /**
   * Opens or creates the job database at `file`, creating its folder when
   * missing. The database contains each job's secret and pseudonym table, so
   * it is created with mode 0600, and an existing one readable by other users
   * gets that mode.
   */
  static open(file: string): JobStore {
    makePrivateFolder(path.dirname(file));
    createPrivateFile(file);
    for (const part of [file, `${file}-wal`, `${file}-shm`]) tightenFileMode(part, OTHERS_ANY, log);
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      db.close();
      throw new JobStoreError(`${file} has job schema version ${version}, newer than this loader's ${SCHEMA_VERSION}; update the loader`);
    }
    if (version < 1) {
      db.exec(`
        CREATE TABLE IF NOT EXISTS jobs (
          id TEXT PRIMARY KEY,
          source TEXT NOT NULL,
          destination TEXT NOT NULL,
          selection TEXT NOT NULL,
          options TEXT NOT NULL,
          state TEXT NOT NULL,
          created_at TEXT NOT NULL,
          updated_at TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS job_studies (
          job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
          study_instance_uid TEXT NOT NULL,
          state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'already-present', 'failed')),
          method TEXT,
          attempts INTEGER NOT NULL DEFAULT 0,
          last_error TEXT,
          source_count INTEGER,
          destination_count INTEGER,
          created_at TEXT NOT NULL,
          started_at TEXT,
          finished_at TEXT,
          updated_at TEXT NOT NULL,
          PRIMARY KEY (job_id, study_instance_uid)
        );
        PRAGMA user_version = 1;
      `);
    }
    if (version < 2) {
      db.exec(`
        ALTER TABLE jobs ADD COLUMN anonymization TEXT;
        ALTER TABLE jobs ADD COLUMN job_secret BLOB;
        ALTER TABLE job_studies ADD COLUMN destination_study_uid TEXT;
        ALTER TABLE job_studies ADD COLUMN held_back INTEGER;
        CREATE TABLE IF NOT EXISTS job_instances (
          job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
          study_instance_uid TEXT NOT NULL,
          sop_instance_uid TEXT NOT NULL,
          destination_sop_instance_uid TEXT,
          held_reason TEXT,
          updated_at TEXT NOT NULL,
          PRIMARY KEY (job_id, sop_instance_uid)
        );
        CREATE TABLE IF NOT EXISTS job_pseudonyms (
          job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
          patient_key_hash TEXT NOT NULL,
          patient_name TEXT NOT NULL,
          patient_id TEXT NOT NULL,
          created_at TEXT NOT NULL,
          PRIMARY KEY (job_id, patient_key_hash)
        );
        PRAGMA user_version = 2;
      `);
    }
    if (version < 3) {
      // NULL in jobs created before version 3: their secret is a random one or one from --job-secret-file.
      db.exec(`
        ALTER TABLE jobs ADD COLUMN secret_source TEXT;
        PRAGMA user_version = 3;
      `);
    }
    if (version < 4) {
      // No foreign key to jobs, so a run claims its job before openJob creates it.
      db.exec(`
        CREATE TABLE IF NOT EXISTS job_owners (
          job_id TEXT PRIMARY KEY,
          pid INTEGER NOT NULL,
          host TEXT NOT NULL,
          start_identity TEXT,
          tag TEXT NOT NULL,
          claimed_at TEXT NOT NULL
        );
        PRAGMA user_version = 4;
      `);
    }
    return new JobStore(db, file);
  }

  /**
   * Records this process as the owner of the job, and returns the claim. An
   * owner that has stopped (see isOwnerRunning) is replaced, and the claim
   * names it. The check and the write are one IMMEDIATE transaction, so of two
   * processes that claim a job at once, one gets it.
   *
   * @throws JobRunningError when another process, or another run in this process, owns the job.
   */
  claimJob(jobId: string): JobClaim {
    const self = currentOwner();
    const claim = this.db.transaction((): JobOwner | undefined => {
      const row = this.db.prepare('SELECT pid, host, start_identity, tag, claimed_at FROM job_owners WHERE job_id = ?').get(jobId) as OwnerRow | undefined;
      const previous = row === undefined ? undefined : toJobOwner(row);
      if (previous !== undefined && isOwnerRunning(previous)) throw new JobRunningError(jobId, previous, this.file);
      this.db
        .prepare(
          `INSERT INTO job_owners (job_id, pid, host, start_identity, tag, claimed_at) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (job_id) DO UPDATE SET pid = excluded.pid, host = excluded.host, start_identity = excluded.start_identity,
             tag = excluded.tag, claimed_at = excluded.claimed_at`,
        )
        .run(jobId, self.pid, self.host, self.startIdentity ?? null, self.tag, self.claimedAt);
      return previous;
    });
    const stoppedOwner = claim.immediate();
    if (stoppedOwner !== undefined) log.warn('Job was left by a process that stopped; this run takes it over', { job: jobId, pid: stoppedOwner.pid, since: stoppedOwner.claimedAt });
    let released = false;
    return {
      jobId,
      stoppedOwner,
      release: () => {
        if (released || !this.db.open) return;
        released = true;
        this.db.prepare('DELETE FROM job_owners WHERE job_id = ? AND pid = ? AND tag = ? AND claimed_at = ?').run(jobId, self.pid, self.tag, self.claimedAt);
      },
    };
  }

  getJob(id: string): JobRecord | undefined {
    const row = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
    return row ? toJobRecord(row) : undefined;
  }

  /** Returns the recorded origin of a job's secret, or undefined for a job created before it was recorded, a plain job or a job that does not exist. */
  getJobSecretSource(id: string): JobSecretSource | undefined {
    const row = this.db.prepare('SELECT secret_source FROM jobs WHERE id = ?').get(id) as { secret_source: JobSecretSource | null } | undefined;
    return row?.secret_source ?? undefined;
  }

  /** Returns the secret of an anonymizing job, or undefined for a plain job or a job that does not exist. */
  getJobSecret(id: string): Buffer | undefined {
    const row = this.db.prepare('SELECT job_secret FROM jobs WHERE id = ?').get(id) as { job_secret: Buffer | null } | undefined;
    return row?.job_secret ?? undefined;
  }

  /**
   * Returns the job with this id, creating it when missing. An existing job
   * must have the same source, destination and selection, and the same
   * anonymization options and secret (or none); otherwise this throws
   * JobStoreError, so one name never mixes two migrations.
   */
  openJob(id: string, source: string, destination: string, selection: JobSelection, options: JobOptions, anonymization?: JobAnonymization): JobRecord {
    const canonical = canonicalSelection(selection);
    const now = new Date().toISOString();
    const existing = this.getJob(id);
    if (existing) {
      const same =
        existing.source.toLowerCase() === source.toLowerCase() &&
        existing.destination.toLowerCase() === destination.toLowerCase() &&
        JSON.stringify(canonicalSelection(existing.selection)) === JSON.stringify(canonical);
      if (!same) {
        throw new JobStoreError(
          `job "${id}" migrates ${existing.source} to ${existing.destination} with selection ${JSON.stringify(existing.selection)}; ` +
            'give another --job name for a different migration',
        );
      }
      this.checkAnonymization(existing, anonymization);
      this.db.prepare('UPDATE jobs SET options = ?, state = ?, updated_at = ? WHERE id = ?').run(JSON.stringify(options), 'running', now, id);
    } else {
      this.db
        .prepare(
          'INSERT INTO jobs (id, source, destination, selection, options, state, anonymization, job_secret, secret_source, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          id,
          source,
          destination,
          JSON.stringify(canonical),
          JSON.stringify(options),
          'running',
          anonymization ? stableJson(anonymization.settings) : null,
          anonymization ? anonymization.secret : null,
          anonymization?.secretSource ?? null,
          now,
          now,
        );
    }
    return this.getJob(id)!;
  }

  /** Throws JobStoreError when a run's anonymization differs from the one the job was created with. */
  private checkAnonymization(existing: JobRecord, anonymization: JobAnonymization | undefined): void {
    const id = existing.id;
    if (existing.anonymization === undefined && anonymization === undefined) return;
    if (existing.anonymization === undefined) throw new JobStoreError(`job "${id}" copies without anonymizing; give another --job name to anonymize`);
    if (anonymization === undefined) throw new JobStoreError(`job "${id}" anonymizes; run it with --anonymize and the same options, or give another --job name`);
    if (stableJson(existing.anonymization) !== stableJson(anonymization.settings)) {
      const changes = describeSettingChanges(existing.anonymization, anonymization.settings);
      throw new JobStoreError(
        `job "${id}" was created with other anonymization options (${changes}); run it with the options it was created with, ` +
          'or give another --job name with the same --job-secret-file, so that its pseudonyms and UIDs match those already sent',
      );
    }
    const stored = this.getJobSecret(id);
    if (stored === undefined || !stored.equals(anonymization.secret)) {
      throw new JobStoreError(`job "${id}" has another job secret than the one given; drop --job-secret-file or give another --job name`);
    }
  }

  /** Records the destination SOP Instance UID of an instance, or the reason it was held back. */
  recordInstance(jobId: string, record: InstanceRecord): void {
    this.db
      .prepare(
        `INSERT INTO job_instances (job_id, study_instance_uid, sop_instance_uid, destination_sop_instance_uid, held_reason, updated_at)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (job_id, sop_instance_uid) DO UPDATE SET destination_sop_instance_uid = excluded.destination_sop_instance_uid,
           held_reason = excluded.held_reason, updated_at = excluded.updated_at`,
      )
      .run(jobId, record.studyInstanceUid, record.sopInstanceUid, record.destinationSopInstanceUid ?? null, record.heldReason ?? null, new Date().toISOString());
  }

  /** Lists the recorded instances of one study of the job. */
  listInstances(jobId: string, studyInstanceUid: string): InstanceRecord[] {
    const rows = this.db
      .prepare('SELECT study_instance_uid, sop_instance_uid, destination_sop_instance_uid, held_reason FROM job_instances WHERE job_id = ? AND study_instance_uid = ? ORDER BY rowid')
      .all(jobId, studyInstanceUid) as { study_instance_uid: string; sop_instance_uid: string; destination_sop_instance_uid: string | null; held_reason: string | null }[];
    return rows.map((row) => ({
      studyInstanceUid: row.study_instance_uid,
      sopInstanceUid: row.sop_instance_uid,
      destinationSopInstanceUid: row.destination_sop_instance_uid ?? undefined,
      heldReason: row.held_reason ?? undefined,
    }));
  }

  /** Adds a patient's pseudonym to the job's table; a patient already in the table keeps the stored entry. */
  recordPseudonym(jobId: string, patientKeyHash: string, patientName: string, patientId: string): void {
    this.db
      .prepare('INSERT OR IGNORE INTO job_pseudonyms (job_id, patient_key_hash, patient_name, patient_id, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(jobId, patientKeyHash, patientName, patientId, new Date().toISOString());
  }

  /** Returns the job's pseudonym table, keyed by the HMAC of the patient key. */
  listPseudonyms(jobId: string): Map<string, { patientName: string; patientId: string }> {
    const rows = this.db.prepare('SELECT patient_key_hash, patient_name, patient_id FROM job_pseudonyms WHERE job_id = ? ORDER BY rowid').all(jobId) as {
      patient_key_hash: string;
      patient_name: string;
      patient_id: string;
    }[];
    return new Map(rows.map((row) => [row.patient_key_hash, { patientName: row.patient_name, patientId: row.patient_id }]));
  }

  /** Adds studies as pending; studies the job already has keep their state. */
  addStudies(jobId: string, studyInstanceUids: string[]): void {
    const now = new Date().toISOString();
    const insert = this.db.prepare(
      "INSERT OR IGNORE INTO job_studies (job_id, study_instance_uid, state, created_at, updated_at) VALUES (?, ?, 'pending', ?, ?)",
    );
    this.db.transaction(() => {
      for (const uid of studyInstanceUids) insert.run(jobId, uid, now, now);
    })();
  }

  /**
   * Adds studies as pending and sets those the job already has back to
   * pending, also done and failed ones, so a sync run transfers a study again
   * when the source has gained instances since an earlier run. Attempts are kept.
   */
  requeueStudies(jobId: string, studyInstanceUids: string[]): void {
    this.addStudies(jobId, studyInstanceUids);
    const now = new Date().toISOString();
    const reset = this.db.prepare(
      "UPDATE job_studies SET state = 'pending', method = NULL, finished_at = NULL, updated_at = ? WHERE job_id = ? AND study_instance_uid = ? AND state <> 'pending'",
    );
    this.db.transaction(() => {
      for (const uid of studyInstanceUids) reset.run(now, jobId, uid);
    })();
  }

  listStudies(jobId: string): StudyRecord[] {
    const rows = this.db.prepare('SELECT * FROM job_studies WHERE job_id = ? ORDER BY rowid').all(jobId) as StudyRow[];
    return rows.map(toStudyRecord);
  }

  getStudy(jobId: string, studyInstanceUid: string): StudyRecord | undefined {
    const row = this.db.prepare('SELECT * FROM job_studies WHERE job_id = ? AND study_instance_uid = ?').get(jobId, studyInstanceUid) as StudyRow | undefined;
    return row ? toStudyRecord(row) : undefined;
  }

  /** Marks the study running and counts one more attempt. */
  startAttempt(jobId: string, studyInstanceUid: string): StudyRecord {
    const now = new Date().toISOString();
    this.db
      .prepare("UPDATE job_studies SET state = 'running', attempts = attempts + 1, started_at = ?, finished_at = NULL, updated_at = ? WHERE job_id = ? AND study_instance_uid = ?")
      .run(now, now, jobId, studyInstanceUid);
    return this.getStudy(jobId, studyInstanceUid)!;
  }

  /** Updates the given fields; a final state (done, already-present, failed) also sets finished_at. */
  updateStudy(jobId: string, studyInstanceUid: string, update: StudyUpdate): StudyRecord {
    const now = new Date().toISOString();
    const current = this.getStudy(jobId, studyInstanceUid);
    if (!current) throw new JobStoreError(`study ${studyInstanceUid} is not part of job "${jobId}"`);
    const state = update.state ?? current.state;
    const final = state === 'done' || state === 'already-present' || state === 'failed';
    this.db
      .prepare(
        `UPDATE job_studies SET state = ?, method = ?, last_error = ?, source_count = ?, destination_count = ?,
           destination_study_uid = ?, held_back = ?, finished_at = ?, updated_at = ? WHERE job_id = ? AND study_instance_uid = ?`,
      )
      .run(
        state,
        update.method ?? current.method ?? null,
        update.lastError === undefined ? (current.lastError ?? null) : update.lastError,
        update.sourceCount ?? current.sourceCount ?? null,
        update.destinationCount === undefined ? (current.destinationCount ?? null) : update.destinationCount,
        update.destinationStudyUid ?? current.destinationStudyUid ?? null,
        update.heldBack ?? current.heldBack ?? null,
        final && update.state !== undefined ? now : (current.finishedAt ?? null),
        now,
        jobId,
        studyInstanceUid,
      );
    return this.getStudy(jobId, studyInstanceUid)!;
  }

  setJobState(jobId: string, state: JobState): void {
    this.db.prepare('UPDATE jobs SET state = ?, updated_at = ? WHERE id = ?').run(state, new Date().toISOString(), jobId);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
