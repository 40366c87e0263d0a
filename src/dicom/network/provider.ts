/**
 * Serves incoming DIMSE requests with application handlers and builds every response
 * (PS3.7 section 9.3, PS3.4 annexes A, B and C). Each request gets a response. A
 * request without a handler, on a context of another SOP class, or whose handler
 * throws, gets a failure status, and the association goes on serving.
 */

import type { Readable } from 'node:stream';

import type { DatasetSource } from './dataset-source';

import type { LogFields, Logger, RepeatLimiter } from '../../services/logger';
import { AcceptedContext, AssociationClosedError } from './association';
import type { IncomingMessage } from './message-assembler';
import { COMMAND_FIELD, CommandFields, DimseStatusError, MAX_ERROR_COMMENT_LENGTH, RESPONSE_BIT, STATUS, commandName, formatStatus, isResponse, statusClass } from './dimse';
import { DimseExchange, RequestHandler, collectDataset } from './exchange';
import { encodeFailedSopInstanceUidList } from './failed-uid-list';
import type { RoleSelection, UserIdentity } from './pdu';

export interface AssociationInfo {
  id: string;
  callingAeTitle: string;
  calledAeTitle: string;
  remoteAddress: string;
  remotePort: number;
  acceptedContexts: AcceptedContext[];
  roleSelections: RoleSelection[];
  peerMaxPduLength: number;
  userIdentity?: UserIdentity;
}

export interface RequestContext {
  association: AssociationInfo;
  presentationContext: AcceptedContext;
  /** Raw command elements by tag. */
  command: Map<number, Buffer>;
  messageId: number;
  affectedSopClassUid?: string;
  /** Aborted by a C-CANCEL-RQ for this message ID, or when the association ends. */
  signal: AbortSignal;
}

export interface StoreRequestContext extends RequestContext {
  sopClassUid: string;
  sopInstanceUid: string;
  priority: number;
  moveOriginator?: { aeTitle: string; messageId: number };
  /**
   * Data set bytes exactly as received, in presentationContext.transferSyntax. While this
   * stream's buffer is full the association stops reading the socket. The stream errors
   * if the association ends before the last fragment.
   */
  data: Readable;
}

export interface DimseResult {
  status: number;
  errorComment?: string;
  /** The whole failure text for the log, when `errorComment` is a shorter form of it. */
  errorDetail?: string;
  offendingElements?: number[];
  dataset?: Buffer;
}

export interface QueryRequestContext extends RequestContext {
  /** The complete identifier data set, in the context's transfer syntax. */
  identifier: Buffer;
}

export interface RetrieveProgress {
  remaining: number;
  completed: number;
  failed: number;
  warning: number;
}

export interface MoveRequestContext extends QueryRequestContext {
  moveDestination: string;
  sendPending(progress: RetrieveProgress): void;
}

export interface StoreSubOperation {
  contextId: number;
  sopClassUid: string;
  sopInstanceUid: string;
  data: DatasetSource;
  moveOriginator?: { aeTitle: string; messageId: number };
}

export interface GetRequestContext extends QueryRequestContext {
  sendPending(progress: RetrieveProgress): void;
  /**
   * Sends a C-STORE-RQ on this association (C-GET sub-operation), streaming `data` with
   * back-pressure, and resolves with the peer's C-STORE-RSP. The caller picks the
   * context: one accepted for the SOP class, for which the requestor was granted the
   * SCP role by role selection (PS3.4 C.4.3, PS3.7 D.3.3.4). Throws when it is not.
   */
  store(request: StoreSubOperation): Promise<DimseResult>;
}

export interface RetrieveResult extends RetrieveProgress {
  status: number;
  failedSopInstanceUids: string[];
  errorComment?: string;
}

/** One C-FIND match with the pending status of its response (PS3.4 table C.4-1). */
export interface FindMatch {
  identifier: Buffer;
  /** FF01 when one or more optional keys of the request were not supported for existence or matching; otherwise FF00. */
  status: typeof STATUS.PENDING | typeof STATUS.PENDING_WITH_WARNINGS;
}

export interface DimseHandlers {
  echo?(ctx: RequestContext): Promise<DimseResult>;
  store?(ctx: StoreRequestContext): Promise<DimseResult>;
  /**
   * Yields one identifier per match, sent with status FF00, or a FindMatch to choose
   * FF00 or FF01. The end of iteration sends 0000. After a C-CANCEL-RQ the layer stops
   * iterating and sends FE00. A thrown DimseStatusError sends its status and message;
   * any other error sends C001.
   */
  find?(ctx: QueryRequestContext): AsyncIterable<Buffer | FindMatch>;
  /** Runs the sub-operations. After ctx.signal aborts (C-CANCEL), stop and return status FE00 with the counts so far. */
  move?(ctx: MoveRequestContext): Promise<RetrieveResult>;
  /** As move(), with the sub-operations sent through ctx.store() on the same association. */
  get?(ctx: GetRequestContext): Promise<RetrieveResult>;
}

