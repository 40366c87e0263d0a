/**
 * pacs.maxAssociationsPerAe against DCMTK echoscu. Associations held open by a
 * raw-socket requestor fill the limit of one calling AE title. echoscu with that
 * AE title is then rejected with A-ASSOCIATE-RJ rejected-transient, service
 * provider (presentation), local-limit-exceeded (PS3.8 section 9.3.4), while
 * echoscu with another AE title is accepted. Each way an association can end
 * (release, abort, connection reset, idle timeout) frees its slot.
 * echoscu 3.6.7 prints the source as "Service Provider (Presentation Related)".
 */
import * as net from 'node:net';
import * as path from 'node:path';

import { DicomServer, acceptSupportedContexts } from '../../src/dicom/network';
import { PDU_TYPE, encodeAbort, encodeAssociateRq, encodeReleaseRq } from '../../src/dicom/network/pdu';
import { SopClass, TransferSyntax } from '../../src/dicom/uid';
import { LocalArchive } from '../../src/services/archive';
import { PacsServer } from '../../src/services/pacs-server/pacs-server';
import { defaultSettings } from '../../src/services/settings/settings-types';
import { captureLogLines } from '../support/log-capture';
import { LOOPBACK, loaderIsBuilt, makeTempDir, runDcmtk, sleep, startLoader } from '../support/peers';
import type { LoaderServer } from '../support/peers';

const lines = captureLogLines();

const AE_TITLE = 'LOADERPERAE';
const BUSY_AE_TITLE = 'BUSYNODE';
const LIMIT_PER_AE = 2;
const WAIT_MS = 30_000;

/** An association opened over a raw socket that stays open until the test ends it. */
interface HeldAssociation {
  socket: net.Socket;
  localPort: number;
}

/** Opens an association as `callingAeTitle` and resolves once the A-ASSOCIATE-AC arrives. */
function holdAssociation(port: number, calledAeTitle: string, callingAeTitle: string): Promise<HeldAssociation> {
  const request = encodeAssociateRq({
    type: PDU_TYPE.ASSOCIATE_RQ,
    protocolVersion: 1,
    calledAeTitle,
    callingAeTitle,
    applicationContextName: '1.2.840.10008.3.1.1.1',
    contexts: [{ id: 1, abstractSyntax: SopClass.Verification, transferSyntaxes: [TransferSyntax.ImplicitVRLittleEndian] }],
    userInformation: { maxPduLength: 16384, implementationClassUid: '1.2.826.0.1.3680043.10.1234.98', roleSelections: [] },
  });
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, LOOPBACK, () => socket.write(request));
    socket.once('data', (chunk: Buffer) => {
      if (chunk[0] === PDU_TYPE.ASSOCIATE_AC) resolve({ socket, localPort: socket.localPort ?? 0 });
      else reject(new Error(`expected an A-ASSOCIATE-AC for ${callingAeTitle}, received PDU type 0x${chunk[0].toString(16)}`));
    });
    socket.on('error', () => undefined);
    socket.once('close', () => reject(new Error(`connection of ${callingAeTitle} closed before an A-ASSOCIATE-AC`)));
  });
}

/** Polls the captured log until a line contains every part, and returns it. */
async function waitForLogLine(parts: string[]): Promise<string> {
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    const line = lines.find((candidate) => parts.every((part) => candidate.includes(part)));
    if (line !== undefined) return line;
    await sleep(20);
  }
  throw new Error(`no log line within ${WAIT_MS} ms contains all of ${JSON.stringify(parts)}`);
}

/** Waits until the server logs the end of `held` with `reason` and the other `parts`, so its slot is free. */
function waitForEnd(held: HeldAssociation, reason: string, ...parts: string[]): Promise<string> {
  return waitForLogLine(['Association ended', `${LOOPBACK}:${held.localPort}`, `reason=${reason}`, ...parts]);
}

const echo = (port: number, calledAeTitle: string, callingAeTitle: string) =>
  runDcmtk('echoscu', ['-v', '-aet', callingAeTitle, '-aec', calledAeTitle, LOOPBACK, String(port)]);

