/**
 * Our client against our server: cancellation, failing handlers, retrieve responses,
 * back-pressure, timeouts and shutdown.
 */
import * as net from 'net';
import { Readable } from 'stream';

import {
  AssociateRqPdu,
  AssociationRejectedError,
  ClientAssociation,
  ConnectOptions,
  DicomServer,
  DicomServerOptions,
  DimseHandlers,
  DimseStatusError,
  MAX_CONNECTIONS_AWAITING_REQUEST,
  FindResponse,
  RetrieveProgress,
  PDU_TYPE,
  StoreRequestContext,
  connect,
  decodeControlPdu,
  encodeAbort,
  encodeAssociateAc,
  encodeAssociateRq,
  encodePDataHeader,
  encodeReleaseRq,
} from '../../src/dicom/network';
import { captureLogLines } from '../support/log-capture';
import { LOOPBACK } from '../support/peers';
import {
  CT_IMAGE_STORAGE,
  EXPLICIT_BE,
  EXPLICIT_LE,
  IMPLEMENTATION,
  IMPLICIT_LE,
  MR_IMAGE_STORAGE,
  STUDY_ROOT_FIND,
  STUDY_ROOT_GET,
  STUDY_ROOT_MOVE,
  VERIFICATION,
  encodeDataset,
  readAll,
  closeAfterEach,
  sleep,
  startServer,
} from './helpers';

const logLines = captureLogLines();

const { servers, clients } = closeAfterEach();

async function serve(handlers: DimseHandlers, overrides: Partial<DicomServerOptions> = {}): Promise<number> {
  const { server, port } = await startServer(handlers, overrides);
  servers.push(server);
  return port;
}

const ALL_CONTEXTS: ConnectOptions['contexts'] = [
  { abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] },
  { abstractSyntax: STUDY_ROOT_FIND, transferSyntaxes: [EXPLICIT_LE] },
  { abstractSyntax: STUDY_ROOT_MOVE, transferSyntaxes: [IMPLICIT_LE] },
  { abstractSyntax: STUDY_ROOT_GET, transferSyntaxes: [EXPLICIT_BE] },
  { abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: [EXPLICIT_LE] },
  { abstractSyntax: MR_IMAGE_STORAGE, transferSyntaxes: [EXPLICIT_LE] },
];

async function open(port: number, overrides: Partial<ConnectOptions> = {}): Promise<ClientAssociation> {
  const association = await connect({ host: LOOPBACK, port, callingAeTitle: 'CLIENT', calledAeTitle: 'LOADER', contexts: ALL_CONTEXTS, ...IMPLEMENTATION, ...overrides });
  clients.push(association);
  return association;
}

const QUERY = encodeDataset([[0x00080052, 'CS', 'STUDY']], EXPLICIT_LE);

/** Creates a readable of `total` bytes generated on demand; `produced()` returns the bytes handed out so far. */
/**
 * Proposes Verification as `callingAeTitle` over a raw socket, sends `bytes`
 * after the A-ASSOCIATE-AC, and returns all bytes received until the server
 * closes the connection.
 */
function sendAfterAccept(port: number, callingAeTitle: string, bytes: Buffer): Promise<Buffer> {
  const request = encodeAssociateRq({
    type: PDU_TYPE.ASSOCIATE_RQ,
    protocolVersion: 1,
    calledAeTitle: 'LOADER',
    callingAeTitle,
    applicationContextName: '1.2.840.10008.3.1.1.1',
    contexts: [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }],
    userInformation: { maxPduLength: 16384, implementationClassUid: '1.2.3', roleSelections: [] },
  });
  return new Promise<Buffer>((resolve) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, LOOPBACK, () => socket.write(request));
    socket.on('data', (chunk) => {
      if (chunks.length === 0) socket.write(bytes);
      chunks.push(chunk);
    });
    socket.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

