/**
 * Row order of a table sorted by one column. This module does not import
 * NodeGui, so its rules can be tested without a window.
 */

/** Kind of a column's values, which sets how they compare. */
export type ColumnKind = 'text' | 'date' | 'number';

export type SortOrder = 'ascending' | 'descending';

/** Column and direction of a sort. */
export interface SortState {
  column: number;
  order: SortOrder;
}

/**
 * Value of one cell for sorting. A 'text' column takes the text. A 'date'
 * column takes a DA value, optionally followed by a space and a TM value
 * ("20240131 0930"). A 'number' column takes a number. An empty string or
 * undefined is an empty value.
 */
export type SortValue = string | number | undefined;

export interface SortInput {
  /** Sort value of each cell, one array per row, in the order of the columns. */
  values: SortValue[][];
  /** Key of each row, such as the Study Instance UID, which orders the rows that tie in every column. */
  rowKeys: string[];
  kinds: ColumnKind[];
  sort: SortState;
  /** Columns that order the rows that tie in the sorted column, in turn, each in its first-click order. */
  tieBreakColumns?: number[];
  /** BCP 47 language of the interface, whose collation orders the text columns. */
  language: string;
}

/** Returns the order of a column's first click: dates and numbers newest or largest first, text from A. */
export function firstClickOrder(kind: ColumnKind): SortOrder {
  return kind === 'text' ? 'ascending' : 'descending';
}

/**
 * Returns a DA value, with an optional TM value after a space, as a string
 * of 20 digits that compares in time order (YYYYMMDDHHMMSSFFFFFF), or
 * undefined when the value is empty or not a date. The separators of the
 * older forms ("2024-01-31", "2024.01.31", "09:30:00") are removed first,
 * and a TM value with fewer components counts from their start (0930 is
 * 09:30:00.000000).
 */
export function dateTimeKey(value: string): string | undefined {
  const [datePart = '', timePart = ''] = value.trim().split(/\s+/);
  const date = datePart.replace(/[-.]/g, '');
  if (!/^\d{8}$/.test(date)) return undefined;
  const [whole = '', fraction = ''] = timePart.replace(/:/g, '').split('.');
  const time = /^\d{0,6}$/.test(whole) && /^\d{0,6}$/.test(fraction) ? whole.padEnd(6, '0') + fraction.padEnd(6, '0') : '0'.repeat(12);
  return date + time;
}

/** Returns the value that `kind` compares, or undefined for an empty value. */
function comparable(kind: ColumnKind, value: SortValue): string | number | undefined {
  if (value === undefined || value === '') return undefined;
  if (kind === 'number') {
    const number = typeof value === 'number' ? value : Number(value);
    return Number.isFinite(number) ? number : undefined;
  }
  if (kind === 'date') return dateTimeKey(String(value));
  return String(value);
}

/**
 * Returns the row indexes in the order of `input.sort`. Empty values come
 * last in both directions. Text compares without case in the collation of
 * the interface language, so Cyrillic names sort by the Russian alphabet.
 * Rows that tie compare by the tie-break columns and then by row key, so
 * the order does not depend on the order in which the rows arrived.
 */
export function sortedRowOrder(input: SortInput): number[] {
  const collator = new Intl.Collator(input.language, { sensitivity: 'accent', numeric: true });
  const { values, kinds } = input;

  const compareColumn = (a: number, b: number, column: number, order: SortOrder): number => {
    const kind = kinds[column] ?? 'text';
    const left = comparable(kind, values[a]?.[column]);
    const right = comparable(kind, values[b]?.[column]);
    // Empty values come last in both directions, so they are placed before the order is applied.
    if (left === undefined && right === undefined) return 0;
    if (left === undefined) return 1;
    if (right === undefined) return -1;

    let result: number;
    if (kind === 'text') result = collator.compare(left as string, right as string);
    else if (kind === 'number') result = (left as number) - (right as number);
    else result = compareValues(left, right);
    return order === 'ascending' ? result : -result;
  };

  const tieBreaks = (input.tieBreakColumns ?? []).filter((column) => column !== input.sort.column);
  const indexes = values.map((_, index) => index);
  return indexes.sort((a, b) => {
    const sorted = compareColumn(a, b, input.sort.column, input.sort.order);
    if (sorted !== 0) return sorted;
    for (const column of tieBreaks) {
      const result = compareColumn(a, b, column, firstClickOrder(kinds[column] ?? 'text'));
      if (result !== 0) return result;
    }
    const byKey = compareValues(input.rowKeys[a] ?? '', input.rowKeys[b] ?? '');
    if (byKey !== 0) return byKey;
    return a - b;
  });
}

/** Returns -1, 0 or 1 as `left` sorts before, with or after `right` by the < operator. */
function compareValues<T extends string | number>(left: T, right: T): number {
  if (left < right) return -1;
  if (left > right) return 1;
  return 0;
}
