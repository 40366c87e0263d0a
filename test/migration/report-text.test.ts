/**
 * The text report of `loader migrate`: the METHOD column and a dry run's
 * STATE use the words of the JSON `method` field, and every line under the
 * table gives a reason or a planned action.
 */
import { describeUnfinishedStudy, formatMigrationReport } from '../../src/cli/commands/migrate';
import type { MigrationReport, StudyReport } from '../../src/services/migration';

const NOW = '2024-05-01T10:00:00.000Z';

function study(uid: string, changes: Partial<StudyReport>): StudyReport {
  return { studyInstanceUid: uid, state: 'pending', attempts: 0, createdAt: NOW, updatedAt: NOW, processedThisRun: true, ...changes };
}

function report(studies: StudyReport[], changes: Partial<MigrationReport>): MigrationReport {
  return {
    jobId: 'job-1',
    source: 'orth',
    destination: 'qr',
    dryRun: false,
    studies,
    summary: { migrated: 0, alreadyPresent: 0, failed: 0, pending: 0 },
    outcome: 'success',
    heldBack: [],
    pseudonymizedPatients: 0,
    notes: [],
    ...changes,
  };
}

/** Returns the cells of the table row that starts with the Study Instance UID. */
function rowOf(lines: string[], uid: string): string[] {
  const row = lines.join('\n').split('\n').find((line) => line.startsWith(uid));
  if (row === undefined) throw new Error(`no row for ${uid} in:\n${lines.join('\n')}`);
  return row.trim().split(/\s{2,}/);
}

