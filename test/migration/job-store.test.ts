/** The migration job store, job ids, failure classification and back-off. */
import * as path from 'path';

import Database from 'better-sqlite3';

import { AssociationRejectedError, DimseStatusError } from '../../src/dicom/network';
import { backoffDelay, canonicalSelection, deriveJobId, isTransientError, JobStore, JobStoreError, MigrationError, NodeLimiter, validateJobName } from '../../src/services/migration';
import { syncJobId } from '../../src/services/sync';
import { makeTempDir } from '../support/peers';

const OPTIONS = { method: 'auto' as const, concurrency: 2, retries: 3 };

describe('job store', () => {
  let store: JobStore;

  beforeEach(() => {
    store = JobStore.open(path.join(makeTempDir('jobs'), 'config', 'jobs.sqlite'));
  });

  afterEach(() => {
    store.close();
  });

  test('derived id ignores order and case', () => {
    const first = deriveJobId('PACS', 'local', { studyInstanceUids: ['1.2', '1.1'], modalities: ['ct'] });
    const second = deriveJobId('pacs', 'LOCAL', { modalities: ['CT'], studyInstanceUids: ['1.1', '1.2'] });
    expect(first).toBe(second);
    expect(first).toMatch(/^migration-[0-9a-f]{12}$/);
    expect(deriveJobId('pacs', 'local', { studyInstanceUids: ['1.1'] })).not.toBe(first);
  });

  test('all studies is a selection of its own', () => {
    const all = deriveJobId('pacs', 'local', { all: true });
    expect(all).toMatch(/^migration-[0-9a-f]{12}$/);
    expect(all).not.toBe(deriveJobId('pacs', 'local', {}));
    expect(all).not.toBe(deriveJobId('pacs', 'local', { patientName: '*' }));
    expect(all).not.toBe(deriveJobId('pacs', 'local', { date: '19000101-' }));
    expect(deriveJobId('PACS', 'LOCAL', { all: true })).toBe(all);
    expect(canonicalSelection({ all: true })).toEqual({ all: true });
    expect(syncJobId('a', 'b', { all: true }, 'a-to-b')).not.toBe(syncJobId('a', 'b', {}, 'a-to-b'));
  });

  test('all studies with a filter is rejected', () => {
    expect(() => deriveJobId('pacs', 'local', { all: true, date: '20240101' })).toThrow(JobStoreError);
    expect(() => syncJobId('a', 'b', { all: true, modalities: ['CT'] }, 'a-to-b')).toThrow(/cannot also have filters/);
    expect(() => store.openJob('job', 'a', 'b', { all: true, studyInstanceUids: ['1.1'] }, OPTIONS)).toThrow(JobStoreError);
  });

  test('job of all studies rejects other selection', () => {
    store.openJob('job', 'a', 'b', { all: true }, OPTIONS);
    expect(store.openJob('job', 'a', 'b', { all: true }, OPTIONS).selection).toEqual({ all: true });
    expect(() => store.openJob('job', 'a', 'b', {}, OPTIONS)).toThrow(/give another --job name/);
    expect(() => store.openJob('job', 'a', 'b', { patientName: '*' }, OPTIONS)).toThrow(/give another --job name/);
  });

  test('job name is validated', () => {
    expect(validateJobName('move-2026.12_a')).toBe('move-2026.12_a');
    expect(() => validateJobName('../etc')).toThrow(JobStoreError);
    expect(() => validateJobName('')).toThrow(/job name "" is invalid/);
  });

  test('reopening keeps study states', () => {
    store.openJob('job', 'a', 'b', { studyInstanceUids: ['1.1', '1.2'] }, OPTIONS);
    store.addStudies('job', ['1.1', '1.2']);
    store.startAttempt('job', '1.1');
    store.updateStudy('job', '1.1', { state: 'done', method: 'move', sourceCount: 3, destinationCount: 3 });
    store.startAttempt('job', '1.2');

    store.openJob('job', 'A', 'B', { studyInstanceUids: ['1.2', '1.1'] }, { ...OPTIONS, retries: 0 });
    store.addStudies('job', ['1.1', '1.2']);
    const studies = store.listStudies('job');
    expect(studies.map((study) => [study.studyInstanceUid, study.state, study.attempts])).toEqual([
      ['1.1', 'done', 1],
      ['1.2', 'running', 1],
    ]);
    expect(studies[0].finishedAt).toBeDefined();
    expect(studies[0].sourceCount).toBe(3);
    expect(store.getJob('job')!.options.retries).toBe(0);
  });

  test('reusing a name for another migration throws', () => {
    store.openJob('job', 'a', 'b', { studyInstanceUids: ['1.1'] }, OPTIONS);
    expect(() => store.openJob('job', 'a', 'c', { studyInstanceUids: ['1.1'] }, OPTIONS)).toThrow(/job "job" migrates a to b/);
    expect(() => store.openJob('job', 'a', 'b', { studyInstanceUids: ['1.3'] }, OPTIONS)).toThrow(JobStoreError);
  });

  test('secret origin recorded per job', () => {
    const secret = Buffer.alloc(32, 7);
    store.openJob('shared', 'local', 'pacs', { all: true }, OPTIONS, { settings: { pseudonymPrefix: 'ANON' }, secret, secretSource: 'installation' });
    store.openJob('plain', 'local', 'pacs', { all: true }, OPTIONS);

    expect(store.getJobSecretSource('shared')).toBe('installation');
    expect(store.getJobSecret('shared')).toEqual(secret);
    expect(store.getJobSecretSource('plain')).toBeUndefined();
    expect(store.getJobSecretSource('missing')).toBeUndefined();
  });

  test('version 2 database gains the origin column', () => {
    const file = path.join(makeTempDir('jobs-v2'), 'jobs.sqlite');
    const created = JobStore.open(file);
    created.openJob('old', 'local', 'pacs', { all: true }, OPTIONS, { settings: { pseudonymPrefix: 'ANON' }, secret: Buffer.alloc(32, 1) });
    created.close();
    // Turns the file back into the schema of a loader that did not record where a secret came from.
    const db = new Database(file);
    db.exec('ALTER TABLE jobs DROP COLUMN secret_source; PRAGMA user_version = 2;');
    db.close();

    const upgraded = JobStore.open(file);
    try {
      expect(upgraded.getJobSecret('old')).toEqual(Buffer.alloc(32, 1));
      expect(upgraded.getJobSecretSource('old')).toBeUndefined();
    } finally {
      upgraded.close();
    }
  });
});

