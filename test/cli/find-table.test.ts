/**
 * The text table of `loader find` against Orthanc: a description longer
 * than 40 columns ends with "…", the columns after it stay aligned, and
 * --json keeps the description whole.
 */
import fs from 'node:fs';
import path from 'node:path';

import { fitToWidth } from '../../src/cli/terminal';
import { corpusFile, createLoaderDirs, freePort, loaderIsBuilt, LOOPBACK, runDcmtk, runLoader, startOrthanc } from '../support/peers';
import type { OrthancHandle } from '../support/peers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

/** 63 characters, within the 64 of a LO value and longer than the 40 columns of a study table cell. */
const STUDY_DESCRIPTION = 'CT chest, abdomen and pelvis with contrast, arterial and venous';
/** Longer than the 32 columns of the series table's DESCRIPTION. */
const SERIES_DESCRIPTION = 'Axial 1.25 mm soft tissue kernel, venous phase';

describe('fitToWidth', () => {
  test('pads short text', () => {
    expect(fitToWidth('CT', 5)).toBe('CT   ');
  });

  test('cuts long text with ellipsis', () => {
    expect(fitToWidth('abdomen', 5)).toBe('abdo…');
  });

  test('keeps text of exact width', () => {
    expect(fitToWidth('chest', 5)).toBe('chest');
  });

  test('counts wide characters twice', () => {
    expect(fitToWidth('山田', 6)).toBe('山田  ');
    expect(fitToWidth('山田太郎', 6)).toBe('山田… ');
  });
});

describeBuilt('find table', () => {
  const dirs = createLoaderDirs('find-table');
  const ct = corpusFile('ct');
  let orthanc: OrthancHandle;
  let peerArgs: string[];

  beforeAll(async () => {
    const copy = path.join(dirs.root, 'long-description', 'ct.dcm');
    fs.mkdirSync(path.dirname(copy), { recursive: true });
    fs.copyFileSync(ct.absolutePath, copy);
    const modified = await runDcmtk('dcmodify', ['-nb', '-i', `StudyDescription=${STUDY_DESCRIPTION}`, '-i', `SeriesDescription=${SERIES_DESCRIPTION}`, copy]);
    expect(modified.code).toBe(0);
    // dcmqrscp 3.6.7 returns no Series Description, so the series table needs Orthanc.
    orthanc = await startOrthanc({ aeTitle: 'FINDTABLE', modalities: { loader: { aet: 'LOADERFIND', host: LOOPBACK, port: await freePort() } } });
    await orthanc.uploadFile(copy);
    peerArgs = ['--host', orthanc.host, '--port', String(orthanc.port), '-aec', orthanc.aeTitle, '-aet', 'LOADERFIND'];
  });

  afterAll(async () => {
    await orthanc?.stop();
  });

  test('study description cut with ellipsis', async () => {
    const result = await runLoader(['find', ...peerArgs, '--study-uid', ct.studyInstanceUid!], { dirs });
    const [headings, , line] = result.stdout.trimEnd().split('\n');

    expect(result.code).toBe(0);
    expect(line).toContain(`  ${STUDY_DESCRIPTION.slice(0, 39)}…  `);
    expect(line).not.toContain(STUDY_DESCRIPTION);
    expect(line.indexOf(ct.studyInstanceUid!)).toBe(headings.indexOf('STUDY INSTANCE UID'));
  });

  test('series description cut with ellipsis', async () => {
    const result = await runLoader(['find', ...peerArgs, '--level', 'SERIES', '--study-uid', ct.studyInstanceUid!], { dirs });
    const [headings, line] = result.stdout.trimEnd().split('\n');

    expect(result.code).toBe(0);
    expect(line).toContain(`  ${SERIES_DESCRIPTION.slice(0, 31)}…  `);
    expect(line.search(/\S+$/)).toBe(headings.indexOf('SERIES INSTANCE UID'));
  });

  test('json keeps description whole', async () => {
    const result = await runLoader(['find', ...peerArgs, '--study-uid', ct.studyInstanceUid!, '--json'], { dirs });

    expect(result.code).toBe(0);
    expect(result.json<{ studyDescription: string }[]>().map((match) => match.studyDescription)).toEqual([STUDY_DESCRIPTION]);
  });
});
