/**
 * Widths of table columns that fit the table's visible width. A long cell,
 * such as a long Patient Name, would otherwise widen its column until the
 * columns after it leave the panel. This module does not import NodeGui, so
 * its rule can be tested without a window.
 */

export interface ColumnFitInput {
  /** Width that each column needs for its cells and its header text, in pixels. */
  contentWidths: number[];
  /** Width that each column needs for its header text, in pixels. No column the table sizes gets narrower. */
  headerWidths: number[];
  /** Width of each column that the user resized by hand, or undefined for a column that the table sizes. */
  userWidths: (number | undefined)[];
  /** Width of the table's viewport that the columns share, in pixels. */
  availableWidth: number;
}

/**
 * Returns the width of each column. When the content widths fit the
 * available width, they are returned unchanged. Otherwise the widest columns
 * that the table sizes are cut to one common maximum width, the largest that
 * lets all columns fit, and no column is cut below its header width. The
 * columns that the user resized keep their widths, so they can still make the
 * table wider than its viewport. When even the header widths do not fit, the
 * columns get their header widths and the table scrolls horizontally.
 */
export function fitColumnWidths(input: ColumnFitInput): number[] {
  const { contentWidths, headerWidths, userWidths, availableWidth } = input;
  const userTotal = userWidths.reduce<number>((total, width) => total + (width ?? 0), 0);
  const budget = availableWidth - userTotal;
  const widthsAt = (maximum: number): number[] =>
    contentWidths.map((content, column) => userWidths[column] ?? Math.max(Math.min(content, maximum), headerWidths[column] ?? 0));
  const tableSizedTotal = (maximum: number): number =>
    widthsAt(maximum).reduce((total, width, column) => total + (userWidths[column] === undefined ? width : 0), 0);

  const widest = Math.max(0, ...contentWidths);
  if (tableSizedTotal(widest) <= budget) return widthsAt(widest);

  // Binary search for the largest common maximum that fits, because the total only grows with the maximum.
  let low = 0;
  let high = widest;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (tableSizedTotal(middle) <= budget) low = middle;
    else high = middle - 1;
  }
  return widthsAt(low);
}
