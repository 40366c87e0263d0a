/**
 * The error for an A-ASSOCIATE-AC that accepts none of the proposed
 * presentation contexts, worded by the result the peer gave each context
 * (PS3.8 section 9.3.3.2, presentation context item of the A-ASSOCIATE-AC).
 */
import { describeStorageSopClass, describeTransferSyntax, SopClass } from '../uid';
import type { PresentationContextResult } from './pdu';

/** Result values of a presentation context item in an A-ASSOCIATE-AC (PS3.8 section 9.3.3.2). */
export const CONTEXT_RESULT = {
  ACCEPTANCE: 0,
  USER_REJECTION: 1,
  NO_REASON: 2,
  ABSTRACT_SYNTAX_NOT_SUPPORTED: 3,
  TRANSFER_SYNTAXES_NOT_SUPPORTED: 4,
} as const;

/** A proposed presentation context that the peer did not accept. */
export interface RejectedContext {
  id: number;
  abstractSyntax: string;
  transferSyntaxes: string[];
  /**
   * The result the peer returned (1 to 4), 0 when it accepted the context in
   * a transfer syntax that was not proposed, or undefined when the
   * A-ASSOCIATE-AC has no item for the context.
   */
  result?: number;
  /** The transfer syntax of an item with result 0 that was not among the proposed ones. */
  unproposedTransferSyntax?: string;
}

const QUERY_RETRIEVE_NAMES: Record<string, string> = {
  [SopClass.Verification]: 'Verification',
  [SopClass.PatientRootQueryRetrieveFind]: 'Patient Root Query/Retrieve - FIND',
  [SopClass.PatientRootQueryRetrieveMove]: 'Patient Root Query/Retrieve - MOVE',
  [SopClass.PatientRootQueryRetrieveGet]: 'Patient Root Query/Retrieve - GET',
  [SopClass.StudyRootQueryRetrieveFind]: 'Study Root Query/Retrieve - FIND',
  [SopClass.StudyRootQueryRetrieveMove]: 'Study Root Query/Retrieve - MOVE',
  [SopClass.StudyRootQueryRetrieveGet]: 'Study Root Query/Retrieve - GET',
};

function sopClassText(uid: string): string {
  const name = describeStorageSopClass(uid)?.name ?? QUERY_RETRIEVE_NAMES[uid];
  return name === undefined ? uid : `${name} (${uid})`;
}

function syntaxesText(uids: string[]): string {
  return uids.map((uid) => describeTransferSyntax(uid)?.name ?? uid).join(', ');
}

/**
 * Returns true when the peer's Implementation Version Name is DCMTK's
 * ("OFFIS_DCMTK_367" from DCMTK 3.6.7). Orthanc 1.10.1 sends that name too,
 * so such a peer is storescp, dcmqrscp or Orthanc, and the hints name both.
 */
function isDcmtkBased(implementationVersionName: string | undefined): boolean {
  return (implementationVersionName ?? '').toUpperCase().startsWith('OFFIS_DCMTK');
}

/** Returns where to allow a SOP class on the peer. */
function sopClassSetting(dcmtkBased: boolean): string {
  // Orthanc 1.10.1 returned result 3 for CT Image Storage when its AcceptedTransferSyntaxes contained only JPEG Baseline
  // (test/network/context-rejection.test.ts), so for Orthanc both settings are named.
  if (dcmtkBased) {
    return (
      "in DCMTK's storescp or dcmqrscp, in its association negotiation profile; in Orthanc, which sends the same implementation " +
      'version name, in UnknownSopClassAccepted and also in AcceptedTransferSyntaxes, because Orthanc returns result 3 ' +
      'when it accepts the SOP class but none of the proposed transfer syntaxes'
    );
  }
  return "in the node's configuration, for example a DCMTK association negotiation profile or Orthanc's UnknownSopClassAccepted";
}

/** Returns where to allow a transfer syntax on the peer. */
function transferSyntaxSetting(dcmtkBased: boolean): string {
  if (dcmtkBased) return "in DCMTK's storescp or dcmqrscp, in its association negotiation profile; in Orthanc, in AcceptedTransferSyntaxes";
  return "in the node's configuration, for example a DCMTK association negotiation profile or Orthanc's AcceptedTransferSyntaxes";
}

