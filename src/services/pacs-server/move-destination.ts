/**
 * The outgoing association of a C-MOVE: this server acts as a Storage SCU
 * towards the move destination registered in settings.
 */

import { canDecompress, chooseDecompressionContext, decompressFile } from '../../dicom/decompress';
import { AssociationRejectedError, connect } from '../../dicom/network';
import type { AcceptedContext, ClientAssociation, DatasetSource, DimseResult } from '../../dicom/network';
import { canTranscode } from '../../dicom/transcode';
import { describeTransferSyntax, LOADER_IMPLEMENTATION_CLASS_UID, LOADER_IMPLEMENTATION_VERSION_NAME, TransferSyntax } from '../../dicom/uid';
import type { StoredInstance } from '../archive';
import type { Logger } from '../logger';
import { DEFAULT_NODE_TIMEOUTS } from '../settings/settings-types';
import type { PacsNode } from '../settings/settings-types';
import { checkStoredFile } from '../transfers/stored-file-check';
import { chooseContext, openStoredDataset } from './stored-dataset';
import { explainRejection, userIdentityForNode } from './user-identity';

/** PS3.8 section 9.3.2.2: at most 128 presentation contexts (odd IDs 1-255) per association. */
const MAX_PRESENTATION_CONTEXTS = 128;

/** Uncompressed syntaxes proposed for each SOP class, for instances the destination does not accept as stored. */
const FALLBACK_TRANSFER_SYNTAXES = [TransferSyntax.ExplicitVRLittleEndian, TransferSyntax.ImplicitVRLittleEndian];

interface ContextProposal {
  abstractSyntax: string;
  transferSyntaxes: string[];
}

/**
 * Proposes, for each SOP class, one context per stored transfer syntax, so
 * that each instance can go verbatim, and one context with the uncompressed
 * syntaxes that the converter produces. Beyond 128 contexts, stored-syntax
 * contexts that the fallback covers are dropped first.
 */
export function proposeStorageContexts(instances: StoredInstance[]): ContextProposal[] {
  const syntaxesBySopClass = new Map<string, Set<string>>();
  for (const instance of instances) {
    const syntaxes = syntaxesBySopClass.get(instance.sopClassUid) ?? new Set<string>();
    syntaxes.add(instance.transferSyntaxUid);
    syntaxesBySopClass.set(instance.sopClassUid, syntaxes);
  }

  const contexts: (ContextProposal & { coveredByFallback: boolean })[] = [];
  for (const [sopClassUid, syntaxes] of syntaxesBySopClass) {
    for (const syntax of syntaxes) {
      const coveredByFallback = FALLBACK_TRANSFER_SYNTAXES.some((target) => canTranscode(syntax, target));
      contexts.push({ abstractSyntax: sopClassUid, transferSyntaxes: [syntax], coveredByFallback });
    }
    contexts.push({ abstractSyntax: sopClassUid, transferSyntaxes: [...FALLBACK_TRANSFER_SYNTAXES], coveredByFallback: false });
  }

  let proposals = contexts;
  if (proposals.length > MAX_PRESENTATION_CONTEXTS) {
    let excess = proposals.length - MAX_PRESENTATION_CONTEXTS;
    proposals = proposals.filter((context) => {
      if (excess > 0 && context.coveredByFallback) {
        excess -= 1;
        return false;
      }
      return true;
    });
  }
  // NOTE: a study that still needs more than 128 contexts needs several associations.
  // The instances of the contexts cut here fail with a reason that names their transfer syntax.
  return proposals.slice(0, MAX_PRESENTATION_CONTEXTS).map(({ abstractSyntax, transferSyntaxes }) => ({ abstractSyntax, transferSyntaxes }));
}

/** The context and data set of one C-STORE sub-operation, or the reason it cannot be sent. */
export type SubOperationData = { contextId: number; data: DatasetSource } | { failure: string };

/**
 * Chooses the accepted context for a C-STORE sub-operation of C-MOVE or C-GET
 * and opens the data set for it, verbatim or converted as chooseContext decides.
 * Failing that, a compressed instance is decompressed when the peer accepted
 * Explicit or Implicit VR Little Endian for its SOP class. Rejects when the
 * file cannot be read, differs from its index row (see checkStoredFile), or
 * its first frame cannot be decoded.
 */
