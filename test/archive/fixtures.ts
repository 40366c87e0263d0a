/**
 * Test files for the archive tests: copies of pydicom's sample files, given
 * distinct UIDs and attribute values with DCMTK's dcmodify where needed.
 */

import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { readDicomFileHeaderSync } from '../../src/dicom/file-reader';
import type { ReceiveRequest } from '../../src/services/archive';
import { Tags } from '../../src/dicom/tags';
import { generateUid } from '../../src/dicom/uid';
import { isUnusedSpare } from '../../src/services/archive/incoming';

export const PYDICOM_TEST_FILES = '/usr/lib/python3/dist-packages/pydicom/data/test_files';
export const PYDICOM_CHARSET_FILES = '/usr/lib/python3/dist-packages/pydicom/data/charset_files';

export const CT_SMALL = path.join(PYDICOM_TEST_FILES, 'CT_small.dcm');
export const MR_SMALL = path.join(PYDICOM_TEST_FILES, 'MR_small.dcm');
export const RT_PLAN = path.join(PYDICOM_TEST_FILES, 'rtplan.dcm');
/** Patient name 'Люкceмбypг' in ISO_IR 144 (its c, e, y and p are Latin letters). */
export const CHR_RUSS = path.join(PYDICOM_CHARSET_FILES, 'chrRuss.dcm');
/** Patient name 'Wang^XiaoDong=王^小東=' in ISO_IR 192 (UTF-8). */
export const CHR_X1 = path.join(PYDICOM_CHARSET_FILES, 'chrX1.dcm');

export function makeTempDir(prefix = 'archive-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeTempDir(folder: string): void {
  fs.rmSync(folder, { recursive: true, force: true });
}

/** DICOM tags as dcmodify writes them, "(gggg,eeee)". */
export const Tag = {
  SOPInstanceUID: '(0008,0018)',
  StudyDate: '(0008,0020)',
  StudyTime: '(0008,0030)',
  Modality: '(0008,0060)',
  StudyDescription: '(0008,1030)',
  PatientName: '(0010,0010)',
  PatientID: '(0010,0020)',
  StudyInstanceUID: '(0020,000d)',
  SeriesInstanceUID: '(0020,000e)',
} as const;

/** Copies `source` to `target` and sets the given attributes (tag → value) with dcmodify. */
export function modifiedCopy(source: string, target: string, changes: Record<string, string> = {}): string {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.copyFileSync(source, target);
  fs.chmodSync(target, 0o644);
  const entries = Object.entries(changes);
  if (entries.length > 0) {
    const args = ['-nb', ...entries.flatMap(([tag, value]) => ['-i', `${tag}=${value}`]), target];
    execFileSync('dcmodify', args, { stdio: 'pipe' });
  }
  return target;
}

/** Copies `source` with fresh Study, Series and SOP Instance UIDs plus any other changes. */
/** Reads the Study, Series and SOP Instance UIDs of a DICOM file. */
export function readInstanceUids(file: string): { study: string; series: string; sop: string } {
  const dataset = readDicomFileHeaderSync(file).dataset;
  return {
    study: dataset.getString(Tags.StudyInstanceUID) ?? '',
    series: dataset.getString(Tags.SeriesInstanceUID) ?? '',
    sop: dataset.getString(Tags.SOPInstanceUID) ?? '',
  };
}

export function freshCopy(source: string, target: string, changes: Record<string, string> = {}): string {
  return modifiedCopy(source, target, {
    [Tag.StudyInstanceUID]: generateUid(),
    [Tag.SeriesInstanceUID]: generateUid(),
    [Tag.SOPInstanceUID]: generateUid(),
    ...changes,
  });
}

export interface DatasetPart {
  /** The data set bytes after the file meta information. */
  bytes: Buffer;
  transferSyntaxUid: string;
  sopClassUid: string;
  sopInstanceUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
}

/** Reads a Part 10 file and returns what a C-STORE SCU would send for it. */
export function datasetPartOf(file: string): DatasetPart {
  const header = readDicomFileHeaderSync(file);
  const text = (tag: number) => header.dataset.getString(tag) ?? '';
  return {
    bytes: fs.readFileSync(file).subarray(header.datasetOffset),
    transferSyntaxUid: header.transferSyntaxUid,
    sopClassUid: text(0x00080016),
    sopInstanceUid: text(0x00080018),
    studyInstanceUid: text(0x0020000d),
    seriesInstanceUid: text(0x0020000e),
  };
}

/** Returns a stream of `bytes` in chunks of `chunkSize`, as the network layer delivers them. */
export function chunkedStream(bytes: Buffer, chunkSize = 4096): Readable {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += chunkSize) chunks.push(bytes.subarray(offset, offset + chunkSize));
  return Readable.from(chunks, { objectMode: false });
}

/** Lists files below `folder`, relative to it, sorted. */
export function listFiles(folder: string): string[] {
  const files: string[] = [];
  const walk = (current: string) => {
    for (const entry of fs.readdirSync(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) walk(full);
      else files.push(path.relative(folder, full));
    }
  };
  walk(folder);
  return files.sort();
}

/** Lists the files below an archive root that hold instances, leaving out the index, the process markers and unused spare files. */
export function storedFiles(root: string): string[] {
  return listFiles(root).filter(
    (file) => !file.startsWith('index.sqlite') && !file.startsWith('.processes/') && !isUnusedSpare(path.join(root, file)),
  );
}

/** Implementation Class UID and Version Name of the test C-STORE SCU. */
export const TEST_IMPLEMENTATION = { implementationClassUid: '1.2.826.0.1.3680043.9.7433.1', implementationVersionName: 'TEST_SCU_1' };

/** Builds the receive request of a C-STORE from calling AE title MODALITY1 for `part`, with its bytes in 4 KiB chunks by default. */
export function requestFor(part: DatasetPart, data: Readable = chunkedStream(part.bytes)): ReceiveRequest {
  return {
    sopClassUid: part.sopClassUid,
    sopInstanceUid: part.sopInstanceUid,
    transferSyntaxUid: part.transferSyntaxUid,
    sourceAeTitle: 'MODALITY1',
    data,
    ...TEST_IMPLEMENTATION,
  };
}

/** Returns the ID of a process that has exited. */
export function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  return child.pid!;
}

/** Resolves once `condition` returns true, checking every 10 ms; rejects after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
