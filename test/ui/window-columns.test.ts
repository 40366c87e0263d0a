/**
 * Column widths of the study tables at startup, before any panel connects:
 * every column shows its whole header text, also in the empty PACS table,
 * whose columns are fitted only when it first appears. The Russian headers
 * are the longer ones.
 */
import { describeWhenGuiAvailable } from './gui-prerequisites';
import { sleep, useWindowSession } from './window-driver';

const describeWithGui = describeWhenGuiAvailable('test/ui/window-columns', ['Xvfb', 'xdotool', 'import']);

describeWithGui.each(['ru', 'en'])('table columns in language %s', (language) => {
  const session = useWindowSession(`columns-${language}`, { language });

  test.each(['left-table', 'right-table'])('%s columns show their headers', async (name) => {
    await session.driver.waitForStill(name);
    // The geometry file is written every 200 ms, so this reads widths that the window kept for several writes.
    await sleep(1_000);
    const table = session.driver.widget(name)!;
    expect(table.rows).toBe(0);
    expect(table.headerWidths).toHaveLength(7);
    expect(table.columnWidths).toHaveLength(7);
    table.headerWidths!.forEach((headerWidth, column) => {
      const width = table.columnWidths![column];
      // A failure shows the column and its width next to the width its header text needs.
      expect({ column, width }).toEqual({ column, width: Math.max(width, headerWidth) });
    });
  }, 60_000);
});
