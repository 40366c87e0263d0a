/**
 * Association requestor (SCU): connects to a remote application entity, negotiates an
 * association (PS3.8 section 7.1) and runs C-ECHO, C-STORE, C-FIND, C-MOVE and C-GET
 * on it (PS3.7 section 9.1, PS3.4 annexes A, B and C).
 */

import { Socket, connect as netConnect } from 'node:net';

import { createLogger } from '../../services/logger';
import { AcceptedContext, Association, AssociationClosedError, AssociationRejectedError, AssociationTimeouts, DEFAULT_TIMEOUTS } from './association';
import { PresentationContextsRejectedError, rejectedContexts } from './context-rejection';
import { COMMAND_FIELD, DimseStatusError, PRIORITY, commandName, formatStatus, statusClass } from './dimse';
import { DimseExchange, ResponseMessage } from './exchange';
import { readFailedSopInstanceUidList } from './failed-uid-list';
import { ABORT_REASON, ABORT_SOURCE, AssociateRqPdu, DICOM_APPLICATION_CONTEXT, PDU_TYPE, RoleSelection, UserIdentity, encodeAssociateRq } from './pdu';
import { AssociationInfo, DimseHandlers, DimseResult, RetrieveProgress, RetrieveResult, StoreRequestContext, createRequestHandler } from './provider';
import { checkMaxPduLength } from './server';
import type { DatasetSource } from './dataset-source';
import { SocketReadBuffer } from './socket-read-buffer';

export { AssociationRejectedError };
export { CONTEXT_RESULT, PresentationContextsRejectedError, type RejectedContext } from './context-rejection';

const logger = createLogger('loader.network');

/** Verification SOP class (PS3.4 annex A). */
export const VERIFICATION_SOP_CLASS = '1.2.840.10008.1.1';

export interface ConnectOptions {
  host: string;
  port: number;
  callingAeTitle: string;
  calledAeTitle: string;
  /** Proposed presentation contexts; IDs 1, 3, 5, ... are assigned in this order. At most 128. */
  contexts: { abstractSyntax: string; transferSyntaxes: string[] }[];
  roleSelections?: RoleSelection[];
  /** Maximum PDU length we advertise and accept, in bytes; defaults to DEFAULT_MAX_PDU_LENGTH. */
  maxPduLength?: number;
  userIdentity?: UserIdentity;
  implementationClassUid: string;
  implementationVersionName: string;
  timeouts?: { connectMs?: number; associationMs?: number; dimseMs?: number };
}

export interface StoreRequest {
  contextId: number;
  sopClassUid: string;
  sopInstanceUid: string;
  /** Data set bytes in the context's transfer syntax, without File Meta Information. */
  data: DatasetSource;
  moveOriginator?: { aeTitle: string; messageId: number };
  /** 0 medium (default), 1 high, 2 low. */
  priority?: number;
}

export interface FindResponse {
  status: number;
  identifier?: Buffer;
}

const DEFAULT_CONNECT_MS = 10_000;

function openSocket(host: string, port: number, timeoutMs: number, peer: string, readBuffer: SocketReadBuffer): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port, onread: readBuffer.onread });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`Timed out after ${timeoutMs} ms connecting to ${peer}`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`Failed to connect to ${peer}: ${error.message}`));
    });
  });
}

