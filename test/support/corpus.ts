/**
 * The test corpus built by test/fixtures/build-corpus.sh into test/.corpus/.
 * jest's globalSetup builds it when it is missing.
 */
import * as fs from 'fs';
import * as path from 'path';

import { REPO_ROOT } from './process';

export const CORPUS_DIR = path.join(REPO_ROOT, 'test', '.corpus');
export const CORPUS_MANIFEST = path.join(CORPUS_DIR, 'manifest.json');

/** One manifest entry; DICOM fields are null for files that pydicom cannot parse. */
export interface CorpusFile {
  /** Path relative to CORPUS_DIR, e.g. "samples/ct/ct-small.dcm". */
  path: string;
  /** Absolute path, added when the manifest is loaded. */
  absolutePath: string;
  /** Purpose of the file, e.g. "rle", "charset-iso-ir-144", "hostile-truncated-header". */
  kind: string;
  /** File name of the public sample it was made from ("" when written from scratch). */
  source: string;
  bytes: number;
  parsable: boolean;
  transferSyntaxUid: string | null;
  sopClassUid: string | null;
  sopInstanceUid: string | null;
  studyInstanceUid: string | null;
  seriesInstanceUid: string | null;
  /** Decoded with the file's Specific Character Set; components joined with "=". */
  patientName: string | null;
  patientId: string | null;
  /** YYYYMMDD; a legacy "YYYY.MM.DD" value is normalized here and kept in studyDateRaw. */
  studyDate: string | null;
  studyDateRaw: string | null;
  modality: string | null;
  /** Specific Character Set values joined with a backslash; "" when absent. */
  characterSet: string | null;
  numberOfFrames: number | null;
}

export interface CorpusManifest {
  version: number;
  uidRoot: string;
  files: CorpusFile[];
}

let cached: CorpusManifest | undefined;

/** Loads the manifest; throws with the build command when the corpus is missing. */
export function loadCorpus(): CorpusManifest {
  if (cached) return cached;
  if (!fs.existsSync(CORPUS_MANIFEST)) {
    throw new Error(`${CORPUS_MANIFEST} not found: run test/fixtures/build-corpus.sh`);
  }
  const manifest = JSON.parse(fs.readFileSync(CORPUS_MANIFEST, 'utf8')) as CorpusManifest;
  for (const file of manifest.files) file.absolutePath = path.join(CORPUS_DIR, file.path);
  cached = manifest;
  return manifest;
}

/** Returns the valid sample files (samples/), optionally filtered. */
export function corpusSamples(filter: (file: CorpusFile) => boolean = () => true): CorpusFile[] {
  return loadCorpus().files.filter((file) => file.path.startsWith('samples/') && filter(file));
}

/** Returns the malformed files (hostile/). */
export function corpusHostileFiles(): CorpusFile[] {
  return loadCorpus().files.filter((file) => file.path.startsWith('hostile/'));
}

/** Returns the first file of a kind; throws when the corpus has none. */
export function corpusFile(kind: string): CorpusFile {
  const file = loadCorpus().files.find((candidate) => candidate.kind === kind);
  if (!file) throw new Error(`no corpus file of kind "${kind}" in ${CORPUS_MANIFEST}`);
  return file;
}

/** Returns the file at a path relative to the corpus folder; throws when it is not in the manifest. */
export function corpusPath(relativePath: string): CorpusFile {
  const file = loadCorpus().files.find((candidate) => candidate.path === relativePath);
  if (!file) throw new Error(`${relativePath} is not in ${CORPUS_MANIFEST}`);
  return file;
}
