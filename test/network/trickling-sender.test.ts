/**
 * A sender that trickles a PDU one byte at a time. Before, each byte restarted
 * the stall timer (dimseMs) and the idle timer, so such a sender held its
 * association for good, and a few AE titles filled every slot of
 * pacs.maxAssociations. Now each PDU must arrive whole within dimseMs.
 *
 * storescu (DCMTK) stores one instance in its own association first. The
 * trickling sender is a raw socket, because no DICOM tool sends a PDU this
 * slowly. Instances stored whole before the stall stay stored, and the one
 * cut off leaves no file behind.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

import { DicomServer, acceptSupportedContexts } from '../../src/dicom/network';
import { encodeCommand } from '../../src/dicom/network/dimse';
import { PDU_TYPE, encodeAbort, encodeAssociateRq, encodePDataHeader } from '../../src/dicom/network/pdu';
import { generateUid } from '../../src/dicom/uid';
import { LocalArchive } from '../../src/services/archive';
import { createLogger } from '../../src/services/logger';
import { createStoreHandler } from '../../src/services/pacs-server/store-service';
import { captureLogLines } from '../support/log-capture';
import { LOOPBACK, listFiles, makeTempDir, storeFiles } from '../support/peers';
import { EXPLICIT_VR_LITTLE_ENDIAN, writeSecondaryCapture } from '../support/secondary-capture';
import { IMPLEMENTATION, readPart10, sleep } from './helpers';

const lines = captureLogLines();

const AE_TITLE = 'TRICKLESCP';
const CALLING_AE_TITLE = 'TRICKLER';
const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7';
const C_STORE_RQ = 0x0001;
const DIMSE_MS = 1000;
/** Interval between the trickled bytes: ten of them per dimseMs, so each restarted a timer that counted bytes. */
const TRICKLE_INTERVAL_MS = 100;
/** The old code never aborted; the test gives up after this. */
const TRICKLE_LIMIT_MS = 8000;

/** A raw association: the socket and every byte received on it. */
interface RawAssociation {
  socket: net.Socket;
  received: () => Buffer;
  closed: Promise<void>;
}

function openRawAssociation(port: number): Promise<RawAssociation> {
  const request = encodeAssociateRq({
    type: PDU_TYPE.ASSOCIATE_RQ,
    protocolVersion: 1,
    calledAeTitle: AE_TITLE,
    callingAeTitle: CALLING_AE_TITLE,
    applicationContextName: '1.2.840.10008.3.1.1.1',
    contexts: [{ id: 1, abstractSyntax: SECONDARY_CAPTURE, transferSyntaxes: [EXPLICIT_VR_LITTLE_ENDIAN] }],
    userInformation: { maxPduLength: 16384, implementationClassUid: IMPLEMENTATION.implementationClassUid, roleSelections: [] },
  });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, LOOPBACK, () => socket.write(request));
    const closed = new Promise<void>((resolveClosed) => socket.once('close', () => resolveClosed()));
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (chunks.length === 1 && chunk[0] === PDU_TYPE.ASSOCIATE_AC) resolve({ socket, received: () => Buffer.concat(chunks), closed });
      else if (chunks.length === 1) reject(new Error(`expected an A-ASSOCIATE-AC, received PDU type 0x${chunk[0].toString(16)}`));
    });
  });
}

/** Returns the P-DATA-TF PDUs of a C-STORE-RQ: the command, then the data set in one PDV. */
function storeRequestPdus(file: string, messageId: number): { command: Buffer; dataset: Buffer } {
  const part10 = readPart10(file);
  const command = encodeCommand({
    commandField: C_STORE_RQ,
    hasDataset: true,
    affectedSopClassUid: part10.sopClassUid,
    affectedSopInstanceUid: part10.sopInstanceUid,
    messageId,
    priority: 0,
  });
  return {
    command: Buffer.concat([encodePDataHeader(1, true, true, command.length), command]),
    dataset: Buffer.concat([encodePDataHeader(1, false, true, part10.dataset.length), part10.dataset]),
  };
}

/** Writes `bytes` one at a time, TRICKLE_INTERVAL_MS apart, until they run out, the socket closes or TRICKLE_LIMIT_MS pass. */
async function trickleBytes(association: RawAssociation, bytes: Buffer): Promise<void> {
  const deadline = Date.now() + TRICKLE_LIMIT_MS;
  let open = true;
  void association.closed.then(() => (open = false));
  for (let i = 0; i < bytes.length && open && Date.now() < deadline; i++) {
    association.socket.write(bytes.subarray(i, i + 1));
    await sleep(TRICKLE_INTERVAL_MS);
  }
}

