/**
 * Widths that the sections of a table header need. It imports only types of
 * NodeGui, so test-hooks.ts can use it before Qt is loaded.
 *
 * While a header shows a sort indicator, QHeaderView.sectionSizeHint() adds
 * the indicator's room to every section: 22 pixels each in the study table
 * under Xvfb with NodeGui 0.74.2's Qt 6. Qt draws the indicator only in the
 * sorted section, and the other sections show their whole text without that
 * room. With the room in all six sections, the Russian study table at the
 * window's minimum width was wider than its panel.
 */
import type { QHeaderView } from '@nodegui/nodegui';

/**
 * Runs `measure` with the sort indicator hidden and shows it again after.
 * Hiding it does not change the sorted section.
 */
export function withSortIndicatorHidden<T>(header: QHeaderView, measure: () => T): T {
  if (!header.isSortIndicatorShown()) return measure();
  header.setSortIndicatorShown(false);
  try {
    return measure();
  } finally {
    header.setSortIndicatorShown(true);
  }
}

/**
 * Returns the width that each section needs for its text and the style's
 * padding, and in the sorted section also for the sort indicator, in pixels.
 */
export function headerSectionWidths(header: QHeaderView): number[] {
  const sections = [...Array(header.count()).keys()];
  const withIndicator = sections.map((section) => header.sectionSizeHint(section));
  if (!header.isSortIndicatorShown()) return withIndicator;
  const textOnly = withSortIndicatorHidden(header, () => sections.map((section) => header.sectionSizeHint(section)));
  const sorted = header.sortIndicatorSection();
  return sections.map((section) => (section === sorted ? withIndicator[section] : textOnly[section]));
}