/** Turns a handler error into a response status: DimseStatusError keeps its status, anything else becomes `fallback`. */
export function resultFromError(error: unknown, fallback: number = STATUS.UNABLE_TO_PROCESS): DimseResult {
  if (error instanceof DimseStatusError) return { status: error.status, errorComment: error.message, offendingElements: error.offendingElements };
  return { status: fallback, errorComment: error instanceof Error ? error.message : String(error) };
}

/**
 * Makes text fit Error Comment (0000,0902), which is LO: at most 64 characters
 * (PS3.5 section 6.2), without backslash or control characters. Longer text is
 * cut at the last clause boundary (": ", "; ", ", ", " (") in the second half
 * of the limit, or else at the last space, so the comment never ends
 * mid-word. Callers put the reason first and log the full text.
 */
export function toErrorComment(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const clean = text.replace(/[\\\x00-\x1f\x7f-\uffff]/g, ' ').trim();
  if (clean.length <= MAX_ERROR_COMMENT_LENGTH) return clean;

  const head = clean.slice(0, MAX_ERROR_COMMENT_LENGTH + 1);
  const clauseEnd = Math.max(...[': ', '; ', ', ', ' ('].map((separator) => head.lastIndexOf(separator)));
  if (clauseEnd >= MAX_ERROR_COMMENT_LENGTH / 2) return head.slice(0, clauseEnd);
  const wordEnd = head.lastIndexOf(' ');
  if (wordEnd > 0) return head.slice(0, wordEnd).replace(/[,;:]$/, '');
  return clean.slice(0, MAX_ERROR_COMMENT_LENGTH);
}

/** Asks a find handler's iterator to finish, without waiting: a hung handler must not delay the FE00 response. */
function stopIterator(iterator: AsyncIterator<unknown>): void {
  try {
    void Promise.resolve(iterator.return?.()).catch(() => undefined);
  } catch {
    // An iterator whose return() throws has nothing left to clean up that we could reach.
  }
}

interface ProviderOptions {
  exchange: DimseExchange;
  info: AssociationInfo;
  handlers: DimseHandlers;
  logger: Logger;
  /** Limits the lines of C-STORE requests that fail for a local reason (A7xx, 0110); without it each is logged. */
  storeFailureLog?: RepeatLimiter;
}

/** Builds the request handler that serves one association with `handlers`. */
export function createRequestHandler(options: ProviderOptions): RequestHandler {
  return (message, signal) => new RequestServer(options, message, signal).serve();
}

/** Serves one request: validates it, runs its handler and sends the responses. */
class RequestServer {
  private readonly exchange: DimseExchange;
  private readonly fields: CommandFields;
  private readonly context: AcceptedContext;
  private readonly messageId: number;
  private readonly sopClassUid?: string;
  /** Set once the final response is on its way; later pending responses are dropped. */
  private finalSent = false;

  constructor(
    private readonly options: ProviderOptions,
    private readonly message: IncomingMessage,
    private readonly signal: AbortSignal,
  ) {
    this.exchange = options.exchange;
    this.fields = message.command.fields;
    this.context = options.exchange.context(message.contextId);
    this.messageId = this.fields.messageId ?? 0;
    this.sopClassUid = this.fields.affectedSopClassUid ?? this.fields.requestedSopClassUid;
  }

  /** Serves the request; when the association ends first, logs that and returns. */
  async serve(): Promise<void> {
    try {
      await this.dispatch();
    } catch (error) {
      if (this.exchange.association.isOpen) throw error;
      this.logAssociationEnded(error as Error);
    }
  }

