/**
 * C-STORE from the archive to DCMTK storescp: stored bytes arrive unchanged,
 * a compressed instance arrives decompressed at a peer that accepts only
 * uncompressed syntaxes, and an instance that cannot be sent fails alone, with its reason.
 */
import * as path from 'path';

import { readDicomFileHeaderSync } from '../../src/dicom/file-reader';
import { LocalArchive } from '../../src/services/archive';
import type { StoredInstance } from '../../src/services/archive';
import { setLogSink } from '../../src/services/logger';
import { outcomeOf, sendInstances } from '../../src/services/transfers';
import { Tags } from '../../src/dicom/tags';
import { TransferSyntax } from '../../src/dicom/uid';
import { DAMAGED_SOP_INSTANCE_UID, damagedJpeg2000Copy, parseExplicit, readPixelImage, referenceDecode } from '../codecs/reference';
import { corpusFile, makeTempDir, startOrthanc, startStorescp } from '../support/peers';
import type { CorpusFile, OrthancHandle, StorescpHandle } from '../support/peers';
import { localIdentity, nodeFor } from './helpers';
import * as fs from 'fs';

let previousSink: (line: string) => void;
beforeAll(() => {
  previousSink = setLogSink(() => undefined);
});
afterAll(() => {
  setLogSink(previousSink);
});

/** The bytes after the file meta information. */
function datasetBytes(file: string): Buffer {
  const header = readDicomFileHeaderSync(file);
  return fs.readFileSync(file).subarray(header.datasetOffset);
}

/** Finds the received file of an instance; storescp names files after the modality and SOP Instance UID. */
function receivedFile(storescp: StorescpHandle, sopInstanceUid: string): string | undefined {
  return storescp.receivedFiles().find((file) => path.basename(file).includes(sopInstanceUid));
}

