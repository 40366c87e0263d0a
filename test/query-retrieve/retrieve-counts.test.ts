/**
 * Expected counts and end notes of a retrieve against real peers: a study
 * that Orthanc splits by Patient ID, a retrieve cancelled by the user, and a
 * node that dies during C-GET.
 */
import * as fs from 'fs';
import * as path from 'path';

import { LocalArchive } from '../../src/services/archive';
import { setLogSink } from '../../src/services/logger';
import { findInstances, retrieveStudies } from '../../src/services/query-retrieve';
import { LOOPBACK, corpusSamples, freePort, makeTempDir, runDcmtk, startDcmqrscp, startOrthanc, storeFiles } from '../support/peers';
import type { DcmqrscpHandle, OrthancHandle } from '../support/peers';
import { collect, LOADER_AE, localIdentity, nodeFor } from './helpers';

let previousSink: (line: string) => void;
beforeAll(() => {
  previousSink = setLogSink(() => undefined);
});
afterAll(() => {
  setLogSink(previousSink);
});

const brain = corpusSamples((file) => file.kind === 'mr-volume');
const studyUid = brain[0].studyInstanceUid!;

function openArchive(): LocalArchive {
  return LocalArchive.open(path.join(makeTempDir('qr-counts-archive'), 'archive'));
}

function orthancModality(port: number): Record<string, unknown> {
  return { AET: LOADER_AE, Host: LOOPBACK, Port: port, AllowEcho: true, AllowFind: true, AllowMove: true, AllowGet: true, AllowStore: true };
}

