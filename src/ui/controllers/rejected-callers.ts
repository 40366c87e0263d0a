/**
 * Associations that the loader's PACS server rejected, collapsed into one
 * notice per calling AE title, so the window shows which callers were
 * rejected without a new message for each retry of a modality.
 */
import type { AssociationRejection } from '../../services/pacs-server/pacs-server';
import type { Translate } from '../i18n';
import { RepeatedNotices, type RepeatedNotice } from './repeated-notices';

/** The latest rejection of one calling AE title, with the number of rejections it counts. */
export type RejectedCallerNotice = RepeatedNotice<AssociationRejection>;

/** Collects rejections per calling AE title and notifies the listeners of each one with the updated count. */
export class RejectedCallers extends RepeatedNotices<AssociationRejection> {
  constructor(repeatWindowMs?: number, now?: () => number) {
    super((rejection) => rejection.callingAeTitle, repeatWindowMs, now);
  }

  /** Records one rejection and notifies the listeners with its notice. */
  rejected(rejection: AssociationRejection): void {
    this.add(rejection);
  }
}

/** A-ASSOCIATE-RJ reasons of the service user (PS3.8 9.3.4) that the notice explains with a fix. */
const REASON_CALLING_AE_TITLE_NOT_RECOGNIZED = 3;
const REASON_CALLED_AE_TITLE_NOT_RECOGNIZED = 7;

/**
 * Drops the notices that registering `aeTitle` as a location resolves: rejections of that calling AE
 * title because it was not recognized. The server reads the registered locations at each association,
 * so the next association from that AE title is accepted. Other reasons stay.
 */
export function withoutRegisteredCaller(shownNotices: readonly RejectedCallerNotice[], aeTitle: string): RejectedCallerNotice[] {
  const registered = aeTitle.trim();
  return shownNotices.filter((notice) => notice.event.reason !== REASON_CALLING_AE_TITLE_NOT_RECOGNIZED || notice.event.callingAeTitle !== registered);
}

/** Formats a notice in the interface language: who was rejected, from where, why and what to do. */
export function describeRejectedCaller(t: Translate, notice: RejectedCallerNotice, serverAeTitle: string): string {
  const { event: rejection, count } = notice;
  let reason: string;
  if (rejection.reason === REASON_CALLING_AE_TITLE_NOT_RECOGNIZED && rejection.callingAeTitle !== '') {
    reason = t('server.rejected.callingAeTitle');
  } else if (rejection.reason === REASON_CALLED_AE_TITLE_NOT_RECOGNIZED) {
    reason = t('server.rejected.calledAeTitle', { calledAeTitle: rejection.calledAeTitle, aeTitle: serverAeTitle });
  } else {
    // User identity and blank AE titles have no translated explanation, so the notice keeps the log's English reason.
    reason = t('server.rejected.other', { message: rejection.message });
  }
  const parameters = { callingAeTitle: rejection.callingAeTitle, address: rejection.remoteAddress, count, reason };
  return count > 1 ? t('server.rejected.times', parameters) : t('server.rejected', parameters);
}
