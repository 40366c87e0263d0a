/**
 * Named tags of the attributes the loader reads and writes, and the value
 * representation (VR) of any tag from the data dictionary (PS3.6 section 6,
 * as shipped in dcmjs), which implicit VR data sets need (PS3.5 section 7.1.3).
 */
import { Tag, tagElement, tagGroup } from './dataset';

/** Tags as numbers: (group << 16 | element) >>> 0. */
export const Tags = {
  // File meta information, group 0002 (PS3.10 section 7.1).
  FileMetaInformationGroupLength: 0x00020000,
  FileMetaInformationVersion: 0x00020001,
  MediaStorageSOPClassUID: 0x00020002,
  MediaStorageSOPInstanceUID: 0x00020003,
  TransferSyntaxUID: 0x00020010,
  ImplementationClassUID: 0x00020012,
  ImplementationVersionName: 0x00020013,
  SourceApplicationEntityTitle: 0x00020016,
  SendingApplicationEntityTitle: 0x00020017,
  ReceivingApplicationEntityTitle: 0x00020018,
  PrivateInformationCreatorUID: 0x00020100,
  PrivateInformation: 0x00020102,

  // Directory information of a DICOMDIR (PS3.3 section F.3).
  FileSetID: 0x00041130,
  OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity: 0x00041200,
  OffsetOfTheLastDirectoryRecordOfTheRootDirectoryEntity: 0x00041202,
  FileSetConsistencyFlag: 0x00041212,
  DirectoryRecordSequence: 0x00041220,
  OffsetOfTheNextDirectoryRecord: 0x00041400,
  RecordInUseFlag: 0x00041410,
  OffsetOfReferencedLowerLevelDirectoryEntity: 0x00041420,
  DirectoryRecordType: 0x00041430,
  ReferencedFileID: 0x00041500,
  ReferencedSOPClassUIDInFile: 0x00041510,
  ReferencedSOPInstanceUIDInFile: 0x00041511,
  ReferencedTransferSyntaxUIDInFile: 0x00041512,

  // SOP common and general instance attributes.
  SpecificCharacterSet: 0x00080005,
  ImageType: 0x00080008,
  InstanceCreationDate: 0x00080012,
  InstanceCreationTime: 0x00080013,
  InstanceCreatorUID: 0x00080014,
  SOPClassUID: 0x00080016,
  SOPInstanceUID: 0x00080018,
  StudyDate: 0x00080020,
  SeriesDate: 0x00080021,
  AcquisitionDate: 0x00080022,
  ContentDate: 0x00080023,
  AcquisitionDateTime: 0x0008002a,
  StudyTime: 0x00080030,
  SeriesTime: 0x00080031,
  AcquisitionTime: 0x00080032,
  ContentTime: 0x00080033,
  AccessionNumber: 0x00080050,
  IssuerOfAccessionNumberSequence: 0x00080051,
  QueryRetrieveLevel: 0x00080052,
  RetrieveAETitle: 0x00080054,
  StationAETitle: 0x00080055,
  InstanceAvailability: 0x00080056,
  FailedSOPInstanceUIDList: 0x00080058,
  Modality: 0x00080060,
  ModalitiesInStudy: 0x00080061,
  SOPClassesInStudy: 0x00080062,
  ConversionType: 0x00080064,
  Manufacturer: 0x00080070,
  InstitutionName: 0x00080080,
  ReferringPhysicianName: 0x00080090,
  TimezoneOffsetFromUTC: 0x00080201,
  StationName: 0x00081010,
  StudyDescription: 0x00081030,
  SeriesDescription: 0x0008103e,
  InstitutionalDepartmentName: 0x00081040,
  PerformingPhysicianName: 0x00081050,
  NameOfPhysiciansReadingStudy: 0x00081060,
  OperatorsName: 0x00081070,
  ManufacturerModelName: 0x00081090,
  ReferencedStudySequence: 0x00081110,
  ReferencedSeriesSequence: 0x00081115,
  ReferencedSOPSequence: 0x00081199,
  ReferencedImageSequence: 0x00081140,
  ReferencedSOPClassUID: 0x00081150,
  ReferencedSOPInstanceUID: 0x00081155,
  FailedSOPSequence: 0x00081198,
  FailureReason: 0x00081197,
  DerivationDescription: 0x00082111,

  // Patient level.
  PatientName: 0x00100010,
  PatientID: 0x00100020,
  IssuerOfPatientID: 0x00100021,
  TypeOfPatientID: 0x00100022,
  IssuerOfPatientIDQualifiersSequence: 0x00100024,
  PatientBirthDate: 0x00100030,
  PatientBirthTime: 0x00100032,
  PatientSex: 0x00100040,
  OtherPatientIDsSequence: 0x00101002,
  OtherPatientNames: 0x00101001,
  PatientAge: 0x00101010,
  PatientSize: 0x00101020,
  PatientWeight: 0x00101030,
  EthnicGroup: 0x00102160,
  PatientComments: 0x00104000,

  // Acquisition and equipment attributes used in listings.
  BodyPartExamined: 0x00180015,
  SliceThickness: 0x00180050,
  ProtocolName: 0x00181030,
  DeviceSerialNumber: 0x00181000,
  SoftwareVersions: 0x00181020,

  // Study, series and instance identification.
  StudyInstanceUID: 0x0020000d,
  SeriesInstanceUID: 0x0020000e,
  StudyID: 0x00200010,
  SeriesNumber: 0x00200011,
  AcquisitionNumber: 0x00200012,
  InstanceNumber: 0x00200013,
  ImagePositionPatient: 0x00200032,
  ImageOrientationPatient: 0x00200037,
  FrameOfReferenceUID: 0x00200052,
  Laterality: 0x00200060,
  NumberOfPatientRelatedStudies: 0x00201200,
  NumberOfPatientRelatedSeries: 0x00201202,
  NumberOfPatientRelatedInstances: 0x00201204,
  NumberOfStudyRelatedSeries: 0x00201206,
  NumberOfStudyRelatedInstances: 0x00201208,
  NumberOfSeriesRelatedInstances: 0x00201209,
  ImageComments: 0x00204000,

  // Image pixel module (PS3.3 section C.7.6.3).
  SamplesPerPixel: 0x00280002,
  PhotometricInterpretation: 0x00280004,
  NumberOfFrames: 0x00280008,
  Rows: 0x00280010,
  Columns: 0x00280011,
  PixelSpacing: 0x00280030,
  BitsAllocated: 0x00280100,
  BitsStored: 0x00280101,
  HighBit: 0x00280102,
  PixelRepresentation: 0x00280103,
  WindowCenter: 0x00281050,
  WindowWidth: 0x00281051,
  RescaleIntercept: 0x00281052,
  RescaleSlope: 0x00281053,
  LossyImageCompression: 0x00282110,

  // Study scheduling and request attributes returned by C-FIND.
  RequestingPhysician: 0x00321032,
  RequestedProcedureDescription: 0x00321060,
  RequestAttributesSequence: 0x00400275,
  PerformedProcedureStepStartDate: 0x00400244,
  PerformedProcedureStepStartTime: 0x00400245,

  // Structured reporting (PS3.3 section C.17).
  ValueType: 0x0040a040,
  ConceptNameCodeSequence: 0x0040a043,
  CompletionFlag: 0x0040a491,
  VerificationFlag: 0x0040a493,
  ContentSequence: 0x0040a730,
  ContentTemplateSequence: 0x0040a504,

  // Pixel data and trailing elements (PS3.5 section 8).
  ExtendedOffsetTable: 0x7fe00001,
  ExtendedOffsetTableLengths: 0x7fe00002,
  FloatPixelData: 0x7fe00008,
  DoubleFloatPixelData: 0x7fe00009,
  PixelData: 0x7fe00010,
  DataSetTrailingPadding: 0xfffcfffc,

  // Item and delimitation tags (PS3.5 section 7.5).
  Item: 0xfffee000,
  ItemDelimitationItem: 0xfffee00d,
  SequenceDelimitationItem: 0xfffee0dd,
} as const;

