/**
 * Sorting the Local panel's study table of the Russian window by a click on
 * a column header, under Xvfb. Dates sort newest first with the Study Time
 * inside a date and empty dates last, names by the Russian alphabet without
 * case, image counts as numbers. The sort stays when the window's server
 * receives a new study, and the selection stays on the same study, so a send
 * after a sort sends the study that the user selected (checked at dcmqrscp).
 */
import * as path from 'path';

import { generateUid } from '../../src/dicom/uid';
import { CT_SMALL, Tag, modifiedCopy, readInstanceUids } from '../archive/fixtures';
import { listFiles, makeTempDir, runLoader, startDcmqrscp, storeFiles } from '../support/peers';
import type { DcmqrscpHandle } from '../support/peers';
import { describeWhenGuiAvailable } from './gui-prerequisites';
import { useWindowSession } from './window-driver';
import type { WidgetRecord } from '../../src/ui/test-hooks';

const describeWithGui = describeWhenGuiAvailable('test/ui/window-sort', ['Xvfb', 'xdotool', 'import', 'dcmodify', 'dcmqrscp', 'storescu']);

const AE_TITLE = 'LOADERSORT';
const TABLE = 'right-table';
const NAME_COLUMN = 0;
const STUDY_DATE_COLUMN = 4;
const IMAGES_COLUMN = 5;

interface TestStudy {
  /** Patient Name (0010,0010) as stored. */
  patientName: string;
  /** The name as the table shows it. */
  shownName: string;
  studyDate: string;
  studyTime: string;
  images: number;
}

const YAKOVLEV: TestStudy = { patientName: 'Яковлев^Пётр', shownName: 'Яковлев Пётр', studyDate: '20190315', studyTime: '101500', images: 1 };
// Lower case, which a case-sensitive comparison would put after every capital.
const ABRAMOVA: TestStudy = { patientName: 'абрамова^Анна', shownName: 'абрамова Анна', studyDate: '20240131', studyTime: '0800', images: 2 };
// The same date as ABRAMOVA, later in the day.
const BORISOV: TestStudy = { patientName: 'Борисов^Иван', shownName: 'Борисов Иван', studyDate: '20240131', studyTime: '193000', images: 3 };
const SMITH: TestStudy = { patientName: 'Smith^John', shownName: 'Smith John', studyDate: '', studyTime: '', images: 1 };
// Sent to the window's server while the table is sorted.
const VASILIEV: TestStudy = { patientName: 'Васильев^Олег', shownName: 'Васильев Олег', studyDate: '20250601', studyTime: '120000', images: 1 };

/** Writes the instances of one study under `folder` and returns their paths. */
function writeStudy(folder: string, study: TestStudy): string[] {
  const studyUid = generateUid();
  const seriesUid = generateUid();
  return [...Array(study.images).keys()].map((index) =>
    modifiedCopy(CT_SMALL, path.join(folder, `${studyUid}-${index}.dcm`), {
      '(0008,0005)': 'ISO_IR 192',
      [Tag.StudyInstanceUID]: studyUid,
      [Tag.SeriesInstanceUID]: seriesUid,
      [Tag.SOPInstanceUID]: generateUid(),
      [Tag.PatientName]: study.patientName,
      [Tag.PatientID]: study.shownName.split(' ')[0].toUpperCase(),
      [Tag.StudyDate]: study.studyDate,
      [Tag.StudyTime]: study.studyTime,
    }),
  );
}

/** Returns the text of one column of each row of the table, in the order shown. */
function columnTexts(table: WidgetRecord | undefined, column: number): string[] {
  return (table?.cellTexts ?? []).map((row) => row[column] ?? '');
}

/**
 * Checks that the columns end inside the table at the window's minimum width
 * and that each is as wide as its header needs. The sorted column needs room
 * for the sort indicator, which the others do not get.
 */
