/**
 * Helpers for the network layer tests: splitting a Part 10 file into its File Meta
 * Information and data set, building small identifiers, and permissive servers.
 */
import * as fs from 'fs';
import * as net from 'net';

import { AssociateRequest, AssociationDecision, ClientAssociation, DicomServer, DicomServerOptions, DimseHandlers } from '../../src/dicom/network';
import { LOOPBACK } from '../support/peers';

export const IMPLICIT_LE = '1.2.840.10008.1.2';
export const EXPLICIT_LE = '1.2.840.10008.1.2.1';
export const EXPLICIT_BE = '1.2.840.10008.1.2.2';
export const VERIFICATION = '1.2.840.10008.1.1';
export const STUDY_ROOT_FIND = '1.2.840.10008.5.1.4.1.2.2.1';
export const STUDY_ROOT_MOVE = '1.2.840.10008.5.1.4.1.2.2.2';
export const STUDY_ROOT_GET = '1.2.840.10008.5.1.4.1.2.2.3';
export const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
export const MR_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.4';

export const IMPLEMENTATION = { implementationClassUid: '1.2.826.0.1.3680043.10.1234.1', implementationVersionName: 'SCIBERIA_TEST' };

export interface Part10File {
  transferSyntax: string;
  sopClassUid: string;
  sopInstanceUid: string;
  /** The bytes after the File Meta Information group. */
  dataset: Buffer;
}

/** Splits a Part 10 file: 128-byte preamble, "DICM", group 0002 (Explicit VR Little Endian), data set. */
export function readPart10(file: string): Part10File {
  const bytes = fs.readFileSync(file);
  if (bytes.toString('latin1', 128, 132) !== 'DICM') throw new Error(`${file} has no DICM prefix`);
  let offset = 132;
  const meta = new Map<number, string>();
  while (offset + 8 <= bytes.length && bytes.readUInt16LE(offset) === 0x0002) {
    const element = bytes.readUInt16LE(offset + 2);
    const vr = bytes.toString('latin1', offset + 4, offset + 6);
    let length: number;
    let header: number;
    if (['OB', 'OW', 'UN', 'SQ', 'UT', 'UC', 'UR'].includes(vr)) {
      length = bytes.readUInt32LE(offset + 8);
      header = 12;
    } else {
      length = bytes.readUInt16LE(offset + 6);
      header = 8;
    }
    meta.set(element, bytes.toString('latin1', offset + header, offset + header + length).replace(/[\0 ]+$/, ''));
    offset += header + length;
  }
  return { transferSyntax: meta.get(0x0010)!, sopClassUid: meta.get(0x0002)!, sopInstanceUid: meta.get(0x0003)!, dataset: bytes.subarray(offset) };
}

/** Encodes text elements (tag, VR, value) into a little endian data set; tags must be ascending. */
export function encodeDataset(elements: [number, string, string][], transferSyntax: string): Buffer {
  const parts: Buffer[] = [];
  for (const [tag, vr, text] of elements) {
    let value = Buffer.from(text, 'latin1');
    if (value.length % 2 === 1) value = Buffer.concat([value, Buffer.from([vr === 'UI' ? 0 : 0x20])]);
    const explicit = transferSyntax !== IMPLICIT_LE;
    const header = Buffer.alloc(8);
    header.writeUInt16LE(tag >>> 16, 0);
    header.writeUInt16LE(tag & 0xffff, 2);
    if (explicit) {
      header.write(vr, 4, 'latin1');
      header.writeUInt16LE(value.length, 6);
    } else {
      header.writeUInt32LE(value.length, 4);
    }
    parts.push(header, value);
  }
  return Buffer.concat(parts);
}

/** Accepts every proposed context with its first transfer syntax, and grants every proposed role. */
export function acceptEverything(request: AssociateRequest): AssociationDecision {
  return {
    accept: true,
    contexts: request.contexts.map((context) => ({ id: context.id, result: 0 as const, transferSyntax: context.transferSyntaxes[0] })),
    roleSelections: request.roleSelections,
  };
}

/** Starts a DicomServer on 127.0.0.1 and an ephemeral port. */
export async function startServer(handlers: DimseHandlers, overrides: Partial<DicomServerOptions> = {}): Promise<{ server: DicomServer; port: number }> {
  const server = new DicomServer({ aeTitle: 'LOADER', ...IMPLEMENTATION, decide: acceptEverything, handlers, ...overrides });
  const { port } = await server.listen(0, LOOPBACK);
  return { server, port };
}

/** Reads a Readable to the end. */
export async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits up to 4 s for a line of `lines` (captured log lines) that contains `text`, and returns it. */
export async function waitForLogLine(lines: string[], text: string): Promise<string> {
  for (let tries = 0; tries < 200; tries++) {
    const line = lines.find((candidate) => candidate.includes(text));
    if (line !== undefined) return line;
    await sleep(20);
  }
  throw new Error(`no log line contains ${JSON.stringify(text)}`);
}

/** Lists of the servers and clients a test opens; an afterEach aborts the clients and closes the servers. */
export function closeAfterEach(): { servers: DicomServer[]; clients: ClientAssociation[] } {
  const opened = { servers: [] as DicomServer[], clients: [] as ClientAssociation[] };
  afterEach(async () => {
    for (const client of opened.clients.splice(0)) client.abort();
    await Promise.all(opened.servers.splice(0).map((server) => server.close({ timeoutMs: 500 })));
  });
  return opened;
}

/** Writes `bytes` in pieces of `size` bytes with a pause after each, so that the receiver reads each piece alone. */
export async function trickle(socket: net.Socket, bytes: Buffer, size: number): Promise<void> {
  for (let offset = 0; offset < bytes.length; offset += size) {
    socket.write(bytes.subarray(offset, offset + size));
    await sleep(1);
  }
}

/** Collects whole PDUs from a raw socket. */
export class PduCollector {
  private bytes = Buffer.alloc(0);
  private waiter?: () => void;

  constructor(socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.bytes = Buffer.concat([this.bytes, chunk]);
      this.waiter?.();
    });
  }

  async next(): Promise<{ type: number; body: Buffer }> {
    while (this.bytes.length < 6 || this.bytes.length < 6 + this.bytes.readUInt32BE(2)) {
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
    const length = 6 + this.bytes.readUInt32BE(2);
    const pdu = { type: this.bytes[0], body: this.bytes.subarray(6, length) };
    this.bytes = this.bytes.subarray(length);
    return pdu;
  }
}
