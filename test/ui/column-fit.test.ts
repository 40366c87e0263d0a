/**
 * Column widths that share a table's visible width: contents that fit keep
 * their widths, the widest columns are cut to a common maximum, header
 * widths and columns resized by the user are kept.
 */
import { fitColumnWidths } from '../../src/ui/components/column-fit';

const HEADERS = [60, 90, 80, 100, 70];

describe('fitColumnWidths', () => {
  test('contents that fit are kept', () => {
    const contentWidths = [200, 90, 80, 100, 120];
    expect(fitColumnWidths({ contentWidths, headerWidths: HEADERS, userWidths: [], availableWidth: 600 })).toEqual(contentWidths);
  });

  test('long name is cut to fit', () => {
    const widths = fitColumnWidths({ contentWidths: [450, 90, 80, 100, 120], headerWidths: HEADERS, userWidths: [], availableWidth: 600 });
    expect(widths).toEqual([210, 90, 80, 100, 120]);
    expect(widths.reduce((total, width) => total + width, 0)).toBe(600);
  });

  test('widest columns share the cut', () => {
    const widths = fitColumnWidths({ contentWidths: [450, 90, 80, 100, 400], headerWidths: HEADERS, userWidths: [], availableWidth: 600 });
    expect(widths).toEqual([165, 90, 80, 100, 165]);
  });

  test('priority name cut after others', () => {
    // Content widths as in the Russian study table with a long name and a 64-character description.
    const widths = fitColumnWidths({ contentWidths: [300, 130, 113, 159, 494], headerWidths: [76, 130, 113, 159, 90], userWidths: [], availableWidth: 571, priorityColumns: [0] });
    expect(widths).toEqual([300, 130, 113, 159, 90].map((width, column) => (column === 0 ? 571 - 130 - 113 - 159 - 90 : width)));
    expect(widths.reduce((total, width) => total + width, 0)).toBe(571);
  });

  test('priority name keeps content width', () => {
    const widths = fitColumnWidths({ contentWidths: [150, 90, 80, 100, 400], headerWidths: HEADERS, userWidths: [], availableWidth: 600, priorityColumns: [0] });
    expect(widths).toEqual([150, 90, 80, 100, 180]);
  });

  test('header widths are kept', () => {
    const widths = fitColumnWidths({ contentWidths: [450, 90, 80, 100, 120], headerWidths: HEADERS, userWidths: [], availableWidth: 300 });
    expect(widths).toEqual(HEADERS);
  });

  test('user widths are kept', () => {
    const widths = fitColumnWidths({ contentWidths: [450, 90, 80, 100, 120], headerWidths: HEADERS, userWidths: [undefined, 150], availableWidth: 600 });
    expect(widths).toEqual([150, 150, 80, 100, 120]);
  });
});
