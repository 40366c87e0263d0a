import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import * as fileReader from '../../src/dicom/file-reader';
import { buildFileMetaInformation } from '../../src/dicom/writer';
import { LocalArchive } from '../../src/services/archive';
import { readInstanceRecord } from '../../src/services/archive/instance-record';
import { FIRST_HEAD_BYTES, HEAD_BYTES, parseReceivedHeader, receiveFile, writeReceivedFile } from '../../src/services/archive/received-file';
import { setLogSink } from '../../src/services/logger';
import {
  CHR_RUSS,
  CHR_X1,
  CT_SMALL,
  MR_SMALL,
  PYDICOM_TEST_FILES,
  RT_PLAN,
  chunkedStream,
  datasetPartOf,
  freshCopy,
  makeTempDir,
  modifiedCopy,
  removeTempDir,
  type DatasetPart,
  TEST_IMPLEMENTATION,
  requestFor,
} from './fixtures';
import { incomingLeftovers } from '../support/incoming';

/**
 * Emits `bytes` in chunks of one reused buffer, as the message assembler does
 * with a socket's read buffer. A chunk left in the stream's own buffer gets a
 * new read buffer. Any other chunk is overwritten with garbage right after its
 * 'data' event.
 */
function sharedBufferStream(bytes: Buffer, chunkSize: number): { stream: Readable; start(): void } {
  const stream = new Readable({ read() {} });
  let shared = Buffer.alloc(chunkSize);
  const start = () => {
    for (let offset = 0; offset < bytes.length; offset += chunkSize) {
      const chunk = shared.subarray(0, bytes.copy(shared, 0, offset, offset + chunkSize));
      stream.push(chunk);
      if (stream.readableLength > 0) shared = Buffer.alloc(chunkSize);
      else shared.fill(0xee);
    }
    stream.push(null);
  };
  return { stream, start };
}

function metaFor(part: DatasetPart): Buffer {
  return buildFileMetaInformation({
    mediaStorageSopClassUid: part.sopClassUid,
    mediaStorageSopInstanceUid: part.sopInstanceUid,
    transferSyntaxUid: part.transferSyntaxUid,
    sourceApplicationEntityTitle: 'MODALITY1',
    ...TEST_IMPLEMENTATION,
  });
}

/** Adds a 100 000-character Text Value (0040,A160), so the header is longer than HEAD_BYTES. */
function longHeaderCopy(workDir: string): string {
  return freshCopy(CT_SMALL, path.join(workDir, 'long-header.dcm'), { '(0040,a160)': 'x'.repeat(100_000) });
}

