/**
 * DICOM unique identifiers: syntax checks (PS3.5 section 9.1), the transfer
 * syntaxes this loader recognises (PS3.5 section 10 and annex A), SOP class
 * UIDs (PS3.4) and generation of new UIDs (PS3.5 annex B.2).
 */
import { randomBytes } from 'crypto';

/** Maximum length of a UID value in characters (PS3.5 section 9.1). */
export const MAX_UID_LENGTH = 64;

/** Digits in components separated by single dots, as PS3.5 section 9.1 requires. */
const VALID_UID = /^[0-9]+(?:\.[0-9]+)*$/;

/**
 * Checks the UID syntax of PS3.5 section 9.1: 1-64 characters, only digits and
 * dots, no empty component. Trailing NUL or space padding must be removed first.
 * Leading zeros in a component are invalid by the standard but tolerated, because
 * real archives contain such UIDs and rejecting them would lose data.
 */
export function isValidUid(text: string): boolean {
  return describeUidProblem(text) === undefined;
}

/** Returns why `text` is not a valid UID, or undefined when it is valid. */
export function describeUidProblem(text: string): string | undefined {
  // The receive path checks several UIDs per instance, so a valid UID takes one regular expression test.
  if (text.length <= MAX_UID_LENGTH && VALID_UID.test(text)) return undefined;
  if (text.length === 0) return 'is empty';
  if (text.length > MAX_UID_LENGTH) {
    return `is ${text.length} characters long, more than the maximum of ${MAX_UID_LENGTH}`;
  }
  const invalid = text.match(/[^0-9.]/);
  if (invalid) {
    return `contains ${describeCharacter(invalid[0])} at position ${invalid.index}, but only digits and dots are allowed`;
  }
  if (text.startsWith('.') || text.endsWith('.') || text.includes('..')) {
    return 'has an empty component (a leading, trailing or doubled dot)';
  }
  return undefined;
}

export class InvalidUidError extends Error {
  override name = 'InvalidUidError';

  constructor(
    readonly attributeName: string,
    readonly value: string,
    readonly problem: string,
  ) {
    super(`Invalid UID in ${attributeName}: "${escapeForMessage(value)}" ${problem} (PS3.5 section 9.1).`);
  }
}

/** Throws InvalidUidError naming `attributeName` when `text` is not a valid UID. */
export function assertValidUid(text: string, attributeName: string): void {
  const problem = describeUidProblem(text);
  if (problem !== undefined) throw new InvalidUidError(attributeName, text, problem);
}

