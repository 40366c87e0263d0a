/**
 * C-FIND lists that a node cuts short. Orthanc 1.10 with LimitFindInstances and
 * LimitFindResults ends such a query with status FE00 (Cancel) although no
 * C-CANCEL was sent (PS3.4 table C.4-1), so find, migrate and sync must not take
 * the matches received for the whole list.
 */
import * as path from 'path';

import { Tags } from '../../src/dicom/tags';
import { generateUid } from '../../src/dicom/uid';
import { LocalArchive } from '../../src/services/archive';
import { setLogSink } from '../../src/services/logger';
import { JobStore, runMigration } from '../../src/services/migration';
import { FindIncompleteError, findInstances, findStudies } from '../../src/services/query-retrieve';
import type { QueryNotice } from '../../src/services/query-retrieve';
import { compareEndpoints, runSync } from '../../src/services/sync';
import { createLoaderDirs, freePort, loaderIsBuilt, makeTempDir, runDcmtk, runLoader, startOrthanc } from '../support/peers';
import type { OrthancHandle } from '../support/peers';
import { writeSecondaryCapture } from '../support/secondary-capture';
import { configure, registerNode } from '../migration/helpers';
import { collect, localIdentity, nodeFor } from './helpers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

const LOADER_AE = 'LOADERTRUNC';

/** Orthanc's limits: matches per IMAGE level query, and per query at the other levels. */
const LIMIT_FIND_INSTANCES = 5;
const LIMIT_FIND_RESULTS = 2;
/** Instances of the one series of the large study, more than LIMIT_FIND_INSTANCES. */
const LARGE_STUDY_INSTANCES = 12;

let previousSink: (line: string) => void;
beforeAll(() => {
  previousSink = setLogSink(() => undefined);
});
afterAll(() => {
  setLogSink(previousSink);
});

/** Writes a Secondary Capture file without pixel data into `dir` and returns its path and SOP Instance UID. */
function writeInstance(dir: string, study: { uid: string; date: string; patientId: string }, seriesUid: string, instanceNumber: number): { file: string; sopInstanceUid: string } {
  const file = path.join(dir, `${study.patientId}-${seriesUid}-${instanceNumber}.dcm`);
  const text = [
    { tag: Tags.PatientName, vr: 'PN', value: `TRUNC^${study.patientId}` },
    { tag: Tags.InstanceNumber, vr: 'IS', value: String(instanceNumber) },
  ];
  const sopInstanceUid = writeSecondaryCapture(file, study.uid, study.patientId, text, { seriesUid, studyDate: study.date });
  return { file, sopInstanceUid };
}