export async function openSubOperationData(instance: StoredInstance, accepted: readonly AcceptedContext[], log: Logger): Promise<SubOperationData> {
  const choice = chooseContext(instance, accepted);
  if (!('failure' in choice)) {
    return { contextId: choice.context.id, data: await openStoredDataset(instance, choice.context.transferSyntax, log) };
  }
  const decompressContext = chooseDecompressionContext(instance.sopClassUid, instance.transferSyntaxUid, accepted);
  if (!decompressContext) {
    const noDecoder = describeTransferSyntax(instance.transferSyntaxUid)?.encapsulated && !canDecompress(instance.transferSyntaxUid);
    return { failure: noDecoder ? `${choice.failure}, and the loader has no decoder for it` : choice.failure };
  }
  await checkStoredFile(instance);
  log.debug('decompressing instance for sending', {
    sopInstanceUid: instance.sopInstanceUid,
    storedTransferSyntax: instance.transferSyntaxUid,
    sentTransferSyntax: decompressContext.transferSyntax,
  });
  const data = await decompressFile(instance.path, decompressContext.transferSyntax, instance.transferSyntaxUid);
  return { contextId: decompressContext.id, data };
}

export class MoveDestinationSender {
  private association?: ClientAssociation;

  constructor(
    private readonly destination: PacsNode,
    private readonly callingAeTitle: string,
    private readonly instances: StoredInstance[],
    private readonly log: Logger,
  ) {}

  async open(): Promise<void> {
    const timeouts = { ...DEFAULT_NODE_TIMEOUTS, ...this.destination.timeouts };
    // Read on every C-MOVE, so a password changed in the keychain applies without a restart.
    // NOTE: a locked keyring delays the C-MOVE by up to KEYCHAIN_TIMEOUT_MS; LOADER_SECRET_<NAME> avoids the keychain.
    const userIdentity = await userIdentityForNode(this.destination, this.log);
    const options = {
      host: this.destination.host,
      port: this.destination.port,
      callingAeTitle: this.callingAeTitle,
      calledAeTitle: this.destination.aeTitle,
      contexts: proposeStorageContexts(this.instances),
      implementationClassUid: LOADER_IMPLEMENTATION_CLASS_UID,
      implementationVersionName: LOADER_IMPLEMENTATION_VERSION_NAME,
      userIdentity,
      timeouts: {
        connectMs: timeouts.connectSeconds * 1000,
        associationMs: timeouts.associationSeconds * 1000,
        dimseMs: timeouts.dimseSeconds * 1000,
      },
    };
    try {
      this.association = await connect(options);
    } catch (error) {
      if (error instanceof AssociationRejectedError) throw explainRejection(error, this.destination.name, userIdentity);
      throw error;
    }
  }

  /** False before open() and once the destination association is released, aborted or lost. */
  get isOpen(): boolean {
    return this.association?.isOpen ?? false;
  }

  async send(instance: StoredInstance, moveOriginator: { aeTitle: string; messageId: number }): Promise<DimseResult> {
    const association = this.association;
    if (!association) throw new Error('association to the move destination is not open');

    const prepared = await openSubOperationData(instance, association.acceptedContexts, this.log);
    if ('failure' in prepared) {
      return { status: 0xa702, errorComment: `${this.destination.aeTitle} accepted no context that fits ${instance.sopClassUid}; ${prepared.failure}` };
    }
    return association.store({
      contextId: prepared.contextId,
      sopClassUid: instance.sopClassUid,
      sopInstanceUid: instance.sopInstanceUid,
      data: prepared.data,
      moveOriginator,
    });
  }

  async close(): Promise<void> {
    // An association that the destination aborted or dropped has nothing left to release.
    if (!this.association?.isOpen) return;
    try {
      await this.association.release();
    } catch (error) {
      this.log.warn('release of the C-MOVE association failed; aborted it', {
        calledAeTitle: this.destination.aeTitle,
        error: (error as Error).message,
      });
      this.association.abort();
    }
  }
}
