/**
 * `loader migrate --all` from Orthanc to dcmqrscp: the source stores a study
 * without Study Date, one without Patient Name and one with both, and --all
 * copies every one of them. Also the usage errors of --all and its job id.
 */
import { setLogSink } from '../../src/services/logger';
import { deriveJobId } from '../../src/services/migration';
import { findInstances } from '../../src/services/query-retrieve';
import { createLoaderDirs, freePort, loaderIsBuilt, runLoader, startDcmqrscp, startOrthanc } from '../support/peers';
import type { DcmqrscpHandle, OrthancHandle } from '../support/peers';
import { collect, localIdentity, nodeFor } from '../query-retrieve/helpers';
import { LOADER_AE, configure, makeStudyWithout, orthancModality, registerNode } from './helpers';
import type { MadeStudy } from './helpers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

let previousSink: (line: string) => void;
beforeAll(() => {
  previousSink = setLogSink(() => undefined);
});
afterAll(() => {
  setLogSink(previousSink);
});

interface Report {
  jobId: string;
  studies: Array<{ studyInstanceUid: string; state: string; processedThisRun: boolean; lastError?: string }>;
  summary: { migrated: number; alreadyPresent: number; failed: number; pending: number };
  outcome: string;
}

describeBuilt('loader migrate --all', () => {
  const dirs = createLoaderDirs('migrate-all');
  let orthanc: OrthancHandle;
  let destination: DcmqrscpHandle;
  let undated: MadeStudy;
  let unnamed: MadeStudy;
  let complete: MadeStudy;

  const listOn = async (peer: DcmqrscpHandle, studyInstanceUid: string): Promise<string[]> =>
    (await collect(findInstances(nodeFor(peer), localIdentity(0, 'CHECKER'), studyInstanceUid, undefined))).map((instance) => instance.sopInstanceUid);

  beforeAll(async () => {
    undated = await makeStudyWithout(['(0008,0020)'], 'undated');
    unnamed = await makeStudyWithout(['(0010,0010)'], 'unnamed');
    complete = await makeStudyWithout([], 'complete');

    const movePort = await freePort();
    destination = await startDcmqrscp({ aeTitle: 'DCMQRALL' });
    orthanc = await startOrthanc({
      aeTitle: 'ORTHANCALL',
      modalities: { loader: orthancModality(LOADER_AE, movePort), destination: orthancModality('DCMQRALL', destination.port) },
    });
    for (const study of [undated, unnamed, complete]) await orthanc.uploadFile(study.file);

    await registerNode(dirs, 'orthanc', orthanc);
    await registerNode(dirs, 'dcmqrall', destination);
    await configure(dirs, 'pacs.aeTitle', LOADER_AE);
    await configure(dirs, 'pacs.moveScuPort', String(movePort));
  });

  afterAll(async () => {
    await orthanc.stop();
    await destination.stop();
  });

  test('date range from 1900 skips undated study', async () => {
    const result = await runLoader(['migrate', 'orthanc', 'dcmqrall', '--date', '19000101-', '--dry-run', '--json'], { dirs });
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as Report;
    const uids = report.studies.map((study) => study.studyInstanceUid);
    expect(uids).toContain(complete.studyInstanceUid);
    expect(uids).not.toContain(undated.studyInstanceUid);
  });

  test('all with a filter is a usage error', async () => {
    const withDate = await runLoader(['migrate', 'orthanc', 'dcmqrall', '--all', '--date', '20240101'], { dirs });
    expect(withDate.code).toBe(2);
    expect(withDate.stderr).toContain('--all selects every study and cannot go with --date');

    const withUids = await runLoader(['migrate', 'orthanc', 'dcmqrall', '--all', '--study-uid', complete.studyInstanceUid, '--name', 'x'], { dirs });
    expect(withUids.code).toBe(2);
    expect(withUids.stderr).toContain('cannot go with --name, --study-uid');
  });

  test('no selection names --all', async () => {
    const result = await runLoader(['migrate', 'orthanc', 'dcmqrall'], { dirs });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('give --all for every study');
  });

  /**
   * Runs `migrate --all` one study at a time. dcmqrscp 3.6.7 forks a process per association, and in a full
   * test run, with two concurrent C-MOVEs into it, the verification after one move found none of its
   * instances. Selecting with --all does not depend on concurrency.
   */
  const migrateAll = () => runLoader(['migrate', 'orthanc', 'dcmqrall', '--all', '--concurrency', '1', '--json'], { dirs });

  test('all copies studies lacking attributes', async () => {
    const result = await migrateAll();
    const report = JSON.parse(result.stdout) as Report;
    expect(report.studies.filter((study) => study.state !== 'done')).toEqual([]);
    expect(result.code).toBe(0);
    expect(report.jobId).toBe(deriveJobId('orthanc', 'dcmqrall', { all: true }));
    expect(report.jobId).not.toBe(deriveJobId('orthanc', 'dcmqrall', { patientName: '*' }));
    expect(report.outcome).toBe('success');
    expect(report.summary).toEqual({ migrated: 3, alreadyPresent: 0, failed: 0, pending: 0 });

    const states = new Map(report.studies.map((study) => [study.studyInstanceUid, study.state]));
    for (const study of [undated, unnamed, complete]) {
      expect(states.get(study.studyInstanceUid)).toBe('done');
      expect(await listOn(destination, study.studyInstanceUid)).toEqual([study.sopInstanceUid]);
    }
  });

  test('repeated all resumes its job', async () => {
    const result = await migrateAll();
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.jobId).toBe(deriveJobId('orthanc', 'dcmqrall', { all: true }));
    expect(report.studies).toHaveLength(3);
    expect(report.studies.every((study) => study.state === 'done' && !study.processedThisRun)).toBe(true);

    const otherSelection = await runLoader(['migrate', 'orthanc', 'dcmqrall', '--name', '*', '--job', report.jobId], { dirs });
    expect(otherSelection.code).toBe(2);
    expect(otherSelection.stderr).toContain('give another --job name');
  });
});
