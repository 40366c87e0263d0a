/**
 * Presentation contexts and SCP role selections for a C-GET association
 * (PS3.4 C.4.3, PS3.7 D.3.3.4): the storage SOP classes whose instances the
 * node may send back on it, within the limit of 128 contexts.
 */
import type { RoleSelection } from '../../dicom/network';
import { SopClass, STORAGE_SOP_CLASSES, TransferSyntax } from '../../dicom/uid';

export const MAX_PRESENTATION_CONTEXTS = 128;

const UNCOMPRESSED = [TransferSyntax.ExplicitVRLittleEndian, TransferSyntax.ImplicitVRLittleEndian];

/**
 * Compressed syntaxes proposed for a SOP class seen in the study when the node
 * did not report the instances' transfer syntaxes, so compressed instances can
 * still arrive unchanged. Without JPEG-LS near-lossless, a JPEG-LS lossy MR
 * image retrieved from Orthanc arrived decoded, at 7 times its stored size.
 */
const COMMON_COMPRESSED = [
  TransferSyntax.JPEGBaseline8Bit,
  TransferSyntax.JPEGExtended12Bit,
  TransferSyntax.JPEGLosslessSV1,
  TransferSyntax.JPEGLossless,
  TransferSyntax.JPEGLSLossless,
  TransferSyntax.JPEGLSNearLossless,
  TransferSyntax.JPEG2000Lossless,
  TransferSyntax.JPEG2000,
  TransferSyntax.RLELossless,
  TransferSyntax.DeflatedExplicitVRLittleEndian,
];

/** Storage classes proposed before the rest of STORAGE_SOP_CLASSES, because most studies contain them. */
const COMMON_STORAGE_CLASSES = [
  SopClass.CTImageStorage,
  SopClass.MRImageStorage,
  SopClass.SecondaryCaptureImageStorage,
  SopClass.ComputedRadiographyImageStorage,
  SopClass.DigitalXRayImageStorageForPresentation,
  SopClass.DigitalMammographyXRayImageStorageForPresentation,
  SopClass.UltrasoundImageStorage,
  SopClass.UltrasoundMultiFrameImageStorage,
  SopClass.XRayAngiographicImageStorage,
  SopClass.XRayRadiofluoroscopicImageStorage,
  SopClass.NuclearMedicineImageStorage,
  SopClass.PositronEmissionTomographyImageStorage,
  SopClass.EnhancedCTImageStorage,
  SopClass.EnhancedMRImageStorage,
  SopClass.RTImageStorage,
  SopClass.RTDoseStorage,
  SopClass.RTStructureSetStorage,
  SopClass.RTPlanStorage,
  SopClass.SegmentationStorage,
  SopClass.BasicTextSRStorage,
  SopClass.EnhancedSRStorage,
  SopClass.ComprehensiveSRStorage,
  SopClass.KeyObjectSelectionDocumentStorage,
  SopClass.EncapsulatedPDFStorage,
  SopClass.GrayscaleSoftcopyPresentationStateStorage,
];

export interface GetContextPlan {
  contexts: { abstractSyntax: string; transferSyntaxes: string[] }[];
  roleSelections: RoleSelection[];
  /** Seen SOP classes that did not fit; their instances cannot arrive by C-GET. */
  omittedSeenClasses: string[];
}

/**
 * Plans the contexts after `retrieveContexts` (the C-GET SOP classes): first
 * the SOP classes seen in the study, each with one context per original
 * syntax (or the common compressed syntaxes when unknown) and one with both
 * uncompressed syntaxes; then the common storage classes and the rest of
 * STORAGE_SOP_CLASSES (non-retired first) with the uncompressed context only.
 * Every storage class gets an SCP role selection.
 */
export function planGetContexts(retrieveContexts: { abstractSyntax: string; transferSyntaxes: string[] }[], seen: Map<string, Set<string>>): GetContextPlan {
  const contexts = [...retrieveContexts];
  const roleClasses: string[] = [];
  const omittedSeenClasses: string[] = [];
  const free = () => MAX_PRESENTATION_CONTEXTS - contexts.length;

  for (const [sopClassUid, syntaxes] of seen) {
    const known = [...syntaxes].filter((uid) => !UNCOMPRESSED.includes(uid as (typeof UNCOMPRESSED)[number]));
    const originals = syntaxes.size > 0 ? known : COMMON_COMPRESSED;
    const proposals = [...originals.map((uid) => [uid]), [...UNCOMPRESSED]];
    if (free() < 1) {
      omittedSeenClasses.push(sopClassUid);
      continue;
    }
    // Keep the uncompressed context whatever else does not fit: every node can send that.
    const fitting = proposals.slice(-Math.min(proposals.length, free()));
    for (const transferSyntaxes of fitting) contexts.push({ abstractSyntax: sopClassUid, transferSyntaxes });
    roleClasses.push(sopClassUid);
  }

  const others = [...COMMON_STORAGE_CLASSES, ...STORAGE_SOP_CLASSES.filter((info) => !info.retired).map((info) => info.uid), ...STORAGE_SOP_CLASSES.filter((info) => info.retired).map((info) => info.uid)];
  for (const sopClassUid of others) {
    if (free() < 1) break;
    if (roleClasses.includes(sopClassUid) || sopClassUid === SopClass.MediaStorageDirectoryStorage) continue;
    contexts.push({ abstractSyntax: sopClassUid, transferSyntaxes: [...UNCOMPRESSED] });
    roleClasses.push(sopClassUid);
  }

  return {
    contexts,
    roleSelections: roleClasses.map((sopClassUid) => ({ sopClassUid, scuRole: false, scpRole: true })),
    omittedSeenClasses,
  };
}
