/**
 * One DICOM association over one TCP connection, for either role (PS3.8 section 9.2).
 *
 * This module runs a simplified upper layer state machine that keeps its rules.
 * The ARTIM timer guards association establishment and release. Release collisions
 * are handled as in PS3.8 section 9.2.3 (states Sta9 to Sta12). Any PDU
 * that is unexpected in the current state gets an A-ABORT. Incoming messages are
 * assembled by message-assembler.ts, which pauses the socket while a data set
 * stream is full. Outgoing messages are cut into P-DATA-TF PDUs no larger than the
 * peer's maximum PDU length, and a source stream is read only as fast as the socket
 * drains.
 */

import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';

import type { Logger } from '../../services/logger';
import { CommandDecodeError, CommandFields, commandName, encodeCommand, formatCommandTag } from './dimse';
import { IncomingMessage, MessageAssembler } from './message-assembler';
import {
  ABORT_REASON,
  ABORT_SOURCE,
  AssociateAcPdu,
  AssociateRjPdu,
  AssociateRqPdu,
  ControlPdu,
  PDU_TYPE,
  PduError,
  describeAbort,
  describeRejection,
  encodeAbort,
  encodeAssociateAc,
  encodeAssociateRj,
  encodeAssociateRq,
  encodePDataHeader,
  encodeReleaseRp,
  encodeReleaseRq,
} from './pdu';
import { PduReader } from './pdu-reader';
import type { SocketReadBuffer } from './socket-read-buffer';
import { isRecyclingSource } from './dataset-source';
import type { DatasetSource, RecyclingChunkSource } from './dataset-source';

export interface AcceptedContext {
  id: number;
  abstractSyntax: string;
  transferSyntax: string;
}

export type AssociationRole = 'requestor' | 'acceptor';

export type AssociationState =
  | 'awaiting-request'
  | 'awaiting-local-decision'
  | 'awaiting-accept'
  | 'established'
  | 'releasing'
  | 'peer-releasing'
  | 'closed';

export type EndReason = 'released' | 'aborted' | 'peer-aborted' | 'rejected' | 'connection-closed' | 'timeout' | 'protocol-error';

export interface AssociationEnd {
  reason: EndReason;
  /** Describes why the association ended; pending operations are rejected with it. */
  error: Error;
}

export interface AssociationTimeouts {
  /** ARTIM timer of PS3.8: time limit on association establishment and release. */
  associationMs: number;
  /** Limit on waiting for the peer to take our data (socket drain); responses are timed in exchange.ts. */
  dimseMs: number;
  /** Time without traffic or running operations after which an established association is aborted; 0 disables it. */
  idleMs: number;
}

export const DEFAULT_TIMEOUTS: AssociationTimeouts = { associationMs: 30_000, dimseMs: 60_000, idleMs: 300_000 };

/** Upper bound on the PDU size we send even when the peer announces 0 (unlimited) or a larger value. */
export const MAX_SEND_PDU_LENGTH = 1024 * 1024;

/**
 * Bytes that may wait in the socket's write buffer before sending pauses until it drains. It bounds the
 * memory of one association's outgoing data. Waiting for 'drain' whenever write() returns false (past the
 * 16 KiB default high water mark) cost one event loop turn per PDU.
 */
const MAX_QUEUED_SEND_BYTES = 1024 * 1024;

/** A-ASSOCIATE-RJ received from the peer. The message spells out result, source and reason. */
export class AssociationRejectedError extends Error {
  constructor(
    readonly result: number,
    readonly source: number,
    readonly reason: number,
    peer: string,
  ) {
    super(`${describeRejection(result, source, reason)} (peer ${peer})`);
    this.name = 'AssociationRejectedError';
  }
}

/** The association ended (abort, release, lost connection, timeout) while an operation needed it. */
export class AssociationClosedError extends Error {
  constructor(
    message: string,
    readonly reason: EndReason,
  ) {
    super(message);
    this.name = 'AssociationClosedError';
  }
}

