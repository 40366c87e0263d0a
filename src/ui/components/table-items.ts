/**
 * Text cells of a QTableWidget that JavaScript fills, without the double
 * delete that crashes the window.
 *
 * In NodeGui 0.74.2 the JavaScript wrapper of a QTableWidgetItem made with
 * `new QTableWidgetItem(text)` deletes its native item when the garbage
 * collector finalizes the wrapper. It does so even when the table has already
 * deleted the item in clearContents(), a smaller setRowCount(), removeRow()
 * or its own destruction. The second delete ends the process with SIGSEGV
 * whenever the collector runs, so the window vanishes at random. These
 * functions take every item back out of the table with takeItem() before the
 * table would delete it, so each native item is deleted once, by its wrapper.
 */
import { QTableWidgetItem } from '@nodegui/nodegui';
import type { QTableWidget } from '@nodegui/nodegui';

/**
 * Detaches every item from the table and drops the table's references to
 * their wrappers. Call it before the table is destroyed, as well.
 */
export function releaseTableItems(table: QTableWidget): void {
  const columns = table.columnCount();
  for (let row = table.rowCount() - 1; row >= 0; row--) {
    for (let column = 0; column < columns; column++) table.takeItem(row, column);
  }
  // The table contains no items now, so clearContents() deletes nothing and only empties NodeGui's set of wrappers.
  table.clearContents();
}

/**
 * Replaces the table's rows with new text items, one per string, and returns
 * the items by row and column. The column count stays as it is.
 */
export function setTableTexts(table: QTableWidget, rows: string[][]): QTableWidgetItem[][] {
  releaseTableItems(table);
  table.setRowCount(rows.length);
  return rows.map((texts, row) =>
    texts.map((text, column) => {
      const item = new QTableWidgetItem(text);
      // setItem() also keeps the wrapper referenced from the table's JavaScript object, so it outlives this call.
      table.setItem(row, column, item);
      return item;
    }),
  );
}
