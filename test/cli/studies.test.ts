/**
 * `loader studies` on a built loader: the date presets shared with find,
 * case-insensitive modality codes, the Study Instance UID column, control
 * characters in the table, and --archive on a folder that is not an archive.
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

describeBuilt('studies table escapes', () => {
  const dirs = createLoaderDirs('studies-escapes');
  const hostileName = 'Evil\u001b[2J\u001b]0;pwned\u0007\r\nFAKE^ROW';

  beforeAll(async () => {
    const copy = path.join(dirs.root, 'files', 'hostile.dcm');
    fs.mkdirSync(path.dirname(copy), { recursive: true });
    fs.copyFileSync(corpusFile('ct').absolutePath, copy);
    expect((await runDcmtk('dcmodify', ['-nb', '-m', `PatientName=${hostileName}`, '-m', 'StudyDescription=desc\u001b[31mRED', copy])).code).toBe(0);
    expect((await runLoader(['scan', copy, '--import'], { dirs })).code).toBe(0);
  });

  test('control characters shown escaped', async () => {
    const result = await runLoader(['studies'], { dirs });
    const lines = result.stdout.split('\n');

    expect(result.code).toBe(0);
    expect(lines[2]).toContain('Evil\\x1b[2J\\x1b]0;pwned\\x07\\r\\nFAKE^ROW');
    expect(lines[2]).toContain('desc\\x1b[31mRED');
    expect(lines[3]).toBe('1 study');
    expect(result.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
  });

  test('--json keeps stored values', async () => {
    const result = await runLoader(['studies', '--json'], { dirs });

    expect(result.code).toBe(0);
    expect(result.json<{ patientName: string }[]>()[0].patientName).toBe(hostileName);
  });
});

describeBuilt('studies --archive check', () => {
  const dirs = createLoaderDirs('studies-archive');
  const listing = (folder: string) => fs.readdirSync(folder).sort();

  test('folder of DICOM files rejected', async () => {
    const folder = path.join(dirs.root, 'cd copy');
    fs.mkdirSync(folder);
    fs.copyFileSync(corpusFile('ct').absolutePath, path.join(folder, 'IM1'));

    const result = await runLoader(['studies', '--archive', folder], { dirs });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${folder} is not a loader archive (no index.sqlite); use \`loader scan '${folder}'\` to load its files`);
    expect(result.stdout).toBe('');
    expect(listing(folder)).toEqual(['IM1']);
  });

  test('send from a folder of DICOM files rejected', async () => {
    const folder = path.join(dirs.root, 'cd for send');
    fs.mkdirSync(folder);
    fs.copyFileSync(corpusFile('ct').absolutePath, path.join(folder, 'IM1'));

    const result = await runLoader(['send', '--archive', folder, '--host', '127.0.0.1', '--port', '104', '-aec', 'NODE', '--study-uid', '1.2.3'], { dirs });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${folder} is not a loader archive (no index.sqlite)`);
    expect(listing(folder)).toEqual(['IM1']);
  });

  test('send from an empty folder rejected', async () => {
    const folder = path.join(dirs.root, 'empty mount');
    fs.mkdirSync(path.join(folder, 'lost+found'), { recursive: true });

    const result = await runLoader(['send', '--archive', folder, '--host', '127.0.0.1', '--port', '104', '-aec', 'NODE', '--study-uid', '1.2.3'], { dirs });
    const studies = await runLoader(['studies', '--archive', folder], { dirs });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`archive ${folder} is empty`);
    expect(studies.code).toBe(0);
    expect(listing(folder)).toEqual(['lost+found']);
  });

  test('file rejected', async () => {
    const file = path.join(dirs.root, 'one.dcm');
    fs.copyFileSync(corpusFile('ct').absolutePath, file);

    const result = await runLoader(['studies', '--archive', file], { dirs });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`archive ${file} is a file, not a folder`);
    expect(fs.statSync(file).isFile()).toBe(true);
  });

  test('archive without index suggests reindex', async () => {
    const folder = path.join(dirs.root, 'lost-index');
    fs.mkdirSync(path.join(folder, '.incoming'), { recursive: true });

    const result = await runLoader(['studies', '--archive', folder], { dirs });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`archive ${folder} has no index.sqlite; run \`loader reindex --archive ${folder}\``);
    expect(listing(folder)).toEqual(['.incoming']);
  });

  test('empty folder lists nothing', async () => {
    const folder = path.join(dirs.root, 'empty');
    fs.mkdirSync(folder);

    const table = await runLoader(['studies', '--archive', folder], { dirs });
    const json = await runLoader(['studies', '--archive', folder, '--json'], { dirs });

    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/\n0 studies\n$/);
    expect(json.code).toBe(0);
    expect(json.json<unknown[]>()).toEqual([]);
    expect(listing(folder)).toEqual([]);
  });
});