export interface AssociationOptions {
  role: AssociationRole;
  socket: Socket;
  /** Maximum P-DATA-TF PDU length we advertise and accept. */
  maxPduLength: number;
  timeouts: AssociationTimeouts;
  logger: Logger;
  /** Names the peer in error messages, for example "STORESCP at 127.0.0.1:11112". */
  peerDescription: string;
  /** The buffer that `socket` reads into through its `onread` option; without it, the socket's 'data' events are read. */
  readBuffer?: SocketReadBuffer;
}

export class Association extends EventEmitter {
  readonly role: AssociationRole;
  readonly socket: Socket;
  readonly maxPduLength: number;
  readonly timeouts: AssociationTimeouts;
  peerDescription: string;
  state: AssociationState;
  acceptedContexts = new Map<number, AcceptedContext>();
  peerMaxPduLength = 0;
  /** Time of the last bytes received from the peer (ms since epoch); the DIMSE timeout counts from here. */
  lastReceiveAt = Date.now();
  /** Bytes received from the peer on this connection, for log lines. */
  bytesReceived = 0;
  /** AE titles from the A-ASSOCIATE-RQ, set by the acceptor for log lines. */
  aeTitles?: { calling: string; called: string };
  /** Operations in progress (requests being served or awaiting responses); set by exchange.ts. */
  activeOperations = 0;
  endInfo?: AssociationEnd;

  private readonly logger: Logger;
  private readonly reader: PduReader;
  private readonly assembler: MessageAssembler;
  private readonly readBuffer?: SocketReadBuffer;
  private sendChain: Promise<void> = Promise.resolve();
  private pendingSends = 0;
  private artimTimer?: NodeJS.Timeout;
  private idleTimer?: NodeJS.Timeout;
  /** Date.now() of the last message sent or delivered, for the idle timeout. */
  private lastActivityAt = 0;
  /** Runs while a message or a PDU is partly received, to abort when the peer stops sending in the middle of it. */
  private stallTimer?: NodeJS.Timeout;
  /** Date.now() when reading resumed after back pressure. The stall timer does not count the time before it. */
  private resumedAt = 0;
  private pausedForBackPressure = false;
  /** Set once a warning about bytes after a command set was logged; see deliver(). */
  private trailingBytesLogged = false;
  private releaseCollision = false;
  private pendingAssociate?: { resolve(pdu: AssociateAcPdu): void; reject(error: Error): void };
  private pendingRelease?: { resolve(): void; reject(error: Error): void };
  private idleWaiters: (() => void)[] = [];

  constructor(options: AssociationOptions) {
    super();
    this.role = options.role;
    this.socket = options.socket;
    this.maxPduLength = options.maxPduLength;
    this.timeouts = options.timeouts;
    this.logger = options.logger;
    this.peerDescription = options.peerDescription;
    this.readBuffer = options.readBuffer;
    this.state = this.role === 'acceptor' ? 'awaiting-request' : 'awaiting-accept';

    this.assembler = new MessageAssembler((contextId) => this.acceptedContexts.has(contextId), {
      deliver: (message) => this.deliver(message),
      messageEnd: () => {
        this.resumeAfterBackPressure();
        this.checkIdle();
      },
      protocolError: (error) => {
        this.reader.stop();
        this.onProtocolError(error);
      },
      pause: () => this.pauseForBackPressure(),
      resume: () => this.resumeAfterBackPressure(),
      keepChunk: () => this.readBuffer?.keep(),
    });
    this.reader = new PduReader(
      {
        onControlPdu: (pdu) => this.onControlPdu(pdu),
        onPdvStart: (header) => {
          if (!this.isOpen) return this.unexpectedPdu(PDU_TYPE.P_DATA_TF);
          this.assembler.onPdvStart(header);
          if (this.assembler.busy && !this.stallTimer) this.armStallTimer(this.timeouts.dimseMs);
        },
        onPdvData: (chunk) => this.assembler.onPdvData(chunk),
        onPdvEnd: (header) => this.assembler.onPdvEnd(header),
        onError: (error) => this.onProtocolError(error),
      },
      this.maxPduLength,
    );

    this.socket.setNoDelay(true);
    const receive = (chunk: Buffer) => {
      this.lastReceiveAt = Date.now();
      this.bytesReceived += chunk.length;
      this.reader.push(chunk);
      // A PDU cut between messages, such as a header sent byte by byte, is timed as well as one inside a message.
      if (this.stallTimer === undefined && this.isOpen && !this.reader.atPduBoundary) this.armStallTimer(this.timeouts.dimseMs);
    };
    if (this.readBuffer) {
      this.readBuffer.setReceiver(receive);
      // Flowing mode lets the socket emit 'end'; its data goes to the read buffer's receiver.
      this.socket.resume();
    } else {
      this.socket.on('data', receive);
    }
    this.socket.on('end', () => {
      if (this.state !== 'closed') {
        const truncated = this.reader.atPduBoundary ? '' : ' in the middle of a PDU';
        this.finish('connection-closed', `Connection closed by ${this.peerDescription}${truncated} without release or abort`);
      }
    });
    this.socket.on('error', (error) => {
      if (this.state !== 'closed') this.finish('connection-closed', `Connection to ${this.peerDescription} failed: ${error.message}`);
    });
    this.socket.on('close', () => {
      if (this.state !== 'closed') this.finish('connection-closed', `Connection to ${this.peerDescription} closed`);
      this.clearTimers();
    });

    if (this.role === 'acceptor') {
      this.startArtim(`${this.peerDescription} sent no A-ASSOCIATE-RQ within ${this.timeouts.associationMs} ms`);
    }
  }

