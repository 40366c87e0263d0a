/**
 * Size of word-wrapped labels. NodeGui 0.74.2 lays widgets out with Yoga,
 * which asks a QLabel for one size hint and never for its height at a given
 * width, so a wrapped label gets the height of one or two lines and Qt
 * clips the rest at the top and bottom. The labels here get a fixed width
 * and a minimum height computed from their text.
 */
import { QFont, QFontMetrics } from '@nodegui/nodegui';

import { wrappedLineCount } from './text-wrap';

/** Window font of the style sheet in themes.ts. */
const FONT_FAMILY = 'DejaVu Sans';
const FONT_PIXEL_SIZE = 13;

/** Pixels kept free at the right of each line, for the label's margins and font hinting. */
const LINE_SLACK_PX = 12;

let metrics: QFontMetrics | undefined;

/** Returns the metrics of the window font, which the style sheet sets for every label. */
export function windowFontMetrics(): QFontMetrics {
  if (!metrics) {
    const font = new QFont(FONT_FAMILY);
    font.setPixelSize(FONT_PIXEL_SIZE);
    metrics = new QFontMetrics(font);
  }
  return metrics;
}

/** Returns the height in pixels of `text` word-wrapped into a label `width` pixels wide. */
export function wrappedTextHeight(text: string, width: number): number {
  const fontMetrics = windowFontMetrics();
  const lines = wrappedLineCount(text, width - LINE_SLACK_PX, (part) => fontMetrics.horizontalAdvance(part));
  return lines * fontMetrics.lineSpacing() + 4;
}

/** Returns the Yoga style of a word-wrapped label `width` pixels wide that shows all of `text`. */
export function wrappedTextStyle(text: string, width: number): string {
  return `width: ${width}px; min-height: ${wrappedTextHeight(text, width)}px;`;
}
