/**
 * Where the header readers end the File Meta Information. They end it where
 * File Meta Information Group Length (0002,0000) states when that end is an
 * element boundary inside group 0002. So group 0002 elements of the data set
 * neither set the transfer syntax nor the SOP Instance UID. A length that is
 * too long or too short, or missing, falls back to reading group 0002 until
 * the group changes. dcmdump (DCMTK) reads the same files as the reference.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Readable } from 'stream';

import { openInstance } from '../../src/dicom/anonymizer/part10';
import { locateDataset, readDicomFileHeader, readDicomFileHeaderSync } from '../../src/dicom/file-reader';
import { Tags } from '../../src/dicom/tags';
import { TransferSyntax } from '../../src/dicom/uid';
import { encodeElements } from '../../src/dicom/writer';
import {
  FILE_META_TEST_UIDS,
  GROUP_0002_DATASET,
  SECONDARY_CAPTURE,
  secondaryCaptureDataset,
  secondaryCaptureMeta,
} from '../support/file-meta-in-dataset';
import { haveTool, makeTempDir, removeTempDir } from './fixtures';

const SOP_INSTANCE_UID = FILE_META_TEST_UIDS.sopInstance;
const DATASET_SOP_INSTANCE_UID = FILE_META_TEST_UIDS.datasetMediaStorageSopInstance;
const EXPLICIT_LITTLE_ENDIAN = { littleEndian: true, explicitVr: true };

/** Offset of (0002,0000) after the preamble and 'DICM', and of its UL value. */
const GROUP_LENGTH_OFFSET = 132;
const GROUP_LENGTH_VALUE_OFFSET = GROUP_LENGTH_OFFSET + 8;

/** Returns `bytes` with the value of (0002,0000) increased by `delta`. */
function withGroupLengthDelta(bytes: Buffer, delta: number): Buffer {
  const copy = Buffer.from(bytes);
  copy.writeUInt32LE((copy.readUInt32LE(GROUP_LENGTH_VALUE_OFFSET) + delta) >>> 0, GROUP_LENGTH_VALUE_OFFSET);
  return copy;
}

/** Returns the tags that dcmdump lists in the data set part of its output, as "(gggg,eeee)". */
function dcmdumpDatasetTags(file: string): string[] {
  const output = execFileSync('dcmdump', ['-q', file], { encoding: 'utf8' });
  const datasetPart = output.split('# Dicom-Data-Set')[1] ?? '';
  return [...datasetPart.matchAll(/^\(([0-9a-f]{4},[0-9a-f]{4})\)/gim)].map((match) => `(${match[1].toUpperCase()})`);
}

let dir: string;
beforeAll(() => {
  dir = makeTempDir('meta-group-');
});
afterAll(() => removeTempDir(dir));

function writeFile(name: string, bytes: Buffer): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  return file;
}