  get isOpen(): boolean {
    return this.state === 'established' || this.state === 'releasing' || this.state === 'peer-releasing';
  }

  // -------------------------------------------------------------------------
  // Establishment

  /** Sends an A-ASSOCIATE-RQ (requestor) and resolves with the A-ASSOCIATE-AC. Rejects with AssociationRejectedError on A-ASSOCIATE-RJ. */
  requestAssociation(request: AssociateRqPdu): Promise<AssociateAcPdu> {
    if (this.role !== 'requestor' || this.state !== 'awaiting-accept') throw new Error(`Cannot request an association in state ${this.state}`);
    return new Promise<AssociateAcPdu>((resolve, reject) => {
      this.pendingAssociate = { resolve, reject };
      this.startArtim(`${this.peerDescription} did not answer the A-ASSOCIATE-RQ within ${this.timeouts.associationMs} ms`);
      this.socket.write(encodeAssociateRq(request));
    });
  }

  /**
   * Sends the A-ASSOCIATE-AC (acceptor) and enters the established state.
   * `accepted` lists the contexts with result 0, and `peerMaxPduLength` comes from the request.
   */
  accept(response: AssociateAcPdu, accepted: AcceptedContext[], peerMaxPduLength: number): void {
    if (this.state !== 'awaiting-local-decision') throw new Error(`Cannot accept an association in state ${this.state}`);
    this.stopArtim();
    this.setNegotiated(accepted, peerMaxPduLength);
    this.state = 'established';
    this.socket.write(encodeAssociateAc(response));
    this.armIdleTimer();
  }

  /** Sends an A-ASSOCIATE-RJ (acceptor) and closes the connection once it is written. */
  reject(rejection: Omit<AssociateRjPdu, 'type'>): void {
    if (this.state !== 'awaiting-local-decision') throw new Error(`Cannot reject an association in state ${this.state}`);
    const error = new AssociationClosedError(`Association from ${this.peerDescription} rejected: ${describeRejection(rejection.result, rejection.source, rejection.reason)}`, 'rejected');
    this.socket.write(encodeAssociateRj(rejection));
    this.finish('rejected', error);
  }

  /** Records the negotiated contexts and maximum PDU length (requestor: from the A-ASSOCIATE-AC). */
  setNegotiated(accepted: AcceptedContext[], peerMaxPduLength: number): void {
    this.acceptedContexts = new Map(accepted.map((context) => [context.id, context]));
    this.peerMaxPduLength = peerMaxPduLength;
  }

  // -------------------------------------------------------------------------
  // Release and abort

  /** Sends A-RELEASE-RQ after queued messages are written and resolves on A-RELEASE-RP (PS3.8 section 7.2). */
  release(): Promise<void> {
    if (this.state !== 'established') {
      return Promise.reject(this.endInfo?.error ?? new Error(`Cannot release an association in state ${this.state}`));
    }
    this.state = 'releasing';
    return new Promise<void>((resolve, reject) => {
      this.pendingRelease = { resolve, reject };
      this.sendChain = this.sendChain
        .catch(() => undefined)
        .then(() => {
          if (this.state !== 'releasing') return;
          this.startArtim(`${this.peerDescription} did not answer the A-RELEASE-RQ within ${this.timeouts.associationMs} ms`);
          this.socket.write(encodeReleaseRq());
        });
    });
  }

