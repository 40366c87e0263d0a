/**
 * C-STORE SCP (PS3.4 annex B): streams each received data set into the local
 * archive exactly as received, and maps archive outcomes to DIMSE statuses.
 */
import { DatasetStructureError } from '../../dicom/dataset-structure';
import { AssociationClosedError } from '../../dicom/network';
import { DicomParseError } from '../../dicom/parser';
import type { DimseResult, StoreRequestContext } from '../../dicom/network';
import { ArchiveError } from '../archive';
import type { LocalArchive, StoreOutcome, StoreOutcomeKind } from '../archive';
import type { Logger } from '../logger';
import type { AssociationReceipts, ReceiptOutcome } from './association-receipts';
import { InvalidUidError, LOADER_IMPLEMENTATION_CLASS_UID, LOADER_IMPLEMENTATION_VERSION_NAME } from '../../dicom/uid';

/** C-STORE statuses from PS3.4 table B.2-1 and PS3.7 annex C. */
export const StoreStatus = {
  Success: 0x0000,
  OutOfResources: 0xa700,
  DataSetDoesNotMatchSopClass: 0xa900,
  CannotUnderstand: 0xc000,
} as const;

/**
 * Returns the failure response for an instance that the archive kept aside
 * because its Study, Series or SOP Instance UID is stored under another Patient
 * ID, or undefined for any other outcome. The status is 0xC000, in the "Error:
 * Cannot understand" range C000-CFFF of PS3.4 table B.2-1. The Error Comment
 * (0000,0902) is LO, at most 64 characters, so it names no UID: the sender knows
 * which instance it sent, and the log names the UIDs and both Patient IDs.
 */
export function otherPatientResponse(outcome: StoreOutcome): DimseResult | undefined {
  if (outcome.otherPatient === undefined) return undefined;
  const level = { study: 'Study', series: 'Series', instance: 'SOP Instance' }[outcome.otherPatient.level];
  return { status: StoreStatus.CannotUnderstand, errorComment: `${level} is stored under another Patient ID; kept aside` };
}

/** An instance that the C-STORE SCP received, with what the archive did with it. */
export interface ReceivedInstance {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  callingAeTitle: string;
  /**
   * 'stored': added to the archive. 'duplicate': the archive already had an identical copy.
   * 'conflict': the archive has other content under this SOP Instance UID, so the received copy is kept aside.
   * Only 'stored' changes what the archive lists.
   */
  outcome: StoreOutcomeKind;
  /** True for a conflict because the archive stores the study, series or SOP Instance UID under another Patient ID. */
  otherPatient: boolean;
  /** Absolute path of the archive's copy, or of the copy kept aside for a conflict. */
  path: string;
}

/** Maps an archive outcome to the count of the association summary. */
function receiptOutcome(outcome: StoreOutcomeKind): ReceiptOutcome {
  if (outcome === 'duplicate') return 'already-present';
  return outcome === 'conflict' ? 'kept-aside' : 'stored';
}

/**
 * Returns the C-STORE handler. `onReceived` is called after each instance that
 * the archive stored, already had or kept aside, before the response is sent.
 * That includes an instance kept aside with a failure status because its study
 * is stored under another Patient ID, but not an instance that failed. An
 * exception from `onReceived` is logged and does not fail the C-STORE.
 * `receipts` counts every request, failed ones included, for the summary line
 * at the end of the association.
 */
