/**
 * Log lines of the PACS server after DCMTK storescu sends studies. Each
 * association gets one INFO line with the AE titles, the counts and the Study
 * Instance UIDs, and a rejected association one line. Data sets that declare
 * their character set get no legacy character set warning. No line names a
 * patient.
 */
import * as path from 'path';

import { LocalArchive } from '../../src/services/archive';
import { PacsServer } from '../../src/services/pacs-server/pacs-server';
import { defaultSettings } from '../../src/services/settings/settings-types';
import { writeCp1251Series } from '../e2e/helpers';
import { captureLogLines } from '../support/log-capture';
import { LOOPBACK, corpusFile, makeTempDir, runDcmtk, storeFiles } from '../support/peers';

const lines = captureLogLines();

const AE_TITLE = 'LOADERSUM';

/** Waits up to 10 s until `count` captured lines pass `filter`, because the server logs an association's end after the peer exits; returns them. */
async function waitForLines(filter: (line: string) => boolean, count: number): Promise<string[]> {
  const deadline = Date.now() + 10_000;
  while (lines.filter(filter).length < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  return lines.filter(filter);
}


describe('association summary lines', () => {
  const archive = LocalArchive.open(path.join(makeTempDir('association-summary'), 'archive'));
  const server = new PacsServer({
    settings: { ...defaultSettings().pacs, aeTitle: AE_TITLE, host: LOOPBACK, port: 0, acceptAnyCallingAeTitle: true, legacyCharacterSet: 'latin1' },
    archive,
    listNodes: () => [],
  });
  let port: number;
  const called = () => ({ aeTitle: AE_TITLE, host: LOOPBACK, port });
  const waitForSummaries = (callingAeTitle: string, count: number) =>
    waitForLines((line) => line.includes('Instances received in association') && line.includes(`callingAeTitle=${callingAeTitle} `), count);

  beforeAll(async () => {
    ({ port } = await server.start());
  });

  afterAll(async () => {
    await server.stop();
    archive.close();
  });

  test('summary names counts and study', async () => {
    const ct = corpusFile('ct');
    const first = await storeFiles(called(), [ct.absolutePath], { callingAeTitle: 'CT_SCANNER' });
    expect(first.code).toBe(0);
    const again = await storeFiles(called(), [ct.absolutePath], { callingAeTitle: 'CT_SCANNER' });
    expect(again.code).toBe(0);

    const summaries = await waitForSummaries('CT_SCANNER', 2);
    expect(summaries).toHaveLength(2);
    expect(summaries[0]).toMatch(/^\S+ INFO /);
    expect(summaries[0]).toContain(`calledAeTitle=${AE_TITLE}`);
    expect(summaries[0]).toContain('stored=1 alreadyPresent=0 keptAside=0 failed=0 studies=1');
    expect(summaries[0]).toContain(`studyInstanceUids=${ct.studyInstanceUid}`);
    expect(summaries[0]).toContain('reason=released');
    expect(summaries[1]).toContain('stored=0 alreadyPresent=1 keptAside=0 failed=0 studies=1');
    if (ct.patientName) expect(summaries.join('\n')).not.toContain(ct.patientName.split('^')[0]);
  }, 60_000);

  test('one line for a whole series', async () => {
    const series = await writeCp1251Series(4);
    const result = await storeFiles(called(), series.files, { callingAeTitle: 'CT_SERIES' });
    expect(result.code).toBe(0);

    const summaries = await waitForSummaries('CT_SERIES', 1);
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toContain('stored=4 alreadyPresent=0 keptAside=0 failed=0 studies=1');
    expect(summaries[0]).toContain(`studyInstanceUids=${series.studyInstanceUid}`);
  }, 60_000);

  test('declared character set does not warn', async () => {
    const ct = corpusFile('ct');
    await storeFiles(called(), [ct.absolutePath], { callingAeTitle: 'NEW_CT' });
    await waitForSummaries('NEW_CT', 1);

    expect(lines.filter((line) => line.includes('pacs.legacyCharacterSet') && line.includes('callingAeTitle=NEW_CT'))).toHaveLength(0);
  }, 60_000);

  test('rejected association logged once', async () => {
    const result = await runDcmtk('echoscu', ['-aet', 'CT_SCANNER', '-aec', 'NOT_LOADER', LOOPBACK, String(port)]);
    expect(result.code).not.toBe(0);
    const rejections = await waitForLines((line) => /rejected/i.test(line) && line.includes('NOT_LOADER'), 1);
    expect(rejections).toHaveLength(1);
    expect(rejections[0]).toContain('callingAe=CT_SCANNER');
    expect(rejections[0]).toContain(`peer=${LOOPBACK}:`);
    expect(rejections[0]).toMatch(/reason=/);
  }, 60_000);
});
