/**
 * The attributes the index stores for one instance, read from a parsed header.
 */

import { isLegacyCharacterSetText, type LegacyCharacterSet } from '../../dicom/charset';
import type { Dataset } from '../../dicom/dataset';
import type { DicomFileHeader } from '../../dicom/file-reader';
import { Tags } from '../../dicom/tags';
import { normalizeDate, normalizeTime } from '../../dicom/values';
import { requireValidUid } from './layout';

export interface PatientAttributes {
  patientId: string;
  issuerOfPatientId: string;
  patientName: string;
  /** YYYYMMDD, or '' when absent or not a date. */
  birthDate: string;
  sex: string;
}

export interface StudyAttributes {
  studyInstanceUid: string;
  studyDate: string;
  studyTime: string;
  studyDescription: string;
  accessionNumber: string;
  referringPhysicianName: string;
  studyId: string;
}

export interface SeriesAttributes {
  seriesInstanceUid: string;
  modality: string;
  seriesNumber: number | null;
  seriesDescription: string;
  bodyPartExamined: string;
  seriesDate: string;
  seriesTime: string;
}

export interface InstanceAttributes {
  sopInstanceUid: string;
  sopClassUid: string;
  instanceNumber: number | null;
  transferSyntaxUid: string;
  /** Raw Specific Character Set (0008,0005), values joined by backslash. */
  specificCharacterSet: string;
}

export interface InstanceRecord {
  patient: PatientAttributes;
  study: StudyAttributes;
  series: SeriesAttributes;
  instance: InstanceAttributes;
  /**
   * True when a text value of the parsed header was decoded in the legacy
   * character set (see isLegacyCharacterSetText), so its indexed names depend
   * on pacs.legacyCharacterSet. Absent in records that were not read by readInstanceRecord.
   */
  hasLegacyCharacterSetText?: boolean;
}

/**
 * Reads the indexed attributes from a file header. Study, Series and SOP
 * Instance UIDs are validated (ArchiveError 'invalid-uid' or 'missing-attribute').
 * Other attributes are indexed as found, with text that declares no character
 * set and is not UTF-8 decoded in `legacyCharacterSet`. Legacy dates such as
 * 1999.05.24 are normalized, and dates or times that cannot be read are indexed as ''.
 */
export function readInstanceRecord(header: DicomFileHeader, legacyCharacterSet: LegacyCharacterSet): InstanceRecord {
  const dataset = header.dataset;
  const text = (tag: number) => dataset.getString(tag, legacyCharacterSet) ?? '';
  const sopClassUid = text(Tags.SOPClassUID) || (header.meta.getString(Tags.MediaStorageSOPClassUID) ?? '');

  return {
    patient: {
      patientId: text(Tags.PatientID),
      issuerOfPatientId: text(Tags.IssuerOfPatientID),
      patientName: text(Tags.PatientName),
      birthDate: dateOf(dataset, Tags.PatientBirthDate),
      sex: text(Tags.PatientSex),
    },
    study: {
      studyInstanceUid: requireValidUid(dataset.getString(Tags.StudyInstanceUID), 'Study Instance UID (0020,000D)'),
      studyDate: dateOf(dataset, Tags.StudyDate),
      studyTime: timeOf(dataset, Tags.StudyTime),
      studyDescription: text(Tags.StudyDescription),
      accessionNumber: text(Tags.AccessionNumber),
      referringPhysicianName: text(Tags.ReferringPhysicianName),
      studyId: text(Tags.StudyID),
    },
    series: {
      seriesInstanceUid: requireValidUid(dataset.getString(Tags.SeriesInstanceUID), 'Series Instance UID (0020,000E)'),
      modality: text(Tags.Modality),
      seriesNumber: integerOf(dataset, Tags.SeriesNumber),
      seriesDescription: text(Tags.SeriesDescription),
      bodyPartExamined: text(Tags.BodyPartExamined),
      seriesDate: dateOf(dataset, Tags.SeriesDate),
      seriesTime: timeOf(dataset, Tags.SeriesTime),
    },
    instance: {
      sopInstanceUid: requireValidUid(dataset.getString(Tags.SOPInstanceUID), 'SOP Instance UID (0008,0018)'),
      sopClassUid,
      instanceNumber: integerOf(dataset, Tags.InstanceNumber),
      transferSyntaxUid: header.transferSyntaxUid,
      specificCharacterSet: rawText(dataset, Tags.SpecificCharacterSet),
    },
    hasLegacyCharacterSetText: containsLegacyCharacterSetText(dataset),
  };
}

/** Returns true when a text value of the data set or of its sequence items is read in the legacy character set. */
function containsLegacyCharacterSetText(dataset: Dataset): boolean {
  for (const element of dataset.elements.values()) {
    if (element.value && isLegacyCharacterSetText(element.value, dataset.characterSets, element.vr)) return true;
    if (element.items?.some(containsLegacyCharacterSetText)) return true;
  }
  return false;
}

function dateOf(dataset: Dataset, tag: number): string {
  const value = dataset.getString(tag);
  return value ? (normalizeDate(value) ?? '') : '';
}

function timeOf(dataset: Dataset, tag: number): string {
  const value = dataset.getString(tag);
  return value ? (normalizeTime(value) ?? '') : '';
}

/** IS values such as "12 " or "+3"; anything that is not an integer is stored as NULL. */
function integerOf(dataset: Dataset, tag: number): number | null {
  const value = dataset.getNumber(tag);
  return value !== undefined && Number.isSafeInteger(value) ? value : null;
}

/** Returns the undecoded value of a CS element such as Specific Character Set. */
function rawText(dataset: Dataset, tag: number): string {
  const value = dataset.get(tag)?.value;
  return value ? value.toString('latin1').replace(/[\0 ]+$/, '').replace(/^ +/, '') : '';
}
