/**
 * A C-STORE that the loader rejects before it reads the data set must not end the
 * association. Here the SOP Instance UID is not a valid UID. The data set fragments
 * that follow the command are dropped, a failure response goes back, and the other
 * C-STOREs go on (PS3.7 section 9.3.1 and annex E, PS3.8 section 9.3.5.1).
 * Checked for C-GET and C-MOVE sub-operations from Orthanc, for `loader get`, and
 * for `loader serve` receiving from storescu.
 */
import * as fs from 'fs';
import * as path from 'path';

import { LocalArchive } from '../../src/services/archive';
import { setLogSink } from '../../src/services/logger';
import { retrieveStudies } from '../../src/services/query-retrieve';
import {
  LOOPBACK,
  corpusSamples,
  createLoaderDirs,
  freePort,
  loaderIsBuilt,
  makeTempDir,
  runDcmtk,
  runLoader,
  startLoader,
  startOrthanc,
  storeFiles,
} from '../support/peers';
import type { LoaderServer, OrthancHandle } from '../support/peers';
import { LOADER_AE, localIdentity, nodeFor } from './helpers';

let previousSink: (line: string) => void;
beforeAll(() => {
  previousSink = setLogSink(() => undefined);
});
afterAll(() => {
  setLogSink(previousSink);
});

/** A SOP Instance UID that would leave the archive folder if it were used as a path. */
const INVALID_SOP_INSTANCE_UID = '../../evil3';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

const brain = corpusSamples((file) => file.kind === 'mr-volume').slice(0, 8);

interface TestStudy {
  studyUid: string;
  /** SOP Instance UIDs of the valid instances. */
  validUids: string[];
  /** The files in upload order. */
  files: string[];
}

/**
 * Copies the eight brain instances into a study of their own, with new UIDs, and gives one of
 * them INVALID_SOP_INSTANCE_UID. Orthanc 1.10 sends the sub-operations in the reverse order of
 * upload, so an invalid instance uploaded first is sent last, and one uploaded last is sent first.
 */
async function makeStudy(studyUid: string, invalidAt: 'first' | 'last'): Promise<TestStudy> {
  const dir = makeTempDir('rejected-sub-operation');
  const files: string[] = [];
  const validUids: string[] = [];
  const invalidIndex = invalidAt === 'first' ? 0 : brain.length - 1;
  for (const [index, file] of brain.entries()) {
    const copy = path.join(dir, `instance-${index}.dcm`);
    fs.copyFileSync(file.absolutePath, copy);
    const sopInstanceUid = index === invalidIndex ? INVALID_SOP_INSTANCE_UID : `${studyUid}.1.${index + 1}`;
    if (index !== invalidIndex) validUids.push(sopInstanceUid);
    // dcmodify copies a new SOP Instance UID into Media Storage SOP Instance UID (0002,0003) itself.
    const modified = await runDcmtk('dcmodify', [
      '-nb',
      '-m', `(0020,000D)=${studyUid}`,
      '-m', `(0020,000E)=${studyUid}.1`,
      '-m', `(0008,0018)=${sopInstanceUid}`,
      copy,
    ]);
    expect(modified.code).toBe(0);
    files.push(copy);
  }
  return { studyUid, validUids: validUids.sort(), files };
}

function openArchive(): LocalArchive {
  return LocalArchive.open(path.join(makeTempDir('rejected-sub-operation-archive'), 'archive'));
}

