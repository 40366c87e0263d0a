/**
 * The association requestor (client.ts) against DCMTK storescp.
 */
import * as fs from 'fs';
import * as net from 'net';

import { AssociationRejectedError, ClientAssociation, ConnectOptions, connect } from '../../src/dicom/network';
import { LOOPBACK, StorescpHandle, corpusFile, startStorescp } from '../support/peers';
import { IMPLEMENTATION, VERIFICATION, readPart10 } from './helpers';

function connectOptions(peer: { aeTitle: string; port: number }, contexts: ConnectOptions['contexts']): ConnectOptions {
  return { host: LOOPBACK, port: peer.port, callingAeTitle: 'LOADERSCU', calledAeTitle: peer.aeTitle, contexts, ...IMPLEMENTATION };
}

/** Streams a file's data set (the bytes after its meta group) to the peer. */
async function storeFile(association: ClientAssociation, file: string) {
  const part10 = readPart10(file);
  const context = association.findContext(part10.sopClassUid, part10.transferSyntax);
  if (!context) throw new Error(`no accepted context for ${part10.sopClassUid} in ${part10.transferSyntax}`);
  const offset = fs.statSync(file).size - part10.dataset.length;
  const data = fs.createReadStream(file, { start: offset, highWaterMark: 64 * 1024 });
  return association.store({ contextId: context.id, sopClassUid: part10.sopClassUid, sopInstanceUid: part10.sopInstanceUid, data });
}

function receivedDataset(storescp: StorescpHandle, sopInstanceUid: string): Buffer {
  const file = storescp.receivedFiles().find((candidate) => candidate.includes(sopInstanceUid));
  if (!file) throw new Error(`storescp wrote no file for ${sopInstanceUid}; it has ${storescp.receivedFiles().join(', ')}`);
  return readPart10(file).dataset;
}

describe('client against storescp', () => {
  let storescp: StorescpHandle;
  let smallPduStorescp: StorescpHandle;

  beforeAll(async () => {
    [storescp, smallPduStorescp] = await Promise.all([
      startStorescp({ aeTitle: 'STORESCP', acceptAll: true }),
      startStorescp({ aeTitle: 'SMALLPDU', acceptAll: true, extraArgs: ['--max-pdu', '4096'] }),
    ]);
  });

  test('echo and release', async () => {
    const association = await connect(connectOptions(storescp, [{ abstractSyntax: VERIFICATION, transferSyntaxes: ['1.2.840.10008.1.2'] }]));
    expect(association.acceptedContexts).toHaveLength(1);
    const result = await association.echo();
    expect(result.status).toBe(0);
    await association.release();
    expect(association.isOpen).toBe(false);
  });

  test('stored data sets are byte-identical', async () => {
    const files = [corpusFile('ct'), corpusFile('mr-implicit-le'), corpusFile('jpeg2000'), corpusFile('rle'), corpusFile('big-endian'), corpusFile('deflated')];
    const parts = files.map((file) => readPart10(file.absolutePath));
    const contexts = parts.map((part) => ({ abstractSyntax: part.sopClassUid, transferSyntaxes: [part.transferSyntax] }));

    for (const peer of [storescp, smallPduStorescp]) {
      const association = await connect(connectOptions(peer, contexts));
      if (peer === smallPduStorescp) expect(association.peerMaxPduLength).toBe(4096);
      for (const file of files) {
        const result = await storeFile(association, file.absolutePath);
        expect(result.status).toBe(0);
      }
      await association.release();
      for (const part of parts) {
        expect(receivedDataset(peer, part.sopInstanceUid).equals(part.dataset)).toBe(true);
      }
    }
  });

  test('unreadable source leaves association usable', async () => {
    const ct = readPart10(corpusFile('ct').absolutePath);
    const association = await connect(
      connectOptions(storescp, [
        { abstractSyntax: VERIFICATION, transferSyntaxes: ['1.2.840.10008.1.2'] },
        { abstractSyntax: ct.sopClassUid, transferSyntaxes: [ct.transferSyntax] },
      ]),
    );
    const context = association.findContext(ct.sopClassUid)!;
    const missing = fs.createReadStream('/nonexistent/file.dcm');
    await expect(association.store({ contextId: context.id, sopClassUid: ct.sopClassUid, sopInstanceUid: '1.2.3.4', data: missing })).rejects.toThrow(/ENOENT/);
    expect((await association.echo()).status).toBe(0);
    await association.release();
  });

  test('rejection raises AssociationRejectedError', async () => {
    const rejectingPeer = await startStorescp({ aeTitle: 'REFUSER', extraArgs: ['--refuse'] });
    const attempt = connect(connectOptions(rejectingPeer, [{ abstractSyntax: VERIFICATION, transferSyntaxes: ['1.2.840.10008.1.2'] }]));
    await expect(attempt).rejects.toBeInstanceOf(AssociationRejectedError);
    await expect(attempt).rejects.toThrow(/rejected/);
    await rejectingPeer.stop();
  });

  test('vanished peer error names the peer', async () => {
    const closer = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => closer.listen(0, LOOPBACK, resolve));
    const port = (closer.address() as net.AddressInfo).port;
    const attempt = connect({ ...connectOptions({ aeTitle: 'GONE', port }, [{ abstractSyntax: VERIFICATION, transferSyntaxes: ['1.2.840.10008.1.2'] }]) });
    await expect(attempt).rejects.toThrow(`GONE at ${LOOPBACK}:${port}`);
    await new Promise((resolve) => closer.close(resolve));
  });
});
