/**
 * Glue between the window and the services: connects panels to PACS nodes,
 * local archives and SSH workstations, searches them, runs transfers and the
 * loader's own PACS server. It imports nothing from Qt, so tests drive it
 * without a display.
 */
import fs from 'node:fs';
import path from 'node:path';

import envPaths from 'env-paths';

import type { LegacyCharacterSet } from '../../dicom/charset';
import { deleteStudiesWithDeleteAccess, LocalArchive } from '../../services/archive';
import type { DeletionPlan, DeletionReport, StudySummary } from '../../services/archive';
import { matchSearchText } from '../../services/archive/query-matching';
import { LicenseError, LicenseService } from '../../services/license';
import type { LicenseStatus } from '../../services/license';
import { createLogger } from '../../services/logger';
import { PacsServer } from '../../services/pacs-server/pacs-server';
import { NodeCredentials } from '../../services/pacs-server/user-identity';
import { echoNode, findStudies, localIdentityFromSettings, remoteNodeFromAddress, remoteNodeFromSettings, retrieveStudies } from '../../services/query-retrieve';
import type { LocalIdentity, RemoteNode, RetrieveMethod, RetrieveReport, StudyFilters, StudyRetrieveReport } from '../../services/query-retrieve';
import { ServerAccounts } from '../../services/pacs-server/user-identity';
import type { LegacyCharacterSetSource } from '../../services/archive/legacy-charset-notice';
import { resolveConfigDir, SettingsStore } from '../../services/settings/settings-store';
import { rejectInvalidAccessSettings } from '../../services/settings/access-settings';
import type { InterfaceSettings, PacsNode, PacsSettings } from '../../services/settings/settings-types';
import { KeychainSecretStore } from '../../services/secrets';
import type { SecretStore } from '../../services/secrets';
import type { SshNode } from '../../services/settings/settings-types';
import { KnownHostsFile } from '../../services/ssh';
import { sendInstances } from '../../services/transfers';
import { translator } from '../i18n';
import { ArchiveChangeNotifier } from './archive-changes';
import { KeptAsideInstances } from './kept-aside';
import { RejectedCallers } from './rejected-callers';
import { copyStudies, importFolder, isMediaFolder, sum, summarizeScan, type ImportSummary } from './media-import';
import { addServerDeliveries, ServerDeliveries } from './server-deliveries';
import { SshPanelController } from './ssh-panel-controller';
import type { SshConnection } from './ssh-panel-controller';
import { StudyOpener } from './study-opener';

const log = createLogger('loader.ui');

/** One row of a panel's study table, from a C-FIND match or the archive index. */
export interface StudyRow {
  studyInstanceUid: string;
  patientName: string;
  /** Patient ID (0010,0020) as stored or returned by C-FIND, which may be empty. */
  patientId: string;
  patientBirthDate: string;
  modalities: string;
  /** Study Date as the table shows it: YYYY-MM-DD, or the stored text when it is not a DA value. */
  studyDate: string;
  /** Study Time (0008,0030) as a TM value, which may be empty; it orders the studies of one date. */
  studyTime: string;
  /** Number of Study Related Instances; undefined when a node did not return it. */
  numberOfInstances?: number;
  studyDescription: string;
}

export interface PacsConnectionInput {
  host: string;
  port: string;
  aeTitle: string;
  login: string;
  password: string;
}

export type PanelConnection =
  | { kind: 'pacs'; node: RemoteNode; label: string }
  | { kind: 'local'; archive: LocalArchive; root: string; label: string }
  | { kind: 'ssh'; ssh: SshConnection; label: string };

export interface TransferProgress {
  studiesDone: number;
  studiesTotal: number;
  /** Instances received or sent so far; failed ones are not counted. */
  instancesDone: number;
  /** Instances expected in total; undefined while unknown. */
  instancesTotal?: number;
}

export interface TransferFailure {
  /** Study Instance UID, SOP Instance UID for an instance that failed, or the path of a file that a deletion did not remove. */
  uid: string;
  reason: string;
}