function expectColumnsInside(table: WidgetRecord): void {
  let right = 0;
  table.columnWidths!.forEach((width, column) => {
    right += width;
    // A failure shows the column and its right edge next to the width of the header, which is the table's visible width.
    expect({ column, right }).toEqual({ column, right: Math.min(right, table.horizontalHeader!.width) });
    expect({ column, width }).toEqual({ column, width: Math.max(width, table.headerWidths![column]) });
  });
}

describeWithGui('study table sorting', () => {
  const files = makeTempDir('ui-sort-files');
  const studyUids = new Map<TestStudy, string>();
  let dcmqrscp: DcmqrscpHandle;
  const session = useWindowSession('sort', {
    language: 'ru',
    startServer: true,
    settings: { 'pacs.aeTitle': AE_TITLE, 'pacs.acceptAnyCallingAeTitle': 'on' },
    prepare: async ({ dirs }) => {
      const written: string[] = [];
      for (const study of [YAKOVLEV, ABRAMOVA, BORISOV, SMITH]) {
        const studyFiles = writeStudy(path.join(files, 'archive'), study);
        studyUids.set(study, readInstanceUids(studyFiles[0]).study);
        written.push(...studyFiles);
      }
      const imported = await runLoader(['scan', '--import', ...written], { dirs });
      if (imported.code !== 0) throw new Error(`loader scan --import failed: ${imported.stderr.slice(-1000)}`);
      dcmqrscp = await startDcmqrscp({ aeTitle: 'SORTQR' });
    },
  });

  afterAll(async () => {
    await dcmqrscp?.stop();
  });

  /** Clicks the header of `column` and waits until the indicator and the names show the expected order. */
  async function sortBy(column: number, order: 'ascending' | 'descending', names: string[]): Promise<WidgetRecord> {
    const { driver } = session;
    await driver.waitForStill(TABLE);
    await driver.clickColumnHeader(TABLE, column);
    const sorted = (table: WidgetRecord) => table.sortIndicator?.column === column && table.sortIndicator.order === order;
    const table = await driver.waitFor(TABLE, sorted, 5_000, `sort indicator at column ${column}, ${order}`);
    expect(columnTexts(await driver.waitFor(TABLE, (record) => sorted(record) && columnTexts(record, NAME_COLUMN).join() === names.join(), 5_000, names.join()), NAME_COLUMN)).toEqual(names);
    return table;
  }

  test('study date sorts newest first', async () => {
    const { driver } = session;
    const listed = await driver.waitFor(TABLE, (table) => table.rows === 4, 30_000, '4 rows');
    // The rows keep the archive's order and the header shows no indicator until the first click.
    expect(listed.sortIndicator).toBeUndefined();

    // BORISOV and ABRAMOVA share a date, so the Study Time orders them. SMITH has no date, so it comes last.
    await sortBy(STUDY_DATE_COLUMN, 'descending', [BORISOV, ABRAMOVA, YAKOVLEV, SMITH].map((study) => study.shownName));
    expect(columnTexts(driver.widget(TABLE), STUDY_DATE_COLUMN)).toEqual(['2024-01-31', '2024-01-31', '2019-03-15', '']);
    expectColumnsInside(await driver.waitForStill(TABLE));

    // A second click reverses the order, and the empty date stays last.
    await sortBy(STUDY_DATE_COLUMN, 'ascending', [YAKOVLEV, ABRAMOVA, BORISOV, SMITH].map((study) => study.shownName));
  }, 60_000);

  test('names sort in Russian order', async () => {
    // Without case, and Cyrillic before Latin as the Russian collation has it.
    await sortBy(NAME_COLUMN, 'ascending', [ABRAMOVA, BORISOV, YAKOVLEV, SMITH].map((study) => study.shownName));
    await sortBy(NAME_COLUMN, 'descending', [SMITH, YAKOVLEV, BORISOV, ABRAMOVA].map((study) => study.shownName));
  }, 60_000);

  test('image counts sort as numbers', async () => {
    // YAKOVLEV and SMITH have 1 image each, so the newer study date comes first and the empty one last.
    const table = await sortBy(IMAGES_COLUMN, 'descending', [BORISOV, ABRAMOVA, YAKOVLEV, SMITH].map((study) => study.shownName));
    expect(columnTexts(table, IMAGES_COLUMN)).toEqual(['3', '2', '1', '1']);
  }, 60_000);

  test('received study keeps the sort', async () => {
    const { driver } = session;
    await sortBy(STUDY_DATE_COLUMN, 'descending', [BORISOV, ABRAMOVA, YAKOVLEV, SMITH].map((study) => study.shownName));

    const sent = writeStudy(path.join(files, 'sent'), VASILIEV);
    const stored = await storeFiles({ aeTitle: AE_TITLE, host: '127.0.0.1', port: session.serverPort }, sent, { callingAeTitle: 'MODALITY' });
    expect({ code: stored.code, stderr: stored.stderr.slice(-500) }).toEqual({ code: 0, stderr: expect.any(String) });

    const expected = [VASILIEV, BORISOV, ABRAMOVA, YAKOVLEV, SMITH].map((study) => study.shownName);
    const table = await driver.waitFor(TABLE, (record) => record.rows === 5, 30_000, '5 rows');
    expect(columnTexts(await driver.waitFor(TABLE, (record) => columnTexts(record, NAME_COLUMN).join() === expected.join(), 5_000, expected.join()), NAME_COLUMN)).toEqual(expected);
    expect(driver.widget(TABLE)?.sortIndicator).toEqual({ column: STUDY_DATE_COLUMN, order: 'descending' });
    expect(table.rows).toBe(5);
  }, 60_000);

  test('sort keeps the selected study', async () => {
    const { driver } = session;
    await sortBy(NAME_COLUMN, 'ascending', [ABRAMOVA, BORISOV, VASILIEV, YAKOVLEV, SMITH].map((study) => study.shownName));

    // Ctrl+Home makes row 0 current without selecting it, and Down selects row 1, BORISOV's study.
    await driver.focusByKey(TABLE);
    driver.key('ctrl+Home', 'Down');
    const selected = await driver.waitFor(TABLE, (table) => (table.selectedRows ?? []).join() === '1', 5_000, 'row 1 selected');
    expect(columnTexts(selected, NAME_COLUMN)[1]).toBe(BORISOV.shownName);

    // Sorted by image count, BORISOV's study moves to row 0, and row 1 now contains ABRAMOVA's study.
    await sortBy(IMAGES_COLUMN, 'descending', [BORISOV, ABRAMOVA, VASILIEV, YAKOVLEV, SMITH].map((study) => study.shownName));
    const moved = await driver.waitFor(TABLE, (table) => (table.selectedRows ?? []).join() === '0', 5_000, 'row 0 selected');
    expect(columnTexts(moved, NAME_COLUMN)[0]).toBe(BORISOV.shownName);
    expect(driver.widget('right-selection')?.text).toBe('Исследований: 5, выбрано: 1');

    // The left PACS panel connects to dcmqrscp, and the send goes from the right Local panel to it.
    await driver.typeInto('left-host', '127.0.0.1');
    await driver.typeInto('left-port', String(dcmqrscp.port));
    await driver.typeInto('left-aet', dcmqrscp.aeTitle);
    await driver.click('left-connect');
    await driver.waitFor('left-connection', (label) => /^Подключено/.test(label.text ?? ''), 15_000, 'connected to dcmqrscp');
    await driver.click('transfer-left');
    await driver.waitFor('send-confirm');
    await driver.click('send-confirm');
    await driver.waitForGone('send-dialog');
    const done = await driver.waitFor('status-text', (label) => /^Готово/.test(label.toolTip || label.text || ''), 60_000, 'Done');
    expect(done.toolTip || done.text).toBe('Готово: снимков 3, ошибок 0');

    const received = listFiles(dcmqrscp.storageDir).filter((file) => path.basename(file) !== 'index.dat');
    expect(received.map((file) => readInstanceUids(file).study)).toEqual(Array(BORISOV.images).fill(studyUids.get(BORISOV)));
  }, 120_000);
});