describe('group 0002 in the data set', () => {
  const metaBytes = secondaryCaptureMeta();
  const bytes = Buffer.concat([metaBytes, GROUP_0002_DATASET]);

  test('meta ends at group length', async () => {
    const header = await readDicomFileHeader(writeFile('in-dataset.dcm', bytes));

    expect(header.datasetOffset).toBe(metaBytes.length);
    expect(header.transferSyntaxUid).toBe(TransferSyntax.ExplicitVRLittleEndian);
    expect(header.meta.getString(Tags.MediaStorageSOPInstanceUID)).toBe(SOP_INSTANCE_UID);
    expect(header.meta.getString(Tags.TransferSyntaxUID)).toBe(TransferSyntax.ExplicitVRLittleEndian);
  });

  test('data set keeps its elements', async () => {
    const header = await readDicomFileHeader(writeFile('in-dataset.dcm', bytes));

    expect(header.dataset.getString(Tags.SOPInstanceUID)).toBe(SOP_INSTANCE_UID);
    expect(header.dataset.getString(Tags.PatientName)).toBe('Meta^Group');
    expect(header.dataset.getString(Tags.MediaStorageSOPInstanceUID)).toBe(DATASET_SOP_INSTANCE_UID);
    expect(header.dataset.getString(Tags.TransferSyntaxUID)).toBe(TransferSyntax.ExplicitVRBigEndian);
    expect(header.hasPixelData).toBe(true);
  });

  test('warning names the tags', async () => {
    const header = await readDicomFileHeader(writeFile('in-dataset.dcm', bytes));

    const warnings = header.warnings.filter((warning) => warning.includes('File Meta Information elements'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('(0002,0003), (0002,0010)');
    expect(header.warnings.filter((warning) => warning.includes('Group Length'))).toEqual([]);
  });

  test('sync reader agrees', () => {
    const header = readDicomFileHeaderSync(writeFile('in-dataset.dcm', bytes));

    expect(header.datasetOffset).toBe(metaBytes.length);
    expect(header.transferSyntaxUid).toBe(TransferSyntax.ExplicitVRLittleEndian);
    expect(header.meta.getString(Tags.MediaStorageSOPInstanceUID)).toBe(SOP_INSTANCE_UID);
  });

  test('locateDataset agrees', () => {
    const location = locateDataset('in-dataset.dcm', bytes, bytes.length);

    expect(location).toEqual({
      transferSyntaxUid: TransferSyntax.ExplicitVRLittleEndian,
      datasetOffset: metaBytes.length,
      mediaStorageSopInstanceUid: SOP_INSTANCE_UID,
      mediaStorageSopClassUid: SECONDARY_CAPTURE,
    });
  });

  test('anonymizer reader agrees', async () => {
    const instance = await openInstance(Readable.from([bytes]));

    expect(instance.transferSyntaxUid).toBe(TransferSyntax.ExplicitVRLittleEndian);
    expect(instance.meta.getString(Tags.MediaStorageSOPInstanceUID)).toBe(SOP_INSTANCE_UID);
    expect(instance.dataset.getString(Tags.SOPInstanceUID)).toBe(SOP_INSTANCE_UID);
    expect(instance.dataset.getString(Tags.MediaStorageSOPInstanceUID)).toBe(DATASET_SOP_INSTANCE_UID);
  });

  test('second group length ignored', async () => {
    // A (0002,0000) of the data set, stating an end that includes the elements after it, does not move the end.
    const lying = encodeElements([{ tag: Tags.FileMetaInformationGroupLength, vr: 'UL', value: 0 }], EXPLICIT_LITTLE_ENDIAN);
    const file = writeFile('two-lengths.dcm', Buffer.concat([metaBytes, lying, GROUP_0002_DATASET]));

    const header = await readDicomFileHeader(file);

    expect(header.datasetOffset).toBe(metaBytes.length);
    expect(header.transferSyntaxUid).toBe(TransferSyntax.ExplicitVRLittleEndian);
    expect(header.meta.getString(Tags.MediaStorageSOPInstanceUID)).toBe(SOP_INSTANCE_UID);
  });

  (haveTool('dcmdump') ? test : test.skip)('dcmdump reads the same split', () => {
    const file = writeFile('in-dataset.dcm', bytes);

    expect(dcmdumpDatasetTags(file).slice(0, 3)).toEqual(['(0002,0003)', '(0002,0010)', '(0008,0016)']);
  });
});

describe('wrong group length falls back', () => {
  const metaBytes = secondaryCaptureMeta();
  const plain = Buffer.concat([metaBytes, secondaryCaptureDataset()]);

  test.each([
    ['20 bytes too long', 20],
    ['20 bytes too short', -20],
    ['huge', 0xfffffff0 - plain.readUInt32LE(GROUP_LENGTH_VALUE_OFFSET)],
  ])('%s', async (_name, delta) => {
    const file = writeFile('wrong-length.dcm', withGroupLengthDelta(plain, delta));

    const header = await readDicomFileHeader(file);

    expect(header.datasetOffset).toBe(metaBytes.length);
    expect(header.dataset.getString(Tags.SOPInstanceUID)).toBe(SOP_INSTANCE_UID);
    expect(header.meta.getString(Tags.ImplementationVersionName)).toBe('META_TEST');
    expect(header.warnings.some((warning) => /Group Length \(0002,0000\) is \d+ but group 0002 is \d+ bytes long/.test(warning))).toBe(true);
    const instance = await openInstance(Readable.from([withGroupLengthDelta(plain, delta)]));
    expect(instance.meta.getString(Tags.ImplementationVersionName)).toBe('META_TEST');
    expect(instance.dataset.getString(Tags.SOPInstanceUID)).toBe(SOP_INSTANCE_UID);
  });

  test('missing group length', async () => {
    const withoutLength = Buffer.concat([metaBytes.subarray(0, GROUP_LENGTH_OFFSET), metaBytes.subarray(GROUP_LENGTH_OFFSET + 12), secondaryCaptureDataset()]);

    const header = await readDicomFileHeader(writeFile('no-length.dcm', withoutLength));

    expect(header.datasetOffset).toBe(metaBytes.length - 12);
    expect(header.transferSyntaxUid).toBe(TransferSyntax.ExplicitVRLittleEndian);
    expect(header.dataset.getString(Tags.SOPInstanceUID)).toBe(SOP_INSTANCE_UID);
  });

  test('length without transfer syntax', async () => {
    // The stated end lies on the boundary before (0002,0010), which the walk finds, so the reader uses the walk.
    const header = readDicomFileHeaderSync(writeFile('plain.dcm', plain));
    const transferSyntax = header.meta.get(Tags.TransferSyntaxUID)!;
    const statedEnd = transferSyntax.offset - 8;
    const groupStart = GROUP_LENGTH_OFFSET + 12;

    const file = writeFile('short-before-syntax.dcm', withGroupLengthDelta(plain, statedEnd - groupStart - plain.readUInt32LE(GROUP_LENGTH_VALUE_OFFSET)));
    const shortened = await readDicomFileHeader(file);

    expect(shortened.datasetOffset).toBe(metaBytes.length);
    expect(shortened.transferSyntaxUid).toBe(TransferSyntax.ExplicitVRLittleEndian);
  });

  test('short length on element boundary', async () => {
    // A length that leaves out the last element, (0002,0013), ends the meta there, as PS3.10 section 7.1 states.
    const header = readDicomFileHeaderSync(writeFile('plain.dcm', plain));
    const versionName = header.meta.get(Tags.ImplementationVersionName)!;
    const lastElementLength = 8 + versionName.value!.length;

    const shortened = await readDicomFileHeader(writeFile('short-one-element.dcm', withGroupLengthDelta(plain, -lastElementLength)));

    expect(shortened.datasetOffset).toBe(metaBytes.length - lastElementLength);
    expect(shortened.meta.has(Tags.ImplementationVersionName)).toBe(false);
    expect(shortened.dataset.getString(Tags.ImplementationVersionName)).toBe('META_TEST');
    expect(shortened.dataset.getString(Tags.SOPInstanceUID)).toBe(SOP_INSTANCE_UID);
    expect(shortened.warnings.some((warning) => warning.includes('(0002,0013)'))).toBe(true);
  });
});