/** Describes why the peer did not accept the contexts of one SOP class, and what to change on the node. */
function describeClass(abstractSyntax: string, contexts: RejectedContext[], dcmtkBased: boolean): string {
  const sopClass = sopClassText(abstractSyntax);
  const proposed = syntaxesText([...new Set(contexts.flatMap((context) => context.transferSyntaxes))]);
  const results = new Set(contexts.map((context) => context.result));
  if (results.has(CONTEXT_RESULT.ABSTRACT_SYNTAX_NOT_SUPPORTED)) {
    return (
      `it does not accept the SOP class ${sopClass}, proposed in ${proposed} (result 3, abstract syntax not supported); ` +
      `register or allow the SOP class on the node: ${sopClassSetting(dcmtkBased)}`
    );
  }
  if (results.size === 1 && results.has(CONTEXT_RESULT.TRANSFER_SYNTAXES_NOT_SUPPORTED)) {
    return (
      `it accepts none of the proposed transfer syntaxes for ${sopClass}: ${proposed} (result 4, transfer syntaxes not supported); ` +
      `allow one of them for the SOP class on the node: ${transferSyntaxSetting(dcmtkBased)}`
    );
  }
  const parts: string[] = [];
  if (results.has(CONTEXT_RESULT.USER_REJECTION)) parts.push('result 1, rejected by the node (user rejection)');
  if (results.has(CONTEXT_RESULT.NO_REASON)) parts.push('result 2, rejected by the node with no reason given (provider rejection)');
  if (results.has(CONTEXT_RESULT.TRANSFER_SYNTAXES_NOT_SUPPORTED)) parts.push(`result 4, transfer syntaxes not supported`);
  const unproposed = contexts.map((context) => context.unproposedTransferSyntax).filter((uid): uid is string => uid !== undefined);
  if (unproposed.length > 0) parts.push(`accepted only in ${syntaxesText([...new Set(unproposed)])}, which was not proposed`);
  else if (results.has(CONTEXT_RESULT.ACCEPTANCE)) parts.push('accepted without a transfer syntax');
  if (results.has(undefined)) parts.push('no answer for the context in the A-ASSOCIATE-AC');
  const other = [...results].filter((result) => result !== undefined && result > CONTEXT_RESULT.TRANSFER_SYNTAXES_NOT_SUPPORTED);
  if (other.length > 0) parts.push(`result ${other.join(', ')}, which PS3.8 does not define`);
  return `it rejected ${sopClass} in ${proposed} (${parts.join('; ')}); check on the node which SOP classes it accepts from this calling AE title`;
}

/**
 * Raised by connect() when the peer accepted none of the proposed presentation
 * contexts. The message starts "PEER accepted none of the N proposed
 * presentation contexts" and then explains each SOP class by its result.
 */
export class PresentationContextsRejectedError extends Error {
  /** The first part of the message, without the explanation per SOP class. */
  readonly summary: string;

  constructor(
    peer: string,
    readonly rejected: RejectedContext[],
    readonly peerImplementationVersionName?: string,
  ) {
    const summary = `${peer} accepted none of the ${rejected.length} proposed presentation contexts`;
    const dcmtkBased = isDcmtkBased(peerImplementationVersionName);
    const byClass = new Map<string, RejectedContext[]>();
    for (const context of rejected) byClass.set(context.abstractSyntax, [...(byClass.get(context.abstractSyntax) ?? []), context]);
    const explanations = [...byClass].map(([abstractSyntax, contexts], index) => {
      const text = describeClass(abstractSyntax, contexts, dcmtkBased);
      return index === 0 ? text : text.charAt(0).toUpperCase() + text.slice(1);
    });
    super(`${summary}: ${explanations.join('. ')}`);
    this.summary = summary;
    this.name = 'PresentationContextsRejectedError';
  }
}

/**
 * Returns each proposal with the result the peer gave it, for a peer that
 * accepted none of them. `results` are the A-ASSOCIATE-AC's items.
 */
export function rejectedContexts(
  proposals: Array<{ id: number; abstractSyntax: string; transferSyntaxes: string[] }>,
  results: PresentationContextResult[],
): RejectedContext[] {
  return proposals.map((proposal) => {
    const item = results.find((entry) => entry.id === proposal.id);
    const context: RejectedContext = { id: proposal.id, abstractSyntax: proposal.abstractSyntax, transferSyntaxes: proposal.transferSyntaxes };
    if (item === undefined) return context;
    context.result = item.result;
    if (item.result === CONTEXT_RESULT.ACCEPTANCE && item.transferSyntax !== undefined) context.unproposedTransferSyntax = item.transferSyntax;
    return context;
  });
}
