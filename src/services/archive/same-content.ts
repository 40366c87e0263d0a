/**
 * Decides whether a received file contains the same data set as a stored
 * file of its SOP Instance UID, also when the sender encoded it in another
 * transfer syntax. DICOM lets any sender re-encode a data set for the
 * syntax its association negotiated (PS3.5 section 10), so a modality or
 * PACS that sends an instance again in Implicit VR after an Explicit VR send
 * sends the same instance.
 */

import type { Readable } from 'node:stream';
import { readDicomFileHeader, type DicomFileHeader } from '../../dicom/file-reader';
import { canTranscode, transcodeFile } from '../../dicom/transcode';
import { TransferSyntax } from '../../dicom/uid';
import { datasetBytesEqual } from './file-ops';

/**
 * Result of comparing a received file with a stored one:
 * - 'identical': the data set bytes are equal;
 * - 're-encoded': the bytes differ, but both data sets contain the same elements
 *   with the same values;
 * - 'different': the content differs, or the loader cannot tell (a compressed
 *   transfer syntax, an unreadable or damaged file).
 */
export interface ContentComparison {
  kind: 'identical' | 're-encoded' | 'different';
  /** Transfer syntax UID of the stored file; undefined when its header is unreadable. */
  storedTransferSyntaxUid?: string;
}

/**
 * Encoding both data sets are converted to before comparing. Implicit VR has
 * no VR field, so the comparison covers tags and values but not VRs, which
 * implicit VR data sets take from the dictionary. The converter also writes
 * every sequence and item with undefined length and drops group lengths, so
 * the length form that a sender chose makes no difference either.
 */
const CANONICAL_SYNTAX = TransferSyntax.ImplicitVRLittleEndian;

/** Compares the data set of `candidatePath`, whose header is `candidate`, with that of `storedPath`. */
export async function compareContent(storedPath: string, candidatePath: string, candidate: DicomFileHeader): Promise<ContentComparison> {
  let stored: DicomFileHeader;
  try {
    stored = await readDicomFileHeader(storedPath);
  } catch {
    return { kind: 'different' };
  }
  const storedTransferSyntaxUid = stored.transferSyntaxUid;
  const bytesEqual = await datasetBytesEqual(
    { path: storedPath, datasetOffset: stored.datasetOffset },
    { path: candidatePath, datasetOffset: candidate.datasetOffset },
  );
  if (bytesEqual) return { kind: 'identical', storedTransferSyntaxUid };

  // NOTE: a compressed (encapsulated) transfer syntax on either side stays 'different', also when the pixels
  // decode to the same values, because comparing them needs a decoder and, for lossy syntaxes, a tolerance.
  const convertible = canTranscode(storedTransferSyntaxUid, CANONICAL_SYNTAX) && canTranscode(candidate.transferSyntaxUid, CANONICAL_SYNTAX);
  if (!convertible) return { kind: 'different', storedTransferSyntaxUid };

  const same = await streamsEqual(
    transcodeFile(storedPath, stored.datasetOffset, storedTransferSyntaxUid, CANONICAL_SYNTAX),
    transcodeFile(candidatePath, candidate.datasetOffset, candidate.transferSyntaxUid, CANONICAL_SYNTAX),
  );
  return { kind: same ? 're-encoded' : 'different', storedTransferSyntaxUid };
}

/**
 * Returns true when both streams yield the same bytes. A stream error (a
 * damaged data set) counts as a difference. Destroys both streams before it
 * returns.
 */
export async function streamsEqual(a: Readable, b: Readable): Promise<boolean> {
  const iteratorA = a[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const iteratorB = b[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let chunkA: Buffer = Buffer.alloc(0);
  let chunkB: Buffer = Buffer.alloc(0);
  let endedA = false;
  let endedB = false;
  try {
    for (;;) {
      if (chunkA.length === 0 && !endedA) {
        const next = await iteratorA.next();
        if (next.done) endedA = true;
        else chunkA = next.value;
        continue;
      }
      if (chunkB.length === 0 && !endedB) {
        const next = await iteratorB.next();
        if (next.done) endedB = true;
        else chunkB = next.value;
        continue;
      }
      if (endedA || endedB) return endedA && endedB && chunkA.length === 0 && chunkB.length === 0;

      const size = Math.min(chunkA.length, chunkB.length);
      if (!chunkA.subarray(0, size).equals(chunkB.subarray(0, size))) return false;
      chunkA = chunkA.subarray(size);
      chunkB = chunkB.subarray(size);
    }
  } catch {
    return false;
  } finally {
    a.destroy();
    b.destroy();
  }
}
