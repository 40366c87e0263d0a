/**
 * Peers and loader folders for the migration tests: an Orthanc source with
 * uncompressed studies, dcmqrscp destinations, and nodes registered in a
 * throwaway loader configuration.
 */
import * as fs from 'fs';
import * as path from 'path';

import { randomBytes } from 'crypto';

import Database from 'better-sqlite3';

import { LOOPBACK, corpusSamples, makeTempDir, runDcmtk, runLoader } from '../support/peers';
import type { CorpusFile, DcmqrscpHandle, DicomNode, LoaderDirs } from '../support/peers';

/** Calling AE title of the loader in these tests; Orthanc has it registered as modality "loader". */
export const LOADER_AE = 'LOADERMIG';

/** Uncompressed sample studies, because dcmqrscp accepts only uncompressed syntaxes by default. */
export const UNCOMPRESSED_SYNTAXES = ['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.2'];

/** Groups the uncompressed samples by Study Instance UID, largest study first. */
export function uncompressedStudies(): Map<string, CorpusFile[]> {
  const studies = new Map<string, CorpusFile[]>();
  for (const file of corpusSamples()) {
    if (!file.studyInstanceUid || !file.transferSyntaxUid) continue;
    studies.set(file.studyInstanceUid, [...(studies.get(file.studyInstanceUid) ?? []), file]);
  }
  const uncompressed = [...studies].filter(([, files]) => files.every((file) => UNCOMPRESSED_SYNTAXES.includes(file.transferSyntaxUid!)));
  return new Map(uncompressed.sort((a, b) => b[1].length - a[1].length));
}

/** Registers a node in the loader settings of `dirs`; fails the test when the command fails. */
export async function registerNode(dirs: LoaderDirs, name: string, node: DicomNode): Promise<void> {
  const result = await runLoader(['nodes', 'add', name, '--aet', node.aeTitle, '--host', node.host, '--port', String(node.port), '--timeout', 'connect=3', 'association=10', 'dimse=30'], { dirs });
  if (result.code !== 0) throw new Error(`nodes add ${name} failed: ${result.stderr}`);
}

/** Sets a loader setting with `loader config set`. */
export async function configure(dirs: LoaderDirs, key: string, value: string): Promise<void> {
  const result = await runLoader(['config', 'set', key, value], { dirs });
  if (result.code !== 0) throw new Error(`config set ${key} failed: ${result.stderr}`);
}

export function jobDatabase(dirs: LoaderDirs): string {
  return path.join(dirs.configDir, 'jobs.sqlite');
}

/** Returns the state of each study of a job, read from the job database; an empty map before the job exists. */
export function readStudyStates(dirs: LoaderDirs, jobId: string): Map<string, string> {
  const file = jobDatabase(dirs);
  if (!fs.existsSync(file)) return new Map();
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 2000');
    const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'job_studies'").get();
    if (!hasTable) return new Map();
    const rows = db.prepare('SELECT study_instance_uid AS uid, state FROM job_studies WHERE job_id = ?').all(jobId) as { uid: string; state: string }[];
    return new Map(rows.map((row) => [row.uid, row.state]));
  } finally {
    db.close();
  }
}

/** Lists the files dcmqrscp stored, without its index.dat. */
export function storedFiles(dcmqrscp: DcmqrscpHandle): string[] {
  return fs.readdirSync(dcmqrscp.storageDir).filter((name) => name !== 'index.dat');
}

/** Returns an Orthanc modality entry on 127.0.0.1; startOrthanc lets it use every DICOM service. */
export function orthancModality(aeTitle: string, port: number): { aet: string; host: string; port: number } {
  return { aet: aeTitle, host: LOOPBACK, port };
}

/** A study of one instance written for a test, with the UIDs it got. */
export interface MadeStudy {
  file: string;
  studyInstanceUid: string;
  sopInstanceUid: string;
}

/** Returns a new UID under the 2.25 root (PS3.5 B.2), from 128 random bits. */
export function randomUid(): string {
  return `2.25.${BigInt(`0x${randomBytes(16).toString('hex')}`).toString()}`;
}

/**
 * Copies a one-instance uncompressed sample under new Study, Series and SOP
 * Instance UIDs and erases the given attributes, for example "(0008,0020)"
 * for Study Date. dcmodify also updates the Media Storage SOP Instance UID.
 */
export async function makeStudyWithout(erased: string[], label: string): Promise<MadeStudy> {
  const sample = [...uncompressedStudies().values()].find((files) => files.length === 1)![0];
  const file = path.join(makeTempDir(`study-${label}`), `${label}.dcm`);
  fs.copyFileSync(sample.absolutePath, file);
  const studyInstanceUid = randomUid();
  const sopInstanceUid = randomUid();
  const edits = ['-i', `(0020,000D)=${studyInstanceUid}`, '-i', `(0020,000E)=${randomUid()}`, '-i', `(0008,0018)=${sopInstanceUid}`];
  for (const tag of erased) edits.push('-ea', tag);
  const result = await runDcmtk('dcmodify', ['-nb', ...edits, file]);
  if (result.code !== 0) throw new Error(`dcmodify of ${label} failed: ${result.stderr}`);
  return { file, studyInstanceUid, sopInstanceUid };
}
