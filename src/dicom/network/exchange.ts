/**
 * DIMSE message exchange on an established association (PS3.7 sections 9.1 and 9.3).
 *
 * Allocates message IDs, sends requests and collects their responses. The DIMSE
 * timeout restarts on any traffic from the peer, so pending responses count as
 * activity. A C-CANCEL-RQ aborts the AbortSignal of the request it names, and every
 * other incoming request goes to one request handler (provider.ts), one request at
 * a time: no asynchronous operations window is negotiated, so a peer may have one
 * operation outstanding (PS3.7 D.3.3.3).
 */

import type { Readable } from 'node:stream';

import type { Logger } from '../../services/logger';
import type { DatasetSource } from './dataset-source';
import { AcceptedContext, Association, AssociationClosedError } from './association';
import type { IncomingMessage } from './message-assembler';
import { COMMAND_FIELD, CommandFields, DecodedCommand, commandName, isResponse, statusClass } from './dimse';

const CANCELLABLE_COMMANDS = new Set<number>([COMMAND_FIELD.C_FIND_RQ, COMMAND_FIELD.C_GET_RQ, COMMAND_FIELD.C_MOVE_RQ]);

/** The controller of requests that cannot be cancelled; nothing calls abort() on it. */
const NEVER_ABORTED = new AbortController();

/**
 * Requests that may wait while another one is served before the association
 * is aborted. A peer that keeps to the one outstanding operation both sides
 * default to never has one waiting. A peer that sent thousands of C-FIND
 * requests without reading the responses made the server start them all at
 * once, and it ran out of memory.
 */
export const MAX_WAITING_REQUESTS = 8;

interface WaitingRequest {
  message: IncomingMessage;
  controller: AbortController;
}

export interface ResponseMessage {
  contextId: number;
  command: DecodedCommand;
  /** Data set of the response, collected whole (identifiers and failed-UID lists are small). */
  dataset?: Buffer;
}

/** Limit on a collected identifier or response data set; query keys and matches are far smaller. */
export const MAX_COLLECTED_DATASET_LENGTH = 16 * 1024 * 1024;

