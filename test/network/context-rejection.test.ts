/**
 * The error of client.ts when a peer accepts none of the proposed
 * presentation contexts, against DCMTK storescp and Orthanc: the message
 * follows the result of each context and names the peer's own setting.
 */
import * as path from 'path';

import { connect, PresentationContextsRejectedError } from '../../src/dicom/network';
import type { ConnectOptions } from '../../src/dicom/network';
import { TransferSyntax } from '../../src/dicom/uid';
import { LOOPBACK, startOrthanc, startStorescp } from '../support/peers';
import type { OrthancHandle, StorescpHandle } from '../support/peers';
import { CT_IMAGE_STORAGE, EXPLICIT_LE, IMPLEMENTATION, IMPLICIT_LE, MR_IMAGE_STORAGE } from './helpers';

const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7';
const LIMITED_PROFILE = path.join(__dirname, '..', 'fixtures', 'peers', 'storescp-limited.cfg');

function optionsFor(peer: { aeTitle: string; port: number }, contexts: ConnectOptions['contexts']): ConnectOptions {
  return { host: LOOPBACK, port: peer.port, callingAeTitle: 'LOADERSCU', calledAeTitle: peer.aeTitle, contexts, ...IMPLEMENTATION };
}

/** Connects and returns the PresentationContextsRejectedError that connect() raises. */
async function rejection(options: ConnectOptions): Promise<PresentationContextsRejectedError> {
  const caught = await connect(options).then(
    async (association) => {
      await association.release();
      return new Error('the peer accepted a presentation context');
    },
    (error: unknown) => error,
  );
  expect(caught).toBeInstanceOf(PresentationContextsRejectedError);
  return caught as PresentationContextsRejectedError;
}

describe('rejected presentation contexts', () => {
  let storescp: StorescpHandle;
  let orthanc: OrthancHandle;

  beforeAll(async () => {
    [storescp, orthanc] = await Promise.all([
      startStorescp({ aeTitle: 'STRICT', extraArgs: ['--config-file', LIMITED_PROFILE, 'Limited'] }),
      startOrthanc({ aeTitle: 'ORTHANCJPEG', extraConfig: { AcceptedTransferSyntaxes: [TransferSyntax.JPEGBaseline8Bit] } }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([storescp?.stop(), orthanc?.stop()]);
  });

  test('DCMTK result 3 names the SOP class', async () => {
    const error = await rejection(optionsFor(storescp, [{ abstractSyntax: MR_IMAGE_STORAGE, transferSyntaxes: [EXPLICIT_LE, IMPLICIT_LE] }]));

    expect(error.rejected.map((context) => context.result)).toEqual([3]);
    expect(error.message).toBe(
      `STRICT at ${LOOPBACK}:${storescp.port} accepted none of the 1 proposed presentation contexts: ` +
        'it does not accept the SOP class MR Image Storage (1.2.840.10008.5.1.4.1.1.4), proposed in Explicit VR Little Endian, Implicit VR Little Endian ' +
        '(result 3, abstract syntax not supported); ' +
        "register or allow the SOP class on the node: in DCMTK's storescp or dcmqrscp, in its association negotiation profile; " +
        'in Orthanc, which sends the same implementation version name, in UnknownSopClassAccepted and also in AcceptedTransferSyntaxes, ' +
        'because Orthanc returns result 3 when it accepts the SOP class but none of the proposed transfer syntaxes',
    );
  });

  test('DCMTK result 4 names the syntaxes', async () => {
    const error = await rejection(
      optionsFor(storescp, [
        { abstractSyntax: SECONDARY_CAPTURE, transferSyntaxes: [EXPLICIT_LE] },
        { abstractSyntax: SECONDARY_CAPTURE, transferSyntaxes: [IMPLICIT_LE] },
      ]),
    );

    expect(error.rejected.map((context) => context.result)).toEqual([4, 4]);
    expect(error.message).toBe(
      `STRICT at ${LOOPBACK}:${storescp.port} accepted none of the 2 proposed presentation contexts: ` +
        'it accepts none of the proposed transfer syntaxes for Secondary Capture Image Storage (1.2.840.10008.5.1.4.1.1.7): ' +
        'Explicit VR Little Endian, Implicit VR Little Endian (result 4, transfer syntaxes not supported); ' +
        "allow one of them for the SOP class on the node: in DCMTK's storescp or dcmqrscp, in its association negotiation profile; " +
        'in Orthanc, in AcceptedTransferSyntaxes',
    );
  });

  test('DCMTK results 3 and 4 together', async () => {
    const error = await rejection(
      optionsFor(storescp, [
        { abstractSyntax: MR_IMAGE_STORAGE, transferSyntaxes: [EXPLICIT_LE] },
        { abstractSyntax: SECONDARY_CAPTURE, transferSyntaxes: [IMPLICIT_LE] },
      ]),
    );

    expect(error.rejected.map((context) => context.result)).toEqual([3, 4]);
    expect(error.message).toContain('proposed presentation contexts: it does not accept the SOP class MR Image Storage');
    expect(error.message).toContain('. It accepts none of the proposed transfer syntaxes for Secondary Capture Image Storage');
  });

  test('Orthanc syntax mismatch names both settings', async () => {
    const error = await rejection(optionsFor(orthanc, [{ abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: [EXPLICIT_LE, IMPLICIT_LE] }]));

    // Orthanc 1.10.1 returns result 3 although it accepts CT Image Storage in JPEG Baseline, and sends DCMTK's version name.
    expect(error.rejected.map((context) => context.result)).toEqual([3]);
    expect(error.peerImplementationVersionName).toMatch(/^OFFIS_DCMTK/);
    expect(error.message).toContain(
      'it does not accept the SOP class CT Image Storage (1.2.840.10008.5.1.4.1.1.2), proposed in Explicit VR Little Endian, Implicit VR Little Endian (result 3, ',
    );
    expect(error.message).toContain('in Orthanc, which sends the same implementation version name, in UnknownSopClassAccepted and also in AcceptedTransferSyntaxes');
  });
});