  /** Sends A-ABORT and closes the connection. Source 0 is the service user, 2 the service provider. */
  abort(source: number = ABORT_SOURCE.SERVICE_USER, reason: number = ABORT_REASON.NOT_SPECIFIED, message?: string): void {
    if (this.state === 'closed') return;
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(encodeAbort(source, reason));
    this.finish('aborted', message ?? `Association with ${this.peerDescription} aborted locally`);
  }

  // -------------------------------------------------------------------------
  // Sending messages

  /**
   * Sends one DIMSE message: the command, then the data set if given. Messages are
   * written one at a time, never interleaved. A stream or recycling source is pulled
   * only while less than MAX_QUEUED_SEND_BYTES wait in the socket's write buffer. Its
   * first chunk is read before anything is sent, so a source that fails to open
   * rejects this call and leaves the association usable.
   * A source that fails later aborts the association, because a partly sent data set
   * cannot be withdrawn (PS3.8 has no such primitive).
   */
  sendMessage(contextId: number, fields: CommandFields, data?: DatasetSource): Promise<void> {
    if (!this.isOpen) return Promise.reject(this.endInfo?.error ?? new Error(`Cannot send a message in state ${this.state}`));
    if (!this.acceptedContexts.has(contextId)) return Promise.reject(new Error(`Presentation context ${contextId} was not accepted on the association with ${this.peerDescription}`));
    this.pendingSends++;
    const run = this.sendChain.catch(() => undefined).then(() => this.writeMessage(contextId, fields, data));
    this.sendChain = run.catch(() => undefined);
    return run.finally(() => {
      this.pendingSends--;
      this.checkIdle();
    });
  }

  /** Largest PDV fragment we may send: the peer's maximum PDU length minus the 6-byte PDV header. */
  private get maxFragmentLength(): number {
    const limit = this.peerMaxPduLength === 0 ? MAX_SEND_PDU_LENGTH : Math.min(this.peerMaxPduLength, MAX_SEND_PDU_LENGTH);
    return limit - 6;
  }

  private async writeMessage(contextId: number, fields: CommandFields, data?: DatasetSource): Promise<void> {
    let iterator: AsyncIterator<Buffer> | undefined;
    let first: IteratorResult<Buffer> | undefined;
    const source = data === undefined || Buffer.isBuffer(data) ? undefined : data;
    if (source) {
      iterator = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      first = await iterator.next();
    }
    try {
      this.assertCanSend();
    } catch (error) {
      source?.destroy();
      throw error;
    }

    const command = encodeCommand({ ...fields, hasDataset: data !== undefined });
    await this.writeFragments(contextId, true, [command]);
    if (data === undefined) return;

    if (!source) {
      await this.writeFragments(contextId, false, [data as Buffer]);
      return;
    }
    try {
      const chunks = (async function* () {
        if (first && !first.done) yield Buffer.isBuffer(first.value) ? first.value : Buffer.from(first.value);
        if (first?.done) return;
        for (;;) {
          const next = await iterator!.next();
          if (next.done) return;
          yield Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
        }
      })();
      await this.writeFragments(contextId, false, chunks, isRecyclingSource(source) ? source : undefined);
    } catch (error) {
      if (this.isOpen) {
        this.abort(ABORT_SOURCE.SERVICE_USER, ABORT_REASON.NOT_SPECIFIED, `Association with ${this.peerDescription} aborted: data set source failed mid-message: ${(error as Error).message}`);
      }
      source.destroy();
      throw error;
    }
  }

