/**
 * The list of notices that the window shows for one kind of server event:
 * one per key, newest first, and a hidden notice returns with the next event
 * of its key.
 */
import { RepeatedNotices, withNotice, withoutNotice, type RepeatedNotice } from '../../src/ui/controllers/repeated-notices';

/** Returns notices keyed by the text before the colon, and the list that the window would show, as MainWindow keeps it. */
function shownNoticeList() {
  const events = new RepeatedNotices<string>((event) => event.split(':')[0], 60_000, () => 0);
  const list = { notices: [] as RepeatedNotice<string>[] };
  events.subscribe((notice) => {
    list.notices = withNotice(list.notices, notice);
  });
  return { events, list };
}

describe('shown notice list', () => {
  test('keeps one notice per key', () => {
    const { events, list } = shownNoticeList();

    events.add('STRANGER:1');
    events.add('STRANGER:2');
    events.add('ORTHANC:1');

    expect(list.notices.map((notice) => [notice.key, notice.event, notice.count])).toEqual([
      ['ORTHANC', 'ORTHANC:1', 1],
      ['STRANGER', 'STRANGER:2', 2],
    ]);
  });

  test('hidden notice returns on next event', () => {
    const { events, list } = shownNoticeList();
    events.add('STRANGER:1');
    events.add('ORTHANC:1');

    list.notices = withoutNotice(list.notices, 'STRANGER');
    expect(list.notices.map((notice) => notice.key)).toEqual(['ORTHANC']);

    events.add('STRANGER:2');
    expect(list.notices.map((notice) => [notice.key, notice.count])).toEqual([
      ['STRANGER', 2],
      ['ORTHANC', 1],
    ]);
  });
});
