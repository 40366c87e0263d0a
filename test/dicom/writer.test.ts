import * as fs from 'fs';
import * as path from 'path';

import { readDicomFileHeader } from '../../src/dicom/file-reader';
import { parseDataset } from '../../src/dicom/parser';
import { Tags } from '../../src/dicom/tags';
import { InvalidUidError, TransferSyntax } from '../../src/dicom/uid';
import { buildFileMetaInformation, DicomEncodeError, encodeElements, ElementSpec, FileMetaInformationSpec, fileMetaElements } from '../../src/dicom/writer';
import { makeTempDir, removeTempDir } from './fixtures';

const EXPLICIT_LE = { littleEndian: true, explicitVr: true };
const IMPLICIT_LE = { littleEndian: true, explicitVr: false };
const EXPLICIT_BE = { littleEndian: false, explicitVr: true };

const identifier: ElementSpec[] = [
  { tag: Tags.StudyInstanceUID, vr: 'UI', value: '1.2.3.4' },
  { tag: Tags.PatientName, vr: 'PN', value: 'Люкceмбypг^Ivan' },
  { tag: Tags.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 144' },
  { tag: Tags.QueryRetrieveLevel, vr: 'CS', value: 'STUDY' },
  { tag: Tags.ModalitiesInStudy, vr: 'CS', value: ['CT', 'MR'] },
  { tag: Tags.NumberOfStudyRelatedInstances, vr: 'IS', value: 12 },
  { tag: Tags.Rows, vr: 'US', value: 512 },
  { tag: Tags.PixelSpacing, vr: 'DS', value: ['0.5', '0.5'] },
  {
    tag: Tags.ReferencedSeriesSequence,
    vr: 'SQ',
    value: [
      [{ tag: Tags.SeriesInstanceUID, vr: 'UI', value: '1.2.3.4.5' }],
      [
        { tag: Tags.SeriesInstanceUID, vr: 'UI', value: '1.2.3.4.6' },
        { tag: Tags.SeriesDescription, vr: 'LO', value: 'Серия' },
      ],
    ],
  },
];

describe('encodeElements', () => {
  test.each([
    ['explicit little endian', EXPLICIT_LE],
    ['implicit little endian', IMPLICIT_LE],
    ['explicit big endian', EXPLICIT_BE],
  ])('round trip %s', (_label, encoding) => {
    const bytes = encodeElements(identifier, encoding, ['ISO_IR 144']);
    const dataset = parseDataset(bytes, encoding, { stopAtTag: null });
    expect([...dataset.elements.keys()]).toEqual([...identifier.map((element) => element.tag)].sort((a, b) => a - b));
    expect(dataset.characterSets).toEqual(['ISO_IR 144']);
    expect(dataset.getString(Tags.PatientName)).toBe('Люкceмбypг^Ivan');
    expect(dataset.getStrings(Tags.ModalitiesInStudy)).toEqual(['CT', 'MR']);
    expect(dataset.getNumber(Tags.NumberOfStudyRelatedInstances)).toBe(12);
    expect(dataset.getNumber(Tags.Rows)).toBe(512);
    const items = dataset.getItems(Tags.ReferencedSeriesSequence);
    expect(items).toHaveLength(2);
    expect(items[1].getString(Tags.SeriesDescription)).toBe('Серия');
  });

  test('pads to even length', () => {
    const bytes = encodeElements(
      [
        { tag: Tags.StudyInstanceUID, vr: 'UI', value: '1.2.3' },
        { tag: Tags.PatientID, vr: 'LO', value: 'ABC' },
      ],
      EXPLICIT_LE,
    );
    // (0010,0020) LO 'ABC ' then (0020,000D) UI '1.2.3\0'
    expect(bytes.readUInt16LE(6)).toBe(4);
    expect(bytes.toString('latin1', 8, 12)).toBe('ABC ');
    expect(bytes.readUInt16LE(18)).toBe(6);
    expect(bytes.toString('latin1', 20, 26)).toBe('1.2.3\0');
  });

  test('sorts by tag', () => {
    const bytes = encodeElements(
      [
        { tag: Tags.PatientID, vr: 'LO', value: 'A1' },
        { tag: Tags.AccessionNumber, vr: 'SH', value: '' },
      ],
      EXPLICIT_LE,
    );
    expect(bytes.readUInt16LE(0)).toBe(0x0008);
    expect(bytes.readUInt16LE(2)).toBe(0x0050);
    expect(bytes.readUInt16LE(6)).toBe(0);
  });

  test('empty and null values have zero length', () => {
    const bytes = encodeElements([{ tag: Tags.PatientName, vr: 'PN', value: null }], IMPLICIT_LE);
    expect(bytes.length).toBe(8);
    expect(bytes.readUInt32LE(4)).toBe(0);
  });

  test('rejects duplicate tags', () => {
    expect(() =>
      encodeElements(
        [
          { tag: Tags.PatientID, vr: 'LO', value: 'A' },
          { tag: Tags.PatientID, vr: 'LO', value: 'B' },
        ],
        EXPLICIT_LE,
      ),
    ).toThrow(DicomEncodeError);
  });

  test('rejects value too long for short VR', () => {
    expect(() => encodeElements([{ tag: Tags.PatientComments, vr: 'LT', value: 'x'.repeat(70000) }], EXPLICIT_LE)).toThrow(
      /at most 65534 bytes/,
    );
  });

  test('item charset applies to item text', () => {
    const bytes = encodeElements(
      [
        {
          tag: Tags.ReferencedStudySequence,
          vr: 'SQ',
          value: [
            [
              { tag: Tags.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 192' },
              { tag: Tags.StudyDescription, vr: 'LO', value: '王' },
            ],
          ],
        },
      ],
      EXPLICIT_LE,
      ['ISO_IR 100'],
    );
    const [item] = parseDataset(bytes, EXPLICIT_LE, { characterSets: ['ISO_IR 100'] }).getItems(Tags.ReferencedStudySequence);
    expect(item.getString(Tags.StudyDescription)).toBe('王');
  });
});

describe('buildFileMetaInformation', () => {
  const spec = {
    mediaStorageSopClassUid: '1.2.840.10008.5.1.4.1.1.7',
    mediaStorageSopInstanceUid: '1.2.3.4.5.6',
    transferSyntaxUid: TransferSyntax.ExplicitVRLittleEndian,
    implementationClassUid: '1.2.3.99',
    implementationVersionName: 'SCIBERIA_TEST',
    sourceApplicationEntityTitle: 'LOADER',
  };

  test('layout and group length', () => {
    const bytes = buildFileMetaInformation(spec);
    expect(bytes.subarray(0, 128).every((byte) => byte === 0)).toBe(true);
    expect(bytes.toString('latin1', 128, 132)).toBe('DICM');
    expect(bytes.readUInt32LE(132)).toBe(0x00000002);
    expect(bytes.toString('latin1', 136, 138)).toBe('UL');
    expect(bytes.readUInt32LE(140)).toBe(bytes.length - 144);
    // (0002,0001) OB 00 01
    expect(bytes.readUInt32LE(144)).toBe(0x00010002);
    expect(bytes.toString('latin1', 148, 150)).toBe('OB');
    expect(bytes.readUInt32LE(152)).toBe(2);
    expect([bytes[156], bytes[157]]).toEqual([0x00, 0x01]);
  });

  /** Encodes the meta information with the general element encoder. */
  function encodedWithElements(fields: FileMetaInformationSpec): Buffer {
    const group = encodeElements(fileMetaElements(fields), EXPLICIT_LE);
    const groupLength = encodeElements([{ tag: Tags.FileMetaInformationGroupLength, vr: 'UL', value: group.length }], EXPLICIT_LE);
    return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), groupLength, group]);
  }

  test.each([
    ['even lengths', spec],
    ['odd UIDs and texts', { ...spec, mediaStorageSopInstanceUid: '1.2.3.4.5', implementationClassUid: '1.2.3', implementationVersionName: 'SCIBERIA_TES', sourceApplicationEntityTitle: 'MODALITY1' }],
    ['no optional texts', { ...spec, implementationVersionName: undefined, sourceApplicationEntityTitle: undefined }],
    ['a Latin-1 AE title', { ...spec, sourceApplicationEntityTitle: 'STATIONÉ' }],
  ])('matches the element encoder with %s', (_case, fields) => {
    expect(buildFileMetaInformation(fields).equals(encodedWithElements(fields))).toBe(true);
  });

  test('rejects invalid UID', () => {
    expect(() => buildFileMetaInformation({ ...spec, mediaStorageSopInstanceUid: '1.2.abc' })).toThrow(InvalidUidError);
    expect(() => buildFileMetaInformation({ ...spec, mediaStorageSopInstanceUid: '1.2.abc' })).toThrow(/Media Storage SOP Instance UID/);
  });

  test.each([
    ['explicit little endian', TransferSyntax.ExplicitVRLittleEndian, EXPLICIT_LE],
    ['implicit little endian', TransferSyntax.ImplicitVRLittleEndian, IMPLICIT_LE],
    ['explicit big endian', TransferSyntax.ExplicitVRBigEndian, EXPLICIT_BE],
  ])('file round trip %s', async (_label, transferSyntaxUid, encoding) => {
    const dir = makeTempDir();
    try {
      const meta = buildFileMetaInformation({ ...spec, transferSyntaxUid });
      const body = encodeElements(
        [
          { tag: Tags.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 192' },
          { tag: Tags.SOPClassUID, vr: 'UI', value: spec.mediaStorageSopClassUid },
          { tag: Tags.SOPInstanceUID, vr: 'UI', value: spec.mediaStorageSopInstanceUid },
          { tag: Tags.PatientName, vr: 'PN', value: 'Wang^XiaoDong=王^小東' },
          { tag: Tags.StudyDate, vr: 'DA', value: '20240131' },
          { tag: Tags.PixelData, vr: 'OW', value: Buffer.alloc(16, 7) },
        ],
        encoding,
        ['ISO_IR 192'],
      );
      const file = path.join(dir, 'written.dcm');
      fs.writeFileSync(file, Buffer.concat([meta, body]));
      const header = await readDicomFileHeader(file);
      expect(header.warnings).toEqual([]);
      expect(header.hasPreamble).toBe(true);
      expect(header.datasetOffset).toBe(meta.length);
      expect(header.transferSyntaxUid).toBe(transferSyntaxUid);
      expect(header.meta.getString(Tags.ImplementationVersionName)).toBe('SCIBERIA_TEST');
      expect(header.meta.getString(Tags.SourceApplicationEntityTitle)).toBe('LOADER');
      expect(header.dataset.getString(Tags.PatientName)).toBe('Wang^XiaoDong=王^小東');
      expect(header.dataset.getString(Tags.SOPInstanceUID)).toBe('1.2.3.4.5.6');
      expect(header.hasPixelData).toBe(true);
    } finally {
      removeTempDir(dir);
    }
  });
});
