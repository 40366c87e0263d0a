/** Main attributes of an instance for the viewer's header panel, decoded with the data set's Specific Character Set. */
import type { Dataset } from '../../dicom/dataset';
import type { DicomFileHeader } from '../../dicom/file-reader';
import { Tags } from '../../dicom/tags';
import { describeStorageSopClass, describeTransferSyntax } from '../../dicom/uid';

export interface HeaderSummary {
  patient: { name?: string; id?: string; birthDate?: string; sex?: string };
  study: { instanceUid?: string; id?: string; date?: string; time?: string; description?: string; accessionNumber?: string };
  series: { instanceUid?: string; number?: string; modality?: string; description?: string };
  instance: { sopClassUid?: string; sopClassName?: string; sopInstanceUid?: string; number?: string; numberOfFrames: number };
  transferSyntax: { uid: string; name: string };
  /** Specific Character Set (0008,0005) values; empty when the data set has none (ISO IR 6, ASCII). */
  characterSets: string[];
}

/** Returns the string value of an attribute, or undefined when it is absent or empty. */
function text(dataset: Dataset, tag: number): string | undefined {
  const value = dataset.getString(tag);
  return value === undefined || value === '' ? undefined : value;
}

/** Builds the header summary of a file. Text values are decoded with the data set's character set by Dataset.getString. */
export function summarizeHeader(header: DicomFileHeader): HeaderSummary {
  const dataset = header.dataset;
  const sopClassUid = text(dataset, Tags.SOPClassUID) ?? text(header.meta, Tags.MediaStorageSOPClassUID);
  const syntaxUid = header.transferSyntaxUid.replace(/[\0 ]+$/, '');
  return {
    patient: {
      name: text(dataset, Tags.PatientName),
      id: text(dataset, Tags.PatientID),
      birthDate: text(dataset, Tags.PatientBirthDate),
      sex: text(dataset, Tags.PatientSex),
    },
    study: {
      instanceUid: text(dataset, Tags.StudyInstanceUID),
      id: text(dataset, Tags.StudyID),
      date: text(dataset, Tags.StudyDate),
      time: text(dataset, Tags.StudyTime),
      description: text(dataset, Tags.StudyDescription),
      accessionNumber: text(dataset, Tags.AccessionNumber),
    },
    series: {
      instanceUid: text(dataset, Tags.SeriesInstanceUID),
      number: text(dataset, Tags.SeriesNumber),
      modality: text(dataset, Tags.Modality),
      description: text(dataset, Tags.SeriesDescription),
    },
    instance: {
      sopClassUid,
      sopClassName: sopClassUid ? describeStorageSopClass(sopClassUid)?.name : undefined,
      sopInstanceUid: text(dataset, Tags.SOPInstanceUID) ?? text(header.meta, Tags.MediaStorageSOPInstanceUID),
      number: text(dataset, Tags.InstanceNumber),
      numberOfFrames: Math.max(1, dataset.getNumber(Tags.NumberOfFrames) ?? 1),
    },
    transferSyntax: { uid: syntaxUid, name: describeTransferSyntax(syntaxUid)?.name ?? syntaxUid },
    characterSets: [...dataset.characterSets],
  };
}
