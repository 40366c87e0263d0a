/**
 * Association state machine cases that peers rarely produce: release collision,
 * peer release while an operation runs, and a PDV on a context that was not accepted.
 */
import * as net from 'net';

import { Association, AssociationEnd, DEFAULT_TIMEOUTS, PDU_TYPE, encodePDataHeader } from '../../src/dicom/network';
import { createLogger } from '../../src/services/logger';
import { LOOPBACK } from '../support/peers';
import { VERIFICATION } from './helpers';

const logger = createLogger('test.network');
const CONTEXT = { id: 1, abstractSyntax: VERIFICATION, transferSyntax: '1.2.840.10008.1.2' };

/** Connects two associations, one per role, already in the established state. */
async function connectedPair(): Promise<{ requestor: Association; acceptor: Association; close(): Promise<void> }> {
  const server = net.createServer();
  const accepted = new Promise<net.Socket>((resolve) => {
    server.once('connection', resolve);
  });
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  const port = (server.address() as net.AddressInfo).port;
  const clientSocket = net.connect(port, LOOPBACK);
  const serverSocket = await accepted;
  const options = { maxPduLength: 16384, timeouts: { ...DEFAULT_TIMEOUTS, associationMs: 2000 }, logger };
  const requestor = new Association({ ...options, role: 'requestor', socket: clientSocket, peerDescription: 'acceptor' });
  const acceptor = new Association({ ...options, role: 'acceptor', socket: serverSocket, peerDescription: 'requestor' });
  for (const association of [requestor, acceptor]) {
    association.state = 'established';
    association.setNegotiated([CONTEXT], 16384);
  }
  return { requestor, acceptor, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

function ended(association: Association): Promise<AssociationEnd> {
  return new Promise((resolve) => association.once('end', resolve));
}

test('release collision ends both sides', async () => {
  const pair = await connectedPair();
  const requestorEnd = ended(pair.requestor);
  const acceptorEnd = ended(pair.acceptor);
  await Promise.all([pair.requestor.release(), pair.acceptor.release()]);
  expect((await requestorEnd).reason).toBe('released');
  expect((await acceptorEnd).reason).toBe('released');
  await pair.close();
});

test('peer release waits for running operation', async () => {
  const pair = await connectedPair();
  pair.acceptor.beginOperation();
  const release = pair.requestor.release();
  let released = false;
  void release.then(() => (released = true));
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(released).toBe(false);
  expect(pair.acceptor.state).toBe('peer-releasing');
  pair.acceptor.endOperation();
  await release;
  expect(released).toBe(true);
  await pair.close();
});

test('PDV on unknown context aborts', async () => {
  const pair = await connectedPair();
  const acceptorEnd = ended(pair.acceptor);
  const requestorEnd = ended(pair.requestor);
  pair.requestor.socket.write(Buffer.concat([encodePDataHeader(3, true, true, 2), Buffer.from([0, 0])]));
  const end = await acceptorEnd;
  expect(end.reason).toBe('protocol-error');
  expect(end.error.message).toMatch(/presentation context 3, which was not accepted/);
  expect((await requestorEnd).reason).toBe('peer-aborted');
  await pair.close();
});

test('unexpected PDU aborts', async () => {
  const pair = await connectedPair();
  const acceptorEnd = ended(pair.acceptor);
  // An A-RELEASE-RP without a preceding A-RELEASE-RQ.
  pair.requestor.socket.write(Buffer.from([PDU_TYPE.RELEASE_RP, 0, 0, 0, 0, 4, 0, 0, 0, 0]));
  const end = await acceptorEnd;
  expect(end.reason).toBe('aborted');
  expect(end.error.message).toMatch(/Unexpected PDU type 0x06/);
  await pair.close();
});
