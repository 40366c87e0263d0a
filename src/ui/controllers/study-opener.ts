/**
 * Brings a study from a PACS or an SSH panel into a local archive so that the
 * study viewer can open it: a PACS study is retrieved with C-GET or C-MOVE, and
 * SSH files are downloaded and imported. Both go into the viewer's cache
 * archive, so viewing never adds studies to the archive of the Local panels.
 * It imports nothing from Qt, so tests drive it without a display.
 */
import type { LocalArchive } from '../../services/archive';
import { createLogger } from '../../services/logger';
import type { RemoteNode, RetrieveMethod } from '../../services/query-retrieve';
import type { Translate } from '../i18n';
import type { PanelConnection, TransferFailure, TransferProgress, TransferResult } from './app-controller';
import { copyStudies } from './media-import';
import { sshProgressText } from './ssh-panel-controller';
import type { SshConnection, SshFetchProgress, SshFetchResult } from './ssh-panel-controller';

const log = createLogger('loader.ui.viewer');

/** A study in a local archive, ready for the viewer. */
export interface LocalStudy {
  archiveRoot: string;
  studyInstanceUid: string;
  /** Instances that did not arrive and other problems of the retrieve or download; empty when all went well. */
  failures: TransferFailure[];
}

/** Progress of bringing a study in: a retrieve from a PACS or a download from SSH. */
export type OpenProgress = { source: 'pacs'; progress: TransferProgress } | { source: 'ssh'; progress: SshFetchProgress };

/** Selection of a panel: its first selected study, or the selected remote paths of an SSH panel. */
export interface PanelSelection {
  studyInstanceUid?: string;
  remotePaths?: string[];
}

/** The study to show and how many studies the selection contained (more than 1 only for SSH files). */
export interface OpenedStudy {
  study: LocalStudy;
  studiesFound: number;
}

/** Returns the status bar text and percentage while a study is brought in for the viewer. */
export function openProgressText(t: Translate, event: OpenProgress): { text: string; percent: number } {
  if (event.source === 'ssh') return sshProgressText(t, event.progress);
  const { instancesDone, instancesTotal } = event.progress;
  const percent = instancesTotal ? Math.min(100, Math.round((instancesDone / instancesTotal) * 100)) : 0;
  return { text: t('viewer.retrieving', { instances: instancesDone, percent }), percent };
}

/** Raised when no instance of the requested study arrived; the message lists the reasons. */
export class StudyRetrieveError extends Error {
  override readonly name = 'StudyRetrieveError';

  constructor(
    message: string,
    readonly failures: TransferFailure[],
  ) {
    super(message);
  }
}

/** The services the opener uses; AppController and SshPanelController provide them. */
export interface StudyOpenerServices {
  /** Root folder of the viewer's cache archive. */
  cacheRoot: string;
  openArchive(root: string): LocalArchive;
  retrieveToLocal(node: RemoteNode, archive: LocalArchive, studyUids: string[], method: RetrieveMethod, onProgress: (progress: TransferProgress) => void): Promise<TransferResult>;
  fetchIntoArchive(connection: SshConnection, remotePaths: string[], archive: LocalArchive, onProgress: (progress: SshFetchProgress) => void): Promise<SshFetchResult>;
}

/** Returns the reasons of a failed transfer as one line, at most three of them. */
function summarize(failures: TransferFailure[]): string {
  const reasons = failures.slice(0, 3).map((failure) => (failure.uid === '' ? failure.reason : `${failure.uid}: ${failure.reason}`));
  const more = failures.length > 3 ? ` (and ${failures.length - 3} more)` : '';
  return reasons.join('; ') + more;
}

export class StudyOpener {
  constructor(private readonly services: StudyOpenerServices) {}

  get cacheRoot(): string {
    return this.services.cacheRoot;
  }

