/**
 * --anonymize on `loader migrate`, `loader send` and `loader sync` as
 * subprocesses against Orthanc and storescp: anonymized UIDs and pseudonyms
 * on the destination, no original patient name or ID in any stored file, a
 * repeated run that sends nothing, a run killed with SIGKILL and resumed
 * without duplicates, and an ultrasound image held back and listed, with
 * exit code 3, or 1 when it is the only instance.
 */
import * as fs from 'fs';
import * as path from 'path';

import Database from 'better-sqlite3';

import { UidMapper } from '../../src/dicom/anonymizer/job-keys';
import { LocalArchive } from '../../src/services/archive';
import {
  LOADER_BIN,
  corpusPath,
  createLoaderDirs,
  freePort,
  loaderIsBuilt,
  runLoader,
  sleep,
  startOrthanc,
  startProcess,
  startStorescp,
} from '../support/peers';
import type { CorpusFile, LoaderDirs, OrthancHandle, StorescpHandle } from '../support/peers';
import { configure, jobDatabase, orthancModality, registerNode } from '../migration/helpers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

const LOADER_AE = 'LOADERANON';

interface StudyEntry {
  studyInstanceUid: string;
  state: string;
  method?: string;
  processedThisRun: boolean;
  destinationStudyUid?: string;
  heldBack?: number;
  sourceCount?: number;
  destinationCount?: number;
  lastError?: string;
}

interface MigrationJson {
  jobId: string;
  studies: StudyEntry[];
  summary: { migrated: number; alreadyPresent: number; failed: number; pending: number };
  outcome: string;
  heldBack: { studyInstanceUid: string; sopInstanceUid: string; reason: string }[];
  pseudonymizedPatients: number;
}

/** The corpus studies loaded into the archive: an MR volume, a CT, a Siemens MR and an ultrasound image. */
const FILES: CorpusFile[] = [
  ...fs
    .readdirSync(corpusPath('samples/mr/brain/brain_002.dcm').absolutePath.replace(/brain_002\.dcm$/, ''))
    .filter((name) => name.endsWith('.dcm'))
    .map((name) => corpusPath(`samples/mr/brain/${name}`)),
  corpusPath('samples/ct/ct-small.dcm'),
  corpusPath('samples/mr/siemens-csa.dcm'),
  corpusPath('samples/us/us-big-endian.dcm'),
];
const ULTRASOUND = corpusPath('samples/us/us-big-endian.dcm');

const studyUids = [...new Set(FILES.map((file) => file.studyInstanceUid!))];
/** Patient names and IDs that must not reach a destination; "Anonymized" is left out because pseudonymized files may contain that word. */
const ORIGINAL_IDENTIFIERS = [...new Set(FILES.flatMap((file) => [file.patientName!, file.patientId!]))].filter((text) => text !== 'Anonymized');

function readJobSecret(dirs: LoaderDirs, jobId: string): Buffer {
  const db = new Database(jobDatabase(dirs), { readonly: true });
  try {
    const row = db.prepare('SELECT job_secret FROM jobs WHERE id = ?').get(jobId) as { job_secret: Buffer | null } | undefined;
    if (!row?.job_secret) throw new Error(`job ${jobId} has no secret in ${jobDatabase(dirs)}`);
    return row.job_secret;
  } finally {
    db.close();
  }
}

/** Returns the identifiers and original UIDs found in the bytes of a file, as latin1 and UTF-8 text. */
function leakedIdentifiers(bytes: Buffer, originals: string[]): string[] {
  const latin1 = bytes.toString('latin1');
  const utf8 = bytes.toString('utf8');
  return originals.filter((text) => latin1.includes(text) || utf8.includes(text));
}

/** Lists the files ending in .log below a folder. */
function listLogFiles(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((name) => name.endsWith('.log')).map((name) => path.join(dir, name));
}

