/**
 * Requests that a peer sends without waiting for the responses: they are
 * served one at a time, a waiting one can be cancelled, and too many waiting
 * ones abort the association.
 */
import * as net from 'net';

import {
  COMMAND_FIELD,
  CommandFields,
  DICOM_APPLICATION_CONTEXT,
  MAX_WAITING_REQUESTS,
  PDU_TYPE,
  connect,
  decodeCommand,
  encodeAssociateRq,
  encodeCommand,
  encodePDataHeader,
} from '../../src/dicom/network';
import { captureLogLines } from '../support/log-capture';
import { LOOPBACK } from '../support/peers';
import {
  EXPLICIT_LE,
  IMPLEMENTATION,
  IMPLICIT_LE,
  PduCollector,
  STUDY_ROOT_FIND,
  VERIFICATION,
  closeAfterEach,
  encodeDataset,
  sleep,
  startServer,
} from './helpers';

const logLines = captureLogLines();

const { servers } = closeAfterEach();
const sockets: net.Socket[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.destroy();
});

const ECHO_CONTEXT = 1;
const FIND_CONTEXT = 3;
const IDENTIFIER = encodeDataset([[0x00080052, 'CS', 'STUDY'], [0x0020000d, 'UI', '']], EXPLICIT_LE);

/** Opens a raw association that proposes Verification and Study Root C-FIND. */
async function openRaw(port: number): Promise<{ socket: net.Socket; replies: PduCollector }> {
  const socket = net.connect(port, LOOPBACK);
  sockets.push(socket);
  const replies = new PduCollector(socket);
  socket.write(
    encodeAssociateRq({
      type: PDU_TYPE.ASSOCIATE_RQ,
      protocolVersion: 1,
      calledAeTitle: 'LOADER',
      callingAeTitle: 'PIPELINER',
      applicationContextName: DICOM_APPLICATION_CONTEXT,
      contexts: [
        { id: ECHO_CONTEXT, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] },
        { id: FIND_CONTEXT, abstractSyntax: STUDY_ROOT_FIND, transferSyntaxes: [EXPLICIT_LE] },
      ],
      userInformation: { maxPduLength: 16384, implementationClassUid: IMPLEMENTATION.implementationClassUid, roleSelections: [] },
    }),
  );
  expect((await replies.next()).type).toBe(PDU_TYPE.ASSOCIATE_AC);
  return { socket, replies };
}

/** Encodes a message as one P-DATA-TF PDU per command and data set. */
function message(contextId: number, fields: CommandFields, dataset?: Buffer): Buffer {
  const command = encodeCommand(fields);
  const parts = [encodePDataHeader(contextId, true, true, command.length), command];
  if (dataset) parts.push(encodePDataHeader(contextId, false, true, dataset.length), dataset);
  return Buffer.concat(parts);
}

function echo(messageId: number): Buffer {
  return message(ECHO_CONTEXT, { commandField: COMMAND_FIELD.C_ECHO_RQ, affectedSopClassUid: VERIFICATION, messageId, hasDataset: false });
}

function find(messageId: number): Buffer {
  return message(FIND_CONTEXT, { commandField: COMMAND_FIELD.C_FIND_RQ, affectedSopClassUid: STUDY_ROOT_FIND, messageId, priority: 0, hasDataset: true }, IDENTIFIER);
}

/** Reads the next response command, skipping identifier PDUs. */
async function nextResponse(replies: PduCollector): Promise<CommandFields> {
  for (;;) {
    const pdu = await replies.next();
    if (pdu.type !== PDU_TYPE.P_DATA_TF) throw new Error(`expected P-DATA-TF, got PDU type ${pdu.type}`);
    // The PDV header is 6 bytes; bit 0 of its last byte marks a command fragment.
    if ((pdu.body[5] & 0x01) !== 0) return decodeCommand(pdu.body.subarray(6)).fields;
  }
}

describe('requests sent without waiting', () => {
  test('served one at a time', async () => {
    let running = 0;
    let maxRunning = 0;
    const { server, port } = await startServer({
      echo: async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await sleep(20);
        running--;
        return { status: 0 };
      },
    });
    servers.push(server);
    const { socket, replies } = await openRaw(port);

    socket.write(Buffer.concat([echo(1), echo(2), echo(3)]));
    const responses = [await nextResponse(replies), await nextResponse(replies), await nextResponse(replies)];

    expect(responses.map((fields) => fields.messageIdBeingRespondedTo)).toEqual([1, 2, 3]);
    expect(responses.map((fields) => fields.status)).toEqual([0, 0, 0]);
    expect(maxRunning).toBe(1);
  });

  test('waiting C-FIND can be cancelled', async () => {
    let releaseFirst!: () => void;
    const firstMayFinish = new Promise<void>((resolve) => (releaseFirst = resolve));
    let calls = 0;
    const { server, port } = await startServer({
      find: (ctx) =>
        (async function* () {
          calls++;
          if (calls === 1) await firstMayFinish;
          yield encodeDataset([[0x0020000d, 'UI', '1.2.3']], ctx.presentationContext.transferSyntax);
        })(),
    });
    servers.push(server);
    const { socket, replies } = await openRaw(port);

    socket.write(Buffer.concat([find(1), find(2)]));
    await sleep(50);
    socket.write(message(FIND_CONTEXT, { commandField: COMMAND_FIELD.C_CANCEL_RQ, messageIdBeingRespondedTo: 2, hasDataset: false }));
    await sleep(50);
    releaseFirst();
    const responses = [await nextResponse(replies), await nextResponse(replies), await nextResponse(replies)];

    expect(responses.map((fields) => [fields.messageIdBeingRespondedTo, fields.status])).toEqual([
      [1, 0xff00],
      [1, 0x0000],
      [2, 0xfe00],
    ]);
  });

  test('too many waiting requests abort', async () => {
    const { server, port } = await startServer({
      find: () =>
        (async function* () {
          await sleep(5000);
        })(),
      echo: async () => ({ status: 0 }),
    });
    servers.push(server);
    const { socket, replies } = await openRaw(port);
    const flood = Array.from({ length: MAX_WAITING_REQUESTS + 2 }, (_, index) => find(index + 1));

    socket.write(Buffer.concat(flood));
    const reply = await replies.next();
    const client = await connect({ host: LOOPBACK, port, callingAeTitle: 'NEXT', calledAeTitle: 'LOADER', contexts: [{ abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }], ...IMPLEMENTATION });
    const later = await client.echo();
    await client.release();

    expect(reply.type).toBe(PDU_TYPE.ABORT);
    expect(logLines.some((line) => line.includes('Too many requests without waiting for responses') && line.includes('PIPELINER'))).toBe(true);
    expect(later.status).toBe(0);
  });
});
