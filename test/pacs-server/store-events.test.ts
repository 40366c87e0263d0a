/**
 * The PACS server's onInstanceReceived events for instances that storescu
 * sends: a new instance, the same instance again, and another file under the
 * same SOP Instance UID, each with its outcome.
 */
import * as fs from 'fs';
import * as path from 'path';

import { LocalArchive } from '../../src/services/archive';
import { PacsServer } from '../../src/services/pacs-server/pacs-server';
import type { ReceivedInstance } from '../../src/services/pacs-server/store-service';
import { defaultSettings } from '../../src/services/settings/settings-types';
import { captureLogLines } from '../support/log-capture';
import { corpusFile, LOOPBACK, makeTempDir, runDcmtk, storeFiles } from '../support/peers';

captureLogLines();

const AE_TITLE = 'LOADEREVENTS';

describe('server events for received instances', () => {
  const ct = corpusFile('ct');
  const root = makeTempDir('store-events');
  const archive = LocalArchive.open(path.join(root, 'archive'));
  const events: ReceivedInstance[] = [];
  const server = new PacsServer({
    settings: { ...defaultSettings().pacs, aeTitle: AE_TITLE, host: LOOPBACK, port: 0, acceptAnyCallingAeTitle: true },
    archive,
    listNodes: () => [],
    onInstanceReceived: (instance) => events.push(instance),
  });
  let port: number;

  const store = async (file: string) => {
    const result = await storeFiles({ aeTitle: AE_TITLE, host: LOOPBACK, port }, [file], { callingAeTitle: 'EVENTSCU' });
    expect(result.code).toBe(0);
  };

  beforeAll(async () => {
    ({ port } = await server.start());
  });

  afterAll(async () => {
    await server.stop();
    archive.close();
  });

  test('new instance is stored', async () => {
    await store(ct.absolutePath);

    expect(events).toHaveLength(1);
    expect(events[0]).toEqual({
      studyInstanceUid: ct.studyInstanceUid,
      seriesInstanceUid: ct.seriesInstanceUid,
      sopInstanceUid: ct.sopInstanceUid,
      callingAeTitle: 'EVENTSCU',
      outcome: 'stored',
      otherPatient: false,
      path: archive.getInstancePath(ct.sopInstanceUid!),
    });
  });

  test('same instance again is a duplicate', async () => {
    events.length = 0;
    await store(ct.absolutePath);

    expect(events).toHaveLength(1);
    expect(events[0].sopInstanceUid).toBe(ct.sopInstanceUid);
    expect(events[0].outcome).toBe('duplicate');
    expect(events[0].path).toBe(archive.getInstancePath(ct.sopInstanceUid!));
  });

  test('other content is a conflict', async () => {
    const copy = path.join(makeTempDir('store-events-copy'), 'ct.dcm');
    fs.copyFileSync(ct.absolutePath, copy);
    expect((await runDcmtk('dcmodify', ['-nb', '-i', 'SeriesDescription=changed copy', copy])).code).toBe(0);
    events.length = 0;
    await store(copy);

    expect(events).toHaveLength(1);
    expect(events[0].sopInstanceUid).toBe(ct.sopInstanceUid);
    expect(events[0].outcome).toBe('conflict');
    expect(events[0].otherPatient).toBe(false);
    expect(events[0].path).toContain(`${path.sep}.conflicts${path.sep}`);
    expect(fs.existsSync(events[0].path)).toBe(true);
    // The archive keeps listing its first copy.
    expect(archive.getInstancePath(ct.sopInstanceUid!)).not.toBe(events[0].path);
  });
});