/** Connects and negotiates an association. Rejects with AssociationRejectedError on A-ASSOCIATE-RJ. */
export async function connect(options: ConnectOptions): Promise<ClientAssociation> {
  const maxPduLength = checkMaxPduLength(options.maxPduLength);
  if (options.contexts.length === 0 || options.contexts.length > 128) {
    throw new RangeError(`Invalid number of presentation contexts ${options.contexts.length}: expected 1 to 128`);
  }
  const timeouts: AssociationTimeouts = {
    associationMs: options.timeouts?.associationMs ?? DEFAULT_TIMEOUTS.associationMs,
    dimseMs: options.timeouts?.dimseMs ?? DEFAULT_TIMEOUTS.dimseMs,
    idleMs: 0,
  };
  const peer = `${options.calledAeTitle} at ${options.host}:${options.port}`;
  const proposals = options.contexts.map((context, index) => ({ id: index * 2 + 1, ...context }));
  const request: AssociateRqPdu = {
    type: PDU_TYPE.ASSOCIATE_RQ,
    protocolVersion: 1,
    calledAeTitle: options.calledAeTitle,
    callingAeTitle: options.callingAeTitle,
    applicationContextName: DICOM_APPLICATION_CONTEXT,
    contexts: proposals,
    userInformation: {
      maxPduLength,
      implementationClassUid: options.implementationClassUid,
      implementationVersionName: options.implementationVersionName,
      roleSelections: options.roleSelections ?? [],
      userIdentity: options.userIdentity,
    },
  };
  // Encoding errors (bad AE title, UID) surface before any connection is made.
  encodeAssociateRq(request);

  const readBuffer = new SocketReadBuffer();
  const socket = await openSocket(options.host, options.port, options.timeouts?.connectMs ?? DEFAULT_CONNECT_MS, peer, readBuffer);
  const association = new Association({ role: 'requestor', socket, maxPduLength, timeouts, logger, peerDescription: peer, readBuffer });
  const response = await association.requestAssociation(request);

  const accepted: AcceptedContext[] = [];
  for (const result of response.contexts) {
    const proposal = proposals.find((entry) => entry.id === result.id);
    if (result.result !== 0 || !proposal || !result.transferSyntax) continue;
    if (!proposal.transferSyntaxes.includes(result.transferSyntax)) {
      logger.warn('Peer accepted a transfer syntax we did not propose; ignoring that context', { peer, contextId: result.id, transferSyntax: result.transferSyntax });
      continue;
    }
    accepted.push({ id: result.id, abstractSyntax: proposal.abstractSyntax, transferSyntax: result.transferSyntax });
  }
  const peerMaxPduLength = response.userInformation.maxPduLength;
  if (accepted.length === 0) {
    const error = new PresentationContextsRejectedError(peer, rejectedContexts(proposals, response.contexts), response.userInformation.implementationVersionName);
    association.abort(ABORT_SOURCE.SERVICE_USER, ABORT_REASON.NOT_SPECIFIED, error.summary);
    throw error;
  }
  if (peerMaxPduLength !== 0 && peerMaxPduLength < 7) {
    const message = `${peer} announced an unusable maximum PDU length of ${peerMaxPduLength}`;
    association.abort(ABORT_SOURCE.SERVICE_USER, ABORT_REASON.NOT_SPECIFIED, message);
    throw new Error(message);
  }
  association.setNegotiated(accepted, peerMaxPduLength);

  logger.info('Association established', {
    callingAe: options.callingAeTitle,
    calledAe: options.calledAeTitle,
    peer: `${options.host}:${options.port}`,
    acceptedContexts: accepted.length,
    proposedContexts: proposals.length,
    peerMaxPduLength,
  });
  return new ClientAssociation(association, options, accepted, response.userInformation.roleSelections, peerMaxPduLength, response.userInformation.userIdentityServerResponse);
}

export class ClientAssociation {
  readonly exchange: DimseExchange;
  private readonly handlers: DimseHandlers = {};
  private getRunning = false;

  constructor(
    private readonly association: Association,
    private readonly options: ConnectOptions,
    readonly acceptedContexts: AcceptedContext[],
    readonly roleSelections: RoleSelection[],
    readonly peerMaxPduLength: number,
    readonly userIdentityServerResponse?: Buffer,
  ) {
    this.exchange = new DimseExchange(association, association.timeouts.dimseMs, logger);
    const info: AssociationInfo = {
      id: `${options.callingAeTitle}->${options.calledAeTitle}`,
      callingAeTitle: options.callingAeTitle,
      calledAeTitle: options.calledAeTitle,
      remoteAddress: options.host,
      remotePort: options.port,
      acceptedContexts,
      roleSelections,
      peerMaxPduLength,
      userIdentity: options.userIdentity,
    };
    this.exchange.requestHandler = createRequestHandler({ exchange: this.exchange, info, handlers: this.handlers, logger });
  }

  /** True until the association is released, aborted or lost. */
  get isOpen(): boolean {
    return this.association.state === 'established';
  }

  findContext(abstractSyntax: string, transferSyntax?: string): AcceptedContext | undefined {
    return this.acceptedContexts.find((context) => context.abstractSyntax === abstractSyntax && (transferSyntax === undefined || context.transferSyntax === transferSyntax));
  }

