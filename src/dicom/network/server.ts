/**
 * DicomServer: an application entity that accepts associations (the acceptor role of
 * PS3.8 section 9.2) and serves DIMSE requests with the handlers it is given.
 */

import { EventEmitter } from 'node:events';
import { Server, Socket, createServer } from 'node:net';

import { RepeatLimiter, createLogger } from '../../services/logger';
import { AcceptedContext, Association, AssociationTimeouts, DEFAULT_TIMEOUTS, EndReason } from './association';
import { DimseExchange } from './exchange';
import {
  ABORT_REASON,
  ABORT_SOURCE,
  AssociateAcPdu,
  AssociateRqPdu,
  DICOM_APPLICATION_CONTEXT,
  PDU_TYPE,
  PresentationContextProposal,
  PresentationContextResult,
  RoleSelection,
  UserIdentity,
  describeRejection,
  encodeAeTitle,
} from './pdu';
import { AssociationInfo, DimseHandlers, createRequestHandler } from './provider';
import { SocketReadBuffer, adoptAcceptedSocket } from './socket-read-buffer';

const logger = createLogger('loader.network');

export interface AssociateRequest {
  /** AE titles with padding spaces removed. */
  callingAeTitle: string;
  calledAeTitle: string;
  applicationContextName: string;
  maxPduLength: number;
  implementationClassUid: string;
  implementationVersionName?: string;
  contexts: PresentationContextProposal[];
  roleSelections: RoleSelection[];
  userIdentity?: UserIdentity;
  remoteAddress: string;
  remotePort: number;
}

export type AssociationDecision =
  | {
      accept: true;
      /** Result per proposed context; proposed contexts missing here are rejected with result 2 (no reason). */
      contexts: { id: number; result: 0 | 1 | 2 | 3 | 4; transferSyntax?: string }[];
      /** Roles granted; only roles that were proposed are sent back (PS3.7 D.3.3.4). */
      roleSelections?: RoleSelection[];
      userIdentityServerResponse?: Buffer;
    }
  | { accept: false; result: 1 | 2; source: 1 | 2 | 3; reason: number; logMessage: string };

export interface DicomServerOptions {
  aeTitle: string;
  /** Maximum PDU length we advertise and accept, in bytes; defaults to DEFAULT_MAX_PDU_LENGTH. */
  maxPduLength?: number;
  implementationClassUid: string;
  implementationVersionName: string;
  decide(request: AssociateRequest): AssociationDecision | Promise<AssociationDecision>;
  handlers: DimseHandlers;
  timeouts?: { associationMs?: number; dimseMs?: number; idleMs?: number };
  /**
   * Associations beyond this count are rejected with source 3, reason 2 (local limit exceeded).
   * Connections that have not sent their A-ASSOCIATE-RQ yet do not count (see MAX_CONNECTIONS_AWAITING_REQUEST).
   */
  maxAssociations?: number;
  /**
   * Associations from one calling AE title beyond this count are rejected the same way, so one
   * node cannot hold every slot of maxAssociations. Counted like maxAssociations, from the
   * A-ASSOCIATE-RQ until the association ends.
   */
  maxAssociationsPerAe?: number;
}

/**
 * Connections that may wait for their A-ASSOCIATE-RQ at once. A new connection
 * beyond this closes the one that has waited longest. When idle connections
 * counted against maxAssociations, 32 of them that sent nothing kept every
 * caller out until the ARTIM timer closed them 30 s later.
 */
export const MAX_CONNECTIONS_AWAITING_REQUEST = 64;

/** Our default maximum PDU length: large enough for throughput, small enough to bound per-PDU memory. */
export const DEFAULT_MAX_PDU_LENGTH = 256 * 1024;

/** Accepted range for our maximum PDU length. 4096 is an arbitrary floor; PS3.8 sets none. */
export const MIN_MAX_PDU_LENGTH = 4096;
export const MAX_MAX_PDU_LENGTH = 16 * 1024 * 1024;

/** Validates and returns our maximum PDU length setting. */
export function checkMaxPduLength(value: number | undefined): number {
  const length = value ?? DEFAULT_MAX_PDU_LENGTH;
  if (!Number.isInteger(length) || length < MIN_MAX_PDU_LENGTH || length > MAX_MAX_PDU_LENGTH) {
    throw new RangeError(`Invalid maxPduLength ${value}: expected an integer from ${MIN_MAX_PDU_LENGTH} to ${MAX_MAX_PDU_LENGTH}`);
  }
  return length;
}