export function createStoreHandler(archive: LocalArchive, log: Logger, onReceived?: (instance: ReceivedInstance) => void, receipts?: AssociationReceipts) {
  return async function handleStore(context: StoreRequestContext): Promise<DimseResult> {
    const fields = {
      callingAeTitle: context.association.callingAeTitle,
      calledAeTitle: context.association.calledAeTitle,
      sopClassUid: context.sopClassUid,
      sopInstanceUid: context.sopInstanceUid,
      transferSyntax: context.presentationContext.transferSyntax,
    };

    receipts?.begin(context.association);
    try {
      const outcome = await archive.receive({
        sopClassUid: context.sopClassUid,
        sopInstanceUid: context.sopInstanceUid,
        transferSyntaxUid: context.presentationContext.transferSyntax,
        sourceAeTitle: context.association.callingAeTitle,
        implementationClassUid: LOADER_IMPLEMENTATION_CLASS_UID,
        implementationVersionName: LOADER_IMPLEMENTATION_VERSION_NAME,
        data: context.data,
      });

      const rejected = otherPatientResponse(outcome);
      if (rejected) {
        const { studyInstanceUid, storedPatientId, receivedPatientId } = outcome.otherPatient!;
        log.warn('rejected an instance whose study is stored under another Patient ID; kept it aside, and the sender receives a failure status', {
          ...fields,
          studyInstanceUid,
          storedPatientId,
          receivedPatientId,
          status: `0x${rejected.status.toString(16)}`,
          keptAt: outcome.path,
        });
      } else if (outcome.outcome === 'conflict') {
        // The stored instance stays; the different copy is kept aside for review.
        log.warn('received a different instance under a stored SOP Instance UID; kept it aside', {
          ...fields,
          keptAt: outcome.path,
        });
      } else {
        log.debug(`instance ${outcome.outcome}`, { ...fields, studyInstanceUid: outcome.studyInstanceUid });
      }
      receipts?.count(context.association, receiptOutcome(outcome.outcome), outcome);
      if (onReceived) reportReceived(onReceived, outcome, fields.callingAeTitle, log);
      return rejected ?? { status: StoreStatus.Success };
    } catch (error) {
      receipts?.count(context.association, 'failed');
      const message = error instanceof Error ? error.message : String(error);
      const status = statusForError(error);
      const ended = findAssociationEnd(error);
      // The provider logs the outcome once, with the association, the AE titles and the whole message: a failure
      // status, or for a peer that left mid-transfer (the response is never sent, and the archive kept nothing), the end reason.
      if (ended !== undefined) return { status, errorComment: message };
      const offendingElements = offendingElementsOf(error);
      // The network layer cuts the comment to the 64 characters of Error Comment (0000,0902), so a long
      // message goes to the log whole and to the sender as its summary, when there is one.
      const errorComment = summaryOf(error) ?? message;
      return { status, errorComment, errorDetail: message, ...(offendingElements ? { offendingElements } : {}) };
    }
  };
}

function reportReceived(onReceived: (instance: ReceivedInstance) => void, outcome: StoreOutcome, callingAeTitle: string, log: Logger): void {
  const { studyInstanceUid, seriesInstanceUid, sopInstanceUid, path } = outcome;
  try {
    onReceived({ studyInstanceUid, seriesInstanceUid, sopInstanceUid, callingAeTitle, outcome: outcome.outcome, otherPatient: outcome.otherPatient !== undefined, path });
  } catch (error) {
    log.error('received instance listener failed; the C-STORE still succeeds', {
      sopInstanceUid,
      outcome: outcome.outcome,
      error: error instanceof Error ? error.message : String(error),
    });
  }
}

/**
 * Returns the reason of a failure without the UID and path that its message
 * starts with, for Error Comment (0000,0902): the summary of an ArchiveError
 * or a DatasetStructureError, or the reason of a DicomParseError in the cause
 * chain. Undefined when the chain has none.
 */
function summaryOf(error: unknown): string | undefined {
  for (let current = error; current instanceof Error; current = current.cause) {
    if (current instanceof ArchiveError && current.summary !== undefined) return current.summary;
    if (current instanceof DatasetStructureError) return current.summary;
    if (current instanceof DicomParseError) return current.reason;
  }
  return undefined;
}

/** Returns the AssociationClosedError in the cause chain of `error`, when the association ended during the transfer. */
function findAssociationEnd(error: unknown): AssociationClosedError | undefined {
  for (let current = error; current instanceof Error; current = current.cause) {
    if (current instanceof AssociationClosedError) return current;
  }
  return undefined;
}

/**
 * Returns the tag of the invalid UID for Offending Element (0000,0901), which PS3.7
 * section C.4.2.1.4 lists for status C000, read from the "(gggg,eeee)" that ends the
 * attribute name of an InvalidUidError in the cause chain.
 */
function offendingElementsOf(error: unknown): number[] | undefined {
  for (let current = error; current instanceof Error; current = current.cause) {
    if (!(current instanceof InvalidUidError)) continue;
    const match = /\(([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)$/.exec(current.attributeName);
    return match ? [parseInt(match[1] + match[2], 16)] : undefined;
  }
  return undefined;
}

function statusForError(error: unknown): number {
  if (!(error instanceof ArchiveError)) return StoreStatus.CannotUnderstand;
  switch (error.code) {
    case 'uid-mismatch':
      return StoreStatus.DataSetDoesNotMatchSopClass;
    // A failed write or index commit (a full disk, an index locked by another process) is the archive's
    // problem, not the data set's, and the sender may try again later.
    case 'io':
    case 'index':
      return StoreStatus.OutOfResources;
    default:
      return StoreStatus.CannotUnderstand;
  }
}
