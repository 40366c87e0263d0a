/**
 * The loader's PACS server: a DICOM SCP for Verification, Storage and
 * Query/Retrieve (FIND, MOVE, GET) backed by the local archive.
 */
import { DicomServer } from '../../dicom/network';
import { loadDataDictionary } from '../../dicom/tags';
import type { RequestContext } from '../../dicom/network';
import { LOADER_IMPLEMENTATION_CLASS_UID, LOADER_IMPLEMENTATION_VERSION_NAME } from '../../dicom/uid';
import type { LocalArchive } from '../archive';
import { createLogger } from '../logger';
import type { PacsNode, PacsSettings } from '../settings/settings-types';
import { decideAssociation, rejectCallingAeTitle } from './association-policy';
import { checkCallingHost } from './calling-host';
import { AssociationReceipts } from './association-receipts';
import { createFindHandler } from './find-service';
import { createGetHandler, createMoveHandler } from './retrieve-service';
import { createStoreHandler } from './store-service';
import type { ReceivedInstance } from './store-service';
import type { ServerAccounts } from './user-identity';

const log = createLogger('loader.server');

export interface PacsServerOptions {
  /**
   * Whether start() loads the data dictionary before listening, so the first
   * C-STORE of implicit VR data does not wait 40 to 70 ms for it (see
   * loadDataDictionary). `loader serve` sets it. The desktop window leaves it
   * off, because there the load added about 55 ms and 12 MiB to its start.
   */
  loadDictionaryAtStart?: boolean;
  settings: PacsSettings;
  archive: LocalArchive;
  /** Registered nodes; read on every association so that registry edits apply at once. */
  listNodes(): PacsNode[];
  /** Accounts checked against the user identity of each association; required when settings.requireUserIdentity is on. */
  accounts?: ServerAccounts;
  /**
   * Called after each received instance that the archive stored, already had or kept aside as a conflict, with that
   * outcome in the event; see createStoreHandler. A listener that reacts to changes of the archive's listing checks for 'stored'.
   */
  onInstanceReceived?: (instance: ReceivedInstance) => void;
  /**
   * Called after each association that the association policy rejected (calling or called AE title, user identity),
   * once the rejection is logged. Rejections by the network layer, such as the association limit, are not reported.
   */
  onAssociationRejected?: (rejection: AssociationRejection) => void;
}

/** An association that the server rejected. */
export interface AssociationRejection {
  callingAeTitle: string;
  calledAeTitle: string;
  remoteAddress: string;
  remotePort: number;
  /** A-ASSOCIATE-RJ reason of the service user (PS3.8 9.3.4): 1 no reason given, 3 calling AE title not recognized, 7 called AE title not recognized. */
  reason: number;
  /** The English log message, with the reason in words. */
  message: string;
}

export class PacsServer {
  private readonly server: DicomServer;

