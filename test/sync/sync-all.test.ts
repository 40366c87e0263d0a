/**
 * `loader sync --all` between Orthanc (A) and dcmqrscp (B): A stores a study
 * without Study Date and one without Patient Name, B one without either, and
 * both store one complete study. --all copies each missing study to the other
 * end. dcmqrscp does not know Orthanc, so B to A relays through the local
 * archive. Also the usage errors of --all with a filter.
 */
import { setLogSink } from '../../src/services/logger';
import { findInstances } from '../../src/services/query-retrieve';
import { syncJobId } from '../../src/services/sync';
import { createLoaderDirs, freePort, loaderIsBuilt, runLoader, startDcmqrscp, startOrthanc, storeFiles } from '../support/peers';
import type { DcmqrscpHandle, DicomNode, OrthancHandle } from '../support/peers';
import { collect, localIdentity, nodeFor } from '../query-retrieve/helpers';
import { configure, makeStudyWithout, orthancModality, registerNode } from '../migration/helpers';
import type { MadeStudy } from '../migration/helpers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

/** Calling AE title of the loader; Orthanc and dcmqrscp know it as a move destination. */
const LOADER_AE = 'LOADERSYNCALL';

let previousSink: (line: string) => void;
beforeAll(() => {
  previousSink = setLogSink(() => undefined);
});
afterAll(() => {
  setLogSink(previousSink);
});

interface Report {
  comparison: { studiesOnA: number; studiesOnB: number; inSync: number; missingOnA: Array<{ studyInstanceUid: string }>; missingOnB: Array<{ studyInstanceUid: string }> };
  transfers: Array<{ direction: string; jobId: string; studyInstanceUids: string[] }>;
  summary: { transferred: number; failed: number; conflicts: number };
  outcome: string;
}

const uidsOf = (studies: { studyInstanceUid: string }[]) => studies.map((study) => study.studyInstanceUid).sort();

describeBuilt('loader sync --all', () => {
  const dirs = createLoaderDirs('sync-all');
  let orthanc: OrthancHandle;
  let dcmqrscp: DcmqrscpHandle;
  let undatedOnA: MadeStudy;
  let unnamedOnA: MadeStudy;
  let bareOnB: MadeStudy;
  let onBoth: MadeStudy;

  const listOn = async (peer: DicomNode, studyInstanceUid: string): Promise<string[]> =>
    (await collect(findInstances(nodeFor(peer), localIdentity(0, LOADER_AE), studyInstanceUid, undefined))).map((instance) => instance.sopInstanceUid);

  beforeAll(async () => {
    undatedOnA = await makeStudyWithout(['(0008,0020)'], 'undated');
    unnamedOnA = await makeStudyWithout(['(0010,0010)'], 'unnamed');
    bareOnB = await makeStudyWithout(['(0008,0020)', '(0010,0010)'], 'bare');
    onBoth = await makeStudyWithout([], 'both');

    const movePort = await freePort();
    dcmqrscp = await startDcmqrscp({ aeTitle: 'DCMQRSYNCALL', hostTable: [{ aeTitle: LOADER_AE, host: '127.0.0.1', port: movePort }] });
    orthanc = await startOrthanc({
      aeTitle: 'ORTHANCSYNCALL',
      modalities: { loader: orthancModality(LOADER_AE, movePort), dcmqrscp: orthancModality('DCMQRSYNCALL', dcmqrscp.port) },
    });
    for (const study of [undatedOnA, unnamedOnA, onBoth]) await orthanc.uploadFile(study.file);
    const stored = await storeFiles(dcmqrscp, [bareOnB.file, onBoth.file]);
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

  test('all with a filter is a usage error', async () => {
    const withDate = await runLoader(['sync', 'orthanc', 'dcmqrb', '--all', '--date', '20240101'], { dirs });
    expect(withDate.code).toBe(2);
    expect(withDate.stderr).toContain('--all selects every study and cannot go with --date');

    const schedule = await runLoader(['serve', '--sync', 'orthanc dcmqrb every 1m --all --modality CT'], { dirs });
    expect(schedule.code).toBe(2);
    expect(schedule.stderr).toContain('--all selects every study and cannot go with --modality');
  });

  test('dry run lists studies lacking attributes', async () => {
    const result = await runLoader(['sync', 'orthanc', 'dcmqrb', '--all', '--dry-run', '--json'], { dirs });
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.comparison.studiesOnA).toBe(3);
    expect(report.comparison.studiesOnB).toBe(2);
    expect(report.comparison.inSync).toBe(1);
    expect(uidsOf(report.comparison.missingOnB)).toEqual([undatedOnA.studyInstanceUid, unnamedOnA.studyInstanceUid].sort());
    expect(uidsOf(report.comparison.missingOnA)).toEqual([bareOnB.studyInstanceUid]);
  });

  /**
   * Runs `sync --all` one transfer at a time. dcmqrscp 3.6.7 forks a process per association, and in full
   * test runs two concurrent transfers into its storage area now and then failed a transfer. Selecting with
   * --all does not depend on concurrency.
   */
  const syncAll = () => runLoader(['sync', 'orthanc', 'dcmqrb', '--all', '--concurrency', '1', '--json'], { dirs });

  test('all copies both ways', async () => {
    const result = await syncAll();
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.outcome).toBe('success');
    expect(report.summary.transferred).toBe(3);
    expect(report.summary.failed).toBe(0);
    expect(report.transfers.map((transfer) => transfer.jobId)).toEqual([
      syncJobId('orthanc', 'dcmqrb', { all: true }, 'a-to-b'),
      syncJobId('orthanc', 'dcmqrb', { all: true }, 'b-to-a'),
    ]);

    for (const study of [undatedOnA, unnamedOnA, bareOnB, onBoth]) {
      expect(await listOn(orthanc, study.studyInstanceUid)).toEqual([study.sopInstanceUid]);
      expect(await listOn(dcmqrscp, study.studyInstanceUid)).toEqual([study.sopInstanceUid]);
    }
  });

  test('repeated all has nothing to transfer', async () => {
    const result = await syncAll();
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.outcome).toBe('nothing-to-do');
    expect(report.comparison.inSync).toBe(4);
  });
});
