/**
 * Helpers for the end-to-end tests: Part 10 file splitting, archive
 * snapshots, pydicom calls (test/e2e/pydicom-tool.py) and DCMTK findscu runs.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { Readable } from 'stream';

import { connect } from '../../src/dicom/network';
import { generateUid } from '../../src/dicom/uid';
import { encodeElements } from '../../src/dicom/writer';

import {
  CorpusFile,
  DicomNode,
  LoaderDirs,
  RunResult,
  associationArgs,
  corpusSamples,
  listFiles,
  makeTempDir,
  runCommand,
  runDcmtk,
  runLoader,
} from '../support/peers';
import { isUnusedSpare } from '../../src/services/archive/incoming';

/** The system Python, which has pydicom 2.3 and numpy; a pyenv python3 on PATH may lack them. */
export const PYTHON = '/usr/bin/python3';
export const PYDICOM_TOOL = path.join(__dirname, 'pydicom-tool.py');

/** One `loader studies --json` row. */
export interface StudyRow {
  studyInstanceUid: string;
  patientId: string;
  patientName: string;
  studyDate: string;
  modalitiesInStudy: string[];
  numberOfSeries: number;
  numberOfInstances: number;
}

/** Main attributes of one DICOM file as decoded by pydicom; absent attributes are missing keys. */
export interface DicomAttributes {
  file: string;
  TransferSyntaxUID: string | null;
  SpecificCharacterSet?: string;
  QueryRetrieveLevel?: string;
  PatientName?: string;
  PatientID?: string;
  PatientBirthDate?: string;
  PatientSex?: string;
  StudyInstanceUID?: string;
  SeriesInstanceUID?: string;
  SOPInstanceUID?: string;
  StudyDate?: string;
  ModalitiesInStudy?: string;
  Modality?: string;
  NumberOfStudyRelatedInstances?: string;
  NumberOfSeriesRelatedInstances?: string;
  RetrieveAETitle?: string;
}

export interface Part10 {
  transferSyntax: string;
  sopClassUid: string;
  sopInstanceUid: string;
  /** The bytes after the File Meta Information group. */
  dataset: Buffer;
}

/** Splits a Part 10 file into its meta group values and its data set bytes. */
export function readPart10(file: string): Part10 {
  return splitPart10(fs.readFileSync(file), file);
}

/** Splits the bytes of a Part 10 file; `name` is for the error message. */
export function splitPart10(bytes: Buffer, name = 'file'): Part10 {
  if (bytes.toString('latin1', 128, 132) !== 'DICM') throw new Error(`${name} has no DICM prefix at offset 128`);
  let offset = 132;
  const meta = new Map<number, string>();
  // The meta group is always Explicit VR Little Endian (PS3.10 7.1).
  while (offset + 8 <= bytes.length && bytes.readUInt16LE(offset) === 0x0002) {
    const element = bytes.readUInt16LE(offset + 2);
    const vr = bytes.toString('latin1', offset + 4, offset + 6);
    const longHeader = ['OB', 'OW', 'UN', 'SQ', 'UT', 'UC', 'UR'].includes(vr);
    const length = longHeader ? bytes.readUInt32LE(offset + 8) : bytes.readUInt16LE(offset + 6);
    const headerLength = longHeader ? 12 : 8;
    meta.set(element, bytes.toString('latin1', offset + headerLength, offset + headerLength + length).replace(/[\0 ]+$/, ''));
    offset += headerLength + length;
  }
  return {
    transferSyntax: meta.get(0x0010) ?? '',
    sopClassUid: meta.get(0x0002) ?? '',
    sopInstanceUid: meta.get(0x0003) ?? '',
    dataset: bytes.subarray(offset),
  };
}

/** Returns where the archive stores a corpus file: <archive>/<Study>/<Series>/<SOP>.dcm. */
export function archivePathOf(archiveDir: string, file: CorpusFile): string {
  return path.join(archiveDir, file.studyInstanceUid!, file.seriesInstanceUid!, `${file.sopInstanceUid}.dcm`);
}

export function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

export interface FileState {
  sha256: string;
  mtimeMs: number;
  size: number;
}

/**
 * Records checksum, mtime and size of every file below an archive, keyed by
 * relative path. The SQLite index files are left out because reads may touch
 * them, and so are the markers of the processes using the archive and the
 * empty files a running archive creates ahead of transfers.
 */
