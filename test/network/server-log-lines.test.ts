/**
 * Log lines of DicomServer that a peer controls or can repeat: control characters
 * in an AE title are escaped, connection floods give one line and a summary, a
 * cancelled retrieve is not a failure, a failed C-STORE gives one line, and a peer
 * that aborts during a C-FIND is no server error.
 */
import * as net from 'net';

import {
  COMMAND_FIELD,
  ClientAssociation,
  DimseHandlers,
  DicomServer,
  DicomServerOptions,
  MAX_CONNECTIONS_AWAITING_REQUEST,
  PDU_TYPE,
  connect,
  encodeAssociateRq,
  encodeCommand,
  encodePDataHeader,
} from '../../src/dicom/network';
import { captureLogLines } from '../support/log-capture';
import { LOOPBACK } from '../support/peers';
import { CT_IMAGE_STORAGE, EXPLICIT_LE, IMPLEMENTATION, IMPLICIT_LE, STUDY_ROOT_FIND, STUDY_ROOT_MOVE, VERIFICATION, encodeDataset, sleep, startServer, waitForLogLine } from './helpers';

const logLines = captureLogLines();

const servers: DicomServer[] = [];
const clients: ClientAssociation[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const client of clients.splice(0)) client.abort();
  await Promise.all(servers.splice(0).map((server) => server.close({ timeoutMs: 500 })));
});

async function serve(handlers: DimseHandlers, overrides: Partial<DicomServerOptions> = {}): Promise<{ server: DicomServer; port: number }> {
  const started = await startServer(handlers, overrides);
  servers.push(started.server);
  return started;
}

async function open(port: number, callingAeTitle: string): Promise<ClientAssociation> {
  const client = await connect({
    host: LOOPBACK,
    port,
    callingAeTitle,
    calledAeTitle: 'LOADER',
    contexts: [
      { abstractSyntax: STUDY_ROOT_FIND, transferSyntaxes: [EXPLICIT_LE] },
      { abstractSyntax: STUDY_ROOT_MOVE, transferSyntaxes: [IMPLICIT_LE] },
      { abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: [EXPLICIT_LE] },
    ],
    ...IMPLEMENTATION,
  });
  clients.push(client);
  return client;
}

/** Opens a TCP connection that sends nothing. */
async function openIdle(port: number): Promise<net.Socket> {
  const socket = net.connect(port, LOOPBACK);
  socket.on('error', () => undefined);
  sockets.push(socket);
  await new Promise((resolve) => socket.once('connect', resolve));
  return socket;
}

const waitForLine = (text: string) => waitForLogLine(logLines, text);

const linesWith = (text: string) => logLines.filter((line) => line.includes(text));

/** Sends an A-ASSOCIATE-RQ as `callingAeTitle` over a raw socket, proposing `abstractSyntax` as context 1 in Explicit VR Little Endian. */
function encodeRequest(callingAeTitle: string, abstractSyntax: string): Buffer {
  return encodeAssociateRq({
    type: PDU_TYPE.ASSOCIATE_RQ,
    protocolVersion: 1,
    calledAeTitle: 'LOADER',
    callingAeTitle,
    applicationContextName: '1.2.840.10008.3.1.1.1',
    contexts: [{ id: 1, abstractSyntax, transferSyntaxes: [EXPLICIT_LE] }],
    userInformation: { maxPduLength: 16384, implementationClassUid: '1.2.3', roleSelections: [] },
  });
}

function pData(isCommand: boolean, isLast: boolean, fragment: Buffer): Buffer {
  return Buffer.concat([encodePDataHeader(1, isCommand, isLast, fragment.length), fragment]);
}

test('control characters in AE title escaped', async () => {
  const { port } = await serve({});
  const request = encodeRequest('PLACEHOLDER', VERIFICATION);
  // The Calling-AE-title field is bytes 20 to 35 of the A-ASSOCIATE-RQ after its 6-byte PDU header (PS3.8 section 9.3.2).
  Buffer.from('\x1b[31mRED\n\x1b[0m\x00\x7f\x9b', 'latin1').copy(request, 6 + 20);
  const socket = net.connect(port, LOOPBACK, () => socket.write(request));
  socket.on('error', () => undefined);
  sockets.push(socket);

  const line = await waitForLine('Association rejected');

  expect(line).toContain('callingAe="\\u001b[31mRED\\n\\u001b[0m\\u0000\\u007f\\u009b"');
  expect(line).not.toMatch(/[\x00-\x1f\x7f-\x9f]/);
});

test('rejected association ends without info line', async () => {
  const { port } = await serve({});
  const request = encodeRequest('PLACEHOLDER', VERIFICATION);
  // An ESC in the Calling-AE-title field gets the association rejected.
  Buffer.from('BAD\x1bAE', 'latin1').copy(request, 6 + 20);
  const socket = net.connect(port, LOOPBACK, () => socket.write(request));
  socket.on('error', () => undefined);
  sockets.push(socket);

  await waitForLine('Association rejected');
  await sleep(100);

  expect(logLines.filter((line) => line.includes('Association ended') && line.includes('reason=rejected') && line.includes(' INFO '))).toEqual([]);
});