/** Reads a whole data set stream into one Buffer, failing when it exceeds `limit` bytes. */
export async function collectDataset(stream: Readable, limit = MAX_COLLECTED_DATASET_LENGTH): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream) {
    length += (chunk as Buffer).length;
    if (length > limit) {
      // Leaving the loop destroys the stream, and the association then drops the rest of the message.
      throw new Error(`Data set longer than ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, length);
}

/** Drops the data set of a message that is not served; the end of the association may still fail its stream. */
function discardData(message: IncomingMessage): void {
  message.data?.on('error', () => undefined);
  message.data?.resume();
}

export type RequestHandler = (message: IncomingMessage, signal: AbortSignal) => Promise<void>;

interface ResponseWaiter {
  contextId: number;
  onPending?: (response: ResponseMessage) => void;
  resolve(response: ResponseMessage): void;
  reject(error: Error): void;
  /** Start of the DIMSE timeout; the later of this and the last receive counts. */
  armedAt?: number;
  timer?: NodeJS.Timeout;
}

export class DimseExchange {
  private nextId = 1;
  private readonly waiters = new Map<number, ResponseWaiter>();
  private readonly cancellations = new Map<number, AbortController>();
  /** Requests received while another is served, in arrival order. */
  private readonly waitingRequests: WaitingRequest[] = [];
  private serving = false;
  /** Responses are handled one after another, so a final response never overtakes a pending one whose data set is still being read. */
  private responseChain: Promise<void> = Promise.resolve();
  requestHandler?: RequestHandler;

  constructor(
    readonly association: Association,
    private readonly dimseTimeoutMs: number,
    private readonly logger: Logger,
  ) {
    association.on('message', (message: IncomingMessage) => this.onMessage(message));
    association.on('end', () => this.onEnd());
  }

  /** Returns the next message ID (1 to 65535, wrapping), skipping IDs still awaiting a response. */
  nextMessageId(): number {
    for (let attempts = 0; attempts < 0x10000; attempts++) {
      const id = this.nextId;
      this.nextId = this.nextId >= 0xffff ? 1 : this.nextId + 1;
      if (!this.waiters.has(id)) return id;
    }
    throw new Error('All 65535 message IDs are in use');
  }

  context(contextId: number): AcceptedContext {
    const context = this.association.acceptedContexts.get(contextId);
    if (!context) throw new Error(`Presentation context ${contextId} was not accepted by ${this.association.peerDescription}`);
    return context;
  }

  /**
   * Sends a request and resolves with its final response. Pending responses (FF00, FF01)
   * go to `onPending`. Fields must include messageId (see nextMessageId()).
   */
  async request(contextId: number, fields: CommandFields, data?: DatasetSource, onPending?: (response: ResponseMessage) => void): Promise<ResponseMessage> {
    const messageId = fields.messageId;
    if (messageId === undefined) throw new Error('A DIMSE request needs a message ID');
    this.context(contextId);

    this.association.beginOperation();
    try {
      const response = new Promise<ResponseMessage>((resolve, reject) => {
        this.waiters.set(messageId, { contextId, onPending, resolve, reject });
      });
      // The response may arrive (or the association end) while the data set is still being sent.
      response.catch(() => undefined);
      try {
        await this.association.sendMessage(contextId, fields, data);
      } catch (error) {
        this.dropWaiter(messageId);
        throw error;
      }
      const waiter = this.waiters.get(messageId);
      if (waiter) this.armTimeout(messageId, waiter);
      return await response;
    } finally {
      this.association.endOperation();
    }
  }

  /** Sends C-CANCEL-RQ for a request of ours (PS3.7 section 9.3.2.3). */
  cancel(contextId: number, messageId: number): Promise<void> {
    return this.association.sendMessage(contextId, { commandField: COMMAND_FIELD.C_CANCEL_RQ, messageIdBeingRespondedTo: messageId, hasDataset: false });
  }

  /** Sends a response; responses of one request must leave in order, which the association's send queue ensures. */
  respond(contextId: number, fields: CommandFields, dataset?: Buffer): Promise<void> {
    return this.association.sendMessage(contextId, fields, dataset);
  }

  private armTimeout(messageId: number, waiter: ResponseWaiter): void {
    waiter.armedAt = Date.now();
    const check = () => {
      const since = Math.max(waiter.armedAt ?? 0, this.association.lastReceiveAt);
      const remaining = since + this.dimseTimeoutMs - Date.now();
      if (remaining > 0) {
        waiter.timer = setTimeout(check, remaining);
        return;
      }
      this.dropWaiter(messageId);
      const message = `DIMSE timeout: no response to message ${messageId} from ${this.association.peerDescription} within ${this.dimseTimeoutMs} ms`;
      this.logger.warn('DIMSE timeout, aborting association', { peer: this.association.peerDescription, messageId, timeoutMs: this.dimseTimeoutMs });
      waiter.reject(new AssociationClosedError(message, 'timeout'));
      this.association.abort(0, 0, message);
    };
    waiter.timer = setTimeout(check, this.dimseTimeoutMs);
  }

  private dropWaiter(messageId: number): void {
    const waiter = this.waiters.get(messageId);
    if (waiter?.timer) clearTimeout(waiter.timer);
    this.waiters.delete(messageId);
  }

  private onMessage(message: IncomingMessage): void {
    const fields = message.command.fields;
    if (isResponse(fields.commandField)) {
      this.responseChain = this.responseChain.then(() => this.onResponse(message));
      return;
    }
    if (fields.commandField === COMMAND_FIELD.C_CANCEL_RQ) {
      message.data?.resume();
      const target = fields.messageIdBeingRespondedTo;
      const controller = target === undefined ? undefined : this.cancellations.get(target);
      this.logger.info('C-CANCEL-RQ received', { peer: this.association.peerDescription, messageId: target, running: controller !== undefined });
      controller?.abort(new Error(`Cancelled by C-CANCEL-RQ from ${this.association.peerDescription}`));
      return;
    }
    this.enqueueRequest(message);
  }

  /** Queues a request, or aborts the association when too many wait; see MAX_WAITING_REQUESTS. */
  private enqueueRequest(message: IncomingMessage): void {
    const messageId = message.command.fields.messageId ?? -1;
    if (this.waitingRequests.length >= MAX_WAITING_REQUESTS) {
      const text =
        `${this.association.peerDescription} sent more than ${MAX_WAITING_REQUESTS} requests while one was served, ` +
        'but this association allows one operation at a time';
      this.logger.warn('Too many requests without waiting for responses, aborting association', {
        peer: this.association.peerDescription,
        command: commandName(message.command.fields.commandField),
        messageId,
        waiting: this.waitingRequests.length,
      });
      discardData(message);
      this.association.abort(0, 0, text);
      return;
    }

    // PS3.7 section 9.3 defines C-CANCEL only for C-FIND, C-GET and C-MOVE, so other requests share a signal that never aborts.
    // A waiting request can be cancelled too, so its controller is registered now.
    const cancellable = CANCELLABLE_COMMANDS.has(message.command.fields.commandField);
    const controller = cancellable ? new AbortController() : NEVER_ABORTED;
    if (cancellable && messageId >= 0) this.cancellations.set(messageId, controller);
    this.waitingRequests.push({ message, controller });
    void this.serveWaitingRequests();
  }

  private async serveWaitingRequests(): Promise<void> {
    if (this.serving) return;
    this.serving = true;
    try {
      for (let next = this.waitingRequests.shift(); next !== undefined; next = this.waitingRequests.shift()) {
        await this.onRequest(next.message, next.controller);
      }
    } finally {
      this.serving = false;
    }
  }

  private async onRequest(message: IncomingMessage, controller: AbortController): Promise<void> {
    const messageId = message.command.fields.messageId ?? -1;
    this.association.beginOperation();
    try {
      if (!this.requestHandler) throw new Error('No request handler on this association');
      await this.requestHandler(message, controller.signal);
    } catch (error) {
      // provider.ts turns handler failures into responses itself, so reaching here means a response could not be sent.
      this.logger.error('Failed to send the response to a DIMSE request', {
        peer: this.association.peerDescription,
        command: commandName(message.command.fields.commandField),
        messageId,
        error: (error as Error).message,
      });
      message.data?.resume();
    } finally {
      if (this.cancellations.get(messageId) === controller) this.cancellations.delete(messageId);
      this.association.endOperation();
    }
  }

  private async onResponse(message: IncomingMessage): Promise<void> {
    const fields = message.command.fields;
    const messageId = fields.messageIdBeingRespondedTo ?? -1;
    const waiter = this.waiters.get(messageId);
    if (!waiter) {
      this.logger.warn('Dropping response to an unknown message ID', { peer: this.association.peerDescription, command: commandName(fields.commandField), messageId });
      message.data?.resume();
      return;
    }
    let dataset: Buffer | undefined;
    if (message.data) {
      try {
        dataset = await collectDataset(message.data);
      } catch (error) {
        this.dropWaiter(messageId);
        waiter.reject(new Error(`Failed to read the data set of ${commandName(fields.commandField)} from ${this.association.peerDescription}: ${(error as Error).message}`));
        return;
      }
    }
    const response: ResponseMessage = { contextId: message.contextId, command: message.command, dataset };
    if (fields.status !== undefined && statusClass(fields.status) === 'pending') {
      waiter.armedAt = Date.now();
      try {
        waiter.onPending?.(response);
      } catch (error) {
        this.logger.error('Pending response callback threw', { error: (error as Error).message });
      }
      return;
    }
    this.dropWaiter(messageId);
    waiter.resolve(response);
  }

  private onEnd(): void {
    const error = this.association.endInfo?.error ?? new Error(`Association with ${this.association.peerDescription} ended`);
    for (const [messageId, waiter] of [...this.waiters]) {
      this.dropWaiter(messageId);
      waiter.reject(error);
    }
    for (const controller of this.cancellations.values()) controller.abort(error);
    this.cancellations.clear();
    // Handlers of waiting requests would only find the association closed.
    for (const waiting of this.waitingRequests.splice(0)) discardData(waiting.message);
  }
}