export function snapshotArchive(archiveDir: string): Map<string, FileState> {
  const snapshot = new Map<string, FileState>();
  for (const file of listFiles(archiveDir)) {
    const relative = path.relative(archiveDir, file);
    if (relative.startsWith('index.sqlite') || relative.startsWith('.processes/') || isUnusedSpare(file)) continue;
    const stat = fs.statSync(file);
    snapshot.set(relative, { sha256: sha256(file), mtimeMs: stat.mtimeMs, size: stat.size });
  }
  return snapshot;
}

/** Converts a snapshot to a plain object, so that jest prints a readable diff. */
export function snapshotObject(snapshot: Map<string, FileState>): Record<string, FileState> {
  return Object.fromEntries([...snapshot.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

/** Runs pydicom-tool.py and returns its stdout; throws with stderr when it fails. */
export async function runPydicom(args: string[], timeoutMs = 60_000): Promise<string> {
  const result = await runCommand(PYTHON, [PYDICOM_TOOL, ...args], { timeoutMs });
  if (result.code !== 0) {
    throw new Error(`pydicom-tool.py ${args.slice(0, 2).join(' ')} failed with code ${result.code}: ${result.stderr.slice(-2000)}`);
  }
  return result.stdout;
}

/**
 * Writes `count` CT instances of one new study with pydicom, named in
 * windows-1251 without Specific Character Set; returns the folder, the files
 * and the Study Instance UID.
 */
export async function writeCp1251Series(count: number): Promise<{ folder: string; files: string[]; studyInstanceUid: string }> {
  const folder = makeTempDir('cp1251-series');
  const studyInstanceUid = generateUid();
  await runPydicom(['cp1251', folder, String(count), studyInstanceUid]);
  return { folder, files: fs.readdirSync(folder).sort().map((name) => path.join(folder, name)), studyInstanceUid };
}

/** Reads files with pydicom and returns their main attributes, decoded with their character sets. */
export async function readAttributes(files: string[]): Promise<DicomAttributes[]> {
  if (files.length === 0) return [];
  return JSON.parse(await runPydicom(['read', ...files])) as DicomAttributes[];
}

/**
 * Writes a C-FIND identifier file with pydicom, which encodes the values in
 * `characterSet` ('' for the default repertoire). findscu sends -k values as
 * given bytes, so non-ASCII keys need such a file.
 */
export async function writeQueryFile(
  dir: string,
  characterSet: string,
  level: string,
  keys: Record<string, string>,
): Promise<string> {
  const file = path.join(dir, `query-${fs.readdirSync(dir).length + 1}.dcm`);
  await runPydicom(['query', file, characterSet, level, JSON.stringify(keys)]);
  return file;
}

export interface FindResult {
  run: RunResult;
  /** Status text of the final C-FIND response as findscu -v prints it, e.g. "Success"; '' when none arrived. */
  finalStatus: string;
  responses: DicomAttributes[];
}

/**
 * Runs findscu against `called` with the given model flag ('-S' or '-P'),
 * matching keys (-k) and an optional query file, extracts every response
 * with -X and decodes it with pydicom.
 */
export async function find(
  called: DicomNode,
  model: '-S' | '-P',
  keys: string[],
  queryFile?: string,
): Promise<FindResult> {
  const outputDir = makeTempDir('findscu');
  const args = ['-v', model, '-X', '-od', outputDir];
  for (const key of keys) args.push('-k', key);
  args.push(...associationArgs(called, 'FINDSCU'));
  if (queryFile) args.push(queryFile);
  const run = await runDcmtk('findscu', args);
  const files = fs.readdirSync(outputDir).filter((name) => name.startsWith('rsp')).sort().map((name) => path.join(outputDir, name));
  const finalStatus = /Received Final Find Response \(([^)]*)\)/.exec(run.stderr)?.[1] ?? '';
  return { run, finalStatus, responses: await readAttributes(files) };
}

/** Returns the sorted distinct values of one attribute. */
export function distinct(values: (string | null | undefined)[]): string[] {
  return [...new Set(values.filter((value): value is string => value !== null && value !== undefined))].sort();
}

/** Returns the sorted Study Instance UIDs of corpus samples that pass a filter. */
export function expectedStudies(filter: (file: CorpusFile) => boolean): string[] {
  return distinct(corpusSamples(filter).map((file) => file.studyInstanceUid));
}

/** Runs `loader studies --json` with extra filters and returns the rows. */
export async function listStudies(dirs: LoaderDirs, filters: string[] = []): Promise<StudyRow[]> {
  const result = await runLoader(['studies', '--json', ...filters], { dirs });
  if (result.code !== 0) throw new Error(`loader studies failed with code ${result.code}: ${result.stderr.slice(-2000)}`);
  return result.json<StudyRow[]>();
}

/** Runs echoscu against a node and returns its exit code and output. */
export function echo(called: DicomNode, callingAeTitle = 'ECHOSCU'): Promise<RunResult> {
  return runDcmtk('echoscu', associationArgs(called, callingAeTitle));
}

/**
 * Writes a storescu association profile ("Own", for -xf FILE Own) with one
 * presentation context per SOP class and transfer syntax of the given files.
 * Each file then has a context in its own syntax, so storescu sends it
 * unchanged. When one context lists several syntaxes, storescu 3.6.7
 * converts uncompressed files to the syntax the SCP accepted.
 */
export function writeStoreProfile(dir: string, files: CorpusFile[]): string {
  const pairs = distinct(files.map((file) => `${file.sopClassUid}\\${file.transferSyntaxUid}`));
  const syntaxes = distinct(files.map((file) => file.transferSyntaxUid));
  const syntaxName = (uid: string) => `TS${syntaxes.indexOf(uid) + 1}`;
  const lines = ['[[TransferSyntaxes]]'];
  for (const uid of syntaxes) lines.push(`[${syntaxName(uid)}]`, `TransferSyntax1 = ${uid}`);
  lines.push('[[PresentationContexts]]', '[Own]');
  pairs.forEach((pair, index) => {
    const [sopClass, syntax] = pair.split('\\');
    lines.push(`PresentationContext${index + 1} = ${sopClass}\\${syntaxName(syntax)}`);
  });
  lines.push('[[Profiles]]', '[Own]', 'PresentationContexts = Own');
  const file = path.join(dir, 'storescu-own.cfg');
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/** Sends files with storescu --no-halt and a profile from writeStoreProfile. */
export function storeWithOwnSyntax(called: DicomNode, files: CorpusFile[], callingAeTitle = 'STORESCU'): Promise<RunResult> {
  const profile = writeStoreProfile(makeTempDir('storescu-profile'), files);
  return runDcmtk(
    'storescu',
    ['--no-halt', '-xf', profile, 'Own', ...associationArgs(called, callingAeTitle), ...files.map((file) => file.absolutePath)],
    { timeoutMs: 90_000 },
  );
}

/**
 * Sends one Study Root C-FIND with the identifier `elements` (explicit VR
 * little endian) from the loader's own client to `server`, and returns the
 * status of every response. The loader's client can send encodings that
 * findscu rewrites, such as a sequence key as UN.
 */
export async function loaderClientFindStatuses(server: DicomNode, callingAeTitle: string, elements: Parameters<typeof encodeElements>[0]): Promise<number[]> {
  const association = await connect({
    host: server.host,
    port: server.port,
    callingAeTitle,
    calledAeTitle: server.aeTitle,
    contexts: [{ abstractSyntax: '1.2.840.10008.5.1.4.1.2.2.1', transferSyntaxes: ['1.2.840.10008.1.2.1'] }],
    implementationClassUid: '1.2.826.0.1.3680043.9.7433.1',
    implementationVersionName: 'TEST_SCU',
  });
  const identifier = encodeElements(elements, { explicitVr: true, littleEndian: true }, []);
  const statuses: number[] = [];
  try {
    for await (const response of association.find({ contextId: association.acceptedContexts[0].id, identifier })) {
      statuses.push(response.status);
    }
  } finally {
    await association.release();
  }
  return statuses;
}

/**
 * Sends `dataset` unchanged in one C-STORE from the loader's own client, which
 * does not check the bytes, and returns the status and Error Comment. storescu parses a file
 * before it sends it, so it cannot send damaged or unusual data sets as they are.
 */
export async function storeRawDataset(
  server: DicomNode,
  callingAeTitle: string,
  request: { sopClassUid: string; sopInstanceUid: string; transferSyntaxUid: string; dataset: Buffer },
): Promise<{ status: number; errorComment?: string }> {
  const { sopClassUid, sopInstanceUid, transferSyntaxUid, dataset } = request;
  const association = await connect({
    host: server.host,
    port: server.port,
    callingAeTitle,
    calledAeTitle: server.aeTitle,
    contexts: [{ abstractSyntax: sopClassUid, transferSyntaxes: [transferSyntaxUid] }],
    implementationClassUid: '1.2.826.0.1.3680043.10.1234.99',
    implementationVersionName: 'E2E_TEST',
  });
  try {
    const result = await association.store({
      contextId: association.findContext(sopClassUid, transferSyntaxUid)!.id,
      sopClassUid,
      sopInstanceUid,
      data: Readable.from([dataset]),
    });
    return { status: result.status, errorComment: result.errorComment };
  } finally {
    await association.release();
  }
}
