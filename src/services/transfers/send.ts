/**
 * C-STORE SCU: sends stored instances from the local archive to a node.
 *
 * For each SOP class the association proposes the stored transfer syntaxes
 * first, each in its own presentation context, plus Explicit and Implicit VR
 * Little Endian in two more contexts. An instance goes verbatim (the file's
 * bytes from the end of its meta information) when the peer accepted its
 * stored syntax. Otherwise an uncompressed or deflated instance is converted
 * to an accepted uncompressed syntax by the transcoder, and a compressed one
 * is decompressed to Explicit VR Little Endian, or Implicit VR Little Endian
 * when the peer accepted only that. A compressed instance without a decoder
 * fails. A failing instance never stops the others.
 */

import { AssociationClosedError, formatStatus, statusClass } from '../../dicom/network';
import type { ClientAssociation } from '../../dicom/network';
import type { DatasetSource } from '../../dicom/network/dataset-source';
import { chooseDecompressionContext, decompressFile } from '../../dicom/decompress';
import { canTranscode, syntaxName, transcodeFile } from '../../dicom/transcode';
import { describeStorageSopClass, describeTransferSyntax, TransferSyntax } from '../../dicom/uid';
import type { StoredInstance } from '../archive';
import { createLogger } from '../logger';
import { connectToNode } from '../query-retrieve/remote-node';
import type { LocalIdentity, RemoteNode } from '../query-retrieve/remote-node';
import { PooledFileSource, ReadBufferPool } from './pooled-file-source';
import { checkSentFileLocation, checkStoredFile, describeUnreadableFile } from './stored-file-check';
import { emptyReport } from './report';
import type { TransferReport } from './report';

const logger = createLogger('loader.send');

/** PS3.8 allows at most 128 presentation contexts per association (IDs 1 to 255, odd). */
const MAX_CONTEXTS = 128;

const UNCOMPRESSED_FALLBACKS = [TransferSyntax.ExplicitVRLittleEndian, TransferSyntax.ImplicitVRLittleEndian];

export interface SendProgress {
  /** Instances finished, successfully or not. */
  done: number;
  /** Instances that the peer stored, with a success or warning status. */
  completed: number;
  total: number;
  sopInstanceUid: string;
}

/** Instances that went decompressed because the node accepted none of their stored transfer syntaxes. */
export interface DecompressedInstances {
  count: number;
  /** Names of the transfer syntaxes the instances are stored in. */
  storedSyntaxes: string[];
  /** Names of the transfer syntaxes the node accepted for their SOP classes. */
  acceptedSyntaxes: string[];
}

export interface SendReport extends TransferReport {
  decompressed: DecompressedInstances;
}

export interface SendOptions {
  /** Aborting stops after the instance in flight; the report's notes count the instances not sent. */
  signal?: AbortSignal;
  onProgress?: (progress: SendProgress) => void;
}

interface ContextProposal {
  abstractSyntax: string;
  transferSyntaxes: string[];
}

/** Proposals for one SOP class: each stored syntax, then the two uncompressed fallbacks. */
function proposalsFor(sopClassUid: string, storedSyntaxes: Set<string>): ContextProposal[] {
  const syntaxes = [...storedSyntaxes].filter((uid) => !UNCOMPRESSED_FALLBACKS.includes(uid as (typeof UNCOMPRESSED_FALLBACKS)[number]));
  return [...syntaxes, ...UNCOMPRESSED_FALLBACKS].map((uid) => ({ abstractSyntax: sopClassUid, transferSyntaxes: [uid] }));
}

/** Groups instances into batches whose proposals fit into one association each. */
export function planSendBatches(instances: StoredInstance[]): { proposals: ContextProposal[]; instances: StoredInstance[] }[] {
  const byClass = new Map<string, StoredInstance[]>();
  for (const instance of instances) {
    const list = byClass.get(instance.sopClassUid) ?? [];
    list.push(instance);
    byClass.set(instance.sopClassUid, list);
  }
  const batches: { proposals: ContextProposal[]; instances: StoredInstance[] }[] = [];
  let current: { proposals: ContextProposal[]; instances: StoredInstance[] } = { proposals: [], instances: [] };
  for (const [sopClassUid, members] of byClass) {
    const proposals = proposalsFor(sopClassUid, new Set(members.map((member) => member.transferSyntaxUid)));
    if (current.proposals.length + proposals.length > MAX_CONTEXTS && current.proposals.length > 0) {
      batches.push(current);
      current = { proposals: [], instances: [] };
    }
    // NOTE: a single SOP class with more than 125 stored syntaxes would exceed the limit; no real archive has that many.
    current.proposals.push(...proposals.slice(0, MAX_CONTEXTS));
    current.instances.push(...members);
  }
  if (current.instances.length > 0) batches.push(current);
  return batches;
}