/** Counts of a scan of a Local panel's folder, from the archive's ScanReport. */
export interface ScanSummary {
  /** Files examined, special files included; missing files are not counted. */
  scanned: number;
  /** Files indexed now, and files indexed before that were indexed again because they changed. */
  indexed: number;
  /** Files whose instance the archive already had with the same data set: its own files, files indexed before, and copies of them. */
  duplicates: number;
  /** DICOM files that could not be parsed or lack a valid UID. */
  damaged: number;
  /** Files and folders that the file system failed to open or list. */
  unreadable: number;
  notDicom: number;
  /** Files left unindexed because the archive has another data set under their SOP Instance UID, or their study under another Patient ID. */
  conflicts: number;
  /** Files that a DICOMDIR references but that do not exist. */
  missing: number;
  /** FIFOs, sockets and device files, which the scan does not open. */
  specialFiles: number;
  /** Files in the folder of a DICOMDIR that none of its records reference; the scan does not read them. */
  unreferenced: number;
  /** Those of the unreferenced files that start with a DICM prefix, so the DICOMDIR may lack their records. */
  unreferencedDicomLike: number;
}

export interface TransferResult {
  instances: number;
  failures: TransferFailure[];
  outcome: 'success' | 'partial' | 'failure';
}

export interface ServerState {
  running: boolean;
  host?: string;
  port?: number;
  aeTitle?: string;
  error?: string;
}

/** A registered location shown by the Fill dialog. */
export interface LocationEntry {
  kind: 'pacs' | 'local' | 'ssh';
  name: string;
  description: string;
  node?: PacsNode;
  sshNode?: SshNode;
}

export interface AppControllerOptions {
  configDir?: string;
  /** Archive root of a new Local panel and of the PACS server. */
  archiveRoot: string;
  /**
   * The user's cache folder: SSH downloads are staged in its ssh-staging
   * folder, as `loader ssh get` stages them, and studies opened from PACS or
   * SSH panels go to the archive in its viewer-archive folder. Default: the
   * cache folder of env-paths, ~/.cache/sciberia-loader on Linux.
   */
  cacheDir?: string;
  /** Store of the passwords of registered SSH locations; default: the OS keychain. */
  secretStore?: SecretStore;
  /** Time to connect and log in over SSH, in milliseconds; default: the SSH service's default. */
  sshTimeoutMs?: number;
  /** --legacy-charset of `loader start`, which overrides pacs.legacyCharacterSet; default: the stored setting. */
  legacyCharacterSet?: LegacyCharacterSet;
}

export class AppController {
  readonly settings: SettingsStore;
  readonly license: LicenseService;
  private server?: PacsServer;
  private serverArchive?: LocalArchive;
  readonly ssh: SshPanelController;
  readonly studyOpener: StudyOpener;
  /** Instances that the loader's PACS server stores, collected so Local panels list the archive again at most once per ARCHIVE_CHANGE_DELAY_MS. */
  readonly archiveChanges = new ArchiveChangeNotifier();
  /** Associations that the loader's PACS server rejected, one notice per calling AE title. */
  readonly rejectedCallers = new RejectedCallers();
  readonly keptAside = new KeptAsideInstances();
  /** Instances that the loader's PACS server receives, for a C-MOVE retrieve whose node sends them there. */
  private readonly serverDeliveries = new ServerDeliveries();
  private readonly openArchives = new Map<string, LocalArchive>();
  /** Archives that a scan, import, transfer or deletion uses now, with the number of such operations. */
  private readonly busyArchives = new Map<LocalArchive, number>();
  /** Archives that no panel shows any more, closed when the last operation on them ends (see releaseArchive). */
  private readonly releasePending = new Set<LocalArchive>();
  /** legacyCharacterSet() when the controller was created, read before a Save in the settings window can change it. */
  private readonly legacyCharacterSetAtStart: LegacyCharacterSet;

  constructor(readonly options: AppControllerOptions) {
    this.settings = new SettingsStore({ configDir: options.configDir });
    this.license = new LicenseService(resolveConfigDir(options.configDir));
    this.legacyCharacterSetAtStart = this.legacyCharacterSet();
    const cacheDir = options.cacheDir ?? envPaths('sciberia-loader', { suffix: '' }).cache;
    this.ssh = new SshPanelController({
      settings: this.settings,
      knownHosts: KnownHostsFile.inConfigDir(resolveConfigDir(options.configDir)),
      secretStore: options.secretStore ?? new KeychainSecretStore(),
      stagingRoot: path.join(cacheDir, 'ssh-staging'),
      timeoutMs: options.sshTimeoutMs,
    });
    this.studyOpener = new StudyOpener({
      cacheRoot: path.join(cacheDir, 'viewer-archive'),
      openArchive: (root) => this.openArchive(root),
      retrieveToLocal: (...args) => this.retrieveToLocal(...args),
      fetchIntoArchive: (...args) => this.ssh.fetchIntoArchive(...args),
    });
  }