/** Waits until the server has answered `count` P-DATA-TF PDUs (the C-STORE-RSP of each complete request). */
async function waitForResponses(association: RawAssociation, count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    let offset = 0;
    let responses = 0;
    const bytes = association.received();
    while (offset + 6 <= bytes.length) {
      if (bytes[offset] === PDU_TYPE.P_DATA_TF) responses++;
      offset += 6 + bytes.readUInt32BE(offset + 2);
    }
    if (responses >= count) return;
    await sleep(20);
  }
  throw new Error(`no ${count} responses within 10 s`);
}

describe('trickling sender', () => {
  const root = makeTempDir('trickling-sender');
  const archive = LocalArchive.open(path.join(root, 'archive'));
  const filesDir = path.join(root, 'files');
  fs.mkdirSync(filesDir, { recursive: true });
  const server = new DicomServer({
    aeTitle: AE_TITLE,
    ...IMPLEMENTATION,
    timeouts: { dimseMs: DIMSE_MS },
    decide: (request) => acceptSupportedContexts(request, new Map([[SECONDARY_CAPTURE, []]])),
    handlers: { store: createStoreHandler(archive, createLogger('test.trickle')) },
  });
  let port: number;

  beforeAll(async () => {
    ({ port } = await server.listen(0, LOOPBACK));
  });

  afterAll(async () => {
    await server.close({ timeoutMs: 1000 });
    archive.close();
  });

  const writeFile = (name: string) => {
    const file = path.join(filesDir, name);
    writeSecondaryCapture(file, generateUid(), 'TRICKLE1', []);
    return file;
  };

  test('data PDU sent byte by byte aborted', async () => {
    const before = writeFile('before-storescu.dcm');
    const inAssociation = writeFile('in-association.dcm');
    const cutOff = writeFile('cut-off.dcm');
    expect((await storeFiles({ aeTitle: AE_TITLE, host: LOOPBACK, port }, [before])).code).toBe(0);

    const association = await openRawAssociation(port);
    const whole = storeRequestPdus(inAssociation, 1);
    association.socket.write(Buffer.concat([whole.command, whole.dataset]));
    await waitForResponses(association, 1);
    const partial = storeRequestPdus(cutOff, 2);
    const half = Math.floor(partial.dataset.length / 2);
    association.socket.write(Buffer.concat([partial.command, partial.dataset.subarray(0, half)]));
    const started = Date.now();
    await trickleBytes(association, partial.dataset.subarray(half));
    await association.closed;

    const elapsed = Date.now() - started;
    const received = association.received();
    expect(elapsed).toBeLessThan(3 * DIMSE_MS);
    expect(received.subarray(received.length - 10)).toEqual(encodeAbort(2, 0));
    const line = lines.find((candidate) => candidate.includes('message stalled') && candidate.includes(`callingAe=${CALLING_AE_TITLE}`));
    expect(line).toBeDefined();
    expect(line).toContain(`calledAe=${AE_TITLE}`);
    expect(line).toMatch(/bytesReceived=\d+/);
    expect(line).toContain(`each PDU must arrive whole`);
    const stored = archive.listInstances().map((instance) => instance.sopInstanceUid);
    expect(stored).toContain(readPart10(before).sopInstanceUid);
    expect(stored).toContain(readPart10(inAssociation).sopInstanceUid);
    expect(stored).not.toContain(readPart10(cutOff).sopInstanceUid);
    // The store handler removes the partial file in .incoming after the abort, so wait for that.
    await sleep(500);
    const archiveFiles = listFiles(path.join(root, 'archive')).filter((file) => !/index\.sqlite|[/]\.processes[/]/.test(file));
    expect(archiveFiles.map((file) => path.basename(file)).sort()).toEqual([`${readPart10(before).sopInstanceUid}.dcm`, `${readPart10(inAssociation).sopInstanceUid}.dcm`].sort());
  }, 30_000);

  test('command PDU sent byte by byte aborted', async () => {
    const association = await openRawAssociation(port);
    const started = Date.now();
    // The abort comes while the PDU header is still incomplete, between messages, where the stall timer did not run before.
    await trickleBytes(association, storeRequestPdus(writeFile('command-only.dcm'), 1).command);
    await association.closed;

    expect(Date.now() - started).toBeLessThan(3 * DIMSE_MS);
    const received = association.received();
    expect(received.subarray(received.length - 10)).toEqual(encodeAbort(2, 0));
  }, 30_000);
});
