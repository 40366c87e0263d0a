/**
 * `loader send`, `get` and `move` against Orthanc name each study they moved:
 * patient name, Patient ID, study date, description and counts, on stdout and
 * in --json, never in log lines. Under a terminal, the network commands show
 * only warnings and errors unless --verbose or LOADER_LOG_LEVEL requests more.
 */
import fs from 'node:fs';
import path from 'node:path';

import { LOADER_BIN, LOOPBACK, corpusFile, createLoaderDirs, freePort, loaderIsBuilt, runCommand, runDcmtk, runLoader, startOrthanc } from '../support/peers';
import type { LoaderDirs, OrthancHandle, RunResult } from '../support/peers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

/** Two studies of one corpus file, each with its own patient, date and description. */
const STUDIES = {
  ivanov: { name: 'Иванов^Иван', id: 'RES-IVA', date: '20240301', description: 'CT HEAD RESULTS' },
  petrov: { name: 'PETROV^PETR', id: 'RES-PET', date: '20230115', description: 'CT CHEST RESULTS' },
} as const;
type Label = keyof typeof STUDIES;

const SEND_HEADING = /^PATIENT NAME +PATIENT ID +STUDY DATE +MODALITIES +DESCRIPTION +SENT +FAILED +STUDY INSTANCE UID$/m;
const RETRIEVE_HEADING = /^PATIENT NAME +PATIENT ID +STUDY DATE +MODALITIES +DESCRIPTION +RECEIVED +NEW +OUTCOME +STUDY INSTANCE UID$/m;

/** A log line: an ISO 8601 time stamp, then the level. */
const LOG_LINE = /^\d{4}-\d\d-\d\dT[\d:.]+Z (DEBUG|INFO|WARN|ERROR) /;

interface StudyResult {
  studyInstanceUid: string;
  patientName: string;
  patientId: string;
  studyDate: string;
  studyDescription: string;
}

/** Returns the log lines of `output`, where patient names must never appear. */
function logLinesOf(output: string): string[] {
  return output.split('\n').filter((line) => LOG_LINE.test(line));
}

/** Returns the line of `output` that contains the Study Instance UID `uid` and starts with the patient name. */
function tableRowOf(output: string, uid: string, name: string): string | undefined {
  return output.split('\n').find((line) => line.startsWith(name) && line.includes(uid));
}

/** Returns a pattern that matches the cells of one table row, separated by two or more spaces. */
function rowPattern(cells: string[]): RegExp {
  return new RegExp(`^${cells.map((cell) => cell.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join(' {2,}')}$`);
}

/** Single-quotes `text` for sh. */
function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Runs `loader ARGS` with stdout and stderr on a pseudo-terminal, through script(1), and returns what the terminal showed. */
function runLoaderOnTerminal(dirs: LoaderDirs, args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  const command = [LOADER_BIN, '--archive', dirs.archiveDir, '--config-dir', dirs.configDir, ...args].map(shellQuote).join(' ');
  return runCommand('script', ['-qefc', command, '/dev/null'], { env: { HOME: dirs.homeDir, LOADER_LOG_LEVEL: '', ...env } });
}

