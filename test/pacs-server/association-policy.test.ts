/**
 * Transfer syntax choice of decideAssociation for C-GET storage contexts, by
 * the syntaxes the archive stores the context's SOP class in. The getscu runs
 * in test/e2e/retrieve-scp.test.ts cover the same choice against DCMTK.
 */
import type { AssociateRequest } from '../../src/dicom/network';
import { decideAssociation } from '../../src/services/pacs-server/association-policy';
import { SopClass, TransferSyntax } from '../../src/dicom/uid';

const MR = SopClass.MRImageStorage;
const EXPLICIT_LE = TransferSyntax.ExplicitVRLittleEndian;
const IMPLICIT_LE = TransferSyntax.ImplicitVRLittleEndian;
const EXPLICIT_BE = TransferSyntax.ExplicitVRBigEndian;
const RLE = TransferSyntax.RLELossless;
const JPEG_2000_LOSSLESS = TransferSyntax.JPEG2000Lossless;
const JPEG_LS_LOSSLESS = TransferSyntax.JPEGLSLossless;
const MPEG4 = '1.2.840.10008.1.2.4.102';

/** Returns the syntaxes accepted for MR contexts proposing `proposals`, with the SCP role asked when `retrieval` is set. */
function acceptedSyntaxes(proposals: string[][], stored: readonly string[] | undefined, retrieval = true): { syntaxes: (string | undefined)[]; lookups: string[] } {
  const lookups: string[] = [];
  const request: AssociateRequest = {
    callingAeTitle: 'GETSCU',
    calledAeTitle: 'LOADER',
    applicationContextName: '1.2.840.10008.3.1.1.1',
    maxPduLength: 16384,
    implementationClassUid: '1.2.3',
    contexts: proposals.map((transferSyntaxes, index) => ({ id: 2 * index + 1, abstractSyntax: MR, transferSyntaxes })),
    roleSelections: retrieval ? [{ sopClassUid: MR, scuRole: false, scpRole: true }] : [],
    remoteAddress: '127.0.0.1',
    remotePort: 40000,
  };
  const decision = decideAssociation(request, {
    aeTitle: 'LOADER',
    acceptAnyCallingAeTitle: true,
    checkCalledAeTitle: false,
    isRegisteredAeTitle: () => false,
    listStoredTransferSyntaxes: (sopClassUid) => {
      lookups.push(sopClassUid);
      return stored;
    },
  });
  if (!decision.accept) throw new Error(`association rejected: ${decision.logMessage}`);
  return { syntaxes: decision.contexts.map((context) => context.transferSyntax), lookups };
}

function acceptedSyntax(proposed: string[], stored: readonly string[] | undefined, retrieval = true): { syntax: string | undefined; lookups: string[] } {
  const { syntaxes, lookups } = acceptedSyntaxes([proposed], stored, retrieval);
  return { syntax: syntaxes[0], lookups };
}

describe('C-GET context syntax choice', () => {
  test.each([
    ['class held only in the first syntax', [RLE, EXPLICIT_LE, IMPLICIT_LE], [RLE], RLE],
    ['class held in several syntaxes', [RLE, EXPLICIT_LE, IMPLICIT_LE], [RLE, EXPLICIT_LE, JPEG_LS_LOSSLESS], EXPLICIT_LE],
    ['class held in an unproposed syntax', [JPEG_2000_LOSSLESS, EXPLICIT_LE, IMPLICIT_LE], [JPEG_LS_LOSSLESS], EXPLICIT_LE],
    ['class held only in a later compressed syntax', [JPEG_2000_LOSSLESS, JPEG_LS_LOSSLESS, EXPLICIT_LE], [JPEG_LS_LOSSLESS], JPEG_LS_LOSSLESS],
    ['class held only in a later uncompressed syntax', [RLE, EXPLICIT_LE, IMPLICIT_LE], [IMPLICIT_LE], IMPLICIT_LE],
    ['class not held', [RLE, EXPLICIT_LE, IMPLICIT_LE], [], EXPLICIT_LE],
    ['stored syntaxes unknown', [RLE, EXPLICIT_LE, IMPLICIT_LE], undefined, EXPLICIT_LE],
    ['big endian not decompressed to', [RLE, EXPLICIT_BE], [RLE, EXPLICIT_LE], RLE],
    ['undecodable stored syntax', [RLE, EXPLICIT_LE], [MPEG4, EXPLICIT_LE], RLE],
  ])('%s', (_name, proposed, stored, expected) => {
    expect(acceptedSyntax(proposed, stored).syntax).toBe(expected);
  });

  test('uncompressed first skips the index', () => {
    const choice = acceptedSyntax([IMPLICIT_LE, EXPLICIT_LE, RLE], [RLE]);

    expect(choice.syntax).toBe(EXPLICIT_LE);
    expect(choice.lookups).toEqual([]);
  });

  test('compressed only skips the index', () => {
    const choice = acceptedSyntax([JPEG_LS_LOSSLESS, RLE], [RLE]);

    expect(choice.syntax).toBe(JPEG_LS_LOSSLESS);
    expect(choice.lookups).toEqual([]);
  });

  test('one lookup per SOP class', () => {
    const choice = acceptedSyntaxes([[RLE, EXPLICIT_LE], [JPEG_LS_LOSSLESS, EXPLICIT_LE]], [RLE]);

    expect(choice.syntaxes).toEqual([RLE, EXPLICIT_LE]);
    expect(choice.lookups).toEqual([MR]);
  });

  test('incoming C-STORE keeps the first syntax', () => {
    const choice = acceptedSyntax([RLE, EXPLICIT_LE], [EXPLICIT_LE], false);

    expect(choice.syntax).toBe(RLE);
    expect(choice.lookups).toEqual([]);
  });
});
