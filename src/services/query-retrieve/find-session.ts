/**
 * One association for C-FIND requests (Study Root information model, PS3.4
 * C.6.2) that runs queries one after another.
 */
import { CONTEXT_RESULT, DimseStatusError, PresentationContextsRejectedError, STATUS, statusClass } from '../../dicom/network';
import { lookupKeyword } from '../../dicom/tags';
import type { ClientAssociation } from '../../dicom/network';
import { SopClass } from '../../dicom/uid';
import { decodeResponseIdentifier, encodeRequestIdentifier, QUERY_TRANSFER_SYNTAXES } from './identifiers';
import type { DecodedIdentifier, QueryLevel, RequestKey } from './identifiers';
import { connectToNode, explainPeerAbort } from './remote-node';
import type { LocalIdentity, RemoteNode } from './remote-node';
import { describeNode, describeStatusFailure } from './statuses';

export interface FindSessionOptions {
  /**
   * Called for the first match of the session that arrives with status FF01:
   * the node did not support one or more optional keys for existence or
   * matching (PS3.4 table C.4-1). The match itself is yielded as usual.
   */
  onUnsupportedKeys?: () => void;
}

/** Thrown when a node accepts no C-FIND presentation context, as a storage-only SCP does. */
export class FindNotSupportedError extends Error {
  /** @param rejection the association's message, which names the node and the contexts it rejected */
  constructor(readonly rejection: string) {
    super(
      `${rejection}: it does not support Study Root Query/Retrieve - FIND (${SopClass.StudyRootQueryRetrieveFind}), ` +
        `so it may be a storage-only node. "loader send" still works with it`,
    );
    this.name = 'FindNotSupportedError';
  }
}

/**
 * Thrown when a node returned only part of the matches of a C-FIND. Either it ended the
 * query with status FE00 (Cancel: matching terminated due to cancel request, PS3.4 table
 * C.4-1) although the loader sent no C-CANCEL-RQ, or it listed fewer instances than it
 * reported as their number.
 */
export class FindIncompleteError extends Error {
  constructor(
    readonly node: RemoteNode,
    readonly level: QueryLevel,
    /** Matches received before the node ended the query. */
    readonly received: number,
    message: string,
  ) {
    super(message);
    this.name = 'FindIncompleteError';
  }
}

/**
 * Returns the message for a C-FIND that the node ended with status FE00 without a
 * C-CANCEL. Orthanc 1.10 does this when a query has more matches than its
 * LimitFindResults (PATIENT, STUDY and SERIES levels) or LimitFindInstances (IMAGE
 * level) setting. `advice` replaces the default advice to raise that limit.
 */
export function describeCancelledFind(node: RemoteNode, level: QueryLevel, received: number, advice?: string): string {
  const limit = level === 'IMAGE' ? 'LimitFindInstances' : 'LimitFindResults';
  return (
    `${describeNode(node)} ended the ${level} level C-FIND with status 0xFE00 (Cancel) after ${received} matches although the loader sent no C-CANCEL, ` +
    `so the list is incomplete; ${advice ?? `raise the node's limit on C-FIND matches (Orthanc: ${limit}, 0 for no limit)`}`
  );
}

/**
 * Returns the FindIncompleteError for a series whose IMAGE level C-FIND listed fewer instances
 * than the node reported as its Number of Series Related Instances (0020,1209), as a node
 * that truncates its matches without status FE00 does.
 */
export function shortInstanceListError(node: RemoteNode, seriesInstanceUid: string, listed: number, reported: number): FindIncompleteError {
  const message =
    `${describeNode(node)} listed ${listed} instances of series ${seriesInstanceUid} at the IMAGE level but reported ${reported} as its Number of Series Related Instances, ` +
    `so the instance list is incomplete; raise the node's limit on C-FIND matches (Orthanc: LimitFindInstances, 0 for no limit)`;
  return new FindIncompleteError(node, 'IMAGE', listed, message);
}

export class FindSession {
  private unsupportedKeysReported = false;

  private constructor(
    private readonly association: ClientAssociation,
    readonly node: RemoteNode,
    private readonly local: LocalIdentity,
    private readonly contextId: number,
    private readonly transferSyntax: string,
    private readonly options: FindSessionOptions,
  ) {}