/**
 * Builds a decision that accepts each proposed context whose abstract syntax is in
 * `supported`, with the first proposed transfer syntax that the map lists for it
 * (an empty list accepts the requestor's first choice). Other contexts get result 3
 * or 4. Convenient for servers that need no other policy.
 */
export function acceptSupportedContexts(request: AssociateRequest, supported: Map<string, string[]>): AssociationDecision {
  const contexts = request.contexts.map((proposal) => {
    const transferSyntaxes = supported.get(proposal.abstractSyntax);
    if (!transferSyntaxes) return { id: proposal.id, result: 3 as const };
    const chosen = transferSyntaxes.length === 0 ? proposal.transferSyntaxes[0] : proposal.transferSyntaxes.find((uid) => transferSyntaxes.includes(uid));
    return chosen ? { id: proposal.id, result: 0 as const, transferSyntax: chosen } : { id: proposal.id, result: 4 as const };
  });
  return { accept: true, contexts };
}

/**
 * Builds the rejection for an association beyond a limit of this server: result rejected-transient, source
 * DICOM UL service-provider (presentation related function), reason local-limit-exceeded (PS3.8 section 9.3.4).
 */
function rejectLocalLimitExceeded(logMessage: string): AssociationDecision {
  return { accept: false, result: 2, source: 3, reason: 2, logMessage };
}

/** True when an AE title received from a peer can be sent back in the A-ASSOCIATE-AC. */
function isEncodableAeTitle(aeTitle: string): boolean {
  try {
    encodeAeTitle(aeTitle);
    return true;
  } catch {
    return false;
  }
}

/**
 * Rewrites the listen() errors that users meet most into messages that name
 * the port or address and the fix. The result keeps the errno code in `code`
 * and in the text; other errors are returned unchanged.
 */
export function describeListenError(error: NodeJS.ErrnoException, port: number, host: string): Error {
  let message: string | undefined;
  if (error.code === 'EADDRINUSE') {
    message = `port ${port} on ${host} is already in use (EADDRINUSE): stop the program using it or choose another port`;
  } else if (error.code === 'EACCES' && port < 1024) {
    message =
      `binding port ${port} needs root or the CAP_NET_BIND_SERVICE capability (EACCES): run as root, ` +
      'grant the capability with "setcap cap_net_bind_service=+ep" on the node binary, or choose a port from 1024 up';
  } else if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND') {
    message =
      `cannot listen on ${host} (${error.code}): it is not an address of this machine; ` +
      'choose one of its addresses or 0.0.0.0 (every interface)';
  }
  if (message === undefined) return error;
  return Object.assign(new Error(message, { cause: error }), { code: error.code });
}

export class DicomServer extends EventEmitter {
  private readonly options: DicomServerOptions;
  private readonly maxPduLength: number;
  private readonly timeouts: AssociationTimeouts;
  private readonly associations = new Set<Association>();
  /**
   * Calling AE titles of the associations that sent an A-ASSOCIATE-RQ, for maxAssociationsPerAe and for
   * the message that rejects one beyond maxAssociations. An entry counts until its association leaves `associations`.
   */
  private readonly callingAeTitles = new WeakMap<Association, string>();
  /** Connections that makeRoomForConnection closed, whose end it has logged already. */
  private readonly closedForRoom = new WeakSet<Association>();
  private server?: Server;
  private nextAssociationNumber = 1;
  private closing = false;
  /**
   * Log lines that a peer can repeat once per connection. Each writes its first occurrence
   * and then one summary per minute, so a flood of connections cannot fill the disk.
   */
  private readonly closedForRoomLog = new RepeatLimiter(logger, 'warn', 'Closed the connection that waited longest without an A-ASSOCIATE-RQ, to make room for a new one');
  private readonly artimExpiredLog = new RepeatLimiter(logger, 'warn', 'Closed a connection that sent no A-ASSOCIATE-RQ before the ARTIM timer expired');
  private readonly closedByPeerLog = new RepeatLimiter(logger, 'info', 'Connection closed by the peer before an A-ASSOCIATE-RQ');
  private readonly invalidDataLog = new RepeatLimiter(logger, 'warn', 'Closed a connection that sent invalid data before an A-ASSOCIATE-RQ');
  private readonly rejectedLog = new RepeatLimiter(logger, 'warn', 'Association rejected');
  /**
   * C-STORE failures of this server (status A7xx or 0110). When the archive cannot write, every
   * instance fails with the same Error Comment, so the first is logged whole and the rest are counted.
   */
  private readonly storeFailureLog = new RepeatLimiter(logger, 'error', 'C-STORE-RQ failed');

