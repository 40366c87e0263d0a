/**
 * Column widths of a RowTable: fitted to the cells, kept inside the table's
 * visible width, and left alone once the user resizes a column. Cells that a
 * column cuts off get their full text as the tooltip.
 */
import { QFontMetrics, QStylePixelMetric } from '@nodegui/nodegui';
import type { QTableWidget, QTableWidgetItem } from '@nodegui/nodegui';

import { fitColumnWidths } from './column-fit';
import { headerSectionWidths, withSortIndicatorHidden } from './header-widths';
import { plainToolTip } from './plain-text';

/**
 * Column widths that the table set itself, and the columns that the user
 * resized since. NodeGui 0.74.2 forwards no QHeaderView signal, sectionResized
 * included. Between the table's own resizes, only a drag on a header edge or a
 * double-click on it changes a column. So a column whose width differs from
 * the width that the table last set counts as resized by the user.
 * NOTE: the last column is never taken as resized by the user, because it
 * stretches to the table's width and so changes with the window.
 */
export class ColumnWidths {
  private setWidths: number[] = [];
  /** Width that each column needs for its cells and header text, from the last fit. */
  private contentWidths: number[] = [];
  private readonly userColumns = new Set<number>();
  private readonly toolTips: CellToolTips;

  /** `priorityColumns` are cut last when the columns do not fit, such as the patient name before the description. */
  constructor(
    private readonly table: QTableWidget,
    private readonly priorityColumns: number[] = [],
  ) {
    this.toolTips = new CellToolTips(table);
  }

  /** Sets the items whose tooltips follow the column widths, by row and column, after the table's rows change. */
  setItems(items: QTableWidgetItem[][], texts: string[][]): void {
    this.toolTips.setItems(items, texts);
  }

  /** Returns true when the user has resized `column` since the table last fitted its columns anew. */
  isUserSized(column: number): boolean {
    return this.userColumns.has(column);
  }

  /** Marks each column whose width differs from the width the table last set as resized by the user. */
  noteUserResizes(): void {
    const lastColumn = this.table.columnCount() - 1;
    for (let column = 0; column < lastColumn; column++) {
      const width = this.setWidths[column];
      if (width !== undefined && this.table.columnWidth(column) !== width) this.userColumns.add(column);
    }
  }

  /**
   * Fits each column that the user did not resize to its cells and its header
   * text, within the table's visible width. With `forgetUserSizes`, as when
   * the header texts change, every column is fitted.
   */
  fit(forgetUserSizes = false): void {
    this.noteUserResizes();
    if (forgetUserSizes) this.userColumns.clear();
    const header = this.table.horizontalHeader();
    const headerWidths = headerSectionWidths(header);
    // A stretched last section ignores resizeColumnToContents(), so it is measured without the stretch.
    header.setStretchLastSection(false);
    // resizeColumnToContents() would give every column the sort indicator's room, which only the sorted column needs.
    withSortIndicatorHidden(header, () => {
      for (let column = 0; column < this.table.columnCount(); column++) {
        if (this.isUserSized(column)) continue;
        this.table.resizeColumnToContents(column);
        this.contentWidths[column] = Math.max(this.table.columnWidth(column), headerWidths[column] ?? 0);
      }
    });
    this.applyWidths();
    header.setStretchLastSection(true);
    this.recordWidths();
    this.toolTips.update();
  }

  /**
   * Widens each column that the user did not resize and that is narrower than
   * its header text and the header's padding (and the sort indicator, in the
   * sorted column), within the table's visible width. Wider columns keep their width.
   */
  widenToHeaders(): void {
    this.noteUserResizes();
    const headerWidths = headerSectionWidths(this.table.horizontalHeader());
    for (let column = 0; column < this.table.columnCount(); column++) {
      this.contentWidths[column] = Math.max(this.contentWidths[column] ?? 0, headerWidths[column] ?? 0);
    }
    this.applyWidths();
    this.recordWidths();
    this.toolTips.update();
  }

  /** Fits the columns that the user did not resize to the table's new width, from the widths of the last fit. */
  followTableWidth(): void {
    this.noteUserResizes();
    this.applyWidths();
    this.recordWidths();
    this.toolTips.update();
  }

