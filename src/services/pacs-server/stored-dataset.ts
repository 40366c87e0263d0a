/**
 * Streams the data set part of a stored file for a C-STORE sub-operation:
 * the bytes after its file meta information, unchanged when the peer accepted
 * the stored transfer syntax, otherwise converted to a syntax it accepted.
 */
import fs from 'node:fs';
import type { Readable } from 'node:stream';

import { readDicomFileHeaderSync } from '../../dicom/file-reader';
import type { AcceptedContext } from '../../dicom/network';
import { canTranscode, syntaxName, TRANSCODE_TARGET_SYNTAXES, transcodeFile } from '../../dicom/transcode';
import type { StoredInstance } from '../archive';
import type { Logger } from '../logger';

/**
 * Read size for stored files. 64 KiB matches Node's default file stream: 1 MiB
 * reads of files mostly smaller than that cost more in garbage collection of
 * external memory than they saved (bench scenario d, 2026-12-04).
 */
const READ_CHUNK_BYTES = 64 * 1024;

/** The context to send an instance on, or the reason no accepted context fits. */
export type ContextChoice = { context: AcceptedContext; converted: boolean } | { failure: string };

/**
 * Chooses the accepted context for sending an instance. A context in the
 * stored transfer syntax comes first, because the bytes then go verbatim.
 * Next comes one whose syntax the converter can produce from the stored one,
 * in the order Explicit VR Little Endian, Implicit VR Little Endian, Explicit
 * VR Big Endian.
 */
export function chooseContext(instance: StoredInstance, accepted: readonly AcceptedContext[]): ContextChoice {
  const forSopClass = accepted.filter((context) => context.abstractSyntax === instance.sopClassUid);
  const verbatim = forSopClass.find((context) => context.transferSyntax === instance.transferSyntaxUid);
  if (verbatim) return { context: verbatim, converted: false };

  for (const target of TRANSCODE_TARGET_SYNTAXES) {
    const context = forSopClass.find((candidate) => candidate.transferSyntax === target);
    if (context && canTranscode(instance.transferSyntaxUid, target)) return { context, converted: true };
  }

  const acceptedSyntaxes = forSopClass.map((context) => syntaxName(context.transferSyntax));
  const peerOffer = acceptedSyntaxes.length > 0
    ? `the peer accepted only ${[...new Set(acceptedSyntaxes)].join(', ')}`
    : 'the peer accepted no presentation context for its SOP class';
  return {
    failure:
      `cannot send ${instance.sopInstanceUid} (SOP class ${instance.sopClassUid}): ` +
      `stored in ${syntaxName(instance.transferSyntaxUid)}, ${peerOffer}`,
  };
}

/**
 * Opens the data set of a stored instance in `transferSyntaxUid`: the file's
 * bytes as they are when that is the stored syntax, otherwise converted. Throws
 * when the file's syntax differs from the index, or for a pair the converter
 * does not support.
 */
export function openStoredDataset(instance: StoredInstance, transferSyntaxUid = instance.transferSyntaxUid, log?: Logger): Readable {
  const header = readDicomFileHeaderSync(instance.path);
  if (header.transferSyntaxUid !== instance.transferSyntaxUid) {
    throw new Error(
      `stored file ${instance.path} has transfer syntax ${header.transferSyntaxUid}, ` +
        `index says ${instance.transferSyntaxUid}; run "loader reindex"`,
    );
  }
  if (transferSyntaxUid === instance.transferSyntaxUid) {
    return fs.createReadStream(instance.path, { start: header.datasetOffset, highWaterMark: READ_CHUNK_BYTES });
  }

  log?.debug('converting instance for sending', {
    sopInstanceUid: instance.sopInstanceUid,
    storedTransferSyntax: instance.transferSyntaxUid,
    sentTransferSyntax: transferSyntaxUid,
  });
  return transcodeFile(instance.path, header.datasetOffset, instance.transferSyntaxUid, transferSyntaxUid);
}