/** Opens `count` TCP connections that send nothing, one after another, and tracks which the server closes. */
async function openIdleConnections(port: number, count: number): Promise<{ socket: net.Socket; closed: boolean }[]> {
  const connections: { socket: net.Socket; closed: boolean }[] = [];
  for (let i = 0; i < count; i++) {
    const connection = { socket: net.connect(port, LOOPBACK), closed: false };
    connection.socket.on('close', () => (connection.closed = true));
    connection.socket.on('error', () => undefined);
    await new Promise((resolve) => connection.socket.once('connect', resolve));
    connections.push(connection);
    idleSockets.push(connection.socket);
  }
  // The server accepts in the order of connecting; give it a turn to take the last one.
  await sleep(20);
  return connections;
}

const idleSockets: net.Socket[] = [];
afterEach(() => {
  for (const socket of idleSockets.splice(0)) socket.destroy();
});

function generatedSource(total: number, chunk = 64 * 1024): { stream: Readable; produced: () => number } {
  let produced = 0;
  const stream = new Readable({
    read() {
      if (produced >= total) {
        this.push(null);
        return;
      }
      const size = Math.min(chunk, total - produced);
      produced += size;
      this.push(Buffer.alloc(size, produced & 0xff));
    },
  });
  return { stream, produced: () => produced };
}

describe('negotiation', () => {
  test('association info reaches handlers', async () => {
    let seen: StoreRequestContext['association'] | undefined;
    const port = await serve({
      echo: async (ctx) => {
        seen = ctx.association;
        return { status: 0 };
      },
    });
    const client = await open(port, { maxPduLength: 8192 });
    expect((await client.echo()).status).toBe(0);
    expect(seen?.callingAeTitle).toBe('CLIENT');
    expect(seen?.calledAeTitle).toBe('LOADER');
    expect(seen?.peerMaxPduLength).toBe(8192);
    expect(seen?.acceptedContexts).toHaveLength(ALL_CONTEXTS.length);
    expect(client.peerMaxPduLength).toBe(256 * 1024);
    await client.release();
  });

  test('user identity response returns', async () => {
    let identityType: number | undefined;
    const port = await serve(
      {},
      {
        decide: (request) => {
          identityType = request.userIdentity?.type;
          return {
            accept: true,
            contexts: request.contexts.map((context) => ({ id: context.id, result: 0 as const, transferSyntax: context.transferSyntaxes[0] })),
            userIdentityServerResponse: Buffer.from('token-ok'),
          };
        },
      },
    );
    const client = await open(port, { userIdentity: { type: 2, primaryField: Buffer.from('user'), secondaryField: Buffer.from('secret'), positiveResponseRequested: true } });
    expect(identityType).toBe(2);
    expect(client.userIdentityServerResponse?.toString()).toBe('token-ok');
    expect(logLines.some((line) => line.includes('secret'))).toBe(false);
    await client.release();
  });

  test('association limit rejects extra peers', async () => {
    const port = await serve({ echo: async () => ({ status: 0 }) }, { maxAssociations: 1 });
    const first = await open(port);
    const second = open(port);
    await expect(second).rejects.toBeInstanceOf(AssociationRejectedError);
    await expect(second).rejects.toThrow(/local limit exceeded/);
    expect((await first.echo()).status).toBe(0);
  });

  test('idle connections leave association slots free', async () => {
    const port = await serve({ echo: async () => ({ status: 0 }) }, { maxAssociations: 1 });
    const idle = await openIdleConnections(port, 3);

    const client = await open(port);

    expect((await client.echo()).status).toBe(0);
    expect(idle.every((connection) => !connection.closed)).toBe(true);
  });

  test('longest idle connection closed for a new one', async () => {
    const port = await serve({ echo: async () => ({ status: 0 }) });
    const idle = await openIdleConnections(port, MAX_CONNECTIONS_AWAITING_REQUEST);

    const client = await open(port);
    await sleep(50);

    expect((await client.echo()).status).toBe(0);
    expect(idle.filter((connection) => connection.closed)).toEqual([idle[0]]);
    expect(logLines.some((line) => line.includes('waited longest without an A-ASSOCIATE-RQ'))).toBe(true);
  });

  test('server binds the requested host', async () => {
    const server = new DicomServer({ aeTitle: 'LOADER', ...IMPLEMENTATION, decide: () => ({ accept: false, result: 1, source: 1, reason: 1, logMessage: 'test' }), handlers: {} });
    servers.push(server);
    const address = await server.listen(0, LOOPBACK);
    expect(address.host).toBe(LOOPBACK);
  });
});

