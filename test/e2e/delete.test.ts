/**
 * `loader delete` against a running `loader serve`. A study stored under the
 * wrong Patient ID is deleted while serve keeps running, and C-FIND no longer
 * finds it. storescu then stores the corrected instances (same SOP Instance
 * UIDs, another Patient ID) that serve rejected before. A delete during a
 * store leaves the index and the files in agreement. A delete killed between
 * its steps is finished by the next open of the archive or by `loader reindex`.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { LocalArchive } from '../../src/services/archive';
import { LOADER_BIN, associationArgs, corpusFile, createLoaderDirs, loaderIsBuilt, runCommand, runDcmtk, runLoader, startLoader } from '../support/peers';
import { writeStudyCopies } from '../support/study-copies';
import type { LoaderDirs, LoaderServer, RunResult } from '../support/peers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

/** Ports of this file, from the range 11600-11699 set aside for these tests. */
const SERVE_PORT = 11611;
const CONCURRENT_SERVE_PORT = 11612;

interface DeleteJson {
  studies: Array<{ studyInstanceUid: string; wholeStudy: boolean; instances: number; remainingInstances: number }>;
  instances: number;
  files: number;
  keptCopies: number;
  failures: unknown[];
  missingStudyInstanceUids: string[];
}

/** Copies `source` to `target` with the given DICOM changes (dcmodify -i TAG=VALUE). */
async function modifiedCopy(source: string, target: string, changes: Record<string, string>): Promise<string> {
  fs.copyFileSync(source, target);
  const result = await runDcmtk('dcmodify', ['-nb', ...Object.entries(changes).flatMap(([tag, value]) => ['-i', `${tag}=${value}`]), target]);
  if (result.code !== 0) throw new Error(`dcmodify failed: ${result.stderr}`);
  return target;
}

/** Sends `files` with storescu, which goes on after a failure status (--no-halt). */
function sendFiles(server: LoaderServer, files: string[]): Promise<RunResult> {
  return runDcmtk('storescu', ['-d', '--no-halt', ...associationArgs(server, 'DELETESCU'), ...files], { timeoutMs: 120_000 });
}

/** Returns Patient ID and Number of Study Related Instances of each study that a STUDY level C-FIND finds for `studyInstanceUid`. */
async function findStudy(server: LoaderServer, studyInstanceUid: string): Promise<Array<{ patientId: string; instances: string }>> {
  const result = await runDcmtk('findscu', [
    '-v',
    '-S',
    ...associationArgs(server, 'DELETEFIND'),
    '-k', 'QueryRetrieveLevel=STUDY',
    '-k', `StudyInstanceUID=${studyInstanceUid}`,
    '-k', 'PatientID',
    '-k', 'NumberOfStudyRelatedInstances',
  ]);
  expect(result.code).toBe(0);
  const patientIds = [...result.stderr.matchAll(/\(0010,0020\) LO \[([^\]]*)\]/g)].map((match) => match[1].trim());
  const counts = [...result.stderr.matchAll(/\(0020,1208\) IS \[(\d+) ?\]/g)].map((match) => match[1]);
  return counts.map((instances, index) => ({ patientId: patientIds[index], instances }));
}

/** Names in `folder`, or [] when it is missing. */
function namesIn(folder: string): string[] {
  return fs.existsSync(folder) ? fs.readdirSync(folder) : [];
}

