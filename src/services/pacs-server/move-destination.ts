/**
 * The outgoing association of a C-MOVE: this server acts as a Storage SCU
 * towards the move destination registered in settings.
 */
import { connect } from '../../dicom/network';
import type { ClientAssociation, DimseResult } from '../../dicom/network';
import { LOADER_IMPLEMENTATION_CLASS_UID, LOADER_IMPLEMENTATION_VERSION_NAME } from '../../dicom/uid';
import type { StoredInstance } from '../archive';
import type { Logger } from '../logger';
import { DEFAULT_NODE_TIMEOUTS } from '../settings/settings-types';
import type { PacsNode } from '../settings/settings-types';
import { openStoredDataset } from './stored-dataset';

/** PS3.8 section 9.3.2.2: at most 128 presentation contexts (odd IDs 1-255) per association. */
const MAX_PRESENTATION_CONTEXTS = 128;

/**
 * Proposes one context per SOP class and stored transfer syntax, so that each
 * instance can go verbatim. Uncompressed fallbacks are not proposed because
 * nothing here can transcode yet.
 */
export function proposeStorageContexts(instances: StoredInstance[]) {
  const seen = new Set<string>();
  const contexts: { abstractSyntax: string; transferSyntaxes: string[] }[] = [];
  for (const instance of instances) {
    const key = `${instance.sopClassUid}|${instance.transferSyntaxUid}`;
    if (seen.has(key)) continue;
    seen.add(key);
    contexts.push({ abstractSyntax: instance.sopClassUid, transferSyntaxes: [instance.transferSyntaxUid] });
  }
  if (contexts.length > MAX_PRESENTATION_CONTEXTS) {
    // NOTE: a study mixing more than 128 SOP class and syntax pairs needs several associations.
    return contexts.slice(0, MAX_PRESENTATION_CONTEXTS);
  }
  return contexts;
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
    this.association = await connect({
      host: this.destination.host,
      port: this.destination.port,
      callingAeTitle: this.callingAeTitle,
      calledAeTitle: this.destination.aeTitle,
      contexts: proposeStorageContexts(this.instances),
      implementationClassUid: LOADER_IMPLEMENTATION_CLASS_UID,
      implementationVersionName: LOADER_IMPLEMENTATION_VERSION_NAME,
      timeouts: {
        connectMs: timeouts.connectSeconds * 1000,
        associationMs: timeouts.associationSeconds * 1000,
        dimseMs: timeouts.dimseSeconds * 1000,
      },
    });
  }

  async send(instance: StoredInstance, moveOriginator: { aeTitle: string; messageId: number }): Promise<DimseResult> {
    const association = this.association;
    if (!association) throw new Error('association to the move destination is not open');

    const context = association.findContext(instance.sopClassUid, instance.transferSyntaxUid);
    if (!context) {
      // NOTE: transcoding to a syntax the destination accepts is not implemented yet.
      return {
        status: 0xa702,
        errorComment: `${this.destination.aeTitle} rejected ${instance.transferSyntaxUid}`.slice(0, 64),
      };
    }
    return association.store({
      contextId: context.id,
      sopClassUid: instance.sopClassUid,
      sopInstanceUid: instance.sopInstanceUid,
      data: openStoredDataset(instance),
      moveOriginator,
    });
  }

  async close(): Promise<void> {
    if (!this.association) return;
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