describe('send to storescp', () => {
  let archive: LocalArchive;
  let acceptAll: StorescpHandle;
  let uncompressedOnly: StorescpHandle;
  const csa = corpusFile('siemens-csa');
  const legacy = corpusFile('legacy-date');
  const jpeg2000 = corpusFile('jpeg2000');
  const ct = corpusFile('ct');
  const bigEndian = corpusFile('big-endian');

  const stored = (file: CorpusFile): StoredInstance => archive.listInstances({ sopInstanceUids: [file.sopInstanceUid!] })[0];

  beforeAll(async () => {
    archive = LocalArchive.open(path.join(makeTempDir('send-archive'), 'archive'));
    for (const file of [csa, legacy, jpeg2000, ct, bigEndian]) await archive.importFile(file.absolutePath, { copy: true });
    acceptAll = await startStorescp({ aeTitle: 'STOREALL', acceptAll: true });
    uncompressedOnly = await startStorescp({ aeTitle: 'STOREPLAIN' });
  });

  afterAll(async () => {
    archive.close();
    await acceptAll.stop();
    await uncompressedOnly.stop();
  });

  test('CSA and legacy-date files arrive byte-identical', async () => {
    const report = await sendInstances(nodeFor(acceptAll), localIdentity(), [stored(csa), stored(legacy)]);
    expect(report.failures).toEqual([]);
    expect(report.completed).toBe(2);
    for (const file of [csa, legacy]) {
      const received = receivedFile(acceptAll, file.sopInstanceUid!);
      expect(received).toBeDefined();
      expect(readDicomFileHeaderSync(received!).transferSyntaxUid).toBe(file.transferSyntaxUid);
      expect(datasetBytes(received!).equals(datasetBytes(file.absolutePath))).toBe(true);
    }
  });

  test('JPEG 2000 arrives decompressed on uncompressed peer', async () => {
    const progress: number[] = [];
    const report = await sendInstances(nodeFor(uncompressedOnly), localIdentity(), [stored(jpeg2000), stored(ct), stored(bigEndian), stored(csa)], {
      onProgress: (event) => progress.push(event.done),
    });
    expect(report.failures).toEqual([]);
    expect(report.completed).toBe(4);
    expect(progress).toEqual([1, 2, 3, 4]);
    for (const file of [ct, bigEndian, csa]) expect(receivedFile(uncompressedOnly, file.sopInstanceUid!)).toBeDefined();

    const received = receivedFile(uncompressedOnly, jpeg2000.sopInstanceUid!);
    expect(received).toBeDefined();
    const header = readDicomFileHeaderSync(received!);
    expect(header.transferSyntaxUid).toBe(TransferSyntax.ExplicitVRLittleEndian);
    const arrived = readPixelImage(parseExplicit(datasetBytes(received!)));
    const reference = await referenceDecode(jpeg2000.absolutePath);
    expect(arrived.pixels.equals(reference.pixels)).toBe(true);
    expect(arrived.dataset.getString(Tags.SOPInstanceUID)).toBe(jpeg2000.sopInstanceUid);
  });

  test('damaged JPEG 2000 fails alone on uncompressed peer', async () => {
    const damaged = damagedJpeg2000Copy(jpeg2000.absolutePath);
    await archive.importFile(damaged, { copy: true });
    const damagedInstance = archive.listInstances({ sopInstanceUids: [DAMAGED_SOP_INSTANCE_UID] })[0];

    const report = await sendInstances(nodeFor(uncompressedOnly), localIdentity(), [damagedInstance, stored(ct)]);
    expect(report.completed).toBe(1);
    expect(report.failures).toHaveLength(1);
    expect(report.failures[0].sopInstanceUid).toBe(DAMAGED_SOP_INSTANCE_UID);
    expect(report.failures[0].reason).toMatch(/OpenJPEG failed to decode/);
    expect(outcomeOf(report)).toBe('partial');
    expect(receivedFile(uncompressedOnly, DAMAGED_SOP_INSTANCE_UID)).toBeUndefined();
  });

  test('file cut after indexing fails alone', async () => {
    const cut = { ...stored(ct), path: path.join(makeTempDir('send-cut'), 'cut.dcm') };
    const bytes = fs.readFileSync(stored(ct).path);
    fs.writeFileSync(cut.path, bytes.subarray(0, bytes.length - 100));

    const report = await sendInstances(nodeFor(acceptAll), localIdentity(), [cut, stored(csa)]);
    expect(report.completed).toBe(1);
    expect(report.failures).toHaveLength(1);
    expect(report.failures[0].sopInstanceUid).toBe(ct.sopInstanceUid);
    expect(report.failures[0].reason).toContain(`has ${bytes.length - 100} bytes but the index records ${bytes.length}`);
    expect(report.failures[0].reason).toContain('loader reindex');
    expect(receivedFile(acceptAll, ct.sopInstanceUid!)).toBeUndefined();
  });

  test('grown file fails when converted', async () => {
    const grown = { ...stored(jpeg2000), path: path.join(makeTempDir('send-grown'), 'grown.dcm') };
    fs.writeFileSync(grown.path, Buffer.concat([fs.readFileSync(stored(jpeg2000).path), Buffer.alloc(100)]));

    const report = await sendInstances(nodeFor(uncompressedOnly), localIdentity(), [grown, stored(ct)]);

    expect(report.completed).toBe(1);
    expect(report.failures.map((failure) => failure.sopInstanceUid)).toEqual([jpeg2000.sopInstanceUid]);
    expect(report.failures[0].reason).toContain('bytes but the index records');
    expect(report.failures[0].reason).toContain('loader reindex');
  });

  test('deleted file fails with hint', async () => {
    const deleted = { ...stored(ct), path: path.join(makeTempDir('send-deleted'), 'gone.dcm') };

    const report = await sendInstances(nodeFor(acceptAll), localIdentity(), [deleted]);

    expect(report.failures[0].reason).toMatch(/gone\.dcm is missing; .*loader reindex/);
  });

  test('missing file indexed in place names the medium', async () => {
    const removed = { ...stored(ct), path: path.join(makeTempDir('send-removed'), 'on-disc.dcm'), inPlace: true };

    const report = await sendInstances(nodeFor(acceptAll), localIdentity(), [removed]);

    expect(report.failures[0].reason).toMatch(/on-disc\.dcm is missing; it was indexed where it was found, outside the archive.*loader scan --import/);
    expect(report.failures[0].reason).not.toContain('reindex');
  });

  test('overwritten DICM prefix fails with hint', async () => {
    // Parsed without the prefix, the CSA and JPEG 2000 files look truncated and the CT file looks like no DICOM file.
    // The JPEG 2000 file is decompressed for its peer, so it goes through the full header check.
    const cases: [CorpusFile, StorescpHandle][] = [
      [csa, acceptAll],
      [ct, acceptAll],
      [jpeg2000, uncompressedOnly],
    ];
    for (const [file, peer] of cases) {
      const bytes = fs.readFileSync(stored(file).path);
      bytes.write('XXXX', 128, 'latin1');
      const overwritten = { ...stored(file), path: path.join(makeTempDir('send-no-prefix'), 'no-prefix.dcm') };
      fs.writeFileSync(overwritten.path, bytes);

      const report = await sendInstances(nodeFor(peer), localIdentity(), [overwritten]);

      expect(report.completed).toBe(0);
      expect(report.failures).toHaveLength(1);
      const reason = report.failures[0].reason;
      expect(reason).toContain(`${overwritten.path} is not a DICOM Part 10 file any more: the DICM prefix at byte offset 128 is missing (bytes 58 58 58 58 in its place`);
      expect(reason).toContain('loader reindex');
      expect(reason).not.toMatch(/truncated/);
    }
  });

  test('file replaced by another instance fails', async () => {
    const replaced = { ...stored(legacy), path: stored(csa).path, size: stored(csa).size, transferSyntaxUid: stored(csa).transferSyntaxUid };

    const report = await sendInstances(nodeFor(acceptAll), localIdentity(), [replaced]);

    expect(report.completed).toBe(0);
    expect(report.failures[0].reason).toContain(`contains SOP Instance UID ${csa.sopInstanceUid} but the index records ${legacy.sopInstanceUid}`);
    expect(report.failures[0].reason).toContain('loader reindex');
  });
});