  get localIdentity(): LocalIdentity {
    return localIdentityFromSettings(this.settings);
  }

  licenseStatus(): LicenseStatus {
    return this.license.status();
  }

  /** Activates a license file; returns an error message instead of throwing when the file is rejected. */
  activateLicense(file: string): { ok: true; licensee: string; expires: string } | { ok: false; message: string } {
    try {
      const license = this.license.activate(file);
      return { ok: true, licensee: license.licensee, expires: license.expires };
    } catch (error) {
      if (!(error instanceof LicenseError)) throw error;
      return { ok: false, message: error.message };
    }
  }

  listLocations(): LocationEntry[] {
    const entries: LocationEntry[] = this.settings.listPacsNodes().map((node) => ({
      kind: 'pacs',
      name: node.name,
      description: `${node.aeTitle}@${node.host}:${node.port}`,
      node,
    }));
    for (const sshNode of this.settings.listSshNodes()) {
      const folder = sshNode.defaultFolder === undefined ? '' : ` ${sshNode.defaultFolder}`;
      entries.push({ kind: 'ssh', name: sshNode.name, description: `SSH ${sshNode.login}@${sshNode.host}:${sshNode.port}${folder}`, sshNode });
    }
    entries.push({ kind: 'local', name: 'archive', description: this.options.archiveRoot });
    return entries;
  }

  /** Builds the node from the typed fields and checks it with C-ECHO; throws with the reason on failure. */
  async connectPacs(input: PacsConnectionInput): Promise<PanelConnection> {
    const registered = this.settings.listPacsNodes().find(
      (node) => node.host === input.host.trim() && String(node.port) === input.port.trim() && node.aeTitle === input.aeTitle.trim(),
    );
    const node = registered ? remoteNodeFromSettings(registered) : remoteNodeFromAddress({ host: input.host, port: input.port, aeTitle: input.aeTitle });
    if (input.login.trim() !== '') node.credentials = new NodeCredentials(input.login.trim(), input.password === '' ? undefined : input.password, 'window');
    await echoNode(node, this.localIdentity);
    log.info('panel connected to node', { node: node.name });
    return { kind: 'pacs', node, label: `${node.aeTitle}@${node.host}:${node.port}` };
  }

  /**
   * Opens the archive at `root`, reusing an archive that another panel or the server already opened.
   * The archive keeps its index in `root`. Only the window's own archive root is created when missing.
   *
   * @throws LocalFolderError, with a message in the interface language, when `root` is empty, missing or not a folder.
   */
  connectLocal(root: string): PanelConnection {
    if (path.resolve(root) !== path.resolve(this.options.archiveRoot)) this.checkLocalFolder(root);
    const archive = this.openArchive(root);
    return { kind: 'local', archive, root, label: root };
  }

  /** Throws LocalFolderError when `root` is empty or is not an existing folder; other stat errors are left to the archive. */
  private checkLocalFolder(root: string): void {
    const t = translator(this.settings.settings.interface.language);
    if (root.trim() === '') throw new LocalFolderError(root, 'no path', t('local.folderEmpty'));
    let stats: fs.Stats;
    try {
      stats = fs.statSync(root);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') return;
      log.warn('Local panel folder does not exist; nothing created', { folder: path.resolve(root), code });
      throw new LocalFolderError(root, 'not found', t('local.folderNotFound', { folder: path.resolve(root) }));
    }
    if (stats.isDirectory()) return;
    log.warn('Local panel path is not a folder', { path: path.resolve(root) });
    throw new LocalFolderError(root, 'not a folder', t('local.notAFolder', { folder: path.resolve(root) }));
  }

  /** Opens the archive at `root` once per controller; close() closes it. */
  openArchive(root: string): LocalArchive {
    let archive = this.openArchives.get(root);
    if (archive) this.releasePending.delete(archive);
    if (!archive) {
      archive = LocalArchive.open(root, { legacyCharacterSet: this.legacyCharacterSet(), legacyCharacterSetSource: this.legacyCharacterSetSource() });
      this.openArchives.set(root, archive);
      log.info('archive opened for the window', { root });
    }
    return archive;
  }