export type TagName = keyof typeof Tags;

/** The VRs of PS3.5 table 6.2-1. */
export const KNOWN_VRS: ReadonlySet<string> = new Set([
  'AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FD', 'FL', 'IS', 'LO', 'LT', 'OB', 'OD', 'OF', 'OL', 'OV', 'OW',
  'PN', 'SH', 'SL', 'SQ', 'SS', 'ST', 'SV', 'TM', 'UC', 'UI', 'UL', 'UN', 'UR', 'US', 'UT', 'UV',
]);

/**
 * VRs whose explicit VR encoding has two reserved bytes and a 32-bit length
 * (PS3.5 section 7.1.2, table 7.1-1). All other VRs have a 16-bit length.
 */
export const LONG_LENGTH_VRS: ReadonlySet<string> = new Set([
  'OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV',
]);

/** Returns true for an odd group number, which marks a private tag (PS3.5 section 7.8.1). */
export function isPrivateTag(tag: Tag): boolean {
  return (tagGroup(tag) & 1) === 1;
}

/** Returns true for a private creator element (gggg,0010)-(gggg,00FF) in an odd group. */
export function isPrivateCreator(tag: Tag): boolean {
  const element = tagElement(tag);
  return isPrivateTag(tag) && element >= 0x0010 && element <= 0x00ff;
}

