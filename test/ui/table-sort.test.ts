/**
 * Row order of a sorted study table: dates as dates with the time inside a
 * date, numbers as numbers, names without case in the interface language's
 * collation, empty values last in both directions, and ties in a fixed order.
 */
import { dateTimeKey, firstClickOrder, sortedRowOrder } from '../../src/ui/components/table-sort';
import type { ColumnKind, SortInput, SortValue } from '../../src/ui/components/table-sort';

const KINDS: ColumnKind[] = ['text', 'date', 'number'];

/** Returns the keys of the rows in the sorted order. */
function sortedKeys(rows: [string, SortValue[]][], sort: SortInput['sort'], options: Partial<SortInput> = {}): string[] {
  const order = sortedRowOrder({
    values: rows.map(([, values]) => values),
    rowKeys: rows.map(([key]) => key),
    kinds: KINDS,
    sort,
    language: 'en',
    ...options,
  });
  return order.map((index) => rows[index][0]);
}

describe('dateTimeKey', () => {
  test('DA and TM values', () => {
    expect(dateTimeKey('20240131 093000')).toBe('20240131093000000000');
    expect(dateTimeKey('20240131 093000.25')).toBe('20240131093000250000');
    expect(dateTimeKey('20240131')).toBe('20240131000000000000');
  });

  test('short TM counts from hours', () => {
    expect(dateTimeKey('20240131 0930')).toBe('20240131093000000000');
    expect(dateTimeKey('20240131 09')).toBe('20240131090000000000');
  });

  test('older separators are removed', () => {
    expect(dateTimeKey('2024-01-31 09:30:00')).toBe('20240131093000000000');
    expect(dateTimeKey('2024.01.31')).toBe('20240131000000000000');
  });

  test('empty and invalid dates', () => {
    expect(dateTimeKey('')).toBeUndefined();
    expect(dateTimeKey(' ')).toBeUndefined();
    expect(dateTimeKey('2024')).toBeUndefined();
    expect(dateTimeKey('unknown')).toBeUndefined();
  });

  test('invalid TM keeps the date', () => {
    expect(dateTimeKey('20240131 9h30')).toBe('20240131000000000000');
  });
});

describe('firstClickOrder', () => {
  test('dates and numbers descend', () => {
    expect(firstClickOrder('date')).toBe('descending');
    expect(firstClickOrder('number')).toBe('descending');
    expect(firstClickOrder('text')).toBe('ascending');
  });
});

describe('sortedRowOrder', () => {
  test('dates newest first', () => {
    const rows: [string, SortValue[]][] = [
      ['old', ['', '2019-05-02 120000', undefined]],
      ['new', ['', '2024-01-31 080000', undefined]],
      ['middle', ['', '2021-12-01', undefined]],
    ];
    expect(sortedKeys(rows, { column: 1, order: 'descending' })).toEqual(['new', 'middle', 'old']);
    expect(sortedKeys(rows, { column: 1, order: 'ascending' })).toEqual(['old', 'middle', 'new']);
  });

  test('time orders one date', () => {
    const rows: [string, SortValue[]][] = [
      ['morning', ['', '2024-01-31 0815', undefined]],
      ['evening', ['', '2024-01-31 191500.5', undefined]],
      ['noon', ['', '2024-01-31 12', undefined]],
      ['no time', ['', '2024-01-31 ', undefined]],
    ];
    expect(sortedKeys(rows, { column: 1, order: 'descending' })).toEqual(['evening', 'noon', 'morning', 'no time']);
  });

  test('empty dates last both ways', () => {
    const rows: [string, SortValue[]][] = [
      ['empty', ['', ' ', undefined]],
      ['a', ['', '20200101', undefined]],
      ['invalid', ['', 'unknown', undefined]],
      ['b', ['', '20230101', undefined]],
    ];
    expect(sortedKeys(rows, { column: 1, order: 'descending' })).toEqual(['b', 'a', 'empty', 'invalid']);
    expect(sortedKeys(rows, { column: 1, order: 'ascending' })).toEqual(['a', 'b', 'empty', 'invalid']);
  });

  test('numbers compare as numbers', () => {
    const rows: [string, SortValue[]][] = [
      ['nine', ['', '', 9]],
      ['hundred', ['', '', 100]],
      ['none', ['', '', undefined]],
      ['twelve', ['', '', '12']],
      ['zero', ['', '', 0]],
    ];
    expect(sortedKeys(rows, { column: 2, order: 'descending' })).toEqual(['hundred', 'twelve', 'nine', 'zero', 'none']);
    expect(sortedKeys(rows, { column: 2, order: 'ascending' })).toEqual(['zero', 'nine', 'twelve', 'hundred', 'none']);
  });

  test('names ignore case', () => {
    const rows: [string, SortValue[]][] = [
      ['1', ['beta', '', undefined]],
      ['2', ['Alpha', '', undefined]],
      ['3', ['alpha2', '', undefined]],
      ['4', ['', '', undefined]],
      ['5', ['Gamma', '', undefined]],
    ];
    expect(sortedKeys(rows, { column: 0, order: 'ascending' })).toEqual(['2', '3', '1', '5', '4']);
    expect(sortedKeys(rows, { column: 0, order: 'descending' })).toEqual(['5', '1', '3', '2', '4']);
  });

  test('Cyrillic names in Russian order', () => {
    const names = ['Яковлев', 'ёлкин', 'Борисов', 'абрамов', 'Ежов', 'Smith'];
    const rows: [string, SortValue[]][] = names.map((name) => [name, [name, '', undefined]]);
    // Russian collation puts Cyrillic before Latin, and е before ё.
    expect(sortedKeys(rows, { column: 0, order: 'ascending' }, { language: 'ru' })).toEqual(['абрамов', 'Борисов', 'Ежов', 'ёлкин', 'Яковлев', 'Smith']);
    // Code point order would put the capitals first and ё after я.
    expect(sortedKeys(rows, { column: 0, order: 'ascending' }, { language: 'ru' })).not.toEqual([...names].sort());
  });

  test('ties use tie-break columns', () => {
    const rows: [string, SortValue[]][] = [
      ['uid-3', ['Brown', '20200101', 5]],
      ['uid-1', ['adams', '20240101', 5]],
      ['uid-2', ['Adams', '20240101', 5]],
      ['uid-4', ['Cole', '20240101', 5]],
    ];
    // Equal image counts: the newest date first, then the name, then the row key for names that differ only in case.
    expect(sortedKeys(rows, { column: 2, order: 'descending' }, { tieBreakColumns: [1, 0] })).toEqual(['uid-1', 'uid-2', 'uid-4', 'uid-3']);
  });

  test('order ignores arrival order', () => {
    const rows: [string, SortValue[]][] = [
      ['uid-b', ['Same', '20240101', 1]],
      ['uid-a', ['Same', '20240101', 1]],
      ['uid-c', ['Same', '20240101', 1]],
    ];
    const reversed = [...rows].reverse();
    expect(sortedKeys(rows, { column: 0, order: 'ascending' })).toEqual(['uid-a', 'uid-b', 'uid-c']);
    expect(sortedKeys(reversed, { column: 0, order: 'ascending' })).toEqual(['uid-a', 'uid-b', 'uid-c']);
  });
});