describe('find', () => {
  test('cancel answers while handler hangs', async () => {
    let handlerSignal: AbortSignal | undefined;
    const port = await serve({
      find: (ctx) => {
        handlerSignal = ctx.signal;
        return (async function* () {
          yield encodeDataset([[0x00100020, 'LO', 'FIRST']], ctx.presentationContext.transferSyntax);
          await new Promise(() => undefined); // never yields again
        })();
      },
      echo: async () => ({ status: 0 }),
    });
    const client = await open(port);
    const controller = new AbortController();
    const responses: FindResponse[] = [];
    for await (const response of client.find({ contextId: client.findContext(STUDY_ROOT_FIND)!.id, identifier: QUERY, signal: controller.signal })) {
      responses.push(response);
      if (responses.length === 1) controller.abort();
    }
    expect(responses.map((response) => response.status)).toEqual([0xff00, 0xfe00]);
    expect(responses[0].identifier?.toString('latin1')).toContain('FIRST');
    expect(handlerSignal?.aborted).toBe(true);
    expect((await client.echo()).status).toBe(0);
  });

  test('breaking the loop cancels', async () => {
    const port = await serve({
      find: (ctx) =>
        (async function* () {
          for (let i = 0; i < 1000; i++) yield encodeDataset([[0x00100020, 'LO', `P${i}`]], ctx.presentationContext.transferSyntax);
        })(),
      echo: async () => ({ status: 0 }),
    });
    const client = await open(port);
    let count = 0;
    for await (const response of client.find({ contextId: client.findContext(STUDY_ROOT_FIND)!.id, identifier: QUERY })) {
      expect(response.status).toBe(0xff00);
      if (++count === 3) break;
    }
    expect((await client.echo()).status).toBe(0);
  });

  test('handler status error is returned', async () => {
    const port = await serve({
      find: () =>
        (async function* () {
          throw new DimseStatusError(0xa700, 'Out of resources in test');
        })(),
    });
    const client = await open(port);
    const iterate = async () => {
      for await (const response of client.find({ contextId: client.findContext(STUDY_ROOT_FIND)!.id, identifier: QUERY })) void response;
    };
    await expect(iterate()).rejects.toMatchObject({ status: 0xa700 });
    await expect(iterate()).rejects.toThrow(/Out of resources in test/);
  });

  test('plain handler error gives C001', async () => {
    const port = await serve({
      find: () => {
        throw new Error('broken index');
      },
    });
    const client = await open(port);
    const iterate = async () => {
      for await (const response of client.find({ contextId: client.findContext(STUDY_ROOT_FIND)!.id, identifier: QUERY })) void response;
    };
    await expect(iterate()).rejects.toMatchObject({ status: 0xc001 });
  });

  test('success ends with status 0000', async () => {
    const port = await serve({
      find: (ctx) =>
        (async function* () {
          yield encodeDataset([[0x00100020, 'LO', 'ONLY']], ctx.presentationContext.transferSyntax);
        })(),
    });
    const client = await open(port);
    const statuses: number[] = [];
    for await (const response of client.find({ contextId: client.findContext(STUDY_ROOT_FIND)!.id, identifier: QUERY })) statuses.push(response.status);
    expect(statuses).toEqual([0xff00, 0x0000]);
  });
});