/** Returns the number of instances Orthanc stores. */
async function orthancInstanceCount(orthanc: OrthancHandle): Promise<number> {
  return (await orthanc.rest<{ CountInstances: number }>('GET', '/statistics')).CountInstances;
}

describeBuilt('anonymizing pipelines', () => {
  const dirs = createLoaderDirs('anonymize-pipelines');
  let orthanc: OrthancHandle;
  let syncTarget: OrthancHandle;
  let storescp: StorescpHandle;
  const sendableCount = FILES.length - 1;

  beforeAll(async () => {
    const archive = LocalArchive.open(dirs.archiveDir);
    try {
      for (const file of FILES) expect((await archive.importFile(file.absolutePath, { copy: true })).outcome).toBe('stored');
    } finally {
      archive.close();
    }
    const modalities = { loader: orthancModality(LOADER_AE, await freePort()) };
    orthanc = await startOrthanc({ aeTitle: 'ORTHANCANON', modalities });
    syncTarget = await startOrthanc({ aeTitle: 'ORTHANCSYNC', modalities });
    storescp = await startStorescp({ aeTitle: 'STOREANON', acceptAll: true });
    await registerNode(dirs, 'orthanc', orthanc);
    await registerNode(dirs, 'synctarget', syncTarget);
    await registerNode(dirs, 'storescp', storescp);
    await configure(dirs, 'pacs.aeTitle', LOADER_AE);
  });

  afterAll(async () => {
    await orthanc.stop();
    await syncTarget.stop();
    await storescp.stop();
  });

  const migrateArgs = () => ['migrate', 'local', 'orthanc', '--anonymize', '--study-uid', ...studyUids, '--concurrency', '1', '--job', 'anon'];

  test('killed migration resumes without duplicates', async () => {
    // SIGKILL leaves the folder of anonymized copies behind, so it goes into the test's own folder instead of /tmp.
    const tmpDir = path.join(dirs.root, 'tmp');
    fs.mkdirSync(tmpDir, { recursive: true });
    const migration = startProcess({
      name: 'loader-migrate-anon',
      command: LOADER_BIN,
      args: ['--archive', dirs.archiveDir, '--config-dir', dirs.configDir, ...migrateArgs()],
      dir: dirs.root,
      env: { HOME: dirs.homeDir, XDG_CONFIG_HOME: path.join(dirs.homeDir, '.config'), XDG_DATA_HOME: path.join(dirs.homeDir, '.local', 'share'), TMPDIR: tmpDir },
    });
    let storedAtKill = 0;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && migration.exitStatus === undefined) {
      storedAtKill = await orthancInstanceCount(orthanc);
      if (storedAtKill >= 1) break;
      await sleep(10);
    }
    process.kill(-migration.pid, 'SIGKILL');
    expect((await migration.exited).signal).toBe('SIGKILL');
    expect(storedAtKill).toBeGreaterThanOrEqual(1);
    expect(fs.readdirSync(tmpDir).filter((name) => name.startsWith('loader-anonymized-'))).toHaveLength(1);

    const resumed = await runLoader([...migrateArgs(), '--json'], { dirs });
    // The ultrasound image is held back, so the outcome is partial, as for `loader send`.
    expect(resumed.code).toBe(3);
    const report = resumed.json<MigrationJson>();
    expect(report.outcome).toBe('partial');
    expect(report.summary.failed).toBe(0);
    expect(report.summary.migrated + report.summary.alreadyPresent).toBe(studyUids.length);

    const mapper = new UidMapper(readJobSecret(dirs, 'anon'));
    expect(await orthancInstanceCount(orthanc)).toBe(sendableCount);
    const studies = await orthanc.listStudies();
    const expectedStudyUids = studyUids.filter((uid) => uid !== ULTRASOUND.studyInstanceUid).map((uid) => mapper.replace(uid));
    expect(studies.map((study) => study.MainDicomTags.StudyInstanceUID).sort()).toEqual(expectedStudyUids.sort());
    for (const file of FILES.filter((candidate) => candidate !== ULTRASOUND)) {
      expect({ file: file.path, id: await orthanc.findInstance(mapper.replace(file.sopInstanceUid!)) }).toEqual({ file: file.path, id: expect.any(String) });
    }
    for (const entry of report.studies) {
      expect({ study: entry.studyInstanceUid, destination: entry.destinationStudyUid }).toEqual({ study: entry.studyInstanceUid, destination: mapper.replace(entry.studyInstanceUid) });
    }
  });

  test('destination holds pseudonyms only', async () => {
    const studies = await orthanc.listStudies();
    for (const study of studies) {
      expect(study.PatientMainDicomTags.PatientName).toMatch(/^ANON\^[0-9A-F]{20}$/);
      expect(study.PatientMainDicomTags.PatientID).toMatch(/^ANON[0-9A-F]{20}$/);
    }
    const originals = [...ORIGINAL_IDENTIFIERS, ...studyUids, ...FILES.map((file) => file.sopInstanceUid!)];
    const instances = await orthanc.listInstances();
    expect(instances).toHaveLength(sendableCount);
    for (const instance of instances) {
      const bytes = await orthanc.instanceFile(instance.ID);
      expect({ instance: instance.ID, leaked: leakedIdentifiers(bytes, originals) }).toEqual({ instance: instance.ID, leaked: [] });
    }
  });

  test('ultrasound is held back and listed', async () => {
    const result = await runLoader(migrateArgs(), { dirs });
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/held back: 1 instance in 1 study was not sent, so this study is incomplete on the destination on purpose/);
    expect(result.stdout).toMatch(/\npartial: \d+ migrated, \d+ already present, 0 failed\n$/);
    expect(result.stdout).toContain(`held back: ${ULTRASOUND.studyInstanceUid}: ${ULTRASOUND.sopInstanceUid}: ultrasound image without Burned In Annotation (0028,0301) NO`);

    const json = (await runLoader([...migrateArgs(), '--json'], { dirs })).json<MigrationJson>();
    expect(json.heldBack).toEqual([{ studyInstanceUid: ULTRASOUND.studyInstanceUid, sopInstanceUid: ULTRASOUND.sopInstanceUid, reason: expect.stringMatching(/ultrasound/) }]);
    const ultrasound = json.studies.find((study) => study.studyInstanceUid === ULTRASOUND.studyInstanceUid)!;
    expect(ultrasound.heldBack).toBe(1);
    expect(['done', 'already-present']).toContain(ultrasound.state);
  });

  test('second job reports already present', async () => {
    const changesBefore = (await orthanc.rest<{ Last: number }>('GET', '/changes?last')).Last;
    const secretFile = path.join(dirs.root, 'anon-job.secret');
    fs.writeFileSync(secretFile, readJobSecret(dirs, 'anon'));

    const result = await runLoader(['migrate', 'local', 'orthanc', '--anonymize', '--study-uid', ...studyUids, '--job', 'anon-again', '--job-secret-file', secretFile, '--json'], { dirs });
    expect(result.code).toBe(3);
    expect(result.json<MigrationJson>().outcome).toBe('partial');
    const report = result.json<MigrationJson>();
    // The ultrasound study is sent once to learn that its only instance is held back; the other studies are found complete.
    const notHeld = report.studies.filter((study) => study.studyInstanceUid !== ULTRASOUND.studyInstanceUid);
    for (const study of notHeld) expect({ study: study.studyInstanceUid, state: study.state, method: study.method }).toEqual({ study: study.studyInstanceUid, state: 'already-present', method: undefined });
    expect(await orthancInstanceCount(orthanc)).toBe(sendableCount);
    // Orthanc also logs StableStudy and similar changes for earlier uploads, so only new instances count.
    const changes = await orthanc.rest<{ Changes: { ChangeType: string }[] }>('GET', `/changes?since=${changesBefore}&limit=1000`);
    expect(changes.Changes.filter((change) => change.ChangeType === 'NewInstance')).toEqual([]);
  });

  test('migrate holding back everything fails', async () => {
    const result = await runLoader(['migrate', 'local', 'orthanc', '--anonymize', '--study-uid', ULTRASOUND.studyInstanceUid!, '--job', 'anon-ultrasound', '--json'], { dirs });

    expect(result.code).toBe(1);
    const report = result.json<MigrationJson>();
    expect(report.outcome).toBe('failure');
    expect(report.summary).toEqual({ migrated: 1, alreadyPresent: 0, failed: 0, pending: 0 });
    expect(report.heldBack.map((held) => held.sopInstanceUid)).toEqual([ULTRASOUND.sopInstanceUid]);
    expect(await orthancInstanceCount(orthanc)).toBe(sendableCount);
  });

  test('other options reuse rejected', async () => {
    const result = await runLoader([...migrateArgs(), '--keep-dates'], { dirs });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('job "anon" was created with other anonymization options (dates: "remove" in the job, "keep" now)');
    expect(result.stderr).toContain('or give another --job name with the same --job-secret-file');
    const plain = await runLoader(['migrate', 'local', 'orthanc', '--study-uid', ...studyUids, '--job', 'anon'], { dirs });
    expect(plain.stderr).toMatch(/job "anon" anonymizes; run it with --anonymize/);
  });

  test('secret and names stay out of logs', async () => {
    const secret = readJobSecret(dirs, 'anon');
    const result = await runLoader([...migrateArgs(), '--json'], { dirs });
    const logFiles = listLogFiles(dirs.root);
    const output = [result.stdout, result.stderr, ...logFiles.map((file) => fs.readFileSync(file, 'utf8'))].join('\n');
    expect(output).not.toContain(secret.toString('hex'));
    expect(output).not.toContain(secret.toString('base64'));
    for (const identifier of ORIGINAL_IDENTIFIERS) expect({ identifier, found: output.includes(identifier) }).toEqual({ identifier, found: false });
  });

  test('send anonymizes to storescp', async () => {
    const secretFile = path.join(dirs.root, 'send.secret');
    fs.writeFileSync(secretFile, Buffer.from('0123456789abcdef0123456789abcdef'));
    const result = await runLoader(['send', 'storescp', '--anonymize', '--job-secret-file', secretFile, '--study-uid', ...studyUids], { dirs });
    // Exit code 3, as `loader anonymize` gives for held-back files.
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(new RegExp(`^partial: ${sendableCount} of ${FILES.length} instances sent to STOREANON`));
    expect(result.stdout).toContain(`\nheld back: 1 of ${FILES.length} instances were not sent because they may show burned-in text or contain an encapsulated document, so the studies are incomplete on STOREANON on purpose (use --allow-burned-in to send them)\n`);
    expect(result.stdout).toContain(`held back: ${ULTRASOUND.sopInstanceUid}: ultrasound image`);

    const mapper = new UidMapper(fs.readFileSync(secretFile));
    const received = storescp.receivedFiles();
    expect(received).toHaveLength(sendableCount);
    const originals = [...ORIGINAL_IDENTIFIERS, ...studyUids];
    for (const file of received) expect({ file, leaked: leakedIdentifiers(fs.readFileSync(file), originals) }).toEqual({ file, leaked: [] });
    const names = received.map((file) => path.basename(file)).join('\n');
    for (const file of FILES.filter((candidate) => candidate !== ULTRASOUND)) expect(names).toContain(mapper.replace(file.sopInstanceUid!));
  });

  test('send holding back everything fails', async () => {
    const received = storescp.receivedFiles().length;

    const result = await runLoader(['send', 'storescp', '--anonymize', '--study-uid', ULTRASOUND.studyInstanceUid!, '--json'], { dirs });

    expect(result.code).toBe(1);
    const report = result.json<{ outcome: string; total: number; completed: number; heldBack: { sopInstanceUid: string }[] }>();
    expect(report.outcome).toBe('failure');
    expect(report.total).toBe(1);
    expect(report.completed).toBe(0);
    expect(report.heldBack.map((held) => held.sopInstanceUid)).toEqual([ULTRASOUND.sopInstanceUid]);
    expect(storescp.receivedFiles()).toHaveLength(received);
  });

  test('send flags need anonymize', async () => {
    const result = await runLoader(['send', 'storescp', '--keep-dates', '--study-uid', studyUids[0]], { dirs });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/--keep-dates needs --anonymize/);
  });

  test('sync copies anonymized studies once', async () => {
    const chosen = [FILES[0].studyInstanceUid!, corpusPath('samples/ct/ct-small.dcm').studyInstanceUid!];
    const args = ['sync', 'local', 'synctarget', '--anonymize', '--direction', 'a-to-b', '--study-uid', ...chosen, '--json'];
    const first = await runLoader(args, { dirs });
    expect(first.code).toBe(0);
    const report = first.json<{ outcome: string; summary: { transferred: number }; transfers: { jobId: string }[] }>();
    expect(report.outcome).toBe('success');
    expect(report.summary.transferred).toBe(2);

    const mapper = new UidMapper(readJobSecret(dirs, report.transfers[0].jobId));
    const studies = await syncTarget.listStudies();
    expect(studies.map((study) => study.MainDicomTags.StudyInstanceUID).sort()).toEqual(chosen.map((uid) => mapper.replace(uid)).sort());

    const second = await runLoader(args, { dirs });
    expect(second.code).toBe(0);
    expect(second.json<{ outcome: string }>().outcome).toBe('nothing-to-do');

    const both = await runLoader(['sync', 'local', 'synctarget', '--anonymize', '--study-uid', ...chosen], { dirs });
    expect(both.code).not.toBe(0);
    expect(both.stderr).toMatch(/--anonymize copies from A to B only: give --direction a-to-b, not both/);
  });

  test('sync holding back instances exits 3', async () => {
    const siemens = corpusPath('samples/mr/siemens-csa.dcm');
    const args = ['sync', 'local', 'synctarget', '--anonymize', '--direction', 'a-to-b', '--study-uid', siemens.studyInstanceUid!, ULTRASOUND.studyInstanceUid!];

    const text = await runLoader([...args, '--job', 'held-text'], { dirs });
    expect(text.code).toBe(3);
    expect(text.stdout).toMatch(/held back: 1 instance in 1 study was not sent/);
    expect(text.stdout).toMatch(/\npartial: 2 studies copied, 0 failed, 0 conflicts\n$/);

    // --one-off-secret gives the new job another secret, so the study of the Siemens MR goes to the target again under other UIDs.
    const json = await runLoader([...args, '--job', 'held-json', '--one-off-secret', '--json'], { dirs });
    expect(json.code).toBe(3);
    const report = json.json<{ outcome: string; transfers: { report?: { outcome: string; heldBack: { sopInstanceUid: string }[] } }[] }>();
    expect(report.outcome).toBe('partial');
    expect(report.transfers[0].report?.heldBack.map((held) => held.sopInstanceUid)).toEqual([ULTRASOUND.sopInstanceUid]);
  });

  test('sync holding back everything fails', async () => {
    const result = await runLoader(['sync', 'local', 'synctarget', '--anonymize', '--direction', 'a-to-b', '--study-uid', ULTRASOUND.studyInstanceUid!, '--json'], { dirs });

    expect(result.code).toBe(1);
    const report = result.json<{ outcome: string; summary: { transferred: number; failed: number } }>();
    expect(report.outcome).toBe('failure');
    expect(report.summary.transferred).toBe(1);
    expect(report.summary.failed).toBe(0);
  });
});