function describeClass(sopClassUid: string): string {
  return describeStorageSopClass(sopClassUid)?.name ?? sopClassUid;
}

/** How to send one instance: verbatim, converted to `convertTo` (by decompressing it when `decompress` is set), or not at all. */
type Encoding = { contextId: number; convertTo?: string; decompress?: boolean } | { reason: string };

/** Chooses how to send one instance on the association: verbatim, converted, decompressed, or not at all (with the reason). */
function chooseEncoding(association: ClientAssociation, instance: StoredInstance, peer: string): Encoding {
  const verbatim = association.findContext(instance.sopClassUid, instance.transferSyntaxUid);
  if (verbatim) return { contextId: verbatim.id };
  const accepted = association.acceptedContexts.filter((context) => context.abstractSyntax === instance.sopClassUid);
  if (accepted.length === 0) return { reason: `${peer} rejected SOP class ${describeClass(instance.sopClassUid)}` };
  for (const context of accepted) {
    if (canTranscode(instance.transferSyntaxUid, context.transferSyntax)) return { contextId: context.id, convertTo: context.transferSyntax };
  }
  const decompressContext = chooseDecompressionContext(instance.sopClassUid, instance.transferSyntaxUid, accepted);
  if (decompressContext) return { contextId: decompressContext.id, convertTo: decompressContext.transferSyntax, decompress: true };
  const stored = syntaxName(instance.transferSyntaxUid);
  const offered = accepted.map((context) => syntaxName(context.transferSyntax)).join(', ');
  if (describeTransferSyntax(instance.transferSyntaxUid)?.encapsulated) {
    return { reason: `stored as ${stored}, which ${peer} does not accept (it accepts ${offered}), and the loader has no decoder for it` };
  }
  return { reason: `stored as ${stored}, which cannot be converted to ${offered}` };
}