describe('migrate text report', () => {
  test('dry run states planned methods', () => {
    const studies = [
      study('1.2.3.1', { plannedMethod: 'move', sourceCount: 4, destinationCount: 0 }),
      study('1.2.3.2', { plannedMethod: 'relay', sourceCount: 2, destinationCount: 1 }),
      study('1.2.3.3', { state: 'already-present', sourceCount: 3, destinationCount: 3 }),
      study('1.2.3.4', { state: 'failed', lastError: 'study not found on orth' }),
    ];
    const lines = formatMigrationReport(report(studies, { dryRun: true, outcome: 'partial', summary: { migrated: 0, alreadyPresent: 1, failed: 1, pending: 2 } }));
    const text = lines.join('\n');

    expect(lines[0]).toBe('dry run of job job-1: orth to qr');
    expect(rowOf(lines, '1.2.3.1')[1]).toBe('would move');
    expect(rowOf(lines, '1.2.3.2')[1]).toBe('would relay');
    expect(rowOf(lines, '1.2.3.3')[1]).toBe('already present');
    expect(text).not.toContain('no reason recorded');
    expect(text).not.toContain('pending:');
    expect(text).not.toContain('C-MOVE');
    expect(text).toContain('  failed: 1.2.3.4: study not found on orth');
    expect(lines.at(-1)).toBe('partial: 0 migrated, 1 already present, 1 failed, 2 to transfer');
  });

  test('method column matches JSON words', () => {
    const studies = [
      study('1.2.3.1', { state: 'done', method: 'move', attempts: 1 }),
      study('1.2.3.2', { state: 'done', method: 'relay', attempts: 1 }),
      study('1.2.3.3', { state: 'done', method: 'send', attempts: 1 }),
      study('1.2.3.4', { state: 'done', method: 'retrieve', attempts: 1 }),
    ];

    const lines = formatMigrationReport(report(studies, { summary: { migrated: 4, alreadyPresent: 0, failed: 0, pending: 0 } }));

    for (const entry of studies) expect(rowOf(lines, entry.studyInstanceUid)[2]).toBe(entry.method);
    expect(lines.join('\n')).not.toContain('C-MOVE');
  });

  test('failed study shows method or dash', () => {
    const studies = [
      study('1.2.3.1', { state: 'failed', method: 'move', attempts: 1, sourceCount: 4, destinationCount: 0, lastError: 'C-MOVE to DCMQRC failed with status 0xA801' }),
      study('1.2.3.2', { state: 'failed', attempts: 2, lastError: 'study not found on orth' }),
      study('1.2.3.3', { state: 'done', method: 'relay', attempts: 1, sourceCount: 2, destinationCount: 2 }),
    ];

    const lines = formatMigrationReport(report(studies, { outcome: 'partial', summary: { migrated: 1, alreadyPresent: 0, failed: 2, pending: 0 } }));

    expect(rowOf(lines, '1.2.3.1')).toEqual(['1.2.3.1', 'failed', 'move', '4', '0', '1']);
    expect(rowOf(lines, '1.2.3.2')).toEqual(['1.2.3.2', 'failed', '-', '-', '-', '2']);
    expect(rowOf(lines, '1.2.3.3')).toEqual(['1.2.3.3', 'migrated', 'relay', '2', '2', '1']);
    expect(lines).toContain('  failed: 1.2.3.1: C-MOVE to DCMQRC failed with status 0xA801');
    expect(lines).toContain('  failed: 1.2.3.2: study not found on orth');
  });

  test('already present spelled as in summary', () => {
    const studies = [study('1.2.3.1', { state: 'already-present', attempts: 1, sourceCount: 3, destinationCount: 3 })];

    const lines = formatMigrationReport(report(studies, { summary: { migrated: 0, alreadyPresent: 1, failed: 0, pending: 0 } }));

    expect(rowOf(lines, '1.2.3.1')[1]).toBe('already present');
    expect(lines.at(-1)).toBe('success: 0 migrated, 1 already present, 0 failed');
    expect(lines.join('\n')).not.toContain('already-present');
  });

  test('verification line names SOP Instance UIDs', () => {
    const studies = [study('1.2.3.1', { state: 'done', method: 'move', attempts: 1, sourceCount: 2, destinationCount: 2 })];

    const lines = formatMigrationReport(report(studies, { summary: { migrated: 1, alreadyPresent: 0, failed: 0, pending: 0 } }));

    expect(lines.at(-2)).toBe(
      'verified: that the destination lists every SOP Instance UID of the source study. ' +
        'The content of instances was not compared, so an instance with the same SOP Instance UID and other content counts as present',
    );
    expect(lines.at(-1)).toBe('success: 1 migrated, 0 already present, 0 failed');
  });

  test('verification line for earlier studies', () => {
    const studies = [study('1.2.3.1', { state: 'done', method: 'move', attempts: 1, processedThisRun: false })];

    const lines = formatMigrationReport(report(studies, { summary: { migrated: 1, alreadyPresent: 0, failed: 0, pending: 0 } }));

    expect(lines.at(-2)).toContain('and for studies finished by an earlier run, that it has at least as many instances as the source.');
    expect(lines.at(-2)).toContain('The content of instances was not compared');
  });

  test('dry run verification line', () => {
    const studies = [study('1.2.3.1', { plannedMethod: 'move', sourceCount: 4, destinationCount: 0 })];

    const lines = formatMigrationReport(report(studies, { dryRun: true, summary: { migrated: 0, alreadyPresent: 0, failed: 0, pending: 1 } }));

    expect(lines.at(-2)).toMatch(/^compared: the SOP Instance UIDs on both ends\. The content of instances was not compared/);
  });

  test('empty job has no verification line', () => {
    const lines = formatMigrationReport(report([], {}));

    expect(lines.join('\n')).not.toContain('verified');
  });

  test('no verification line when all failed', () => {
    const studies = [study('1.2.3.1', { state: 'failed', attempts: 4, sourceCount: 2, lastError: 'association with qr failed: connection refused' })];

    const lines = formatMigrationReport(report(studies, { outcome: 'failure', summary: { migrated: 0, alreadyPresent: 0, failed: 1, pending: 0 } }));

    expect(lines.join('\n')).not.toContain('verified:');
  });

  test('no comparison line when dry run failed', () => {
    const studies = [study('1.2.3.1', { state: 'failed', lastError: 'association with qr failed: connection refused' })];

    const lines = formatMigrationReport(report(studies, { dryRun: true, outcome: 'failure', summary: { migrated: 0, alreadyPresent: 0, failed: 1, pending: 0 } }));

    expect(lines.join('\n')).not.toContain('compared:');
  });

  test('pending study without error explained', () => {
    expect(describeUnfinishedStudy(study('1.2.3.5', {}), false)).toBe('pending: 1.2.3.5: not attempted yet; run the same command again to continue');
    expect(describeUnfinishedStudy(study('1.2.3.6', { lastError: 'timed out' }), false)).toBe('pending: 1.2.3.6: timed out');
    expect(describeUnfinishedStudy(study('1.2.3.7', { plannedMethod: 'send' }), true)).toBeUndefined();
    expect(describeUnfinishedStudy(study('1.2.3.8', { state: 'done', method: 'move' }), false)).toBeUndefined();
  });
});