describe('writeReceivedFile', () => {
  let workDir: string;

  beforeEach(() => {
    workDir = makeTempDir();
  });

  afterEach(() => {
    removeTempDir(workDir);
  });

  test.each([
    ['one-byte chunks', 1],
    ['4 KiB chunks', 4096],
    ['chunks over the batch size', 300 * 1024],
  ])('writes meta and bytes with %s', async (_case, chunkSize) => {
    const bytes = Buffer.alloc(700 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) % 251;
    const meta = Buffer.from('meta information');
    const file = path.join(workDir, 'out.part');

    const written = await writeReceivedFile(file, meta, chunkedStream(bytes, chunkSize), { fsync: false });

    const stored = fs.readFileSync(file);
    expect(stored.equals(Buffer.concat([meta, bytes]))).toBe(true);
    expect(written.size).toBe(stored.length);
    expect(written.head.equals(stored.subarray(0, meta.length + HEAD_BYTES))).toBe(true);
  });

  test('keeps all of a short file in head', async () => {
    const file = path.join(workDir, 'short.part');

    const written = await writeReceivedFile(file, Buffer.from('M'), chunkedStream(Buffer.from('data')), { fsync: true });

    expect(written.head.toString()).toBe('Mdata');
    expect(written.size).toBe(5);
    expect(fs.readFileSync(file).toString()).toBe('Mdata');
  });

  test('rejects an existing file', async () => {
    const file = path.join(workDir, 'exists.part');
    fs.writeFileSync(file, 'old');

    await expect(writeReceivedFile(file, Buffer.from('M'), chunkedStream(Buffer.from('new')), { fsync: false })).rejects.toMatchObject({
      code: 'EEXIST',
    });
    expect(fs.readFileSync(file).toString()).toBe('old');
  });

  test.each([
    ['synchronous writes', false],
    ['writes through the thread pool after a slow write', true],
  ])('stores shared read buffer chunks intact with %s', async (_case, slowFirstWrite) => {
    const bytes = Buffer.alloc(900 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 13) % 253;
    const file = path.join(workDir, 'shared.part');
    if (slowFirstWrite) {
      // The first synchronous write seems to take 100 ms, and the clock then stops, so every later write is asynchronous.
      let calls = 0;
      jest.spyOn(performance, 'now').mockImplementation(() => (calls++ === 0 ? 0 : 100));
    }

    try {
      const data = sharedBufferStream(bytes, 8 * 1024);
      const written = writeReceivedFile(file, Buffer.from('M'), data.stream, { fsync: false });
      // The stream flows from the next turn on, and only a flowing stream hands its chunks on at once.
      await new Promise((resolve) => setImmediate(resolve));
      data.start();
      await written;
    } finally {
      jest.restoreAllMocks();
    }

    expect(fs.readFileSync(file).equals(Buffer.concat([Buffer.from('M'), bytes]))).toBe(true);
  });

  test('stream error rejects after writes settle', async () => {
    const file = path.join(workDir, 'broken.part');
    const data = new Readable({ read() {} });
    data.push(Buffer.alloc(600 * 1024));
    setTimeout(() => data.destroy(new Error('association aborted')), 10);

    await expect(writeReceivedFile(file, Buffer.from('M'), data, { fsync: false })).rejects.toThrow('association aborted');
  });
});

describe('parseReceivedHeader', () => {
  let workDir: string;

  beforeEach(() => {
    workDir = makeTempDir();
  });

  afterEach(() => {
    removeTempDir(workDir);
  });

  test.each([
    ['CT_small', CT_SMALL],
    ['MR_small', MR_SMALL],
    ['rtplan', RT_PLAN],
    ['chrRuss', CHR_RUSS],
    ['chrX1', CHR_X1],
  ])('matches the file reader for %s', (_name, source) => {
    const part = datasetPartOf(source);
    const meta = metaFor(part);
    const file = path.join(workDir, 'received.dcm');
    const bytes = Buffer.concat([meta, part.bytes]);
    fs.writeFileSync(file, bytes);

    const fromMemory = parseReceivedHeader(file, bytes.subarray(0, meta.length + HEAD_BYTES), meta.length, bytes.length, part.transferSyntaxUid);
    const fromFile = fileReader.readDicomFileHeaderSync(file);

    expect(fromMemory).toBeDefined();
    expect(fromMemory!.datasetOffset).toBe(fromFile.datasetOffset);
    expect(fromMemory!.transferSyntaxUid).toBe(fromFile.transferSyntaxUid);
    expect(fromMemory!.hasPixelData).toBe(fromFile.hasPixelData);
    expect(fromMemory!.pixelDataOffset).toBe(fromFile.pixelDataOffset);
    expect(readInstanceRecord(fromMemory!, 'latin1')).toEqual(readInstanceRecord(fromFile, 'latin1'));
    expect([...fromMemory!.dataset.elements.keys()]).toEqual([...fromFile.dataset.elements.keys()]);
  });

  test('returns undefined for a header past head', () => {
    const part = datasetPartOf(longHeaderCopy(workDir));
    const meta = metaFor(part);
    const bytes = Buffer.concat([meta, part.bytes]);

    const header = parseReceivedHeader('x', bytes.subarray(0, meta.length + HEAD_BYTES), meta.length, bytes.length, part.transferSyntaxUid);

    expect(header).toBeUndefined();
  });

  test('returns undefined for a deflated transfer syntax', () => {
    const part = datasetPartOf(CT_SMALL);
    const meta = metaFor(part);
    const bytes = Buffer.concat([meta, part.bytes]);

    expect(parseReceivedHeader('x', bytes, meta.length, bytes.length, '1.2.840.10008.1.2.1.99')).toBeUndefined();
  });

  test('returns undefined when the VR encoding disagrees', () => {
    const part = datasetPartOf(CT_SMALL);
    const meta = metaFor(part);
    const bytes = Buffer.concat([meta, part.bytes]);
    const otherSyntax = part.transferSyntaxUid === '1.2.840.10008.1.2' ? '1.2.840.10008.1.2.1' : '1.2.840.10008.1.2';

    expect(parseReceivedHeader('x', bytes, meta.length, bytes.length, otherSyntax)).toBeUndefined();
  });
});