  /**
   * Cuts a byte sequence into PDVs of at most maxFragmentLength bytes; the last one carries the last-fragment flag.
   * Fragments are views of the source chunks, never copies. The PDUs cut from one chunk go to the socket in
   * one corked batch, and the next chunk is read only while less than MAX_QUEUED_SEND_BYTES wait in the socket.
   * With a `recycling` source, each chunk goes back to it once the write of its last byte has completed.
   */
  private async writeFragments(contextId: number, isCommand: boolean, source: Iterable<Buffer> | AsyncIterable<Buffer>, recycling?: RecyclingChunkSource): Promise<void> {
    const maxFragment = this.maxFragmentLength;
    const pending = new PendingBytes();
    // Chunks pushed into `pending`, oldest first; all but the last pending.count have been written whole.
    const unreleased: Buffer[] = [];

    /** Returns the write callback that recycles the chunks written whole, or undefined when there are none. */
    const releaseWritten = (): ((error?: Error | null) => void) | undefined => {
      if (!recycling || unreleased.length <= pending.count) return undefined;
      const written = unreleased.splice(0, unreleased.length - pending.count);
      return (error) => {
        if (error) return;
        for (const chunk of written) recycling.recycle(chunk);
      };
    };

    for await (const chunk of source) {
      if (chunk.length === 0) {
        recycling?.recycle(chunk);
        continue;
      }
      pending.push(chunk);
      if (recycling) unreleased.push(chunk);
      if (pending.length <= maxFragment) continue;
      this.assertCanSend();
      this.socket.cork();
      while (pending.length > maxFragment) {
        const parts = pending.take(maxFragment);
        const lastOfBatch = pending.length <= maxFragment;
        this.writePdv(contextId, isCommand, false, parts, lastOfBatch ? releaseWritten() : undefined);
      }
      this.socket.uncork();
      this.armIdleTimer();
      if (this.socket.writableLength > MAX_QUEUED_SEND_BYTES) await this.waitForDrain();
    }

    this.assertCanSend();
    this.socket.cork();
    this.writePdv(contextId, isCommand, true, pending.take(pending.length), releaseWritten());
    this.socket.uncork();
    this.armIdleTimer();
    if (this.socket.writableLength > MAX_QUEUED_SEND_BYTES) await this.waitForDrain();
  }

  /**
   * Queues one P-DATA-TF PDU holding one PDV whose fragment is the concatenation of `parts`.
   * `onWritten` runs when the socket has written the PDU's last byte, or failed to.
   */
  private writePdv(contextId: number, isCommand: boolean, isLast: boolean, parts: Buffer[], onWritten?: (error?: Error | null) => void): void {
    let length = 0;
    for (const part of parts) length += part.length;
    this.socket.write(encodePDataHeader(contextId, isCommand, isLast, length), parts.length === 0 ? onWritten : undefined);
    for (let i = 0; i < parts.length; i++) this.socket.write(parts[i], i === parts.length - 1 ? onWritten : undefined);
  }

  private assertCanSend(): void {
    if (!this.isOpen || this.socket.destroyed) {
      throw this.endInfo?.error ?? new AssociationClosedError(`Association with ${this.peerDescription} is not open (state ${this.state})`, 'connection-closed');
    }
  }

