/**
 * Sort indicator of a table's horizontal header, which a click on a section
 * sets and this class reads. NodeGui 0.74.2 forwards no QHeaderView signal,
 * sectionClicked and sortIndicatorChanged included, so poll() compares the
 * indicator with the last one it returned. The table's own sorting stays
 * off, so Qt never moves the items. The rows are sorted in JavaScript,
 * together with the row keys that the selection follows.
 */
import { SortOrder } from '@nodegui/nodegui';
import type { QHeaderView, QTableWidget } from '@nodegui/nodegui';

import { firstClickOrder } from './table-sort';
import type { ColumnKind, SortState } from './table-sort';

export class HeaderSort {
  private readonly header: QHeaderView;
  /** Sort that poll() returned last. */
  private lastSort: SortState | undefined;

  /** Shows the indicator without a sorted column, so the rows keep their order until the first click. */
  constructor(
    table: QTableWidget,
    private readonly kindOf: (column: number) => ColumnKind,
  ) {
    this.header = table.horizontalHeader();
    this.header.setSectionsClickable(true);
    this.header.setSortIndicatorShown(true);
    this.header.setSortIndicator(-1, SortOrder.AscendingOrder);
  }

  /**
   * Returns the new sort after a click on a section, or undefined when the
   * indicator did not change. A click on the sorted column reverses its
   * order. Qt gives a newly clicked column the ascending order, so a date or
   * number column is turned to its first-click order, newest or largest first.
   */
  poll(): SortState | undefined {
    const column = this.header.sortIndicatorSection();
    if (column < 0 || column >= this.header.count()) return undefined;
    let order: SortState['order'] = this.header.sortIndicatorOrder() === SortOrder.DescendingOrder ? 'descending' : 'ascending';
    if (this.lastSort?.column === column && this.lastSort.order === order) return undefined;
    if (this.lastSort?.column !== column) {
      order = firstClickOrder(this.kindOf(column));
      this.header.setSortIndicator(column, order === 'descending' ? SortOrder.DescendingOrder : SortOrder.AscendingOrder);
    }
    this.lastSort = { column, order };
    return this.lastSort;
  }
}