/** Opens the data set to send: verbatim from the pool's buffers, converted, or decompressed. */
async function openDataset(instance: StoredInstance, pool: ReadBufferPool, convertTo: string | undefined, decompress = false): Promise<DatasetSource> {
  if (convertTo !== undefined) {
    const header = await checkStoredFile(instance);
    if (decompress) return decompressFile(instance.path, convertTo, instance.transferSyntaxUid);
    return transcodeFile(instance.path, header.datasetOffset, instance.transferSyntaxUid, convertTo);
  }
  // The pooled source checks the size against the index, and the meta information gives the syntax and the UIDs.
  const { source, header } = await PooledFileSource.open(instance.path, pool, { indexedSize: instance.size, noFollow: !instance.inPlace }).catch(async (error: unknown) => {
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

/** An instance with its chosen encoding and, unless it cannot be sent, its data set being opened. */
interface PreparedInstance {
  instance: StoredInstance;
  choice: Encoding;
  data?: Promise<DatasetSource>;
}

function prepareInstance(association: ClientAssociation, instance: StoredInstance, peer: string, pool: ReadBufferPool): PreparedInstance {
  const choice = chooseEncoding(association, instance, peer);
  if ('reason' in choice) return { instance, choice };
  const data = openDataset(instance, pool, choice.convertTo, choice.decompress);
  // The caller awaits it later, so a failure must not count as unhandled meanwhile.
  data.catch(() => undefined);
  return { instance, choice, data };
}

/**
 * Describes a C-STORE failure status. Statuses A700 to A7FF mean "Refused: Out
 * of Resources" (PS3.4 table B.2-1). DCMTK storescp 3.6.7, for one, returns
 * A700 when it cannot write the file, so the message names what to check.
 */
function describeStoreFailure(peer: string, status: number, comment: string): string {
  const failure = `${peer} returned status ${formatStatus(status)}`;
  if ((status & 0xff00) !== 0xa700) return `${failure}${comment}`;
  return `${failure} (out of resources)${comment}. The destination is out of resources, for example a full disk: check its storage and try again`;
}

/** Counts an instance that the node stored decompressed, with its stored syntax and the syntaxes the node accepted for its SOP class. */
function countDecompressed(decompressed: DecompressedInstances, association: ClientAssociation, instance: StoredInstance): void {
  decompressed.count++;
  const add = (names: string[], name: string) => {
    if (!names.includes(name)) names.push(name);
  };
  add(decompressed.storedSyntaxes, syntaxName(instance.transferSyntaxUid));
  for (const context of association.acceptedContexts) {
    if (context.abstractSyntax === instance.sopClassUid) add(decompressed.acceptedSyntaxes, syntaxName(context.transferSyntax));
  }
}

/** Releases the data set of a prepared instance that will not be sent on its association. */
function discardPrepared(prepared: PreparedInstance | undefined): void {
  void prepared?.data?.then(
    (data) => {
      if (!Buffer.isBuffer(data)) data.destroy();
    },
    () => undefined,
  );
}

/**
 * Sends the instances to the node and reports each failure with its reason.
 * Associations are released at the end; a lost association is reopened once
 * per batch for the instances still to send.
 */
export async function sendInstances(node: RemoteNode, local: LocalIdentity, instances: StoredInstance[], options: SendOptions = {}): Promise<SendReport> {
  const report: SendReport = { ...emptyReport(instances.length), decompressed: { count: 0, storedSyntaxes: [], acceptedSyntaxes: [] } };
  const pool = new ReadBufferPool();
  let done = 0;
  const finish = (instance: StoredInstance) => {
    done++;
    options.onProgress?.({ done, completed: report.completed, total: instances.length, sopInstanceUid: instance.sopInstanceUid });
  };

  for (const batch of planSendBatches(instances)) {
    const remaining = [...batch.instances];
    let reconnects = 0;
    while (remaining.length > 0) {
      if (options.signal?.aborted) break;
      let association: ClientAssociation;
      try {
        association = await connectToNode(node, local, batch.proposals);
      } catch (error) {
        // A PresentationContextsRejectedError already names each proposed SOP class, its transfer syntaxes and the peer's result.
        const reason = `association with ${node.name} failed: ${(error as Error).message}`;
        for (const instance of remaining.splice(0)) {
          report.failures.push({ sopInstanceUid: instance.sopInstanceUid, reason });
          finish(instance);
        }
        break;
      }

      let lost = false;
      // The next instance's data set is read while the peer stores the current one.
      let prefetched: PreparedInstance | undefined;
      while (remaining.length > 0 && !options.signal?.aborted) {
        const instance = remaining.shift()!;
        const prepared = prefetched?.instance === instance ? prefetched : prepareInstance(association, instance, node.name, pool);
        prefetched = undefined;
        const choice = prepared.choice;
        if ('reason' in choice) {
          report.failures.push({ sopInstanceUid: instance.sopInstanceUid, reason: choice.reason });
          finish(instance);
          continue;
        }
        try {
          const data = await prepared.data!;
          const storing = association.store({ contextId: choice.contextId, sopClassUid: instance.sopClassUid, sopInstanceUid: instance.sopInstanceUid, data });
          if (remaining.length > 0 && !options.signal?.aborted) prefetched = prepareInstance(association, remaining[0], node.name, pool);
          const result = await storing;
          const kind = statusClass(result.status);
          const comment = result.errorComment ? `: ${result.errorComment}` : '';
          if (kind === 'success' || kind === 'warning') report.completed++;
          if ((kind === 'success' || kind === 'warning') && choice.decompress) countDecompressed(report.decompressed, association, instance);
          if (kind === 'warning') report.warnings.push({ sopInstanceUid: instance.sopInstanceUid, status: result.status, reason: `warning status ${formatStatus(result.status)}${comment}` });
          if (kind === 'failure') report.failures.push({ sopInstanceUid: instance.sopInstanceUid, status: result.status, reason: describeStoreFailure(node.name, result.status, comment) });
        } catch (error) {
          report.failures.push({ sopInstanceUid: instance.sopInstanceUid, reason: (error as Error).message });
          if (error instanceof AssociationClosedError || !association.isOpen) lost = true;
        }
        finish(instance);
        if (lost) break;
      }
      discardPrepared(prefetched);

      if (!lost) {
        await association.release().catch((error: Error) => logger.warn('Release failed after sending', { node: node.name, error: error.message }));
        continue;
      }
      reconnects++;
      if (reconnects > 1) {
        for (const instance of remaining.splice(0)) {
          report.failures.push({ sopInstanceUid: instance.sopInstanceUid, reason: `not sent: the association with ${node.name} ended twice` });
          finish(instance);
        }
      } else {
        logger.warn('Association lost while sending; reconnecting', { node: node.name, remaining: remaining.length });
      }
    }
  }

  if (options.signal?.aborted && done < instances.length) {
    report.notes.push(`cancelled: ${instances.length - done} instances were not sent`);
  }
  logger.info('Send finished', { node: node.name, total: report.total, completed: report.completed, failed: report.failures.length, warnings: report.warnings.length });
  return report;
}