  private waitForDrain(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        this.socket.off('drain', onDrain);
        this.off('end', onEnd);
      };
      const onDrain = () => {
        cleanup();
        resolve();
      };
      const onEnd = (end: AssociationEnd) => {
        cleanup();
        reject(end.error);
      };
      const timer = setTimeout(() => {
        cleanup();
        const message = `DIMSE timeout: ${this.peerDescription} did not read our data for ${this.timeouts.dimseMs} ms`;
        this.abort(ABORT_SOURCE.SERVICE_USER, ABORT_REASON.NOT_SPECIFIED, message);
        reject(this.endInfo?.error ?? new Error(message));
      }, this.timeouts.dimseMs);
      this.socket.on('drain', onDrain);
      this.once('end', onEnd);
    });
  }

  // -------------------------------------------------------------------------
  // Operations bookkeeping, used by exchange.ts for idle detection and release

  beginOperation(): void {
    this.activeOperations++;
  }

  endOperation(): void {
    this.activeOperations--;
    this.armIdleTimer();
    this.checkIdle();
  }

  /** Resolves once no operation is running and no message is being sent or received. */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return this.activeOperations === 0 && this.pendingSends === 0 && !this.assembler.busy;
  }

  private checkIdle(): void {
    if (!this.isIdle() || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  // -------------------------------------------------------------------------
  // Receiving

  private onControlPdu(pdu: ControlPdu): void {
    if (pdu.type === PDU_TYPE.ABORT) {
      this.finish('peer-aborted', `Association with ${this.peerDescription} ${describeAbort(pdu.source, pdu.reason)}`);
      return;
    }

    switch (this.state) {
      case 'awaiting-request':
        if (pdu.type !== PDU_TYPE.ASSOCIATE_RQ) return this.unexpectedPdu(pdu.type);
        this.stopArtim();
        this.state = 'awaiting-local-decision';
        this.emit('associateRequest', pdu);
        return;

      case 'awaiting-accept':
        if (pdu.type === PDU_TYPE.ASSOCIATE_AC) {
          this.stopArtim();
          this.state = 'established';
          this.pendingAssociate?.resolve(pdu);
          this.pendingAssociate = undefined;
          return;
        }
        if (pdu.type === PDU_TYPE.ASSOCIATE_RJ) {
          const error = new AssociationRejectedError(pdu.result, pdu.source, pdu.reason, this.peerDescription);
          this.pendingAssociate?.reject(error);
          this.pendingAssociate = undefined;
          this.finish('rejected', error);
          return;
        }
        return this.unexpectedPdu(pdu.type);

      case 'established':
        if (pdu.type !== PDU_TYPE.RELEASE_RQ) return this.unexpectedPdu(pdu.type);
        // A message whose last fragment never comes would hold the release until the ARTIM timer aborts it.
        if (this.assembler.busy) return this.releaseInsideMessage();
        this.onPeerRelease();
        return;

      case 'releasing':
        if (pdu.type === PDU_TYPE.RELEASE_RP) {
          if (this.releaseCollision && this.role === 'acceptor') {
            // Collision, acceptor side (PS3.8 Sta12): the peer has confirmed our release, so now we confirm theirs.
            this.socket.write(encodeReleaseRp());
          }
          this.released();
          return;
        }
        if (pdu.type === PDU_TYPE.RELEASE_RQ) {
          // Release collision (PS3.8 section 9.2.3): the requestor sends its RP first, the acceptor after its own RP arrives.
          this.releaseCollision = true;
          if (this.role === 'requestor') this.socket.write(encodeReleaseRp());
          return;
        }
        return this.unexpectedPdu(pdu.type);

      default:
        return this.unexpectedPdu(pdu.type);
    }
  }

  /** Sends A-RELEASE-RP for a peer's A-RELEASE-RQ once our running operations have sent their responses (PS3.8 Sta8 allows P-DATA). */
  private onPeerRelease(): void {
    this.state = 'peer-releasing';
    this.clearIdleTimer();
    this.startArtim(`Operations still running ${this.timeouts.associationMs} ms after ${this.peerDescription} requested release`);
    void this.whenIdle().then(() => {
      if (this.state !== 'peer-releasing') return;
      this.socket.write(encodeReleaseRp());
      this.released();
    });
  }

  private released(): void {
    this.finish('released', new AssociationClosedError(`Association with ${this.peerDescription} released`, 'released'));
  }

  private releaseInsideMessage(): void {
    const message = `${this.peerDescription} requested release in the middle of a message, before its last fragment`;
    this.logger.warn('Aborting association: A-RELEASE-RQ inside a message', { peer: this.peerDescription });
    this.abort(ABORT_SOURCE.SERVICE_PROVIDER, ABORT_REASON.UNEXPECTED_PDU, message);
  }

  private unexpectedPdu(type: number): void {
    const message = `Unexpected PDU type 0x${type.toString(16).padStart(2, '0')} from ${this.peerDescription} in state ${this.state}`;
    this.logger.warn('Aborting association: unexpected PDU', { peer: this.peerDescription, pduType: type, state: this.state });
    this.abort(ABORT_SOURCE.SERVICE_PROVIDER, ABORT_REASON.UNEXPECTED_PDU, message);
  }

  private onProtocolError(error: PduError | CommandDecodeError | Error): void {
    const reason = error instanceof PduError ? error.abortReason : ABORT_REASON.INVALID_PDU_PARAMETER_VALUE;
    // Before the A-ASSOCIATE-RQ, the server logs the end of the connection, limiting repeats (server.ts).
    const level = this.awaitingRequest() ? 'debug' : 'warn';
    this.logger[level]('Aborting association: invalid data received', { peer: this.peerDescription, error: error.message });
    if (this.state === 'closed') return;
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(encodeAbort(ABORT_SOURCE.SERVICE_PROVIDER, reason));
    this.finish('protocol-error', `Association with ${this.peerDescription} aborted: ${error.message}`);
  }

  private deliver(message: IncomingMessage): void {
    this.armIdleTimer();
    const trailing = message.command.trailing;
    if (trailing) {
      // A peer that does it once does it for each response that follows, so later ones go to the debug log.
      const level = this.trailingBytesLogged ? 'debug' : 'warn';
      this.logger[level]('Ignored bytes after the command set, which contains only group 0000 (PS3.7 section 6.3.1)', {
        peer: this.peerDescription,
        command: commandName(message.command.fields.commandField),
        ignoredBytes: trailing.length,
        firstTag: formatCommandTag(trailing.firstTag),
      });
      this.trailingBytesLogged = true;
    }
    try {
      this.emit('message', message);
    } catch (error) {
      this.logger.error('Message listener threw', { peer: this.peerDescription, error: (error as Error).message });
    }
  }

  private pauseForBackPressure(): void {
    if (this.pausedForBackPressure) return;
    this.pausedForBackPressure = true;
    this.socket.pause();
  }

  private resumeAfterBackPressure(): void {
    if (!this.pausedForBackPressure) return;
    this.pausedForBackPressure = false;
    this.resumedAt = Date.now();
    if (!this.socket.destroyed) this.socket.resume();
  }

  // -------------------------------------------------------------------------
  // Timers and teardown

  private startArtim(message: string): void {
    this.stopArtim();
    this.artimTimer = setTimeout(() => {
      this.logger[this.awaitingRequest() ? 'debug' : 'warn']('Association timer expired', { peer: this.peerDescription, state: this.state });
      if (!this.socket.destroyed && this.socket.writable && this.state !== 'awaiting-request') {
        this.socket.write(encodeAbort(ABORT_SOURCE.SERVICE_PROVIDER, ABORT_REASON.NOT_SPECIFIED));
      }
      this.finish('timeout', message);
    }, this.timeouts.associationMs);
  }

  /** True for an acceptor's connection that has not sent its A-ASSOCIATE-RQ yet. */
  private awaitingRequest(): boolean {
    return this.role === 'acceptor' && this.state === 'awaiting-request';
  }

  private stopArtim(): void {
    if (this.artimTimer) clearTimeout(this.artimTimer);
    this.artimTimer = undefined;
  }

  /**
   * Notes activity for the idle timeout. The timer is not restarted for each
   * activity, which happens several times per C-STORE: when it fires, it
   * waits again for the rest of the idle time since the last activity.
   */
  private armIdleTimer(): void {
    if (this.timeouts.idleMs <= 0 || this.state !== 'established') return;
    this.lastActivityAt = Date.now();
    if (!this.idleTimer) this.startIdleTimer(this.timeouts.idleMs);
  }

  private startIdleTimer(delayMs: number): void {
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.state !== 'established') return;
      if (this.activeOperations > 0 || this.assembler.busy || this.pendingSends > 0) return this.startIdleTimer(this.timeouts.idleMs);
      const quietFor = Date.now() - Math.max(this.lastReceiveAt, this.lastActivityAt);
      if (quietFor < this.timeouts.idleMs) return this.startIdleTimer(this.timeouts.idleMs - quietFor);

      const message = `Association with ${this.peerDescription} idle for ${this.timeouts.idleMs} ms`;
      this.logger.info('Aborting idle association', { peer: this.peerDescription, idleMs: this.timeouts.idleMs });
      this.abort(ABORT_SOURCE.SERVICE_PROVIDER, ABORT_REASON.NOT_SPECIFIED, message);
    }, delayMs);
    this.idleTimer.unref();
  }

  /**
   * Aborts when a PDU is not received whole within dimseMs of its first byte, or
   * when a message stays incomplete for dimseMs after its last whole PDU. Progress
   * counts in whole PDUs (PduReader.pduBoundaryAt), not in bytes, so a peer
   * that sends one byte every few seconds cannot hold the association. At our
   * default maximum PDU length of 256 KiB and dimseMs of 60 s, a link must carry
   * about 4.4 KB/s. Time spent paused because our own consumer is slow does not count.
   * NOTE: a peer that sends a tiny whole PDU (7 bytes) every dimseMs still
   * makes progress by this rule, so it keeps the association open.
   */
  private armStallTimer(delayMs: number): void {
    this.stallTimer = setTimeout(() => {
      this.stallTimer = undefined;
      if (this.state === 'closed' || (!this.assembler.busy && this.reader.atPduBoundary)) return;
      if (this.pausedForBackPressure) return this.armStallTimer(this.timeouts.dimseMs);
      const remaining = Math.max(this.reader.pduBoundaryAt, this.resumedAt) + this.timeouts.dimseMs - Date.now();
      if (remaining > 0) return this.armStallTimer(remaining);
      this.abortStalled();
    }, delayMs);
    this.stallTimer.unref();
  }

  private abortStalled(): void {
    const progress = this.reader.pduProgress();
    const rule = `each PDU must arrive whole, and each next PDU of a message must start, within ${this.timeouts.dimseMs} ms (dimseMs)`;
    const where = progress ? `after ${progress.received} of ${progress.length ?? 'at least 6'} bytes of a PDU` : 'between the PDUs of a message';
    const message = `DIMSE timeout: ${this.peerDescription} stalled ${where}: ${rule}`;
    this.logger.warn('Aborting association: message stalled', {
      peer: this.peerDescription,
      callingAe: this.aeTitles?.calling,
      calledAe: this.aeTitles?.called,
      bytesReceived: this.bytesReceived,
      pduBytesReceived: progress?.received,
      pduLength: progress?.length,
      rule,
    });
    this.abort(ABORT_SOURCE.SERVICE_PROVIDER, ABORT_REASON.NOT_SPECIFIED, message);
  }

  private clearIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private clearTimers(): void {
    this.stopArtim();
    this.clearIdleTimer();
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
  }

  /** Moves to the closed state once: fails the pending work, ends the socket and emits 'end'. */
  private finish(reason: EndReason, cause: string | Error): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.clearTimers();
    this.reader.stop();
    const error = typeof cause === 'string' ? new AssociationClosedError(cause, reason) : cause;
    this.endInfo = { reason, error };

    this.assembler.fail(new AssociationClosedError(`Association ended before the data set was complete: ${error.message}`, reason));

    this.pendingAssociate?.reject(error);
    this.pendingAssociate = undefined;
    if (this.pendingRelease) {
      if (reason === 'released') this.pendingRelease.resolve();
      else this.pendingRelease.reject(error);
      this.pendingRelease = undefined;
    }

    // end() lets queued PDUs (RP, RJ, ABORT) reach the peer; destroy after the ARTIM period if it lingers.
    if (!this.socket.destroyed) {
      this.socket.end();
      const socket = this.socket;
      setTimeout(() => socket.destroy(), Math.min(this.timeouts.associationMs, 5_000)).unref();
    }
    if (this.pausedForBackPressure) this.resumeAfterBackPressure();

    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
    this.emit('end', this.endInfo);
  }
}

/** A byte queue of buffer views, from which fragments are taken without copying. */
class PendingBytes {
  private buffers: Buffer[] = [];
  length = 0;

  /** Number of pushed chunks of which some bytes are still here. */
  get count(): number {
    return this.buffers.length;
  }

  push(chunk: Buffer): void {
    this.buffers.push(chunk);
    this.length += chunk.length;
  }

  /** Removes the first `count` bytes (at most `length`) and returns them as views of the queued buffers. */
  take(count: number): Buffer[] {
    const parts: Buffer[] = [];
    let needed = count;
    while (needed > 0) {
      const first = this.buffers[0];
      if (first.length <= needed) {
        parts.push(first);
        this.buffers.shift();
        needed -= first.length;
      } else {
        parts.push(first.subarray(0, needed));
        this.buffers[0] = first.subarray(needed);
        needed = 0;
      }
    }
    this.length -= count;
    return parts;
  }
}