describe('sub-operation with an invalid SOP Instance UID', () => {
  let orthanc: OrthancHandle;
  let movePort: number;
  const studies: Record<'sent first' | 'sent last', TestStudy> = {} as Record<'sent first' | 'sent last', TestStudy>;

  beforeAll(async () => {
    movePort = await freePort();
    const modality = { AET: LOADER_AE, Host: LOOPBACK, Port: movePort, AllowEcho: true, AllowFind: true, AllowMove: true, AllowGet: true, AllowStore: true };
    orthanc = await startOrthanc({ aeTitle: 'ORTHANCBADUID', extraConfig: { DicomModalities: { loader: modality } } });
    studies['sent first'] = await makeStudy('2.25.929201', 'last');
    studies['sent last'] = await makeStudy('2.25.929202', 'first');
    for (const study of Object.values(studies)) {
      for (const file of study.files) await orthanc.uploadFile(file);
    }
  });

  afterAll(async () => {
    await orthanc.stop();
  });

  test.each([
    ['get', 'sent first'],
    ['get', 'sent last'],
    ['move', 'sent last'],
  ] as const)('%s stores the others when it is %s', async (method, position) => {
    const { studyUid, validUids } = studies[position];
    const archive = openArchive();
    try {
      const report = await retrieveStudies(nodeFor(orthanc), localIdentity(movePort), archive, [studyUid], { method, fallback: false });
      const study = report.studies[0];
      const stored = archive.listInstances({ studyInstanceUid: studyUid }).map((instance) => instance.sopInstanceUid).sort();
      const failure = study.failures.find((entry) => entry.sopInstanceUid === INVALID_SOP_INSTANCE_UID);

      expect(stored).toEqual(validUids);
      expect(study.completed).toBe(validUids.length);
      expect(study.total).toBe(brain.length);
      expect(failure?.reason).toMatch(/Invalid UID in Affected SOP Instance UID/);
      expect(study.notes.join('\n')).not.toMatch(/running and reachable|aborted/);
      expect(study.outcome).toBe('partial');
    } finally {
      archive.close();
    }
  });

  // Orthanc 1.10.1 ends a C-MOVE at its first failed C-STORE sub-operation with status C000
  // ("MoveScp.cpp: IMoveRequestHandler Failed" in its log), so nothing follows the rejected instance.
  test('move sent first ends at Orthanc', async () => {
    const { studyUid } = studies['sent first'];
    const archive = openArchive();
    try {
      const report = await retrieveStudies(nodeFor(orthanc), localIdentity(movePort), archive, [studyUid], { method: 'move', fallback: false });
      const study = report.studies[0];
      const failure = study.failures.find((entry) => entry.sopInstanceUid === INVALID_SOP_INSTANCE_UID);

      expect(study.status).toBe(0xc000);
      expect(failure?.reason).toMatch(/Invalid UID in Affected SOP Instance UID/);
      expect(study.notes.join('\n')).not.toMatch(/running and reachable|aborted/);
      expect(study.outcome).toBe('failure');
    } finally {
      archive.close();
    }
  });
});

describeBuilt('loader get with an invalid instance', () => {
  let orthanc: OrthancHandle;
  let study: TestStudy;

  beforeAll(async () => {
    study = await makeStudy('2.25.929203', 'last');
    orthanc = await startOrthanc({ aeTitle: 'ORTHANCBADCLI', modalities: { loader: { aet: 'LOADERCLI', host: LOOPBACK, port: await freePort() } } });
    for (const file of study.files) await orthanc.uploadFile(file);
  });

  afterAll(async () => {
    await orthanc.stop();
  });

  test('exits 3 and names the instance', async () => {
    const dirs = createLoaderDirs('rejected-sub-operation-cli');
    const peerArgs = ['--host', orthanc.host, '--port', String(orthanc.port), '-aec', orthanc.aeTitle, '-aet', 'LOADERCLI'];

    const result = await runLoader(['get', ...peerArgs, '--study-uid', study.studyUid, '--method', 'get', '--no-fallback'], { dirs });

    expect(result.code).toBe(3);
    expect(result.stdout + result.stderr).toContain(INVALID_SOP_INSTANCE_UID);
    expect(result.stderr).not.toMatch(/running and reachable/);
  });
});

describeBuilt('loader serve with an invalid instance', () => {
  let loader: LoaderServer;

  beforeAll(async () => {
    loader = await startLoader([], { aeTitle: 'LOADERBADUID' });
  });

  afterAll(async () => {
    await loader.stop();
  });

  test('stores the files after it', async () => {
    const study = await makeStudy('2.25.929204', 'first');

    // storescu sends the files on one association, in this order, so the invalid one goes first.
    await storeFiles(loader, study.files);
    const archive = LocalArchive.open(loader.dirs.archiveDir);
    let stored: string[];
    try {
      stored = archive.listInstances({ studyInstanceUid: study.studyUid }).map((instance) => instance.sopInstanceUid).sort();
    } finally {
      archive.close();
    }

    expect(stored).toEqual(study.validUids);
    expect(loader.readLog()).toMatch(/C-STORE-RQ failed.*\.\.\/\.\.\/evil3/);
    expect(loader.readLog()).not.toMatch(/Aborting association/);
  });
});
