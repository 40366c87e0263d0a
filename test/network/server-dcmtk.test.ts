/**
 * DicomServer against DCMTK clients (echoscu, storescu, findscu) and raw sockets.
 */
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { pipeline } from 'stream/promises';

import { DicomServer, QueryRequestContext, StoreRequestContext, acceptSupportedContexts } from '../../src/dicom/network';
import { captureLogLines } from '../support/log-capture';
import { LOOPBACK, STORESCU_ALL_TS_PROFILE, corpusFile, corpusPath, listFiles, makeTempDir, runDcmtk, storeFiles } from '../support/peers';
import { CT_IMAGE_STORAGE, EXPLICIT_LE, IMPLICIT_LE, MR_IMAGE_STORAGE, acceptEverything, encodeDataset, readAll, readPart10, sleep, startServer } from './helpers';

const logLines = captureLogLines();

describe('DicomServer with DCMTK clients', () => {
  let server: DicomServer;
  let port: number;
  let storeDir: string;
  const stored: { sopInstanceUid: string; transferSyntax: string; file: string }[] = [];
  const findSignals: { aborted: boolean }[] = [];
  let findMatches = 3;
  let findDelayMs = 0;

  beforeAll(async () => {
    storeDir = makeTempDir('network-scp');
    ({ server, port } = await startServer(
      {
        echo: async () => ({ status: 0 }),
        store: async (ctx: StoreRequestContext) => {
          const file = path.join(storeDir, `${ctx.sopInstanceUid}.bin`);
          await pipeline(ctx.data, fs.createWriteStream(file));
          stored.push({ sopInstanceUid: ctx.sopInstanceUid, transferSyntax: ctx.presentationContext.transferSyntax, file });
          return { status: 0 };
        },
        find: (ctx: QueryRequestContext) => {
          const state = { aborted: false };
          findSignals.push(state);
          ctx.signal.addEventListener('abort', () => (state.aborted = true));
          const transferSyntax = ctx.presentationContext.transferSyntax;
          return (async function* () {
            for (let i = 1; i <= findMatches; i++) {
              if (findDelayMs > 0) await sleep(findDelayMs);
              yield encodeDataset(
                [
                  [0x00080052, 'CS', 'STUDY'],
                  [0x00100020, 'LO', `PID${i}`],
                  [0x0020000d, 'UI', `1.2.3.${i}`],
                ],
                transferSyntax,
              );
            }
          })();
        },
      },
      {
        decide: (request) => {
          if (request.callingAeTitle === 'STRANGER') {
            return { accept: false, result: 1, source: 1, reason: 3, logMessage: 'unknown calling AE' };
          }
          return acceptEverything(request);
        },
      },
    ));
  });

  afterAll(async () => {
    await server.close({ timeoutMs: 2000 });
  });

  const node = () => ({ aeTitle: 'LOADER', host: LOOPBACK, port });

  test('echoscu succeeds', async () => {
    const result = await runDcmtk('echoscu', ['-aet', 'ECHOSCU', '-aec', 'LOADER', LOOPBACK, String(port)]);
    expect(result.code).toBe(0);
    expect(logLines.some((line) => line.includes('Association accepted') && line.includes('callingAe=ECHOSCU'))).toBe(true);
  });

  test('storescu files arrive byte-identical', async () => {
    const files = [corpusFile('ct'), corpusFile('rle'), corpusFile('jpeg2000'), corpusFile('mr-implicit-le'), corpusFile('jpeg-ls-lossless')];
    const result = await storeFiles(node(), files.map((file) => file.absolutePath));
    expect(result.code).toBe(0);

    for (const file of files) {
      const source = readPart10(file.absolutePath);
      const received = stored.find((entry) => entry.sopInstanceUid === source.sopInstanceUid);
      expect(received).toBeDefined();
      if (source.transferSyntax === IMPLICIT_LE) {
        // The profile lists Explicit VR Little Endian first and the server takes the first, so storescu converts this one.
        expect(received!.transferSyntax).toBe(EXPLICIT_LE);
        continue;
      }
      expect(received!.transferSyntax).toBe(source.transferSyntax);
      expect(fs.readFileSync(received!.file).equals(source.dataset)).toBe(true);
    }
  });

  test('large file streams through', async () => {
    const file = corpusPath('samples/mr/mr-explicit-le-1mb.dcm').absolutePath;
    const result = await storeFiles(node(), [file]);
    expect(result.code).toBe(0);
    const source = readPart10(file);
    const received = stored.find((entry) => entry.sopInstanceUid === source.sopInstanceUid);
    expect(fs.readFileSync(received!.file).equals(source.dataset)).toBe(true);
  });

  test('unknown calling AE is rejected', async () => {
    const echo = await runDcmtk('echoscu', ['-aet', 'STRANGER', '-aec', 'LOADER', LOOPBACK, String(port)]);
    expect(echo.code).not.toBe(0);
    expect(echo.stdout + echo.stderr).toMatch(/Calling AE Title Not Recognized/i);

    const store = await runDcmtk('storescu', ['-aet', 'STRANGER', '-aec', 'LOADER', LOOPBACK, String(port), corpusFile('ct').absolutePath]);
    expect(store.code).not.toBe(0);
    expect(store.stdout + store.stderr).toMatch(/Association Rejected/i);
  });

  test('findscu receives pending matches', async () => {
    findMatches = 3;
    findDelayMs = 0;
    const outputDir = makeTempDir('findscu');
    const result = await runDcmtk('findscu', ['-S', '-X', '-od', outputDir, '-aet', 'FINDSCU', '-aec', 'LOADER', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'PatientID', '-k', 'StudyInstanceUID', LOOPBACK, String(port)]);
    expect(result.code).toBe(0);
    const responses = listFiles(outputDir);
    expect(responses).toHaveLength(3);
    const dump = await runDcmtk('dcmdump', [responses[2]]);
    expect(dump.stdout).toContain('PID3');
  });

  test('findscu cancel stops a slow handler', async () => {
    findMatches = 50;
    findDelayMs = 100;
    const outputDir = makeTempDir('findscu-cancel');
    const started = Date.now();
    const result = await runDcmtk('findscu', ['-v', '-S', '-X', '-od', outputDir, '--cancel', '2', '-aec', 'LOADER', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'PatientID', LOOPBACK, String(port)]);
    expect(result.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(4000);
    expect(result.stdout + result.stderr).toMatch(/Final Find Response \(Cancel/);
    expect(listFiles(outputDir).length).toBeLessThan(5);
    expect(findSignals[findSignals.length - 1].aborted).toBe(true);
  });

  test('garbage PDU gets an abort', async () => {
    const reply = await sendRaw(port, Buffer.from([0x09, 0x00, 0x00, 0x00, 0x00, 0x04, 1, 2, 3, 4]));
    expect(reply[0]).toBe(0x07);
    expect(reply.subarray(0, 10)).toEqual(Buffer.from([0x07, 0, 0, 0, 0, 4, 0, 0, 2, 1]));

    const echo = await runDcmtk('echoscu', ['-aec', 'LOADER', LOOPBACK, String(port)]);
    expect(echo.code).toBe(0);
  });

  test('malformed associate request gets an abort', async () => {
    // A-ASSOCIATE-RQ whose only item claims more bytes than the PDU holds.
    const body = Buffer.alloc(68 + 4);
    body.writeUInt16BE(1, 0);
    body.write('LOADER'.padEnd(16), 4, 'latin1');
    body.write('HOSTILE'.padEnd(16), 20, 'latin1');
    body.writeUInt8(0x10, 68);
    body.writeUInt16BE(500, 70);
    const header = Buffer.from([0x01, 0, 0, 0, 0, 0]);
    header.writeUInt32BE(body.length, 2);
    const reply = await sendRaw(port, Buffer.concat([header, body]));
    expect(reply[0]).toBe(0x07);
    expect(logLines.some((line) => line.includes('Truncated'))).toBe(true);
  });

  test('oversized associate request gets an abort', async () => {
    const header = Buffer.from([0x01, 0, 0, 0, 0, 0]);
    header.writeUInt32BE(10 * 1024 * 1024, 2);
    const reply = await sendRaw(port, header);
    expect(reply[0]).toBe(0x07);
  });

  test('truncated PDU then close leaves server up', async () => {
    await new Promise<void>((resolve) => {
      const socket = net.connect(port, LOOPBACK, () => {
        socket.end(Buffer.from([0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01]));
      });
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
      socket.resume();
    });
    const echo = await runDcmtk('echoscu', ['-aec', 'LOADER', LOOPBACK, String(port)]);
    expect(echo.code).toBe(0);
  });
});

describe('DicomServer context policy with storescu', () => {
  let server: DicomServer;
  let port: number;
  const received: string[] = [];
  const ct = corpusFile('ct');
  const mrFiles = [corpusFile('mr'), corpusFile('mr-implicit-le')];
  const failingUid = readPart10(mrFiles[0].absolutePath).sopInstanceUid;

  beforeAll(async () => {
    const supported = new Map([
      [MR_IMAGE_STORAGE, [EXPLICIT_LE, IMPLICIT_LE]],
      [CT_IMAGE_STORAGE, [EXPLICIT_LE]],
    ]);
    ({ server, port } = await startServer(
      {
        store: async (ctx) => {
          await readAll(ctx.data);
          // The first MR instance fails, to show that later instances on the association are still served.
          if (ctx.sopInstanceUid === failingUid) {
            throw new Error('simulated disk failure');
          }
          received.push(ctx.sopInstanceUid);
          return { status: 0 };
        },
      },
      { decide: (request) => acceptSupportedContexts(request, supported) },
    ));
  });

  afterAll(async () => {
    await server.close({ timeoutMs: 2000 });
  });

  test('failed store does not stop later ones', async () => {
    const files = [mrFiles[0], ct, mrFiles[1]].map((file) => file.absolutePath);
    const result = await runDcmtk('storescu', ['-v', '--no-halt', '-xf', STORESCU_ALL_TS_PROFILE, 'AllTS', '-aec', 'LOADER', LOOPBACK, String(port), ...files]);
    const output = result.stdout + result.stderr;
    expect(output).toMatch(/Received Store Response \(Error: CannotUnderstand\)/);
    expect(received).toContain(readPart10(ct.absolutePath).sopInstanceUid);
    expect(received).toContain(readPart10(mrFiles[1].absolutePath).sopInstanceUid);
    expect(received).toHaveLength(2);
    const failureLog = logLines.find((line) => line.includes('simulated disk failure'));
    expect(failureLog).toContain('callingAe=STORESCU');
    expect(failureLog).toContain(`sopInstanceUid=${failingUid}`);
  });

  test('unsupported transfer syntax is not accepted', async () => {
    const jpeg2000 = corpusFile('jpeg2000');
    const result = await runDcmtk('storescu', ['-v', '-xf', STORESCU_ALL_TS_PROFILE, 'AllTS', '-aec', 'LOADER', LOOPBACK, String(port), jpeg2000.absolutePath]);
    const output = result.stdout + result.stderr;
    // The JPEG 2000 contexts were rejected, so storescu tries the accepted Explicit VR Little Endian one and cannot convert.
    expect(output).toMatch(/Association Accepted/);
    expect(output).toMatch(/unable to convert dataset from 'JPEG 2000/);
    expect(received).not.toContain(jpeg2000.sopInstanceUid);
  });
});

/** Sends bytes on a fresh connection and returns everything received until the server closes it. */
function sendRaw(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, LOOPBACK, () => socket.write(bytes));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    socket.on('error', reject);
    setTimeout(() => {
      socket.destroy();
      reject(new Error('server did not close the connection within 5 s'));
    }, 5000).unref();
  });
}
