/**
 * A data set that starts with group 0002 elements, which PS3.10 section 7.1
 * allows only in the file meta information: (0002,0003) of another instance
 * and (0002,0010) of big endian in an explicit VR little endian data set.
 * `loader serve` stores it as received with one WARN line, and the stored
 * file reads back as the same instance after `loader reindex`, through DCMTK
 * getscu (C-GET) and movescu (C-MOVE), and with `loader send`. `loader scan`
 * indexes such a file with one WARN line.
 */
import * as fs from 'fs';
import * as path from 'path';

import { readDicomFileHeaderSync } from '../../src/dicom/file-reader';
import { Tags } from '../../src/dicom/tags';
import { TransferSyntax } from '../../src/dicom/uid';
import { setLogSink } from '../../src/services/logger';
import {
  FILE_META_TEST_UIDS,
  GROUP_0002_DATASET,
  SECONDARY_CAPTURE,
  secondaryCaptureMeta,
} from '../support/file-meta-in-dataset';
import {
  LoaderServer,
  StorescpHandle,
  associationArgs,
  createLoaderDirs,
  listFiles,
  makeTempDir,
  runDcmtk,
  runLoader,
  startLoader,
  startStorescp,
} from '../support/peers';
import { listStudies, storeRawDataset } from './helpers';

/** Port of `loader serve` in this test. */
const LOADER_PORT = 13400;
const WARNING = 'The data set contains File Meta Information elements (group 0002)';
const TAGS_FIELD = 'tags=(0002,0003),(0002,0010)';

/** Returns the log lines that contain `text`. */
function linesWith(log: string, text: string): string[] {
  return log.split('\n').filter((line) => line.includes(text));
}

/** Returns a sub-operation count from the final status report of getscu, or -1 when it printed none. */
function subOperations(stderr: string, kind: 'Completed' | 'Failed'): number {
  const match = new RegExp(`Number of ${kind} Suboperations\\s*:\\s*(\\d+)`).exec(stderr);
  return match ? Number(match[1]) : -1;
}

/** Checks that `file` arrived as the instance that was sent: its meta group and its data set name the sent SOP Instance UID. */
function expectSameInstance(file: string): void {
  const header = readDicomFileHeaderSync(file);
  expect(header.meta.getString(Tags.MediaStorageSOPInstanceUID)).toBe(FILE_META_TEST_UIDS.sopInstance);
  expect(header.transferSyntaxUid).toBe(TransferSyntax.ExplicitVRLittleEndian);
  expect(header.dataset.getString(Tags.SOPInstanceUID)).toBe(FILE_META_TEST_UIDS.sopInstance);
  expect(header.dataset.getString(Tags.PatientID)).toBe('META-1');
}