  constructor(options: DicomServerOptions) {
    super();
    this.options = options;
    this.maxPduLength = checkMaxPduLength(options.maxPduLength);
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  }

  /** Number of open connections, including those still negotiating. */
  get associationCount(): number {
    return this.associations.size;
  }

  /** Starts listening; port 0 picks a free port. Resolves with the bound address. */
  listen(port: number, host = '0.0.0.0'): Promise<{ port: number; host: string }> {
    if (this.server) return Promise.reject(new Error('DicomServer is already listening'));
    // Paused, so that onConnection can move each connection into a socket that reads into a reused buffer.
    const server = createServer({ pauseOnConnect: true }, (socket) => this.onConnection(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      const onListenError = (error: NodeJS.ErrnoException) => reject(describeListenError(error, port, host));
      server.once('error', onListenError);
      server.listen(port, host, () => {
        server.off('error', onListenError);
        server.on('error', (error) => {
          logger.error('Server socket error', { aeTitle: this.options.aeTitle, error: error.message });
          // EventEmitter throws when an 'error' event has no listener, so emit it only when one exists.
          if (this.listenerCount('error') > 0) this.emit('error', error);
        });
        const address = server.address();
        const bound = typeof address === 'object' && address ? { port: address.port, host: address.address } : { port, host };
        logger.info('DICOM server listening', { aeTitle: this.options.aeTitle, host: bound.host, port: bound.port, maxPduLength: this.maxPduLength });
        resolve(bound);
      });
    });
  }

  /**
   * Stops accepting connections, waits until running DIMSE operations finish and the
   * peers end their associations, then resolves. Associations still open after
   * `timeoutMs` (default 10 s) are aborted.
   */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    this.closing = true;
    const server = this.server;
    const stopped = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();

    const allEnded = Promise.all([...this.associations].map((association) => new Promise<void>((resolve) => {
      if (association.state === 'closed') resolve();
      else association.once('end', () => resolve());
    })));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([allEnded, timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      logger.warn('Aborting associations still open at server close', { aeTitle: this.options.aeTitle, count: this.associations.size, timeoutMs });
      for (const association of this.associations) {
        association.abort(ABORT_SOURCE.SERVICE_PROVIDER, ABORT_REASON.NOT_SPECIFIED, 'Server closed');
      }
    }
    for (const association of this.associations) association.socket.destroy();
    await stopped;
    this.server = undefined;
    for (const repeats of [this.closedForRoomLog, this.artimExpiredLog, this.closedByPeerLog, this.invalidDataLog, this.rejectedLog, this.storeFailureLog]) {
      repeats.flush();
    }
    logger.info('DICOM server closed', { aeTitle: this.options.aeTitle });
  }

