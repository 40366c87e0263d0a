/**
 * The translator's plural words: English texts name one study in the
 * singular, and parameters without a plural choice are filled in as before.
 */
import { translator } from '../../src/ui/i18n';

const en = translator('en');
const ru = translator('ru');

describe('translator plurals', () => {
  test('one study in English', () => {
    expect(en('transfer.summary', { count: 1, source: 'A', target: 'B' })).toBe('1 study from A to B');
    expect(en('panel.studies', { count: 1, selected: 1 })).toBe('1 study, 1 selected');
    expect(en('status.found', { count: 1 })).toBe('Found 1 study');
  });

  test('other counts in English', () => {
    expect(en('transfer.summary', { count: 2, source: 'A', target: 'B' })).toBe('2 studies from A to B');
    expect(en('panel.studies', { count: 0, selected: 0 })).toBe('0 studies, 0 selected');
    expect(en('status.found', { count: 21 })).toBe('Found 21 studies');
  });

  test('Russian texts unchanged', () => {
    expect(ru('transfer.summary', { count: 1, source: 'A', target: 'B' })).toBe('Исследований: 1, из A в B');
  });

  test('missing parameter kept', () => {
    expect(en('status.found', {})).toBe('Found {count} {count|study|studies}');
  });
});