  async searchPacs(node: RemoteNode, filters: StudyFilters, signal?: AbortSignal): Promise<StudyRow[]> {
    const rows: StudyRow[] = [];
    for await (const match of findStudies(node, this.localIdentity, filters, { signal })) {
      rows.push({
        studyInstanceUid: match.studyInstanceUid,
        patientName: formatPersonName(match.patientName),
        patientId: match.patientId,
        patientBirthDate: formatDate(match.patientBirthDate),
        modalities: match.modalitiesInStudy.join(', '),
        studyDate: formatDate(match.studyDate),
        studyTime: match.studyTime,
        numberOfInstances: match.numberOfStudyRelatedInstances,
        studyDescription: match.studyDescription,
      });
    }
    log.info('PACS search finished', { node: node.name, studies: rows.length });
    return rows;
  }

  /**
   * Lists the archive's studies. Each word of `text` (split at spaces) must match the patient name
   * as `loader studies --name` matches it (matchSearchText: any case, е matches ё, '^' separates
   * words). Otherwise it must occur, ignoring case, in the study description, a modality, the
   * study date as the table shows it (also as YYYYMMDD), the Patient ID or the Accession Number.
   */
  searchLocal(archive: LocalArchive, text = ''): StudyRow[] {
    const studies = archive.searchStudies({});
    const words = text.split(/\s+/).filter((word) => word !== '');
    if (words.length === 0) return studies.map(rowFromSummary);
    const rows: StudyRow[] = [];
    for (const study of studies) {
      const row = rowFromSummary(study);
      const otherFields = [row.studyDescription, row.modalities, row.studyDate, row.studyDate.replace(/-/g, ''), study.patientId, study.accessionNumber]
        .join('\n')
        .toLowerCase();
      if (words.every((word) => matchSearchText(word, study.patientName, true) || otherFields.includes(word.toLowerCase()))) rows.push(row);
    }
    return rows;
  }

  /**
   * Indexes the DICOM files under `root` in place. `root` may be the archive's own folder, as for a
   * Local panel: its internal folders and index files are skipped, and the files it stored count as indexed.
   */
  async scanLocal(archive: LocalArchive, root: string, onProgress: (scanned: number, indexed: number) => void): Promise<ScanSummary> {
    const report = await this.whileUsing([archive], () =>
      archive.scanPaths([root], { import: false, includeArchiveFolder: true, onProgress: (progress) => onProgress(progress.scanned, progress.indexed) }),
    );
    return summarizeScan(report);
  }

  /** Returns true when a Local panel shows `root` from an index in memory (see isMediaFolder). The window's own archive never is. */
  isMediaFolder(root: string): boolean {
    if (path.resolve(root) === path.resolve(this.options.archiveRoot)) return false;
    this.checkLocalFolder(root);
    return isMediaFolder(root);
  }

  /**
   * Connects a Local panel to a disc or USB folder without writing to it: its
   * DICOM files are indexed in an index in memory, from DICOMDIR files and
   * headers. An open media folder is reused and not read again.
   *
   * @throws LocalFolderError when `root` is empty, missing or not a folder.
   */
  async connectMedia(root: string, onProgress: (scanned: number, indexed: number) => void): Promise<{ connection: PanelConnection; summary?: ScanSummary }> {
    this.checkLocalFolder(root);
    const opened = this.openArchives.get(root);
    if (opened) {
      this.releasePending.delete(opened);
      return { connection: { kind: 'local', archive: opened, root, label: root } };
    }

    const archive = LocalArchive.open(root, { access: 'in-memory-index', legacyCharacterSet: this.legacyCharacterSet(), legacyCharacterSetSource: this.legacyCharacterSetSource() });
    try {
      const report = await archive.indexMediaInMemory({ onProgress: (progress) => onProgress(progress.scanned, progress.indexed) });
      this.openArchives.set(root, archive);
      log.info('media folder read into an index in memory', { root, studies: report.studies.length, files: report.scanned });
      return { connection: { kind: 'local', archive, root, label: root }, summary: summarizeScan(report) };
    } catch (error) {
      archive.close();
      throw error;
    }
  }

