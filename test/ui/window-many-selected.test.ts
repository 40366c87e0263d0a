/**
 * A Local panel of 2000 studies, all selected with Ctrl+A, in the Russian
 * window under Xvfb. A filter, a sort, a received study and a cleared filter
 * each list the rows again and keep the selection by Study Instance UID. The
 * count under the table never shows more selected studies than it lists.
 * Before, the table selected the kept rows one by one with selectRow(), which
 * Qt 6 makes cost time cubic in the row count: one key in the filter froze
 * the window for about a minute.
 */
import * as fs from 'fs';
import * as path from 'path';

import { Tags } from '../../src/dicom/tags';
import { generateUid } from '../../src/dicom/uid';
import type { WidgetRecord } from '../../src/ui/test-hooks';
import { makeTempDir, runLoader, storeFiles } from '../support/peers';
import { writeSecondaryCapture } from '../support/secondary-capture';
import { describeWhenGuiAvailable } from './gui-prerequisites';
import { useWindowSession } from './window-driver';

const describeWithGui = describeWhenGuiAvailable('test/ui/window-many-selected', ['Xvfb', 'xdotool', 'import', 'storescu']);

const AE_TITLE = 'LOADERMANY';
const TABLE = 'right-table';
const FILTER = 'right-filter';
const SELECTION = 'right-selection';
const STUDY_COUNT = 2000;
const NAME_COLUMN = 0;
const DESCRIPTION_COLUMN = 6;
/** Study Description of the even studies, which the filter keeps. */
const KEPT_DESCRIPTION = 'MR head';
/** Study Description of the odd studies, which the filter hides. */
const HIDDEN_DESCRIPTION = 'CT chest';
/** Filter text that lists only the studies described as KEPT_DESCRIPTION. */
const FILTER_TEXT = 'head';

/**
 * Time that one change of the list may take until the count shows it, in
 * milliseconds. The wide margin only guards against the freeze of about a
 * minute. The fixed window takes well under a second on a 2-core machine, and
 * a timed check in a GUI test must allow for a loaded machine.
 */
const UPDATE_BOUND_MS = 15_000;

/** Writes one Secondary Capture instance of a new study and returns its path. */
function writeStudy(folder: string, number: number, description: string): string {
  const code = String(number).padStart(4, '0');
  const file = path.join(folder, `study-${code}.dcm`);
  fs.mkdirSync(folder, { recursive: true });
  writeSecondaryCapture(file, generateUid(), `MANY${code}`, [
    { tag: Tags.PatientName, vr: 'PN', value: `Many^Patient${code}` },
    { tag: Tags.StudyDescription, vr: 'LO', value: description },
  ]);
  return file;
}

/** Returns the Study Description of each selected row of the table. */
function selectedDescriptions(table: WidgetRecord): string[] {
  return (table.selectedRows ?? []).map((row) => table.cellTexts?.[row]?.[DESCRIPTION_COLUMN] ?? '');
}

describeWithGui('table with 2000 selected studies', () => {
  const files = makeTempDir('ui-many-selected-files');
  const session = useWindowSession('many-selected', {
    language: 'ru',
    startServer: true,
    settings: { 'pacs.aeTitle': AE_TITLE, 'pacs.acceptAnyCallingAeTitle': 'on' },
    prepare: async ({ dirs }) => {
      const folder = path.join(files, 'archive');
      for (let number = 0; number < STUDY_COUNT; number++) writeStudy(folder, number, number % 2 === 0 ? KEPT_DESCRIPTION : HIDDEN_DESCRIPTION);
      const imported = await runLoader(['scan', '--import', folder], { dirs });
      if (imported.code !== 0) throw new Error(`loader scan --import failed: ${imported.stderr.slice(-1000)}`);
    },
  });

  /** Waits until the count under the table reads `text`, and checks that it took less than UPDATE_BOUND_MS since `started`. */
  async function expectCountWithinBound(text: string, started: number): Promise<void> {
    const label = await session.driver.waitFor(SELECTION, (record) => record.text === text, UPDATE_BOUND_MS, text);
    expect(label.text).toBe(text);
    expect(Date.now() - started).toBeLessThan(UPDATE_BOUND_MS);
  }

  test('filter keeps selected rows', async () => {
    const { driver } = session;
    await driver.waitFor(TABLE, (table) => table.rows === STUDY_COUNT, 120_000, `${STUDY_COUNT} rows`);
    await driver.focusByKey(TABLE);
    driver.key('ctrl+a');
    await driver.waitFor(SELECTION, (label) => label.text === 'Исследований: 2000, выбрано: 2000', 10_000, 'all selected');

    await driver.click(FILTER);
    await driver.waitFor(FILTER, (field) => field.focused, 5_000, 'filter focused');
    const started = Date.now();
    // Each of the four keys lists the studies again.
    await driver.type(FILTER_TEXT);
    await expectCountWithinBound('Исследований: 1000, выбрано: 1000', started);

    const table = await driver.waitForStill(TABLE);
    expect(table.rows).toBe(1000);
    expect(table.selectedRows).toHaveLength(1000);
    expect(new Set(selectedDescriptions(table))).toEqual(new Set([KEPT_DESCRIPTION]));
  }, 180_000);

  test('sort keeps selected rows', async () => {
    const { driver } = session;
    const started = Date.now();
    await driver.clickColumnHeader(TABLE, NAME_COLUMN);
    const sorted = await driver.waitFor(TABLE, (table) => table.sortIndicator?.column === NAME_COLUMN, UPDATE_BOUND_MS, 'sorted by name');
    expect(Date.now() - started).toBeLessThan(UPDATE_BOUND_MS);
    expect(sorted.selectedRows).toHaveLength(1000);
    expect(driver.widget(SELECTION)?.text).toBe('Исследований: 1000, выбрано: 1000');
  }, 60_000);

  test('received study joins unselected', async () => {
    const { driver } = session;
    const sent = writeStudy(path.join(files, 'sent'), STUDY_COUNT, KEPT_DESCRIPTION);
    const started = Date.now();
    const stored = await storeFiles({ aeTitle: AE_TITLE, host: '127.0.0.1', port: session.serverPort }, [sent], { callingAeTitle: 'MODALITY' });
    expect({ code: stored.code, stderr: stored.stderr.slice(-500) }).toEqual({ code: 0, stderr: expect.any(String) });

    await expectCountWithinBound('Исследований: 1001, выбрано: 1000', started);
    const table = await driver.waitForStill(TABLE);
    expect(table.rows).toBe(1001);
    expect(table.selectedRows).toHaveLength(1000);
  }, 60_000);

  test('cleared filter keeps selected rows', async () => {
    const { driver } = session;
    const started = Date.now();
    await driver.click('right-clear');
    // Only the studies that the filter listed stay selected, every second one of the sorted list.
    await expectCountWithinBound('Исследований: 2001, выбрано: 1000', started);

    const table = await driver.waitForStill(TABLE);
    expect(table.rows).toBe(STUDY_COUNT + 1);
    expect(table.selectedRows).toHaveLength(1000);
    expect(new Set(selectedDescriptions(table))).toEqual(new Set([KEPT_DESCRIPTION]));
  }, 60_000);
});
