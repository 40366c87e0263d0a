/**
 * Window texts of network errors, from the errors that the real network layer
 * raises against peers on 127.0.0.1, so that a reworded network message fails
 * here instead of showing English in the Russian window.
 */
import * as net from 'net';

import { connect, DicomServer } from '../../src/dicom/network';
import type { AssociationDecision } from '../../src/dicom/network';
import { LOADER_IMPLEMENTATION_CLASS_UID, LOADER_IMPLEMENTATION_VERSION_NAME } from '../../src/dicom/uid';
import { describeNetworkError } from '../../src/ui/controllers/network-errors';
import { translator } from '../../src/ui/i18n';
import { freePort, startStorescp } from '../support/peers';

const IMPLEMENTATION = { implementationClassUid: LOADER_IMPLEMENTATION_CLASS_UID, implementationVersionName: LOADER_IMPLEMENTATION_VERSION_NAME };
const en = translator('en');
const ru = translator('ru');

/** Opens an association for C-ECHO from LOADER to `calledAeTitle` and returns the error it fails with. */
async function connectError(port: number, calledAeTitle: string, associationMs?: number): Promise<unknown> {
  try {
    const association = await connect({
      host: '127.0.0.1',
      port,
      callingAeTitle: 'LOADER',
      calledAeTitle,
      contexts: [{ abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: ['1.2.840.10008.1.2'] }],
      timeouts: { associationMs },
      ...IMPLEMENTATION,
    });
    await association.release();
  } catch (error) {
    return error;
  }
  throw new Error(`the association with ${calledAeTitle} at 127.0.0.1:${port} was accepted`);
}

/** Starts a DICOM server on 127.0.0.1 that rejects every association with `rejection`. */
async function startRejectingServer(rejection: Extract<AssociationDecision, { accept: false }>): Promise<{ server: DicomServer; port: number }> {
  const server = new DicomServer({ aeTitle: 'PEER', ...IMPLEMENTATION, decide: () => rejection, handlers: {} });
  const { port } = await server.listen(0, '127.0.0.1');
  return { server, port };
}

/** Starts a TCP server on 127.0.0.1 that hands each connection to `onConnection`. */
async function startTcpServer(onConnection: (socket: net.Socket) => void): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer(onConnection);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as net.AddressInfo).port };
}

