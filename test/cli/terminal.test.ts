/**
 * Table formatting of the CLI: columns line up in terminal columns, also with
 * CJK names, which a terminal draws two columns wide, and control characters
 * from files are shown as escapes instead of reaching the terminal.
 */
import { ProgressLine, displayWidth, fitToWidth, formatTable } from '../../src/cli/terminal';

describe('formatTable', () => {
  test('aligns columns after CJK names', () => {
    const table = formatTable(['NAME', 'ID'], [['Yamada^Tarou=山田^太郎', 'A1'], ['Wang^XiaoDong=王^小東', 'B2'], ['Hong^Gildong=홍^길동', 'C3']]);
    const lines = table.split('\n');

    const idColumns = lines.filter((_, index) => index !== 1).map((line) => displayWidth(line.slice(0, line.search(/(ID|[ABC]\d)$/))));

    expect(new Set(idColumns).size).toBe(1);
  });

  test('cuts wide text to the column width', () => {
    const table = formatTable(['NAME'], [['山田太郎山田太郎']], 7);

    expect(table.split('\n')[2]).toBe('山田太…');
  });

  test('keeps whole columns uncut', () => {
    const uid = '1.2.840.113619.2.55.3.604688119.969.1268071029.320';

    const table = formatTable(['UID'], [[uid]], 10, [0]);

    expect(table.split('\n')[2]).toBe(uid);
  });

  test('escapes control characters', () => {
    const hostile = 'Evil\u001b[2J\u001b]0;pwned\u0007\r\nFAKE^ROW\u007f\u009b\tend';

    const table = formatTable(['NAME', 'ID'], [[hostile, 'P1']], 80);
    const lines = table.split('\n');

    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('Evil\\x1b[2J\\x1b]0;pwned\\x07\\r\\nFAKE^ROW\\x7f\\x9b\\tend  P1');
    expect(table.replace(/\n/g, '')).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  });

  test('escapes bidirectional overrides', () => {
    // U+202E would show the rest of the row from right to left, and U+2066 would isolate it from the columns.
    const table = formatTable(['DESCRIPTION', 'ID'], [['\u202eCT head\u2066x\u2069', 'P1']], 80);

    expect(table.split('\n')[2]).toBe('\\u202eCT head\\u2066x\\u2069  P1');
  });

  test('escapes control characters in whole columns', () => {
    const table = formatTable(['UID'], [['1.2\u001b[31m']], 10, [0]);

    expect(table.split('\n')[2]).toBe('1.2\\x1b[31m');
  });
});

describe('fitToWidth', () => {
  test('escapes control characters', () => {
    expect(fitToWidth('A\u001b[2JB', 12)).toBe('A\\x1b[2JB   ');
  });
});

describe('displayWidth', () => {
  test('counts wide characters twice', () => {
    expect(displayWidth('Ivanov')).toBe(6);
    expect(displayWidth('Иванов')).toBe(6);
    expect(displayWidth('山田')).toBe(4);
    expect(displayWidth('홍길동')).toBe(6);
  });
});

describe('ProgressLine', () => {
  /** Returns a terminal stream of `columns` columns that collects what is written. */
  function terminalStream(columns: number): { stream: NodeJS.WriteStream; written: string[] } {
    const written: string[] = [];
    const stream = { isTTY: true, columns, write: (text: string) => written.push(text) } as unknown as NodeJS.WriteStream;
    return { stream, written };
  }

  test('terminal of 0 columns', () => {
    // script(1) opens a pseudo-terminal of 0 columns when its own output is not a terminal.
    const { stream, written } = terminalStream(0);
    const progress = new ProgressLine(stream);

    progress.update('sent 1 of 2 instances');
    progress.done();

    expect(written).toEqual([`\r${'sent 1 of 2 instances'.padEnd(79)}`, `\r${' '.repeat(79)}\r`]);
  });

  test('line cut to terminal width', () => {
    const { stream, written } = terminalStream(10);
    const progress = new ProgressLine(stream);

    progress.update('received 100 instances');

    expect(written).toEqual(['\rreceived ']);
  });
});