describeBuilt('loader delete while serve runs', () => {
  const ct = corpusFile('ct');
  const studyUid = ct.studyInstanceUid!;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'loader-delete-'));
  let server: LoaderServer;
  let wrong: string[];
  let corrected: string[];
  /** stderr of the delete, with its log lines. */
  let deleteLog = '';

  beforeAll(async () => {
    const second = await modifiedCopy(ct.absolutePath, path.join(work, 'second.dcm'), { '(0008,0018)': `${ct.sopInstanceUid}.2` });
    wrong = [ct.absolutePath, second];
    corrected = [
      await modifiedCopy(ct.absolutePath, path.join(work, 'first-corrected.dcm'), { '(0010,0020)': 'CORRECTED' }),
      await modifiedCopy(second, path.join(work, 'second-corrected.dcm'), { '(0010,0020)': 'CORRECTED' }),
    ];
    server = await startLoader([], { aeTitle: 'DELETESRV', port: SERVE_PORT });
    expect((await sendFiles(server, wrong)).code).toBe(0);
  }, 180_000);

  afterAll(async () => {
    await server?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('corrected copy rejected before delete', async () => {
    const result = await sendFiles(server, [corrected[0]]);

    expect(result.stderr).toContain('0xc000');
    expect(result.stderr).toContain('SOP Instance is stored under another Patient ID; kept aside');
    expect(namesIn(path.join(server.dirs.archiveDir, '.conflicts'))).toHaveLength(1);
  }, 120_000);

  test('rejects a pipe without --yes', async () => {
    const result = await runLoader(['delete', '--study-uid', studyUid], { dirs: server.dirs, input: 'y\n' });

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('stdin is not a terminal');
    expect(result.stderr).toContain('--yes');
    expect(await findStudy(server, studyUid)).toEqual([{ patientId: ct.patientId, instances: '2' }]);
  }, 120_000);

  test('unknown study UID exits 1', async () => {
    const result = await runLoader(['delete', '--study-uid', `${studyUid}.404`, '--yes'], { dirs: server.dirs });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`study ${studyUid}.404 is not in the archive`);
  }, 120_000);

  test('deletes the study and its kept copy', async () => {
    const result = await runLoader(['delete', '--study-uid', studyUid, '--yes', '--json'], { dirs: server.dirs });
    const report = result.json<DeleteJson>();
    deleteLog = result.stderr;

    expect(result.code).toBe(0);
    expect(report.instances).toBe(2);
    expect(report.files).toBe(2);
    expect(report.keptCopies).toBe(1);
    expect(report.failures).toEqual([]);
    expect(report.studies).toEqual([expect.objectContaining({ studyInstanceUid: studyUid, wholeStudy: true, instances: 2, remainingInstances: 0 })]);
    expect(namesIn(path.join(server.dirs.archiveDir, studyUid))).toEqual([]);
    expect(namesIn(path.join(server.dirs.archiveDir, '.conflicts'))).toEqual([]);
    expect(namesIn(path.join(server.dirs.archiveDir, '.trash'))).toEqual([]);
  }, 120_000);

  test('log names UIDs and counts only', () => {
    expect(deleteLog).toContain(`Deleted study studyInstanceUid=${studyUid} instances=2`);
    expect(deleteLog).toContain('Removed copies kept aside for the deleted UIDs count=1');
    expect(deleteLog).not.toContain(ct.patientName!.split('^')[0]);
  });

  test('C-FIND no longer finds the study', async () => {
    expect(await findStudy(server, studyUid)).toEqual([]);
  }, 120_000);

  test('corrected copies are stored', async () => {
    const result = await sendFiles(server, corrected);

    expect(result.code).toBe(0);
    expect(result.stderr).not.toContain('0xc000');
    expect(result.stderr.match(/DIMSE Status\s*: 0x0000: Success/g)).toHaveLength(2);
    expect(await findStudy(server, studyUid)).toEqual([{ patientId: 'CORRECTED', instances: '2' }]);
  }, 120_000);
});

describeBuilt('loader delete during a store', () => {
  const ct = corpusFile('ct');
  const studyUid = ct.studyInstanceUid!;
  const count = 30;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'loader-delete-store-'));
  let server: LoaderServer;
  let corrected: string[];

  beforeAll(async () => {
    const wrong: string[] = [];
    corrected = [];
    for (let index = 1; index <= count; index++) {
      const sopInstanceUid = `${ct.sopInstanceUid}.${index}`;
      wrong.push(await modifiedCopy(ct.absolutePath, path.join(work, `wrong-${index}.dcm`), { '(0008,0018)': sopInstanceUid }));
      corrected.push(await modifiedCopy(ct.absolutePath, path.join(work, `corrected-${index}.dcm`), { '(0008,0018)': sopInstanceUid, '(0010,0020)': 'CORRECTED' }));
    }
    server = await startLoader([], { aeTitle: 'DELETERACE', port: CONCURRENT_SERVE_PORT });
    expect((await sendFiles(server, wrong)).code).toBe(0);
  }, 300_000);

  afterAll(async () => {
    await server?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('index and files agree afterwards', async () => {
    // Each corrected copy goes ten times, so that the stores go on while the delete runs.
    const sending = sendFiles(server, Array.from({ length: 10 }, () => corrected).flat());
    const deleted = await runLoader(['delete', '--study-uid', studyUid, '--yes', '--json'], { dirs: server.dirs });
    await sending;
    const seriesFolder = path.join(server.dirs.archiveDir, studyUid, ct.seriesInstanceUid!);
    const found = await findStudy(server, studyUid);

    expect(deleted.code).toBe(0);
    expect(deleted.json<DeleteJson>().failures).toEqual([]);
    expect(namesIn(path.join(server.dirs.archiveDir, '.trash'))).toEqual([]);
    expect(found.length).toBeLessThanOrEqual(1);
    expect(namesIn(seriesFolder)).toHaveLength(Number(found[0]?.instances ?? 0));
  }, 300_000);

  test('corrected copies stored after it', async () => {
    const result = await sendFiles(server, corrected);

    expect(result.code).toBe(0);
    expect(result.stderr).not.toContain('0xc000');
    expect(await findStudy(server, studyUid)).toEqual([{ patientId: 'CORRECTED', instances: String(count) }]);
    expect(namesIn(path.join(server.dirs.archiveDir, studyUid, ct.seriesInstanceUid!))).toHaveLength(count);
  }, 300_000);

  test('reindex finds the same instances', async () => {
    await server.stop();
    const reindex = await runLoader(['reindex', '--json'], { dirs: server.dirs });

    expect(reindex.code).toBe(0);
    expect(reindex.json<{ indexed: number }>().indexed).toBe(count);
  }, 120_000);
});

