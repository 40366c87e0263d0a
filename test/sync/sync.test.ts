/**
 * `loader sync` between Orthanc (A) and dcmqrscp (B) with overlapping study
 * sets: studies only on A, only on B, on both, one split across both, and
 * one Study Instance UID stored under another Patient ID on B. Orthanc can
 * C-MOVE to dcmqrscp; dcmqrscp does not know Orthanc, so B to A relays
 * through the local archive.
 */
import * as fs from 'fs';
import * as path from 'path';

import { setLogSink } from '../../src/services/logger';
import { findInstances, findStudies } from '../../src/services/query-retrieve';
import {
  createLoaderDirs,
  freePort,
  loaderIsBuilt,
  makeTempDir,
  runDcmtk,
  runLoader,
  sleep,
  startDcmqrscp,
  startLoader,
  startOrthanc,
  storeFiles,
} from '../support/peers';
import type { CorpusFile, DcmqrscpHandle, DicomNode, OrthancHandle } from '../support/peers';
import { collect, localIdentity, nodeFor } from '../query-retrieve/helpers';
import { configure, orthancModality, readStudyStates, registerNode, uncompressedStudies } from '../migration/helpers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

/** Calling AE title of the loader; Orthanc has it registered as modality "loader". */
const LOADER_AE = 'LOADERSYNC';

let previousSink: (line: string) => void;
beforeAll(() => {
  previousSink = setLogSink(() => undefined);
});
afterAll(() => {
  setLogSink(previousSink);
});

interface StudyOnEndpoint {
  studyInstanceUid: string;
  patientId: string;
  instances?: number;
}

interface Report {
  dryRun: boolean;
  comparison: {
    studiesOnA: number;
    studiesOnB: number;
    inSync: number;
    missingOnA: StudyOnEndpoint[];
    missingOnB: StudyOnEndpoint[];
    mismatched: Array<{ studyInstanceUid: string; countA: number; countB: number; missingOnA: number; missingOnB: number; series: unknown[] }>;
    conflicts: Array<{ studyInstanceUid: string; patientIdA: string; patientIdB: string }>;
  };
  transfers: Array<{ direction: string; jobId: string; studyInstanceUids: string[]; missingInstances: number; uncountedStudies: number; report?: { outcome: string; studies: Array<{ studyInstanceUid: string; state: string; method?: string }> } }>;
  summary: { transferred: number; alreadyPresent: number; failed: number; pending: number; conflicts: number };
  outcome: string;
}

const uidsOf = (studies: { studyInstanceUid: string }[]) => studies.map((study) => study.studyInstanceUid).sort();