  private requireContext(contextId: number): AcceptedContext {
    const context = this.acceptedContexts.find((entry) => entry.id === contextId);
    if (!context) throw new Error(`Presentation context ${contextId} was not accepted by ${this.association.peerDescription}`);
    return context;
  }

  /** Sends C-ECHO-RQ on the first accepted Verification context. */
  async echo(): Promise<DimseResult> {
    const context = this.findContext(VERIFICATION_SOP_CLASS);
    if (!context) throw new Error(`${this.association.peerDescription} accepted no Verification (${VERIFICATION_SOP_CLASS}) presentation context`);
    const response = await this.exchange.request(context.id, {
      commandField: COMMAND_FIELD.C_ECHO_RQ,
      messageId: this.exchange.nextMessageId(),
      affectedSopClassUid: VERIFICATION_SOP_CLASS,
      hasDataset: false,
    });
    return toResult(response);
  }

  /** Sends C-STORE-RQ with `data`, streamed when it is a Readable, and resolves with the C-STORE-RSP status whatever it is. */
  async store(request: StoreRequest): Promise<DimseResult> {
    this.requireContext(request.contextId);
    const response = await this.exchange.request(
      request.contextId,
      {
        commandField: COMMAND_FIELD.C_STORE_RQ,
        messageId: this.exchange.nextMessageId(),
        affectedSopClassUid: request.sopClassUid,
        affectedSopInstanceUid: request.sopInstanceUid,
        priority: request.priority ?? PRIORITY.MEDIUM,
        moveOriginatorAeTitle: request.moveOriginator?.aeTitle,
        moveOriginatorMessageId: request.moveOriginator?.messageId,
        hasDataset: true,
      },
      request.data,
    );
    const result = toResult(response);
    if (statusClass(result.status) === 'failure') {
      logger.warn('C-STORE failed', {
        callingAe: this.options.callingAeTitle,
        calledAe: this.options.calledAeTitle,
        sopInstanceUid: request.sopInstanceUid,
        status: formatStatus(result.status),
        error: result.errorComment,
      });
    }
    return result;
  }

