/**
 * Anonymized copies for transfers: `loader send`, `migrate` and `sync` with
 * --anonymize write each archived instance through the anonymizer into a
 * temporary folder and send the copy. The archive is never changed.
 *
 * Replacement UIDs and pseudonyms are HMAC-SHA256 values of the job secret
 * (see src/dicom/anonymizer/job-keys.ts), so the destination UIDs of a study
 * are known before any instance is anonymized, and two runs with the same
 * secret write the same UIDs and pseudonyms.
 */
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { readDicomFileHeader } from '../../dicom/file-reader';
import { createAnonymizationJob } from '../../dicom/anonymizer';
import type { AnonymizationJob, AnonymizationOptions, WrittenPatient } from '../../dicom/anonymizer';
import { PseudonymTable, UidMapper } from '../../dicom/anonymizer/job-keys';
import { Tags } from '../../dicom/tags';
import type { StoredInstance } from '../archive';
import { checkStoredFile } from './stored-file-check';

/**
 * Temporary folders that transforms created and have not yet removed. A
 * process 'exit' handler removes them, because process.exit() (a second
 * Ctrl-C or SIGTERM) and an uncaught error skip the close() of the
 * command's finally block. A SIGKILL still leaves them behind.
 */
const openTempDirs = new Set<string>();
let exitHandlerInstalled = false;

function removeOpenTempDirs(): void {
  for (const dir of openTempDirs) fs.rmSync(dir, { recursive: true, force: true });
  openTempDirs.clear();
}

function trackTempDir(dir: string): void {
  openTempDirs.add(dir);
  if (exitHandlerInstalled) return;
  process.on('exit', removeOpenTempDirs);
  exitHandlerInstalled = true;
}

/** Outcome of transforming one archived instance before it is sent. */
export type TransformResult =
  | ({
      status: 'transformed';
      /** The copy to send in place of the archived instance. */
      instance: StoredInstance;
      studyInstanceUid: string;
      sopInstanceUid: string;
    } & WrittenPatient)
  | { status: 'held'; reason: string };

/** A patient's pseudonym, keyed by an HMAC of the patient key so the table stores no Patient ID or name. */
export interface PseudonymEntry {
  /** Hex HMAC-SHA256 of the patient key (Patient ID with issuer, or the name when the ID is empty) under the job secret. */
  patientKeyHash: string;
  patientName: string;
  patientId: string;
}

/**
 * Changes archived instances before a transfer sends them. The destination
 * UIDs must be computable from the source UIDs alone, so a run can check the
 * destination before it transforms anything.
 */
export interface InstanceTransform {
  /** Returns the UID (study, series or SOP instance) that a source UID has on the destination. */
  destinationUid(sourceUid: string): string;
  /** Writes the copy to send, or returns why the instance is held back. */
  transform(instance: StoredInstance): Promise<TransformResult>;
  /** Deletes a copy that `transform` wrote, once it is sent. */
  discard(result: TransformResult): void;
}

/** Options of an anonymizing transform; the secret is required, so the caller decides where it is kept. */
export interface AnonymizingTransformOptions extends Omit<AnonymizationOptions, 'jobSecret' | 'pseudonymScheme'> {
  jobSecret: Buffer;
  /** Folder of the temporary copies; default: a new folder under os.tmpdir(). */
  tempDir?: string;
  /** Called once per patient the first time this transform meets them. */
  onPseudonym?: (entry: PseudonymEntry) => void;
}

/**
 * Anonymizes archived instances into temporary copies with the hash
 * pseudonym scheme, which depends only on the secret. The counter scheme of
 * `loader anonymize` numbers patients in the order one run meets them, so a
 * resumed run would number them differently.
 */
export class AnonymizingTransform implements InstanceTransform {
  private readonly job: AnonymizationJob;
  private readonly uids: UidMapper;
  private readonly pseudonyms: PseudonymTable;
  private readonly seenPatients = new Set<string>();
  readonly tempDir: string;
  private readonly ownsTempDir: boolean;

  constructor(private readonly options: AnonymizingTransformOptions) {
    const { tempDir, onPseudonym: _onPseudonym, ...anonymization } = options;
    this.job = createAnonymizationJob({ ...anonymization, pseudonymScheme: 'hash' });
    this.uids = new UidMapper(options.jobSecret);
    this.pseudonyms = new PseudonymTable(options.jobSecret, options.pseudonymPrefix ?? 'ANON', 'hash', options.pseudonymHexDigits);
    this.ownsTempDir = tempDir === undefined;
    this.tempDir = tempDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'loader-anonymized-'));
    if (this.ownsTempDir) trackTempDir(this.tempDir);
    fs.mkdirSync(this.tempDir, { recursive: true });
  }

  destinationUid(sourceUid: string): string {
    return this.uids.replace(sourceUid);
  }

  async transform(instance: StoredInstance): Promise<TransformResult> {
    await checkStoredFile(instance);
    const result = await this.job.anonymizeFile(instance.path, (uids) => path.join(this.tempDir, `${uids.sopInstanceUid}.dcm`));
    if (result.status === 'held') return { status: 'held', reason: result.reason };

    const outPath = result.outPath!;
    const header = await readDicomFileHeader(outPath);
    await this.recordPatient(instance.path);
    const copy: StoredInstance = {
      sopInstanceUid: result.sopInstanceUid,
      sopClassUid: instance.sopClassUid,
      transferSyntaxUid: header.transferSyntaxUid,
      path: outPath,
      size: fs.statSync(outPath).size,
    };
    return {
      status: 'transformed',
      instance: copy,
      studyInstanceUid: result.studyInstanceUid,
      sopInstanceUid: result.sopInstanceUid,
      pseudonym: result.pseudonym,
      originalPatientName: result.originalPatientName,
      originalStudyInstanceUid: result.originalStudyInstanceUid,
    };
  }

  discard(result: TransformResult): void {
    if (result.status === 'transformed') fs.rmSync(result.instance.path, { force: true });
  }

  /** Deletes the temporary folder when this transform created it. */
  close(): void {
    if (!this.ownsTempDir) return;
    fs.rmSync(this.tempDir, { recursive: true, force: true });
    openTempDirs.delete(this.tempDir);
  }

  /** Reports the pseudonym of the instance's patient the first time the patient is met. */
  private async recordPatient(sourcePath: string): Promise<void> {
    if (!this.options.onPseudonym) return;
    const { dataset } = await readDicomFileHeader(sourcePath);
    const id = dataset.getString(Tags.PatientID) ?? '';
    // The same key as patientKey() in src/dicom/anonymizer/job.ts, so the pseudonym matches the one written.
    const key = id !== '' ? `id:${id}\\${dataset.getString(Tags.IssuerOfPatientID) ?? ''}` : `name:${dataset.getString(Tags.PatientName) ?? ''}`;
    if (this.seenPatients.has(key)) return;
    this.seenPatients.add(key);
    const pseudonym = this.pseudonyms.pseudonymFor(key);
    const patientKeyHash = createHmac('sha256', this.options.jobSecret).update(`pseudonym-table\0${key}`, 'utf8').digest('hex');
    this.options.onPseudonym({ patientKeyHash, patientName: pseudonym.patientName, patientId: pseudonym.patientId });
  }
}