describe('association limit per calling AE title', () => {
  const archive = LocalArchive.open(path.join(makeTempDir('association-limit-per-ae'), 'archive'));
  const server = new PacsServer({
    settings: {
      ...defaultSettings().pacs,
      aeTitle: AE_TITLE,
      host: LOOPBACK,
      port: 0,
      acceptAnyCallingAeTitle: true,
      maxAssociations: 8,
      maxAssociationsPerAe: LIMIT_PER_AE,
    },
    archive,
    listNodes: () => [],
  });
  let port: number;
  const held: HeldAssociation[] = [];

  /** Fills the limit of BUSY_AE_TITLE with held associations. */
  const fillLimit = async () => {
    const opened: HeldAssociation[] = [];
    for (let i = 0; i < LIMIT_PER_AE; i++) opened.push(await holdAssociation(port, AE_TITLE, BUSY_AE_TITLE));
    held.push(...opened);
    return opened;
  };

  beforeAll(async () => {
    ({ port } = await server.start());
  }, 60_000);

  afterEach(() => {
    for (const association of held.splice(0)) association.socket.destroy();
  });

  afterAll(async () => {
    await server.stop();
    archive.close();
  });

  test('extra association of one AE rejected', async () => {
    await fillLimit();

    const rejected = await echo(port, AE_TITLE, BUSY_AE_TITLE);
    const other = await echo(port, AE_TITLE, 'OTHERNODE');

    expect(rejected.code).not.toBe(0);
    expect(rejected.stdout + rejected.stderr).toMatch(/Rejected Transient/i);
    expect(rejected.stdout + rejected.stderr).toMatch(/Service Provider \(Presentation Related\)/i);
    expect(rejected.stdout + rejected.stderr).toMatch(/Local Limit Exceeded/i);
    expect(other.code).toBe(0);
  }, 60_000);

  test('rejection log names AEs and limit', async () => {
    await fillLimit();
    expect((await echo(port, AE_TITLE, BUSY_AE_TITLE)).code).not.toBe(0);

    const line = await waitForLogLine(['Association rejected', `callingAe=${BUSY_AE_TITLE}`]);

    expect(line).toContain(`calledAe=${AE_TITLE}`);
    expect(line).toContain(`peer=${LOOPBACK}:`);
    expect(line).toContain(`Limit of ${LIMIT_PER_AE} simultaneous associations per calling AE title (pacs.maxAssociationsPerAe)`);
    expect(line).toContain('loader config set pacs.maxAssociationsPerAe N');
  }, 60_000);

  const endings: [string, (socket: net.Socket) => void, string][] = [
    ['A-RELEASE-RQ', (socket) => socket.write(encodeReleaseRq()), 'released'],
    ['A-ABORT', (socket) => socket.end(encodeAbort(0, 0)), 'peer-aborted'],
    ['connection reset', (socket) => socket.resetAndDestroy(), 'connection-closed'],
  ];

  test.each(endings)('%s frees the slot', async (_name, end, reason) => {
    const [first] = await fillLimit();
    expect((await echo(port, AE_TITLE, BUSY_AE_TITLE)).code).not.toBe(0);

    end(first.socket);
    await waitForEnd(first, reason);

    expect((await echo(port, AE_TITLE, BUSY_AE_TITLE)).code).toBe(0);
  }, 60_000);
});

describe('association limit per AE and timeout', () => {
  const dicomServer = new DicomServer({
    aeTitle: AE_TITLE,
    implementationClassUid: '1.2.826.0.1.3680043.10.1234.97',
    implementationVersionName: 'PERAETEST',
    maxAssociations: 8,
    maxAssociationsPerAe: 1,
    // The held association sends nothing, so the server aborts it after this idle time.
    timeouts: { idleMs: 1_000 },
    decide: (request) => acceptSupportedContexts(request, new Map([[SopClass.Verification, []]])),
    handlers: { echo: async () => ({ status: 0 }) },
  });
  let port: number;
  let held: HeldAssociation | undefined;

  beforeAll(async () => {
    ({ port } = await dicomServer.listen(0, LOOPBACK));
  }, 60_000);

  afterAll(async () => {
    held?.socket.destroy();
    await dicomServer.close();
  });

  test('idle timeout frees the slot', async () => {
    held = await holdAssociation(port, AE_TITLE, BUSY_AE_TITLE);

    await waitForEnd(held, 'aborted', 'idle for 1000 ms');

    expect((await echo(port, AE_TITLE, BUSY_AE_TITLE)).code).toBe(0);
  }, 60_000);
});

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

describeBuilt('loader serve --max-associations-per-ae', () => {
  let server: LoaderServer | undefined;
  let held: HeldAssociation | undefined;

  afterAll(async () => {
    held?.socket.destroy();
    await server?.stop();
  });

  test('option limits one AE title', async () => {
    server = await startLoader(['--max-associations-per-ae', '1'], { aeTitle: AE_TITLE });
    held = await holdAssociation(server.port, AE_TITLE, BUSY_AE_TITLE);

    const rejected = await echo(server.port, AE_TITLE, BUSY_AE_TITLE);
    const other = await echo(server.port, AE_TITLE, 'OTHERNODE');

    expect(rejected.code).not.toBe(0);
    expect(rejected.stdout + rejected.stderr).toMatch(/Local Limit Exceeded/i);
    expect(other.code).toBe(0);
    expect(server.readLog()).toContain('Limit of 1 simultaneous associations per calling AE title (pacs.maxAssociationsPerAe)');
  }, 120_000);
});