describeBuilt('per-study transfer results', () => {
  /** The archive that sends. */
  const source: LoaderDirs = createLoaderDirs('results-source');
  const uidOf = {} as Record<Label, string>;
  let orthanc: OrthancHandle;
  let movePort: number;

  async function addOrthancNode(dirs: LoaderDirs): Promise<void> {
    const add = await runLoader(['nodes', 'add', 'orthanc', '--aet', orthanc.aeTitle, '--host', orthanc.host, '--port', String(orthanc.port)], { dirs });
    expect(add.code).toBe(0);
  }

  /** Returns a fresh archive with Orthanc registered as a node, and with the AE title and C-MOVE port that Orthanc sends to. */
  async function receivingArchive(label: string): Promise<LoaderDirs> {
    const dirs = createLoaderDirs(label);
    await addOrthancNode(dirs);
    expect((await runLoader(['config', 'set', 'pacs.aeTitle', 'RESULTSLDR'], { dirs })).code).toBe(0);
    expect((await runLoader(['config', 'set', 'pacs.moveScuPort', String(movePort)], { dirs })).code).toBe(0);
    return dirs;
  }

  beforeAll(async () => {
    const ct = corpusFile('ct');
    const files: string[] = [];
    for (const [label, study] of Object.entries(STUDIES) as [Label, (typeof STUDIES)[Label]][]) {
      const file = path.join(source.root, 'files', `${label}.dcm`);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.copyFileSync(ct.absolutePath, file);
      const changes = [
        ['(0008,0005)', 'ISO_IR 192'],
        ['(0010,0010)', study.name],
        ['(0010,0020)', study.id],
        ['(0008,0020)', study.date],
        ['(0008,1030)', study.description],
      ].flatMap(([tag, value]) => ['-i', `${tag}=${value}`]);
      expect((await runDcmtk('dcmodify', ['-nb', '-gst', '-gse', '-gin', ...changes, file])).code).toBe(0);
      const dump = await runDcmtk('dcmdump', ['+P', 'StudyInstanceUID', file]);
      uidOf[label] = /\[([0-9.]+)\]/.exec(dump.stdout)![1];
      files.push(file);
    }

    movePort = await freePort();
    orthanc = await startOrthanc({ aeTitle: 'RESULTS', modalities: { loader: { aet: 'RESULTSLDR', host: LOOPBACK, port: movePort } } });
    await addOrthancNode(source);
    expect((await runLoader(['scan', '--import', ...files], { dirs: source })).code).toBe(0);
  });

  afterAll(async () => {
    await orthanc?.stop();
  });

  test('send names each study', async () => {
    const result = await runLoader(['send', 'orthanc', '--study-uid', uidOf.ivanov, uidOf.petrov], { dirs: source });

    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`success: 2 of 2 instances sent to RESULTS at ${orthanc.host}:${orthanc.port}\n`);
    expect(result.stdout).toMatch(SEND_HEADING);
    for (const label of ['ivanov', 'petrov'] as const) {
      const row = tableRowOf(result.stdout, uidOf[label], STUDIES[label].name);
      expect(row).toBeDefined();
      expect(row).toMatch(rowPattern([STUDIES[label].name, STUDIES[label].id, STUDIES[label].date, 'CT', STUDIES[label].description, '1 of 1', '0', uidOf[label]]));
    }
  });

  test('send JSON lists studies', async () => {
    const result = await runLoader(['send', 'orthanc', '--study-uid', uidOf.ivanov, '--json'], { dirs: source });
    const report = result.json<{ archivedStudies: Array<StudyResult & { instances: number; sent: number; failed: number }> }>();

    expect(result.code).toBe(0);
    expect(report.archivedStudies).toEqual([
      {
        studyInstanceUid: uidOf.ivanov,
        patientName: STUDIES.ivanov.name,
        patientId: STUDIES.ivanov.id,
        studyDate: STUDIES.ivanov.date,
        studyDescription: STUDIES.ivanov.description,
        modalitiesInStudy: ['CT'],
        instances: 1,
        sent: 1,
        failed: 0,
      },
    ]);
  });

  test('send logs no patient name', async () => {
    const result = await runLoader(['send', 'orthanc', '--all-matching', '--patient-id', STUDIES.petrov.id], { dirs: source, env: { LOADER_LOG_LEVEL: 'debug' } });

    expect(result.code).toBe(0);
    expect(tableRowOf(result.stdout, uidOf.petrov, STUDIES.petrov.name)).toBeDefined();
    expect(logLinesOf(result.stderr).length).toBeGreaterThan(0);
    expect(result.stderr).not.toContain('PETROV');
  });

  test('get names each study', async () => {
    const dirs = await receivingArchive('results-get');
    await runLoader(['send', 'orthanc', '--study-uid', uidOf.ivanov], { dirs: source });

    const result = await runLoader(['get', 'orthanc', '--study-uid', uidOf.ivanov], { dirs, env: { LOADER_LOG_LEVEL: 'debug' } });

    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(RETRIEVE_HEADING);
    const row = tableRowOf(result.stdout, uidOf.ivanov, STUDIES.ivanov.name);
    expect(row).toMatch(rowPattern([STUDIES.ivanov.name, STUDIES.ivanov.id, STUDIES.ivanov.date, 'CT', STUDIES.ivanov.description, '1 of 1', '1', 'success', uidOf.ivanov]));
    expect(result.stderr).not.toContain('Иванов');
  });

  test('move JSON names each study', async () => {
    const dirs = await receivingArchive('results-move');
    await runLoader(['send', 'orthanc', '--study-uid', uidOf.ivanov, uidOf.petrov], { dirs: source });

    const result = await runLoader(['move', 'orthanc', '--patient-id', 'RES-*', '--json'], { dirs, env: { LOADER_LOG_LEVEL: 'debug' } });
    const report = result.json<{ studies: Array<StudyResult & { method: string; completed: number; stored: number }> }>();

    expect(result.code).toBe(0);
    const byUid = new Map(report.studies.map((study) => [study.studyInstanceUid, study]));
    for (const label of ['ivanov', 'petrov'] as const) {
      const study = byUid.get(uidOf[label]);
      expect(study).toEqual(
        expect.objectContaining({
          patientName: STUDIES[label].name,
          patientId: STUDIES[label].id,
          studyDate: STUDIES[label].date,
          studyDescription: STUDIES[label].description,
          method: 'move',
          completed: 1,
        }),
      );
    }
    expect(result.stderr).not.toContain('Иванов');
    expect(result.stderr).not.toContain('PETROV');
  });

  test('terminal shows no INFO lines', async () => {
    const result = await runLoaderOnTerminal(source, ['echo', 'orthanc']);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('RESULTS');
    expect(result.stdout).not.toContain('Association established');
    expect(logLinesOf(result.stdout.replace(/\r/g, ''))).toEqual([]);
  });

  test('terminal --verbose shows INFO', async () => {
    const result = await runLoaderOnTerminal(source, ['echo', 'orthanc', '--verbose']);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('INFO  loader.network: Association established');
    expect(result.stdout).toContain('Association established');
  });

  test('terminal LOADER_LOG_LEVEL=info shows INFO', async () => {
    const result = await runLoaderOnTerminal(source, ['send', 'orthanc', '--study-uid', uidOf.petrov], { LOADER_LOG_LEVEL: 'info' });

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Association established');
  });

  test('terminal send shows table only', async () => {
    // script(1) gives its terminal no size here, so this also runs the progress line at 0 columns.
    const result = await runLoaderOnTerminal(source, ['send', 'orthanc', '--study-uid', uidOf.petrov]);
    const terminalOutput = result.stdout.replace(/\r/g, '');

    expect(result.code).toBe(0);
    expect(terminalOutput).not.toContain('Association established');
    expect(tableRowOf(terminalOutput, uidOf.petrov, STUDIES.petrov.name)).toBeDefined();
  });

  test('pipe keeps INFO lines', async () => {
    const result = await runLoader(['echo', 'orthanc'], { dirs: source, env: { LOADER_LOG_LEVEL: '' } });

    expect(result.code).toBe(0);
    expect(result.stderr).toContain('Association established');
  });
});