  private async dispatch(): Promise<void> {
    const { commandField } = this.fields;
    if (this.fields.messageId === undefined) {
      return this.fail(STATUS.MISTYPED_ARGUMENT, `${commandName(commandField)} lacks Message ID (0000,0110)`);
    }
    const handlers = this.options.handlers;
    const supported: Record<number, unknown> = {
      [COMMAND_FIELD.C_ECHO_RQ]: handlers.echo,
      [COMMAND_FIELD.C_STORE_RQ]: handlers.store,
      [COMMAND_FIELD.C_FIND_RQ]: handlers.find,
      [COMMAND_FIELD.C_MOVE_RQ]: handlers.move,
      [COMMAND_FIELD.C_GET_RQ]: handlers.get,
    };
    if (!supported[commandField]) {
      return this.fail(STATUS.UNRECOGNIZED_OPERATION, `${commandName(commandField)} is not supported by this application entity`);
    }
    if (this.sopClassUid !== this.context.abstractSyntax) {
      return this.fail(
        STATUS.SOP_CLASS_NOT_SUPPORTED,
        `SOP class ${this.sopClassUid ?? '(missing)'} does not match presentation context ${this.context.id} (${this.context.abstractSyntax})`,
      );
    }

    switch (commandField) {
      case COMMAND_FIELD.C_ECHO_RQ:
        return this.serveEcho();
      case COMMAND_FIELD.C_STORE_RQ:
        return this.serveStore();
      case COMMAND_FIELD.C_FIND_RQ:
        return this.serveFind();
      default:
        return this.serveRetrieve(commandField === COMMAND_FIELD.C_MOVE_RQ ? 'move' : 'get');
    }
  }

  private baseContext(): RequestContext {
    return {
      association: this.options.info,
      presentationContext: this.context,
      command: this.message.command.elements,
      messageId: this.messageId,
      affectedSopClassUid: this.fields.affectedSopClassUid,
      signal: this.signal,
    };
  }

  private responseFields(status: number, extra: Partial<CommandFields> = {}): CommandFields {
    const { commandField } = this.fields;
    return {
      commandField: isResponse(commandField) ? commandField : commandField | RESPONSE_BIT,
      messageIdBeingRespondedTo: this.messageId,
      affectedSopClassUid: this.sopClassUid,
      status,
      hasDataset: false,
      ...extra,
    };
  }

  /** Fields that name the association and the request in every log line about it. */
  private requestFields(): LogFields {
    const info = this.options.info;
    return {
      association: info.id,
      callingAe: info.callingAeTitle,
      calledAe: info.calledAeTitle,
      peer: `${info.remoteAddress}:${info.remotePort}`,
      messageId: this.messageId,
      sopClassUid: this.sopClassUid,
      transferSyntax: this.context.transferSyntax,
    };
  }

  /**
   * Logs a final status other than Success, once per request. Cancel is logged at info
   * level, because the requester asked for it. Out of Resources (A7xx) and Processing
   * Failure (0110) are logged at error level, because the loader could not do its part.
   * Other failures and warnings are logged at warn level.
   */
  private logOutcome(result: DimseResult, extra: LogFields = {}): void {
    const command = commandName(this.fields.commandField);
    const fields = { ...this.requestFields(), status: formatStatus(result.status), error: result.errorDetail ?? result.errorComment, ...extra };
    switch (statusClass(result.status)) {
      case 'cancel':
        this.options.logger.info(`${command} cancelled`, fields);
        return;
      case 'warning':
        this.options.logger.warn(`${command} completed with a warning`, fields);
        return;
      default: {
        const localFailure = (result.status & 0xff00) === STATUS.OUT_OF_RESOURCES || result.status === STATUS.PROCESSING_FAILURE;
        const repeats = this.options.storeFailureLog;
        if (localFailure && repeats && this.fields.commandField === COMMAND_FIELD.C_STORE_RQ) {
          repeats.report(fields, this.options.info.remoteAddress, `${fields.status} ${result.errorComment ?? ''}`);
          return;
        }
        this.options.logger[localFailure ? 'error' : 'warn'](`${command} failed`, fields);
      }
    }
  }

  /**
   * Logs a request that ends without its final response because the association
   * ended: at info level when the peer released, aborted or closed the connection,
   * since that was its choice, and at warn level otherwise.
   */
  private logAssociationEnded(error: Error): void {
    const reason = this.exchange.association.endInfo?.reason;
    const byPeer = reason === 'released' || reason === 'peer-aborted' || reason === 'connection-closed';
    this.options.logger[byPeer ? 'info' : 'warn'](`${commandName(this.fields.commandField)} ended without its final response, because the association ended`, {
      ...this.requestFields(),
      sopInstanceUid: this.fields.affectedSopInstanceUid,
      reason,
      error: error.message,
    });
  }

  /** Drains any data set of the request, then sends a failure response. */
  private async fail(status: number, errorComment: string): Promise<void> {
    await this.drainRequest();
    this.logOutcome({ status, errorComment }, { sopInstanceUid: this.fields.affectedSopInstanceUid });
    const extra: Partial<CommandFields> = { errorComment: toErrorComment(errorComment) };
    if (this.fields.commandField === COMMAND_FIELD.C_STORE_RQ) extra.affectedSopInstanceUid = this.fields.affectedSopInstanceUid;
    await this.exchange.respond(this.context.id, this.responseFields(status, extra));
  }

