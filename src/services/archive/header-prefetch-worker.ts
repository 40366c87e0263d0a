/**
 * Entry of the thread that reads file headers ahead of a scan (see
 * header-prefetch.ts). For each file of a request it resolves the real path
 * and reads the header and the indexed attributes. A DICOMDIR or a file with
 * any error is sent back without a record, and the scan reads it again on its
 * own thread, so problems are classified and reported in one place.
 */

import fs from 'node:fs';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import type { LegacyCharacterSet } from '../../dicom/charset';
import { listFileMetaElements, readDicomFileHeaderSync } from '../../dicom/file-reader';
import { Tags } from '../../dicom/tags';
import { SopClass } from '../../dicom/uid';
import type { PrefetchReply, PrefetchRequest, PrefetchResult } from './header-prefetch';
import { readInstanceRecord } from './instance-record';

function read(file: string): PrefetchResult {
  try {
    const realPath = fs.realpathSync.native(file);
    if (path.basename(realPath).toUpperCase() === 'DICOMDIR') return { file };

    // The record is taken before the next read reuses the buffer that the borrowed values point into.
    const header = readDicomFileHeaderSync(realPath, { borrowBuffer: true });
    if (header.meta.getString(Tags.MediaStorageSOPClassUID) === SopClass.MediaStorageDirectoryStorage) return { file };
    // The scan logs the group 0002 elements of a data set, so it reads such a file itself.
    if (listFileMetaElements(header.dataset).length > 0) return { file };

    const record = readInstanceRecord(header, legacyCharacterSet);
    // The reader takes the modification time with the size before it reads, so a change during the read shows as a later time.
    const modifiedMs = header.modifiedMs!;
    return { file, read: { realPath, record, fileSize: header.fileSize, datasetOffset: header.datasetOffset, modifiedMs } };
  } catch {
    return { file };
  }
}

if (!parentPort) throw new Error('header-prefetch-worker must run in a worker thread; use HeaderPrefetch to start it');
const { port, replies, legacyCharacterSet } = workerData as {
  port: import('node:worker_threads').MessagePort;
  replies: Int32Array;
  legacyCharacterSet: LegacyCharacterSet;
};

port.on('message', (request: PrefetchRequest) => {
  const reply: PrefetchReply = { results: request.files.map(read) };
  port.postMessage(reply);
  // The scan may be blocked in Atomics.wait on this counter rather than listening for messages.
  Atomics.add(replies, 0, 1);
  Atomics.notify(replies, 0);
});