describe('failure classification', () => {
  test.each([
    ['transient rejection', new AssociationRejectedError(2, 3, 1, 'PACS'), true],
    ['permanent rejection', new AssociationRejectedError(1, 1, 7, 'PACS'), false],
    ['out of resources', new DimseStatusError(0xa702, 'C-MOVE failed'), true],
    ['unable to process', new DimseStatusError(0xc000, 'C-MOVE failed'), false],
    ['refused connection', new Error('Failed to connect to PACS at 127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1'), true],
    ['connect timeout', new Error('Timed out after 3000 ms connecting to PACS'), true],
    ['permanent migration error', new MigrationError('verification failed', false), false],
  ])('%s', (_label, error, transient) => {
    expect(isTransientError(error)).toBe(transient);
  });

  test('back-off doubles up to the maximum', () => {
    const options = { baseDelayMs: 100, maxDelayMs: 500 };
    expect([1, 2, 3, 4, 5].map((retry) => backoffDelay(retry, options))).toEqual([100, 200, 400, 500, 500]);
  });
});

describe('node limiter', () => {
  test('holds at most the limit per node', async () => {
    const limiter = new NodeLimiter(2);
    let active = 0;
    let maxActive = 0;
    const task = () =>
      limiter.run(['pacs'], async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise((resolve) => setTimeout(resolve, 10));
        active--;
      });
    await Promise.all(Array.from({ length: 6 }, task));
    expect(maxActive).toBe(2);
  });
});
