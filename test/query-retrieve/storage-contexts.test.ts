/**
 * Presentation contexts of a C-GET association: instances must be able to
 * arrive in the syntax the node stores them in, within 128 contexts.
 */
import { MAX_PRESENTATION_CONTEXTS, planGetContexts } from '../../src/services/query-retrieve/storage-contexts';
import { SopClass, TransferSyntax } from '../../src/dicom/uid';

const GET_CONTEXT = { abstractSyntax: '1.2.840.10008.5.1.4.1.2.2.3', transferSyntaxes: [TransferSyntax.ExplicitVRLittleEndian] };

/** Returns the single-syntax contexts proposed for `sopClassUid`. */
function singleSyntaxes(plan: ReturnType<typeof planGetContexts>, sopClassUid: string): string[] {
  return plan.contexts.filter((context) => context.abstractSyntax === sopClassUid && context.transferSyntaxes.length === 1).map((context) => context.transferSyntaxes[0]);
}

describe('planGetContexts', () => {
  test('unknown syntaxes get common compressed ones', () => {
    const plan = planGetContexts([GET_CONTEXT], new Map([[SopClass.MRImageStorage, new Set<string>()]]));

    const proposed = singleSyntaxes(plan, SopClass.MRImageStorage);

    for (const syntax of [TransferSyntax.JPEGLSNearLossless, TransferSyntax.JPEGLSLossless, TransferSyntax.JPEGExtended12Bit, TransferSyntax.JPEG2000, TransferSyntax.DeflatedExplicitVRLittleEndian]) {
      expect(proposed).toContain(syntax);
    }
    expect(plan.contexts.length).toBeLessThanOrEqual(MAX_PRESENTATION_CONTEXTS);
  });

  test('reported syntaxes proposed alone', () => {
    const plan = planGetContexts([GET_CONTEXT], new Map([[SopClass.CTImageStorage, new Set<string>([TransferSyntax.JPEG2000Lossless])]]));

    expect(singleSyntaxes(plan, SopClass.CTImageStorage)).toEqual([TransferSyntax.JPEG2000Lossless]);
  });

  test('many seen classes stay within the limit', () => {
    const seen = new Map([SopClass.CTImageStorage, SopClass.MRImageStorage, SopClass.SecondaryCaptureImageStorage, SopClass.UltrasoundImageStorage, SopClass.ComputedRadiographyImageStorage, SopClass.DigitalXRayImageStorageForPresentation, SopClass.NuclearMedicineImageStorage, SopClass.PositronEmissionTomographyImageStorage, SopClass.XRayAngiographicImageStorage, SopClass.RTImageStorage, SopClass.EnhancedCTImageStorage, SopClass.EnhancedMRImageStorage].map((uid) => [uid, new Set<string>()]));

    const plan = planGetContexts([GET_CONTEXT], seen);

    expect(plan.contexts.length).toBe(MAX_PRESENTATION_CONTEXTS);
    // Every seen class keeps at least its uncompressed context.
    for (const sopClassUid of seen.keys()) {
      expect(plan.contexts.some((context) => context.abstractSyntax === sopClassUid && context.transferSyntaxes.length === 2) || plan.omittedSeenClasses.includes(sopClassUid)).toBe(true);
    }
  });
});
