/**
 * C-MOVE deliveries that reached the window's PACS server instead of the
 * retrieve's port. Each instance that the server kept aside is listed as a
 * failure, with its cause: a different data set or another Patient ID.
 */
import { LocalArchive } from '../../src/services/archive';
import type { StudyRetrieveReport } from '../../src/services/query-retrieve';
import { addServerDeliveries, ServerDeliveries } from '../../src/ui/controllers/server-deliveries';
import { makeTempDir } from '../support/process';

const STUDY_UID = '1.2.826.0.1.3680043.8.498.100';
const OTHER_PATIENT_UID = '1.2.826.0.1.3680043.8.498.101';
const OTHER_CONTENT_UID = '1.2.826.0.1.3680043.8.498.102';

function movedStudy(): StudyRetrieveReport {
  return {
    studyInstanceUid: STUDY_UID,
    method: 'move',
    total: 2,
    completed: 0,
    warnings: [],
    failures: [],
    notes: [],
    stored: 0,
    duplicates: 0,
    conflicts: 0,
    outcome: 'failure',
  };
}

describe('server deliveries', () => {
  test('conflict reasons name their cause', async () => {
    const archive = LocalArchive.open(makeTempDir('server-deliveries'));
    try {
      const watch = new ServerDeliveries().watch([STUDY_UID], () => undefined);
      watch.received({ studyInstanceUid: STUDY_UID, sopInstanceUid: OTHER_PATIENT_UID, outcome: 'conflict', otherPatient: true });
      watch.received({ studyInstanceUid: STUDY_UID, sopInstanceUid: OTHER_CONTENT_UID, outcome: 'conflict', otherPatient: false });

      const report = await addServerDeliveries({ studies: [movedStudy()], notes: [], outcome: 'failure' }, watch, {
        serverArchive: archive,
        target: archive,
        nodeName: 'pacs',
        aeTitle: 'LOADER',
        serverPort: 11112,
        moveScuPort: 11113,
      });

      const reasons = new Map(report.studies[0].failures.map((failure) => [failure.sopInstanceUid, failure.reason]));
      expect(reasons.get(OTHER_PATIENT_UID)).toContain('stores this study, series or instance under another Patient ID');
      expect(reasons.get(OTHER_CONTENT_UID)).toContain('has other content for this SOP Instance UID');
      expect(report.studies[0].completed).toBe(0);
      expect(watch.deliveredCount(STUDY_UID)).toBe(0);
    } finally {
      archive.close();
    }
  });
});