describeBuilt('loader sync', () => {
  const dirs = createLoaderDirs('sync');
  const studies = uncompressedStudies();
  const all = [...studies.entries()];
  // The largest study has two series; the rest have one instance each.
  const [splitUid, splitFiles] = all[0];
  const onlyOnA = all.slice(1, 3);
  const onlyOnB = all.slice(3, 5);
  const onBoth = all.slice(5, 6);
  const [conflictUid, conflictFiles] = all[6];
  const lateStudy = all[7];

  const seriesUids = [...new Set(splitFiles.map((file) => file.seriesInstanceUid!))];
  const [firstSeries, secondSeries] = seriesUids
    .map((uid) => splitFiles.filter((file) => file.seriesInstanceUid === uid))
    .sort((x, y) => x.length - y.length);
  // The larger series is split, so both halves have at least one instance.
  const secondHalf = secondSeries.slice(0, Math.floor(secondSeries.length / 2));
  // A has the first series and half of the second; B has the whole second series.
  const splitOnA = [...firstSeries, ...secondHalf];
  const splitOnB = secondSeries;

  let orthanc: OrthancHandle;
  let dcmqrscp: DcmqrscpHandle;
  const checker = localIdentity(0, LOADER_AE);

  const listInstances = async (peer: DicomNode, studyInstanceUid: string): Promise<string[]> =>
    (await collect(findInstances(nodeFor(peer), checker, studyInstanceUid, undefined))).map((instance) => instance.sopInstanceUid).sort();
  const patientIdOn = async (peer: DicomNode, studyInstanceUid: string): Promise<string[]> =>
    (await collect(findStudies(nodeFor(peer), checker, { studyInstanceUids: [studyInstanceUid] }))).map((study) => study.patientId);
  const expectedUids = (files: CorpusFile[]) => files.map((file) => file.sopInstanceUid!).sort();

  /** Returns the IMAGE level SOP Instance UIDs of every test study on both peers. */
  const snapshot = async (): Promise<Record<string, { a: string[]; b: string[] }>> => {
    const result: Record<string, { a: string[]; b: string[] }> = {};
    for (const [uid] of all.slice(0, 8)) result[uid] = { a: await listInstances(orthanc, uid), b: await listInstances(dcmqrscp, uid) };
    return result;
  };

  beforeAll(async () => {
    expect(all.length).toBeGreaterThanOrEqual(8);
    expect(seriesUids).toHaveLength(2);
    expect(secondSeries.length).toBeGreaterThanOrEqual(2);
    const movePort = await freePort();
    dcmqrscp = await startDcmqrscp({ aeTitle: 'DCMQRSYNC', hostTable: [{ aeTitle: LOADER_AE, host: '127.0.0.1', port: movePort }] });
    orthanc = await startOrthanc({
      aeTitle: 'ORTHANCSYNC',
      modalities: { loader: orthancModality(LOADER_AE, movePort), dcmqrscp: orthancModality('DCMQRSYNC', dcmqrscp.port) },
    });

    const toA = [...onlyOnA, ...onBoth].flatMap(([, files]) => files);
    for (const file of [...toA, ...splitOnA, ...conflictFiles]) await orthanc.uploadFile(file.absolutePath);

    // B gets a copy of the conflict study with another Patient ID.
    const copyDir = makeTempDir('sync-conflict');
    const copies = conflictFiles.map((file, index) => {
      const copy = path.join(copyDir, `${index}.dcm`);
      fs.copyFileSync(file.absolutePath, copy);
      return copy;
    });
    const modified = await runDcmtk('dcmodify', ['-nb', '-i', '(0010,0020)=OTHER', ...copies]);
    expect(modified.code).toBe(0);
    const toB = [...onlyOnB, ...onBoth].flatMap(([, files]) => files.map((file) => file.absolutePath));
    const stored = await storeFiles(dcmqrscp, [...toB, ...splitOnB.map((file) => file.absolutePath), ...copies]);
    expect(stored.code).toBe(0);

    await registerNode(dirs, 'orthanc', orthanc);
    await registerNode(dirs, 'dcmqrb', dcmqrscp);
    await configure(dirs, 'pacs.aeTitle', LOADER_AE);
    await configure(dirs, 'pacs.moveScuPort', String(movePort));
  });

  afterAll(async () => {
    await orthanc.stop();
    await dcmqrscp.stop();
  });

  test('dry run shows differences only', async () => {
    const before = await snapshot();
    const result = await runLoader(['sync', 'orthanc', 'dcmqrb', '--dry-run', '--job', 'pair', '--json'], { dirs });
    // Exit code 3 because of the conflict.
    expect(result.code).toBe(3);
    const report = result.json<Report>();
    expect(report.dryRun).toBe(true);
    expect(report.outcome).toBe('partial');

    const { comparison } = report;
    expect(uidsOf(comparison.missingOnB)).toEqual(onlyOnA.map(([uid]) => uid).sort());
    expect(uidsOf(comparison.missingOnA)).toEqual(onlyOnB.map(([uid]) => uid).sort());
    expect(comparison.inSync).toBe(1);
    expect(comparison.mismatched).toHaveLength(1);
    expect(comparison.mismatched[0]).toEqual(
      expect.objectContaining({
        studyInstanceUid: splitUid,
        countA: splitOnA.length,
        countB: splitOnB.length,
        missingOnA: secondSeries.length - secondHalf.length,
        missingOnB: firstSeries.length,
      }),
    );
    expect(comparison.conflicts).toEqual([expect.objectContaining({ studyInstanceUid: conflictUid, patientIdA: conflictFiles[0].patientId, patientIdB: 'OTHER' })]);

    const aToB = report.transfers.find((transfer) => transfer.direction === 'a-to-b')!;
    const bToA = report.transfers.find((transfer) => transfer.direction === 'b-to-a')!;
    expect(aToB.studyInstanceUids.sort()).toEqual([...onlyOnA.map(([uid]) => uid), splitUid].sort());
    expect(bToA.studyInstanceUids.sort()).toEqual([...onlyOnB.map(([uid]) => uid), splitUid].sort());
    expect(aToB.report).toBeUndefined();
    // Orthanc reports Number of Study Related Instances and dcmqrscp does not, so only B's studies are uncounted.
    expect(aToB.uncountedStudies).toBe(0);
    expect(bToA.uncountedStudies).toBe(onlyOnB.length);
    expect(bToA.missingInstances).toBe(secondSeries.length - secondHalf.length);

    expect(await snapshot()).toEqual(before);
    expect(readStudyStates(dirs, 'pair-a-to-b').size).toBe(0);
  });

  test('text report names the differences', async () => {
    const result = await runLoader(['sync', 'orthanc', 'dcmqrb', '--dry-run'], { dirs });
    expect(result.code).toBe(3);
    expect(result.stdout).toContain('missing on dcmqrb (only on orthanc): 2 studies');
    expect(result.stdout).toContain('missing on orthanc (only on dcmqrb): 2 studies');
    expect(result.stdout).toMatch(/instance count mismatches: 1 study/);
    expect(result.stdout).toMatch(/conflicts, not transferred: 1 study/);
    expect(result.stdout).toContain('OTHER');
    expect(result.stdout).toMatch(/orthanc to dcmqrb: would transfer 3 studies, \d+ instances missing\n/);
    const missingOnA = secondSeries.length - secondHalf.length;
    expect(result.stdout).toContain(
      `dcmqrb to orthanc: would transfer 3 studies, ${missingOnA} or more instances missing (dcmqrb does not report the instance count of 2 studies)\n`,
    );
    expect(result.stdout).toContain('partial (dry run): 6 studies to transfer, 1 conflict\n');
  });

  test('two-way sync copies the union', async () => {
    const result = await runLoader(['sync', 'orthanc', 'dcmqrb', '--job', 'pair', '--json'], { dirs });
    expect(result.code).toBe(3);
    const report = result.json<Report>();
    // Every transfer succeeded, but the conflict study stays different on the two ends.
    expect(report.outcome).toBe('partial');
    expect(report.summary).toEqual({ transferred: 6, alreadyPresent: 0, failed: 0, pending: 0, conflicts: 1 });

    const aToB = report.transfers.find((transfer) => transfer.direction === 'a-to-b')!;
    const bToA = report.transfers.find((transfer) => transfer.direction === 'b-to-a')!;
    expect(aToB.report!.studies.every((study) => study.method === 'move')).toBe(true);
    expect(bToA.report!.studies.every((study) => study.method === 'relay')).toBe(true);

    const union = [...onlyOnA, ...onlyOnB, ...onBoth].map(([uid, files]) => [uid, expectedUids(files)] as const);
    for (const [uid, expected] of [...union, [splitUid, expectedUids(splitFiles)] as const]) {
      expect({ uid, onA: await listInstances(orthanc, uid) }).toEqual({ uid, onA: expected });
      expect({ uid, onB: await listInstances(dcmqrscp, uid) }).toEqual({ uid, onB: expected });
    }

    // The conflict study stays as it was on each side.
    expect(await patientIdOn(orthanc, conflictUid)).toEqual([conflictFiles[0].patientId]);
    expect(await patientIdOn(dcmqrscp, conflictUid)).toEqual(['OTHER']);
    expect(await listInstances(orthanc, conflictUid)).toEqual(expectedUids(conflictFiles));
    expect(await listInstances(dcmqrscp, conflictUid)).toEqual(expectedUids(conflictFiles));
  });

  test('second run transfers nothing', async () => {
    const before = await snapshot();
    const result = await runLoader(['sync', 'orthanc', 'dcmqrb', '--job', 'pair', '--json'], { dirs });
    expect(result.code).toBe(3);
    const report = result.json<Report>();
    expect(report.outcome).toBe('partial');
    expect(report.summary.conflicts).toBe(1);
    expect(report.transfers.every((transfer) => transfer.studyInstanceUids.length === 0 && transfer.report === undefined)).toBe(true);
    expect(report.comparison.mismatched).toEqual([]);
    expect(report.comparison.inSync).toBe(all.slice(0, 6).length);
    expect(await snapshot()).toEqual(before);

    const text = await runLoader(['sync', 'orthanc', 'dcmqrb', '--job', 'pair'], { dirs });
    expect(text.code).toBe(3);
    expect(text.stdout).toContain('nothing to transfer: orthanc and dcmqrb contain the same studies with the same instance counts, apart from the conflicts\n');
    expect(text.stdout).toContain('partial: 0 studies copied, 0 failed, 1 conflict\n');
  });

  test('invalid options are rejected', async () => {
    const direction = await runLoader(['sync', 'orthanc', 'dcmqrb', '--direction', 'up'], { dirs });
    expect(direction.code).toBe(2);
    expect(direction.stderr).toContain('--direction "up" is invalid');
    const same = await runLoader(['sync', 'orthanc', 'ORTHANC'], { dirs });
    expect(same.code).toBe(2);
    expect(same.stderr).toContain('give two different ends');
    const schedule = await runLoader(['serve', '--sync', 'orthanc dcmqrb every 5s'], { dirs });
    expect(schedule.code).toBe(2);
    expect(schedule.stderr).toContain('interval "5s" is too short');
    const unknown = await runLoader(['serve', '--sync', 'orthanc nowhere every 1m'], { dirs });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Node "nowhere" is not registered');
  });

  test('serve --sync copies a new study', async () => {
    const [lateUid, lateFiles] = lateStudy;
    for (const file of lateFiles) await orthanc.uploadFile(file.absolutePath);
    const server = await startLoader(['--sync', 'orthanc dcmqrb every 10s --direction a-to-b --job scheduled'], { dirs, aeTitle: LOADER_AE });
    try {
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && !/Scheduled sync run finished/.test(server.readLog())) await sleep(200);
      const log = server.readLog();
      expect(log).toMatch(/Scheduled sync run finished.*a=orthanc.*b=dcmqrb.*transferred=1/);
      expect(await listInstances(dcmqrscp, lateUid)).toEqual(expectedUids(lateFiles));

      // The next run, 10 s later, finds nothing to copy.
      const secondDeadline = Date.now() + 40_000;
      while (Date.now() < secondDeadline && (server.readLog().match(/Scheduled sync run finished/g) ?? []).length < 2) await sleep(200);
      const runs = server.readLog().match(/Scheduled sync run finished.*/g) ?? [];
      expect(runs).toHaveLength(2);
      // The conflict study stays different on the two ends, so the run is partial.
      expect(runs[1]).toMatch(/outcome=partial.*conflicts=1 transferred=0/);
    } finally {
      const status = await server.stop();
      expect(status.code).toBe(0);
    }
  });
});