  /** Copies the DICOM files under `folder` into the window's own archive, as `loader scan --import` does. Nothing is written to `folder`. */
  async importIntoArchive(folder: string, onProgress: (scanned: number, copied: number) => void): Promise<ImportSummary> {
    this.checkLocalFolder(folder);
    const archive = this.openArchive(this.options.archiveRoot);
    const result = await this.whileUsing([archive], () => importFolder(archive, folder, onProgress));
    log.info('folder imported into the archive from the window', { folder: path.resolve(folder), root: archive.root, ...result.summary });
    return result;
  }

  /** Copies the selected studies of one Local panel's archive into another's, as an import of their files. */
  async copyStudies(source: LocalArchive, target: LocalArchive, studyUids: string[], onProgress: (progress: TransferProgress) => void): Promise<TransferResult> {
    const result = await this.whileUsing([source, target], () => copyStudies(source, target, studyUids, onProgress));
    log.info('studies copied between archives', { source: source.root, target: target.root, studies: studyUids.length, instances: result.instances, failures: result.failures.length, outcome: result.outcome });
    return result;
  }

  /**
   * Closes `archive` when neither the server nor an archive of `stillShown`
   * uses it, so that a folder a panel no longer shows, such as a disc, can be
   * unmounted. openArchive opens it again when a panel shows it later.
   */
  releaseArchive(archive: LocalArchive, stillShown: readonly LocalArchive[]): void {
    if (archive === this.serverArchive || stillShown.includes(archive)) return;
    if (this.busyArchives.has(archive)) {
      this.releasePending.add(archive);
      return;
    }
    this.closeUnshownArchive(archive);
  }

  /**
   * Runs `operation`, during which releaseArchive keeps `archives` open. An
   * archive released meanwhile is closed when the last such operation ends.
   */
  async whileUsing<T>(archives: readonly LocalArchive[], operation: () => Promise<T>): Promise<T> {
    for (const archive of archives) this.busyArchives.set(archive, (this.busyArchives.get(archive) ?? 0) + 1);
    try {
      return await operation();
    } finally {
      for (const archive of archives) {
        const count = (this.busyArchives.get(archive) ?? 1) - 1;
        if (count > 0) {
          this.busyArchives.set(archive, count);
          continue;
        }
        this.busyArchives.delete(archive);
        if (this.releasePending.delete(archive) && archive !== this.serverArchive) this.closeUnshownArchive(archive);
      }
    }
  }

  private closeUnshownArchive(archive: LocalArchive): void {
    for (const [root, open] of this.openArchives) {
      if (open !== archive) continue;
      this.openArchives.delete(root);
      archive.close();
      log.info('archive closed because no panel shows it', { root });
    }
  }

  /**
   * Returns true when studies can be deleted from a Local panel's archive:
   * when it is writable, or read-only only because its disk is full, because
   * deleteStudies then opens it with access 'delete' as `loader delete` does.
   */
  canDelete(archive: LocalArchive): boolean {
    return archive.readOnlyReason === undefined || archive.diskFull;
  }

  /** Returns what deleteStudies would delete for the selected studies of a Local panel, as `loader delete` previews it. */
  planDeletion(archive: LocalArchive, studyInstanceUids: string[]): Promise<DeletionPlan> {
    return archive.planDeletion({ studyInstanceUids });
  }

  /**
   * Deletes the studies of `plan` from the archive: index rows, files in the
   * archive folder and copies kept aside in .conflicts, as `loader delete` does.
   * Files indexed in place stay where they are. The deletion opens the archive
   * once more with access 'delete', as `loader delete` does, so that it also
   * works on a full disk, where `archive` may be read-only. A read-only
   * `archive` is closed afterwards (see closeStaleArchive), so panels get a
   * new one from connectLocal.
   */
  async deleteStudies(archive: LocalArchive, plan: DeletionPlan): Promise<DeletionReport> {
    const report = await this.whileUsing([archive], () =>
      deleteStudiesWithDeleteAccess(archive.root, plan, {
        legacyCharacterSet: archive.legacyCharacterSet,
        legacyCharacterSetSource: archive.legacyCharacterSetSource,
      }),
    );
    const fields = { root: archive.root, studies: report.studies.length, instances: report.instances, bytes: report.bytes, inPlaceInstances: report.inPlaceInstances, keptCopies: report.keptCopies };
    if (report.failures.length === 0) log.info('studies deleted from the window', fields);
    else log.warn('studies deleted from the window; some files were not removed and stay in .trash until the next open of the archive', { ...fields, failures: report.failures.length });
    this.closeStaleArchive(archive);
    return report;
  }

