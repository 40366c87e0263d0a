/**
 * A C-STORE data set whose Pixel Data declares more bytes than arrived is
 * rejected by the archive and leaves nothing behind.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';

import { readDicomFileHeaderSync } from '../../src/dicom/file-reader';
import { Tags } from '../../src/dicom/tags';
import { ArchiveError, LocalArchive } from '../../src/services/archive';
import { incomingLeftovers } from '../support/incoming';

const CT_SMALL = '/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm';
const hasSample = fs.existsSync(CT_SMALL);

(hasSample ? test : test.skip)('received data set cut inside Pixel Data is rejected', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'loader-test-truncated-'));
  const archive = LocalArchive.open(path.join(root, 'archive'));
  try {
    const header = readDicomFileHeaderSync(CT_SMALL);
    const dataset = fs.readFileSync(CT_SMALL).subarray(header.datasetOffset);
    const cut = dataset.subarray(0, dataset.length - 1000);

    const receive = archive.receive({
      sopClassUid: header.meta.getString(Tags.MediaStorageSOPClassUID)!,
      sopInstanceUid: header.meta.getString(Tags.MediaStorageSOPInstanceUID)!,
      transferSyntaxUid: header.transferSyntaxUid,
      sourceAeTitle: 'TESTSCU',
      implementationClassUid: '1.2.3',
      implementationVersionName: 'TEST',
      data: Readable.from([cut]),
    });

    await expect(receive).rejects.toBeInstanceOf(ArchiveError);
    await expect(receive).rejects.toThrow(/truncated/);
    expect(archive.listInstances()).toHaveLength(0);
    expect(incomingLeftovers(path.join(root, 'archive'))).toHaveLength(0);
  } finally {
    archive.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});