  /** Discards what the handler did not read and waits for the request's last fragment, so the response follows it. */
  private async drainRequest(): Promise<void> {
    const data = this.message.data;
    if (data && !data.destroyed && !data.readableEnded) data.resume();
    await this.message.received;
  }

  private async serveEcho(): Promise<void> {
    let result: DimseResult;
    try {
      result = await this.options.handlers.echo!(this.baseContext());
    } catch (error) {
      result = resultFromError(error);
    }
    await this.sendFinal(result);
  }

  /** Returns the fields of a response worth logging: the SOP Instance UID and the sub-operation counts. */
  private responseLogFields(extra: Partial<CommandFields>): LogFields {
    return { sopInstanceUid: extra.affectedSopInstanceUid, completed: extra.completed, failed: extra.failed, warning: extra.warning, remaining: extra.remaining };
  }

  private async sendFinal(result: DimseResult, extra: Partial<CommandFields> = {}): Promise<void> {
    this.finalSent = true;
    if (statusClass(result.status) !== 'success') this.logOutcome(result, this.responseLogFields(extra));
    await this.exchange.respond(
      this.context.id,
      this.responseFields(result.status, { errorComment: toErrorComment(result.errorComment), offendingElements: result.offendingElements, ...extra }),
    );
  }

  private async serveStore(): Promise<void> {
    const data = this.message.data;
    const sopInstanceUid = this.fields.affectedSopInstanceUid;
    if (!data || !sopInstanceUid) {
      return this.fail(STATUS.CANNOT_UNDERSTAND, !data ? 'C-STORE-RQ carries no data set' : 'C-STORE-RQ lacks Affected SOP Instance UID (0000,1000)');
    }
    const moveOriginator =
      this.fields.moveOriginatorAeTitle !== undefined && this.fields.moveOriginatorMessageId !== undefined
        ? { aeTitle: this.fields.moveOriginatorAeTitle, messageId: this.fields.moveOriginatorMessageId }
        : undefined;
    const ctx: StoreRequestContext = {
      ...this.baseContext(),
      sopClassUid: this.sopClassUid!,
      sopInstanceUid,
      priority: this.fields.priority ?? 0,
      moveOriginator,
      data,
    };

    let result: DimseResult;
    try {
      result = await this.options.handlers.store!(ctx);
    } catch (error) {
      result = resultFromError(error);
    }
    // When the association ended before the data set's last fragment, this throws, and serve() logs it.
    await this.drainRequest();
    await this.sendFinal(result, { affectedSopInstanceUid: sopInstanceUid });
  }

  /** Reads the request identifier, or sends a failure response and returns undefined. */
  private async readIdentifier(): Promise<Buffer | undefined> {
    if (!this.message.data) {
      await this.fail(STATUS.CANNOT_UNDERSTAND, `${commandName(this.fields.commandField)} carries no identifier`);
      return undefined;
    }
    try {
      return await collectDataset(this.message.data);
    } catch (error) {
      if (error instanceof AssociationClosedError) throw error;
      await this.fail(STATUS.OUT_OF_RESOURCES, `Identifier rejected: ${(error as Error).message}`);
      return undefined;
    }
  }

  private async serveFind(): Promise<void> {
    const identifier = await this.readIdentifier();
    if (!identifier) return;
    const ctx: QueryRequestContext = { ...this.baseContext(), identifier };
    const cancelled = new Promise<'cancelled'>((resolve) => {
      if (this.signal.aborted) resolve('cancelled');
      else this.signal.addEventListener('abort', () => resolve('cancelled'), { once: true });
    });

    let iterator: AsyncIterator<Buffer | FindMatch> | undefined;
    let matches = 0;
    try {
      iterator = this.options.handlers.find!(ctx)[Symbol.asyncIterator]();
      for (;;) {
        const next = iterator.next();
        // A slow handler may settle after we stopped waiting for it; its result is then ignored.
        next.catch(() => undefined);
        const outcome = await Promise.race([next, cancelled]);
        if (outcome === 'cancelled') {
          stopIterator(iterator);
          return this.finishCancelled(matches);
        }
        if (outcome.done) break;
        matches++;
        const match = Buffer.isBuffer(outcome.value) ? { identifier: outcome.value, status: STATUS.PENDING } : outcome.value;
        await this.exchange.respond(this.context.id, this.responseFields(match.status, { hasDataset: true }), match.identifier);
      }
    } catch (error) {
      if (!this.exchange.association.isOpen) throw error;
      await this.sendFinal(resultFromError(error));
      return;
    }
    await this.sendFinal({ status: STATUS.SUCCESS });
  }

