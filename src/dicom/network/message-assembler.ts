/**
 * Assembly of DIMSE messages from PDV fragments (PS3.7 annex E, PS3.8 annex E).
 *
 * A message is a command set, sent as one or more command fragments, optionally
 * followed by a data set in data fragments, all on one presentation context.
 * Command fragments are collected, because command sets are small. Data set
 * fragments are pushed into a Readable as they arrive, and when its buffer is full
 * the owner is asked to pause the socket. Fragments may share the socket's read
 * buffer; socket-read-buffer.ts describes when they may stay referenced.
 */

import { Readable } from 'node:stream';

import { CommandDecodeError, DecodedCommand, decodeCommand } from './dimse';
import { ABORT_REASON, PduError } from './pdu';
import type { PdvHeader } from './pdu-reader';
import { sharesChunks } from './socket-read-buffer';

export interface IncomingMessage {
  contextId: number;
  command: DecodedCommand;
  /** The data set bytes as received, present when the command announces a data set. */
  data?: Readable;
  /** Settles when the message's last fragment has arrived; rejects if the association ends first. */
  received: Promise<void>;
}

export interface MessageAssemblerEvents {
  /** A command set is complete; its data set, if any, follows on `message.data`. */
  deliver(message: IncomingMessage): void;
  /** The last fragment of the current message has arrived. */
  messageEnd(): void;
  /** The fragments break PS3.7 or PS3.8 rules; the association must abort. */
  protocolError(error: PduError | CommandDecodeError): void;
  /** The data set stream is full: stop reading the socket. */
  pause(): void;
  /** The data set stream wants more, or was dropped: read the socket again. */
  resume(): void;
  /** A data set chunk stays referenced after onPdvData returns (see socket-read-buffer.ts). */
  keepChunk(): void;
}

/** Largest command set accepted; real command sets are under 1 KiB. */
const MAX_COMMAND_LENGTH = 64 * 1024;

/** Buffer of each incoming data set stream; when full, the socket is paused. */
const DATA_STREAM_HIGH_WATER_MARK = 256 * 1024;

interface Assembly {
  contextId: number;
  phase: 'command' | 'data';
  commandChunks: Buffer[];
  commandLength: number;
  data?: Readable;
  /** Set when the consumer destroyed the data stream early; the remaining fragments are dropped. */
  discard: boolean;
  received?: { promise: Promise<void>; resolve(): void; reject(error: Error): void };
}

export class MessageAssembler {
  private current?: Assembly;
  private currentPdv?: PdvHeader;

  constructor(
    private readonly isAccepted: (contextId: number) => boolean,
    private readonly events: MessageAssemblerEvents,
  ) {}

  /** True while a message is partly received. */
  get busy(): boolean {
    return this.current !== undefined;
  }

  onPdvStart(header: PdvHeader): void {
    if (!this.isAccepted(header.contextId)) {
      return this.events.protocolError(new PduError(`PDV on presentation context ${header.contextId}, which was not accepted`));
    }
    const current = this.current;
    if (header.isCommand) {
      if (current && current.phase === 'data') {
        return this.events.protocolError(
          new PduError(`Command fragment on context ${header.contextId} before the data set of the previous message ended`, ABORT_REASON.UNEXPECTED_PDU_PARAMETER),
        );
      }
      if (!current) {
        this.current = { contextId: header.contextId, phase: 'command', commandChunks: [], commandLength: 0, discard: false };
      }
    } else if (!current || current.phase !== 'data') {
      return this.events.protocolError(new PduError(`Data set fragment on context ${header.contextId} without a preceding command`, ABORT_REASON.UNEXPECTED_PDU_PARAMETER));
    }

    const assembly = this.current!;
    if (assembly.contextId !== header.contextId) {
      return this.events.protocolError(
        new PduError(`Fragment on context ${header.contextId} inside a message on context ${assembly.contextId}`, ABORT_REASON.UNEXPECTED_PDU_PARAMETER),
      );
    }
    if (header.isCommand && assembly.commandLength + header.length > MAX_COMMAND_LENGTH) {
      return this.events.protocolError(new PduError(`Command set longer than ${MAX_COMMAND_LENGTH} bytes`));
    }
    this.currentPdv = header;
  }

  onPdvData(chunk: Buffer): void {
    const assembly = this.current;
    if (!assembly || !this.currentPdv) return;
    if (this.currentPdv.isCommand) {
      // Copied, because a command set may span socket reads into one shared buffer.
      assembly.commandChunks.push(Buffer.from(chunk));
      assembly.commandLength += chunk.length;
      return;
    }
    if (assembly.discard || !assembly.data) return;

    const data = assembly.data;
    const wantsMore = data.push(chunk);
    // A chunk left in the stream's buffer, or passed to a listener that may keep it, must not be overwritten.
    if (data.readableLength > 0 || !sharesChunks(data)) this.events.keepChunk();
    if (!wantsMore) this.events.pause();
  }

  onPdvEnd(header: PdvHeader): void {
    const assembly = this.current;
    this.currentPdv = undefined;
    if (!assembly || !header.isLast) return;
    if (header.isCommand) {
      this.completeCommand(assembly);
      return;
    }

    this.current = undefined;
    if (assembly.data && !assembly.discard) assembly.data.push(null);
    assembly.received?.resolve();
    this.events.messageEnd();
  }

  /** Ends the current message with `error`, because the association ended before its last fragment. */
  fail(error: Error): void {
    const assembly = this.current;
    this.current = undefined;
    if (!assembly) return;
    if (assembly.data && !assembly.data.destroyed) assembly.data.destroy(error);
    assembly.received?.reject(error);
  }

  private completeCommand(assembly: Assembly): void {
    let command: DecodedCommand;
    try {
      command = decodeCommand(Buffer.concat(assembly.commandChunks, assembly.commandLength));
    } catch (error) {
      this.current = undefined;
      this.events.protocolError(error as CommandDecodeError);
      return;
    }
    assembly.commandChunks = [];

    if (!command.fields.hasDataset) {
      this.current = undefined;
      this.events.deliver({ contextId: assembly.contextId, command, received: Promise.resolve() });
      this.events.messageEnd();
      return;
    }

    assembly.phase = 'data';
    assembly.data = this.createDataStream(assembly);
    let resolve!: () => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<void>((onResolve, onReject) => {
      resolve = onResolve;
      reject = onReject;
    });
    // Callers may never wait for it; a rejection must not count as unhandled.
    promise.catch(() => undefined);
    assembly.received = { promise, resolve, reject };
    this.events.deliver({ contextId: assembly.contextId, command, data: assembly.data, received: promise });
  }

  private createDataStream(assembly: Assembly): Readable {
    const stream = new Readable({
      highWaterMark: DATA_STREAM_HIGH_WATER_MARK,
      read: () => this.events.resume(),
    });
    // A new Readable queues its first pushed chunk even for a flowing 'data' listener, until its first read() call.
    // So the first data fragment of every C-STORE stayed referenced, and each message took a new socket read buffer.
    stream.read(0);
    stream.on('close', () => {
      // A consumer that destroys the stream early must not stall the association, so the rest is dropped.
      if (this.current === assembly) {
        assembly.discard = true;
        this.events.resume();
      }
    });
    return stream;
  }
}
