/**
 * Persisted migration jobs: one SQLite file with a row per job and a row per
 * study of each job, so an interrupted migration resumes where it stopped.
 *
 * The schema version is PRAGMA user_version. The file uses WAL mode, so
 * another process (a test, a status command) can read it while a migration
 * writes.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import Database from 'better-sqlite3';

/** File name of the job database inside the settings folder. */
export const JOB_DATABASE_FILE = 'jobs.sqlite';

const SCHEMA_VERSION = 1;

/** 'interrupted': the run was cancelled and studies remain pending. */
export type JobState = 'running' | 'done' | 'partial' | 'failed' | 'interrupted';

export type StudyState = 'pending' | 'running' | 'done' | 'already-present' | 'failed';

/** The way a study reached the destination. */
export type TransferMethod = 'move' | 'relay' | 'send' | 'retrieve';

/** Selection of studies on the source: the filters of `loader find` and explicit Study Instance UIDs. */
export interface JobSelection {
  patientName?: string;
  patientId?: string;
  date?: string;
  modalities?: string[];
  studyDescription?: string;
  accessionNumber?: string;
  studyInstanceUids?: string[];
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
  createdAt: string;
  updatedAt: string;
}

export interface StudyRecord {
  studyInstanceUid: string;
  state: StudyState;
  method?: TransferMethod;
  /** Attempts over every run of the job. */
  attempts: number;
  lastError?: string;
  /** Instances of the study on the source, from an IMAGE level C-FIND or the archive index. */
  sourceCount?: number;
  /** Instances of the study on the destination at the last check. */
  destinationCount?: number;
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
  created_at: string;
  updated_at: string;
}

/** Job names given with --job: letters, digits, '.', '_' and '-', up to 64 characters. */
const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export class JobStoreError extends Error {
  override readonly name = 'JobStoreError';
}

/** Checks a job name given by the user; throws JobStoreError naming the allowed characters. */
export function validateJobName(name: string): string {
  if (!JOB_NAME.test(name)) {
    throw new JobStoreError(`job name "${name}" is invalid: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  }
  return name;
}

/** Returns the selection with sorted lists and without empty fields, so equal selections serialize equally. */
export function canonicalSelection(selection: JobSelection): JobSelection {
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
 * Node names are compared case-insensitively, as the registry does.
 */
export function deriveJobId(source: string, destination: string, selection: JobSelection): string {
  const key = JSON.stringify([source.toLowerCase(), destination.toLowerCase(), canonicalSelection(selection)]);
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
    createdAt: row.created_at,
    startedAt: row.started_at ?? undefined,
    finishedAt: row.finished_at ?? undefined,
    updatedAt: row.updated_at,
  };
}

function toJobRecord(row: JobRow): JobRecord {
  return {
    id: row.id,
    source: row.source,
    destination: row.destination,
    selection: JSON.parse(row.selection) as JobSelection,
    options: JSON.parse(row.options) as JobOptions,
    state: row.state,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export interface StudyUpdate {
  state?: StudyState;
  method?: TransferMethod;
  lastError?: string | null;
  sourceCount?: number;
  destinationCount?: number;
}

export class JobStore {
  private constructor(private readonly db: Database.Database) {}

  /** Opens or creates the job database at `file`, creating its folder when missing. */
  static open(file: string): JobStore {
    fs.mkdirSync(path.dirname(file), { recursive: true });
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
        PRAGMA user_version = ${SCHEMA_VERSION};
      `);
    }
    return new JobStore(db);
  }

  getJob(id: string): JobRecord | undefined {
    const row = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
    return row ? toJobRecord(row) : undefined;
  }

  /**
   * Returns the job with this id, creating it when missing. An existing job
   * must have the same source, destination and selection; otherwise this
   * throws JobStoreError, so one name never mixes two migrations.
   */
  openJob(id: string, source: string, destination: string, selection: JobSelection, options: JobOptions): JobRecord {
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
      this.db.prepare('UPDATE jobs SET options = ?, state = ?, updated_at = ? WHERE id = ?').run(JSON.stringify(options), 'running', now, id);
    } else {
      this.db
        .prepare('INSERT INTO jobs (id, source, destination, selection, options, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(id, source, destination, JSON.stringify(canonical), JSON.stringify(options), 'running', now, now);
    }
    return this.getJob(id)!;
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
           finished_at = ?, updated_at = ? WHERE job_id = ? AND study_instance_uid = ?`,
      )
      .run(
        state,
        update.method ?? current.method ?? null,
        update.lastError === undefined ? (current.lastError ?? null) : update.lastError,
        update.sourceCount ?? current.sourceCount ?? null,
        update.destinationCount ?? current.destinationCount ?? null,
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
