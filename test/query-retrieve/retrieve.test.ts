/**
 * Retrieve into a temporary archive by C-GET and C-MOVE from Orthanc and
 * dcmqrscp, and fallback between them when the node rejects one.
 */
import * as path from 'path';

import { LocalArchive } from '../../src/services/archive';
import { setLogSink } from '../../src/services/logger';
import { retrieveStudies } from '../../src/services/query-retrieve';
import { LOOPBACK, corpusFile, corpusSamples, freePort, makeTempDir, startDcmqrscp, startOrthanc, storeFiles } from '../support/peers';
import type { DcmqrscpHandle, OrthancHandle } from '../support/peers';
import { LOADER_AE, localIdentity, nodeFor } from './helpers';

let previousSink: (line: string) => void;
beforeAll(() => {
  previousSink = setLogSink(() => undefined);
});
afterAll(() => {
  setLogSink(previousSink);
});

function openArchive(): LocalArchive {
  return LocalArchive.open(path.join(makeTempDir('qr-archive'), 'archive'));
}

/** Returns the distinct source AE titles that the index records for a study. */
function sourceAeTitles(archive: LocalArchive, studyInstanceUid: string): string[] {
  const rows = archive.catalog.db
    .prepare('SELECT DISTINCT i.source_ae_title AS aeTitle FROM instances i JOIN series s ON s.id = i.series_ref JOIN studies t ON t.id = s.study_ref WHERE t.study_instance_uid = ?')
    .all(studyInstanceUid) as { aeTitle: string }[];
  return rows.map((row) => row.aeTitle);
}

function orthancModality(port: number, allowGet: boolean): Record<string, unknown> {
  return { AET: LOADER_AE, Host: LOOPBACK, Port: port, AllowEcho: true, AllowFind: true, AllowMove: true, AllowGet: allowGet, AllowStore: true };
}

describe('retrieve from Orthanc', () => {
  let orthanc: OrthancHandle;
  let noGetOrthanc: OrthancHandle;
  let movePort: number;
  const brain = corpusSamples((file) => file.kind === 'mr-volume');
  const legacy = corpusFile('legacy-date');

  beforeAll(async () => {
    movePort = await freePort();
    orthanc = await startOrthanc({ aeTitle: 'ORTHANCQR', extraConfig: { DicomModalities: { loader: orthancModality(movePort, true) } } });
    noGetOrthanc = await startOrthanc({ aeTitle: 'ORTHANCNOGET', extraConfig: { DicomModalities: { loader: orthancModality(movePort, false) } } });
    for (const file of [legacy, ...brain]) {
      await orthanc.uploadFile(file.absolutePath);
      await noGetOrthanc.uploadFile(file.absolutePath);
    }
  });

  afterAll(async () => {
    await orthanc.stop();
    await noGetOrthanc.stop();
  });

  test('C-GET stores every instance', async () => {
    const archive = openArchive();
    try {
      const report = await retrieveStudies(nodeFor(orthanc), localIdentity(movePort), archive, [brain[0].studyInstanceUid!, legacy.studyInstanceUid!]);
      expect(report.outcome).toBe('success');
      expect(report.studies.map((study) => study.method)).toEqual(['get', 'get']);
      expect(report.studies[0].total).toBe(brain.length);
      expect(report.studies[0].expectedFrom).toBe('image-query');
      expect(report.studies[0].stored).toBe(brain.length);
      expect(archive.listInstances({ studyInstanceUid: brain[0].studyInstanceUid! })).toHaveLength(brain.length);
      const stored = archive.listInstances({ studyInstanceUid: legacy.studyInstanceUid! });
      expect(stored).toHaveLength(1);
      // The JPEG Lossless instance arrives in its own transfer syntax, because its SOP class was proposed with the common compressed syntaxes.
      expect(stored[0].transferSyntaxUid).toBe(legacy.transferSyntaxUid);
      expect(sourceAeTitles(archive, brain[0].studyInstanceUid!)).toEqual([orthanc.aeTitle]);
    } finally {
      archive.close();
    }
  });

  test('C-MOVE stores every instance', async () => {
    const archive = openArchive();
    try {
      const report = await retrieveStudies(nodeFor(orthanc), localIdentity(movePort), archive, [brain[0].studyInstanceUid!], { method: 'move' });
      expect(report.outcome).toBe('success');
      expect(report.studies[0].method).toBe('move');
      expect(report.studies[0].stored).toBe(brain.length);
      expect(archive.listInstances({ studyInstanceUid: brain[0].studyInstanceUid! })).toHaveLength(brain.length);
      expect(sourceAeTitles(archive, brain[0].studyInstanceUid!)).toEqual([orthanc.aeTitle]);
    } finally {
      archive.close();
    }
  });

  test('rejected C-GET falls back to C-MOVE', async () => {
    const archive = openArchive();
    const notices: string[] = [];
    try {
      const report = await retrieveStudies(nodeFor(noGetOrthanc), localIdentity(movePort), archive, [brain[0].studyInstanceUid!], { onNotice: (message) => notices.push(message) });
      expect(report.outcome).toBe('success');
      expect(report.studies[0].method).toBe('move');
      expect(report.studies[0].notes.join('\n')).toMatch(/C-GET not used: ORTHANCNOGET aborted the association during C-GET before any instance arrived .*; the node may not allow C-GET for LOADERQR/);
      expect(notices.join('\n')).toMatch(/retrying with C-MOVE/);
      expect(archive.listInstances({ studyInstanceUid: brain[0].studyInstanceUid! })).toHaveLength(brain.length);
    } finally {
      archive.close();
    }
  });
});

