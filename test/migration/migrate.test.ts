/**
 * `loader migrate` as a subprocess between Orthanc, dcmqrscp and the local
 * archive: a run killed with SIGKILL and resumed, a repeated run, relay when
 * the source cannot C-MOVE to the destination, a node that is down or stops
 * during the C-MOVE, a destination that deletes a migrated study, a
 * destination without C-FIND, the local archive on either end, and a send
 * cancelled part way.
 */
import * as fs from 'fs';
import * as path from 'path';

import { LocalArchive } from '../../src/services/archive';
import { setLogSink } from '../../src/services/logger';
import { JobStore, runMigration } from '../../src/services/migration';
import { findInstances } from '../../src/services/query-retrieve';
import {
  LOADER_BIN,
  LOOPBACK,
  corpusFile,
  corpusPath,
  createLoaderDirs,
  freePort,
  loaderIsBuilt,
  makeTempDir,
  runDcmtk,
  runLoader,
  sleep,
  startDcmqrscp,
  startOrthanc,
  startProcess,
  startStorescp,
} from '../support/peers';
import type { CorpusFile, DcmqrscpHandle, OrthancHandle, StorescpHandle } from '../support/peers';
import { collect, localIdentity, nodeFor } from '../query-retrieve/helpers';
import { LOADER_AE, configure, orthancModality, readStudyStates, registerNode, storedFiles, uncompressedStudies } from './helpers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

let previousSink: (line: string) => void;
beforeAll(() => {
  previousSink = setLogSink(() => undefined);
});
afterAll(() => {
  setLogSink(previousSink);
});

interface StudyEntry {
  studyInstanceUid: string;
  state: string;
  method?: string;
  attempts: number;
  lastError?: string;
  sourceCount?: number;
  destinationCount?: number;
  processedThisRun: boolean;
  plannedMethod?: string;
}

interface Report {
  jobId: string;
  studies: StudyEntry[];
  summary: { migrated: number; alreadyPresent: number; failed: number; pending: number };
  outcome: string;
  notes: string[];
}