  /**
   * Sets each column that the user did not resize. The last column gets its
   * fitted width too, because a stretched last section only grows to fill the
   * viewport and would keep a width that its long cells set.
   */
  private applyWidths(): void {
    const columns = [...Array(this.table.columnCount()).keys()];
    const header = this.table.horizontalHeader();
    const headerWidths = headerSectionWidths(header);
    const widths = fitColumnWidths({
      contentWidths: columns.map((column) => this.contentWidths[column] ?? this.table.columnWidth(column)),
      headerWidths: columns.map((column) => headerWidths[column] ?? 0),
      userWidths: columns.map((column) => (this.isUserSized(column) ? this.table.columnWidth(column) : undefined)),
      availableWidth: viewportWidth(this.table),
      priorityColumns: this.priorityColumns,
    });
    const stretch = header.stretchLastSection();
    header.setStretchLastSection(false);
    for (const column of columns) {
      if (!this.isUserSized(column) && this.table.columnWidth(column) !== widths[column]) this.table.setColumnWidth(column, widths[column]);
    }
    header.setStretchLastSection(stretch);
  }

  private recordWidths(): void {
    this.setWidths = [...Array(this.table.columnCount()).keys()].map((column) => this.table.columnWidth(column));
  }
}

/**
 * Returns the width that the columns can share without a horizontal scroll
 * bar: the table's width without its frame, the row numbers (the vertical
 * header) and the vertical scroll bar. The header's size hint is used, not the
 * viewport margins, because QTableView updates the margins in a delayed layout
 * after the rows change. The scroll bar's width is always left out, because Qt
 * shows that bar only after a delayed layout once the rows no longer fit.
 */
function viewportWidth(table: QTableWidget): number {
  const verticalHeader = table.verticalHeader();
  const rowNumbers = verticalHeader.isHidden() ? 0 : verticalHeader.sizeHint().width();
  return table.width() - 2 * table.frameWidth() - rowNumbers - table.verticalScrollBar().sizeHint().width();
}

/**
 * Tooltips of the cells whose text the column cuts off: the full text, so a
 * technician can read a long name without widening its column. The text
 * widths are measured once per set of rows, so a resize only compares numbers.
 */
class CellToolTips {
  private items: QTableWidgetItem[][] = [];
  private texts: string[][] = [];
  /** Width of each cell's text in the table's font, measured when first needed. */
  private textWidths: number[][] | undefined;
  /** Whether each cell has its text as the tooltip now. */
  private hasToolTip: boolean[][] = [];

  constructor(private readonly table: QTableWidget) {}

  setItems(items: QTableWidgetItem[][], texts: string[][]): void {
    this.items = items;
    this.texts = texts;
    this.textWidths = undefined;
    this.hasToolTip = items.map((row) => row.map(() => false));
  }

  /** Shows the text as the tooltip of each cell that is narrower than its text, and clears the others. */
  update(): void {
    if (this.items.length === 0) return;
    const metrics = new QFontMetrics(this.table.font());
    this.textWidths ??= this.texts.map((row) => row.map((text) => metrics.horizontalAdvance(text)));
    const margin = cellTextMargin(this.table);
    const columnWidths = this.texts[0].map((_, column) => this.table.columnWidth(column));
    this.items.forEach((row, rowIndex) => {
      row.forEach((item, column) => {
        const cut = this.textWidths![rowIndex][column] + margin > columnWidths[column];
        if (cut === this.hasToolTip[rowIndex][column]) return;
        this.hasToolTip[rowIndex][column] = cut;
        item.setToolTip(cut ? plainToolTip(this.texts[rowIndex][column]) : '');
      });
    });
  }
}

/**
 * Returns the pixels of a cell that its text cannot use. Qt's item views keep
 * PM_FocusFrameHMargin + 1 pixels free on each side of the text
 * (QCommonStylePrivate::viewItemDrawText in Qt 6), and the grid line takes one.
 */
function cellTextMargin(table: QTableWidget): number {
  return 2 * (table.style().pixelMetric(QStylePixelMetric.PM_FocusFrameHMargin) + 1) + (table.showGrid() ? 1 : 0);
}