  /**
   * Closes a read-only `archive` after a deletion through another open of it,
   * so that the next openArchive opens it again. A read-only index may be a
   * copy in memory (openReadOnlyIndexDatabase) that still lists the deleted
   * studies, and the deletion may have freed the space that the archive needs
   * to open for writing.
   * NOTE: the archive of a running server stays open, so its C-FIND may still
   * find the deleted studies until the server is switched off and on again.
   */
  private closeStaleArchive(archive: LocalArchive): void {
    if (archive.readOnlyReason === undefined || archive === this.serverArchive) return;
    for (const [root, open] of this.openArchives) {
      if (open !== archive) continue;
      this.openArchives.delete(root);
      archive.close();
      log.info('read-only archive closed after a deletion, to open it again', { root });
    }
  }

  /** Retrieves studies from a node into an archive with C-GET or C-MOVE; `signal` cancels the retrieve. */
  async retrieveToLocal(
    node: RemoteNode,
    archive: LocalArchive,
    studyUids: string[],
    method: RetrieveMethod,
    onProgress: (progress: TransferProgress) => void,
    signal?: AbortSignal,
  ): Promise<TransferResult> {
    const local = this.localIdentity;
    const received = new Map<string, number>();
    const expected = new Map<string, number>();
    const reportProgress = () => {
      const started = new Set([...received.keys(), ...(deliveries?.byStudy.keys() ?? [])]);
      const delivered = deliveries === undefined ? 0 : sum(studyUids.map((uid) => deliveries.deliveredCount(uid)));
      onProgress({
        studiesDone: Math.max(0, started.size - 1),
        studiesTotal: studyUids.length,
        instancesDone: sum(received.values()) + delivered,
        instancesTotal: expected.size === studyUids.length ? sum(expected.values()) : undefined,
      });
    };
    // A node may send the C-MOVE sub-operations to the window's server instead; see server-deliveries.ts.
    const serverArchive = this.serverArchive;
    const serverPort = this.state.port;
    const deliveries = serverArchive && this.state.aeTitle === local.aeTitle ? this.serverDeliveries.watch(studyUids, reportProgress) : undefined;
    let report: RetrieveReport;
    try {
      report = await this.whileUsing([archive], () => retrieveStudies(node, local, archive, studyUids, {
        method,
        signal,
        onProgress: (event) => {
          received.set(event.studyInstanceUid, event.received);
          if (event.expected !== undefined) expected.set(event.studyInstanceUid, event.expected);
          reportProgress();
        },
      }));
    } finally {
      deliveries?.stop();
    }
    if (deliveries && serverArchive && serverPort !== undefined) {
      const retrieved = report;
      report = await this.whileUsing([archive], () => addServerDeliveries(retrieved, deliveries, { serverArchive, target: archive, nodeName: node.name, aeTitle: local.aeTitle, serverPort, moveScuPort: local.moveScuPort }));
    }
    const failures: TransferFailure[] = [];
    for (const study of report.studies) {
      for (const failure of study.failures) failures.push({ uid: failure.sopInstanceUid || study.studyInstanceUid, reason: failure.reason });
      // A study that arrived only in part gets its own entry, so an interrupted retrieve is never shown as complete.
      if (study.outcome !== 'success') failures.push({ uid: study.studyInstanceUid, reason: describeIncompleteStudy(study) });
    }
    for (const note of report.notes) failures.push({ uid: '', reason: note });
    const instances = report.studies.reduce((total, study) => total + study.completed, 0);
    const instancesTotal = report.studies.reduce((total, study) => total + Math.max(study.total, study.completed), 0);
    const studiesDone = report.studies.filter((study) => study.outcome === 'success').length;
    onProgress({ studiesDone, studiesTotal: studyUids.length, instancesDone: instances, instancesTotal });
    if (report.outcome === 'success') {
      log.info('retrieve finished', { node: node.name, method, studies: studyUids.length, instances, failures: failures.length, outcome: report.outcome });
    } else {
      const logFields = { node: node.name, method, outcome: report.outcome };
      for (const study of report.studies.filter((entry) => entry.outcome !== 'success')) {
        log.warn('study retrieve incomplete', { ...logFields, studyInstanceUid: study.studyInstanceUid, received: study.completed, expected: study.total });
      }
      log.warn('retrieve incomplete', { ...logFields, studies: studyUids.length, instances, failures: failures.length });
    }
    return { instances, failures, outcome: report.outcome };
  }

