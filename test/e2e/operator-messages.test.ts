/**
 * Output of bin/loader that an operator reads at the default log level. The
 * default of pacs.legacyCharacterSet follows a Russian locale, and `config
 * show` names where it comes from. storescu sends a windows-1251 CT, written
 * by pydicom, to `loader serve`, and `loader studies` finds it by its Cyrillic
 * name. The serve log has one summary line per association and, while the
 * character set is the default, one warning per calling AE title. A value that
 * was set gets an INFO line instead. A scan logs one such line.
 */
import * as fs from 'fs';
import * as path from 'path';

import { createLoaderDirs, runLoader, startLoader, storeFiles, type LoaderServer } from '../support/peers';
import { listStudies, writeCp1251Series } from './helpers';

/** Patient Name that pydicom-tool.py cp1251 writes in windows-1251, and its Latin-1 reading. */
const CYRILLIC_NAME = 'Смирнов^Олег';
const LATIN1_READING = 'Ñìèðíîâ^Îëåã';

/** Locale variables of a Russian and of an English desktop session; the empty ones hide those of the test runner. */
const RUSSIAN_LOCALE = { LANG: 'ru_RU.UTF-8', LC_ALL: '', LC_MESSAGES: '' };
const ENGLISH_LOCALE = { LANG: 'en_US.UTF-8', LC_ALL: '', LC_MESSAGES: '' };


describe('legacy character set default', () => {
  test('Russian locale defaults to windows-1251', async () => {
    const configOutput = await runLoader(['config', 'show'], { env: RUSSIAN_LOCALE });

    expect(configOutput.code).toBe(0);
    expect(configOutput.stdout).toMatch(/^pacs\.legacyCharacterSet\s+windows-1251\s/m);
    expect(configOutput.stdout).toContain('pacs.legacyCharacterSet windows-1251: default for the Russian interface language (locale LANG=ru_RU.UTF-8)');
  });

  test('English locale defaults to latin1', async () => {
    const configOutput = await runLoader(['config', 'show'], { env: ENGLISH_LOCALE });

    expect(configOutput.stdout).toContain('pacs.legacyCharacterSet latin1: default for the non-Russian interface language (locale LANG=en_US.UTF-8)');
  });

  test('other setting keeps the default open', async () => {
    const dirs = createLoaderDirs('operator-messages-port');
    expect((await runLoader(['config', 'set', 'pacs.port', '11802'], { dirs, env: ENGLISH_LOCALE })).code).toBe(0);

    const stored = JSON.parse(fs.readFileSync(path.join(dirs.configDir, 'settings.json'), 'utf8'));
    expect(stored.pacs.legacyCharacterSet).toBeUndefined();
    const configOutput = await runLoader(['config', 'show'], { dirs, env: RUSSIAN_LOCALE });
    expect(configOutput.stdout).toContain('pacs.legacyCharacterSet windows-1251: default');
  });

  test('set value names the file', async () => {
    const dirs = createLoaderDirs('operator-messages-set');
    expect((await runLoader(['config', 'set', 'pacs.legacyCharacterSet', 'koi8-r'], { dirs, env: RUSSIAN_LOCALE })).code).toBe(0);

    const configOutput = await runLoader(['config', 'show'], { dirs, env: RUSSIAN_LOCALE });
    expect(configOutput.stdout).toContain(`pacs.legacyCharacterSet koi8-r: set in ${path.join(dirs.configDir, 'settings.json')}`);
  });
});

