/**
 * Decides which associations and presentation contexts the PACS server accepts.
 *
 * Calling AE titles must be registered nodes unless accept-any is set, and
 * calling-host.ts checks the host of a registered one. Every
 * storage SOP class is accepted, private ones included. A context for incoming
 * C-STORE gets the first transfer syntax the caller proposes that the loader
 * can read, so that the data set is stored exactly as the caller has it. A
 * context for C-GET sub-operations, one whose SOP class the requester asks the
 * SCP role for, gets an uncompressed syntax the loader can convert stored
 * instances to (see chooseRetrievalSyntax). When a user identity check is
 * given, an association that fails it is rejected (see user-identity.ts).
 */
import type { AssociateRequest, AssociationDecision, RoleSelection, UserIdentity } from '../../dicom/network';
import { TRANSCODE_TARGET_SYNTAXES } from '../../dicom/transcode';
import { describeTransferSyntax, isStorageSopClass, SopClass, TransferSyntax } from '../../dicom/uid';

/** PS3.8 table 9-18: results of a presentation context negotiation. */
const ACCEPTANCE = 0;
const ABSTRACT_SYNTAX_NOT_SUPPORTED = 3;
const TRANSFER_SYNTAXES_NOT_SUPPORTED = 4;

/** PS3.8 table 9-21: A-ASSOCIATE-RJ result, source and reason values used here. */
const REJECTED_PERMANENT = 1;
const SOURCE_SERVICE_USER = 1;
const REASON_NO_REASON_GIVEN = 1;
const REASON_CALLING_AE_NOT_RECOGNIZED = 3;
const REASON_CALLED_AE_NOT_RECOGNIZED = 7;

const DICOM_UID_ROOT = '1.2.840.10008.';
const STORAGE_UID_PREFIX = '1.2.840.10008.5.1.4.1.1.';

/** Query/retrieve and verification SOP classes the server implements. */
export const SERVICE_SOP_CLASSES = new Set<string>([
  SopClass.Verification,
  SopClass.PatientRootQueryRetrieveFind,
  SopClass.PatientRootQueryRetrieveMove,
  SopClass.PatientRootQueryRetrieveGet,
  SopClass.StudyRootQueryRetrieveFind,
  SopClass.StudyRootQueryRetrieveMove,
  SopClass.StudyRootQueryRetrieveGet,
]);

/** Uncompressed syntaxes for commands' data sets, in order of preference. */
const SERVICE_TRANSFER_SYNTAXES = [
  TransferSyntax.ExplicitVRLittleEndian,
  TransferSyntax.ImplicitVRLittleEndian,
  TransferSyntax.ExplicitVRBigEndian,
];

export interface AssociationPolicyOptions {
  aeTitle: string;
  acceptAnyCallingAeTitle: boolean;
  checkCalledAeTitle: boolean;
  isRegisteredAeTitle(aeTitle: string): boolean;
  /** Checks the user identity of every association; absent when pacs.requireUserIdentity is off. */
  checkUserIdentity?(identity: UserIdentity | undefined): { accepted: true } | { accepted: false; reason: string };
}

/**
 * Returns true for abstract syntaxes handled as storage: the standard storage
 * SOP classes, standard UIDs under the storage root that are newer than our
 * table, and any private (non-DICOM-root) UID, which vendors use for their own
 * storage classes.
 */
export function isAcceptedAsStorage(uid: string): boolean {
  return isStorageSopClass(uid) || uid.startsWith(STORAGE_UID_PREFIX) || !uid.startsWith(DICOM_UID_ROOT);
}

