/**
 * `loader move` while `loader serve` listens on the port that the node maps
 * the loader's AE title to, instead of pacs.moveScuPort where the retrieve's
 * own C-STORE SCP listens. The node sends the instances to the server, so
 * none reach the retrieve. With the server on the same archive the retrieve
 * finds them there. With another archive its note names where they probably went.
 */
import * as fs from 'fs';
import * as path from 'path';

import {
  corpusSamples,
  createLoaderDirs,
  freePort,
  loaderIsBuilt,
  LOOPBACK,
  runLoader,
  startDcmqrscp,
  startLoader,
  startOrthanc,
  storeFiles,
} from '../support/peers';
import type { LoaderDirs, LoaderServer, PeerHandle } from '../support/peers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

const AE_TITLE = 'LOADERMV';

interface MoveReport {
  outcome: string;
  studies: {
    studyInstanceUid: string;
    outcome: string;
    method: string;
    total: number;
    completed: number;
    stored: number;
    duplicates: number;
    missedDelivery?: { reported: number; foundInArchive: number };
    notes: string[];
  }[];
}

describeBuilt.each(['dcmqrscp', 'Orthanc'] as const)('move with the destination at loader serve (%s)', (peerKind) => {
  const first = corpusSamples((file) => file.kind === 'mr-volume')[0];
  const samples = corpusSamples((file) => file.kind === 'mr-volume' && file.studyInstanceUid === first?.studyInstanceUid).slice(0, 4);
  const studyUid = first?.studyInstanceUid ?? '';
  const dirs = createLoaderDirs(`move-to-serve-${peerKind}`);
  let peer: PeerHandle;
  let server: LoaderServer;
  let serverPort: number;
  let movePort: number;

  const move = (args: string[], moveDirs: LoaderDirs = dirs) =>
    runLoader(['move', '--host', LOOPBACK, '--port', String(peer.port), '-aec', peer.aeTitle, '--study-uid', studyUid, ...args], { dirs: moveDirs, timeoutMs: 60_000 });

  beforeAll(async () => {
    expect(samples.length).toBeGreaterThan(1);
    serverPort = await freePort();
    movePort = await freePort();
    // The node's move destination for AE_TITLE is the server's port, not pacs.moveScuPort.
    const destination = { aeTitle: AE_TITLE, host: LOOPBACK, port: serverPort };
    if (peerKind === 'Orthanc') {
      const orthanc = await startOrthanc({ aeTitle: 'ORTHANCMV', modalities: { loader: { aet: destination.aeTitle, host: destination.host, port: destination.port } } });
      for (const sample of samples) await orthanc.uploadFile(sample.absolutePath);
      peer = orthanc;
    } else {
      peer = await startDcmqrscp({ aeTitle: 'QRSCPMV', hostTable: [destination] });
      expect((await storeFiles(peer, samples.map((sample) => sample.absolutePath))).code).toBe(0);
    }
    for (const [key, value] of [
      ['pacs.aeTitle', AE_TITLE],
      ['pacs.port', String(serverPort)],
      ['pacs.moveScuPort', String(movePort)],
    ]) {
      expect((await runLoader(['config', 'set', key, value], { dirs })).code).toBe(0);
    }
    server = await startLoader([], { aeTitle: AE_TITLE, dirs, port: serverPort });
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    await peer?.stop();
  });

  test('instances found in the shared archive', async () => {
    const result = await move(['--json']);

    expect(result.code).toBe(0);
    const report = result.json<MoveReport>();
    expect(report.outcome).toBe('success');
    const [study] = report.studies;
    expect(study.method).toBe('move');
    expect(study.completed).toBe(samples.length);
    expect(study.stored).toBe(0);
    expect(study.missedDelivery).toEqual({ reported: samples.length, foundInArchive: samples.length });
    const note = study.notes.join('\n');
    expect(note).toContain(`none reached this retrieve on port ${movePort} (pacs.moveScuPort)`);
    expect(note).toContain(`The archive lists ${samples.length} instances of the study`);
    expect(note).toContain(`the loader's PACS server on port ${serverPort} (pacs.port)`);
    expect(note).not.toMatch(/received \d+ of \d+ instances/);
    // The server logged the instances it received from the node.
    expect(server.readLog()).toContain(`callingAe=${peer.aeTitle} calledAe=${AE_TITLE}`);
  }, 60_000);

  test('repeated move prints found instances', async () => {
    const result = await move([]);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`${studyUid}: success, ${samples.length} of ${samples.length} instances by C-MOVE (0 new, 0 already archived, ${samples.length} found in the archive)`);
    expect(result.stdout).toContain(`note: ${peer.aeTitle}@${LOOPBACK}:${peer.port} reported ${samples.length} completed sub-operations`);
  }, 60_000);

  test('other archive gets a hint', async () => {
    const otherDirs = { ...dirs, archiveDir: path.join(dirs.root, 'other-archive') };
    fs.mkdirSync(otherDirs.archiveDir, { recursive: true });
    const result = await move(['--json'], otherDirs);

    expect(result.code).toBe(1);
    const [study] = result.json<MoveReport>().studies;
    expect(study.outcome).toBe('failure');
    expect(study.completed).toBe(0);
    expect(study.missedDelivery).toEqual({ reported: samples.length, foundInArchive: 0 });
    const note = study.notes.join('\n');
    expect(note).toContain('and the archive does not list them: the node probably sends them to another host, port or AE title');
    expect(note).toContain(`Check the host and port that the node has for ${AE_TITLE}: they must be this computer's address and port ${movePort}`);
    expect(note).toContain(`If the node has port ${serverPort} (pacs.port), the loader's PACS server received them into the archive that server uses`);
    expect(note).toContain(`received 0 of ${samples.length} instances`);
  }, 60_000);
});
