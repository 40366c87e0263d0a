/**
 * Retries of a study whose transfer succeeded but whose destination then
 * lacked instances. The destination is an Orthanc whose Lua
 * ReceivedInstanceFilter drops instances: Orthanc 1.10 still responds to
 * their C-STORE with success status, as the "gives up" test shows.
 */
import * as fs from 'fs';
import * as path from 'path';

import { LocalArchive } from '../../src/services/archive';
import { setLogSink } from '../../src/services/logger';
import { JobStore, runMigration } from '../../src/services/migration';
import { corpusPath, makeTempDir, startOrthanc } from '../support/peers';
import type { OrthancHandle } from '../support/peers';
import { localIdentity, nodeFor } from '../query-retrieve/helpers';
import { LOADER_AE, orthancModality } from './helpers';

/** Drops the first copy of each SOP Instance UID that arrives, so only a second transfer stays. */
const DROP_FIRST_COPY = `
seen = {}
function ReceivedInstanceFilter(dicom, origin, info)
  local uid = dicom['SOPInstanceUID']
  if seen[uid] then
    return true
  end
  seen[uid] = true
  return false
end
`;

/** Drops every instance that arrives. */
const DROP_EVERY_COPY = `
function ReceivedInstanceFilter(dicom, origin, info)
  return false
end
`;

const FAST_BACKOFF = { baseDelayMs: 100, maxDelayMs: 200 };

let previousSink: (line: string) => void;
let dir: string;
let archive: LocalArchive;
let store: JobStore;
let studyInstanceUid: string;
let orthanc: OrthancHandle | undefined;

beforeAll(() => {
  previousSink = setLogSink(() => undefined);
});

afterAll(() => {
  setLogSink(previousSink);
});

beforeEach(async () => {
  dir = makeTempDir('migrate-verify-retry');
  archive = LocalArchive.open(path.join(dir, 'archive'));
  store = JobStore.open(path.join(dir, 'jobs.sqlite'));
  const file = corpusPath('samples/mr/mr-small-explicit-le.dcm');
  expect((await archive.importFile(file.absolutePath, { copy: true })).outcome).toBe('stored');
  studyInstanceUid = file.studyInstanceUid!;
});

afterEach(async () => {
  store.close();
  archive.close();
  await orthanc?.stop();
  orthanc = undefined;
});

async function startDroppingOrthanc(script: string): Promise<OrthancHandle> {
  const scriptFile = path.join(dir, 'drop.lua');
  fs.writeFileSync(scriptFile, script);
  return startOrthanc({
    aeTitle: 'ORTHANCDEL',
    // The loader only stores and queries; Orthanc never connects to this port.
    modalities: { loader: orthancModality(LOADER_AE, 11112) },
    extraConfig: { LuaScripts: [scriptFile] },
  });
}

async function migrateTo(destination: OrthancHandle, retries: number) {
  const report = await runMigration({
    jobId: `verify-retry-${retries}`,
    source: { kind: 'local', name: 'local', archive },
    destination: { kind: 'node', name: 'orthanc', node: nodeFor(destination) },
    selection: { studyInstanceUids: [studyInstanceUid] },
    options: { method: 'auto', concurrency: 1, retries },
    local: localIdentity(0, LOADER_AE),
    archive,
    store,
    backoff: FAST_BACKOFF,
  });
  return report.studies[0];
}

describe('migration verification', () => {
  test('lost instances are sent again', async () => {
    orthanc = await startDroppingOrthanc(DROP_FIRST_COPY);

    const study = await migrateTo(orthanc, 2);

    expect(study.state).toBe('done');
    expect(study.method).toBe('send');
    expect(study.attempts).toBe(2);
    expect(study.lastError ?? undefined).toBeUndefined();
    expect(await orthanc.listStudies()).toHaveLength(1);
  });

  test('gives up after the retries', async () => {
    orthanc = await startDroppingOrthanc(DROP_EVERY_COPY);

    const study = await migrateTo(orthanc, 1);

    expect(study.state).toBe('failed');
    expect(study.attempts).toBe(2);
    expect(study.lastError).toBe(
      'verification failed: ORTHANCDEL (ORTHANCDEL) has 0 instances and lacks 1 of the 1 expected from the local archive (gave up after 2 attempts)',
    );
  });
});