describe('C-STORE of group 0002 in the data set', () => {
  let loader: LoaderServer;
  let storescp: StorescpHandle;
  let status: number;
  let storeLog: string;

  const storedPath = () => path.join(loader.dirs.archiveDir, FILE_META_TEST_UIDS.study, FILE_META_TEST_UIDS.series, `${FILE_META_TEST_UIDS.sopInstance}.dcm`);

  beforeAll(async () => {
    // The test's own client logs through the loader's logger; keep jest's output clean.
    setLogSink(() => undefined);
    loader = await startLoader([], { aeTitle: 'LOADER', port: LOADER_PORT });
    ({ status } = await storeRawDataset(loader, 'SENDER', {
      sopClassUid: SECONDARY_CAPTURE,
      sopInstanceUid: FILE_META_TEST_UIDS.sopInstance,
      transferSyntaxUid: TransferSyntax.ExplicitVRLittleEndian,
      dataset: GROUP_0002_DATASET,
    }));
    await loader.stop();
    storeLog = loader.readLog();

    // Unique names keep the copies of the C-MOVE and the send apart.
    storescp = await startStorescp({ aeTitle: 'METADEST', extraArgs: ['--unique-filenames'] });
    const add = await runLoader(['nodes', 'add', 'metadest', '--aet', storescp.aeTitle, '--host', storescp.host, '--port', String(storescp.port)], {
      dirs: loader.dirs,
    });
    if (add.code !== 0) throw new Error(`loader nodes add failed: ${add.stderr}`);
  }, 60_000);

  afterAll(async () => {
    await loader?.stop();
    await storescp?.stop();
  });

  test('stored with success', () => {
    expect(status).toBe(0x0000);
  });

  test('one WARN names sender', () => {
    const warnings = linesWith(storeLog, WARNING);

    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(' WARN ');
    expect(warnings[0]).toContain('callingAeTitle=SENDER');
    expect(warnings[0]).toContain(`sopInstanceUid=${FILE_META_TEST_UIDS.sopInstance}`);
    expect(warnings[0]).toContain(TAGS_FIELD);
  });

  test('data set stored verbatim', () => {
    const stored = fs.readFileSync(storedPath());
    const header = readDicomFileHeaderSync(storedPath());

    expect(stored.subarray(header.datasetOffset).equals(GROUP_0002_DATASET)).toBe(true);
    expect(header.meta.getString(Tags.MediaStorageSOPInstanceUID)).toBe(FILE_META_TEST_UIDS.sopInstance);
  });

  test('reindex keeps the study', async () => {
    for (const name of fs.readdirSync(loader.dirs.archiveDir)) {
      if (name.startsWith('index.sqlite')) fs.rmSync(path.join(loader.dirs.archiveDir, name));
    }

    const reindex = await runLoader(['reindex', '--json'], { dirs: loader.dirs, timeoutMs: 60_000 });

    expect(reindex.code).toBe(0);
    const warnings = linesWith(reindex.stderr, WARNING);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`path=${storedPath()}`);
    expect(warnings[0]).toContain(TAGS_FIELD);
    const rows = await listStudies(loader.dirs);
    expect(rows.map((row) => [row.studyInstanceUid, row.patientId, row.numberOfInstances])).toEqual([[FILE_META_TEST_UIDS.study, 'META-1', 1]]);
  }, 90_000);

  describe('after reindex', () => {
    beforeAll(async () => {
      loader = await startLoader([], { aeTitle: 'LOADER', port: LOADER_PORT, dirs: loader.dirs });
    }, 60_000);

    test('getscu receives it', async () => {
      const outputDir = makeTempDir('getscu-meta');
      // +B writes each received data set as it arrived.
      const get = await runDcmtk('getscu', [
        '-v', '-S', '+B', '-od', outputDir,
        '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${FILE_META_TEST_UIDS.study}`,
        ...associationArgs(loader, 'GETSCU'),
      ]);

      expect(subOperations(get.stderr, 'Completed')).toBe(1);
      expect(subOperations(get.stderr, 'Failed')).toBe(0);
      const received = listFiles(outputDir);
      expect(received).toHaveLength(1);
      expectSameInstance(received[0]);
      const { datasetOffset } = readDicomFileHeaderSync(received[0]);
      expect(fs.readFileSync(received[0]).subarray(datasetOffset).equals(GROUP_0002_DATASET)).toBe(true);
      expect(linesWith(loader.readLog(), 'now contains another instance')).toEqual([]);
    });

    test('movescu delivers it', async () => {
      const before = storescp.receivedFiles().length;
      const move = await runDcmtk('movescu', [
        '-v', '-S', '-aem', storescp.aeTitle,
        '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${FILE_META_TEST_UIDS.study}`,
        ...associationArgs(loader, 'MOVESCU'),
      ]);

      expect(move.stderr).toContain('Received Final Move Response (Success)');
      const received = storescp.receivedFiles();
      expect(received.length).toBe(before + 1);
      for (const file of received) expectSameInstance(file);
    });

    test('loader send delivers it', async () => {
      await loader.stop();
      const before = storescp.receivedFiles().length;

      const send = await runLoader(['send', 'metadest', '--study-uid', FILE_META_TEST_UIDS.study], { dirs: loader.dirs, timeoutMs: 60_000 });

      expect({ code: send.code, stderr: send.stderr.slice(-2000) }).toEqual({ code: 0, stderr: expect.any(String) });
      expect(send.stdout + send.stderr).not.toContain('now contains another instance');
      const received = storescp.receivedFiles();
      expect(received.length).toBe(before + 1);
      for (const file of received) expectSameInstance(file);
    }, 60_000);
  });
});

describe('scan of group 0002 in the data set', () => {
  test('one WARN per file', async () => {
    // The scan reads headers in a second thread from the 101st file on, so 120 copies also go through that thread.
    const copies = 120;
    const folder = makeTempDir('scan-meta');
    const bytes = Buffer.concat([secondaryCaptureMeta(), GROUP_0002_DATASET]);
    const files: string[] = [];
    for (let i = 0; i < copies; i++) {
      const file = path.join(folder, `copy-${String(i).padStart(3, '0')}.dcm`);
      fs.writeFileSync(file, bytes);
      files.push(file);
    }
    const dirs = createLoaderDirs('scan-meta');

    const scan = await runLoader(['scan', '--json', folder], { dirs, timeoutMs: 60_000 });

    expect(scan.code).toBe(0);
    const report = scan.json<{ indexed: number; duplicates: number; damaged: unknown[] }>();
    expect(report.indexed).toBe(1);
    expect(report.duplicates).toBe(copies - 1);
    expect(report.damaged).toEqual([]);
    const warnings = linesWith(scan.stderr, WARNING);
    expect(warnings).toHaveLength(copies);
    for (const file of files) expect({ file, warnings: warnings.filter((line) => line.includes(`path=${file} `)).length }).toEqual({ file, warnings: 1 });
    for (const line of warnings) expect(line).toContain(TAGS_FIELD);
    const rows = await listStudies(dirs);
    expect(rows.map((row) => row.studyInstanceUid)).toEqual([FILE_META_TEST_UIDS.study]);
  }, 60_000);
});
