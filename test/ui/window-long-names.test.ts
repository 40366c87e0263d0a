/**
 * A study whose Patient Name is long and one whose Study Description is
 * long, in a Local panel at the window's minimum size. The study table keeps
 * every column inside the panel and at least as wide as its header text. The cut-off name shows in full as the
 * cell's tooltip, and the user can still narrow a column by dragging its edge.
 */
import * as path from 'path';

import { CT_SMALL, Tag, freshCopy } from '../archive/fixtures';
import { makeTempDir, runLoader } from '../support/peers';
import { describeWhenGuiAvailable } from './gui-prerequisites';
import { sleep, useWindowSession } from './window-driver';

const describeWithGui = describeWhenGuiAvailable('test/ui/window-long-names', ['Xvfb', 'xdotool', 'import', 'dcmodify']);

/**
 * Patient Name (0010,0010) of 61 characters, Latin and Cyrillic, within the
 * 64 characters that PS3.5 Table 6.2-1 allows for a PN component group.
 */
const LONG_NAME = 'Wolfeschlegelsteinhausen-Константинопольская^Александра^Maria';
/** The name as the table shows it: the components of the alphabetic group, separated by spaces. */
const SHOWN_NAME = 'Wolfeschlegelsteinhausen-Константинопольская Александра Maria';
const NAME_COLUMN = 0;
/** Study Description (0008,1030) of 64 Cyrillic characters, the maximum of its VR LO (PS3.5 Table 6.2-1). */
const LONG_DESCRIPTION = 'Компьютерная томография органов грудной клетки с контрастом (КТ)';
const DESCRIPTION_COLUMN = 6;

describeWithGui('study table with a long patient name', () => {
  const files = makeTempDir('ui-long-names-files');
  const session = useWindowSession('long-names', {
    language: 'ru',
    prepare: async ({ dirs }) => {
      const file = freshCopy(CT_SMALL, path.join(files, 'long-name.dcm'), { '(0008,0005)': 'ISO_IR 192', [Tag.PatientName]: LONG_NAME, [Tag.PatientID]: 'LONGNAME' });
      const described = freshCopy(CT_SMALL, path.join(files, 'long-description.dcm'), { '(0008,0005)': 'ISO_IR 192', [Tag.StudyDescription]: LONG_DESCRIPTION, [Tag.PatientName]: 'Иванов^Иван', [Tag.PatientID]: 'LONGDESC' });
      const imported = await runLoader(['scan', '--import', file, described], { dirs });
      if (imported.code !== 0) throw new Error(`loader scan --import of ${file} failed: ${imported.stderr.slice(-1000)}`);
    },
  });

  test('columns stay inside the panel', async () => {
    const { driver } = session;
    await driver.waitFor('right-table', (table) => table.rows === 2, 30_000, '2 rows');
    await driver.waitForStill('right-table');
    // The geometry file is written every 200 ms, so this reads widths that the window kept for several writes.
    await sleep(1_000);

    const window = driver.widget('main-window')!;
    expect({ width: window.width }).toEqual({ width: 1360 });
    const table = driver.widget('right-table')!;
    const header = table.horizontalHeader!;
    let right = 0;
    table.columnWidths!.forEach((width, column) => {
      right += width;
      // A failure shows the column and its right edge next to the width of the header, which is the table's visible width.
      expect({ column, right }).toEqual({ column, right: Math.min(right, header.width) });
      expect({ column, width }).toEqual({ column, width: Math.max(width, table.headerWidths![column]) });
    });
    expect(toolTipsByText()).toContainEqual({ column: DESCRIPTION_COLUMN, toolTip: LONG_DESCRIPTION });
    expect(toolTipsByText()).toContainEqual({ column: NAME_COLUMN, toolTip: SHOWN_NAME });
  }, 60_000);

  test('user narrows the name column', async () => {
    const { driver } = session;
    const before = (await driver.waitForStill('right-table')).columnWidths!;

    await driver.dragColumnEdge('right-table', NAME_COLUMN, -40);
    await driver.waitFor('right-table', (table) => table.columnWidths![NAME_COLUMN] <= before[NAME_COLUMN] - 30, 5_000, `column ${NAME_COLUMN} narrowed`);
    const dragged = driver.widget('right-table')!.columnWidths!;
    await sleep(1_000);

    // The table does not fit the dragged column again.
    const table = driver.widget('right-table')!;
    expect({ column: NAME_COLUMN, width: table.columnWidths![NAME_COLUMN] }).toEqual({ column: NAME_COLUMN, width: dragged[NAME_COLUMN] });
    expect(toolTipsByText()).toContainEqual({ column: NAME_COLUMN, toolTip: SHOWN_NAME });
  }, 60_000);

  /** Returns the cell tooltips of the Local panel's table without their rows, whose order follows the sort, by text. */
  function toolTipsByText(): { column: number; toolTip: string }[] {
    const tips = driver().widget('right-table')!.cellToolTips ?? [];
    return tips.map(({ column, toolTip }) => ({ column, toolTip })).sort((a, b) => a.toolTip.localeCompare(b.toolTip));
  }

  function driver() {
    return session.driver;
  }
});
