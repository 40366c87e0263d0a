/** Selected rows of a table. It imports only types of NodeGui, so test-hooks.ts can use it before Qt is loaded. */
import type { QTableWidget } from '@nodegui/nodegui';

/** Returns the rows covered by the table's selection ranges, in order and without repeats. */
export function selectedRowIndexes(table: Pick<QTableWidget, 'selectedRanges'>): number[] {
  const indexes = new Set<number>();
  for (const range of table.selectedRanges()) {
    for (let row = range.topRow; row <= range.bottomRow; row++) indexes.add(row);
  }
  return [...indexes].sort((a, b) => a - b);
}