describeBuilt('loader delete selections', () => {
  const ct = corpusFile('ct');
  const studyUid = ct.studyInstanceUid!;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'loader-delete-select-'));

  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  /** Returns an archive with two series of the CT study and one study of another patient. */
  async function archiveWithStudies(label: string): Promise<LoaderDirs> {
    const dirs = createLoaderDirs(label);
    const input = path.join(work, label);
    fs.mkdirSync(input);
    await modifiedCopy(ct.absolutePath, path.join(input, 'first.dcm'), {});
    await modifiedCopy(ct.absolutePath, path.join(input, 'second-series.dcm'), { '(0008,0018)': `${ct.sopInstanceUid}.2`, '(0020,000e)': `${ct.seriesInstanceUid}.2` });
    await modifiedCopy(ct.absolutePath, path.join(input, 'other.dcm'), {
      '(0008,0018)': `${ct.sopInstanceUid}.3`,
      '(0020,000d)': `${studyUid}.3`,
      '(0020,000e)': `${ct.seriesInstanceUid}.3`,
      '(0010,0020)': 'OTHER',
    });
    expect((await runLoader(['scan', '--import', input], { dirs })).code).toBe(0);
    return dirs;
  }

  async function studyCounts(dirs: LoaderDirs): Promise<Record<string, number>> {
    const result = await runLoader(['studies', '--json'], { dirs });
    return Object.fromEntries(result.json<Array<{ studyInstanceUid: string; numberOfInstances: number }>>().map((study) => [study.studyInstanceUid, study.numberOfInstances]));
  }

  test('series keeps the rest of its study', async () => {
    const dirs = await archiveWithStudies('series');
    const result = await runLoader(['delete', '--series-uid', `${ct.seriesInstanceUid}.2`, '--yes', '--json'], { dirs });
    const report = result.json<DeleteJson>();

    expect(result.code).toBe(0);
    expect(report.studies).toEqual([expect.objectContaining({ studyInstanceUid: studyUid, wholeStudy: false, instances: 1, remainingInstances: 1 })]);
    expect(await studyCounts(dirs)).toEqual({ [studyUid]: 1, [`${studyUid}.3`]: 1 });
    expect(fs.existsSync(path.join(dirs.archiveDir, studyUid, `${ct.seriesInstanceUid}.2`))).toBe(false);
  }, 120_000);

  test('series report names series, not studies', async () => {
    const dirs = await archiveWithStudies('series-text');
    const result = await runLoader(['delete', '--series-uid', `${ct.seriesInstanceUid}.2`, '--yes'], { dirs });

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Deleted 1 series of 1 study: 1 instance');
    // The other series was there before; it was not stored while the series was deleted.
    expect(result.stdout).not.toContain('stored while it was deleted');
  }, 120_000);

  test('name without letters is refused', async () => {
    const dirs = await archiveWithStudies('universal-name');
    for (const name of ['^', '^^', '=', '*']) {
      const result = await runLoader(['delete', '--all-matching', '--name', name, '--yes'], { dirs });

      expect(result.code).toBe(2);
      expect(result.stderr).toContain('has no letter or digit, so it matches every study');
    }
    expect(await studyCounts(dirs)).toEqual({ [studyUid]: 2, [`${studyUid}.3`]: 1 });
  }, 120_000);

  test('JSON lists UIDs not in the archive', async () => {
    const dirs = await archiveWithStudies('missing-json');
    const result = await runLoader(['delete', '--study-uid', `${studyUid}.404`, '--yes', '--json'], { dirs });

    expect(result.code).toBe(1);
    expect(result.json<DeleteJson>().missingStudyInstanceUids).toEqual([`${studyUid}.404`]);
  }, 120_000);

  test('patient ID deletes its studies', async () => {
    const dirs = await archiveWithStudies('patient');
    const result = await runLoader(['delete', '--patient-id', 'OTHER', '--yes'], { dirs });

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Deleted 1 study: 1 instance');
    expect(await studyCounts(dirs)).toEqual({ [studyUid]: 2 });
  }, 120_000);

  test('search needs --all-matching', async () => {
    const dirs = await archiveWithStudies('search');
    const refused = await runLoader(['delete', '--modality', 'CT', '--yes'], { dirs });
    const deleted = await runLoader(['delete', '--modality', 'CT', '--all-matching', '--yes', '--json'], { dirs });

    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--all-matching');
    expect(deleted.code).toBe(0);
    expect(deleted.json<DeleteJson>().instances).toBe(3);
    expect(await studyCounts(dirs)).toEqual({});
  }, 120_000);

  test('found and missing UIDs exit 3', async () => {
    const dirs = await archiveWithStudies('partial');
    const result = await runLoader(['delete', '--study-uid', studyUid, `${studyUid}.404`, '--yes', '--json'], { dirs });

    expect(result.code).toBe(3);
    expect(result.json<DeleteJson>().missingStudyInstanceUids).toEqual([`${studyUid}.404`]);
    expect(await studyCounts(dirs)).toEqual({ [`${studyUid}.3`]: 1 });
  }, 120_000);

  test('scan of the archive skips .trash', async () => {
    const dirs = createLoaderDirs('delete-trash-scan');
    // Named as a batch of a running process (jest's parent), so that opening the archive leaves it and the scan must skip it.
    const batch = path.join(dirs.archiveDir, '.trash', `${process.ppid}.0123456789ab.1`);
    fs.mkdirSync(batch, { recursive: true });
    fs.copyFileSync(ct.absolutePath, path.join(batch, `${ct.sopInstanceUid}.dcm`));
    const archive = LocalArchive.open(dirs.archiveDir);
    try {
      const report = await archive.scanPaths([dirs.archiveDir], { import: false, includeArchiveFolder: true });

      expect(fs.existsSync(batch)).toBe(true);
      expect(report.scanned).toBe(0);
      expect(archive.searchStudies({})).toEqual([]);
    } finally {
      archive.close();
    }
  }, 120_000);
});

