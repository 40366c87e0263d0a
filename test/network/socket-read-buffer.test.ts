/**
 * Socket reads into one reused buffer: the buffer's own rules, the adoption of
 * accepted connections, and data sets that arrive intact whatever their
 * consumer keeps.
 */
import crypto from 'node:crypto';
import net from 'node:net';
import { Readable } from 'node:stream';

import {
  COMMAND_FIELD,
  ClientAssociation,
  DICOM_APPLICATION_CONTEXT,
  DimseHandlers,
  PDU_TYPE,
  connect,
  decodeCommand,
  encodeAssociateRq,
  encodeCommand,
  encodePDataHeader,
} from '../../src/dicom/network';
import { SocketReadBuffer, adoptAcceptedSocket, allowSharedChunks } from '../../src/dicom/network/socket-read-buffer';
import { captureLogLines } from '../support/log-capture';
import { LOOPBACK } from '../support/peers';
import {
  CT_IMAGE_STORAGE,
  EXPLICIT_LE,
  IMPLEMENTATION,
  PduCollector,
  STUDY_ROOT_FIND,
  closeAfterEach,
  encodeDataset,
  readAll,
  sleep,
  startServer,
  trickle,
} from './helpers';

// Keeps the test output free of the server's log lines.
captureLogLines();

const { servers, clients } = closeAfterEach();

function sha256(bytes: Buffer): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

describe('SocketReadBuffer', () => {
  test('reuses one buffer until a chunk is kept', () => {
    const readBuffer = new SocketReadBuffer();
    const nextBuffer = readBuffer.onread.buffer as () => Buffer;
    const first = nextBuffer();

    expect(nextBuffer()).toBe(first);
    readBuffer.keep();
    const second = nextBuffer();
    expect(second).not.toBe(first);
    expect(nextBuffer()).toBe(second);
  });

  test('copies chunks read before a receiver is set', () => {
    const readBuffer = new SocketReadBuffer();
    const buffer = (readBuffer.onread.buffer as () => Buffer)();
    buffer.write('early', 'latin1');
    readBuffer.onread.callback(5, buffer);
    buffer.fill(0);
    const received: string[] = [];

    readBuffer.setReceiver((chunk) => received.push(chunk.toString('latin1')));

    expect(received).toEqual(['early']);
  });
});

describe('adoptAcceptedSocket', () => {
  test('moves a connection accepted by net.Server on this Node release', async () => {
    const readBuffer = new SocketReadBuffer();
    const received: Buffer[] = [];
    readBuffer.setReceiver((chunk) => received.push(Buffer.from(chunk)));
    let adopted: net.Socket | undefined;
    const ended = new Promise<void>((resolve) => {
      const server = net.createServer({ pauseOnConnect: true }, (accepted) => {
        adopted = adoptAcceptedSocket(accepted, readBuffer);
        adopted?.resume();
        adopted?.on('end', () => {
          adopted!.end();
          server.close(() => resolve());
        });
      });
      server.listen(0, LOOPBACK, () => {
        const { port } = server.address() as net.AddressInfo;
        const client = net.connect({ host: LOOPBACK, port }, () => client.end('hello'));
      });
    });

    await ended;

    // Undefined here means that Node moved the socket's internal handle: the server then reads without the shared buffer.
    expect(adopted).toBeInstanceOf(net.Socket);
    expect(Buffer.concat(received).toString()).toBe('hello');
  });
});