  private async finishCancelled(matches: number): Promise<void> {
    if (!this.exchange.association.isOpen) return;
    this.options.logger.info('C-FIND cancelled', { association: this.options.info.id, messageId: this.messageId, matchesSent: matches });
    await this.exchange.respond(this.context.id, this.responseFields(STATUS.CANCEL));
  }

  private sendPending = (progress: RetrieveProgress): void => {
    if (!this.exchange.association.isOpen || this.finalSent) return;
    const fields = this.responseFields(STATUS.PENDING, {
      remaining: progress.remaining,
      completed: progress.completed,
      failed: progress.failed,
      warning: progress.warning,
    });
    this.exchange.respond(this.context.id, fields).catch((error: Error) => {
      this.options.logger.warn('Failed to send a pending response', { association: this.options.info.id, messageId: this.messageId, error: error.message });
    });
  };

  private storeSubOperation = async (request: StoreSubOperation): Promise<DimseResult> => {
    const context = this.exchange.context(request.contextId);
    if (context.abstractSyntax !== request.sopClassUid) {
      throw new Error(`Presentation context ${request.contextId} is for ${context.abstractSyntax}, not ${request.sopClassUid}`);
    }
    const role = this.options.info.roleSelections.find((selection) => selection.sopClassUid === request.sopClassUid);
    if (!role?.scpRole) {
      throw new Error(`No SCP role for ${request.sopClassUid}: a C-GET sub-operation needs SCP/SCU role selection that grants ${this.options.info.callingAeTitle} the SCP role for this SOP class`);
    }
    const response = await this.exchange.request(
      request.contextId,
      {
        commandField: COMMAND_FIELD.C_STORE_RQ,
        messageId: this.exchange.nextMessageId(),
        affectedSopClassUid: request.sopClassUid,
        affectedSopInstanceUid: request.sopInstanceUid,
        priority: this.fields.priority ?? 0,
        moveOriginatorAeTitle: request.moveOriginator?.aeTitle,
        moveOriginatorMessageId: request.moveOriginator?.messageId,
        hasDataset: true,
      },
      request.data,
    );
    const fields = response.command.fields;
    return { status: fields.status ?? STATUS.CANNOT_UNDERSTAND, errorComment: fields.errorComment, offendingElements: fields.offendingElements };
  };

  private async serveRetrieve(kind: 'move' | 'get'): Promise<void> {
    const identifier = await this.readIdentifier();
    if (!identifier) return;

    let result: RetrieveResult;
    try {
      if (kind === 'move') {
        const moveDestination = this.fields.moveDestination;
        if (!moveDestination) throw new DimseStatusError(STATUS.MOVE_DESTINATION_UNKNOWN, 'C-MOVE-RQ lacks Move Destination (0000,0600)');
        result = await this.options.handlers.move!({ ...this.baseContext(), identifier, moveDestination, sendPending: this.sendPending });
      } else {
        result = await this.options.handlers.get!({ ...this.baseContext(), identifier, sendPending: this.sendPending, store: this.storeSubOperation });
      }
    } catch (error) {
      if (!this.exchange.association.isOpen) throw error;
      const failure = resultFromError(error);
      result = { status: failure.status, errorComment: failure.errorComment, remaining: 0, completed: 0, failed: 0, warning: 0, failedSopInstanceUids: [] };
    }
    if (!this.exchange.association.isOpen) return;

    // PS3.4 annex C: Number of Remaining Sub-operations goes in pending responses, and in a final response only with status Cancel.
    const extra: Partial<CommandFields> = {
      completed: result.completed,
      failed: result.failed,
      warning: result.warning,
      remaining: result.status === STATUS.CANCEL ? result.remaining : undefined,
    };
    if (result.failedSopInstanceUids.length > 0) {
      this.finalSent = true;
      extra.hasDataset = true;
      if (statusClass(result.status) !== 'success') this.logOutcome({ status: result.status, errorComment: result.errorComment }, { ...this.responseLogFields(extra), failedInstances: result.failedSopInstanceUids.length });
      const dataset = encodeFailedSopInstanceUidList(result.failedSopInstanceUids, this.context.transferSyntax);
      await this.exchange.respond(this.context.id, this.responseFields(result.status, { errorComment: toErrorComment(result.errorComment), ...extra }), dataset);
      return;
    }
    await this.sendFinal({ status: result.status, errorComment: result.errorComment }, extra);
  }
}
