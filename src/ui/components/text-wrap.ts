/** Line count of word-wrapped text, apart from Qt so that tests run it without a display. */

/**
 * Counts the lines of `text` wrapped at spaces into `width` pixels, as
 * QLabel's word wrap does; each '\n' starts a new line. A word wider than
 * the line counts as the lines it would fill, so the estimate errs on the
 * high side.
 */
export function wrappedLineCount(text: string, width: number, measure: (text: string) => number): number {
  let lines = 0;
  for (const paragraph of text.split('\n')) {
    lines += 1;
    let line = '';
    for (const word of paragraph.split(/\s+/).filter((part) => part !== '')) {
      const candidate = line === '' ? word : `${line} ${word}`;
      if (line !== '' && measure(candidate) > width) {
        lines += 1;
        line = word;
      } else {
        line = candidate;
      }
      lines += Math.floor(measure(word) / width);
    }
  }
  return lines;
}
