/**
 * Instances that the loader's PACS server received but kept aside in the
 * archive's .conflicts folder. They are collapsed into one notice per calling
 * AE title and cause, so the window shows what was not added without a new
 * message for each instance of a study.
 */
import type { ReceivedInstance } from '../../services/pacs-server/store-service';
import type { Translate } from '../i18n';
import { RepeatedNotices, type RepeatedNotice } from './repeated-notices';

/** The latest instance kept aside for one sender and cause, with the number of instances it counts. */
export type KeptAsideNotice = RepeatedNotice<ReceivedInstance>;

/** Collects the instances kept aside per sender and cause and notifies the listeners of each one with the updated count. */
export class KeptAsideInstances extends RepeatedNotices<ReceivedInstance> {
  constructor(repeatWindowMs?: number, now?: () => number) {
    super((instance) => `${instance.callingAeTitle}\u0000${instance.otherPatient}`, repeatWindowMs, now);
  }

  /** Records an instance that the server received; only conflicts, which the archive kept aside, make a notice. */
  received(instance: ReceivedInstance): void {
    if (instance.outcome === 'conflict') this.add(instance);
  }
}

/** Formats a notice in the interface language: how many instances from whom, where they are, why and what to do. */
export function describeKeptAside(t: Translate, notice: KeptAsideNotice): string {
  const { event: instance, count } = notice;
  const reason = instance.otherPatient
    ? t('server.keptAside.otherPatient', { studyInstanceUid: instance.studyInstanceUid })
    : t('server.keptAside.otherContent', { sopInstanceUid: instance.sopInstanceUid });
  return t('server.keptAside', { count, callingAeTitle: instance.callingAeTitle, path: instance.path, reason });
}