  /**
   * Returns the local study to open for a panel's selection. For a Local
   * panel it is the study itself, and for a PACS panel a retrieved copy
   * (C-GET first, C-MOVE when the node rejects it). For an SSH panel it is the
   * first imported study. Returns undefined when nothing is selected. Raises
   * StudyRetrieveError, or SshError for SSH connection failures.
   */
  async open(connection: PanelConnection, selection: PanelSelection, onProgress: (event: OpenProgress) => void): Promise<OpenedStudy | undefined> {
    if (connection.kind === 'ssh') {
      if (!selection.remotePaths || selection.remotePaths.length === 0) return undefined;
      const studies = await this.fromSsh(connection.ssh, selection.remotePaths, (progress) => onProgress({ source: 'ssh', progress }));
      return { study: studies[0], studiesFound: studies.length };
    }
    const studyInstanceUid = selection.studyInstanceUid;
    if (studyInstanceUid === undefined) return undefined;
    if (connection.kind === 'local' && connection.archive.inMemoryIndex) return { study: await this.fromMedia(connection.archive, studyInstanceUid), studiesFound: 1 };
    if (connection.kind === 'local') return { study: { archiveRoot: connection.root, studyInstanceUid, failures: [] }, studiesFound: 1 };
    const study = await this.fromPacs(connection.node, studyInstanceUid, 'get', (progress) => onProgress({ source: 'pacs', progress }));
    return { study, studiesFound: 1 };
  }

  /**
   * Copies a study of a disc or USB folder, whose index is only in memory,
   * into the cache archive, because the viewer opens the archive at a folder
   * again and must not write an index to the media.
   * Raises StudyRetrieveError when the cache contains no instance of the study afterwards.
   */
  async fromMedia(media: LocalArchive, studyInstanceUid: string): Promise<LocalStudy> {
    const archive = this.services.openArchive(this.cacheRoot);
    const result = await copyStudies(media, archive, [studyInstanceUid], () => undefined);
    if (archive.listInstances({ studyInstanceUid }).length === 0) {
      log.warn('study copy from a disc for the viewer failed', { folder: media.root, study: studyInstanceUid, failures: result.failures.length });
      throw new StudyRetrieveError(`copying study ${studyInstanceUid} from ${media.root} failed: ${summarize(result.failures)}`, result.failures);
    }
    return { archiveRoot: this.cacheRoot, studyInstanceUid, failures: result.failures };
  }

  /**
   * Retrieves a study from a node into the cache archive and returns where
   * the viewer finds it. Instances already in the cache arrive again as
   * duplicates, so a study that grew on the node is complete after each open.
   * Raises StudyRetrieveError when the cache contains no instance of the study afterwards.
   */
  async fromPacs(node: RemoteNode, studyInstanceUid: string, method: RetrieveMethod, onProgress: (progress: TransferProgress) => void): Promise<LocalStudy> {
    const archive = this.services.openArchive(this.cacheRoot);
    let result: TransferResult;
    try {
      result = await this.services.retrieveToLocal(node, archive, [studyInstanceUid], method, onProgress);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      log.warn('retrieve for the viewer failed', { node: node.name, study: studyInstanceUid, error: reason });
      throw new StudyRetrieveError(`retrieving study ${studyInstanceUid} from ${node.name} failed: ${reason}`, [{ uid: studyInstanceUid, reason }]);
    }
    if (archive.listInstances({ studyInstanceUid }).length === 0) {
      const reason = result.failures.length > 0 ? summarize(result.failures) : 'the node sent no instance';
      throw new StudyRetrieveError(`retrieving study ${studyInstanceUid} from ${node.name} failed: ${reason}`, result.failures);
    }
    log.info('study retrieved for the viewer', { node: node.name, study: studyInstanceUid, instances: result.instances, failures: result.failures.length });
    return { archiveRoot: this.cacheRoot, studyInstanceUid, failures: result.failures };
  }

  /**
   * Downloads remote files or folders, imports them into the cache archive and
   * returns the studies they contain, in the order the import met them.
   * Raises StudyRetrieveError when no DICOM file was imported.
   */
  async fromSsh(connection: SshConnection, remotePaths: string[], onProgress: (progress: SshFetchProgress) => void): Promise<LocalStudy[]> {
    const archive = this.services.openArchive(this.cacheRoot);
    const result = await this.services.fetchIntoArchive(connection, remotePaths, archive, onProgress);
    if (result.studyInstanceUids.length === 0) {
      throw new StudyRetrieveError(`no study could be opened from ${remotePaths.join(', ')}: ${summarize(result.failures)}`, result.failures);
    }
    return result.studyInstanceUids.map((studyInstanceUid) => ({ archiveRoot: this.cacheRoot, studyInstanceUid, failures: result.failures }));
  }
}