describe('data sets through a shared read buffer', () => {
  /** Small PDUs, so that PDU headers, PDV headers and command sets often span two socket reads. */
  const SMALL_PDU = 4096;

  async function openClient(port: number): Promise<ClientAssociation> {
    const client = await connect({
      host: LOOPBACK,
      port,
      callingAeTitle: 'CLIENT',
      calledAeTitle: 'LOADER',
      maxPduLength: SMALL_PDU,
      contexts: [
        { abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: [EXPLICIT_LE] },
        { abstractSyntax: STUDY_ROOT_FIND, transferSyntaxes: [EXPLICIT_LE] },
      ],
      ...IMPLEMENTATION,
    });
    clients.push(client);
    return client;
  }

  async function serve(handlers: DimseHandlers): Promise<number> {
    const { server, port } = await startServer(handlers, { maxPduLength: SMALL_PDU });
    servers.push(server);
    return port;
  }

  /** Returns an A-ASSOCIATE-RQ for CT Image Storage with SMALL_PDU, to be written to a raw socket. */
  function associateRequest(callingAeTitle: string): Buffer {
    return encodeAssociateRq({
      type: PDU_TYPE.ASSOCIATE_RQ,
      protocolVersion: 1,
      calledAeTitle: 'LOADER',
      callingAeTitle,
      applicationContextName: DICOM_APPLICATION_CONTEXT,
      contexts: [{ id: 1, abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: [EXPLICIT_LE] }],
      userInformation: { maxPduLength: SMALL_PDU, implementationClassUid: IMPLEMENTATION.implementationClassUid, roleSelections: [] },
    });
  }

  /** Returns the P-DATA-TF PDUs of a C-STORE-RQ on context 1 whose data set is sent in `fragments`. */
  function storeMessage(sopInstanceUid: string, fragments: Buffer[]): Buffer {
    const command = encodeCommand({
      commandField: COMMAND_FIELD.C_STORE_RQ,
      hasDataset: true,
      affectedSopClassUid: CT_IMAGE_STORAGE,
      affectedSopInstanceUid: sopInstanceUid,
      messageId: 1,
      priority: 0,
    });
    const parts = [encodePDataHeader(1, true, true, command.length), command];
    fragments.forEach((fragment, index) => parts.push(encodePDataHeader(1, false, index === fragments.length - 1, fragment.length), fragment));
    return Buffer.concat(parts);
  }

  test.each([
    ['a consumer that starts late and keeps every chunk', 'late'],
    ['a consumer that pauses the stream', 'pausing'],
    ['a consumer that copies what it keeps', 'copying'],
    ['a consumer that keeps its data events', 'collecting'],
  ])('arrive intact with %s', async (_case, consumer) => {
    const received: string[] = [];
    const port = await serve({
      store: async (ctx) => {
        if (consumer === 'collecting') {
          const chunks: Buffer[] = [];
          ctx.data.on('data', (chunk: Buffer) => chunks.push(chunk));
          await new Promise((resolve) => ctx.data.on('end', resolve));
          received.push(sha256(Buffer.concat(chunks)));
        } else if (consumer === 'late') {
          await sleep(20);
          received.push(sha256(await readAll(ctx.data)));
        } else if (consumer === 'pausing') {
          const chunks: Buffer[] = [];
          for await (const chunk of ctx.data) {
            chunks.push(chunk as Buffer);
            if (chunks.length % 50 === 0) await sleep(1);
          }
          received.push(sha256(Buffer.concat(chunks)));
        } else {
          const hash = crypto.createHash('sha256');
          ctx.data.on('data', (chunk: Buffer) => hash.update(chunk));
          allowSharedChunks(ctx.data);
          await new Promise((resolve) => ctx.data.on('end', resolve));
          received.push(hash.digest('hex'));
        }
        return { status: 0 };
      },
    });
    const client = await openClient(port);
    const contextId = client.findContext(CT_IMAGE_STORAGE)!.id;
    const sent: string[] = [];

    for (let i = 1; i <= 4; i++) {
      const bytes = crypto.randomBytes(1024 * 1024 + i * 777);
      sent.push(sha256(bytes));
      const result = await client.store({ contextId, sopClassUid: CT_IMAGE_STORAGE, sopInstanceUid: `1.2.3.${i}`, data: Readable.from([bytes]) });
      expect(result.status).toBe(0);
    }

    expect(received).toEqual(sent);
  });

  test('copying consumer keeps no read buffer', async () => {
    const keep = jest.spyOn(SocketReadBuffer.prototype, 'keep');
    const received: string[] = [];
    const port = await serve({
      store: async (ctx) => {
        const hash = crypto.createHash('sha256');
        ctx.data.on('data', (chunk: Buffer) => hash.update(chunk));
        allowSharedChunks(ctx.data);
        await new Promise((resolve) => ctx.data.on('end', resolve));
        received.push(hash.digest('hex'));
        return { status: 0 };
      },
    });
    const data = crypto.randomBytes(3000);
    const request = associateRequest('ONEWRITE');
    // The command and the whole data set in one write, so the server reads them in one chunk, as it does from storescu.
    const message = storeMessage('1.2.3.98', [data.subarray(0, 2000), data.subarray(2000)]);

    const socket = net.connect(port, LOOPBACK);
    const replies = new PduCollector(socket);
    socket.write(request);
    expect((await replies.next()).type).toBe(PDU_TYPE.ASSOCIATE_AC);
    socket.write(message);
    const response = await replies.next();
    socket.destroy();
    const keepCalls = keep.mock.calls.length;
    keep.mockRestore();

    expect(decodeCommand(response.body.subarray(6)).fields.status).toBe(0);
    expect(received).toEqual([sha256(data)]);
    // The first data fragment reached the listener at once instead of waiting in the stream's queue.
    expect(keepCalls).toBe(0);
  });

  test('PDUs cut into pieces of a few bytes arrive intact', async () => {
    const received: string[] = [];
    const port = await serve({
      store: async (ctx) => {
        received.push(sha256(await readAll(ctx.data)));
        return { status: 0 };
      },
    });
    const data = crypto.randomBytes(1200);
    const request = associateRequest('TRICKLER');
    const message = storeMessage('1.2.3.99', [data.subarray(0, 400), data.subarray(400, 800), data.subarray(800)]);

    const socket = net.connect(port, LOOPBACK);
    const replies = new PduCollector(socket);
    await trickle(socket, request, 5);
    expect((await replies.next()).type).toBe(PDU_TYPE.ASSOCIATE_AC);
    await trickle(socket, message, 7);
    const response = await replies.next();
    socket.destroy();

    expect(response.type).toBe(PDU_TYPE.P_DATA_TF);
    expect(decodeCommand(response.body.subarray(6)).fields.status).toBe(0);
    expect(received).toEqual([sha256(data)]);
  });

  test('C-FIND responses reach the client intact', async () => {
    const names = Array.from({ length: 300 }, (_, i) => `PATIENT^${i}^${'X'.repeat(i % 60)}`);
    const port = await serve({
      find: (ctx) =>
        (async function* () {
          for (const name of names) yield encodeDataset([[0x00100010, 'PN', name]], ctx.presentationContext.transferSyntax);
        })(),
    });
    const client = await openClient(port);
    const identifier = encodeDataset([[0x00080052, 'CS', 'PATIENT'], [0x00100010, 'PN', '']], EXPLICIT_LE);
    const identifiers: Buffer[] = [];

    for await (const response of client.find({ contextId: client.findContext(STUDY_ROOT_FIND)!.id, identifier })) {
      if (response.identifier) identifiers.push(response.identifier);
    }

    expect(identifiers.map((bytes) => bytes.toString('latin1'))).toEqual(
      names.map((name) => encodeDataset([[0x00100010, 'PN', name]], EXPLICIT_LE).toString('latin1')),
    );
  });
});
