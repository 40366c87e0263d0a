/**
 * The window's notice of instances that its PACS server kept aside in
 * .conflicts: one notice per sender and cause, with a count, in English and
 * Russian.
 */
import type { ReceivedInstance } from '../../src/services/pacs-server/store-service';
import { describeKeptAside, KeptAsideInstances, type KeptAsideNotice } from '../../src/ui/controllers/kept-aside';
import { translator } from '../../src/ui/i18n';

const STUDY_UID = '1.2.826.0.1.3680043.8.498.200';

function instance(sopSuffix: number, otherPatient: boolean, outcome: ReceivedInstance['outcome'] = 'conflict'): ReceivedInstance {
  return {
    studyInstanceUid: STUDY_UID,
    seriesInstanceUid: `${STUDY_UID}.1`,
    sopInstanceUid: `${STUDY_UID}.1.${sopSuffix}`,
    callingAeTitle: 'CT_SCANNER',
    outcome,
    otherPatient,
    path: `/archive/.conflicts/${STUDY_UID}.1.${sopSuffix}.dcm`,
  };
}

describe('kept-aside notice', () => {
  test('counts per sender and cause', () => {
    let now = 1_000;
    const kept = new KeptAsideInstances(60_000, () => now);
    const notices: KeptAsideNotice[] = [];
    kept.subscribe((notice) => notices.push(notice));

    kept.received(instance(1, true));
    kept.received(instance(2, true));
    kept.received(instance(3, false));
    kept.received(instance(4, true, 'stored'));
    now += 61_000;
    kept.received(instance(5, true));

    expect(notices.map((notice) => [notice.event.sopInstanceUid.split('.').pop(), notice.count])).toEqual([
      ['1', 1],
      ['2', 2],
      ['3', 1],
      ['5', 1],
    ]);
  });

  test('other patient text in both languages', () => {
    const notice: KeptAsideNotice = { key: 'CT_SCANNER\u0000true', event: instance(7, true), count: 2, lastAt: 0 };

    expect(describeKeptAside(translator('en'), notice)).toBe(
      `The PACS server kept 2 instances from calling AE title "CT_SCANNER" aside instead of adding them to the archive: study ${STUDY_UID} is stored under another Patient ID, ` +
        `and the sender received a failure status. Check which patient is right before sending again. The latest copy is /archive/.conflicts/${STUDY_UID}.1.7.dcm`,
    );
    expect(describeKeptAside(translator('ru'), notice)).toBe(
      `Сервер PACS не добавил в архив и отложил снимки от вызывающего имени AE «CT_SCANNER». Снимков: 2. Причина: исследование ${STUDY_UID} хранится под другим Patient ID, ` +
        `отправитель получил статус ошибки. Прежде чем отправлять снова, проверьте, какой пациент верен. Последняя копия: /archive/.conflicts/${STUDY_UID}.1.7.dcm`,
    );
  });

  test('other content text names the UID', () => {
    const notice: KeptAsideNotice = { key: 'CT_SCANNER\u0000false', event: instance(8, false), count: 1, lastAt: 0 };

    expect(describeKeptAside(translator('en'), notice)).toContain(`kept 1 instance from calling AE title "CT_SCANNER" aside instead of adding it`);
    expect(describeKeptAside(translator('en'), notice)).toContain(`another data set under SOP Instance UID ${STUDY_UID}.1.8`);
  });
});