describe('retrieve from dcmqrscp', () => {
  let dcmqrscp: DcmqrscpHandle;
  const mr = corpusFile('mr');
  const koi8 = corpusFile('charset-iso-ir-144');

  beforeAll(async () => {
    // No host table: dcmqrscp does not know our AE title as a C-MOVE destination.
    dcmqrscp = await startDcmqrscp({ aeTitle: 'DCMQRSCP' });
    const stored = await storeFiles(dcmqrscp, [mr.absolutePath, koi8.absolutePath]);
    expect(stored.code).toBe(0);
  });

  afterAll(async () => {
    await dcmqrscp.stop();
  });

  test('unknown move destination falls back to C-GET', async () => {
    const archive = openArchive();
    try {
      const node = nodeFor(dcmqrscp, { characterSet: ['ISO_IR 144'] });
      const report = await retrieveStudies(node, localIdentity(await freePort()), archive, [mr.studyInstanceUid!, koi8.studyInstanceUid!], { method: 'move' });
      expect(report.outcome).toBe('success');
      expect(report.studies.map((study) => study.method)).toEqual(['get', 'get']);
      expect(report.studies[0].notes.join('\n')).toMatch(/C-MOVE not used: C-MOVE on .* failed with status 0xA801 \(refused: move destination unknown\).* does not know LOADERQR as a move destination/);
      expect(archive.listInstances({ studyInstanceUid: mr.studyInstanceUid! })).toHaveLength(1);
      expect(archive.listInstances({ studyInstanceUid: koi8.studyInstanceUid! })).toHaveLength(1);
    } finally {
      archive.close();
    }
  });
});

describe('retrieve from dcmqrscp with a wrong move destination port', () => {
  let dcmqrscp: DcmqrscpHandle;
  const mr = corpusFile('mr');

  beforeAll(async () => {
    // dcmqrscp's host table lists our AE title, but nothing listens on the port it has for it.
    const closedPort = await freePort();
    dcmqrscp = await startDcmqrscp({ aeTitle: 'QRSCPBADPORT', hostTable: [{ aeTitle: LOADER_AE, host: LOOPBACK, port: closedPort }] });
    expect((await storeFiles(dcmqrscp, [mr.absolutePath])).code).toBe(0);
  });

  afterAll(async () => {
    await dcmqrscp.stop();
  });

  test('A702 names the move destination', async () => {
    const archive = openArchive();
    try {
      const movePort = await freePort();
      const report = await retrieveStudies(nodeFor(dcmqrscp), localIdentity(movePort), archive, [mr.studyInstanceUid!], { method: 'move', fallback: false });

      expect(report.outcome).toBe('failure');
      const notes = report.studies[0].notes.join('\n');
      expect(notes).toContain('C-MOVE on QRSCPBADPORT (QRSCPBADPORT) failed with status 0xA702');
      expect(notes).toContain('likely cause: the node cannot connect to the move destination, or it is busy, or the request is too broad');
      expect(notes).toContain(`check the host and port that the node has for ${LOADER_AE}: they must be this computer's address and port ${movePort}`);
      expect(report.studies[0].missedDelivery).toBeUndefined();
    } finally {
      archive.close();
    }
  });
});