  /** Sends archived studies to a node with C-STORE; `signal` stops the send after the instance in flight. */
  async sendToPacs(archive: LocalArchive, node: RemoteNode, studyUids: string[], onProgress: (progress: TransferProgress) => void, signal?: AbortSignal): Promise<TransferResult> {
    const perStudy = studyUids.map((studyInstanceUid) => ({ studyInstanceUid, instances: archive.listInstances({ studyInstanceUid }) }));
    const instances = perStudy.flatMap((study) => study.instances);
    // NOTE: sendInstances regroups instances by SOP class, so with several classes per study this count is an estimate until the end.
    const studyEnds: number[] = [];
    let offset = 0;
    for (const study of perStudy) {
      offset += study.instances.length;
      studyEnds.push(offset);
    }
    const report = await this.whileUsing([archive], () =>
      sendInstances(node, this.localIdentity, instances, {
        signal,
        onProgress: (event) => {
          const studiesDone = studyEnds.filter((end) => end <= event.done).length;
          onProgress({ studiesDone, studiesTotal: studyUids.length, instancesDone: event.completed, instancesTotal: event.total });
        },
      }),
    );
    const failures = report.failures.map((failure) => ({ uid: failure.sopInstanceUid, reason: failure.reason }));
    for (const note of report.notes) failures.push({ uid: '', reason: note });
    let outcome: 'success' | 'partial' | 'failure' = 'failure';
    if (report.failures.length === 0) outcome = 'success';
    else if (report.completed > 0) outcome = 'partial';
    log.info('send finished', { node: node.name, studies: studyUids.length, instances: report.completed, failures: failures.length, outcome });
    return { instances: report.completed, failures, outcome };
  }

  /**
   * Returns whether the window starts the server when it opens (pacs.startWithWindow). PACS On and the tray
   * menu never change that setting, so switching the server off for a while does not keep it off at the next start.
   */
  startsServerWithWindow(): boolean {
    return this.settings.settings.pacs.startWithWindow;
  }

  /** Starts the loader's PACS server on the archive at archiveRoot with the stored settings. */
  async startServer(): Promise<ServerState> {
    if (this.server) return this.serverState();
    rejectInvalidAccessSettings(this.settings, (field) => `Fix pacs.${field} in the PACS settings or with "loader config set pacs.${field} VALUE".`);
    const pacs: PacsSettings = this.settings.settings.pacs;
    const accounts = pacs.requireUserIdentity ? await ServerAccounts.load(this.settings.listServerAccounts()) : undefined;
    const archive = this.openArchive(this.options.archiveRoot);
    const server = new PacsServer({
      settings: pacs,
      archive,
      listNodes: () => new SettingsStore({ configDir: this.options.configDir, logWarnings: false }).listPacsNodes(),
      accounts,
      onInstanceReceived: (instance) => {
        this.serverDeliveries.received(instance);
        this.keptAside.received(instance);
        // Duplicates and conflicts leave the archive's listing as it was, so Local panels need not list it again.
        if (instance.outcome === 'stored') this.archiveChanges.instanceStored(this.options.archiveRoot, instance.studyInstanceUid);
      },
      onAssociationRejected: (rejection) => this.rejectedCallers.rejected(rejection),
    });
    const address = await server.start();
    this.server = server;
    this.serverArchive = archive;
    this.state = { running: true, host: address.host, port: address.port, aeTitle: pacs.aeTitle };
    return this.serverState();
  }

  private state: ServerState = { running: false };

  serverState(): ServerState {
    return { ...this.state };
  }

  async stopServer(): Promise<ServerState> {
    const server = this.server;
    this.server = undefined;
    this.serverArchive = undefined;
    if (server) await server.stop(5_000);
    this.state = { running: false };
    return this.serverState();
  }

  updateInterface(changes: Partial<InterfaceSettings>): InterfaceSettings {
    return this.settings.updateInterface(changes);
  }

