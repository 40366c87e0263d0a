/**
 * Counts of the C-STORE SCP per association, logged in one INFO line when the
 * association ends, so that an operator can confirm at the server that a
 * study arrived. The lines name AE titles, counts and Study Instance UIDs,
 * never patient names.
 */
import type { LegacyCharacterSet } from '../../dicom/charset';
import type { AssociationInfo } from '../../dicom/network';
import { logLegacyCharacterSetText, type LegacyCharacterSetSource } from '../archive/legacy-charset-notice';
import type { Logger } from '../logger';

/** Study Instance UIDs that the summary line lists; the rest are counted as "and N more". */
export const MAX_LOGGED_STUDY_UIDS = 5;

/**
 * Outcome of one C-STORE request, as the summary counts it. 'already-present': the archive
 * had an identical copy. 'kept-aside': the received copy went to the conflicts
 * folder, with a success or a failure status. 'failed': a failure status
 * without a copy, or the association ended during the transfer.
 */
export type ReceiptOutcome = 'stored' | 'already-present' | 'kept-aside' | 'failed';

interface Receipt {
  callingAeTitle: string;
  calledAeTitle: string;
  counts: Record<ReceiptOutcome, number>;
  studyInstanceUids: Set<string>;
  /** Instances with text decoded in pacs.legacyCharacterSet (see isLegacyCharacterSetText). */
  legacyCharacterSetInstances: number;
  /** Requests that began and have no outcome yet. */
  pending: number;
  /** Set when the association ended; the line is logged once no request is pending. */
  endReason?: string;
}

/** Returns "uid1, uid2 and 3 more" with at most `max` UIDs. */
export function listUidsForLog(uids: Iterable<string>, max = MAX_LOGGED_STUDY_UIDS): string {
  const all = [...uids];
  const listed = all.slice(0, max).join(', ');
  return all.length > max ? `${listed} and ${all.length - max} more` : listed;
}

export class AssociationReceipts {
  private readonly receipts = new Map<string, Receipt>();
  /**
   * Calling AE titles whose data sets already got the legacy character set line. Equipment
   * keeps its character set, so one line per sender and server start is enough.
   */
  private readonly legacyCharacterSetNoticed = new Set<string>();

  constructor(
    private readonly log: Logger,
    private readonly legacyCharacterSet: LegacyCharacterSet,
    private readonly legacyCharacterSetSource: LegacyCharacterSetSource,
  ) {}

  /**
   * Notes a C-STORE request of `association` that has begun. Each call is
   * followed by one count(), also when the association ends during the
   * transfer, so the summary waits for that outcome.
   */
  begin(association: AssociationInfo): void {
    let receipt = this.receipts.get(association.id);
    if (receipt === undefined) {
      receipt = {
        callingAeTitle: association.callingAeTitle,
        calledAeTitle: association.calledAeTitle,
        counts: { stored: 0, 'already-present': 0, 'kept-aside': 0, failed: 0 },
        studyInstanceUids: new Set(),
        legacyCharacterSetInstances: 0,
        pending: 0,
      };
      this.receipts.set(association.id, receipt);
    }
    receipt.pending++;
  }

  /** Counts the outcome of a request that begin() noted. */
  count(association: AssociationInfo, outcome: ReceiptOutcome, instance: { studyInstanceUid?: string; hasLegacyCharacterSetText?: boolean } = {}): void {
    const receipt = this.receipts.get(association.id);
    if (receipt === undefined) return;
    receipt.pending--;
    receipt.counts[outcome]++;
    if (instance.studyInstanceUid) receipt.studyInstanceUids.add(instance.studyInstanceUid);
    if (instance.hasLegacyCharacterSetText) receipt.legacyCharacterSetInstances++;
    if (receipt.endReason !== undefined && receipt.pending <= 0) this.logSummary(association.id, receipt);
  }

  /**
   * Logs the summary of an association that sent C-STORE requests, once
   * their outcomes are counted. Associations without C-STORE requests log nothing here.
   */
  end(associationId: string, reason: string): void {
    const receipt = this.receipts.get(associationId);
    if (receipt === undefined) return;
    receipt.endReason = reason;
    if (receipt.pending <= 0) this.logSummary(associationId, receipt);
  }

  /** Logs the summary line, and the legacy character set line when a data set of the association needed it. */
  private logSummary(associationId: string, receipt: Receipt): void {
    this.receipts.delete(associationId);

    const { counts } = receipt;
    this.log.info('Instances received in association', {
      association: associationId,
      callingAeTitle: receipt.callingAeTitle,
      calledAeTitle: receipt.calledAeTitle,
      stored: counts.stored,
      alreadyPresent: counts['already-present'],
      keptAside: counts['kept-aside'],
      failed: counts.failed,
      studies: receipt.studyInstanceUids.size,
      studyInstanceUids: listUidsForLog(receipt.studyInstanceUids) || undefined,
      reason: receipt.endReason,
    });
    if (receipt.legacyCharacterSetInstances > 0) this.noteLegacyCharacterSet(associationId, receipt);
  }

  /** Logs the legacy character set line for the first association of each calling AE title whose data sets needed it. */
  private noteLegacyCharacterSet(associationId: string, receipt: Receipt): void {
    if (this.legacyCharacterSetNoticed.has(receipt.callingAeTitle)) return;
    this.legacyCharacterSetNoticed.add(receipt.callingAeTitle);

    logLegacyCharacterSetText(this.log, 'Received data sets', this.legacyCharacterSet, this.legacyCharacterSetSource, true, {
      association: associationId,
      callingAeTitle: receipt.callingAeTitle,
      instances: receipt.legacyCharacterSetInstances,
      repeats: 'not logged again for this calling AE title until the server restarts',
    });
  }
}