describe('send to Orthanc accepting JPEG only', () => {
  let archive: LocalArchive;
  let orthanc: OrthancHandle;
  const ct = corpusFile('ct');

  beforeAll(async () => {
    archive = LocalArchive.open(path.join(makeTempDir('send-jpeg-only'), 'archive'));
    await archive.importFile(ct.absolutePath, { copy: true });
    orthanc = await startOrthanc({ aeTitle: 'ORTHANCJPEG', extraConfig: { AcceptedTransferSyntaxes: [TransferSyntax.JPEGBaseline8Bit] } });
  });

  afterAll(async () => {
    archive.close();
    await orthanc.stop();
  });

  test('rejected contexts are named', async () => {
    const instance = archive.listInstances({ sopInstanceUids: [ct.sopInstanceUid!] })[0];
    const report = await sendInstances(nodeFor(orthanc), localIdentity(), [instance]);

    expect(report.completed).toBe(0);
    expect(report.failures).toHaveLength(1);
    const reason = report.failures[0].reason;
    // Orthanc 1.10.1 returns result 3 (abstract syntax not supported) when none of the proposed transfer syntaxes is in its AcceptedTransferSyntaxes.
    expect(reason).toContain('accepted none of the 2 proposed presentation contexts: it does not accept the SOP class CT Image Storage (1.2.840.10008.5.1.4.1.1.2), proposed in ');
    expect(reason).toContain('Explicit VR Little Endian');
    expect(reason).toContain('Implicit VR Little Endian');
    expect(reason).toContain('(result 3, abstract syntax not supported)');
    expect(reason).toContain('in Orthanc, which sends the same implementation version name, in UnknownSopClassAccepted and also in AcceptedTransferSyntaxes');
    expect(reason).not.toContain('Allow one of these transfer syntaxes');
  });
});
