/**
 * Sending from pooled read buffers. The data set of a file several pool
 * buffers long arrives at DCMTK storescp byte for byte. Every buffer goes
 * back to the pool after the socket wrote it, so a few buffers serve the
 * whole file. A file that shrinks while it is being sent fails that send
 * with the reason.
 */
import * as fs from 'fs';
import * as path from 'path';

import { ClientAssociation, connect } from '../../src/dicom/network';
import { POOL_CHUNK_BYTES, PooledFileSource, ReadBufferPool } from '../../src/services/transfers/pooled-file-source';
import { LOOPBACK, StorescpHandle, corpusFile, makeTempDir, startStorescp } from '../support/peers';
import { IMPLEMENTATION, IMPLICIT_LE, readPart10 } from './helpers';

/** Counts the buffers handed back to the pool and the new buffers it allocated. */
class CountingPool extends ReadBufferPool {
  given = 0;
  allocated = 0;

  override take(): Buffer {
    if (!this.hasFree) this.allocated++;
    return super.take();
  }

  override give(chunk: Buffer): void {
    this.given++;
    super.give(chunk);
  }
}

/** Little endian element header in implicit VR, or in explicit VR when `vr` is given (LO and OB only). */
function elementHeader(group: number, element: number, length: number, vr?: 'LO' | 'OB'): Buffer {
  const tag = Buffer.alloc(4);
  tag.writeUInt16LE(group, 0);
  tag.writeUInt16LE(element, 2);
  if (vr === undefined) return Buffer.concat([tag, uint32(length)]);
  if (vr === 'LO') {
    const shortLength = Buffer.alloc(2);
    shortLength.writeUInt16LE(length, 0);
    return Buffer.concat([tag, Buffer.from(vr, 'latin1'), shortLength]);
  }
  return Buffer.concat([tag, Buffer.from(vr, 'latin1'), Buffer.alloc(2), uint32(length)]);
}

function uint32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(value, 0);
  return bytes;
}

/**
 * Writes a copy of the corpus CT (little endian) whose data set
 * ends with a private OB element of `extraBytes`, and returns its path and
 * data set offset.
 */
function largeCtCopy(dir: string, extraBytes: number): { file: string; datasetOffset: number; sopClassUid: string; sopInstanceUid: string; transferSyntax: string } {
  const source = corpusFile('ct').absolutePath;
  const part10 = readPart10(source);
  const bytes = fs.readFileSync(source);
  const datasetOffset = bytes.length - part10.dataset.length;
  const creator = Buffer.from('SCIBERIA_TEST_', 'latin1');
  const payload = Buffer.alloc(extraBytes);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + 7) & 0xff;
  const explicit = part10.transferSyntax !== IMPLICIT_LE;
  const file = path.join(dir, 'large-ct.dcm');
  const creatorHeader = elementHeader(0x7fe1, 0x0010, creator.length, explicit ? 'LO' : undefined);
  const payloadHeader = elementHeader(0x7fe1, 0x1001, payload.length, explicit ? 'OB' : undefined);
  fs.writeFileSync(file, Buffer.concat([bytes, creatorHeader, creator, payloadHeader, payload]));
  return { file, datasetOffset, sopClassUid: part10.sopClassUid, sopInstanceUid: part10.sopInstanceUid, transferSyntax: part10.transferSyntax };
}

describe('send from pooled read buffers', () => {
  let storescp: StorescpHandle;
  let dir: string;

  beforeAll(async () => {
    storescp = await startStorescp({ aeTitle: 'POOLSCP', acceptAll: true });
    dir = makeTempDir('pooled-send');
  });

  afterAll(async () => {
    await storescp.stop();
  });

  async function open(sopClassUid: string, transferSyntax: string): Promise<ClientAssociation> {
    return connect({
      host: LOOPBACK,
      port: storescp.port,
      callingAeTitle: 'LOADERSCU',
      calledAeTitle: 'POOLSCP',
      contexts: [{ abstractSyntax: sopClassUid, transferSyntaxes: [transferSyntax] }],
      ...IMPLEMENTATION,
    });
  }

  test('large data set arrives and buffers return', async () => {
    const copy = largeCtCopy(dir, Math.round(12.5 * POOL_CHUNK_BYTES));
    const length = fs.statSync(copy.file).size - copy.datasetOffset;
    const pool = new CountingPool();
    const association = await open(copy.sopClassUid, copy.transferSyntax);
    const context = association.findContext(copy.sopClassUid, copy.transferSyntax)!;

    const { source: data, header } = await PooledFileSource.open(copy.file, pool);
    expect(header.datasetOffset).toBe(copy.datasetOffset);
    const result = await association.store({ contextId: context.id, sopClassUid: copy.sopClassUid, sopInstanceUid: copy.sopInstanceUid, data });
    await association.release();

    expect(result.status).toBe(0);
    // The first read starts at the file's first byte, and every read fills one buffer.
    const chunks = Math.ceil((copy.datasetOffset + length) / POOL_CHUNK_BYTES);
    expect(pool.given).toBe(chunks);
    // Buffers return while the file is sent, so a few serve all 14 reads.
    expect(pool.allocated).toBeLessThanOrEqual(4);
    const received = storescp.receivedFiles().find((file) => file.includes(copy.sopInstanceUid));
    expect(received).toBeDefined();
    expect(readPart10(received!).dataset.equals(fs.readFileSync(copy.file).subarray(copy.datasetOffset))).toBe(true);
  });

  test('file shrinking mid-send fails with reason', async () => {
    const copy = largeCtCopy(dir, 3 * POOL_CHUNK_BYTES);
    const association = await open(copy.sopClassUid, copy.transferSyntax);
    const context = association.findContext(copy.sopClassUid, copy.transferSyntax)!;

    const { source: data } = await PooledFileSource.open(copy.file, new ReadBufferPool());
    fs.truncateSync(copy.file, 2 * POOL_CHUNK_BYTES + 100);
    const store = association.store({ contextId: context.id, sopClassUid: copy.sopClassUid, sopInstanceUid: '1.2.826.0.1.3680043.10.1234.99', data });

    await expect(store).rejects.toThrow(/was truncated while being sent/);
    expect(association.isOpen).toBe(false);
  });
});