describe('receiveFile', () => {
  /** An uncompressed RGB image of 197 KB: its pixel data ends past HEAD_BYTES. */
  const largeImage = path.join(PYDICOM_TEST_FILES, 'SC_rgb_jpeg_dcmd.dcm');
  let workDir: string;

  beforeEach(() => {
    workDir = makeTempDir();
  });

  afterEach(() => {
    removeTempDir(workDir);
  });

  /** Returns a stream that sends `first`, then waits for `release` before it sends `rest`. */
  function heldStream(first: Buffer, rest: Buffer, release: Promise<void>): Readable {
    return Readable.from(
      (async function* () {
        yield first;
        await release;
        yield rest;
      })(),
      { objectMode: false },
    );
  }

  /** Receives the data set of `part` in two pieces, the second 50 ms after the first, and records whether `interpret` ran before it. */
  async function receiveInTwoPieces(part: DatasetPart, meta: Buffer, splitAt: number, file: string) {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const interpretedBeforeEnd: boolean[] = [];
    let ended = false;
    const data = heldStream(part.bytes.subarray(0, splitAt), part.bytes.subarray(splitAt), released);
    setTimeout(() => {
      ended = true;
      release();
    }, 50);

    const received = await receiveFile(file, meta, data, {
      fsync: false,
      transferSyntaxUid: part.transferSyntaxUid,
      interpret: (header) => {
        interpretedBeforeEnd.push(!ended);
        return readInstanceRecord(header, 'latin1');
      },
    });
    return { received, interpretedBeforeEnd };
  }

  test('parses before the data set ends', async () => {
    const part = datasetPartOf(largeImage);
    const meta = metaFor(part);

    const { received, interpretedBeforeEnd } = await receiveInTwoPieces(part, meta, HEAD_BYTES + 10, path.join(workDir, 'a.part'));

    expect(part.bytes.length).toBeGreaterThan(HEAD_BYTES + 10);
    expect(interpretedBeforeEnd).toEqual([true]);
    expect(received.header!.fileSize).toBe(meta.length + part.bytes.length);
    expect(received.interpreted!.instance.sopInstanceUid).toBe(part.sopInstanceUid);
  });

  test.each([
    ['HEAD_BYTES', HEAD_BYTES],
    ['FIRST_HEAD_BYTES', FIRST_HEAD_BYTES],
  ])('data set of exactly %s', async (_name, length) => {
    const part = datasetPartOf(largeImage);
    const meta = metaFor(part);
    const bytes = part.bytes.subarray(0, length);
    const file = path.join(workDir, 'b.part');

    const received = await receiveFile(file, meta, chunkedStream(bytes), {
      fsync: false,
      transferSyntaxUid: part.transferSyntaxUid,
      interpret: (header) => readInstanceRecord(header, 'latin1'),
    }).catch((error: unknown) => error);
    const whole = Buffer.concat([meta, bytes]);
    const expected = (() => {
      try {
        return parseReceivedHeader(file, whole, meta.length, whole.length, part.transferSyntaxUid);
      } catch (error) {
        return error;
      }
    })();

    expect(bytes.length).toBe(length);
    if (expected instanceof Error) expect((received as Error).message).toBe(expected.message);
    else expect((received as { header: unknown }).header).toEqual(expected);
  });

  test('header parsed at FIRST_HEAD_BYTES', async () => {
    const part = datasetPartOf(largeImage);
    const meta = metaFor(part);
    const file = path.join(workDir, 'first.part');

    const { received, interpretedBeforeEnd } = await receiveInTwoPieces(part, meta, FIRST_HEAD_BYTES + 10, file);

    expect(interpretedBeforeEnd).toEqual([true]);
    // The bytes after the header were not copied into the head.
    expect(received.head.length).toBe(meta.length + FIRST_HEAD_BYTES);
    expect(received.head.equals(fs.readFileSync(file).subarray(0, received.head.length))).toBe(true);
    expect(received.header!.pixelDataOffset).toBe(fileReader.readDicomFileHeaderSync(file).pixelDataOffset);
  });

  test.each([
    ['4 KiB chunks', 4096, true],
    ['one chunk', Number.MAX_SAFE_INTEGER, false],
  ])('header past FIRST_HEAD_BYTES with %s', async (_case, chunkSize, parsedBeforeEnd) => {
    // A 20 000-character Text Value puts the end of the header between FIRST_HEAD_BYTES and HEAD_BYTES.
    const source = freshCopy(largeImage, path.join(workDir, 'mid-header.dcm'), { '(0040,a160)': 'x'.repeat(20_000) });
    const part = datasetPartOf(source);
    const meta = metaFor(part);
    const file = path.join(workDir, `mid-${chunkSize}.part`);
    const interpretedAt: number[] = [];
    let sent = 0;
    const chunks = chunkedStream(part.bytes, Math.min(chunkSize, part.bytes.length));
    chunks.on('data', (chunk: Buffer) => (sent += chunk.length));

    const received = await receiveFile(file, meta, chunks, {
      fsync: false,
      transferSyntaxUid: part.transferSyntaxUid,
      interpret: (header) => {
        interpretedAt.push(sent);
        return readInstanceRecord(header, 'latin1');
      },
    });
    const fromFile = fileReader.readDicomFileHeaderSync(file);

    expect(fromFile.pixelDataOffset! - meta.length).toBeGreaterThan(FIRST_HEAD_BYTES);
    expect(fromFile.pixelDataOffset! - meta.length).toBeLessThan(HEAD_BYTES);
    expect(interpretedAt).toHaveLength(1);
    expect(interpretedAt[0] < part.bytes.length).toBe(parsedBeforeEnd);
    expect(received.head.length).toBe(meta.length + HEAD_BYTES);
    expect(received.head.equals(fs.readFileSync(file).subarray(0, received.head.length))).toBe(true);
    expect(received.header!.pixelDataOffset).toBe(fromFile.pixelDataOffset);
    expect(received.interpreted).toEqual(readInstanceRecord(fromFile, 'latin1'));
  });

  test('early error thrown after the write', async () => {
    const part = datasetPartOf(CT_SMALL);
    const meta = metaFor(part);
    const file = path.join(workDir, 'c.part');

    const outcome = receiveFile(file, meta, chunkedStream(part.bytes), {
      fsync: false,
      transferSyntaxUid: part.transferSyntaxUid,
      interpret: () => {
        throw new Error('missing Study Instance UID');
      },
    });

    await expect(outcome).rejects.toThrow('missing Study Instance UID');
    expect(fs.statSync(file).size).toBe(meta.length + part.bytes.length);
  });

  test('truncated pixel data rejected early', async () => {
    const part = datasetPartOf(largeImage);
    const meta = metaFor(part);
    const truncated = part.bytes.subarray(0, part.bytes.length - 1000);

    const outcome = receiveFile(path.join(workDir, 'd.part'), meta, chunkedStream(truncated), {
      fsync: false,
      transferSyntaxUid: part.transferSyntaxUid,
      interpret: (header) => readInstanceRecord(header, 'latin1'),
    });

    await expect(outcome).rejects.toThrow(/Pixel Data|exceeds|past the end|truncated/i);
  });
});