describe('study that Orthanc splits by Patient ID', () => {
  let orthanc: OrthancHandle;
  let movePort: number;
  const pair = brain.slice(0, 2);

  beforeAll(async () => {
    movePort = await freePort();
    orthanc = await startOrthanc({ aeTitle: 'ORTHANCSPLIT', extraConfig: { DicomModalities: { loader: orthancModality(movePort) } } });
    // The second instance of the study gets another Patient ID, so Orthanc stores it under a second patient and study.
    const dir = makeTempDir('split-study');
    const copies = pair.map((file, index) => {
      const copy = path.join(dir, `instance-${index}.dcm`);
      fs.copyFileSync(file.absolutePath, copy);
      return copy;
    });
    const modified = await runDcmtk('dcmodify', ['-nb', '-m', '(0010,0020)=LDR-OTHER-ID', copies[1]]);
    expect(modified.code).toBe(0);
    for (const copy of copies) await orthanc.uploadFile(copy);
    const studies = await orthanc.listStudies();
    expect(studies.filter((study) => study.MainDicomTags.StudyInstanceUID === studyUid)).toHaveLength(2);
  });

  afterAll(async () => {
    await orthanc.stop();
  });

  test('findInstances lists each instance once', async () => {
    const instances = await collect(findInstances(nodeFor(orthanc), localIdentity(movePort), studyUid, undefined));
    const uids = instances.map((instance) => instance.sopInstanceUid).sort();

    expect(uids).toEqual(pair.map((file) => file.sopInstanceUid!).sort());
  });

  test.each(['get', 'move'] as const)('%s counts each instance once', async (method) => {
    const archive = openArchive();
    try {
      const report = await retrieveStudies(nodeFor(orthanc), localIdentity(movePort), archive, [studyUid], { method, fallback: false });
      const study = report.studies[0];

      expect(study.expectedFrom).toBe('image-query');
      expect(study.total).toBe(pair.length);
      // One study cannot belong to two patients in the archive, so the instance of the second Patient ID is kept aside.
      expect(study.completed).toBe(1);
      expect(study.failures).toHaveLength(1);
      expect(study.failures[0].reason).toMatch(/Patient ID/);
      expect(study.failures[0].rejectedByReceiver).toBe(true);
      expect(study.notes).toContain('Patient ID conflict: the archive stores 1 received instances, or their study or series, under another Patient ID, so they were kept aside');
      expect(study.notes.join('\n')).not.toMatch(/differ from the archive's copies/);
      expect(study.outcome).toBe('partial');
      const stored = archive.listInstances({ studyInstanceUid: studyUid }).map((instance) => instance.sopInstanceUid);
      // Whichever instance arrived first keeps the study.
      expect([...stored, study.failures[0].sopInstanceUid].sort()).toEqual(pair.map((file) => file.sopInstanceUid!).sort());
    } finally {
      archive.close();
    }
  });
});

describe('retrieve cancelled by the user', () => {
  let dcmqrscp: DcmqrscpHandle;

  beforeAll(async () => {
    dcmqrscp = await startDcmqrscp({ aeTitle: 'QRSCPCANCEL' });
    expect((await storeFiles(dcmqrscp, brain.map((file) => file.absolutePath))).code).toBe(0);
  });

  afterAll(async () => {
    await dcmqrscp.stop();
  });

  test('C-GET keeps the listed total', async () => {
    const archive = openArchive();
    const controller = new AbortController();
    try {
      const report = await retrieveStudies(nodeFor(dcmqrscp), localIdentity(await freePort()), archive, [studyUid], {
        method: 'get',
        signal: controller.signal,
        onProgress: (event) => {
          if (event.received >= 3) controller.abort();
        },
      });
      const study = report.studies[0];
      const arrived = archive.listInstances({ studyInstanceUid: studyUid }).length;

      expect(arrived).toBeGreaterThanOrEqual(3);
      expect(arrived).toBeLessThan(brain.length);
      expect(study.total).toBe(brain.length);
      expect(study.completed).toBe(arrived);
      expect(study.outcome).toBe('partial');
      expect(study.notes).toContain(`cancelled by the user after ${arrived} of ${brain.length} instances arrived`);
    } finally {
      archive.close();
    }
  });

  test('cancel before start opens no association', async () => {
    const archive = openArchive();
    const controller = new AbortController();
    controller.abort();
    const logLines: string[] = [];
    const sink = setLogSink((line) => logLines.push(line));
    try {
      const report = await retrieveStudies(nodeFor(dcmqrscp), localIdentity(await freePort()), archive, [studyUid], { signal: controller.signal });
      const study = report.studies[0];

      expect(logLines.filter((line) => line.includes('Association established'))).toEqual([]);
      expect(study.completed).toBe(0);
      expect(study.expectedFrom).toBeUndefined();
      expect(study.notStarted).toBe(true);
      expect(study.notes).toEqual(['not started: the retrieve was cancelled by the user']);
      expect(study.outcome).toBe('failure');
    } finally {
      setLogSink(sink);
      archive.close();
    }
  });

  test('cancel during C-GET starts no other study', async () => {
    const archive = openArchive();
    const controller = new AbortController();
    const others = ['2.25.1001', '2.25.1002'];
    const logLines: string[] = [];
    const sink = setLogSink((line) => logLines.push(line));
    try {
      const report = await retrieveStudies(nodeFor(dcmqrscp), localIdentity(await freePort()), archive, [studyUid, ...others], {
        method: 'get',
        signal: controller.signal,
        onProgress: (event) => {
          if (event.received >= 3) controller.abort();
        },
      });
      const [first, ...rest] = report.studies;

      // One association for the C-FIND listing and one for the C-GET.
      expect(logLines.filter((line) => line.includes('Association established'))).toHaveLength(2);
      expect(first.notStarted).toBeUndefined();
      expect(first.outcome).toBe('partial');
      expect(rest.map((study) => study.studyInstanceUid)).toEqual(others);
      for (const study of rest) {
        expect(study.notStarted).toBe(true);
        expect(study.notes).toEqual(['not started: the retrieve was cancelled by the user']);
      }
      expect(report.outcome).toBe('partial');
    } finally {
      setLogSink(sink);
      archive.close();
    }
  });
});

describe('node that dies during C-GET', () => {
  let orthanc: OrthancHandle;

  beforeAll(async () => {
    orthanc = await startOrthanc({ aeTitle: 'ORTHANCDIES', extraConfig: { DicomModalities: { loader: orthancModality(await freePort()) } } });
    for (const file of brain) await orthanc.uploadFile(file.absolutePath);
  });

  afterAll(async () => {
    await orthanc.stop();
  });

  test('partial study names the received count', async () => {
    const archive = openArchive();
    const notices: string[] = [];
    try {
      const report = await retrieveStudies(nodeFor(orthanc), localIdentity(await freePort()), archive, [studyUid], {
        method: 'get',
        onNotice: (message) => notices.push(message),
        onProgress: (event) => {
          if (event.received === 5) orthanc.process.child.kill('SIGKILL');
        },
      });
      const study = report.studies[0];
      const arrived = archive.listInstances({ studyInstanceUid: studyUid }).length;
      const notes = study.notes.join('\n');

      expect(arrived).toBeGreaterThanOrEqual(5);
      expect(study.method).toBe('get');
      expect(study.completed).toBe(arrived);
      expect(study.total).toBe(brain.length);
      expect(study.outcome).toBe('partial');
      expect(notes).toContain(`the association with ORTHANCDIES ended during C-GET after ${arrived} of ${brain.length} instances arrived`);
      expect(notes).toContain('run the same command again: the instances already stored are kept');
      expect(notes).not.toMatch(/may not allow/);
      expect(notices.join('\n')).not.toMatch(/retrying with C-MOVE/);
    } finally {
      archive.close();
    }
  });
});