describe('C-FIND cut short by the node', () => {
  let orthanc: OrthancHandle;
  let movePort: number;
  const largeStudy = { uid: generateUid(), date: '20240110', patientId: 'TRUNC-LARGE' };
  const largeSeriesUid = generateUid();
  /** Files of the large study by SOP Instance UID. */
  const largeFiles = new Map<string, string>();
  /** One study of one instance on each of five days, so that the six studies exceed LIMIT_FIND_RESULTS. */
  const smallStudies = Array.from({ length: 5 }, (_, index) => ({ uid: generateUid(), date: `2024010${index + 1}`, patientId: `TRUNC-${index + 1}` }));

  beforeAll(async () => {
    movePort = await freePort();
    orthanc = await startOrthanc({
      aeTitle: 'ORTHANCTRUNC',
      modalities: { loader: { aet: LOADER_AE, host: '127.0.0.1', port: movePort } },
      extraConfig: { LimitFindInstances: LIMIT_FIND_INSTANCES, LimitFindResults: LIMIT_FIND_RESULTS },
    });
    const dir = makeTempDir('truncated-find');
    for (let number = 1; number <= LARGE_STUDY_INSTANCES; number++) {
      const { file, sopInstanceUid } = writeInstance(dir, largeStudy, largeSeriesUid, number);
      largeFiles.set(sopInstanceUid, file);
      await orthanc.uploadFile(file);
    }
    for (const study of smallStudies) await orthanc.uploadFile(writeInstance(dir, study, generateUid(), 1).file);
  }, 120_000);

  afterAll(async () => {
    await orthanc?.stop();
  });

  const node = () => nodeFor(orthanc);

  /** Lists the SOP Instance UIDs that Orthanc returns for the large series before it cuts the list, with DCMTK findscu. */
  async function listTruncatedWithFindscu(): Promise<string[]> {
    const args = ['-S', '-aet', LOADER_AE, '-aec', orthanc.aeTitle, '-k', 'QueryRetrieveLevel=IMAGE', '-k', `StudyInstanceUID=${largeStudy.uid}`, '-k', `SeriesInstanceUID=${largeSeriesUid}`, '-k', 'SOPInstanceUID'];
    const result = await runDcmtk('findscu', ['-v', ...args, orthanc.host, String(orthanc.port)]);
    const output = `${result.stdout}\n${result.stderr}`;
    const uids = [...output.matchAll(/\(0008,0018\) UI \[([0-9.]+)[^\]]*\]/g)].map((match) => match[1]);
    expect(output).toMatch(/Cancel/);
    return uids;
  }

  test('IMAGE level FE00 rejects the list', async () => {
    const rejection = collect(findInstances(node(), localIdentity(0, LOADER_AE), largeStudy.uid, undefined));
    await expect(rejection).rejects.toBeInstanceOf(FindIncompleteError);
    await expect(rejection).rejects.toMatchObject({ level: 'IMAGE', received: LIMIT_FIND_INSTANCES });
    await expect(rejection).rejects.toThrow(/0xFE00 .*LimitFindInstances/);
  });

  test('study search splits FE00 by date', async () => {
    const notices: QueryNotice[] = [];
    const matches = await collect(findStudies(node(), localIdentity(0, LOADER_AE), {}, { onNotice: (notice) => notices.push(notice) }));
    const expected = [largeStudy, ...smallStudies].map((study) => study.uid).sort();
    expect(matches.map((match) => match.studyInstanceUid).sort()).toEqual(expected);
    expect(notices.some((notice) => notice.kind === 'split' && /0xFE00/.test(notice.message))).toBe(true);
  }, 120_000);

  test('one-day study query with FE00 fails', async () => {
    // Three studies on one day exceed LIMIT_FIND_RESULTS, and a day cannot be split.
    const dir = makeTempDir('truncated-find-day');
    const sameDay = Array.from({ length: 3 }, (_, index) => ({ uid: generateUid(), date: '20230301', patientId: `TRUNC-DAY-${index}` }));
    for (const study of sameDay) await orthanc.uploadFile(writeInstance(dir, study, generateUid(), 1).file);
    try {
      const rejection = collect(findStudies(node(), localIdentity(0, LOADER_AE), { date: '20230301' }));
      await expect(rejection).rejects.toMatchObject({ level: 'STUDY', received: LIMIT_FIND_RESULTS });
      await expect(rejection).rejects.toThrow(/one day and cannot be split.*LimitFindResults/);
    } finally {
      for (const study of sameDay) {
        const found = (await orthanc.listStudies()).find((entry) => entry.MainDicomTags.StudyInstanceUID === study.uid);
        if (found) await orthanc.rest('DELETE', `/studies/${found.ID}`);
      }
    }
  });

  test('migrate fails a truncated source study', async () => {
    // The archive contains exactly the instances Orthanc lists, which made the study look already present.
    const listed = await listTruncatedWithFindscu();
    expect(listed).toHaveLength(LIMIT_FIND_INSTANCES);
    const dir = makeTempDir('truncated-migrate');
    const archive = LocalArchive.open(path.join(dir, 'archive'));
    const store = JobStore.open(path.join(dir, 'jobs.sqlite'));
    try {
      for (const uid of listed) expect((await archive.importFile(largeFiles.get(uid)!, { copy: true })).outcome).toBe('stored');
      const report = await runMigration({
        jobId: 'truncated',
        source: { kind: 'node', name: 'orthanc', node: nodeFor(orthanc) },
        destination: { kind: 'local', name: 'local', archive },
        selection: { studyInstanceUids: [largeStudy.uid] },
        options: { method: 'auto', concurrency: 1, retries: 0 },
        local: localIdentity(movePort, LOADER_AE),
        archive,
        store,
      });
      const study = report.studies[0];
      expect(study.state).toBe('failed');
      expect(study.lastError).toMatch(/IMAGE level C-FIND with status 0xFE00/);
      expect(study.lastError).toMatch(/LimitFindInstances/);
      expect(report.outcome).toBe('failure');
    } finally {
      store.close();
      archive.close();
    }
  });

  test('sync compare rejects a truncated list', async () => {
    const listed = await listTruncatedWithFindscu();
    const dir = makeTempDir('truncated-sync');
    const archive = LocalArchive.open(path.join(dir, 'archive'));
    try {
      for (const uid of listed) expect((await archive.importFile(largeFiles.get(uid)!, { copy: true })).outcome).toBe('stored');
      const comparison = compareEndpoints(
        { kind: 'node', name: 'orthanc', node: nodeFor(orthanc) },
        { kind: 'local', name: 'local', archive },
        localIdentity(0, LOADER_AE),
        { all: true },
      );
      await expect(comparison).rejects.toBeInstanceOf(FindIncompleteError);
      await expect(comparison).rejects.toThrow(/IMAGE level C-FIND with status 0xFE00 .*LimitFindInstances/);
    } finally {
      archive.close();
    }
  }, 120_000);

  describeBuilt('loader find', () => {
    test('IMAGE level FE00 exits with failure', async () => {
      const dirs = createLoaderDirs('truncated-find-cli');
      await registerNode(dirs, 'limited', orthanc);
      await configure(dirs, 'pacs.aeTitle', LOADER_AE);
      const result = await runLoader(['find', 'limited', '--level', 'IMAGE', '--study-uid', largeStudy.uid], { dirs });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/limited \(ORTHANCTRUNC\) ended the IMAGE level C-FIND with status 0xFE00 \(Cancel\) after 5 matches/);
      expect(result.stderr).not.toMatch(/^5 instances$/m);
    });
  });
});

