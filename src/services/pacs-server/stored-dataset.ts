/**
 * Streams the data set part of a stored file for a C-STORE sub-operation:
 * the bytes after its file meta information, unchanged when the peer accepted
 * the stored transfer syntax, otherwise converted to a syntax it accepted.
 */
import type { AcceptedContext, DatasetSource } from '../../dicom/network';
import { canTranscode, syntaxName, TRANSCODE_TARGET_SYNTAXES, transcodeFile } from '../../dicom/transcode';
import type { StoredInstance } from '../archive';
import type { Logger } from '../logger';
import { PooledFileSource, ReadBufferPool } from '../transfers/pooled-file-source';
import { checkSentFileLocation, checkStoredFile, describeUnreadableFile } from '../transfers/stored-file-check';

/** Read buffers shared by the C-STORE sub-operations of every association of this process. */
const readBuffers = new ReadBufferPool();

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
 * bytes as they are when that is the stored syntax, otherwise converted.
 * Rejects, with the next step to take, when the file is missing or when its
 * size, transfer syntax, SOP Instance UID or SOP Class UID differs from the
 * index. A file indexed in place may have been overwritten with another
 * instance since. Rejects also for a pair the converter does not support.
 */
export async function openStoredDataset(instance: StoredInstance, transferSyntaxUid = instance.transferSyntaxUid, log?: Logger): Promise<DatasetSource> {
  if (transferSyntaxUid === instance.transferSyntaxUid) {
    // The pooled source checks the size against the index, and the meta information gives the syntax and the UIDs.
    const { source, header } = await PooledFileSource.open(instance.path, readBuffers, { indexedSize: instance.size, noFollow: !instance.inPlace }).catch(async (error: unknown) => {
      throw await describeUnreadableFile(instance, error);
    });
    try {
      await checkSentFileLocation(instance, header);
    } catch (error) {
      source.destroy();
      throw error;
    }
    return source;
  }

  const header = await checkStoredFile(instance);
  log?.debug('converting instance for sending', {
    sopInstanceUid: instance.sopInstanceUid,
    storedTransferSyntax: instance.transferSyntaxUid,
    sentTransferSyntax: transferSyntaxUid,
  });
  return transcodeFile(instance.path, header.datasetOffset, instance.transferSyntaxUid, transferSyntaxUid);
}
