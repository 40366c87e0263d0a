/**
 * Window texts for the errors that the DICOM network layer raises. The
 * network layer and the query/retrieve services write their messages in
 * English for logs and the command line. The window recognizes the common
 * cases and shows a summary in the interface language, which still names the
 * peer's AE title, host and port and the error code. Other errors keep their
 * own message.
 *
 * NOTE: most of these errors are plain Errors, so they are recognized by the
 * message texts of src/dicom/network (client.ts, association.ts, exchange.ts,
 * pdu.ts describeRejection and server.ts describeListenError).
 * test/ui/network-errors.test.ts raises the real errors, so a changed text
 * fails there.
 */
import { AssociationClosedError, AssociationRejectedError } from '../../dicom/network';
import type { MessageKey, Translate } from '../i18n';

/** A peer as the network layer names it: "AE at host:port". */
const PEER = String.raw`(\S+) at (\S+):(\d+)`;

/** Reasons of A-ASSOCIATE-RJ as describeRejection words them (PS3.8 table 9-21), with the text that explains them. */
const REJECTION_REASONS: Record<string, MessageKey> = {
  'no reason given': 'network.reason.noReason',
  'application context name not supported': 'network.reason.applicationContext',
  'calling AE title not recognized': 'network.reason.callingAeTitle',
  'called AE title not recognized': 'network.reason.calledAeTitle',
  'protocol version not supported': 'network.reason.protocolVersion',
  'temporary congestion': 'network.reason.congestion',
  'local limit exceeded': 'network.reason.localLimit',
};

/** Socket error codes of a failed TCP connect, with the text that explains them. */
const CONNECT_ERRORS: Record<string, MessageKey> = {
  ECONNREFUSED: 'network.connect.refused',
  ENOTFOUND: 'network.connect.hostNotFound',
  EAI_AGAIN: 'network.connect.hostNotFound',
  EHOSTUNREACH: 'network.connect.unreachable',
  ENETUNREACH: 'network.connect.unreachable',
  ETIMEDOUT: 'network.connect.timedOut',
  ECONNRESET: 'network.connect.reset',
};

/** Formats the peer of a regular expression match as the window's panels show a node: AE@host:port. */
function peerOf(match: RegExpExecArray, first: number): string {
  return `${match[first]}@${match[first + 1]}:${match[first + 2]}`;
}

/** Returns the messages of the error and of its causes, outermost first. */
function messagesOf(error: unknown): string[] {
  const messages: string[] = [];
  for (let current = error; current !== undefined && current !== null; current = current instanceof Error ? current.cause : undefined) {
    messages.push(current instanceof Error ? current.message : String(current));
    if (!(current instanceof Error)) break;
  }
  return messages;
}

function describeRejection(t: Translate, message: string, result?: number): string | undefined {
  const match = new RegExp(String.raw`Association rejected (permanently|transiently|\(result \d+\)) by [^:]+: (.+?) \(peer ${PEER}\)`).exec(message);
  if (!match) return undefined;
  const permanent = result === undefined ? match[1] === 'permanently' : result === 1;
  const reasonKey = REJECTION_REASONS[match[2]];
  return t(permanent ? 'network.rejected.permanent' : 'network.rejected.transient', {
    peer: peerOf(match, 3),
    reason: reasonKey === undefined ? match[2] : t(reasonKey),
  });
}

function describeConnectFailure(t: Translate, message: string): string | undefined {
  const timedOut = new RegExp(String.raw`Timed out after (\d+) ms connecting to ${PEER}`).exec(message);
  if (timedOut) return t('network.connect.noAnswer', { peer: peerOf(timedOut, 2), milliseconds: timedOut[1] });
  const failed = new RegExp(String.raw`Failed to connect to ${PEER}: .*?\b(E[A-Z_]{3,})\b`).exec(message);
  if (!failed) return undefined;
  const key = CONNECT_ERRORS[failed[4]] ?? 'network.connect.failed';
  return t(key, { peer: peerOf(failed, 1), code: failed[4] });
}

function describeAssociationEnd(t: Translate, message: string, reason?: string): string | undefined {
  const peer = new RegExp(PEER).exec(message);
  if (!peer) return undefined;
  const parameters = { peer: peerOf(peer, 1) };
  const milliseconds = /(?:within|for) (\d+) ms/.exec(message);
  if (reason === 'timeout' || /^DIMSE timeout|did not answer the A-(ASSOCIATE|RELEASE)-RQ within/.test(message)) {
    // Tenths of a second, so a short test timeout does not show as 0 s.
    return t('network.timedOut', { ...parameters, seconds: milliseconds ? Math.round(Number(milliseconds[1]) / 100) / 10 : '?' });
  }
  if (/^Association with \S+ at \S+ aborted by the service (user|provider)/.test(message)) return t('network.aborted', parameters);
  if (/^Connection closed by |^Connection to \S+ at \S+ failed: /.test(message)) return t('network.connectionLost', parameters);
  return undefined;
}

/** Recognizes client.ts's error for an association in which the peer accepted no proposed presentation context. */
function describeNoContexts(t: Translate, message: string): string | undefined {
  const match = new RegExp(String.raw`^${PEER} accepted none of the (\d+) proposed presentation contexts`).exec(message);
  return match ? t('network.noContexts', { peer: peerOf(match, 1), count: match[4] }) : undefined;
}

function describeListenFailure(t: Translate, message: string): string | undefined {
  const match = /port (\d+) on (\S+) is already in use \(EADDRINUSE\)/.exec(message);
  return match ? t('network.portInUse', { port: match[1], host: match[2] }) : undefined;
}

/**
 * Returns the window's text for a network error in the language of `t`, or
 * undefined when the error is not one of the recognized cases. Errors wrapped
 * by the services are recognized by any message in their cause chain.
 */
export function describeNetworkError(t: Translate, error: unknown): string | undefined {
  const rejected = error instanceof AssociationRejectedError ? error.result : undefined;
  const endReason = error instanceof AssociationClosedError ? error.reason : undefined;
  for (const message of messagesOf(error)) {
    const text = describeRejection(t, message, rejected) ?? describeConnectFailure(t, message) ?? describeAssociationEnd(t, message, endReason) ?? describeNoContexts(t, message) ?? describeListenFailure(t, message);
    if (text !== undefined) return text;
  }
  return undefined;
}
