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

describe('legacy character set line', () => {
  /** Starts a server whose archive decodes undeclared text as windows-1251 from `source`. */
  async function startServer(name: string, source: { chosen: boolean; description: string }) {
    const archive = LocalArchive.open(path.join(makeTempDir(name), 'archive'), { legacyCharacterSet: 'windows-1251', legacyCharacterSetSource: source });
    const server = new PacsServer({
      settings: { ...defaultSettings().pacs, aeTitle: AE_TITLE, host: LOOPBACK, port: 0, acceptAnyCallingAeTitle: true, legacyCharacterSet: 'windows-1251' },
      archive,
      listNodes: () => [],
    });
    const { port } = await server.start();
    const stop = async () => {
      await server.stop();
      archive.close();
    };
    return { called: { aeTitle: AE_TITLE, host: LOOPBACK, port }, stop };
  }

  /** Sends `files` from `callingAeTitle` and waits for the summary line of that association. */
  async function send(called: { aeTitle: string; host: string; port: number }, files: string[], callingAeTitle: string, summariesBefore: number) {
    const result = await storeFiles(called, files, { callingAeTitle });
    expect(result.code).toBe(0);
    await waitForLines((line) => line.includes('Instances received in association') && line.includes(`callingAeTitle=${callingAeTitle} `), summariesBefore + 1);
  }

  const legacyLines = (callingAeTitle: string) =>
    lines.filter((line) => line.includes('pacs.legacyCharacterSet windows-1251') && line.includes(`callingAeTitle=${callingAeTitle} `));

  test('default warns once per calling AE', async () => {
    const series = await writeCp1251Series(2);
    const server = await startServer('legacy-default', { chosen: false, description: 'default for the Russian interface language (locale LANG=ru_RU.UTF-8)' });
    try {
      await send(server.called, series.files, 'OLD_CT', 0);
      await send(server.called, series.files, 'OLD_CT', 1);
      await send(server.called, series.files, 'OLD_MR', 0);
    } finally {
      await server.stop();
    }

    const oldCt = legacyLines('OLD_CT');
    expect(oldCt).toHaveLength(1);
    expect(oldCt[0]).toMatch(/^\S+ WARN /);
    expect(oldCt[0]).toContain('windows-1251, default for the Russian interface language (locale LANG=ru_RU.UTF-8).');
    expect(oldCt[0]).toContain('loader config set pacs.legacyCharacterSet VALUE');
    expect(oldCt[0]).toContain('loader config set pacs.legacyCharacterSet windows-1251');
    expect(oldCt[0]).toContain('restart the server');
    expect(oldCt[0]).toContain('loader reindex');
    expect(oldCt[0]).toContain('instances=2');
    expect(legacyLines('OLD_MR')).toHaveLength(1);
  }, 90_000);

  test('chosen value logs INFO once', async () => {
    const series = await writeCp1251Series(2);
    const server = await startServer('legacy-chosen', { chosen: true, description: 'set in /etc/loader/settings.json' });
    try {
      await send(server.called, series.files, 'SET_CT', 0);
      await send(server.called, series.files, 'SET_CT', 1);
    } finally {
      await server.stop();
    }

    const setCt = legacyLines('SET_CT');
    expect(setCt).toHaveLength(1);
    expect(setCt[0]).toMatch(/^\S+ INFO /);
    expect(setCt[0]).toContain('windows-1251, set in /etc/loader/settings.json.');
    expect(setCt[0]).toContain('loader reindex');
  }, 90_000);
});
