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
  /** Columns cut only after every other column that the table sizes is at its header width, such as the patient name. */
  priorityColumns?: number[];
}

/**
 * Returns the width of each column. When the content widths fit the
 * available width, they are returned unchanged. Otherwise the widest columns
 * that the table sizes are cut to one common maximum width, the largest that
 * lets all columns fit, and no column is cut below its header width. Priority
 * columns keep their content widths until the other columns are at their
 * header widths, and are then cut the same way. The columns that the user
 * resized keep their widths, so they can still make the table wider than its
 * viewport. When even the header widths do not fit, the columns get their
 * header widths and the table scrolls horizontally.
 */
export function fitColumnWidths(input: ColumnFitInput): number[] {
  const { contentWidths, headerWidths, userWidths, availableWidth } = input;
  const priority = new Set(input.priorityColumns ?? []);
  const userTotal = userWidths.reduce<number>((total, width) => total + (width ?? 0), 0);
  const budget = availableWidth - userTotal;
  const widthsAt = (maximum: number, priorityMaximum: number): number[] =>
    contentWidths.map((content, column) => userWidths[column] ?? Math.max(Math.min(content, priority.has(column) ? priorityMaximum : maximum), headerWidths[column] ?? 0));
  const tableSizedTotal = (maximum: number, priorityMaximum: number): number =>
    widthsAt(maximum, priorityMaximum).reduce((total, width, column) => total + (userWidths[column] === undefined ? width : 0), 0);

  const widest = Math.max(0, ...contentWidths);
  if (tableSizedTotal(widest, widest) <= budget) return widthsAt(widest, widest);
  if (tableSizedTotal(0, widest) <= budget) {
    const maximum = largestFitting(widest, (candidate) => tableSizedTotal(candidate, widest) <= budget);
    return widthsAt(maximum, widest);
  }
  // NOTE: no column is cut below its header width, so in a narrow Russian panel the priority column may still get less than a short name needs.
  const priorityMaximum = largestFitting(widest, (candidate) => tableSizedTotal(0, candidate) <= budget);
  return widthsAt(0, priorityMaximum);
}

/** Returns the largest width from 0 to `widest` that `fits` accepts, by binary search, because the total only grows with the width. */
function largestFitting(widest: number, fits: (width: number) => boolean): number {
  let low = 0;
  let high = widest;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (fits(middle)) low = middle;
    else high = middle - 1;
  }
  return low;
}
