/**
 * `loader studies` on a built loader: the date presets shared with find,
 * case-insensitive modality codes and the Study Instance UID column.
 */
import fs from 'node:fs';
import path from 'node:path';

import { corpusFile, createLoaderDirs, loaderIsBuilt, runDcmtk, runLoader } from '../support/peers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

/** Today in local time as YYYYMMDD, the day the date presets count from. */
function localToday(): string {
  const now = new Date();
  return `${now.getFullYear()}${String(now.getMonth() + 1).padStart(2, '0')}${String(now.getDate()).padStart(2, '0')}`;
}

describeBuilt('studies command', () => {
  const dirs = createLoaderDirs('studies-cli');
  const ct = corpusFile('ct');

  beforeAll(async () => {
    const copy = path.join(dirs.root, 'today', 'ct.dcm');
    fs.mkdirSync(path.dirname(copy), { recursive: true });
    fs.copyFileSync(ct.absolutePath, copy);
    expect((await runDcmtk('dcmodify', ['-nb', '-m', `StudyDate=${localToday()}`, copy])).code).toBe(0);
    expect((await runLoader(['scan', copy, '--import'], { dirs })).code).toBe(0);
  });

  test.each(['today', 'last-7-days', 'LAST-30-DAYS'])('--date %s finds today', async (preset) => {
    const result = await runLoader(['studies', '--date', preset, '--json'], { dirs });

    expect(result.code).toBe(0);
    expect(result.json<{ studyInstanceUid: string }[]>().map((study) => study.studyInstanceUid)).toEqual([ct.studyInstanceUid]);
  });

  test('--date yesterday finds nothing', async () => {
    const result = await runLoader(['studies', '--date', 'yesterday', '--json'], { dirs });

    expect(result.code).toBe(0);
    expect(result.json<unknown[]>()).toEqual([]);
  });

  test('--date invalid preset rejected', async () => {
    const result = await runLoader(['studies', '--date', 'last-week'], { dirs });

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--date "last-week" is invalid');
    expect(result.stderr).toContain('last-7-days');
  });

  test('--modality ignores case', async () => {
    const lower = await runLoader(['studies', '--modality', 'ct', '--json'], { dirs });
    const other = await runLoader(['studies', '--modality', 'mr', '--json'], { dirs });

    expect(lower.code).toBe(0);
    expect(lower.json<{ studyInstanceUid: string }[]>().map((study) => study.studyInstanceUid)).toEqual([ct.studyInstanceUid]);
    expect(other.json<unknown[]>()).toEqual([]);
  });

  test('table shows whole study UID', async () => {
    const result = await runLoader(['studies'], { dirs });
    const [header, , row] = result.stdout.split('\n');

    expect(result.code).toBe(0);
    expect(header).toMatch(/STUDY INSTANCE UID$/);
    expect(row.endsWith(ct.studyInstanceUid!)).toBe(true);
  });
});