/** Escapes C0 and C1 control characters, quotes and backslashes so a value can be quoted in a message. */
export function escapeForMessage(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f"\\]/g, (character) => {
    if (character === '"') return '\\"';
    if (character === '\\') return '\\\\';
    return `\\x${character.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

function describeCharacter(character: string): string {
  const code = character.charCodeAt(0);
  if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) {
    return `the control character 0x${code.toString(16).padStart(2, '0')}`;
  }
  return `'${character}'`;
}

/**
 * Root of the UIDs this loader generates. "2.25" is the root for UIDs derived
 * from a UUID (PS3.5 annex B.2, ISO/IEC 9834-8), so no registered root is needed.
 */
export const LOADER_UID_ROOT = '2.25.';

/**
 * Generates a new UID: LOADER_UID_ROOT followed by the decimal value of a random
 * 128-bit number with the bits of a version 4 UUID (at most 39 digits, so the
 * result is at most 44 characters).
 */
export function generateUid(): string {
  const bytes = randomBytes(16);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  return LOADER_UID_ROOT + BigInt('0x' + bytes.toString('hex')).toString(10);
}

/** Implementation Class UID this loader writes into file meta information and associations. */
export const LOADER_IMPLEMENTATION_CLASS_UID = '2.25.217483649203581716553049651398716204091';

/** Implementation Version Name (at most 16 characters, PS3.7 annex D.3.3.2.3). */
export const LOADER_IMPLEMENTATION_VERSION_NAME = 'SCIBERIA_LDR_01';

/** Transfer syntax UIDs (PS3.5 section 10 and PS3.6 annex A). */
export const TransferSyntax = {
  ImplicitVRLittleEndian: '1.2.840.10008.1.2',
  ExplicitVRLittleEndian: '1.2.840.10008.1.2.1',
  EncapsulatedUncompressedExplicitVRLittleEndian: '1.2.840.10008.1.2.1.98',
  DeflatedExplicitVRLittleEndian: '1.2.840.10008.1.2.1.99',
  ExplicitVRBigEndian: '1.2.840.10008.1.2.2',
  JPEGBaseline8Bit: '1.2.840.10008.1.2.4.50',
  JPEGExtended12Bit: '1.2.840.10008.1.2.4.51',
  JPEGLossless: '1.2.840.10008.1.2.4.57',
  JPEGLosslessSV1: '1.2.840.10008.1.2.4.70',
  JPEGLSLossless: '1.2.840.10008.1.2.4.80',
  JPEGLSNearLossless: '1.2.840.10008.1.2.4.81',
  JPEG2000Lossless: '1.2.840.10008.1.2.4.90',
  JPEG2000: '1.2.840.10008.1.2.4.91',
  JPEG2000MCLossless: '1.2.840.10008.1.2.4.92',
  JPEG2000MC: '1.2.840.10008.1.2.4.93',
  JPIPReferenced: '1.2.840.10008.1.2.4.94',
  JPIPReferencedDeflate: '1.2.840.10008.1.2.4.95',
  MPEG2MPML: '1.2.840.10008.1.2.4.100',
  MPEG2MPHL: '1.2.840.10008.1.2.4.101',
  MPEG4HP41: '1.2.840.10008.1.2.4.102',
  MPEG4HP41BD: '1.2.840.10008.1.2.4.103',
  MPEG4HP422D: '1.2.840.10008.1.2.4.104',
  MPEG4HP423D: '1.2.840.10008.1.2.4.105',
  MPEG4HP42Stereo: '1.2.840.10008.1.2.4.106',
  HEVCMP51: '1.2.840.10008.1.2.4.107',
  HEVCM10P51: '1.2.840.10008.1.2.4.108',
  JPEGXLLossless: '1.2.840.10008.1.2.4.110',
  JPEGXLJPEGRecompression: '1.2.840.10008.1.2.4.111',
  JPEGXL: '1.2.840.10008.1.2.4.112',
  HTJ2KLossless: '1.2.840.10008.1.2.4.201',
  HTJ2KLosslessRPCL: '1.2.840.10008.1.2.4.202',
  HTJ2K: '1.2.840.10008.1.2.4.203',
  JPIPHTJ2KReferenced: '1.2.840.10008.1.2.4.204',
  JPIPHTJ2KReferencedDeflate: '1.2.840.10008.1.2.4.205',
  RLELossless: '1.2.840.10008.1.2.5',
  SMPTEST211020UncompressedProgressiveActiveVideo: '1.2.840.10008.1.2.7.1',
  SMPTEST211020UncompressedInterlacedActiveVideo: '1.2.840.10008.1.2.7.2',
  SMPTEST211030PCMDigitalAudio: '1.2.840.10008.1.2.7.3',
  DeflatedImageFrameCompression: '1.2.840.10008.1.2.8.1',
} as const;

export interface TransferSyntaxInfo {
  name: string;
  explicitVr: boolean;
  littleEndian: boolean;
  /** The data set after the file meta information is compressed with raw deflate (RFC 1951). */
  deflated: boolean;
  /** Pixel Data is encapsulated in fragments (PS3.5 annex A.4). */
  encapsulated: boolean;
  retired?: boolean;
}

function encapsulatedSyntax(name: string, retired = false): TransferSyntaxInfo {
  return { name, explicitVr: true, littleEndian: true, deflated: false, encapsulated: true, ...(retired ? { retired } : {}) };
}

const TRANSFER_SYNTAXES = new Map<string, TransferSyntaxInfo>([
  [TransferSyntax.ImplicitVRLittleEndian, { name: 'Implicit VR Little Endian', explicitVr: false, littleEndian: true, deflated: false, encapsulated: false }],
  [TransferSyntax.ExplicitVRLittleEndian, { name: 'Explicit VR Little Endian', explicitVr: true, littleEndian: true, deflated: false, encapsulated: false }],
  [TransferSyntax.EncapsulatedUncompressedExplicitVRLittleEndian, encapsulatedSyntax('Encapsulated Uncompressed Explicit VR Little Endian')],
  [TransferSyntax.DeflatedExplicitVRLittleEndian, { name: 'Deflated Explicit VR Little Endian', explicitVr: true, littleEndian: true, deflated: true, encapsulated: false }],
  [TransferSyntax.ExplicitVRBigEndian, { name: 'Explicit VR Big Endian', explicitVr: true, littleEndian: false, deflated: false, encapsulated: false, retired: true }],
  [TransferSyntax.JPEGBaseline8Bit, encapsulatedSyntax('JPEG Baseline (Process 1)')],
  [TransferSyntax.JPEGExtended12Bit, encapsulatedSyntax('JPEG Extended (Process 2 and 4)')],
  ['1.2.840.10008.1.2.4.52', encapsulatedSyntax('JPEG Extended (Process 3 and 5)', true)],
  ['1.2.840.10008.1.2.4.53', encapsulatedSyntax('JPEG Spectral Selection, Non-Hierarchical (Process 6 and 8)', true)],
  ['1.2.840.10008.1.2.4.54', encapsulatedSyntax('JPEG Spectral Selection, Non-Hierarchical (Process 7 and 9)', true)],
  ['1.2.840.10008.1.2.4.55', encapsulatedSyntax('JPEG Full Progression, Non-Hierarchical (Process 10 and 12)', true)],
  ['1.2.840.10008.1.2.4.56', encapsulatedSyntax('JPEG Full Progression, Non-Hierarchical (Process 11 and 13)', true)],
  [TransferSyntax.JPEGLossless, encapsulatedSyntax('JPEG Lossless, Non-Hierarchical (Process 14)')],
  ['1.2.840.10008.1.2.4.58', encapsulatedSyntax('JPEG Lossless, Non-Hierarchical (Process 15)', true)],
  ['1.2.840.10008.1.2.4.59', encapsulatedSyntax('JPEG Extended, Hierarchical (Process 16 and 18)', true)],
  ['1.2.840.10008.1.2.4.60', encapsulatedSyntax('JPEG Extended, Hierarchical (Process 17 and 19)', true)],
  ['1.2.840.10008.1.2.4.61', encapsulatedSyntax('JPEG Spectral Selection, Hierarchical (Process 20 and 22)', true)],
  ['1.2.840.10008.1.2.4.62', encapsulatedSyntax('JPEG Spectral Selection, Hierarchical (Process 21 and 23)', true)],
  ['1.2.840.10008.1.2.4.63', encapsulatedSyntax('JPEG Full Progression, Hierarchical (Process 24 and 26)', true)],
  ['1.2.840.10008.1.2.4.64', encapsulatedSyntax('JPEG Full Progression, Hierarchical (Process 25 and 27)', true)],
  ['1.2.840.10008.1.2.4.65', encapsulatedSyntax('JPEG Lossless, Hierarchical (Process 28)', true)],
  ['1.2.840.10008.1.2.4.66', encapsulatedSyntax('JPEG Lossless, Hierarchical (Process 29)', true)],
  [TransferSyntax.JPEGLosslessSV1, encapsulatedSyntax('JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])')],
  [TransferSyntax.JPEGLSLossless, encapsulatedSyntax('JPEG-LS Lossless Image Compression')],
  [TransferSyntax.JPEGLSNearLossless, encapsulatedSyntax('JPEG-LS Lossy (Near-Lossless) Image Compression')],
  [TransferSyntax.JPEG2000Lossless, encapsulatedSyntax('JPEG 2000 Image Compression (Lossless Only)')],
  [TransferSyntax.JPEG2000, encapsulatedSyntax('JPEG 2000 Image Compression')],
  [TransferSyntax.JPEG2000MCLossless, encapsulatedSyntax('JPEG 2000 Part 2 Multi-component Image Compression (Lossless Only)')],
  [TransferSyntax.JPEG2000MC, encapsulatedSyntax('JPEG 2000 Part 2 Multi-component Image Compression')],
  // JPIP Referenced syntaxes carry a URL in Pixel Data Provider URL instead of pixel data.
  [TransferSyntax.JPIPReferenced, { name: 'JPIP Referenced', explicitVr: true, littleEndian: true, deflated: false, encapsulated: false }],
  [TransferSyntax.JPIPReferencedDeflate, { name: 'JPIP Referenced Deflate', explicitVr: true, littleEndian: true, deflated: true, encapsulated: false }],
  [TransferSyntax.MPEG2MPML, encapsulatedSyntax('MPEG2 Main Profile / Main Level')],
  [TransferSyntax.MPEG2MPHL, encapsulatedSyntax('MPEG2 Main Profile / High Level')],
  [TransferSyntax.MPEG4HP41, encapsulatedSyntax('MPEG-4 AVC/H.264 High Profile / Level 4.1')],
  [TransferSyntax.MPEG4HP41BD, encapsulatedSyntax('MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1')],
  [TransferSyntax.MPEG4HP422D, encapsulatedSyntax('MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video')],
  [TransferSyntax.MPEG4HP423D, encapsulatedSyntax('MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video')],
  [TransferSyntax.MPEG4HP42Stereo, encapsulatedSyntax('MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2')],
  [TransferSyntax.HEVCMP51, encapsulatedSyntax('HEVC/H.265 Main Profile / Level 5.1')],
  [TransferSyntax.HEVCM10P51, encapsulatedSyntax('HEVC/H.265 Main 10 Profile / Level 5.1')],
  [TransferSyntax.JPEGXLLossless, encapsulatedSyntax('JPEG XL Lossless')],
  [TransferSyntax.JPEGXLJPEGRecompression, encapsulatedSyntax('JPEG XL JPEG Recompression')],
  [TransferSyntax.JPEGXL, encapsulatedSyntax('JPEG XL')],
  [TransferSyntax.HTJ2KLossless, encapsulatedSyntax('High-Throughput JPEG 2000 Image Compression (Lossless Only)')],
  [TransferSyntax.HTJ2KLosslessRPCL, encapsulatedSyntax('High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)')],
  [TransferSyntax.HTJ2K, encapsulatedSyntax('High-Throughput JPEG 2000 Image Compression')],
  [TransferSyntax.JPIPHTJ2KReferenced, { name: 'JPIP HTJ2K Referenced', explicitVr: true, littleEndian: true, deflated: false, encapsulated: false }],
  [TransferSyntax.JPIPHTJ2KReferencedDeflate, { name: 'JPIP HTJ2K Referenced Deflate', explicitVr: true, littleEndian: true, deflated: true, encapsulated: false }],
  [TransferSyntax.RLELossless, encapsulatedSyntax('RLE Lossless')],
  [TransferSyntax.SMPTEST211020UncompressedProgressiveActiveVideo, encapsulatedSyntax('SMPTE ST 2110-20 Uncompressed Progressive Active Video')],
  [TransferSyntax.SMPTEST211020UncompressedInterlacedActiveVideo, encapsulatedSyntax('SMPTE ST 2110-20 Uncompressed Interlaced Active Video')],
  [TransferSyntax.SMPTEST211030PCMDigitalAudio, encapsulatedSyntax('SMPTE ST 2110-30 PCM Digital Audio')],
  [TransferSyntax.DeflatedImageFrameCompression, encapsulatedSyntax('Deflated Image Frame Compression')],
]);

/**
 * Returns how a transfer syntax encodes a data set, or undefined for a UID this
 * loader does not know. Trailing NUL or space padding of `uid` is ignored.
 */
export function describeTransferSyntax(uid: string): TransferSyntaxInfo | undefined {
  const info = TRANSFER_SYNTAXES.get(uid.replace(/[\0 ]+$/, ''));
  return info ? { ...info } : undefined;
}

/** Returns the UIDs of every transfer syntax that describeTransferSyntax describes. */
export function knownTransferSyntaxUids(): string[] {
  return [...TRANSFER_SYNTAXES.keys()];
}

/** SOP class UIDs for verification and query/retrieve (PS3.4 annexes A and C). */
export const SopClass = {
  Verification: '1.2.840.10008.1.1',
  PatientRootQueryRetrieveFind: '1.2.840.10008.5.1.4.1.2.1.1',
  PatientRootQueryRetrieveMove: '1.2.840.10008.5.1.4.1.2.1.2',
  PatientRootQueryRetrieveGet: '1.2.840.10008.5.1.4.1.2.1.3',
  StudyRootQueryRetrieveFind: '1.2.840.10008.5.1.4.1.2.2.1',
  StudyRootQueryRetrieveMove: '1.2.840.10008.5.1.4.1.2.2.2',
  StudyRootQueryRetrieveGet: '1.2.840.10008.5.1.4.1.2.2.3',
  PatientStudyOnlyQueryRetrieveFind: '1.2.840.10008.5.1.4.1.2.3.1',
  PatientStudyOnlyQueryRetrieveMove: '1.2.840.10008.5.1.4.1.2.3.2',
  PatientStudyOnlyQueryRetrieveGet: '1.2.840.10008.5.1.4.1.2.3.3',
  StorageCommitmentPushModel: '1.2.840.10008.1.20.1',
  /** SOP Class UID of a DICOMDIR (Media Storage Directory Storage, PS3.10 section 8). */
  MediaStorageDirectoryStorage: '1.2.840.10008.1.3.10',
  CTImageStorage: '1.2.840.10008.5.1.4.1.1.2',
  EnhancedCTImageStorage: '1.2.840.10008.5.1.4.1.1.2.1',
  MRImageStorage: '1.2.840.10008.5.1.4.1.1.4',
  EnhancedMRImageStorage: '1.2.840.10008.5.1.4.1.1.4.1',
  UltrasoundImageStorage: '1.2.840.10008.5.1.4.1.1.6.1',
  UltrasoundMultiFrameImageStorage: '1.2.840.10008.5.1.4.1.1.3.1',
  SecondaryCaptureImageStorage: '1.2.840.10008.5.1.4.1.1.7',
  ComputedRadiographyImageStorage: '1.2.840.10008.5.1.4.1.1.1',
  DigitalXRayImageStorageForPresentation: '1.2.840.10008.5.1.4.1.1.1.1',
  DigitalMammographyXRayImageStorageForPresentation: '1.2.840.10008.5.1.4.1.1.1.2',
  XRayAngiographicImageStorage: '1.2.840.10008.5.1.4.1.1.12.1',
  XRayRadiofluoroscopicImageStorage: '1.2.840.10008.5.1.4.1.1.12.2',
  NuclearMedicineImageStorage: '1.2.840.10008.5.1.4.1.1.20',
  PositronEmissionTomographyImageStorage: '1.2.840.10008.5.1.4.1.1.128',
  RTImageStorage: '1.2.840.10008.5.1.4.1.1.481.1',
  RTDoseStorage: '1.2.840.10008.5.1.4.1.1.481.2',
  RTStructureSetStorage: '1.2.840.10008.5.1.4.1.1.481.3',
  RTPlanStorage: '1.2.840.10008.5.1.4.1.1.481.5',
  SegmentationStorage: '1.2.840.10008.5.1.4.1.1.66.4',
  BasicTextSRStorage: '1.2.840.10008.5.1.4.1.1.88.11',
  EnhancedSRStorage: '1.2.840.10008.5.1.4.1.1.88.22',
  ComprehensiveSRStorage: '1.2.840.10008.5.1.4.1.1.88.33',
  KeyObjectSelectionDocumentStorage: '1.2.840.10008.5.1.4.1.1.88.59',
  EncapsulatedPDFStorage: '1.2.840.10008.5.1.4.1.1.104.1',
  GrayscaleSoftcopyPresentationStateStorage: '1.2.840.10008.5.1.4.1.1.11.1',
} as const;

export interface SopClassInfo {
  uid: string;
  name: string;
  /** Keyword as in PS3.6 table A-1. */
  keyword: string;
  /** The class is retired from the standard, but archives still accept it for old data. */
  retired?: boolean;
}

/**
 * Storage SOP classes of PS3.4 annex B (table B.5-1) and the other storage
 * service classes (hanging protocols, color palettes, implant templates, RT
 * delivery instructions), including retired ones. The list was generated from
 * the UID dictionary of pydicom 2.3.1, which follows the 2022 edition of PS3.6.
 */
export const STORAGE_SOP_CLASSES: readonly SopClassInfo[] = [
  { uid: "1.2.840.10008.1.3.10", name: "Media Storage Directory Storage", keyword: "MediaStorageDirectoryStorage" },
  { uid: "1.2.840.10008.5.1.1.27", name: "Stored Print Storage SOP Class", keyword: "StoredPrintStorage", retired: true },
  { uid: "1.2.840.10008.5.1.1.29", name: "Hardcopy Grayscale Image Storage SOP Class", keyword: "HardcopyGrayscaleImageStorage", retired: true },
  { uid: "1.2.840.10008.5.1.1.30", name: "Hardcopy Color Image Storage SOP Class", keyword: "HardcopyColorImageStorage", retired: true },
  { uid: "1.2.840.10008.5.1.4.1.1.1", name: "Computed Radiography Image Storage", keyword: "ComputedRadiographyImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.1.1", name: "Digital X-Ray Image Storage - For Presentation", keyword: "DigitalXRayImageStorageForPresentation" },
  { uid: "1.2.840.10008.5.1.4.1.1.1.1.1", name: "Digital X-Ray Image Storage - For Processing", keyword: "DigitalXRayImageStorageForProcessing" },
  { uid: "1.2.840.10008.5.1.4.1.1.1.2", name: "Digital Mammography X-Ray Image Storage - For Presentation", keyword: "DigitalMammographyXRayImageStorageForPresentation" },
  { uid: "1.2.840.10008.5.1.4.1.1.1.2.1", name: "Digital Mammography X-Ray Image Storage - For Processing", keyword: "DigitalMammographyXRayImageStorageForProcessing" },
  { uid: "1.2.840.10008.5.1.4.1.1.1.3", name: "Digital Intra-Oral X-Ray Image Storage - For Presentation", keyword: "DigitalIntraOralXRayImageStorageForPresentation" },
  { uid: "1.2.840.10008.5.1.4.1.1.1.3.1", name: "Digital Intra-Oral X-Ray Image Storage - For Processing", keyword: "DigitalIntraOralXRayImageStorageForProcessing" },
  { uid: "1.2.840.10008.5.1.4.1.1.2", name: "CT Image Storage", keyword: "CTImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.2.1", name: "Enhanced CT Image Storage", keyword: "EnhancedCTImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.2.2", name: "Legacy Converted Enhanced CT Image Storage", keyword: "LegacyConvertedEnhancedCTImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.3", name: "Ultrasound Multi-frame Image Storage", keyword: "UltrasoundMultiFrameImageStorageRetired", retired: true },
  { uid: "1.2.840.10008.5.1.4.1.1.3.1", name: "Ultrasound Multi-frame Image Storage", keyword: "UltrasoundMultiFrameImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.4", name: "MR Image Storage", keyword: "MRImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.4.1", name: "Enhanced MR Image Storage", keyword: "EnhancedMRImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.4.2", name: "MR Spectroscopy Storage", keyword: "MRSpectroscopyStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.4.3", name: "Enhanced MR Color Image Storage", keyword: "EnhancedMRColorImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.4.4", name: "Legacy Converted Enhanced MR Image Storage", keyword: "LegacyConvertedEnhancedMRImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.5", name: "Nuclear Medicine Image Storage", keyword: "NuclearMedicineImageStorageRetired", retired: true },
  { uid: "1.2.840.10008.5.1.4.1.1.6", name: "Ultrasound Image Storage", keyword: "UltrasoundImageStorageRetired", retired: true },
  { uid: "1.2.840.10008.5.1.4.1.1.6.1", name: "Ultrasound Image Storage", keyword: "UltrasoundImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.6.2", name: "Enhanced US Volume Storage", keyword: "EnhancedUSVolumeStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.7", name: "Secondary Capture Image Storage", keyword: "SecondaryCaptureImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.7.1", name: "Multi-frame Single Bit Secondary Capture Image Storage", keyword: "MultiFrameSingleBitSecondaryCaptureImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.7.2", name: "Multi-frame Grayscale Byte Secondary Capture Image Storage", keyword: "MultiFrameGrayscaleByteSecondaryCaptureImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.7.3", name: "Multi-frame Grayscale Word Secondary Capture Image Storage", keyword: "MultiFrameGrayscaleWordSecondaryCaptureImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.7.4", name: "Multi-frame True Color Secondary Capture Image Storage", keyword: "MultiFrameTrueColorSecondaryCaptureImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.8", name: "Standalone Overlay Storage", keyword: "StandaloneOverlayStorage", retired: true },
  { uid: "1.2.840.10008.5.1.4.1.1.9", name: "Standalone Curve Storage", keyword: "StandaloneCurveStorage", retired: true },
  { uid: "1.2.840.10008.5.1.4.1.1.9.1", name: "Waveform Storage - Trial", keyword: "WaveformStorageTrial", retired: true },
  { uid: "1.2.840.10008.5.1.4.1.1.9.1.1", name: "12-lead ECG Waveform Storage", keyword: "TwelveLeadECGWaveformStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.9.1.2", name: "General ECG Waveform Storage", keyword: "GeneralECGWaveformStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.9.1.3", name: "Ambulatory ECG Waveform Storage", keyword: "AmbulatoryECGWaveformStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.9.2.1", name: "Hemodynamic Waveform Storage", keyword: "HemodynamicWaveformStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.9.3.1", name: "Cardiac Electrophysiology Waveform Storage", keyword: "CardiacElectrophysiologyWaveformStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.9.4.1", name: "Basic Voice Audio Waveform Storage", keyword: "BasicVoiceAudioWaveformStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.9.4.2", name: "General Audio Waveform Storage", keyword: "GeneralAudioWaveformStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.9.5.1", name: "Arterial Pulse Waveform Storage", keyword: "ArterialPulseWaveformStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.9.6.1", name: "Respiratory Waveform Storage", keyword: "RespiratoryWaveformStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.9.6.2", name: "Multi-channel Respiratory Waveform Storage", keyword: "MultichannelRespiratoryWaveformStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.9.7.1", name: "Routine Scalp Electroencephalogram Waveform Storage", keyword: "RoutineScalpElectroencephalogramWaveformStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.9.7.2", name: "Electromyogram Waveform Storage", keyword: "ElectromyogramWaveformStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.9.7.3", name: "Electrooculogram Waveform Storage", keyword: "ElectrooculogramWaveformStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.9.7.4", name: "Sleep Electroencephalogram Waveform Storage", keyword: "SleepElectroencephalogramWaveformStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.9.8.1", name: "Body Position Waveform Storage", keyword: "BodyPositionWaveformStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.10", name: "Standalone Modality LUT Storage", keyword: "StandaloneModalityLUTStorage", retired: true },
  { uid: "1.2.840.10008.5.1.4.1.1.11", name: "Standalone VOI LUT Storage", keyword: "StandaloneVOILUTStorage", retired: true },
  { uid: "1.2.840.10008.5.1.4.1.1.11.1", name: "Grayscale Softcopy Presentation State Storage", keyword: "GrayscaleSoftcopyPresentationStateStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.11.2", name: "Color Softcopy Presentation State Storage", keyword: "ColorSoftcopyPresentationStateStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.11.3", name: "Pseudo-Color Softcopy Presentation State Storage", keyword: "PseudoColorSoftcopyPresentationStateStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.11.4", name: "Blending Softcopy Presentation State Storage", keyword: "BlendingSoftcopyPresentationStateStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.11.5", name: "XA/XRF Grayscale Softcopy Presentation State Storage", keyword: "XAXRFGrayscaleSoftcopyPresentationStateStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.11.6", name: "Grayscale Planar MPR Volumetric Presentation State Storage", keyword: "GrayscalePlanarMPRVolumetricPresentationStateStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.11.7", name: "Compositing Planar MPR Volumetric Presentation State Storage", keyword: "CompositingPlanarMPRVolumetricPresentationStateStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.11.8", name: "Advanced Blending Presentation State Storage", keyword: "AdvancedBlendingPresentationStateStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.11.9", name: "Volume Rendering Volumetric Presentation State Storage", keyword: "VolumeRenderingVolumetricPresentationStateStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.11.10", name: "Segmented Volume Rendering Volumetric Presentation State Storage", keyword: "SegmentedVolumeRenderingVolumetricPresentationStateStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.11.11", name: "Multiple Volume Rendering Volumetric Presentation State Storage", keyword: "MultipleVolumeRenderingVolumetricPresentationStateStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.12.1", name: "X-Ray Angiographic Image Storage", keyword: "XRayAngiographicImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.12.1.1", name: "Enhanced XA Image Storage", keyword: "EnhancedXAImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.12.2", name: "X-Ray Radiofluoroscopic Image Storage", keyword: "XRayRadiofluoroscopicImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.12.2.1", name: "Enhanced XRF Image Storage", keyword: "EnhancedXRFImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.12.3", name: "X-Ray Angiographic Bi-Plane Image Storage", keyword: "XRayAngiographicBiPlaneImageStorage", retired: true },
  { uid: "1.2.840.10008.5.1.4.1.1.12.77", name: "", keyword: "", retired: true },
  { uid: "1.2.840.10008.5.1.4.1.1.13.1.1", name: "X-Ray 3D Angiographic Image Storage", keyword: "XRay3DAngiographicImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.13.1.2", name: "X-Ray 3D Craniofacial Image Storage", keyword: "XRay3DCraniofacialImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.13.1.3", name: "Breast Tomosynthesis Image Storage", keyword: "BreastTomosynthesisImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.13.1.4", name: "Breast Projection X-Ray Image Storage - For Presentation", keyword: "BreastProjectionXRayImageStorageForPresentation" },
  { uid: "1.2.840.10008.5.1.4.1.1.13.1.5", name: "Breast Projection X-Ray Image Storage - For Processing", keyword: "BreastProjectionXRayImageStorageForProcessing" },
  { uid: "1.2.840.10008.5.1.4.1.1.14.1", name: "Intravascular Optical Coherence Tomography Image Storage - For Presentation", keyword: "IntravascularOpticalCoherenceTomographyImageStorageForPresentation" },
  { uid: "1.2.840.10008.5.1.4.1.1.14.2", name: "Intravascular Optical Coherence Tomography Image Storage - For Processing", keyword: "IntravascularOpticalCoherenceTomographyImageStorageForProcessing" },
  { uid: "1.2.840.10008.5.1.4.1.1.20", name: "Nuclear Medicine Image Storage", keyword: "NuclearMedicineImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.30", name: "Parametric Map Storage", keyword: "ParametricMapStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.40", name: "", keyword: "", retired: true },
  { uid: "1.2.840.10008.5.1.4.1.1.66", name: "Raw Data Storage", keyword: "RawDataStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.66.1", name: "Spatial Registration Storage", keyword: "SpatialRegistrationStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.66.2", name: "Spatial Fiducials Storage", keyword: "SpatialFiducialsStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.66.3", name: "Deformable Spatial Registration Storage", keyword: "DeformableSpatialRegistrationStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.66.4", name: "Segmentation Storage", keyword: "SegmentationStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.66.5", name: "Surface Segmentation Storage", keyword: "SurfaceSegmentationStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.66.6", name: "Tractography Results Storage", keyword: "TractographyResultsStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.67", name: "Real World Value Mapping Storage", keyword: "RealWorldValueMappingStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.68.1", name: "Surface Scan Mesh Storage", keyword: "SurfaceScanMeshStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.68.2", name: "Surface Scan Point Cloud Storage", keyword: "SurfaceScanPointCloudStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.77.1", name: "VL Image Storage - Trial", keyword: "VLImageStorageTrial", retired: true },
  { uid: "1.2.840.10008.5.1.4.1.1.77.1.1", name: "VL Endoscopic Image Storage", keyword: "VLEndoscopicImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.77.1.1.1", name: "Video Endoscopic Image Storage", keyword: "VideoEndoscopicImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.77.1.2", name: "VL Microscopic Image Storage", keyword: "VLMicroscopicImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.77.1.2.1", name: "Video Microscopic Image Storage", keyword: "VideoMicroscopicImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.77.1.3", name: "VL Slide-Coordinates Microscopic Image Storage", keyword: "VLSlideCoordinatesMicroscopicImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.77.1.4", name: "VL Photographic Image Storage", keyword: "VLPhotographicImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.77.1.4.1", name: "Video Photographic Image Storage", keyword: "VideoPhotographicImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.77.1.5.1", name: "Ophthalmic Photography 8 Bit Image Storage", keyword: "OphthalmicPhotography8BitImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.77.1.5.2", name: "Ophthalmic Photography 16 Bit Image Storage", keyword: "OphthalmicPhotography16BitImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.77.1.5.3", name: "Stereometric Relationship Storage", keyword: "StereometricRelationshipStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.77.1.5.4", name: "Ophthalmic Tomography Image Storage", keyword: "OphthalmicTomographyImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.77.1.5.5", name: "Wide Field Ophthalmic Photography Stereographic Projection Image Storage", keyword: "WideFieldOphthalmicPhotographyStereographicProjectionImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.77.1.5.6", name: "Wide Field Ophthalmic Photography 3D Coordinates Image Storage", keyword: "WideFieldOphthalmicPhotography3DCoordinatesImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.77.1.5.7", name: "Ophthalmic Optical Coherence Tomography En Face Image Storage", keyword: "OphthalmicOpticalCoherenceTomographyEnFaceImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.77.1.5.8", name: "Ophthalmic Optical Coherence Tomography B-scan Volume Analysis Storage", keyword: "OphthalmicOpticalCoherenceTomographyBscanVolumeAnalysisStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.77.1.6", name: "VL Whole Slide Microscopy Image Storage", keyword: "VLWholeSlideMicroscopyImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.77.1.7", name: "Dermoscopic Photography Image Storage", keyword: "DermoscopicPhotographyImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.77.2", name: "VL Multi-frame Image Storage - Trial", keyword: "VLMultiFrameImageStorageTrial", retired: true },
  { uid: "1.2.840.10008.5.1.4.1.1.78.1", name: "Lensometry Measurements Storage", keyword: "LensometryMeasurementsStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.78.2", name: "Autorefraction Measurements Storage", keyword: "AutorefractionMeasurementsStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.78.3", name: "Keratometry Measurements Storage", keyword: "KeratometryMeasurementsStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.78.4", name: "Subjective Refraction Measurements Storage", keyword: "SubjectiveRefractionMeasurementsStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.78.5", name: "Visual Acuity Measurements Storage", keyword: "VisualAcuityMeasurementsStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.78.6", name: "Spectacle Prescription Report Storage", keyword: "SpectaclePrescriptionReportStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.78.7", name: "Ophthalmic Axial Measurements Storage", keyword: "OphthalmicAxialMeasurementsStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.78.8", name: "Intraocular Lens Calculations Storage", keyword: "IntraocularLensCalculationsStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.79.1", name: "Macular Grid Thickness and Volume Report Storage", keyword: "MacularGridThicknessAndVolumeReportStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.80.1", name: "Ophthalmic Visual Field Static Perimetry Measurements Storage", keyword: "OphthalmicVisualFieldStaticPerimetryMeasurementsStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.81.1", name: "Ophthalmic Thickness Map Storage", keyword: "OphthalmicThicknessMapStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.82.1", name: "Corneal Topography Map Storage", keyword: "CornealTopographyMapStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.88.1", name: "Text SR Storage - Trial", keyword: "TextSRStorageTrial", retired: true },
  { uid: "1.2.840.10008.5.1.4.1.1.88.2", name: "Audio SR Storage - Trial", keyword: "AudioSRStorageTrial", retired: true },
  { uid: "1.2.840.10008.5.1.4.1.1.88.3", name: "Detail SR Storage - Trial", keyword: "DetailSRStorageTrial", retired: true },
  { uid: "1.2.840.10008.5.1.4.1.1.88.4", name: "Comprehensive SR Storage - Trial", keyword: "ComprehensiveSRStorageTrial", retired: true },
  { uid: "1.2.840.10008.5.1.4.1.1.88.11", name: "Basic Text SR Storage", keyword: "BasicTextSRStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.88.22", name: "Enhanced SR Storage", keyword: "EnhancedSRStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.88.33", name: "Comprehensive SR Storage", keyword: "ComprehensiveSRStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.88.34", name: "Comprehensive 3D SR Storage", keyword: "Comprehensive3DSRStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.88.35", name: "Extensible SR Storage", keyword: "ExtensibleSRStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.88.40", name: "Procedure Log Storage", keyword: "ProcedureLogStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.88.50", name: "Mammography CAD SR Storage", keyword: "MammographyCADSRStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.88.59", name: "Key Object Selection Document Storage", keyword: "KeyObjectSelectionDocumentStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.88.65", name: "Chest CAD SR Storage", keyword: "ChestCADSRStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.88.67", name: "X-Ray Radiation Dose SR Storage", keyword: "XRayRadiationDoseSRStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.88.68", name: "Radiopharmaceutical Radiation Dose SR Storage", keyword: "RadiopharmaceuticalRadiationDoseSRStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.88.69", name: "Colon CAD SR Storage", keyword: "ColonCADSRStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.88.70", name: "Implantation Plan SR Storage", keyword: "ImplantationPlanSRStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.88.71", name: "Acquisition Context SR Storage", keyword: "AcquisitionContextSRStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.88.72", name: "Simplified Adult Echo SR Storage", keyword: "SimplifiedAdultEchoSRStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.88.73", name: "Patient Radiation Dose SR Storage", keyword: "PatientRadiationDoseSRStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.88.74", name: "Planned Imaging Agent Administration SR Storage", keyword: "PlannedImagingAgentAdministrationSRStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.88.75", name: "Performed Imaging Agent Administration SR Storage", keyword: "PerformedImagingAgentAdministrationSRStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.88.76", name: "Enhanced X-Ray Radiation Dose SR Storage", keyword: "EnhancedXRayRadiationDoseSRStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.90.1", name: "Content Assessment Results Storage", keyword: "ContentAssessmentResultsStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.91.1", name: "Microscopy Bulk Simple Annotations Storage", keyword: "MicroscopyBulkSimpleAnnotationsStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.104.1", name: "Encapsulated PDF Storage", keyword: "EncapsulatedPDFStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.104.2", name: "Encapsulated CDA Storage", keyword: "EncapsulatedCDAStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.104.3", name: "Encapsulated STL Storage", keyword: "EncapsulatedSTLStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.104.4", name: "Encapsulated OBJ Storage", keyword: "EncapsulatedOBJStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.104.5", name: "Encapsulated MTL Storage", keyword: "EncapsulatedMTLStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.128", name: "Positron Emission Tomography Image Storage", keyword: "PositronEmissionTomographyImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.128.1", name: "Legacy Converted Enhanced PET Image Storage", keyword: "LegacyConvertedEnhancedPETImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.129", name: "Standalone PET Curve Storage", keyword: "StandalonePETCurveStorage", retired: true },
  { uid: "1.2.840.10008.5.1.4.1.1.130", name: "Enhanced PET Image Storage", keyword: "EnhancedPETImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.131", name: "Basic Structured Display Storage", keyword: "BasicStructuredDisplayStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.200.1", name: "CT Defined Procedure Protocol Storage", keyword: "CTDefinedProcedureProtocolStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.200.2", name: "CT Performed Procedure Protocol Storage", keyword: "CTPerformedProcedureProtocolStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.200.3", name: "Protocol Approval Storage", keyword: "ProtocolApprovalStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.200.4", name: "Protocol Approval Information Model - FIND", keyword: "ProtocolApprovalInformationModelFind" },
  { uid: "1.2.840.10008.5.1.4.1.1.200.5", name: "Protocol Approval Information Model - MOVE", keyword: "ProtocolApprovalInformationModelMove" },
  { uid: "1.2.840.10008.5.1.4.1.1.200.6", name: "Protocol Approval Information Model - GET", keyword: "ProtocolApprovalInformationModelGet" },
  { uid: "1.2.840.10008.5.1.4.1.1.200.7", name: "XA Defined Procedure Protocol Storage", keyword: "XADefinedProcedureProtocolStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.200.8", name: "XA Performed Procedure Protocol Storage", keyword: "XAPerformedProcedureProtocolStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.481.1", name: "RT Image Storage", keyword: "RTImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.481.2", name: "RT Dose Storage", keyword: "RTDoseStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.481.3", name: "RT Structure Set Storage", keyword: "RTStructureSetStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.481.4", name: "RT Beams Treatment Record Storage", keyword: "RTBeamsTreatmentRecordStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.481.5", name: "RT Plan Storage", keyword: "RTPlanStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.481.6", name: "RT Brachy Treatment Record Storage", keyword: "RTBrachyTreatmentRecordStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.481.7", name: "RT Treatment Summary Record Storage", keyword: "RTTreatmentSummaryRecordStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.481.8", name: "RT Ion Plan Storage", keyword: "RTIonPlanStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.481.9", name: "RT Ion Beams Treatment Record Storage", keyword: "RTIonBeamsTreatmentRecordStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.481.10", name: "RT Physician Intent Storage", keyword: "RTPhysicianIntentStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.481.11", name: "RT Segment Annotation Storage", keyword: "RTSegmentAnnotationStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.481.12", name: "RT Radiation Set Storage", keyword: "RTRadiationSetStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.481.13", name: "C-Arm Photon-Electron Radiation Storage", keyword: "CArmPhotonElectronRadiationStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.481.14", name: "Tomotherapeutic Radiation Storage", keyword: "TomotherapeuticRadiationStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.481.15", name: "Robotic-Arm Radiation Storage", keyword: "RoboticArmRadiationStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.481.16", name: "RT Radiation Record Set Storage", keyword: "RTRadiationRecordSetStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.481.17", name: "RT Radiation Salvage Record Storage", keyword: "RTRadiationSalvageRecordStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.481.18", name: "Tomotherapeutic Radiation Record Storage", keyword: "TomotherapeuticRadiationRecordStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.481.19", name: "C-Arm Photon-Electron Radiation Record Storage", keyword: "CArmPhotonElectronRadiationRecordStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.481.20", name: "Robotic Radiation Record Storage", keyword: "RoboticRadiationRecordStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.481.21", name: "RT Radiation Set Delivery Instruction Storage", keyword: "RTRadiationSetDeliveryInstructionStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.481.22", name: "RT Treatment Preparation Storage", keyword: "RTTreatmentPreparationStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.501.1", name: "DICOS CT Image Storage", keyword: "DICOSCTImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.501.2.1", name: "DICOS Digital X-Ray Image Storage - For Presentation", keyword: "DICOSDigitalXRayImageStorageForPresentation" },
  { uid: "1.2.840.10008.5.1.4.1.1.501.2.2", name: "DICOS Digital X-Ray Image Storage - For Processing", keyword: "DICOSDigitalXRayImageStorageForProcessing" },
  { uid: "1.2.840.10008.5.1.4.1.1.501.3", name: "DICOS Threat Detection Report Storage", keyword: "DICOSThreatDetectionReportStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.501.4", name: "DICOS 2D AIT Storage", keyword: "DICOS2DAITStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.501.5", name: "DICOS 3D AIT Storage", keyword: "DICOS3DAITStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.501.6", name: "DICOS Quadrupole Resonance (QR) Storage", keyword: "DICOSQuadrupoleResonanceStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.601.1", name: "Eddy Current Image Storage", keyword: "EddyCurrentImageStorage" },
  { uid: "1.2.840.10008.5.1.4.1.1.601.2", name: "Eddy Current Multi-frame Image Storage", keyword: "EddyCurrentMultiFrameImageStorage" },
  { uid: "1.2.840.10008.5.1.4.34.1", name: "RT Beams Delivery Instruction Storage - Trial", keyword: "RTBeamsDeliveryInstructionStorageTrial", retired: true },
  { uid: "1.2.840.10008.5.1.4.34.7", name: "RT Beams Delivery Instruction Storage", keyword: "RTBeamsDeliveryInstructionStorage" },
  { uid: "1.2.840.10008.5.1.4.34.10", name: "RT Brachy Application Setup Delivery Instruction Storage", keyword: "RTBrachyApplicationSetupDeliveryInstructionStorage" },
  { uid: "1.2.840.10008.5.1.4.38.1", name: "Hanging Protocol Storage", keyword: "HangingProtocolStorage" },
  { uid: "1.2.840.10008.5.1.4.39.1", name: "Color Palette Storage", keyword: "ColorPaletteStorage" },
  { uid: "1.2.840.10008.5.1.4.43.1", name: "Generic Implant Template Storage", keyword: "GenericImplantTemplateStorage" },
  { uid: "1.2.840.10008.5.1.4.44.1", name: "Implant Assembly Template Storage", keyword: "ImplantAssemblyTemplateStorage" },
  { uid: "1.2.840.10008.5.1.4.45.1", name: "Implant Template Group Storage", keyword: "ImplantTemplateGroupStorage" },
];

const STORAGE_SOP_CLASS_BY_UID = new Map(STORAGE_SOP_CLASSES.map((info) => [info.uid, info]));

/** Returns true when `uid` is one of STORAGE_SOP_CLASSES. */
export function isStorageSopClass(uid: string): boolean {
  return STORAGE_SOP_CLASS_BY_UID.has(uid.replace(/[\0 ]+$/, ''));
}

/** Returns the name of a storage SOP class, or undefined when the UID is not one. */
export function describeStorageSopClass(uid: string): SopClassInfo | undefined {
  return STORAGE_SOP_CLASS_BY_UID.get(uid.replace(/[\0 ]+$/, ''));
}
