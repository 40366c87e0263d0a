/**
 * Terminal output helpers: a progress line that redraws in place on a TTY
 * and stays silent otherwise, and plain text tables.
 */
import { escapeControlCharacters } from '../services/control-characters';

export { escapeControlCharacters };

export class ProgressLine {
  private lastDraw = 0;
  private readonly enabled: boolean;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.enabled = Boolean(stream.isTTY);
  }

  /** Redraws at most ten times a second. */
  update(text: string): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const width = this.width();
    this.stream.write('\r' + text.slice(0, width - 1).padEnd(width - 1));
  }

  done(): void {
    if (this.enabled) this.stream.write('\r' + ' '.repeat(this.width() - 1) + '\r');
  }

  /**
   * Returns the terminal's width in columns, or 80 when it reports none. A
   * pseudo-terminal without a size, such as the one script(1) opens when its
   * output is not a terminal, reports 0.
   */
  private width(): number {
    return this.stream.columns || 80;
  }
}

/**
 * Characters that a terminal draws two columns wide: Hangul Jamo, CJK
 * ideographs and syllables, and fullwidth forms (the Wide and Fullwidth
 * blocks of Unicode's East Asian Width property, in outline).
 */
const WIDE_CHARACTER = /[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{20000}-\u{3fffd}]/u;

/** Returns the number of terminal columns that `text` takes. */
export function displayWidth(text: string): number {
  let width = 0;
  for (const character of text) width += WIDE_CHARACTER.test(character) ? 2 : 1;
  return width;
}

/** Cuts `text` to at most `width` columns, ending it with an ellipsis when it was cut. */
function cutToWidth(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  let prefix = '';
  for (const character of text) {
    if (displayWidth(prefix + character) > width - 1) break;
    prefix += character;
  }
  return `${prefix}…`;
}

/**
 * Escapes control characters in `text` as formatTable does, cuts it to
 * `width` terminal columns with an ellipsis, and pads it with spaces to
 * exactly that width. Tables printed row by row use it, because their column
 * widths are fixed before the first row.
 */
export function fitToWidth(text: string, width: number): string {
  const cut = cutToWidth(escapeControlCharacters(text), width);
  return cut + ' '.repeat(width - displayWidth(cut));
}

/**
 * Formats rows as aligned columns, measured in terminal columns, so that names
 * in CJK characters keep the table aligned. Control characters in cells are
 * shown as escapes (see escapeControlCharacters). Cells wider than maxWidth
 * are cut with an ellipsis, except in `wholeColumns` (indexes), whose values
 * must stay whole for copying, such as UIDs.
 */
export function formatTable(headers: string[], rows: string[][], maxWidth = 40, wholeColumns: readonly number[] = []): string {
  const cut = (text: string, column: number) => (wholeColumns.includes(column) ? text : cutToWidth(text, maxWidth));
  const cells = [headers, ...rows].map((row) => row.map((cell, column) => cut(escapeControlCharacters(cell ?? ''), column)));
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => displayWidth(row[column]))));
  const pad = (cell: string, column: number) => cell + ' '.repeat(widths[column] - displayWidth(cell));
  const lines = cells.map((row) => row.map(pad).join('  ').trimEnd());
  lines.splice(1, 0, widths.map((width) => '-'.repeat(width)).join('  '));
  return lines.join('\n');
}
