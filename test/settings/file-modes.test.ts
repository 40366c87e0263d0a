/**
 * Modes of the files outside the archive's DICOM files that contain the node
 * registry, job secrets or patient data. The test process runs with umask
 * 0022, the usual default, under which a file created without an explicit
 * mode is readable by every user (0644, or 0666 when the library ignores the
 * umask, as conf 10 does).
 */
import fs from 'node:fs';
import path from 'node:path';

import { LocalArchive } from '../../src/services/archive';
import { JobStore, JOB_DATABASE_FILE } from '../../src/services/migration/job-store';
import { SettingsStore } from '../../src/services/settings/settings-store';
import { captureLogLines } from '../support/log-capture';
import { createLoaderDirs, LOADER_BIN, loaderIsBuilt, runLoader } from '../support/loader';
import { makeTempDir, runCommand } from '../support/process';

const logLines = captureLogLines();
let previousUmask: number;

beforeAll(() => {
  previousUmask = process.umask(0o022);
});

afterAll(() => {
  process.umask(previousUmask);
});

function modeOf(file: string): string {
  return (fs.statSync(file).mode & 0o777).toString(8).padStart(4, '0');
}

describe('settings file mode', () => {
  test('new settings file is 0600', () => {
    const configDir = path.join(makeTempDir('modes-settings'), 'config');
    const store = new SettingsStore({ configDir });
    store.updatePacs({ port: 31111 });

    expect(modeOf(path.join(configDir, 'settings.json'))).toBe('0600');
    expect(modeOf(configDir)).toBe('0700');
  });

  test('world-writable settings file tightened', () => {
    const configDir = makeTempDir('modes-settings');
    const file = path.join(configDir, 'settings.json');
    fs.writeFileSync(file, '{}');
    fs.chmodSync(file, 0o666);

    // Reading alone tightens the mode, because commands that only read the settings never write the file.
    void new SettingsStore({ configDir }).settings;

    expect(modeOf(file)).toBe('0600');
    const lines = logLines.filter((line) => line.includes(file));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('had mode 0666, so other users could read and change it');
    expect(lines[0]).toContain('changed its mode to 0600');
  });

  test('group-readable settings file kept', () => {
    const configDir = makeTempDir('modes-settings');
    const file = path.join(configDir, 'settings.json');
    fs.writeFileSync(file, '{}');
    fs.chmodSync(file, 0o640);

    void new SettingsStore({ configDir }).settings;

    expect(modeOf(file)).toBe('0640');
    expect(logLines.filter((line) => line.includes(file))).toEqual([]);
  });
});

describe('job database mode', () => {
  test('new jobs.sqlite is 0600', () => {
    const configDir = path.join(makeTempDir('modes-jobs'), 'config');
    const file = path.join(configDir, JOB_DATABASE_FILE);
    const store = JobStore.open(file);
    try {
      expect(modeOf(file)).toBe('0600');
      // SQLite gives the write-ahead log the database's mode.
      expect(modeOf(`${file}-wal`)).toBe('0600');
      expect(modeOf(configDir)).toBe('0700');
    } finally {
      store.close();
    }
  });

  test('readable jobs.sqlite tightened', () => {
    const file = path.join(makeTempDir('modes-jobs'), JOB_DATABASE_FILE);
    JobStore.open(file).close();
    fs.chmodSync(file, 0o644);

    JobStore.open(file).close();

    expect(modeOf(file)).toBe('0600');
    const lines = logLines.filter((line) => line.includes(file));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('had mode 0644, so other users could read it;');
  });
});

describe('archive index mode', () => {
  test('new index.sqlite is 0600', () => {
    const root = path.join(makeTempDir('modes-archive'), 'archive');
    const archive = LocalArchive.open(root);
    try {
      expect(modeOf(path.join(root, 'index.sqlite'))).toBe('0600');
    } finally {
      archive.close();
    }
  });

  test('readable index.sqlite tightened', () => {
    const root = path.join(makeTempDir('modes-archive'), 'archive');
    LocalArchive.open(root).close();
    const file = path.join(root, 'index.sqlite');
    fs.chmodSync(file, 0o644);

    LocalArchive.open(root).close();

    expect(modeOf(file)).toBe('0600');
    expect(logLines.filter((line) => line.includes(file) && line.includes('had mode 0644'))).toHaveLength(1);
  });
});

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

describeBuilt('file modes through the CLI', () => {
  test('config set writes 0600 under HOME', async () => {
    const home = path.join(makeTempDir('modes-cli'), 'home');
    fs.mkdirSync(home, { mode: 0o755 });
    const env = { HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), XDG_DATA_HOME: path.join(home, '.local', 'share'), LOADER_CONFIG_DIR: undefined, LOADER_ARCHIVE: undefined };

    // No --config-dir, so the loader uses its default folder under HOME, as in a first run on a new account.
    const result = await runCommand(LOADER_BIN, ['config', 'set', 'pacs.port', '31111'], { env });

    expect(result.code).toBe(0);
    expect(modeOf(path.join(home, '.config', 'sciberia-loader', 'settings.json'))).toBe('0600');
    expect(modeOf(path.join(home, '.config', 'sciberia-loader'))).toBe('0700');
    expect(modeOf(path.join(home, '.config'))).toBe('0700');
  });

  test('config show tightens a 0666 file', async () => {
    const dirs = createLoaderDirs('modes-cli');
    const file = path.join(dirs.configDir, 'settings.json');
    fs.writeFileSync(file, '{}');
    fs.chmodSync(file, 0o666);

    const result = await runLoader(['config', 'show'], { dirs });

    expect(result.code).toBe(0);
    expect(modeOf(file)).toBe('0600');
    expect(result.stderr).toContain(`${file} had mode 0666`);
  });
});