describe('loader serve on a Russian desktop', () => {
  let loader: LoaderServer;
  let series: Awaited<ReturnType<typeof writeCp1251Series>>;

  beforeAll(async () => {
    series = await writeCp1251Series(3);
    loader = await startLoader([], { env: RUSSIAN_LOCALE });
    // The same scanner sends the study twice, as it does for every new study.
    for (let association = 0; association < 2; association++) {
      const sent = await storeFiles(loader, series.files, { callingAeTitle: 'CT_SCANNER' });
      if (sent.code !== 0) throw new Error(`storescu failed: ${sent.stderr.slice(-2000)}`);
    }
  }, 60_000);

  afterAll(async () => {
    await loader?.stop();
  });

  test('search finds the Cyrillic name', async () => {
    const rows = await listStudies(loader.dirs, ['--name', 'смирнов']);

    expect(rows.map((row) => row.studyInstanceUid)).toEqual([series.studyInstanceUid]);
    expect(rows[0].patientName).toBe(CYRILLIC_NAME);
  });

  test('log confirms the arrival', async () => {
    await loader.stop();
    const log = loader.readLog();

    const summaries = log.split('\n').filter((line) => line.includes('Instances received in association'));
    expect(summaries).toHaveLength(2);
    expect(summaries[0]).toContain('callingAeTitle=CT_SCANNER calledAeTitle=LOADER stored=3 alreadyPresent=0 keptAside=0 failed=0 studies=1');
    expect(summaries[0]).toContain(`studyInstanceUids=${series.studyInstanceUid}`);
    expect(summaries[1]).toContain('stored=0 alreadyPresent=3');
    const warnings = log.split('\n').filter((line) => line.includes('pacs.legacyCharacterSet windows-1251'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(' WARN ');
    expect(warnings[0]).toContain('callingAeTitle=CT_SCANNER');
    expect(warnings[0]).toContain('windows-1251, default for the Russian interface language (locale LANG=ru_RU.UTF-8).');
    expect(warnings[0]).toContain('loader config set pacs.legacyCharacterSet VALUE');
    expect(warnings[0]).toContain('"loader config set pacs.legacyCharacterSet windows-1251"');
    expect(warnings[0]).toContain('restart the server');
    expect(warnings[0]).toContain('loader reindex');
    expect(warnings[0]).toContain('instances=3');
    expect(log).not.toContain('Смирнов');
    expect(log).not.toContain('Ñìèðíîâ');
  });
});

describe('loader serve with the character set set', () => {
  test('default value set logs INFO', async () => {
    const series = await writeCp1251Series(2);
    const dirs = createLoaderDirs('operator-messages-set-default');
    expect((await runLoader(['config', 'set', 'pacs.legacyCharacterSet', 'windows-1251'], { dirs, env: RUSSIAN_LOCALE })).code).toBe(0);
    const loader = await startLoader([], { dirs, env: RUSSIAN_LOCALE });
    try {
      const sent = await storeFiles(loader, series.files, { callingAeTitle: 'CT_SCANNER' });
      expect(sent.code).toBe(0);
    } finally {
      await loader.stop();
    }

    const lines = loader.readLog().split('\n').filter((line) => line.includes('pacs.legacyCharacterSet windows-1251'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(' INFO ');
    expect(lines[0]).toContain(`windows-1251, set in ${path.join(dirs.configDir, 'settings.json')}.`);
    expect(lines[0]).toContain('callingAeTitle=CT_SCANNER');
  }, 60_000);
});

describe('scan of windows-1251 files', () => {
  test('one warning with the file count', async () => {
    const series = await writeCp1251Series(3);

    const scan = await runLoader(['scan', series.folder], { env: ENGLISH_LOCALE });

    expect(scan.code).toBe(0);
    const warnings = scan.stderr.split('\n').filter((line) => line.includes('pacs.legacyCharacterSet'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('WARN');
    expect(warnings[0]).toContain('Scanned files without Specific Character Set (0008,0005)');
    expect(warnings[0]).toContain('indexed as pacs.legacyCharacterSet latin1, default for the non-Russian interface language');
    expect(warnings[0]).toContain('loader config set pacs.legacyCharacterSet VALUE');
    expect(warnings[0]).toContain('loader reindex');
    expect(warnings[0]).toContain('files=3');
    expect(scan.stdout + scan.stderr).not.toContain('Смирнов');
    expect(scan.stderr).not.toContain(LATIN1_READING);
  });

  test('--legacy-charset logs INFO, not WARN', async () => {
    const series = await writeCp1251Series(2);

    const scan = await runLoader(['--verbose', '--legacy-charset', 'windows-1251', 'scan', series.folder], { env: ENGLISH_LOCALE });

    expect(scan.code).toBe(0);
    const lines = scan.stderr.split('\n').filter((line) => line.includes('pacs.legacyCharacterSet windows-1251'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('INFO');
    expect(lines[0]).not.toContain('WARN');
    expect(lines[0]).toContain('windows-1251, given with --legacy-charset.');
    expect(lines[0]).toContain('files=2');
  });
});
