/**
 * Stored patient and study values that look like HTML or contain control
 * characters, in the Russian window's Local panel under Xvfb. The study table
 * shows them as plain text with control characters escaped. The tooltips of
 * cut cells are HTML that Qt shows as that same text. The delete dialog shows
 * them as plain text, with each patient on one line. The table also has a
 * Patient ID column.
 */
import * as path from 'path';

import { Tags } from '../../src/dicom/tags';
import { generateUid } from '../../src/dicom/uid';
import type { WidgetRecord } from '../../src/ui/test-hooks';
import { makeTempDir, runLoader } from '../support/peers';
import { writeSecondaryCapture } from '../support/secondary-capture';
import { describeWhenGuiAvailable } from './gui-prerequisites';
import { useWindowSession } from './window-driver';

const describeWithGui = describeWhenGuiAvailable('test/ui/window-study-text', ['Xvfb', 'xdotool', 'import']);

const TABLE = 'right-table';
const NAME_COLUMN = 0;
const PATIENT_ID_COLUMN = 1;
const DESCRIPTION_COLUMN = 6;

interface TextStudy {
  patientId: string;
  /** Patient Name (0010,0010) as stored, in UTF-8. */
  patientName: string;
  /** Study Description (0008,1030) as stored, in UTF-8. */
  description: string;
  /** The name as the table and the dialog show it. */
  shownName: string;
  /** The description as the table shows it. */
  shownDescription: string;
}

/**
 * Values that Qt::mightBeRichText() takes for HTML: bold and italic text and
 * a link to a local file. The name has no '=', because the table shows only
 * the part of a Patient Name before the first '=', its alphabetic group.
 */
const HTML_STUDY: TextStudy = {
  patientId: 'CTL1',
  patientName: '<b>Жирный</b>^<i>Курсив</i>',
  description: '<a href="file:///etc/passwd">ссылка</a> КТ грудной клетки',
  shownName: '<b>Жирный</b> <i>Курсив</i>',
  shownDescription: '<a href="file:///etc/passwd">ссылка</a> КТ грудной клетки',
};

/** Values with a newline, ESC, BEL and U+0001 in the name and a right-to-left override (U+202E) in the description. */
const CONTROL_STUDY: TextStudy = {
  patientId: 'CTL2',
  patientName: 'Строка\nдве^Esc\u001b[31mBel\u0007One\u0001',
  description: '\u202eКТ головного мозга наоборот',
  shownName: 'Строка\\nдве Esc\\x1b[31mBel\\x07One\\x01',
  shownDescription: '\\u202eКТ головного мозга наоборот',
};

/** Returns the HTML tooltip that shows `text` literally, as the table sets it for a cut cell whose text has '<' or '&'. */
function literalToolTip(text: string): string {
  const escaped = text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  return `<p style="white-space: pre">${escaped}</p>`;
}

/** Returns the row of the table that lists `study`, found by its Patient ID. */
function rowOf(table: WidgetRecord, study: TextStudy): number {
  return (table.cellTexts ?? []).findIndex((cells) => cells[PATIENT_ID_COLUMN] === study.patientId);
}

/** Returns the tooltip of one cell, or undefined when the cell has none. */
function toolTipOf(table: WidgetRecord, row: number, column: number): string | undefined {
  return table.cellToolTips?.find((cell) => cell.row === row && cell.column === column)?.toolTip;
}

describeWithGui('study table with markup and control characters', () => {
  const files = makeTempDir('ui-study-text-files');
  const session = useWindowSession('study-text', {
    language: 'ru',
    prepare: async ({ dirs }) => {
      const written = [HTML_STUDY, CONTROL_STUDY].map((study) => {
        const file = path.join(files, `${study.patientId}.dcm`);
        writeSecondaryCapture(file, generateUid(), study.patientId, [
          { tag: Tags.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 192' },
          { tag: Tags.PatientName, vr: 'PN', value: Buffer.from(study.patientName, 'utf8') },
          { tag: Tags.StudyDescription, vr: 'LO', value: Buffer.from(study.description, 'utf8') },
        ]);
        return file;
      });
      const imported = await runLoader(['scan', '--import', ...written], { dirs });
      if (imported.code !== 0) throw new Error(`loader scan --import failed: ${imported.stderr.slice(-1000)}`);
    },
  });

  test('cells show escaped plain text', async () => {
    const table = await session.driver.waitFor(TABLE, (record) => record.rows === 2, 30_000, '2 rows');
    for (const study of [HTML_STUDY, CONTROL_STUDY]) {
      const cells = table.cellTexts![rowOf(table, study)];
      expect(cells[PATIENT_ID_COLUMN]).toBe(study.patientId);
      expect(cells[NAME_COLUMN]).toBe(study.shownName);
      expect(cells[DESCRIPTION_COLUMN]).toBe(study.shownDescription);
    }
  }, 60_000);

  test('tooltips show markup literally', async () => {
    const table = await session.driver.waitForStill(TABLE);
    const row = rowOf(table, HTML_STUDY);
    // Both texts are wider than their columns at the window's minimum width, so each cell has its text as the tooltip.
    expect(toolTipOf(table, row, NAME_COLUMN)).toBe(literalToolTip(HTML_STUDY.shownName));
    expect(toolTipOf(table, row, DESCRIPTION_COLUMN)).toBe(literalToolTip(HTML_STUDY.shownDescription));
    // Texts without '<' or '&' stay plain, and their control characters are escaped.
    expect(toolTipOf(table, rowOf(table, CONTROL_STUDY), NAME_COLUMN)).toBe(CONTROL_STUDY.shownName);
  }, 60_000);

  test('delete dialog shows plain patient lines', async () => {
    const { driver } = session;
    // The first Down selects row 0 and the second one row 1, so each study is selected in turn.
    for (let row = 0; row < 2; row++) {
      const table = await driver.waitForStill(TABLE);
      const study = rowOf(table, HTML_STUDY) === row ? HTML_STUDY : CONTROL_STUDY;
      await driver.focusByKey(TABLE);
      driver.key('Down');
      await driver.waitFor(TABLE, (record) => (record.selectedRows ?? []).join() === String(row), 5_000, `row ${row} selected`);
      await driver.waitFor('right-delete', (button) => button.enabled, 5_000, 'Delete enabled');
      await driver.waitForStill('right-delete');
      await driver.click('right-delete');
      await driver.waitForActiveWindow('delete-dialog', 15_000);

      const text = await driver.waitFor('delete-dialog-text');
      expect(text.textFormat).toBe('plain');
      expect((text.text ?? '').split('\n')).toContain(`${study.shownName}, ID пациента ${study.patientId}`);
      await driver.click('delete-dialog-cancel');
      await driver.waitForGone('delete-dialog');
    }
  }, 90_000);
});
