/**
 * Splitting of too-broad study queries and C-CANCEL, against a scripted
 * C-FIND SCP built on the loader's DicomServer, plus the date filter rules.
 */
import { acceptSupportedContexts, DicomServer, DimseStatusError } from '../../src/dicom/network';
import type { QueryRequestContext } from '../../src/dicom/network';
import { parseDataset } from '../../src/dicom/parser';
import { encodeElements } from '../../src/dicom/writer';
import { setLogSink } from '../../src/services/logger';
import { findStudies, formatDateRange, parseDateFilter, splitDateRange, surroundWithWildcards } from '../../src/services/query-retrieve';
import type { QueryNotice } from '../../src/services/query-retrieve';
import { LOOPBACK } from '../support/peers';
import { collect, localIdentity, nodeFor } from './helpers';

const STUDY_ROOT_FIND = '1.2.840.10008.5.1.4.1.2.2.1';
const EXPLICIT_LE = { littleEndian: true, explicitVr: true };

let previousSink: (line: string) => void;
beforeAll(() => {
  previousSink = setLogSink(() => undefined);
});
afterAll(() => {
  setLogSink(previousSink);
});

/** One study per day from 20240101 to 20240120, UIDs 1.2.3.<day>. */
const STUDIES = Array.from({ length: 20 }, (_, index) => ({ uid: `1.2.3.${index + 1}`, date: `202401${String(index + 1).padStart(2, '0')}` }));

function matchResponse(study: { uid: string; date: string }): Buffer {
  return encodeElements(
    [
      { tag: 0x00080020, vr: 'DA', value: study.date },
      { tag: 0x00080052, vr: 'CS', value: 'STUDY' },
      { tag: 0x0020000d, vr: 'UI', value: study.uid },
    ],
    EXPLICIT_LE,
  );
}

describe('study query splitting', () => {
  let server: DicomServer;
  let port: number;
  const receivedDates: string[] = [];
  let mode: 'reject-broad' | 'cap' | 'slow' = 'reject-broad';
  let cancelled = false;

  beforeAll(async () => {
    server = new DicomServer({
      aeTitle: 'SCRIPTED',
      implementationClassUid: '1.2.826.0.1.3680043.10.1234.9',
      implementationVersionName: 'SCRIPTED',
      decide: (request) => acceptSupportedContexts(request, new Map([[STUDY_ROOT_FIND, ['1.2.840.10008.1.2.1']]])),
      handlers: {
        find: (ctx: QueryRequestContext) =>
          (async function* () {
            const date = parseDataset(ctx.identifier, EXPLICIT_LE, { stopAtTag: null }).getString(0x00080020) ?? '';
            receivedDates.push(date);
            const [from, to] = date.includes('-') ? date.split('-') : [date, date];
            const inRange = STUDIES.filter((study) => (from === '' || study.date >= from) && (to === '' || study.date <= to));
            if (mode === 'reject-broad' && inRange.length > 5) throw new DimseStatusError(0xa700, 'too many matches');
            const limit = mode === 'cap' ? 8 : inRange.length;
            for (const study of inRange.slice(0, limit)) {
              if (mode === 'slow') await new Promise((resolve) => setTimeout(resolve, 50));
              if (ctx.signal.aborted) {
                cancelled = true;
                return;
              }
              yield matchResponse(study);
            }
          })(),
      },
    });
    port = (await server.listen(0, LOOPBACK)).port;
  });

  afterAll(async () => {
    await server.close({ timeoutMs: 1000 });
  });

  const node = () => nodeFor({ aeTitle: 'SCRIPTED', host: LOOPBACK, port });

  test('rejected range is split and merged', async () => {
    mode = 'reject-broad';
    receivedDates.length = 0;
    const notices: QueryNotice[] = [];
    const matches = await collect(findStudies(node(), localIdentity(), { date: '20240101-20240120' }, { onNotice: (notice) => notices.push(notice) }));
    expect(matches.map((match) => match.studyInstanceUid).sort()).toEqual(STUDIES.map((study) => study.uid).sort());
    expect(receivedDates[0]).toBe('20240101-20240120');
    expect(receivedDates).toContain('20240101-20240110');
    expect(notices.some((notice) => notice.kind === 'split' && /0xA700/.test(notice.message))).toBe(true);
  });

  test('capped result count is split without duplicates', async () => {
    mode = 'cap';
    receivedDates.length = 0;
    const matches = await collect(findStudies(node(), localIdentity(), { date: '20240101-20240120' }, { maxResults: 8 }));
    const uids = matches.map((match) => match.studyInstanceUid);
    expect(new Set(uids).size).toBe(uids.length);
    expect(uids.sort()).toEqual(STUDIES.map((study) => study.uid).sort());
  });

  test('abort sends C-CANCEL and stops', async () => {
    mode = 'slow';
    cancelled = false;
    const controller = new AbortController();
    const matches: string[] = [];
    for await (const match of findStudies(node(), localIdentity(), { date: '20240101-20240120' }, { signal: controller.signal })) {
      matches.push(match.studyInstanceUid);
      if (matches.length === 2) controller.abort();
    }
    expect(matches.length).toBeLessThan(STUDIES.length);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(cancelled).toBe(true);
  });
});

describe('date filter', () => {
  const now = new Date(2024, 2, 15);

  test('presets count back from today', () => {
    expect(parseDateFilter('today', now)).toEqual({ from: '20240315', to: '20240315' });
    expect(parseDateFilter('yesterday', now)).toEqual({ from: '20240314', to: '20240314' });
    expect(parseDateFilter('last-7-days', now)).toEqual({ from: '20240309', to: '20240315' });
    expect(parseDateFilter('last-30-days', now)).toEqual({ from: '20240215', to: '20240315' });
  });

  test('ranges keep their form', () => {
    expect(formatDateRange(parseDateFilter('20240101-20240131'))).toBe('20240101-20240131');
    expect(formatDateRange(parseDateFilter('20240101-'))).toBe('20240101-');
    expect(formatDateRange(parseDateFilter('-20240101'))).toBe('-20240101');
    expect(formatDateRange(parseDateFilter('2024-01-05'))).toBe('20240105');
    expect(formatDateRange(parseDateFilter('20240101-'), true, now)).toBe('20240101-20240315');
  });

  test('invalid dates are rejected', () => {
    expect(() => parseDateFilter('20240230')).toThrow(/not a calendar date/);
    expect(() => parseDateFilter('20240201-20240101')).toThrow(/starts after it ends; write it as 20240101-20240201/);
    expect(() => parseDateFilter('last week')).toThrow(/is invalid/);
  });

  test('split halves share no day', () => {
    expect(splitDateRange({ from: '20240101', to: '20240104' })).toEqual([
      { from: '20240101', to: '20240102' },
      { from: '20240103', to: '20240104' },
    ]);
    expect(splitDateRange({ from: '20240101', to: '20240101' })).toBeUndefined();
  });

  test('free text gets wildcards', () => {
    expect(surroundWithWildcards('иван')).toBe('*иван*');
    expect(surroundWithWildcards('Ив*')).toBe('Ив*');
  });
});
