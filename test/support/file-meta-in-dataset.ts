/**
 * A small Secondary Capture instance whose data set starts with group 0002
 * elements, which PS3.10 section 7.1 allows only in the file meta
 * information: a Media Storage SOP Instance UID (0002,0003) of another
 * instance and a Transfer Syntax UID (0002,0010) of big endian, while the
 * data set is explicit VR little endian. The data set's own (0008,0016) and
 * (0008,0018) name the instance.
 */
import type { DatasetEncoding } from '../../src/dicom/dataset';
import { Tags } from '../../src/dicom/tags';
import { TransferSyntax } from '../../src/dicom/uid';
import { buildFileMetaInformation, encodeElements, type ElementSpec } from '../../src/dicom/writer';

const EXPLICIT_LITTLE_ENDIAN: DatasetEncoding = { littleEndian: true, explicitVr: true };

export const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7';

export const FILE_META_TEST_UIDS = {
  study: '1.2.826.0.1.3680043.9.7777.7.1',
  series: '1.2.826.0.1.3680043.9.7777.7.2',
  sopInstance: '1.2.826.0.1.3680043.9.7777.7.3',
  /** The Media Storage SOP Instance UID (0002,0003) inside the data set. */
  datasetMediaStorageSopInstance: '1.2.826.0.1.3680043.9.7777.999.999',
};

/** The group 0002 elements that GROUP_0002_DATASET starts with. */
export const GROUP_0002_IN_DATASET: ElementSpec[] = [
  { tag: Tags.MediaStorageSOPInstanceUID, vr: 'UI', value: FILE_META_TEST_UIDS.datasetMediaStorageSopInstance },
  { tag: Tags.TransferSyntaxUID, vr: 'UI', value: TransferSyntax.ExplicitVRBigEndian },
];

/** Returns the data set in explicit VR little endian, with `leading` elements encoded before its own. */
export function secondaryCaptureDataset(leading: ElementSpec[] = []): Buffer {
  return encodeElements(
    [
      ...leading,
      { tag: Tags.SOPClassUID, vr: 'UI', value: SECONDARY_CAPTURE },
      { tag: Tags.SOPInstanceUID, vr: 'UI', value: FILE_META_TEST_UIDS.sopInstance },
      { tag: Tags.StudyDate, vr: 'DA', value: '20240115' },
      { tag: Tags.Modality, vr: 'CS', value: 'OT' },
      { tag: Tags.PatientName, vr: 'PN', value: 'Meta^Group' },
      { tag: Tags.PatientID, vr: 'LO', value: 'META-1' },
      { tag: Tags.StudyInstanceUID, vr: 'UI', value: FILE_META_TEST_UIDS.study },
      { tag: Tags.SeriesInstanceUID, vr: 'UI', value: FILE_META_TEST_UIDS.series },
      { tag: Tags.PixelData, vr: 'OB', value: Buffer.alloc(16, 7) },
    ],
    EXPLICIT_LITTLE_ENDIAN,
  );
}

/** The data set that starts with GROUP_0002_IN_DATASET. */
export const GROUP_0002_DATASET = secondaryCaptureDataset(GROUP_0002_IN_DATASET);

/** Returns correct file meta information for the instance, with a group length that covers it exactly. */
export function secondaryCaptureMeta(): Buffer {
  return buildFileMetaInformation({
    mediaStorageSopClassUid: SECONDARY_CAPTURE,
    mediaStorageSopInstanceUid: FILE_META_TEST_UIDS.sopInstance,
    transferSyntaxUid: TransferSyntax.ExplicitVRLittleEndian,
    implementationClassUid: '1.2.826.0.1.3680043.9.7777.1',
    implementationVersionName: 'META_TEST',
  });
}