  constructor(private readonly options: PacsServerOptions) {
    const { settings, archive } = options;
    const findNodeByAeTitle = (aeTitle: string) => options.listNodes().find((node) => node.aeTitle === aeTitle);
    const accounts = settings.requireUserIdentity ? options.accounts : undefined;
    if (settings.requireUserIdentity && accounts === undefined) {
      throw new Error('pacs.requireUserIdentity is on, but no server accounts were loaded');
    }

    // A failing listener must not change the server's response to the association request.
    const notifyRejected = (rejection: AssociationRejection) => {
      try {
        options.onAssociationRejected?.(rejection);
      } catch (error) {
        log.error('association rejection listener failed', { callingAeTitle: rejection.callingAeTitle, error: error instanceof Error ? error.message : String(error) });
      }
    };

    const receipts = new AssociationReceipts(log, archive.legacyCharacterSet, archive.legacyCharacterSetSource);
    this.server = new DicomServer({
      aeTitle: settings.aeTitle,
      implementationClassUid: LOADER_IMPLEMENTATION_CLASS_UID,
      implementationVersionName: LOADER_IMPLEMENTATION_VERSION_NAME,
      maxAssociations: settings.maxAssociations,
      maxAssociationsPerAe: settings.maxAssociationsPerAe,
      decide: async (request) => {
        let decision = decideAssociation(request, {
          aeTitle: settings.aeTitle,
          acceptAnyCallingAeTitle: settings.acceptAnyCallingAeTitle,
          checkCalledAeTitle: settings.checkCalledAeTitle,
          isRegisteredAeTitle: (aeTitle) => findNodeByAeTitle(aeTitle) !== undefined,
          listStoredTransferSyntaxes: (sopClassUid) => listStoredTransferSyntaxes(archive, sopClassUid, request.callingAeTitle.trim()),
          checkUserIdentity: accounts
            ? (identity) => {
                const check = accounts.check(identity);
                if (check.accepted) log.info('user identity accepted', { callingAeTitle: request.callingAeTitle, username: check.username });
                return check;
              }
            : undefined,
        });
        const callingAeTitle = request.callingAeTitle.trim();
        const callingNodes = decision.accept && settings.checkCallingAeHost ? options.listNodes().filter((node) => node.aeTitle === callingAeTitle) : [];
        if (callingNodes.length > 0) {
          const check = await checkCallingHost(callingAeTitle, request.remoteAddress, callingNodes);
          if (!check.accepted) decision = rejectCallingAeTitle(check.logMessage);
        }
        // The network layer logs the rejection with both AE titles, the address and the reason, and counts repeats.
        if (!decision.accept) {
          notifyRejected({
            callingAeTitle: request.callingAeTitle.trim(),
            calledAeTitle: request.calledAeTitle.trim(),
            remoteAddress: request.remoteAddress,
            remotePort: request.remotePort,
            reason: decision.reason,
            message: decision.logMessage,
          });
        }
        return decision;
      },
      handlers: {
        echo: async (context: RequestContext) => {
          log.info('C-ECHO', { callingAeTitle: context.association.callingAeTitle });
          return { status: 0x0000 };
        },
        store: createStoreHandler(archive, log.child('store'), options.onInstanceReceived, receipts),
        find: createFindHandler(archive, settings.aeTitle, log.child('find')),
        move: createMoveHandler({ archive, aeTitle: settings.aeTitle, findDestination: findNodeByAeTitle, log: log.child('move') }),
        get: createGetHandler({ archive, aeTitle: settings.aeTitle, findDestination: findNodeByAeTitle, log: log.child('get') }),
      },
    });
    this.server.on('associationEnd', (end: { id: string; reason: string }) => receipts.end(end.id, end.reason));
  }

  async start(): Promise<{ host: string; port: number }> {
    const { host, port, aeTitle } = this.options.settings;
    if (this.options.loadDictionaryAtStart) loadDataDictionary();
    const address = await this.server.listen(port, host);
    log.info('listening', {
      aeTitle,
      host: address.host,
      port: address.port,
      userIdentity: this.options.settings.requireUserIdentity ? `required (${this.options.accounts?.size ?? 0} accounts)` : 'not required',
    });
    return address;
  }

  /** Stops accepting associations, lets in-flight operations finish, then closes. */
  async stop(timeoutMs = 30_000): Promise<void> {
    log.info('stopping: no new associations; waiting for in-flight operations', { timeoutMs });
    await this.server.close({ timeoutMs });
    log.info('stopped');
  }
}

/**
 * Lists the transfer syntaxes the archive stores instances of `sopClassUid` in,
 * for choosing the syntax of a C-GET context. Returns undefined, and logs why,
 * when the index cannot be read, so that the context gets an uncompressed syntax.
 */
function listStoredTransferSyntaxes(archive: LocalArchive, sopClassUid: string, callingAeTitle: string): string[] | undefined {
  try {
    return archive.catalog.listTransferSyntaxes(sopClassUid);
  } catch (error) {
    log.warn('listing the stored transfer syntaxes of a SOP class failed, so its C-GET context gets an uncompressed syntax where proposed', {
      callingAeTitle,
      sopClassUid,
      error: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  }
}