describeBuilt('loader migrate', () => {
  const dirs = createLoaderDirs('migrate');
  const studies = uncompressedStudies();
  const studyUids = [...studies.keys()];
  let orthanc: OrthancHandle;
  let destination: DcmqrscpHandle;
  let unknownToOrthanc: DcmqrscpHandle;
  /** A destination in Orthanc's modality list; one test kills it while Orthanc moves a study to it. */
  let stopsDuringMove: DcmqrscpHandle;
  let storageOnly: StorescpHandle;
  let movePort: number;

  /** Lists the SOP Instance UIDs dcmqrscp returns for the study at IMAGE level. */
  const listOn = async (peer: DcmqrscpHandle, studyInstanceUid: string): Promise<string[]> =>
    (await collect(findInstances(nodeFor(peer), localIdentity(0, 'CHECKER'), studyInstanceUid, undefined))).map((instance) => instance.sopInstanceUid);

  const expectedUids = (files: CorpusFile[]) => files.map((file) => file.sopInstanceUid!).sort();

  beforeAll(async () => {
    movePort = await freePort();
    destination = await startDcmqrscp({ aeTitle: 'DCMQRB' });
    unknownToOrthanc = await startDcmqrscp({ aeTitle: 'DCMQRC' });
    stopsDuringMove = await startDcmqrscp({ aeTitle: 'DCMQRD' });
    storageOnly = await startStorescp({ aeTitle: 'STOREONLY' });
    orthanc = await startOrthanc({
      aeTitle: 'ORTHANCA',
      modalities: {
        loader: orthancModality(LOADER_AE, movePort),
        destination: orthancModality('DCMQRB', destination.port),
        stopping: orthancModality('DCMQRD', stopsDuringMove.port),
      },
    });
    for (const files of studies.values()) for (const file of files) await orthanc.uploadFile(file.absolutePath);

    await registerNode(dirs, 'orthanc', orthanc);
    await registerNode(dirs, 'dcmqrb', destination);
    await registerNode(dirs, 'dcmqrc', unknownToOrthanc);
    await registerNode(dirs, 'down', { aeTitle: 'DOWN', host: LOOPBACK, port: await freePort() });
    await registerNode(dirs, 'storeonly', storageOnly);
    await configure(dirs, 'pacs.aeTitle', LOADER_AE);
    await configure(dirs, 'pacs.moveScuPort', String(movePort));
  });

  afterAll(async () => {
    await orthanc.stop();
    await destination.stop();
    await unknownToOrthanc.stop();
    await stopsDuringMove.stop();
    await storageOnly.stop();
  });

  const killArgs = () => ['migrate', 'orthanc', 'dcmqrb', '--study-uid', ...studyUids, '--concurrency', '1', '--job', 'kill-test'];

  test('killed run resumes without loss or duplicates', async () => {
    expect(studyUids.length).toBeGreaterThanOrEqual(5);
    const migration = startProcess({
      name: 'loader-migrate',
      command: LOADER_BIN,
      args: ['--archive', dirs.archiveDir, '--config-dir', dirs.configDir, ...killArgs()],
      dir: dirs.root,
      env: { HOME: dirs.homeDir, XDG_CONFIG_HOME: path.join(dirs.homeDir, '.config'), XDG_DATA_HOME: path.join(dirs.homeDir, '.local', 'share') },
    });
    let doneAtKill = 0;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && migration.exitStatus === undefined) {
      doneAtKill = [...readStudyStates(dirs, 'kill-test').values()].filter((state) => state === 'done').length;
      if (doneAtKill >= 1) break;
      await sleep(20);
    }
    process.kill(-migration.pid, 'SIGKILL');
    const status = await migration.exited;
    expect(status.signal).toBe('SIGKILL');
    const statesAtKill = readStudyStates(dirs, 'kill-test');
    const finishedAtKill = [...statesAtKill.values()].filter((state) => state === 'done').length;
    expect(finishedAtKill).toBeGreaterThanOrEqual(1);
    expect(finishedAtKill).toBeLessThan(studyUids.length);

    const resumed = await runLoader([...killArgs(), '--json'], { dirs });
    expect(resumed.code).toBe(0);
    const report = resumed.json<Report>();
    expect(report.outcome).toBe('success');
    expect(report.summary).toEqual({ migrated: studyUids.length, alreadyPresent: 0, failed: 0, pending: 0 });
    const earlier = report.studies.filter((study) => !study.processedThisRun).map((study) => study.studyInstanceUid);
    expect(earlier.sort()).toEqual([...statesAtKill].filter(([, state]) => state === 'done').map(([uid]) => uid).sort());

    for (const [studyInstanceUid, files] of studies) {
      const listed = await listOn(destination, studyInstanceUid);
      expect({ studyInstanceUid, uids: listed.sort() }).toEqual({ studyInstanceUid, uids: expectedUids(files) });
      const entry = report.studies.find((study) => study.studyInstanceUid === studyInstanceUid)!;
      expect(entry.state).toBe('done');
      expect(entry.sourceCount).toBe(files.length);
      expect(entry.destinationCount).toBe(files.length);
      expect(entry.method).toBe('move');
    }
    const instanceCount = [...studies.values()].reduce((sum, files) => sum + files.length, 0);
    expect(storedFiles(destination)).toHaveLength(instanceCount);
  });

  test('repeated run transfers nothing', async () => {
    const filesBefore = storedFiles(destination).sort();

    const again = await runLoader([...killArgs(), '--json'], { dirs });
    expect(again.code).toBe(0);
    const resumed = again.json<Report>();
    expect(resumed.studies.every((study) => study.state === 'done' && !study.processedThisRun)).toBe(true);
    expect(resumed.summary.migrated).toBe(studyUids.length);

    const fresh = await runLoader(['migrate', 'orthanc', 'dcmqrb', '--study-uid', ...studyUids, '--job', 'second-job', '--json'], { dirs });
    expect(fresh.code).toBe(0);
    const report = fresh.json<Report>();
    expect(report.summary).toEqual({ migrated: 0, alreadyPresent: studyUids.length, failed: 0, pending: 0 });
    expect(report.studies.every((study) => study.method === undefined)).toBe(true);
    expect(storedFiles(destination).sort()).toEqual(filesBefore);
  });

  test('unknown destination relays through archive', async () => {
    const chosen = studyUids.slice(0, 2);
    const result = await runLoader(['migrate', 'orthanc', 'dcmqrc', '--study-uid', ...chosen, '--json'], { dirs });
    expect(result.code).toBe(0);
    const report = result.json<Report>();
    expect(report.studies.map((study) => study.method)).toEqual(['relay', 'relay']);
    expect(report.notes.join('\n')).toMatch(/orthanc cannot C-MOVE to dcmqrc .*relaying studies through the local archive/);
    expect(result.stderr.match(/cannot C-MOVE to dcmqrc/g)).toHaveLength(1);
    for (const uid of chosen) expect((await listOn(unknownToOrthanc, uid)).sort()).toEqual(expectedUids(studies.get(uid)!));
  });

  test('method move without relay fails', async () => {
    const uid = studyUids[2];
    const result = await runLoader(['migrate', 'orthanc', 'dcmqrc', '--study-uid', uid, '--method', 'move', '--json'], { dirs });
    expect(result.code).toBe(1);
    const study = result.json<Report>().studies[0];
    expect(study.state).toBe('failed');
    expect(study.lastError).toMatch(/C-MOVE to DCMQRC failed with status 0x[0-9A-F]{4}.*use --method auto or relay/);
    expect(study.method).toBe('move');
    expect(await listOn(unknownToOrthanc, uid)).toEqual([]);

    const text = await runLoader(['migrate', 'orthanc', 'dcmqrc', '--study-uid', uid, '--method', 'move'], { dirs });
    const row = text.stdout.split('\n').find((line) => line.startsWith(uid));
    expect(row?.trim().split(/\s{2,}/).slice(1, 3)).toEqual(['failed', 'move']);
  });

  test('node down fails after retries', async () => {
    const result = await runLoader(['migrate', 'orthanc', 'down', '--study-uid', studyUids[0], '--retries', '1', '--json'], { dirs });
    expect(result.code).toBe(1);
    const report = result.json<Report>();
    expect(report.outcome).toBe('failure');
    const study = report.studies[0];
    expect(study.state).toBe('failed');
    expect(study.attempts).toBe(2);
    expect(study.lastError).toMatch(/ECONNREFUSED/);
    expect(study.lastError).toMatch(/gave up after 2 attempts/);
    expect(study.method).toBeUndefined();
  });

  test('destination stopped during C-MOVE is not relayed', async () => {
    const uid = studyUids[1];
    const dir = makeTempDir('migrate-stopped');
    const archive = LocalArchive.open(path.join(dir, 'archive'));
    const store = JobStore.open(path.join(dir, 'jobs.sqlite'));
    let killed = false;
    try {
      const report = await runMigration({
        jobId: 'stopped-destination',
        source: { kind: 'node', name: 'orthanc', node: nodeFor(orthanc) },
        destination: { kind: 'node', name: 'dcmqrd', node: nodeFor(stopsDuringMove) },
        selection: { studyInstanceUids: [uid] },
        options: { method: 'auto', concurrency: 1, retries: 0 },
        local: localIdentity(movePort, LOADER_AE),
        archive,
        store,
        onProgress: (progress) => {
          // The destination has been counted; it goes away just before Orthanc connects to it for the C-MOVE.
          if (killed || !progress.detail.includes('C-MOVE from')) return;
          killed = true;
          process.kill(-stopsDuringMove.process.pid, 'SIGKILL');
        },
      });
      expect(killed).toBe(true);
      const study = report.studies[0];
      expect(study.state).toBe('failed');
      expect(study.method).toBe('move');
      expect(study.lastError).toMatch(/C-MOVE to DCMQRD failed .*dcmqrd did not respond to C-ECHO either .*ECONNREFUSED/);
      expect(report.notes.join('\n')).not.toMatch(/relaying/);
      // Nothing was retrieved for a relay that could not have been sent.
      expect(archive.listInstances({ studyInstanceUid: uid })).toEqual([]);
    } finally {
      store.close();
      archive.close();
    }
  });

  test('study recycled by the destination fails', async () => {
    // This Orthanc keeps one patient and deletes the oldest one when another arrives.
    const recycling = await startOrthanc({
      aeTitle: 'ORTHANCONE',
      modalities: { loader: orthancModality(LOADER_AE, movePort) },
      extraConfig: { MaximumPatientCount: 1 },
    });
    const dir = makeTempDir('migrate-recycled');
    const archive = LocalArchive.open(path.join(dir, 'archive'));
    const store = JobStore.open(path.join(dir, 'jobs.sqlite'));
    try {
      const first = corpusPath('samples/mr/mr-small-explicit-le.dcm');
      const second = corpusFile('charset-iso-ir-100');
      expect(first.patientId).not.toBe(second.patientId);
      for (const file of [first, second]) expect((await archive.importFile(file.absolutePath, { copy: true })).outcome).toBe('stored');

      const report = await runMigration({
        jobId: 'recycled',
        source: { kind: 'local', name: 'local', archive },
        destination: { kind: 'node', name: 'one-patient', node: nodeFor(recycling) },
        selection: { studyInstanceUids: [first.studyInstanceUid!, second.studyInstanceUid!] },
        options: { method: 'auto', concurrency: 1, retries: 0 },
        local: localIdentity(0, LOADER_AE),
        archive,
        store,
      });

      // The first study was complete when it was sent, but Orthanc deleted it for the second patient.
      expect((await recycling.listStudies()).length).toBe(1);
      const states = new Map(report.studies.map((study) => [study.studyInstanceUid, study]));
      expect(states.get(first.studyInstanceUid!)?.state).toBe('failed');
      expect(states.get(first.studyInstanceUid!)?.lastError).toBe('verification failed: ORTHANCONE (ORTHANCONE) has 0 instances, the local archive had 1');
      expect(states.get(second.studyInstanceUid!)?.state).toBe('done');
      expect(report.outcome).toBe('partial');
    } finally {
      store.close();
      archive.close();
      await recycling.stop();
    }
  });

  test('destination without C-FIND is explained', async () => {
    const result = await runLoader(['migrate', 'orthanc', 'storeonly', '--study-uid', studyUids[0], '--json'], { dirs });
    expect(result.code).toBe(1);
    const study = result.json<Report>().studies[0];
    expect(study.state).toBe('failed');
    expect(study.lastError).toContain('storeonly does not offer C-FIND');
    expect(study.lastError).toContain('use "loader send"');
    expect(study.lastError).not.toContain('storage-only node');
    expect(storageOnly.receivedFiles()).toEqual([]);
  });

  test('concurrency above maximum is a usage error', async () => {
    const result = await runLoader(['migrate', 'orthanc', 'dcmqrb', '--study-uid', studyUids[0], '--concurrency', '1000'], { dirs });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--concurrency "1000" is invalid: give a whole number from 1 to 32');
  });

  test('instance rejected by archive is not retried', async () => {
    // Orthanc C-GETs the study to the loader, whose archive rejects the instance with an invalid SOP Instance UID (PS3.5 section 9.1).
    const studyUid = '2.25.80413951172231871960317042751265';
    const dir = makeTempDir('migrate-rejected');
    const files = [...studies.values()].find((study) => study.length >= 3)!.slice(0, 3);
    const invalidUid = '../../evil-migrate';
    for (const [index, file] of files.entries()) {
      const copy = path.join(dir, `instance-${index}.dcm`);
      fs.copyFileSync(file.absolutePath, copy);
      const sopInstanceUid = index === 0 ? invalidUid : `${studyUid}.1.${index}`;
      const modified = await runDcmtk('dcmodify', ['-nb', '-m', `(0020,000D)=${studyUid}`, '-m', `(0020,000E)=${studyUid}.1`, '-m', `(0008,0018)=${sopInstanceUid}`, copy]);
      expect(modified.code).toBe(0);
      await orthanc.uploadFile(copy);
    }
    const archive = LocalArchive.open(path.join(dir, 'archive'));
    const store = JobStore.open(path.join(dir, 'jobs.sqlite'));
    try {
      const report = await runMigration({
        jobId: 'rejected-instance',
        source: { kind: 'node', name: 'orthanc', node: nodeFor(orthanc) },
        destination: { kind: 'local', name: 'local', archive },
        selection: { studyInstanceUids: [studyUid] },
        options: { method: 'auto', concurrency: 1, retries: 2 },
        backoff: { baseDelayMs: 10, maxDelayMs: 10 },
        local: localIdentity(movePort, LOADER_AE),
        archive,
        store,
      });
      const study = report.studies[0];
      expect(study.state).toBe('failed');
      expect(study.attempts).toBe(1);
      expect(study.lastError).toMatch(
        /^retrieve from ORTHANCA into the archive: the archive rejected 1 received instances \(\.\.\/\.\.\/evil-migrate: not stored in the archive: Invalid UID /,
      );
      expect(study.lastError).not.toMatch(/gave up after/);
      expect(study.sourceCount).toBe(3);
      // The two valid instances arrived although the study failed, and the count shows them.
      expect(study.destinationCount).toBe(2);
      expect(archive.listInstances({ studyInstanceUid: studyUid })).toHaveLength(2);
    } finally {
      store.close();
      archive.close();
    }
  });

  test('unregistered node is a usage error', async () => {
    const result = await runLoader(['migrate', 'orthanc', 'nowhere', '--study-uid', studyUids[0]], { dirs });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Node "nowhere" is not registered');
    expect(result.stderr).toContain('give a registered node name, or "local" for the local archive');
    expect(result.stderr).not.toContain('--host');
  });

  test('missing study gives exit code 3', async () => {
    const missing = '2.25.1234567890123456789';
    const result = await runLoader(['migrate', 'orthanc', 'dcmqrc', '--study-uid', studyUids[3], missing, '--json'], { dirs });
    expect(result.code).toBe(3);
    const report = result.json<Report>();
    expect(report.outcome).toBe('partial');
    const failed = report.studies.find((study) => study.studyInstanceUid === missing)!;
    expect(failed.state).toBe('failed');
    expect(failed.lastError).toMatch(/study not found on orthanc/);
  });

  test('local to node sends archived study', async () => {
    const file = corpusFile('charset-iso-ir-100');
    const archive = LocalArchive.open(dirs.archiveDir);
    try {
      expect((await archive.importFile(file.absolutePath, { copy: true })).outcome).toBe('stored');
    } finally {
      archive.close();
    }
    const result = await runLoader(['migrate', 'local', 'dcmqrc', '--study-uid', file.studyInstanceUid!, '--json'], { dirs });
    expect(result.code).toBe(0);
    const study = result.json<Report>().studies[0];
    expect(study).toEqual(expect.objectContaining({ state: 'done', method: 'send', sourceCount: 1, destinationCount: 1 }));
    expect(await listOn(unknownToOrthanc, file.studyInstanceUid!)).toEqual([file.sopInstanceUid]);
  });

  test('node to local retrieves study', async () => {
    const uid = studyUids[4];
    const result = await runLoader(['migrate', 'orthanc', 'local', '--study-uid', uid, '--json'], { dirs });
    expect(result.code).toBe(0);
    const study = result.json<Report>().studies[0];
    expect(study).toEqual(expect.objectContaining({ state: 'done', method: 'retrieve', sourceCount: studies.get(uid)!.length, destinationCount: studies.get(uid)!.length }));
    const listed = await runLoader(['studies', '--json'], { dirs });
    expect(listed.stdout).toContain(uid);
  });

  test('dry run transfers and records nothing', async () => {
    const uid = studyUids[5];
    const result = await runLoader(['migrate', 'orthanc', 'dcmqrc', '--study-uid', uid, '--job', 'dry', '--dry-run', '--json'], { dirs });
    expect(result.code).toBe(0);
    const study = result.json<Report>().studies[0];
    expect(study).toEqual(expect.objectContaining({ state: 'pending', plannedMethod: 'move', destinationCount: 0 }));

    const text = await runLoader(['migrate', 'orthanc', 'dcmqrc', '--study-uid', uid, '--job', 'dry', '--dry-run'], { dirs });
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`${uid.replace(/\./g, '\\.')}\\s+would move\\s`));
    expect(text.stdout).not.toContain('no reason recorded');
    expect(text.stdout).toContain('note: "would move" is not checked: the run tries a C-MOVE from orthanc to dcmqrc and relays');

    expect(readStudyStates(dirs, 'dry').size).toBe(0);
    expect(await listOn(unknownToOrthanc, uid)).toEqual([]);
  });

  test('anonymize relays node to node', async () => {
    const uid = studyUids[0];
    const result = await runLoader(['migrate', 'orthanc', 'dcmqrb', '--study-uid', uid, '--anonymize', '--json'], { dirs });
    expect(result.code).toBe(0);
    const study = result.json<Report & { studies: (StudyEntry & { destinationStudyUid?: string })[] }>().studies[0];
    expect(study.state).toBe('done');
    expect(study.method).toBe('relay');
    expect(study.destinationStudyUid).toMatch(/^2\.25\.\d+$/);
    expect((await listOn(destination, study.destinationStudyUid!)).length).toBe(studies.get(uid)!.length);

    const moveOnly = await runLoader(['migrate', 'orthanc', 'dcmqrb', '--study-uid', uid, '--anonymize', '--method', 'move'], { dirs });
    expect(moveOnly.code).toBe(2);
    expect(moveOnly.stderr).toContain('--anonymize cannot go with --method move');
  });

  test('cancelled send reports sent count', async () => {
    const uid = studyUids[0];
    const files = studies.get(uid)!;
    expect(files.length).toBeGreaterThanOrEqual(3);
    const dir = makeTempDir('migrate-cancel');
    const archive = LocalArchive.open(path.join(dir, 'archive'));
    const store = JobStore.open(path.join(dir, 'jobs.sqlite'));
    const controller = new AbortController();
    const empty = await startDcmqrscp({ aeTitle: 'DCMQRE' });
    try {
      for (const file of files) expect((await archive.importFile(file.absolutePath, { copy: true })).outcome).toBe('stored');
      const report = await runMigration({
        jobId: 'cancelled-send',
        source: { kind: 'local', name: 'local', archive },
        destination: { kind: 'node', name: 'dcmqre', node: nodeFor(empty) },
        selection: { studyInstanceUids: [uid] },
        options: { method: 'auto', concurrency: 1, retries: 0 },
        local: localIdentity(0, LOADER_AE),
        archive,
        store,
        signal: controller.signal,
        onProgress: (progress) => {
          if (progress.detail.includes(`sent 2 of ${files.length}`)) controller.abort();
        },
      });
      const study = report.studies[0];
      expect(study.state).toBe('pending');
      expect(study.lastError).toBe(`cancelled after 2 of ${files.length} instances were sent to ${empty.aeTitle}`);
      expect((await listOn(empty, uid)).length).toBe(2);
      expect(study.destinationCount).toBe(2);
    } finally {
      await empty.stop();
      store.close();
      archive.close();
    }
  });
});