describe('store', () => {
  test('handler failing early still answers', async () => {
    let calls = 0;
    const port = await serve({
      store: async (ctx) => {
        calls++;
        if (calls === 1) throw new Error('disk full');
        await readAll(ctx.data);
        return { status: 0 };
      },
    });
    const client = await open(port, { maxPduLength: 4096 });
    const contextId = client.findContext(CT_IMAGE_STORAGE)!.id;
    const first = await client.store({ contextId, sopClassUid: CT_IMAGE_STORAGE, sopInstanceUid: '1.2.3.1', data: generatedSource(3 * 1024 * 1024).stream });
    expect(first.status).toBe(0xc001);
    expect(first.errorComment).toBe('disk full');
    expect(logLines.some((line) => line.includes('C-STORE-RQ failed') && line.includes('sopInstanceUid=1.2.3.1') && line.includes('callingAe=CLIENT'))).toBe(true);
    const second = await client.store({ contextId, sopClassUid: CT_IMAGE_STORAGE, sopInstanceUid: '1.2.3.2', data: generatedSource(100_000).stream });
    expect(second.status).toBe(0);
  });

  test('sender vanishing mid-data-set is logged without a response', async () => {
    const port = await serve({ store: async (ctx) => (await readAll(ctx.data), { status: 0 }) });
    const client = await open(port, { callingAeTitle: 'VANISHER' });
    const contextId = client.findContext(CT_IMAGE_STORAGE)!.id;
    const data = new Readable({
      read() {
        this.push(Buffer.alloc(64 * 1024));
        this.destroy(new Error('source file unreadable'));
      },
    });

    await expect(client.store({ contextId, sopClassUid: CT_IMAGE_STORAGE, sopInstanceUid: '1.2.3.9', data })).rejects.toThrow();
    for (let tries = 0; tries < 100 && !logLines.some((line) => line.includes('sopInstanceUid=1.2.3.9')); tries++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    const line = logLines.find((candidate) => candidate.includes('sopInstanceUid=1.2.3.9')) ?? '';
    expect(line).toContain('ended without its final response');
    expect(line).toContain('callingAe=VANISHER');
    expect(line).not.toContain('status=');
  });

  test('missing handler answers 0211', async () => {
    const port = await serve({});
    const client = await open(port);
    const contextId = client.findContext(CT_IMAGE_STORAGE)!.id;
    const result = await client.store({ contextId, sopClassUid: CT_IMAGE_STORAGE, sopInstanceUid: '1.2.3.3', data: generatedSource(50_000).stream });
    expect(result.status).toBe(0x0211);
    expect((await client.echo()).status).toBe(0x0211);
  });

  test('wrong SOP class answers 0122', async () => {
    const port = await serve({ store: async (ctx) => ({ status: 0, errorComment: `${(await readAll(ctx.data)).length}` }) });
    const client = await open(port);
    const contextId = client.findContext(CT_IMAGE_STORAGE)!.id;
    const result = await client.store({ contextId, sopClassUid: MR_IMAGE_STORAGE, sopInstanceUid: '1.2.3.4', data: generatedSource(10_000).stream });
    expect(result.status).toBe(0x0122);
  });

  test('back-pressure bounds buffering', async () => {
    const total = 48 * 1024 * 1024;
    let maxBuffered = 0;
    let releaseConsumer!: () => void;
    const consumerMayRead = new Promise<void>((resolve) => (releaseConsumer = resolve));
    let receivedBytes = 0;
    const port = await serve({
      store: async (ctx) => {
        await consumerMayRead;
        maxBuffered = Math.max(maxBuffered, ctx.data.readableLength);
        for await (const chunk of ctx.data) {
          receivedBytes += (chunk as Buffer).length;
          maxBuffered = Math.max(maxBuffered, ctx.data.readableLength);
        }
        return { status: 0 };
      },
    });
    const client = await open(port);
    const source = generatedSource(total);
    const pending = client.store({ contextId: client.findContext(CT_IMAGE_STORAGE)!.id, sopClassUid: CT_IMAGE_STORAGE, sopInstanceUid: '1.2.3.5', data: source.stream });
    await sleep(400);
    // The consumer has not read anything yet: the client must have stopped pulling from its source.
    const producedWhileBlocked = source.produced();
    expect(producedWhileBlocked).toBeLessThan(total / 2);
    releaseConsumer();
    const result = await pending;
    expect(result.status).toBe(0);
    expect(receivedBytes).toBe(total);
    expect(maxBuffered).toBeLessThan(2 * 1024 * 1024);
  });
});

describe('retrieve', () => {
  test('move cancel reaches the handler', async () => {
    const port = await serve({
      move: async (ctx) => {
        ctx.sendPending({ remaining: 5, completed: 0, failed: 0, warning: 0 });
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
        return { status: 0xfe00, remaining: 5, completed: 0, failed: 0, warning: 0, failedSopInstanceUids: [] };
      },
    });
    const client = await open(port);
    const controller = new AbortController();
    const result = await client.move({
      contextId: client.findContext(STUDY_ROOT_MOVE)!.id,
      destination: 'ARCHIVE',
      identifier: encodeDataset([[0x00080052, 'CS', 'STUDY']], IMPLICIT_LE),
      onPending: () => controller.abort(),
      signal: controller.signal,
    });
    expect(result.status).toBe(0xfe00);
    expect(result.remaining).toBe(5);
  });

  test('move reports progress and failures', async () => {
    let destination: string | undefined;
    const port = await serve({
      move: async (ctx) => {
        destination = ctx.moveDestination;
        ctx.sendPending({ remaining: 2, completed: 1, failed: 0, warning: 0 });
        ctx.sendPending({ remaining: 1, completed: 1, failed: 1, warning: 0 });
        return { status: 0xb000, remaining: 0, completed: 2, failed: 1, warning: 0, failedSopInstanceUids: ['1.2.3.99'] };
      },
    });
    const client = await open(port);
    const progress: RetrieveProgress[] = [];
    const result = await client.move({ contextId: client.findContext(STUDY_ROOT_MOVE)!.id, destination: 'ARCHIVE', identifier: encodeDataset([[0x00080052, 'CS', 'STUDY']], IMPLICIT_LE), onPending: (p) => progress.push(p) });
    expect(destination).toBe('ARCHIVE');
    expect(progress).toEqual([
      { remaining: 2, completed: 1, failed: 0, warning: 0 },
      { remaining: 1, completed: 1, failed: 1, warning: 0 },
    ]);
    expect(result).toMatchObject({ status: 0xb000, completed: 2, failed: 1, warning: 0, failedSopInstanceUids: ['1.2.3.99'] });
  });

  test('get stores sub-operations on the association', async () => {
    const payloads = [Buffer.alloc(300_000, 1), Buffer.alloc(1000, 2)];
    const port = await serve({
      get: async (ctx) => {
        const contextId = ctx.association.acceptedContexts.find((context) => context.abstractSyntax === CT_IMAGE_STORAGE)!.id;
        let completed = 0;
        const failedSopInstanceUids: string[] = [];
        for (const [index, payload] of payloads.entries()) {
          ctx.sendPending({ remaining: payloads.length - index, completed, failed: failedSopInstanceUids.length, warning: 0 });
          const sopInstanceUid = `1.2.3.${index + 10}`;
          const result = await ctx.store({ contextId, sopClassUid: CT_IMAGE_STORAGE, sopInstanceUid, data: Readable.from([payload]) });
          if (result.status === 0) completed++;
          else failedSopInstanceUids.push(sopInstanceUid);
        }
        return { status: failedSopInstanceUids.length > 0 ? 0xb000 : 0, remaining: 0, completed, failed: failedSopInstanceUids.length, warning: 0, failedSopInstanceUids };
      },
    });
    const client = await open(port, { roleSelections: [{ sopClassUid: CT_IMAGE_STORAGE, scuRole: true, scpRole: true }] });
    expect(client.roleSelections).toEqual([{ sopClassUid: CT_IMAGE_STORAGE, scuRole: true, scpRole: true }]);
    const received: Buffer[] = [];
    const result = await client.get({
      contextId: client.findContext(STUDY_ROOT_GET)!.id,
      identifier: Buffer.alloc(0),
      onStore: async (ctx) => {
        received.push(await readAll(ctx.data));
        return { status: received.length === 2 ? 0xa700 : 0 };
      },
    });
    expect(received[0].equals(payloads[0])).toBe(true);
    expect(received[1].equals(payloads[1])).toBe(true);
    // The C-GET context is Explicit VR Big Endian, so the failed-UID list was encoded and read big endian.
    expect(result).toMatchObject({ status: 0xb000, completed: 1, failed: 1, failedSopInstanceUids: ['1.2.3.11'] });
  });

  test('get without role selection fails cleanly', async () => {
    const port = await serve({
      get: async (ctx) => {
        const contextId = ctx.association.acceptedContexts.find((context) => context.abstractSyntax === CT_IMAGE_STORAGE)!.id;
        await ctx.store({ contextId, sopClassUid: CT_IMAGE_STORAGE, sopInstanceUid: '1.2.3.20', data: Readable.from([Buffer.alloc(10)]) });
        return { status: 0, remaining: 0, completed: 1, failed: 0, warning: 0, failedSopInstanceUids: [] };
      },
      echo: async () => ({ status: 0 }),
    });
    const client = await open(port);
    const result = await client.get({ contextId: client.findContext(STUDY_ROOT_GET)!.id, identifier: Buffer.alloc(0), onStore: async () => ({ status: 0 }) });
    expect(result.status).toBe(0xc001);
    expect(result.errorComment).toMatch(/SCP role/);
    expect((await client.echo()).status).toBe(0);
  });
});

describe('timeouts and shutdown', () => {
  test('vanished peer rejects pending echo', async () => {
    // A fake acceptor that accepts the association, then drops the connection on the first request.
    const fake = net.createServer((socket) => {
      let negotiated = false;
      socket.on('data', (bytes) => {
        if (negotiated) {
          socket.destroy();
          return;
        }
        negotiated = true;
        const request = decodeControlPdu(bytes[0], bytes.subarray(6)) as AssociateRqPdu;
        socket.write(
          encodeAssociateAc({
            type: PDU_TYPE.ASSOCIATE_AC,
            protocolVersion: 1,
            calledAeTitle: request.calledAeTitle,
            callingAeTitle: request.callingAeTitle,
            applicationContextName: request.applicationContextName,
            contexts: request.contexts.map((context) => ({ id: context.id, result: 0 as const, transferSyntax: context.transferSyntaxes[0] })),
            userInformation: { maxPduLength: 16384, implementationClassUid: '1.2.3', roleSelections: [] },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => fake.listen(0, LOOPBACK, resolve));
    const port = (fake.address() as net.AddressInfo).port;
    const client = await open(port);
    await expect(client.echo()).rejects.toThrow(`LOADER at ${LOOPBACK}:${port}`);
    expect(client.isOpen).toBe(false);
    await new Promise((resolve) => fake.close(resolve));
  });

  test('DIMSE timeout names the peer', async () => {
    const port = await serve({ echo: () => new Promise(() => undefined) });
    const client = await open(port, { timeouts: { dimseMs: 300 } });
    await expect(client.echo()).rejects.toThrow(`DIMSE timeout: no response to message 1 from LOADER at ${LOOPBACK}:${port}`);
    expect(client.isOpen).toBe(false);
  });

  test('idle association is aborted', async () => {
    const port = await serve({ echo: async () => ({ status: 0 }) }, { timeouts: { idleMs: 300 } });
    const client = await open(port);
    expect((await client.echo()).status).toBe(0);
    await sleep(700);
    expect(client.isOpen).toBe(false);
    await expect(client.echo()).rejects.toThrow(/aborted/);
  });

  test('active association outlives idle time', async () => {
    const port = await serve({ echo: async () => ({ status: 0 }) }, { timeouts: { idleMs: 300 } });
    const client = await open(port);

    // Five echoes 100 ms apart span 500 ms, longer than the idle time, but no gap reaches it.
    for (let i = 0; i < 5; i++) {
      expect((await client.echo()).status).toBe(0);
      await sleep(100);
    }

    expect(client.isOpen).toBe(true);
    await sleep(700);
    expect(client.isOpen).toBe(false);
  });

  test('stalled message is aborted', async () => {
    const port = await serve({ echo: async () => ({ status: 0 }) }, { timeouts: { dimseMs: 300 } });
    // The first command fragment of a C-ECHO-RQ, without the last-fragment flag, and then nothing.
    const partial = Buffer.concat([encodePDataHeader(1, true, false, 8), Buffer.alloc(8)]);
    const started = Date.now();

    const received = await sendAfterAccept(port, 'STALLER', partial);

    expect(Date.now() - started).toBeLessThan(3000);
    expect(received[0]).toBe(PDU_TYPE.ASSOCIATE_AC);
    expect(received.subarray(received.length - 10)).toEqual(encodeAbort(2, 0));
    expect(logLines.some((line) => line.includes('message stalled') && line.includes('STALLER'))).toBe(true);
  });

  test('release inside a message is aborted', async () => {
    const port = await serve({ echo: async () => ({ status: 0 }) });
    // The first command fragment of a C-ECHO-RQ, without the last-fragment flag, then A-RELEASE-RQ.
    const partial = Buffer.concat([encodePDataHeader(1, true, false, 8), Buffer.alloc(8), encodeReleaseRq()]);
    const started = Date.now();

    const received = await sendAfterAccept(port, 'HALFWAY', partial);

    expect(Date.now() - started).toBeLessThan(3000);
    expect(received.subarray(received.length - 10)).toEqual(encodeAbort(2, 2));
    expect(logLines.some((line) => line.includes('A-RELEASE-RQ inside a message') && line.includes('HALFWAY'))).toBe(true);
  });

  test('silent connection is closed', async () => {
    const port = await serve({}, { timeouts: { associationMs: 300 } });
    const closed = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, LOOPBACK);
      socket.on('close', () => resolve(true));
      socket.on('error', () => resolve(true));
      setTimeout(() => resolve(false), 3000).unref();
    });
    expect(closed).toBe(true);
  });

  test('close waits for running store', async () => {
    let finishStore!: () => void;
    const storeMayFinish = new Promise<void>((resolve) => (finishStore = resolve));
    const { server, port } = await startServer({
      store: async (ctx) => {
        await readAll(ctx.data);
        await storeMayFinish;
        return { status: 0 };
      },
    });
    const client = await open(port);
    const store = client.store({ contextId: client.findContext(CT_IMAGE_STORAGE)!.id, sopClassUid: CT_IMAGE_STORAGE, sopInstanceUid: '1.2.3.30', data: generatedSource(10_000).stream });
    await sleep(100);
    let closed = false;
    const closing = server.close({ timeoutMs: 5000 }).then(() => (closed = true));
    await sleep(100);
    expect(closed).toBe(false);
    finishStore();
    expect((await store).status).toBe(0);
    await client.release();
    await closing;
    expect(closed).toBe(true);
  });

  test('close aborts lingering associations', async () => {
    const { server, port } = await startServer({ echo: async () => ({ status: 0 }) });
    const client = await open(port);
    const started = Date.now();
    await server.close({ timeoutMs: 300 });
    expect(Date.now() - started).toBeLessThan(2000);
    await sleep(50);
    expect(client.isOpen).toBe(false);
  });
});