  /**
   * Sends C-FIND-RQ and yields each pending match, then the final response (success or
   * cancel) as the last item. A failure status throws DimseStatusError. Aborting
   * `signal`, or leaving the loop early, sends C-CANCEL-RQ; the iteration then ends
   * with the peer's final response.
   */
  async *find(request: { contextId: number; identifier: Buffer; signal?: AbortSignal }): AsyncGenerator<FindResponse> {
    const context = this.requireContext(request.contextId);
    const messageId = this.exchange.nextMessageId();
    const queue: FindResponse[] = [];
    let wake: (() => void) | undefined;
    let final: FindResponse | undefined;
    let failure: Error | undefined;
    const notify = () => {
      wake?.();
      wake = undefined;
    };

    const completion = this.exchange
      .request(
        context.id,
        { commandField: COMMAND_FIELD.C_FIND_RQ, messageId, affectedSopClassUid: context.abstractSyntax, priority: PRIORITY.MEDIUM, hasDataset: true },
        request.identifier,
        (pending) => {
          queue.push({ status: pending.command.fields.status!, identifier: pending.dataset });
          notify();
        },
      )
      .then(
        (response) => {
          final = { status: response.command.fields.status ?? 0, identifier: response.dataset };
          const fields = response.command.fields;
          if (statusClass(final.status) === 'failure') failure = new DimseStatusError(final.status, `C-FIND failed with status ${formatStatus(final.status)}${fields.errorComment ? `: ${fields.errorComment}` : ''}`, fields.offendingElements);
        },
        (error: Error) => {
          failure = error;
        },
      )
      .finally(notify);

    let cancelSent = false;
    const sendCancel = () => {
      if (cancelSent || final || failure) return;
      cancelSent = true;
      this.exchange.cancel(context.id, messageId).catch((error: Error) => logger.warn('Failed to send C-CANCEL-RQ', { messageId, error: error.message }));
    };
    request.signal?.addEventListener('abort', sendCancel, { once: true });
    if (request.signal?.aborted) sendCancel();

    let finished = false;
    try {
      for (;;) {
        while (queue.length > 0) yield queue.shift()!;
        if (final || failure) break;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
      while (queue.length > 0) yield queue.shift()!;
      if (failure) throw failure;
      finished = true;
      yield final!;
    } finally {
      request.signal?.removeEventListener('abort', sendCancel);
      if (!finished && !final && !failure) {
        sendCancel();
        await completion;
      }
    }
  }

  /** Sends C-MOVE-RQ and resolves with the final response; `onPending` receives the sub-operation counters. */
  async move(request: { contextId: number; destination: string; identifier: Buffer; onPending?: (progress: RetrieveProgress) => void; signal?: AbortSignal; priority?: number }): Promise<RetrieveResult> {
    const context = this.requireContext(request.contextId);
    return this.retrieve(context, COMMAND_FIELD.C_MOVE_RQ, request, request.destination);
  }

  /**
   * Sends C-GET-RQ. The peer's C-STORE sub-operations arrive on this association and go
   * to `onStore`; the association must have proposed the SCP role for their SOP classes.
   */
  async get(request: {
    contextId: number;
    identifier: Buffer;
    onStore: (ctx: StoreRequestContext) => Promise<DimseResult>;
    onPending?: (progress: RetrieveProgress) => void;
    signal?: AbortSignal;
    priority?: number;
  }): Promise<RetrieveResult> {
    const context = this.requireContext(request.contextId);
    if (this.getRunning) throw new Error('A C-GET is already running on this association');
    this.getRunning = true;
    this.handlers.store = request.onStore;
    try {
      return await this.retrieve(context, COMMAND_FIELD.C_GET_RQ, request);
    } finally {
      delete this.handlers.store;
      this.getRunning = false;
    }
  }

  private async retrieve(
    context: AcceptedContext,
    commandField: number,
    request: { identifier: Buffer; onPending?: (progress: RetrieveProgress) => void; signal?: AbortSignal; priority?: number },
    moveDestination?: string,
  ): Promise<RetrieveResult> {
    const messageId = this.exchange.nextMessageId();
    const onAbort = () => {
      this.exchange.cancel(context.id, messageId).catch((error: Error) => logger.warn('Failed to send C-CANCEL-RQ', { messageId, error: error.message }));
    };
    request.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const response = await this.exchange.request(
        context.id,
        { commandField, messageId, affectedSopClassUid: context.abstractSyntax, priority: request.priority ?? PRIORITY.MEDIUM, moveDestination, hasDataset: true },
        request.identifier,
        (pending) => request.onPending?.(progressOf(pending)),
      );
      const fields = response.command.fields;
      const status = fields.status ?? 0;
      const result: RetrieveResult = {
        status,
        ...progressOf(response),
        failedSopInstanceUids: response.dataset ? readFailedSopInstanceUidList(response.dataset, context.transferSyntax) : [],
        errorComment: fields.errorComment,
      };
      if (statusClass(status) !== 'success') {
        logger.warn(`${commandName(commandField)} finished with status ${formatStatus(status)}`, {
          calledAe: this.options.calledAeTitle,
          failed: result.failed,
          error: fields.errorComment,
        });
      }
      return result;
    } finally {
      request.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Releases the association (A-RELEASE-RQ, PS3.8 section 7.2) after queued messages are sent. */
  async release(): Promise<void> {
    if (this.association.state === 'closed') {
      const end = this.association.endInfo;
      if (end?.reason === 'released') return;
      throw end?.error ?? new AssociationClosedError(`Association with ${this.association.peerDescription} is closed`, 'connection-closed');
    }
    await this.association.release();
  }

  /** Aborts the association (A-ABORT) at once; pending operations reject. */
  abort(): void {
    this.association.abort(ABORT_SOURCE.SERVICE_USER, ABORT_REASON.NOT_SPECIFIED);
  }
}

function toResult(response: ResponseMessage): DimseResult {
  const fields = response.command.fields;
  return { status: fields.status ?? 0, errorComment: fields.errorComment, offendingElements: fields.offendingElements, dataset: response.dataset };
}

function progressOf(response: ResponseMessage): RetrieveProgress {
  const fields = response.command.fields;
  return { remaining: fields.remaining ?? 0, completed: fields.completed ?? 0, failed: fields.failed ?? 0, warning: fields.warning ?? 0 };
}