  private onConnection(accepted: Socket): void {
    this.makeRoomForConnection();
    const readBuffer = new SocketReadBuffer();
    const adopted = adoptAcceptedSocket(accepted, readBuffer);
    const socket = adopted ?? accepted;
    const remoteAddress = socket.remoteAddress ?? 'unknown';
    const remotePort = socket.remotePort ?? 0;
    const id = `${this.options.aeTitle}-${this.nextAssociationNumber++}`;
    const association = new Association({
      role: 'acceptor',
      socket,
      maxPduLength: this.maxPduLength,
      timeouts: this.timeouts,
      logger,
      peerDescription: `${remoteAddress}:${remotePort}`,
      readBuffer: adopted ? readBuffer : undefined,
    });
    // The accepted socket was created paused; an adopted one reads already.
    if (!adopted) accepted.resume();
    this.associations.add(association);

    let requested = false;
    association.once('associateRequest', (pdu: AssociateRqPdu) => {
      requested = true;
      this.onAssociateRequest(association, id, pdu, remoteAddress, remotePort).catch((error: Error) => {
        logger.error('Association negotiation failed', { association: id, peer: association.peerDescription, error: error.message });
        association.abort(ABORT_SOURCE.SERVICE_PROVIDER, ABORT_REASON.NOT_SPECIFIED, error.message);
      });
    });
    association.once('end', (end) => {
      this.associations.delete(association);
      if (!requested) this.logUnrequestedEnd(association, remoteAddress, end.reason, end.error);
      else {
        // A rejection was logged already, with repeats counted, so its end adds nothing at info level.
        const level = end.reason === 'rejected' ? 'debug' : 'info';
        logger[level]('Association ended', { association: id, peer: association.peerDescription, reason: end.reason, detail: end.reason === 'released' ? undefined : end.error.message });
      }
      this.emit('associationEnd', { id, reason: end.reason, error: end.error });
    });
  }

  /** Closes the connection that has waited longest for its A-ASSOCIATE-RQ when MAX_CONNECTIONS_AWAITING_REQUEST wait. */
  private makeRoomForConnection(): void {
    const waiting = [...this.associations].filter((association) => association.state === 'awaiting-request');
    if (waiting.length < MAX_CONNECTIONS_AWAITING_REQUEST) return;
    const oldest = waiting[0];
    this.closedForRoom.add(oldest);
    this.closedForRoomLog.report({ aeTitle: this.options.aeTitle, peer: oldest.peerDescription, waiting: waiting.length }, oldest.socket.remoteAddress ?? 'unknown');
    oldest.socket.destroy();
  }

  /**
   * Logs the end of a connection that never sent an A-ASSOCIATE-RQ. Any host can open
   * such connections without limit, so these lines go through a RepeatLimiter.
   */
  private logUnrequestedEnd(association: Association, remoteAddress: string, reason: EndReason, error: Error): void {
    const fields = { aeTitle: this.options.aeTitle, peer: association.peerDescription };
    if (this.closedForRoom.delete(association)) return;
    if (reason === 'timeout') {
      this.artimExpiredLog.report({ ...fields, associationTimeoutMs: this.timeouts.associationMs }, remoteAddress);
    } else if (reason === 'connection-closed' || reason === 'peer-aborted') {
      this.closedByPeerLog.report({ ...fields, reason }, remoteAddress);
    } else if (reason === 'protocol-error') {
      // Keyed by the error, so each kind of invalid data gets its own first line.
      this.invalidDataLog.report({ ...fields, error: error.message }, remoteAddress, error.message);
    } else {
      logger.info('Connection ended before an A-ASSOCIATE-RQ', { ...fields, reason, detail: error.message });
    }
  }