describe('study search split without a date filter', () => {
  let orthanc: OrthancHandle;
  let movePort: number;
  const dated = Array.from({ length: 3 }, (_, index) => ({ uid: generateUid(), date: `2015010${index + 1}`, patientId: `SPLIT-${index + 1}` }));
  /** Dated after the loader's today, so only an open-ended last range matches it. */
  const future = { uid: generateUid(), date: '20300101', patientId: 'SPLIT-FUTURE' };
  /** Without Study Date, so no Study Date range matches it. */
  const undated = { uid: generateUid(), date: '', patientId: 'SPLIT-UNDATED' };
  const all = [...dated, future, undated].map((study) => study.uid).sort();
  /** The studies that closed ranges list: the quirk closes the open end at today, which leaves out the future date. */
  const listable = dated.map((study) => study.uid).sort();

  beforeAll(async () => {
    movePort = await freePort();
    orthanc = await startOrthanc({
      aeTitle: 'ORTHANCSPLIT',
      modalities: { loader: { aet: LOADER_AE, host: '127.0.0.1', port: movePort } },
      extraConfig: { LimitFindInstances: LIMIT_FIND_INSTANCES, LimitFindResults: LIMIT_FIND_RESULTS },
    });
    const dir = makeTempDir('split-undated');
    for (const study of [...dated, future, undated]) await orthanc.uploadFile(writeInstance(dir, study, generateUid(), 1).file);
  }, 120_000);

  afterAll(async () => {
    await orthanc?.stop();
  });

  const node = () => nodeFor(orthanc);
  /** Closed date ranges (19000101-B and A-today), which match no study without Study Date on Orthanc. */
  const closedRangeNode = () => nodeFor(orthanc, { quirks: ['no-wildcard-in-dates'] });

  test('open ends list undated and future', async () => {
    // Orthanc 1.10 compares dates as text, so the first range "-B" matches the empty Study Date.
    const notices: QueryNotice[] = [];
    const matches = await collect(findStudies(node(), localIdentity(0, LOADER_AE), {}, { onNotice: (notice) => notices.push(notice) }));
    expect(matches.map((match) => match.studyInstanceUid).sort()).toEqual(all);
    expect(notices.some((notice) => notice.kind === 'split')).toBe(true);
    expect(notices.some((notice) => notice.kind === 'undated-not-listed')).toBe(false);
  }, 120_000);

  test('closed ranges send undated notice', async () => {
    const notices: QueryNotice[] = [];
    const matches = await collect(findStudies(closedRangeNode(), localIdentity(0, LOADER_AE), {}, { onNotice: (notice) => notices.push(notice) }));
    expect(matches.map((match) => match.studyInstanceUid).sort()).toEqual(listable);
    const undatedNotices = notices.filter((notice) => notice.kind === 'undated-not-listed');
    expect(undatedNotices).toHaveLength(1);
    expect(undatedNotices[0].message).toMatch(/studies without Study Date on .*ORTHANCSPLIT.* are not listed/);
    expect(undatedNotices[0].message).toMatch(/LimitFindResults/);
  }, 120_000);

  test('date filter sends no undated notice', async () => {
    const notices: QueryNotice[] = [];
    const matches = await collect(findStudies(closedRangeNode(), localIdentity(0, LOADER_AE), { date: '20150101-' }, { onNotice: (notice) => notices.push(notice) }));
    expect(matches.map((match) => match.studyInstanceUid).sort()).toEqual(listable);
    expect(notices.some((notice) => notice.kind === 'split')).toBe(true);
    expect(notices.some((notice) => notice.kind === 'undated-not-listed')).toBe(false);
  }, 120_000);

  test('migrate and sync all are partial', async () => {
    const dir = makeTempDir('split-undated-migrate');
    const archive = LocalArchive.open(path.join(dir, 'archive'));
    const store = JobStore.open(path.join(dir, 'jobs.sqlite'));
    const source = { kind: 'node' as const, name: 'orthanc', node: closedRangeNode() };
    const destination = { kind: 'local' as const, name: 'local' as const, archive };
    const options = { method: 'auto' as const, concurrency: 1, retries: 0 };
    try {
      const migration = await runMigration({
        jobId: 'split-undated',
        source,
        destination,
        selection: { all: true },
        options,
        local: localIdentity(movePort, LOADER_AE),
        archive,
        store,
      });
      expect(migration.studies.map((study) => study.studyInstanceUid).sort()).toEqual(listable);
      expect(migration.summary.failed).toBe(0);
      expect(migration.outcome).toBe('partial');
      expect(migration.notes.some((note) => /studies without Study Date .* are not listed/.test(note))).toBe(true);

      // The archive now contains every listed study, which sync used to report as the same studies on both ends.
      const sync = await runSync({ a: source, b: destination, selection: { all: true }, direction: 'a-to-b', options, local: localIdentity(movePort, LOADER_AE), archive, store });
      expect(sync.transfers[0].studyInstanceUids).toEqual([]);
      expect(sync.undatedNotListed).toBe(true);
      expect(sync.outcome).toBe('partial');
      expect(sync.notes.some((note) => /LimitFindResults/.test(note))).toBe(true);
    } finally {
      store.close();
      archive.close();
    }
  }, 180_000);

  describeBuilt('loader find', () => {
    test('split without date exits partial', async () => {
      const dirs = createLoaderDirs('split-undated-cli');
      const added = await runLoader(['nodes', 'add', 'limited', '--aet', orthanc.aeTitle, '--host', orthanc.host, '--port', String(orthanc.port), '--quirks', 'no-wildcard-in-dates'], { dirs });
      expect(added.code).toBe(0);
      await configure(dirs, 'pacs.aeTitle', LOADER_AE);
      const result = await runLoader(['find', 'limited'], { dirs });
      expect(result.code).toBe(3);
      expect(result.stderr).toMatch(/warning: studies without Study Date on limited \(ORTHANCSPLIT\) are not listed/);
      expect(result.stderr).toMatch(/^3 studies with a Study Date; studies without Study Date are not listed/m);
      expect(result.stdout).not.toContain(undated.uid);
    }, 120_000);
  });
});