  /**
   * Returns the legacy character set of the window's own archive and server,
   * which is legacyCharacterSet() when the window opened. The window connects a
   * Local panel to that archive at start and keeps it open until it closes.
   */
  legacyCharacterSetInUse(): { characterSet: LegacyCharacterSet; fromOption: boolean } {
    return { characterSet: this.legacyCharacterSetAtStart, fromOption: this.options.legacyCharacterSet !== undefined };
  }

  /**
   * Returns --legacy-charset when `loader start` was given it, otherwise the
   * stored setting. An archive that is already open keeps the value it was opened with.
   */
  private legacyCharacterSet(): LegacyCharacterSet {
    return this.options.legacyCharacterSet ?? this.settings.settings.pacs.legacyCharacterSet;
  }

  private legacyCharacterSetSource(): LegacyCharacterSetSource {
    return this.options.legacyCharacterSet !== undefined ? { chosen: true, description: 'given with --legacy-charset' } : this.settings.legacyCharacterSetSource();
  }

  updatePacs(changes: Partial<PacsSettings>): PacsSettings {
    return this.settings.updatePacs(changes);
  }

  /**
   * Returns true when saving `changes` changes a setting that the running
   * server uses, so applyServerSettings restarts it. pacs.startWithWindow
   * matters only at the window's start, and the legacy character set only
   * after the window restarts (legacyCharacterSetInUse).
   */
  serverSettingsChange(changes: Partial<PacsSettings>): boolean {
    if (!this.server) return false;
    const current = this.settings.settings.pacs;
    return (Object.keys(changes) as (keyof PacsSettings)[]).some(
      (key) => key !== 'startWithWindow' && key !== 'legacyCharacterSet' && JSON.stringify(changes[key]) !== JSON.stringify(current[key]),
    );
  }

  /**
   * Restarts the running server with the stored settings: stopServer waits up
   * to 5 seconds for associations in progress, as `loader serve` does on
   * SIGTERM, then startServer listens with the new AE title, port and access rules.
   */
  async applyServerSettings(): Promise<ServerState> {
    if (!this.server) return this.serverState();
    const before = this.serverState();
    await this.stopServer();
    const after = await this.startServer();
    log.info('server restarted with the saved settings', { aeTitle: after.aeTitle, port: after.port, previousAeTitle: before.aeTitle, previousPort: before.port });
    return after;
  }

  async close(): Promise<void> {
    this.ssh.closeAll();
    await this.stopServer().catch((error: Error) => log.error('server stop failed while closing the window', { error: error.message }));
    this.archiveChanges.close();
    for (const [root, archive] of this.openArchives) {
      archive.close();
      log.info('archive closed', { root });
    }
    this.openArchives.clear();
  }
}

/** A folder that a Local panel cannot show: the message is in the interface language. */
/** A folder that a Local panel cannot show; the message is in the interface language, `problem` is for the log. */
export class LocalFolderError extends Error {
  constructor(
    readonly folder: string,
    readonly problem: 'no path' | 'not found' | 'not a folder',
    message: string,
  ) {
    super(message);
    this.name = 'LocalFolderError';
  }
}

/** Describes a study that a retrieve did not complete: instances received against those expected, then the retrieve's notes. */
function describeIncompleteStudy(study: StudyRetrieveReport): string {
  const counts = study.total > 0 ? `received ${study.completed} of ${study.total} instances` : `received ${study.completed} instances`;
  const notes = study.notes.filter((note) => !note.startsWith('received '));
  return notes.length === 0 ? `incomplete: ${counts}` : `incomplete: ${counts}; ${notes.join('; ')}`;
}


/** Formats YYYYMMDD as YYYY-MM-DD; other text is returned unchanged. */
export function formatDate(value: string): string {
  return /^\d{8}$/.test(value) ? `${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6, 8)}` : value;
}

/** Shows a DICOM person name (Family^Given^Middle) as "Family Given Middle". */
export function formatPersonName(value: string): string {
  return value.split('=')[0].split('^').filter((part) => part !== '').join(' ');
}

function rowFromSummary(study: StudySummary): StudyRow {
  return {
    studyInstanceUid: study.studyInstanceUid,
    patientName: formatPersonName(study.patientName),
    patientId: study.patientId,
    patientBirthDate: formatDate(study.patientBirthDate),
    modalities: study.modalitiesInStudy.join(', '),
    studyDate: formatDate(study.studyDate),
    studyTime: study.studyTime,
    numberOfInstances: study.numberOfInstances,
    studyDescription: study.studyDescription,
  };
}