  private async onAssociateRequest(association: Association, id: string, pdu: AssociateRqPdu, remoteAddress: string, remotePort: number): Promise<void> {
    const request: AssociateRequest = {
      callingAeTitle: pdu.callingAeTitle,
      calledAeTitle: pdu.calledAeTitle,
      applicationContextName: pdu.applicationContextName,
      maxPduLength: pdu.userInformation.maxPduLength,
      implementationClassUid: pdu.userInformation.implementationClassUid,
      implementationVersionName: pdu.userInformation.implementationVersionName,
      contexts: pdu.contexts,
      roleSelections: pdu.userInformation.roleSelections,
      userIdentity: pdu.userInformation.userIdentity,
      remoteAddress,
      remotePort,
    };
    association.peerDescription = `${request.callingAeTitle} at ${remoteAddress}:${remotePort}`;
    association.aeTitles = { calling: request.callingAeTitle, called: request.calledAeTitle };

    const decision = await this.decide(association, request, pdu);
    if (association.state !== 'awaiting-local-decision') return;
    if (!decision.accept) {
      const rejection = describeRejection(decision.result, decision.source, decision.reason);
      const fields = {
        association: id,
        callingAe: request.callingAeTitle,
        calledAe: request.calledAeTitle,
        peer: `${remoteAddress}:${remotePort}`,
        reason: decision.logMessage,
        rejection,
      };
      // A peer that retries after each rejection repeats the same line, so the limiter counts by AE titles, rejection and cause.
      // One rejection code covers several causes (a wrong passcode, no passcode), so the cause is in the key, except for
      // the provider's limits (source 3), whose messages carry counts that change with every attempt.
      const cause = decision.source === 3 ? '' : decision.logMessage;
      this.rejectedLog.report(fields, remoteAddress, `${request.callingAeTitle}\\${request.calledAeTitle}\\${rejection}\\${cause}`);
      association.reject({ result: decision.result, source: decision.source, reason: decision.reason });
      return;
    }

    const { results, accepted } = this.checkContexts(pdu, decision.contexts);
    const roleSelections = this.grantedRoles(request.roleSelections, decision.roleSelections ?? []);
    const response: AssociateAcPdu = {
      type: PDU_TYPE.ASSOCIATE_AC,
      protocolVersion: 1,
      calledAeTitle: pdu.calledAeTitle,
      callingAeTitle: pdu.callingAeTitle,
      applicationContextName: DICOM_APPLICATION_CONTEXT,
      contexts: results,
      userInformation: {
        maxPduLength: this.maxPduLength,
        implementationClassUid: this.options.implementationClassUid,
        implementationVersionName: this.options.implementationVersionName,
        // No asynchronous operations window is returned, so both sides default to one operation at a time (PS3.7 D.3.3.3).
        roleSelections,
        userIdentityServerResponse: request.userIdentity?.positiveResponseRequested ? decision.userIdentityServerResponse : undefined,
      },
    };

    const info: AssociationInfo = {
      id,
      callingAeTitle: request.callingAeTitle,
      calledAeTitle: request.calledAeTitle,
      remoteAddress,
      remotePort,
      acceptedContexts: accepted,
      roleSelections,
      peerMaxPduLength: request.maxPduLength,
      userIdentity: request.userIdentity,
    };
    const exchange = new DimseExchange(association, this.timeouts.dimseMs, logger);
    exchange.requestHandler = createRequestHandler({ exchange, info, handlers: this.options.handlers, logger, storeFailureLog: this.storeFailureLog });
    association.accept(response, accepted, request.maxPduLength);

    logger.info('Association accepted', {
      association: id,
      callingAe: request.callingAeTitle,
      calledAe: request.calledAeTitle,
      peer: `${remoteAddress}:${remotePort}`,
      acceptedContexts: accepted.length,
      proposedContexts: request.contexts.length,
      peerMaxPduLength: request.maxPduLength,
    });
    this.emit('association', info);
  }

  /** Returns "AE1=3, AE2=1" for the other associations that sent an A-ASSOCIATE-RQ and are still open, most first. */
  private countOpenAssociationsByAeTitle(except: Association): string {
    const counts = new Map<string, number>();
    for (const association of this.associations) {
      const aeTitle = this.callingAeTitles.get(association);
      if (aeTitle === undefined || association === except) continue;
      counts.set(aeTitle, (counts.get(aeTitle) ?? 0) + 1);
    }
    return [...counts].sort((a, b) => b[1] - a[1]).map(([aeTitle, count]) => `${aeTitle}=${count}`).join(', ');
  }

  /** Returns the number of open associations other than `except` that `callingAeTitle` requested. */
  private countAssociationsOfAeTitle(callingAeTitle: string, except: Association): number {
    let count = 0;
    for (const association of this.associations) {
      if (association !== except && this.callingAeTitles.get(association) === callingAeTitle) count++;
    }
    return count;
  }

