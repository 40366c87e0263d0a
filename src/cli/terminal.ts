/**
 * Terminal output helpers: a progress line that redraws in place on a TTY
 * and stays silent otherwise, and plain text tables.
 */

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
    const width = this.stream.columns ?? 80;
    this.stream.write('\r' + text.slice(0, width - 1).padEnd(width - 1));
  }

  done(): void {
    if (this.enabled) this.stream.write('\r' + ' '.repeat((this.stream.columns ?? 80) - 1) + '\r');
  }
}

/**
 * Formats rows as aligned columns. Cells longer than maxWidth are cut with an
 * ellipsis, except in `wholeColumns` (indexes), whose values must stay whole
 * for copying, such as UIDs.
 */
export function formatTable(headers: string[], rows: string[][], maxWidth = 40, wholeColumns: readonly number[] = []): string {
  const cut = (text: string, column: number) => (text.length > maxWidth && !wholeColumns.includes(column) ? text.slice(0, maxWidth - 1) + '…' : text);
  const cells = [headers, ...rows].map((row) => row.map((cell, column) => cut(cell ?? '', column)));
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => row[column].length)));
  const lines = cells.map((row) => row.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd());
  lines.splice(1, 0, widths.map((width) => '-'.repeat(width)).join('  '));
  return lines.join('\n');
}