  /** Opens an association that proposes Study Root Query/Retrieve - FIND; throws when the node rejects it. */
  static async open(node: RemoteNode, local: LocalIdentity, options: FindSessionOptions = {}): Promise<FindSession> {
    let association: ClientAssociation;
    try {
      association = await connectToNode(node, local, [{ abstractSyntax: SopClass.StudyRootQueryRetrieveFind, transferSyntaxes: [...QUERY_TRANSFER_SYNTAXES] }]);
    } catch (error) {
      if (!(error instanceof PresentationContextsRejectedError)) throw error;
      // For result 3 the text of FindNotSupportedError repeats the client's explanation, so only the summary goes in.
      const notSupported = error.rejected.some((context) => context.result === CONTEXT_RESULT.ABSTRACT_SYNTAX_NOT_SUPPORTED);
      throw new FindNotSupportedError(notSupported ? error.summary : error.message);
    }
    const context = association.findContext(SopClass.StudyRootQueryRetrieveFind);
    if (!context) {
      await association.release();
      throw new Error(`${node.name} did not accept Study Root Query/Retrieve - FIND`);
    }
    return new FindSession(association, node, local, context.id, context.transferSyntax, options);
  }

  /**
   * Sends one C-FIND request and yields each match as it arrives, with
   * status FF00 or FF01. Throws DimseStatusError on a failure status, and
   * FindIncompleteError when the node ends with status FE00 (Cancel) without a
   * C-CANCEL from the loader. Aborting `signal`, or leaving the loop early,
   * sends C-CANCEL-RQ and ends the iteration.
   */
  async *find(level: QueryLevel, keys: RequestKey[], signal?: AbortSignal): AsyncGenerator<DecodedIdentifier> {
    const identifier = encodeRequestIdentifier(level, keys, this.node.characterSets, this.transferSyntax);
    let received = 0;
    try {
      for await (const response of this.association.find({ contextId: this.contextId, identifier, signal })) {
        // The association sends C-CANCEL-RQ only when `signal` aborts, because a loop that reaches the final response did not leave early.
        if (statusClass(response.status) === 'cancel' && !signal?.aborted) throw new FindIncompleteError(this.node, level, received, describeCancelledFind(this.node, level, received));
        if (statusClass(response.status) !== 'pending' || !response.identifier) continue;
        received++;
        if (response.status === STATUS.PENDING_WITH_WARNINGS && !this.unsupportedKeysReported) {
          this.unsupportedKeysReported = true;
          this.options.onUnsupportedKeys?.();
        }
        yield decodeResponseIdentifier(response.identifier, this.transferSyntax, this.node.characterSets);
      }
    } catch (error) {
      if (error instanceof FindIncompleteError) throw error;
      if (error instanceof DimseStatusError) throw explainFindFailure(this.node, error);
      throw explainPeerAbort(error, this.node, this.local, 'during C-FIND');
    }
  }

  /** Releases the association unless it has already ended. */
  async close(): Promise<void> {
    if (this.association.isOpen) await this.association.release();
  }
}

/**
 * Rewrites a C-FIND failure from the association so that its message names the
 * node, the status's meaning and the offending elements the node listed.
 */
function explainFindFailure(node: RemoteNode, error: DimseStatusError): DimseStatusError {
  // NOTE: DimseStatusError does not carry the error comment, so it is taken from the
  // association's message "C-FIND failed with status 0xNNNN[: <error comment>]".
  const errorComment = /^C-FIND failed with status 0x[0-9A-F]{4}: (.*)$/s.exec(error.message)?.[1];
  let message = describeStatusFailure('C-FIND', node, error.status, errorComment);
  const offending = (error.offendingElements ?? []).map((tag) => lookupKeyword(tag) ?? `(${(tag >>> 16).toString(16).padStart(4, '0')},${(tag & 0xffff).toString(16).padStart(4, '0')})`);
  if (offending.length > 0) message += ` (offending elements: ${offending.join(', ')})`;
  return new DimseStatusError(error.status, message, error.offendingElements);
}