describe('LocalArchive.receive header and durability', () => {
  let workDir: string;
  let root: string;
  let previousSink: (line: string) => void;

  beforeEach(() => {
    workDir = makeTempDir();
    root = path.join(workDir, 'archive');
    previousSink = setLogSink(() => undefined);
  });

  afterEach(() => {
    jest.restoreAllMocks();
    setLogSink(previousSink);
    removeTempDir(workDir);
  });

  test('parses a short header in memory', async () => {
    const archive = LocalArchive.open(root, { durability: 'process-crash' });
    const readSpy = jest.spyOn(fileReader, 'readDicomFileHeader');
    const part = datasetPartOf(CT_SMALL);

    const outcome = await archive.receive(requestFor(part));
    archive.close();

    expect(outcome.outcome).toBe('stored');
    expect(readSpy).not.toHaveBeenCalled();
  });

  test('reads a long header from the file', async () => {
    const archive = LocalArchive.open(root, { durability: 'process-crash' });
    const readSpy = jest.spyOn(fileReader, 'readDicomFileHeader');
    const part = datasetPartOf(longHeaderCopy(workDir));

    const outcome = await archive.receive(requestFor(part));
    const indexed = archive.listInstances({ studyInstanceUid: part.studyInstanceUid });
    archive.close();

    expect(outcome.outcome).toBe('stored');
    expect(readSpy).toHaveBeenCalledTimes(1);
    expect(indexed.map((instance) => instance.sopInstanceUid)).toEqual([part.sopInstanceUid]);
    expect(fs.readFileSync(outcome.path).subarray(-part.bytes.length).equals(part.bytes)).toBe(true);
  });

  test.each([
    ['full', 2],
    ['process-crash', 1],
  ] as const)('%s sets SQLite synchronous', (durability, level) => {
    const archive = LocalArchive.open(root, { durability });

    expect(archive.durability).toBe(durability);
    expect(archive.catalog.db.pragma('synchronous', { simple: true })).toBe(level);
    archive.close();
  });

  test('default durability is full', () => {
    const archive = LocalArchive.open(root);

    expect(archive.durability).toBe('full');
    archive.close();
  });

  test.each(['full', 'process-crash'] as const)('%s keeps duplicate and conflict rules', async (durability) => {
    const archive = LocalArchive.open(root, { durability });
    const part = datasetPartOf(CT_SMALL);
    const changed = datasetPartOf(modifiedCopy(CT_SMALL, path.join(workDir, 'changed.dcm'), { '(0008,1030)': 'changed' }));

    const first = await archive.receive(requestFor(part));
    const second = await archive.receive(requestFor(part));
    const third = await archive.receive(requestFor(changed));
    const count = archive.catalog.db.prepare('SELECT COUNT(*) AS n FROM instances').get();
    archive.close();

    expect(first.outcome).toBe('stored');
    expect(second.outcome).toBe('duplicate');
    expect(third.outcome).toBe('conflict');
    expect(path.dirname(third.path)).toBe(path.join(root, '.conflicts'));
    expect(count).toEqual({ n: 1 });
    expect(incomingLeftovers(root)).toEqual([]);
  });

  test('recreates a series folder removed meanwhile', async () => {
    const archive = LocalArchive.open(root, { durability: 'process-crash' });
    const studyUid = '1.2.826.0.1.3680043.9.7433.3.7';
    const seriesUid = '1.2.826.0.1.3680043.9.7433.3.7.1';
    const uids = { '(0020,000d)': studyUid, '(0020,000e)': seriesUid };
    const first = datasetPartOf(freshCopy(CT_SMALL, path.join(workDir, 'a.dcm'), uids));
    const second = datasetPartOf(freshCopy(CT_SMALL, path.join(workDir, 'b.dcm'), uids));

    await archive.receive(requestFor(first));
    fs.rmSync(path.join(root, studyUid), { recursive: true });
    const outcome = await archive.receive(requestFor(second));
    archive.close();

    expect(outcome.outcome).toBe('stored');
    expect(fs.existsSync(path.join(root, studyUid, seriesUid, `${second.sopInstanceUid}.dcm`))).toBe(true);
  });

  test('concurrent stores of distinct UIDs are all indexed', async () => {
    const archive = LocalArchive.open(root, { durability: 'full' });
    const parts = [1, 2, 3, 4].map((n) => datasetPartOf(freshCopy(MR_SMALL, path.join(workDir, `${n}.dcm`))));

    const outcomes = await Promise.all(parts.map((part) => archive.receive(requestFor(part))));
    const indexed = parts.map((part) => archive.getInstancePath(part.sopInstanceUid));
    archive.close();

    expect(outcomes.map((outcome) => outcome.outcome)).toEqual(['stored', 'stored', 'stored', 'stored']);
    expect(indexed).toEqual(outcomes.map((outcome) => outcome.path));
  });
});