test('connection flood logs one line and a summary', async () => {
  const { server, port } = await serve({});
  const extra = 20;
  for (let i = 0; i < MAX_CONNECTIONS_AWAITING_REQUEST + extra; i++) await openIdle(port);
  await sleep(100);

  expect(linesWith('waited longest without an A-ASSOCIATE-RQ')).toHaveLength(1);

  await server.close({ timeoutMs: 500 });
  const summaries = linesWith('waited longest without an A-ASSOCIATE-RQ').filter((line) => line.includes('repeated'));
  expect(summaries).toHaveLength(1);
  expect(summaries[0]).toContain(`repeats=${extra - 1}`);
  expect(summaries[0]).toContain('peerAddresses=1');
});

test('ARTIM expiry of idle connections logged once', async () => {
  const { server, port } = await serve({}, { timeouts: { associationMs: 200 } });
  for (let i = 0; i < 5; i++) await openIdle(port);
  await sleep(600);

  expect(linesWith('before the ARTIM timer expired')).toHaveLength(1);
  expect(linesWith('Association timer expired').filter((line) => line.includes(' WARN '))).toHaveLength(0);

  await server.close({ timeoutMs: 500 });
  const summary = linesWith('before the ARTIM timer expired').find((line) => line.includes('repeated'));
  expect(summary).toContain('repeats=4');
});

test('cancelled C-MOVE logged as cancelled', async () => {
  const { port } = await serve({
    move: async () => ({ status: 0xfe00, remaining: 3, completed: 1, failed: 0, warning: 0, failedSopInstanceUids: [] }),
  });
  const client = await open(port, 'CANCELLER');

  const result = await client.move({ contextId: client.findContext(STUDY_ROOT_MOVE)!.id, destination: 'ARCHIVE', identifier: encodeDataset([[0x00080052, 'CS', 'STUDY']], IMPLICIT_LE) });

  expect(result.status).toBe(0xfe00);
  const line = await waitForLine('C-MOVE-RQ cancelled');
  expect(line).toContain(' INFO ');
  expect(line).toContain('callingAe=CANCELLER');
  expect(line).toContain('remaining=3');
  expect(linesWith('C-MOVE-RQ failed')).toHaveLength(0);
});

test('failed C-STORE logged once with its UIDs', async () => {
  const { port } = await serve({ store: async () => ({ status: 0xa700, errorComment: 'disk full' }) });
  const client = await open(port, 'STOREFAIL');

  const result = await client.store({ contextId: client.findContext(CT_IMAGE_STORAGE)!.id, sopClassUid: CT_IMAGE_STORAGE, sopInstanceUid: '1.2.3.77', data: Buffer.alloc(16) });

  expect(result.status).toBe(0xa700);
  // The client in this process logs the failure too, without an association= field.
  const lines = linesWith('sopInstanceUid=1.2.3.77').filter((line) => line.includes('association='));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain(' ERROR ');
  expect(lines[0]).toContain('C-STORE-RQ failed');
  expect(lines[0]).toContain('callingAe=STOREFAIL');
  expect(lines[0]).toContain(`sopClassUid=${CT_IMAGE_STORAGE}`);
  expect(lines[0]).toContain(`transferSyntax=${EXPLICIT_LE}`);
  expect(lines[0]).toContain('status=0xA700');
});

test('peer closing during C-FIND is no error', async () => {
  const { port } = await serve({ find: async function* () {} });
  const socket = net.connect(port, LOOPBACK, () => socket.write(encodeRequest('QUITTER', STUDY_ROOT_FIND)));
  socket.on('error', () => undefined);
  sockets.push(socket);
  await new Promise((resolve) => socket.once('data', resolve));

  // The identifier's first fragment is not its last, and the connection closes before the rest.
  const command = encodeCommand({ commandField: COMMAND_FIELD.C_FIND_RQ, messageId: 7, affectedSopClassUid: STUDY_ROOT_FIND, priority: 0, hasDataset: true });
  const identifier = encodeDataset([[0x00080052, 'CS', 'STUDY']], EXPLICIT_LE);
  socket.write(Buffer.concat([pData(true, true, command), pData(false, false, identifier)]));
  await sleep(100);
  socket.end();

  const line = await waitForLine('C-FIND-RQ ended without its final response');
  expect(line).toContain(' INFO ');
  expect(line).toContain('callingAe=QUITTER');
  expect(line).toContain('calledAe=LOADER');
  expect(line).toContain('messageId=7');
  expect(line).toContain('reason=connection-closed');
  expect(linesWith('Failed to send the response')).toHaveLength(0);
});