export function decideAssociation(request: AssociateRequest, options: AssociationPolicyOptions): AssociationDecision {
  const calling = request.callingAeTitle.trim();
  const called = request.calledAeTitle.trim();

  if (calling === '') {
    return reject(REASON_CALLING_AE_NOT_RECOGNIZED, `blank calling AE title from ${request.remoteAddress}`);
  }
  if (!options.acceptAnyCallingAeTitle && !options.isRegisteredAeTitle(calling)) {
    return reject(
      REASON_CALLING_AE_NOT_RECOGNIZED,
      `calling AE title not recognized: ${calling} from ${request.remoteAddress}; ` +
        `register it with "loader nodes add" or enable accept-any`,
    );
  }
  if (options.checkCalledAeTitle && called !== options.aeTitle) {
    return reject(
      REASON_CALLED_AE_NOT_RECOGNIZED,
      `called AE title not recognized: ${called} (this server is ${options.aeTitle}), caller ${calling}`,
    );
  }

  let userIdentityServerResponse: Buffer | undefined;
  if (options.checkUserIdentity) {
    const check = options.checkUserIdentity(request.userIdentity);
    if (!check.accepted) {
      // PS3.7 D.3.3.7: a failed user identity is rejected-permanent, service user, no reason given.
      return reject(REASON_NO_REASON_GIVEN, `user identity rejected for calling AE title ${calling}: ${check.reason}`);
    }
    // Types 1 and 2 define no server response value, so a requested positive response is empty.
    userIdentityServerResponse = Buffer.alloc(0);
  }

  const retrievalSopClasses = new Set(
    request.roleSelections.filter((selection) => selection.scpRole).map((selection) => selection.sopClassUid),
  );
  const contexts = request.contexts.map((context) => {
    const transferSyntax = chooseTransferSyntax(
      context.abstractSyntax,
      context.transferSyntaxes,
      retrievalSopClasses.has(context.abstractSyntax),
    );
    if (transferSyntax === null) return { id: context.id, result: ABSTRACT_SYNTAX_NOT_SUPPORTED as 3 };
    if (transferSyntax === undefined) return { id: context.id, result: TRANSFER_SYNTAXES_NOT_SUPPORTED as 4 };
    return { id: context.id, result: ACCEPTANCE as 0, transferSyntax };
  });

  return { accept: true, contexts, roleSelections: acceptRoleSelections(request.roleSelections), userIdentityServerResponse };
}

/**
 * Picks the transfer syntax for one proposed context: null when the abstract
 * syntax is not served, undefined when no proposed syntax is usable.
 * `forRetrieval` marks a storage context for C-GET sub-operations.
 */
function chooseTransferSyntax(abstractSyntax: string, proposed: string[], forRetrieval: boolean): string | null | undefined {
  if (SERVICE_SOP_CLASSES.has(abstractSyntax)) {
    return SERVICE_TRANSFER_SYNTAXES.find((syntax) => proposed.includes(syntax));
  }
  if (!isAcceptedAsStorage(abstractSyntax)) return null;

  const readable = proposed.filter((syntax) => describeTransferSyntax(syntax) !== undefined);
  if (forRetrieval) return chooseRetrievalSyntax(readable);
  // The caller lists its preferred syntax first; storing it keeps the data set unchanged.
  return readable[0];
}

/**
 * Picks the syntax of a C-GET storage context. The converter produces
 * Explicit VR Little Endian, Implicit VR Little Endian and Explicit VR Big
 * Endian from any uncompressed or deflated stored syntax. The decompressor
 * produces the two little endian ones from most compressed syntaxes. Nothing
 * compresses, so one of those, in that order, lets the most instances through.
 * An exception: when the requester lists a compressed (encapsulated) syntax
 * first, it gets that syntax, so that instances stored in it arrive unchanged
 * instead of decompressed. Instances stored in any other syntax then fail.
 */
function chooseRetrievalSyntax(proposed: string[]): string | undefined {
  const first = proposed[0];
  if (first !== undefined && describeTransferSyntax(first)?.encapsulated) return first;
  return TRANSCODE_TARGET_SYNTAXES.find((syntax) => proposed.includes(syntax)) ?? first;
}

/**
 * Grants the SCP role to a C-GET requester for every storage SOP class it
 * proposes, which lets this server send C-STORE sub-operations (PS3.7 D.3.3.4).
 */
function acceptRoleSelections(proposed: RoleSelection[]): RoleSelection[] {
  return proposed
    .filter((selection) => isAcceptedAsStorage(selection.sopClassUid))
    .map((selection) => ({ sopClassUid: selection.sopClassUid, scuRole: selection.scuRole, scpRole: selection.scpRole }));
}

/** Returns the rejection "calling AE title not recognized" (PS3.8 table 9-21, reason 3) with `logMessage` for the log. */
export function rejectCallingAeTitle(logMessage: string): AssociationDecision {
  return reject(REASON_CALLING_AE_NOT_RECOGNIZED, logMessage);
}

function reject(reason: number, logMessage: string): AssociationDecision {
  return {
    accept: false,
    result: REJECTED_PERMANENT,
    source: SOURCE_SERVICE_USER,
    reason,
    logMessage,
  };
}
