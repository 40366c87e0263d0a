/**
 * Column widths that the user sets by dragging a header edge of the Local
 * panel's table survive the listings that the window runs by itself while its
 * own server stores instances. Columns the user did not touch still fit
 * their contents and stay at least as wide as their headers.
 */
import { storeFiles } from '../support/peers';
import { describeWhenGuiAvailable } from './gui-prerequisites';
import { corpusStudyFiles, sleep, useWindowSession } from './window-driver';

const describeWithGui = describeWhenGuiAvailable('test/ui/window-column-resize', ['Xvfb', 'xdotool', 'import', 'storescu']);

const AE_TITLE = 'LOADERCOLS';
const REFRESH_LOG = 'local panel listed again after the server stored instances';
/** Columns of the study table: patient name, Patient ID, birth date, modality, study date, images and description, which stretches. */
const WIDENED_COLUMN = 0;
const NARROWED_COLUMN = 4;

describeWithGui('table columns resized by the user', () => {
  const session = useWindowSession('column-resize', {
    language: 'en',
    startServer: true,
    settings: { 'pacs.aeTitle': AE_TITLE, 'pacs.acceptAnyCallingAeTitle': 'on' },
    // Debug level logs each automatic listing of the Local panel, which the test counts.
    env: { LOADER_LOG_LEVEL: 'debug' },
  });

  const refreshCount = (): number =>
    session.loader
      .readLog()
      .split('\n')
      .filter((line) => line.includes(REFRESH_LOG)).length;
  const store = async (files: string[]) => {
    const result = await storeFiles({ aeTitle: AE_TITLE, host: '127.0.0.1', port: session.serverPort }, files, { callingAeTitle: 'MODALITY' });
    expect({ code: result.code, stderr: result.stderr.slice(-500) }).toEqual({ code: 0, stderr: expect.any(String) });
  };

  beforeAll(async () => {
    await session.driver.waitForActiveWindow('main-window');
  });

  test('dragged widths survive refreshes', async () => {
    await session.driver.waitFor('right-connection', (label) => /^Connected/.test(label.text ?? ''), 20_000, 'connected');
    await store(corpusStudyFiles('ct-small.dcm'));
    await session.driver.waitFor('right-table', (table) => table.rows === 1, 10_000, '1 row');
    await session.driver.waitForStill('right-table');
    await sleep(1_000);
    const fitted = session.driver.widget('right-table')!.columnWidths!;

    await session.driver.dragColumnEdge('right-table', WIDENED_COLUMN, 80);
    await session.driver.waitFor('right-table', (table) => table.columnWidths![WIDENED_COLUMN] >= fitted[WIDENED_COLUMN] + 70, 5_000, `column ${WIDENED_COLUMN} widened`);
    await session.driver.dragColumnEdge('right-table', NARROWED_COLUMN, -30);
    await session.driver.waitFor('right-table', (table) => table.columnWidths![NARROWED_COLUMN] <= fitted[NARROWED_COLUMN] - 20, 5_000, `column ${NARROWED_COLUMN} narrowed`);
    await sleep(500);
    const dragged = session.driver.widget('right-table')!.columnWidths!;

    // The server notifies the panel while it stores, and the panel lists the archive again without a click.
    const before = refreshCount();
    await store(corpusStudyFiles('mr-small-explicit-le.dcm'));
    await session.driver.waitFor('right-table', (table) => table.rows === 2, 10_000, '2 rows');
    expect(refreshCount()).toBeGreaterThan(before);
    await sleep(1_500);

    const table = session.driver.widget('right-table')!;
    expect({ column: WIDENED_COLUMN, width: table.columnWidths![WIDENED_COLUMN] }).toEqual({ column: WIDENED_COLUMN, width: dragged[WIDENED_COLUMN] });
    expect({ column: NARROWED_COLUMN, width: table.columnWidths![NARROWED_COLUMN] }).toEqual({ column: NARROWED_COLUMN, width: dragged[NARROWED_COLUMN] });
    for (const column of [1, 2]) {
      const width = table.columnWidths![column];
      expect({ column, width }).toEqual({ column, width: Math.max(width, table.headerWidths![column]) });
    }
  }, 120_000);
});
