/**
 * Decides which associations and presentation contexts the PACS server accepts.
 *
 * Calling AE titles must be registered nodes unless accept-any is set, and
 * calling-host.ts checks the host of a registered one. Every
 * storage SOP class is accepted, private ones included. A context for incoming
 * C-STORE gets the first transfer syntax the caller proposes that the loader
 * can read, so that the data set is stored exactly as the caller has it. A
 * context for C-GET sub-operations, one whose SOP class the requester asks the
 * SCP role for, gets a syntax that every stored instance of that class can be
 * sent in, verbatim where possible (see chooseRetrievalSyntax). When a user
 * identity check is given, an association that fails it is rejected (see
 * user-identity.ts).
 */
import { canDecompress, DECOMPRESSION_TARGET_SYNTAXES } from '../../dicom/decompress';
import type { AssociateRequest, AssociationDecision, RoleSelection, UserIdentity } from '../../dicom/network';
import { canTranscode, TRANSCODE_TARGET_SYNTAXES } from '../../dicom/transcode';
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
  /**
   * Lists the transfer syntaxes that the archive stores instances of a SOP class in, or returns
   * undefined when they are unknown. Called at most once per SOP class of an association, for a
   * C-GET context that proposes a compressed syntax first and an uncompressed one after it.
   * Without this function the stored syntaxes count as unknown.
   */
  listStoredTransferSyntaxes?(sopClassUid: string): readonly string[] | undefined;
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
  const storedSyntaxesBySopClass = new Map<string, readonly string[] | undefined>();
  const listStoredSyntaxes = (sopClassUid: string): readonly string[] | undefined => {
    if (!storedSyntaxesBySopClass.has(sopClassUid)) {
      storedSyntaxesBySopClass.set(sopClassUid, options.listStoredTransferSyntaxes?.(sopClassUid));
    }
    return storedSyntaxesBySopClass.get(sopClassUid);
  };
  const contexts = request.contexts.map((context) => {
    const transferSyntax = chooseTransferSyntax(
      context.abstractSyntax,
      context.transferSyntaxes,
      retrievalSopClasses.has(context.abstractSyntax) ? () => listStoredSyntaxes(context.abstractSyntax) : undefined,
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
 * `listStoredSyntaxes` is given for a storage context for C-GET sub-operations.
 */
function chooseTransferSyntax(
  abstractSyntax: string,
  proposed: string[],
  listStoredSyntaxes: (() => readonly string[] | undefined) | undefined,
): string | null | undefined {
  if (SERVICE_SOP_CLASSES.has(abstractSyntax)) {
    return SERVICE_TRANSFER_SYNTAXES.find((syntax) => proposed.includes(syntax));
  }
  if (!isAcceptedAsStorage(abstractSyntax)) return null;

  const readable = proposed.filter((syntax) => describeTransferSyntax(syntax) !== undefined);
  if (listStoredSyntaxes) return chooseRetrievalSyntax(readable, listStoredSyntaxes);
  // The caller lists its preferred syntax first; storing it keeps the data set unchanged.
  return readable[0];
}

/**
 * Picks the syntax of a C-GET storage context. The SCP accepts one syntax per
 * context (PS3.8 section 9.3.2.2), and every instance of the context's SOP
 * class that a later C-GET names must go in it. The converter produces
 * Explicit VR Little Endian, Implicit VR Little Endian and Explicit VR Big
 * Endian from any uncompressed or deflated stored syntax. The decompressor
 * produces the two little endian ones from most compressed syntaxes. Nothing
 * compresses, so one of those, in that order, lets the most instances through.
 *
 * When the requester lists a compressed (encapsulated) syntax first, the
 * syntaxes the archive stores the class in decide, because the requested study
 * is not known yet:
 * - when every stored instance of the class is in one proposed syntax, that
 *   syntax, so that they all arrive unchanged;
 * - otherwise the first uncompressed syntax above that is proposed and that
 *   every stored syntax converts or decompresses to, which includes a class
 *   the archive stores no instance of;
 * - otherwise the first proposed syntax. Instances stored in any other syntax then fail.
 * A context that proposes only compressed syntaxes gets its first one.
 */
function chooseRetrievalSyntax(proposed: string[], listStoredSyntaxes: () => readonly string[] | undefined): string | undefined {
  const first = proposed[0];
  const uncompressed = TRANSCODE_TARGET_SYNTAXES.filter((syntax) => proposed.includes(syntax));
  if (first === undefined || !describeTransferSyntax(first)?.encapsulated) return uncompressed[0] ?? first;
  if (uncompressed.length === 0) return first;

  // NOTE: unknown stored syntaxes count as none, so the uncompressed syntax is chosen.
  const stored = listStoredSyntaxes() ?? [];
  if (stored.length === 1 && proposed.includes(stored[0])) return stored[0];
  const sendsEveryStored = (target: string) => stored.every((syntax) => syntax === target || canConvert(syntax, target));
  return uncompressed.find(sendsEveryStored) ?? first;
}

/** Returns true when an instance stored in `stored` can be sent in the uncompressed syntax `target` (see openSubOperationData). */
function canConvert(stored: string, target: string): boolean {
  if (canTranscode(stored, target)) return true;
  return DECOMPRESSION_TARGET_SYNTAXES.includes(target) && canDecompress(stored);
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
