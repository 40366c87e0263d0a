/**
 * Writes small Secondary Capture Part 10 files with chosen text elements, for
 * tests of how the loader decodes names and descriptions.
 */
import * as fs from 'fs';

import { Tags } from '../../src/dicom/tags';
import { generateUid } from '../../src/dicom/uid';
import { ElementSpec, buildFileMetaInformation, encodeElements } from '../../src/dicom/writer';

export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7';

/**
 * Writes a file in Explicit VR Little Endian whose study, patient and text elements are the given
 * ones, in a new series unless `options.seriesUid` is given. Returns the SOP Instance UID.
 */
export function writeSecondaryCapture(file: string, studyUid: string, patientId: string, text: ElementSpec[], options: { seriesUid?: string; studyDate?: string } = {}): string {
  const sopInstanceUid = generateUid();
  const meta = buildFileMetaInformation({
    mediaStorageSopClassUid: SECONDARY_CAPTURE,
    mediaStorageSopInstanceUid: sopInstanceUid,
    transferSyntaxUid: EXPLICIT_VR_LITTLE_ENDIAN,
    implementationClassUid: '1.2.826.0.1.3680043.9.7433.1',
  });
  const dataset = encodeElements(
    [
      { tag: Tags.SOPClassUID, vr: 'UI', value: SECONDARY_CAPTURE },
      { tag: Tags.SOPInstanceUID, vr: 'UI', value: sopInstanceUid },
      { tag: Tags.StudyDate, vr: 'DA', value: options.studyDate ?? '20240115' },
      { tag: Tags.Modality, vr: 'CS', value: 'OT' },
      { tag: Tags.PatientID, vr: 'LO', value: patientId },
      { tag: Tags.StudyInstanceUID, vr: 'UI', value: studyUid },
      { tag: Tags.SeriesInstanceUID, vr: 'UI', value: options.seriesUid ?? generateUid() },
      ...text,
    ],
    { explicitVr: true, littleEndian: true },
  );
  fs.writeFileSync(file, Buffer.concat([meta, dataset]));
  return sopInstanceUid;
}
