/**
 * Keyboard selection in a study table that has no current row yet: the first
 * Down selects the first row, as in other Qt lists. Before, the table kept
 * its first row as the current row after each listing, so Down selected the
 * second row.
 */
import { runLoader } from '../support/peers';
import { describeWhenGuiAvailable } from './gui-prerequisites';
import { corpusStudyFiles, useWindowSession } from './window-driver';

const describeWithGui = describeWhenGuiAvailable('test/ui/window-table-keys', ['Xvfb', 'xdotool', 'import']);

describeWithGui('study table keys', () => {
  const session = useWindowSession('table-keys', {
    // Three studies in the archive, which the Local panel lists at start.
    prepare: async ({ dirs }) => {
      for (const name of ['ct-small.dcm', 'mr-small-explicit-le.dcm', 'siemens-csa.dcm']) {
        const imported = await runLoader(['scan', '--import', ...corpusStudyFiles(name)], { dirs });
        if (imported.code !== 0) throw new Error(`loader scan --import of ${name} failed: ${imported.stderr.slice(-1000)}`);
      }
    },
  });

  test('first Down selects row 1', async () => {
    await session.driver.waitFor('right-table', (table) => table.rows === 3, 30_000, '3 rows');
    expect(session.driver.widget('right-table')?.selectedRows).toEqual([]);

    await session.driver.focusByKey('right-table');
    session.driver.key('Down');

    await session.driver.waitFor('right-table', (table) => (table.selectedRows ?? []).length === 1, 5_000, '1 selected row');
    expect(session.driver.widget('right-table')?.selectedRows).toEqual([0]);
  }, 60_000);
});
