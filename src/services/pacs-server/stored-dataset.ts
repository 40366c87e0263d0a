/**
 * Streams the data set part of a stored file: the bytes after its file meta
 * information, unchanged, for sending in the file's own transfer syntax.
 */
import fs from 'node:fs';
import type { Readable } from 'node:stream';

import { readDicomFileHeaderSync } from '../../dicom/file-reader';
import type { StoredInstance } from '../archive';

/** Read size for stored files; large enough to fill several maximum-length PDUs. */
const READ_CHUNK_BYTES = 1024 * 1024;

export function openStoredDataset(instance: StoredInstance): Readable {
  const header = readDicomFileHeaderSync(instance.path);
  if (header.transferSyntaxUid !== instance.transferSyntaxUid) {
    throw new Error(
      `stored file ${instance.path} has transfer syntax ${header.transferSyntaxUid}, ` +
        `index says ${instance.transferSyntaxUid}; run "loader reindex"`,
    );
  }
  return fs.createReadStream(instance.path, { start: header.datasetOffset, highWaterMark: READ_CHUNK_BYTES });
}