describe('describeNetworkError', () => {
  test('refused connection names the peer', async () => {
    const port = await freePort();
    const error = await connectError(port, 'ORTHANC');

    expect(describeNetworkError(ru, error)).toBe(ru('network.connect.refused', { peer: `ORTHANC@127.0.0.1:${port}`, code: 'ECONNREFUSED' }));
    expect(describeNetworkError(ru, error)).toMatch(/^Не удалось подключиться к ORTHANC@127\.0\.0\.1:\d+: в соединении отказано \(ECONNREFUSED\)/);
    expect(describeNetworkError(en, error)).toMatch(/^Cannot connect to ORTHANC@127\.0\.0\.1:\d+: the connection was refused \(ECONNREFUSED\)/);
  });

  test('rejected association names the reason', async () => {
    const { server, port } = await startRejectingServer({ accept: false, result: 1, source: 1, reason: 7, logMessage: 'test: wrong called AE title' });
    try {
      const error = await connectError(port, 'WRONGAE');
      const text = describeNetworkError(ru, error);

      expect(text).toContain(`WRONGAE@127.0.0.1:${port} отклонил ассоциацию`);
      expect(text).toContain(ru('network.reason.calledAeTitle'));
      expect(describeNetworkError(en, error)).toBe(en('network.rejected.permanent', { peer: `WRONGAE@127.0.0.1:${port}`, reason: en('network.reason.calledAeTitle') }));
    } finally {
      await server.close({ timeoutMs: 1_000 });
    }
  });

  test('transient rejection says to retry', async () => {
    const { server, port } = await startRejectingServer({ accept: false, result: 2, source: 3, reason: 1, logMessage: 'test: congestion' });
    try {
      const error = await connectError(port, 'BUSY');

      expect(describeNetworkError(ru, error)).toBe(ru('network.rejected.transient', { peer: `BUSY@127.0.0.1:${port}`, reason: ru('network.reason.congestion') }));
    } finally {
      await server.close({ timeoutMs: 1_000 });
    }
  });

  test('silent peer times out', async () => {
    const sockets: net.Socket[] = [];
    const { server, port } = await startTcpServer((socket) => sockets.push(socket));
    try {
      const error = await connectError(port, 'SILENT', 300);

      expect(describeNetworkError(ru, error)).toBe(ru('network.timedOut', { peer: `SILENT@127.0.0.1:${port}`, seconds: 0.3 }));
    } finally {
      for (const socket of sockets) socket.destroy();
      server.close();
    }
  });

  test('closed connection is reported as lost', async () => {
    const { server, port } = await startTcpServer((socket) => socket.destroy());
    try {
      const error = await connectError(port, 'CLOSING');

      expect(describeNetworkError(ru, error)).toBe(ru('network.connectionLost', { peer: `CLOSING@127.0.0.1:${port}` }));
    } finally {
      server.close();
    }
  });

  test('port in use names the port', async () => {
    const { server: taken, port } = await startTcpServer((socket) => socket.destroy());
    const server = new DicomServer({ aeTitle: 'LOADER', ...IMPLEMENTATION, decide: () => ({ accept: false, result: 1, source: 1, reason: 1, logMessage: 'unused' }), handlers: {} });
    try {
      const error = await server.listen(port, '127.0.0.1').then(
        () => undefined,
        (failure: unknown) => failure,
      );

      expect(describeNetworkError(ru, error)).toBe(ru('network.portInUse', { port, host: '127.0.0.1' }));
    } finally {
      taken.close();
    }
  });

  test('wrapped message is recognized', async () => {
    const port = await freePort();
    const error = (await connectError(port, 'ORTHANC')) as Error;
    const wrapped = new Error(`ORTHANC rejected the C-GET association: ${error.message}`);
    const caused = new Error('retrieve failed', { cause: error });

    expect(describeNetworkError(ru, wrapped)).toBe(describeNetworkError(ru, error));
    expect(describeNetworkError(ru, caused)).toBe(describeNetworkError(ru, error));
  });

  test('connect timeout text is recognized', () => {
    // A connect that times out needs an address that drops packets, so this uses the text of client.ts's openSocket.
    const error = new Error('Timed out after 10000 ms connecting to ORTHANC at 192.0.2.1:104');

    expect(describeNetworkError(ru, error)).toBe(ru('network.connect.noAnswer', { peer: 'ORTHANC@192.0.2.1:104', milliseconds: 10000 }));
  });

  test('storage-only node rejects C-FIND', async () => {
    // DCMTK storescp accepts storage classes and C-ECHO only, as a send destination does.
    const storescp = await startStorescp({ aeTitle: 'DESTSCP' });
    let error: unknown;
    try {
      const association = await connect({
        host: '127.0.0.1',
        port: storescp.port,
        callingAeTitle: 'LOADER',
        calledAeTitle: 'DESTSCP',
        // Study Root Query/Retrieve Information Model - FIND.
        contexts: [{ abstractSyntax: '1.2.840.10008.5.1.4.1.2.2.1', transferSyntaxes: ['1.2.840.10008.1.2'] }],
        ...IMPLEMENTATION,
      });
      await association.release();
    } catch (caught) {
      error = caught;
    } finally {
      await storescp.stop();
    }
    const peer = `DESTSCP@127.0.0.1:${storescp.port}`;

    expect(describeNetworkError(ru, error)).toBe(ru('network.noContexts', { peer, count: 1 }));
    expect(describeNetworkError(ru, error)).toMatch(/^DESTSCP@127\.0\.0\.1:\d+ не принял ни одного из предложенных контекстов представления \(1\)/);
    expect(describeNetworkError(ru, error)).toContain('отправлять на него исследования можно');
    expect(describeNetworkError(en, error)).toMatch(/^DESTSCP@127\.0\.0\.1:\d+ accepted none of the 1 proposed presentation contexts/);
  });

  test('other errors are left alone', () => {
    expect(describeNetworkError(ru, new Error('Date "2024" is not a calendar date'))).toBeUndefined();
    expect(describeNetworkError(ru, 'C-ECHO to ORTHANC returned status 0xC001')).toBeUndefined();
    expect(describeNetworkError(ru, undefined)).toBeUndefined();
  });
});
