/**
 * Log lines of a failed C-STORE into the PACS server, as an administrator
 * reads them. The server writes one line per request and the C-STORE handler
 * none. The line keeps the whole reason, also where the DIMSE Error Comment is cut.
 */
import * as net from 'net';

import { COMMAND_FIELD, ClientAssociation, DicomServer, PDU_TYPE, connect, encodeAssociateRq, encodeCommand, encodePDataHeader } from '../../src/dicom/network';
import { LocalArchive } from '../../src/services/archive';
import { createLogger } from '../../src/services/logger';
import { createStoreHandler } from '../../src/services/pacs-server/store-service';
import { CT_IMAGE_STORAGE, EXPLICIT_LE, IMPLEMENTATION, sleep, startServer, waitForLogLine } from '../network/helpers';
import { captureLogLines } from '../support/log-capture';
import { LOOPBACK } from '../support/peers';
import { makeTempDir } from '../support/process';

const logLines = captureLogLines();

let archive: LocalArchive;
let server: DicomServer;
let port: number;
const clients: ClientAssociation[] = [];
const sockets: net.Socket[] = [];

beforeAll(async () => {
  archive = LocalArchive.open(makeTempDir('store-log'));
  ({ server, port } = await startServer({ store: createStoreHandler(archive, createLogger('loader.server.store')) }));
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  for (const client of clients) client.abort();
  await server.close({ timeoutMs: 500 });
  archive.close();
});

/** Log lines of the server side (the client in this process logs without an association= field) that contain `text`. */
function serverLinesWith(text: string): string[] {
  return logLines.filter((line) => line.includes(text) && (line.includes('association=') || line.includes('loader.server.store')));
}

const waitForLine = (text: string) => waitForLogLine(logLines, text);

describe('C-STORE failure log', () => {
  test('failure logged once with whole reason', async () => {
    const client = await connect({
      host: LOOPBACK,
      port,
      callingAeTitle: 'SENDER',
      calledAeTitle: 'LOADER',
      contexts: [{ abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: [EXPLICIT_LE] }],
      ...IMPLEMENTATION,
    });
    clients.push(client);
    const sopInstanceUid = '1.2.826.0.1.3680043.8.498.12345';

    const result = await client.store({
      contextId: client.findContext(CT_IMAGE_STORAGE)!.id,
      sopClassUid: CT_IMAGE_STORAGE,
      sopInstanceUid,
      data: Buffer.from('not a data set at all'),
    });

    expect(result.status).toBe(0xc000);
    const lines = serverLinesWith(`sopInstanceUid=${sopInstanceUid}`);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('C-STORE-RQ failed');
    expect(lines[0]).toContain('callingAe=SENDER');
    expect(lines[0]).toContain('calledAe=LOADER');
    // Error Comment (0000,0902) is LO, so the response carries a summary of at most 64 characters, and the log the whole reason.
    const loggedReason = JSON.parse(/ error=(".*?[^\\]")/.exec(lines[0])![1]) as string;
    expect(loggedReason.length).toBeGreaterThan(64);
    expect(result.errorComment!.length).toBeLessThanOrEqual(64);
    expect(loggedReason).toContain(result.errorComment!.trim());
    // Text in place of a data set is damage, not a data set in the other VR encoding.
    expect(result.errorComment).not.toMatch(/implicit VR data set/);
  });

  test('peer leaving mid-transfer logged once', async () => {
    const sopInstanceUid = '1.2.826.0.1.3680043.8.498.67890';
    const socket = net.connect(port, LOOPBACK);
    socket.on('error', () => undefined);
    sockets.push(socket);
    await new Promise((resolve) => socket.once('connect', resolve));
    const request = encodeAssociateRq({
      type: PDU_TYPE.ASSOCIATE_RQ,
      protocolVersion: 1,
      calledAeTitle: 'LOADER',
      callingAeTitle: 'LEAVER',
      applicationContextName: '1.2.840.10008.3.1.1.1',
      contexts: [{ id: 1, abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: [EXPLICIT_LE] }],
      userInformation: { maxPduLength: 16384, implementationClassUid: '1.2.3', roleSelections: [] },
    });
    socket.write(request);
    await new Promise((resolve) => socket.once('data', resolve));

    // The command, then a first data fragment that is not the last, then the connection closes.
    const command = encodeCommand({
      commandField: COMMAND_FIELD.C_STORE_RQ,
      messageId: 3,
      affectedSopClassUid: CT_IMAGE_STORAGE,
      affectedSopInstanceUid: sopInstanceUid,
      priority: 0,
      hasDataset: true,
    });
    const fragment = Buffer.alloc(64);
    socket.write(Buffer.concat([encodePDataHeader(1, true, true, command.length), command, encodePDataHeader(1, false, false, fragment.length), fragment]));
    await sleep(100);
    socket.end();

    const line = await waitForLine('C-STORE-RQ ended without its final response');
    expect(line).toContain('callingAe=LEAVER');
    expect(line).toContain('messageId=3');
    expect(line).toContain('reason=connection-closed');
    await sleep(100);
    expect(serverLinesWith(`sopInstanceUid=${sopInstanceUid}`).filter((text) => !text.includes('ended without its final response'))).toEqual([]);
  });
});