  /** Applies the checks this layer owns, then calls the application's decide(). */
  private async decide(association: Association, request: AssociateRequest, pdu: AssociateRqPdu): Promise<AssociationDecision> {
    if ((pdu.protocolVersion & 0x0001) === 0) {
      return { accept: false, result: 1, source: 2, reason: 2, logMessage: `Protocol version 0x${pdu.protocolVersion.toString(16)} not supported` };
    }
    if (request.applicationContextName !== DICOM_APPLICATION_CONTEXT) {
      return { accept: false, result: 1, source: 1, reason: 2, logMessage: `Application context ${request.applicationContextName} not supported` };
    }
    if (!isEncodableAeTitle(request.callingAeTitle)) {
      return { accept: false, result: 1, source: 1, reason: 3, logMessage: `Invalid calling AE title ${JSON.stringify(request.callingAeTitle)}` };
    }
    if (!isEncodableAeTitle(request.calledAeTitle)) {
      return { accept: false, result: 1, source: 1, reason: 7, logMessage: `Invalid called AE title ${JSON.stringify(request.calledAeTitle)}` };
    }
    if (this.closing) {
      return { accept: false, result: 2, source: 3, reason: 1, logMessage: 'Server is closing' };
    }
    const limit = this.options.maxAssociations;
    const negotiating = [...this.associations].filter((association) => association.state !== 'awaiting-request').length;
    if (limit !== undefined && negotiating > limit) {
      return rejectLocalLimitExceeded(
        `Limit of ${limit} simultaneous associations (pacs.maxAssociations) reached; ` +
          `open associations by calling AE title: ${this.countOpenAssociationsByAeTitle(association)}. ` +
          'Raise the limit with "loader config set pacs.maxAssociations N" and restart the server, or close idle associations on those hosts',
      );
    }
    const limitPerAe = this.options.maxAssociationsPerAe;
    const openOfAeTitle = this.countAssociationsOfAeTitle(request.callingAeTitle, association);
    if (limitPerAe !== undefined && openOfAeTitle >= limitPerAe) {
      return rejectLocalLimitExceeded(
        `Limit of ${limitPerAe} simultaneous associations per calling AE title (pacs.maxAssociationsPerAe) reached: ` +
          `${request.callingAeTitle} has ${openOfAeTitle} open. Close idle associations on that node or lower its number of parallel associations, ` +
          'or raise the limit with "loader config set pacs.maxAssociationsPerAe N" and restart the server',
      );
    }
    // Counted from here, so that requests of one AE title that negotiate at the same time count against each other.
    this.callingAeTitles.set(association, request.callingAeTitle);
    if (request.maxPduLength !== 0 && request.maxPduLength < 7) {
      return { accept: false, result: 1, source: 1, reason: 1, logMessage: `Maximum PDU length ${request.maxPduLength} is too small to carry data` };
    }
    try {
      return await this.options.decide(request);
    } catch (error) {
      return { accept: false, result: 1, source: 1, reason: 1, logMessage: `decide() threw: ${(error as Error).message}` };
    }
  }

  /** Validates the application's context results against the proposals. Invalid or missing results become rejections. */
  private checkContexts(pdu: AssociateRqPdu, decided: { id: number; result: 0 | 1 | 2 | 3 | 4; transferSyntax?: string }[]): { results: PresentationContextResult[]; accepted: AcceptedContext[] } {
    const results: PresentationContextResult[] = [];
    const accepted: AcceptedContext[] = [];
    for (const proposal of pdu.contexts) {
      const decision = decided.find((entry) => entry.id === proposal.id);
      if (!decision) {
        results.push({ id: proposal.id, result: 2 });
        continue;
      }
      if (decision.result !== 0) {
        results.push({ id: proposal.id, result: decision.result });
        continue;
      }
      if (!decision.transferSyntax || !proposal.transferSyntaxes.includes(decision.transferSyntax)) {
        logger.error('decide() accepted a context with a transfer syntax that was not proposed; rejecting it', {
          contextId: proposal.id,
          transferSyntax: decision.transferSyntax,
        });
        results.push({ id: proposal.id, result: 4 });
        continue;
      }
      results.push({ id: proposal.id, result: 0, transferSyntax: decision.transferSyntax });
      accepted.push({ id: proposal.id, abstractSyntax: proposal.abstractSyntax, transferSyntax: decision.transferSyntax });
    }
    return { results, accepted };
  }

  /** Returns the granted roles, limited to what the requestor proposed. */
  private grantedRoles(proposed: RoleSelection[], granted: RoleSelection[]): RoleSelection[] {
    const result: RoleSelection[] = [];
    for (const proposal of proposed) {
      const grant = granted.find((entry) => entry.sopClassUid === proposal.sopClassUid);
      if (!grant) continue;
      result.push({ sopClassUid: proposal.sopClassUid, scuRole: proposal.scuRole && grant.scuRole, scpRole: proposal.scpRole && grant.scpRole });
    }
    return result;
  }
}