interface DictionaryEntry {
  vr: string;
  vm: string;
  name: string;
}

let dictionary: Record<string, DictionaryEntry | undefined> | undefined;

/**
 * Loads the standard data dictionary of dcmjs on first use. dcmjs 0.52 exposes it
 * as a Proxy that looks entries up by '(GGGG,EEEE)' key on access, so Object.keys()
 * on it is empty although every standard tag, including repeating groups such as
 * (60xx,3000), resolves.
 */
/**
 * Loads the data dictionary now instead of at its first use. Loading dcmjs
 * took 40 to 70 ms on a 2-core AMD EPYC (Node 20), which a server should
 * spend before it accepts the first association rather than during the
 * first C-STORE of implicit VR data.
 */
export function loadDataDictionary(): void {
  getDictionary();
}

/** True once the data dictionary is loaded. */
export function isDataDictionaryLoaded(): boolean {
  return dictionary !== undefined;
}

function getDictionary(): Record<string, DictionaryEntry | undefined> {
  if (!dictionary) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const dcmjs = require('dcmjs') as { data: { DicomMetaDictionary: { dictionary: Record<string, DictionaryEntry> } } };
    dictionary = dcmjs.data.DicomMetaDictionary.dictionary;
  }
  return dictionary;
}

/**
 * dcmjs writes VRs that depend on context in lower case. The values chosen here
 * follow PS3.5 annex A.1 for implicit VR: pixel and overlay data are OW, and
 * US/SS-ambiguous values are read as US until Pixel Representation is known.
 */
const AMBIGUOUS_VR_DEFAULTS: Record<string, string> = {
  ox: 'OW',
  xs: 'US',
  lt: 'OW',
  na: 'UN',
};

const vrCache = new Map<Tag, string>();

function formatDictionaryKey(tag: Tag): string {
  const hex = tag.toString(16).toUpperCase().padStart(8, '0');
  return `(${hex.slice(0, 4)},${hex.slice(4)})`;
}

/**
 * Returns the VR of a tag from the data dictionary: UL for group length
 * (gggg,0000), LO for a private creator, UN for other private tags and for
 * tags the dictionary does not contain. Repeating groups (50xx, 60xx) resolve
 * through the dictionary's ranges. Item and delimitation tags return 'UN'.
 */
export function lookupVr(tag: Tag): string {
  const cached = vrCache.get(tag);
  if (cached !== undefined) return cached;

  let vr: string;
  if (tagElement(tag) === 0x0000) {
    vr = 'UL';
  } else if (isPrivateCreator(tag)) {
    vr = 'LO';
  } else if (isPrivateTag(tag)) {
    vr = 'UN';
  } else {
    const entry = getDictionary()[formatDictionaryKey(tag)];
    const dictionaryVr = entry?.vr ?? 'UN';
    vr = AMBIGUOUS_VR_DEFAULTS[dictionaryVr] ?? (KNOWN_VRS.has(dictionaryVr) ? dictionaryVr : 'UN');
  }

  vrCache.set(tag, vr);
  return vr;
}

/** Returns the dictionary keyword of a tag (e.g. 'PatientName'), or undefined for unknown tags. */
export function lookupKeyword(tag: Tag): string | undefined {
  if (isPrivateTag(tag)) return undefined;
  return getDictionary()[formatDictionaryKey(tag)]?.name;
}