describeBuilt('loader delete --name', () => {
  /** Four patients whose names start alike; a deletion must not take Иванова for Иванов. */
  const PATIENTS = {
    ivanovIvan: 'Иванов^Иван',
    ivanovaAnna: 'Иванова^Анна',
    ivanovIvanIvanovich: 'ИВАНОВ^ИВАН^ИВАНОВИЧ',
    ivanovPetr: 'Иванов^Пётр',
  } as const;
  type Label = keyof typeof PATIENTS;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'loader-delete-name-'));

  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  /** Returns an archive with one study of each patient, and the labels of its studies by Study Instance UID. */
  async function archiveWithPatients(label: string): Promise<{ dirs: LoaderDirs; labelOf: Map<string, Label> }> {
    const dirs = createLoaderDirs(label);
    const attributes = {} as Record<Label, Record<string, string>>;
    for (const [patient, name] of Object.entries(PATIENTS) as [Label, string][]) {
      attributes[patient] = { '(0010,0010)': name, '(0010,0020)': `NAME-${patient}` };
    }
    const copies = await writeStudyCopies(path.join(work, label), attributes);
    expect((await runLoader(['scan', '--import', ...copies.files], { dirs })).code).toBe(0);
    const labelOf = new Map((Object.entries(copies.uidOf) as [Label, string][]).map(([patient, uid]) => [uid, patient]));
    return { dirs, labelOf };
  }

  async function remainingPatients(dirs: LoaderDirs, labelOf: Map<string, Label>): Promise<string[]> {
    const result = await runLoader(['studies', '--json'], { dirs });
    return result.json<Array<{ studyInstanceUid: string }>>().map((study) => labelOf.get(study.studyInstanceUid) ?? study.studyInstanceUid).sort();
  }

  test('name words select whole words only', async () => {
    const { dirs, labelOf } = await archiveWithPatients('whole-words');
    const result = await runLoader(['delete', '--name', 'иванов иван', '--all-matching', '--yes', '--json'], { dirs });
    const report = result.json<DeleteJson>();

    expect(result.code).toBe(0);
    expect(report.studies.map((study) => labelOf.get(study.studyInstanceUid)).sort()).toEqual(['ivanovIvan', 'ivanovIvanIvanovich']);
    expect(await remainingPatients(dirs, labelOf)).toEqual(['ivanovPetr', 'ivanovaAnna']);
  }, 120_000);

  test('wildcard selects every Иванов*', async () => {
    const { dirs, labelOf } = await archiveWithPatients('wildcard');
    const result = await runLoader(['delete', '--name', 'иванов*', '--all-matching', '--yes', '--json'], { dirs });

    expect(result.code).toBe(0);
    expect(result.json<DeleteJson>().studies).toHaveLength(4);
    expect(await remainingPatients(dirs, labelOf)).toEqual([]);
  }, 120_000);

  test('studies still lists Иванова', async () => {
    const { dirs, labelOf } = await archiveWithPatients('studies-contained');
    const result = await runLoader(['studies', '--name', 'иванов иван', '--json'], { dirs });

    expect(result.code).toBe(0);
    const listed = result.json<Array<{ studyInstanceUid: string }>>().map((study) => labelOf.get(study.studyInstanceUid)).sort();
    expect(listed).toEqual(['ivanovIvan', 'ivanovIvanIvanovich', 'ivanovPetr', 'ivanovaAnna']);
  }, 120_000);

  test('confirmation names the rule', async () => {
    const { dirs, labelOf } = await archiveWithPatients('confirmation');
    const command = [LOADER_BIN, '--archive', dirs.archiveDir, '--config-dir', dirs.configDir, 'delete', '--name', 'иванов иван', '--all-matching']
      .map((word) => `'${word.replace(/'/g, `'\\''`)}'`)
      .join(' ');
    // script(1) gives the loader a terminal, so it prompts for confirmation, and 'n' declines.
    const result = await runCommand('script', ['-qefc', command, '/dev/null'], { env: { HOME: dirs.homeDir, LOADER_LOG_LEVEL: '' }, input: 'n\n' });

    expect(result.stdout).toContain('Patient name "иванов иван": each word must equal a whole word of the name');
    expect(result.stdout).toContain('Иванов^Иван');
    expect(result.stdout).toContain('ИВАНОВ^ИВАН^ИВАНОВИЧ');
    expect(result.stdout).not.toContain('Иванова^Анна');
    expect(result.stdout).not.toContain('Иванов^Пётр');
    expect(result.stdout).toContain('Delete 2 studies');
    expect(result.stdout).toContain('Nothing was deleted.');
    expect(await remainingPatients(dirs, labelOf)).toHaveLength(4);
  }, 120_000);

  test('help names the rule', async () => {
    const result = await runLoader(['delete', '--help']);

    expect(result.code).toBe(0);
    // Commander wraps the help text, so the check ignores line breaks.
    expect(result.stdout.replace(/\s+/g, ' ')).toContain('each equal to a whole word of the name');
  }, 120_000);
});

/**
 * A preload script for the loader that kills it with SIGKILL at one step of
 * a delete, chosen by DELETE_CRASH_AT. 'commit' kills it once the manifest is
 * in the trash folder, before the index transaction. 'move' kills it after
 * the index transaction, before the first file moves into the trash folder.
 */
const CRASH_PRELOAD = `
const fs = require('fs');
const renameSync = fs.renameSync;
const crash = () => { process.kill(process.pid, 'SIGKILL'); for (;;) {} };
fs.renameSync = function (source, target) {
  const into = String(target);
  if (process.env.DELETE_CRASH_AT === 'move' && into.includes('/.trash/') && into.endsWith('.dcm')) crash();
  const result = renameSync.apply(this, arguments);
  if (process.env.DELETE_CRASH_AT === 'commit' && into.endsWith('/manifest.json')) crash();
  return result;
};
`;

describeBuilt('loader delete killed between steps', () => {
  const ct = corpusFile('ct');
  const studyUid = ct.studyInstanceUid!;
  const layoutFile = path.join(studyUid, ct.seriesInstanceUid!, `${ct.sopInstanceUid}.dcm`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'loader-delete-crash-'));
  const preload = path.join(work, 'crash.js');
  fs.writeFileSync(preload, CRASH_PRELOAD);

  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  /** Returns an archive with the CT study, and the result of a delete killed at `crashAt`. */
  async function crashedDelete(crashAt: 'commit' | 'move'): Promise<{ dirs: LoaderDirs; result: RunResult }> {
    const dirs = createLoaderDirs(`delete-crash-${crashAt}`);
    const input = path.join(dirs.root, 'input');
    fs.mkdirSync(input);
    fs.copyFileSync(ct.absolutePath, path.join(input, 'ct.dcm'));
    expect((await runLoader(['scan', '--import', input], { dirs })).code).toBe(0);
    const result = await runLoader(['delete', '--study-uid', studyUid, '--yes'], {
      dirs,
      env: { NODE_OPTIONS: `--require ${preload}`, DELETE_CRASH_AT: crashAt },
    });
    return { dirs, result };
  }

  async function studiesOf(dirs: LoaderDirs): Promise<string[]> {
    const result = await runLoader(['studies', '--json'], { dirs });
    expect(result.code).toBe(0);
    return result.json<Array<{ studyInstanceUid: string }>>().map((study) => study.studyInstanceUid);
  }

  test('kill after commit finished by next open', async () => {
    const { dirs, result } = await crashedDelete('move');

    expect(result.signal).toBe('SIGKILL');
    expect(fs.existsSync(path.join(dirs.archiveDir, layoutFile))).toBe(true);
    expect(namesIn(path.join(dirs.archiveDir, '.trash'))).toHaveLength(1);
    expect(await studiesOf(dirs)).toEqual([]);
    expect(fs.existsSync(path.join(dirs.archiveDir, layoutFile))).toBe(false);
    expect(namesIn(path.join(dirs.archiveDir, '.trash'))).toEqual([]);
  }, 120_000);

  test('kill after commit finished by reindex', async () => {
    const { dirs, result } = await crashedDelete('move');
    const reindex = await runLoader(['reindex', '--json'], { dirs });

    expect(result.signal).toBe('SIGKILL');
    expect(reindex.code).toBe(0);
    expect(reindex.json<{ indexed: number }>().indexed).toBe(0);
    expect(fs.existsSync(path.join(dirs.archiveDir, layoutFile))).toBe(false);
    expect(namesIn(path.join(dirs.archiveDir, '.trash'))).toEqual([]);
    expect(await studiesOf(dirs)).toEqual([]);
  }, 120_000);

  test('finish keeps a file stored since', async () => {
    const { dirs, result } = await crashedDelete('move');
    const layoutPath = path.join(dirs.archiveDir, layoutFile);
    // Another file at the layout path, with a new inode, as a store after the index transaction leaves it.
    await modifiedCopy(ct.absolutePath, `${layoutPath}.new`, { '(0010,0020)': 'CORRECTED' });
    fs.renameSync(`${layoutPath}.new`, layoutPath);
    const storedSince = fs.readFileSync(layoutPath);

    expect(result.signal).toBe('SIGKILL');
    expect(await studiesOf(dirs)).toEqual([]);
    expect(fs.readFileSync(layoutPath).equals(storedSince)).toBe(true);
    expect(namesIn(path.join(dirs.archiveDir, '.trash'))).toEqual([]);
  }, 120_000);

  test('kill before commit deletes nothing', async () => {
    const { dirs, result } = await crashedDelete('commit');

    expect(result.signal).toBe('SIGKILL');
    expect(namesIn(path.join(dirs.archiveDir, '.trash'))).toHaveLength(1);
    expect(await studiesOf(dirs)).toEqual([studyUid]);
    expect(fs.existsSync(path.join(dirs.archiveDir, layoutFile))).toBe(true);
    expect(namesIn(path.join(dirs.archiveDir, '.trash'))).toEqual([]);
  }, 120_000);

  test('reindex skips files in .trash', async () => {
    const dirs = createLoaderDirs('delete-trash-reindex');
    // Named as a batch of a running process (this one), so that reindex leaves it and its walk must skip it.
    const batch = path.join(dirs.archiveDir, '.trash', `${process.pid}.0123456789ab.1`);
    fs.mkdirSync(batch, { recursive: true });
    fs.copyFileSync(ct.absolutePath, path.join(batch, `${ct.sopInstanceUid}.dcm`));
    const reindex = await runLoader(['reindex', '--json'], { dirs });

    expect(reindex.code).toBe(0);
    expect(reindex.json<{ indexed: number }>().indexed).toBe(0);
    expect(await studiesOf(dirs)).toEqual([]);
    expect(fs.readdirSync(batch)).toEqual([`${ct.sopInstanceUid}.dcm`]);
  }, 120_000);
});
