/**
 * The SSH side of the window: connects a panel to a workstation over SSH with
 * the loader's host key policy, lists remote folders, and downloads files and
 * folders into a local archive. It imports nothing from Qt, so tests drive it
 * without a display.
 *
 * Host keys are checked against known_hosts in the settings folder, the same
 * file `loader ssh` uses. A new host's fingerprint is returned to the window
 * for the user to accept, and a changed key is an error.
 */
import fs from 'node:fs';
import path from 'node:path';

import { utils as ssh2Utils } from 'ssh2';

import { formatSize } from '../../services/format-size';
import type { LocalArchive, ScanProgress } from '../../services/archive';
import { createLogger } from '../../services/logger';
import { resolveNodeSecret, SecretStoreUnavailableError } from '../../services/secrets';
import type { SecretStore } from '../../services/secrets';
import type { SettingsStore } from '../../services/settings/settings-store';
import type { SshNode } from '../../services/settings/settings-types';
import { SettingsValidationError, validateHost, validateLogin, validatePort } from '../../services/settings/validation';
import { connect, fetchIntoArchive, hostField, HostKeyError, listFolder, remotePathHash } from '../../services/ssh';
import type { DownloadProgress, FetchReport, KnownHostsFile, RemoteEntry, SshCredentials, SshEndpoint, SshSession } from '../../services/ssh';
import type { Translate } from '../i18n';
import type { TransferFailure, TransferResult } from './app-controller';

const log = createLogger('loader.ui.ssh');

/** The fields of an SSH panel as the user typed them. */
export interface SshConnectionInput {
  /** Name of a registered SSH location, or any label; a registered name supplies the key file and the stored password. */
  name: string;
  host: string;
  port: string;
  login: string;
  /** Password, or the key passphrase when the registered location has a key file; empty means the stored one. */
  password: string;
  /** Folder to list first; empty means the registered folder or the login's home folder. */
  folder: string;
}

/** An open SSH connection of a panel. */
export interface SshConnection {
  endpoint: SshEndpoint;
  /** Kept in memory for reconnects and downloads; never logged or written. */
  credentials: SshCredentials;
  /** Registered SSH location the connection was made for, if any. */
  nodeName?: string;
  label: string;
  /** The session that lists folders; reopened when the server closed it. */
  session: SshSession;
}

/** A new host's key, shown to the user to accept before the connection continues. */
export interface HostKeyPrompt {
  /** "host" for port 22, otherwise "[host]:port", as in known_hosts. */
  host: string;
  keyType: string;
  fingerprint: string;
}

export type SshConnectOutcome =
  | { status: 'connected'; connection: SshConnection; listing: SshListing }
  | { status: 'host-key-unknown'; prompt: HostKeyPrompt };

/** One row of an SSH panel's file table. */
export interface RemoteRow {
  name: string;
  /** Absolute remote path. */
  path: string;
  /** 'folder' also for a symbolic link to a folder, which the panel enters like a folder. */
  type: 'folder' | 'file' | 'other';
  /** Size in bytes; 0 for folders. */
  size: number;
  /** Date modified, ISO 8601 in UTC. */
  modified: string;
  /** Reason why a download rejects this name, if it does. */
  unsafeName?: string;
}

export interface SshListing {
  /** Absolute path of the listed folder. */
  path: string;
  rows: RemoteRow[];
}

export type SshFetchProgress =
  | ({ phase: 'download' } & Omit<DownloadProgress, 'currentPath'>)
  | { phase: 'import'; scanned: number; imported: number };

export interface SshFetchResult extends TransferResult {
  /** Study Instance UIDs of the imported files, in the order the import met them. */
  studyInstanceUids: string[];
}

/** Raised for an empty or invalid field of the SSH panel; the message names the field. */
export class SshInputError extends Error {
  override readonly name = 'SshInputError';
}

export interface SshPanelControllerOptions {
  settings: SettingsStore;
  knownHosts: KnownHostsFile;
  secretStore: SecretStore;
  /** Folder below which each SSH account gets its staging folder; partial files there resume in a later download. */
  stagingRoot: string;
  /** Time to connect and log in, in milliseconds (default: the SSH service's default). */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export class SshPanelController {
  private readonly open = new Set<SshConnection>();

  constructor(private readonly options: SshPanelControllerOptions) {}

  /** Returns the staging folder of one account; the name matches the one `loader ssh get` uses below the same root. */
  stagingDirFor(endpoint: SshEndpoint): string {
    const account = `${endpoint.login}@${endpoint.host}_${endpoint.port}`.replace(/[^A-Za-z0-9@._-]+/g, '_');
    return path.join(this.options.stagingRoot, account);
  }

  /**
   * Connects and lists the first folder. For a host without a stored key it
   * returns 'host-key-unknown' with the fingerprint. After the user accepted
   * it, call again with `acceptFingerprint`, and the key is stored. Raises
   * HostKeyError ('host-key-changed') for a changed key, SshError for other
   * connection failures and SshInputError for invalid fields.
   */
  async connect(input: SshConnectionInput, acceptFingerprint?: string): Promise<SshConnectOutcome> {
    const node = this.registeredNode(input);
    const endpoint = parseEndpoint(input);
    const credentials = await this.readCredentials(input, node, endpoint);
    let session: SshSession;
    try {
      session = await connect({ ...endpoint, credentials }, { hostKeys: { knownHosts: this.options.knownHosts, acceptFingerprint }, timeoutMs: this.options.timeoutMs });
    } catch (error) {
      if (error instanceof HostKeyError && error.code === 'host-key-unknown' && acceptFingerprint === undefined) {
        log.info('new SSH host key shown for acceptance', { host: endpoint.host, port: endpoint.port, fingerprint: error.fingerprint });
        return { status: 'host-key-unknown', prompt: { host: hostField(endpoint.host, endpoint.port), keyType: error.keyType, fingerprint: error.fingerprint } };
      }
      throw error;
    }

    const connection: SshConnection = { endpoint, credentials, nodeName: node?.name, label: `${endpoint.login}@${hostField(endpoint.host, endpoint.port)}`, session };
    this.open.add(connection);
    const folder = input.folder.trim() || node?.defaultFolder || '.';
    try {
      const listing = await this.list(connection, folder);
      // The folder's path may contain a patient name, so the line names it by its hash.
      log.info('SSH panel connected', { host: endpoint.host, port: endpoint.port, login: endpoint.login, folderHash: remotePathHash(listing.path) });
      return { status: 'connected', connection, listing };
    } catch (error) {
      this.disconnect(connection);
      throw error;
    }
  }

  /** Lists a remote folder; a relative path starts at the login's home folder. Reconnects when the server closed the session. */
  async list(connection: SshConnection, folder: string): Promise<SshListing> {
    if (connection.session.isClosed) connection.session = await this.openSession(connection);
    const listing = await listFolder(connection.session, folder);
    return { path: listing.path, rows: listing.entries.map((entry) => rowOf(listing.path, entry)) };
  }

  /**
   * Downloads remote files and folders over new connections (so the listing
   * session stays free), resuming partial files of earlier downloads, and
   * imports the DICOM files into `archive`. Names that are unsafe, links out
   * of the chosen folder, unreadable items, non-DICOM and damaged files are
   * listed as failures with their reasons. Raises SshError when no connection
   * can be opened or reconnects run out.
   */
  async fetchIntoArchive(connection: SshConnection, remotePaths: string[], archive: LocalArchive, onProgress: (progress: SshFetchProgress) => void): Promise<SshFetchResult> {
    const report = await fetchIntoArchive(() => this.openSession(connection), remotePaths, archive, {
      stagingDir: this.stagingDirFor(connection.endpoint),
      onProgress: ({ currentPath: _, ...progress }) => onProgress({ phase: 'download', ...progress }),
      onScanProgress: (progress: ScanProgress) => onProgress({ phase: 'import', scanned: progress.scanned, imported: progress.imported }),
    });
    const result = resultOf(report);
    log.info('SSH download and import finished', {
      host: connection.endpoint.host,
      port: connection.endpoint.port,
      files: report.download.files.length,
      imported: report.scan.imported,
      failures: result.failures.length,
      outcome: result.outcome,
    });
    return result;
  }

  disconnect(connection: SshConnection): void {
    connection.session.close();
    this.open.delete(connection);
  }

  /** Closes every connection this controller opened. */
  closeAll(): void {
    for (const connection of [...this.open]) this.disconnect(connection);
  }

  /** Opens another session with the stored host key only: a key that changed since the first connection is an error. */
  private openSession(connection: SshConnection): Promise<SshSession> {
    return connect({ ...connection.endpoint, credentials: connection.credentials }, { hostKeys: { knownHosts: this.options.knownHosts }, timeoutMs: this.options.timeoutMs });
  }

  private registeredNode(input: SshConnectionInput): SshNode | undefined {
    const name = input.name.trim();
    return name === '' ? undefined : this.options.settings.findSshNode(name);
  }

  /**
   * Returns the password, or the key file with its passphrase for a
   * registered location that has one. A typed password comes first, then the
   * environment variable or the keychain of the registered location.
   */
  private async readCredentials(input: SshConnectionInput, node: SshNode | undefined, endpoint: SshEndpoint): Promise<SshCredentials> {
    const typed = input.password === '' ? undefined : input.password;
    const stored = async (): Promise<string | undefined> => {
      if (typed !== undefined || node === undefined) return typed;
      try {
        return (await resolveNodeSecret('ssh', node.name, this.options.secretStore, { env: this.options.env }))?.secret;
      } catch (error) {
        if (!(error instanceof SecretStoreUnavailableError)) throw error;
        log.warn('keychain not reachable for an SSH location', { node: node.name, error: error.reason });
        return undefined;
      }
    };

    if (node?.keyFile === undefined) {
      const password = await stored();
      if (password === undefined) throw new SshInputError(`no password for ${endpoint.login}@${endpoint.host}: type it in the Password field`);
      return { password };
    }
    let privateKey: Buffer;
    try {
      privateKey = fs.readFileSync(node.keyFile);
    } catch (error) {
      throw new SshInputError(`private key file ${node.keyFile} of location ${node.name} cannot be read: ${(error as Error).message}`);
    }
    const parsed = ssh2Utils.parseKey(privateKey);
    if (!(parsed instanceof Error)) return { privateKey };
    if (!/passphrase/i.test(parsed.message)) throw new SshInputError(`private key file ${node.keyFile} of location ${node.name} is invalid: ${parsed.message}`);
    const passphrase = await stored();
    if (passphrase === undefined) throw new SshInputError(`private key file ${node.keyFile} is encrypted: type its passphrase in the Password field`);
    return { privateKey, passphrase };
  }
}

/** Validates host, port and login; raises SshInputError naming the field. */
function parseEndpoint(input: SshConnectionInput): SshEndpoint {
  try {
    return {
      host: validateHost('IP address', input.host),
      port: validatePort('port', input.port.trim() === '' ? 22 : input.port.trim()),
      login: validateLogin('login', input.login),
    };
  } catch (error) {
    if (error instanceof SettingsValidationError) throw new SshInputError(error.message);
    throw error;
  }
}

function rowOf(folder: string, entry: RemoteEntry): RemoteRow {
  let type: RemoteRow['type'] = 'other';
  if (entry.type === 'folder' || entry.linkTarget === 'folder') type = 'folder';
  else if (entry.type === 'file' || entry.linkTarget === 'file') type = 'file';
  const row: RemoteRow = { name: entry.name, path: path.posix.join(folder, entry.name), type, size: type === 'folder' ? 0 : entry.size, modified: entry.modified };
  if (entry.unsafeName !== undefined) row.unsafeName = entry.unsafeName;
  return row;
}

/** Returns the parent of an absolute remote folder; the root is its own parent. */
export function parentFolder(folder: string): string {
  return path.posix.dirname(folder);
}

/** Turns a download and import report into the window's transfer result, naming remote paths where it can. */
function resultOf(report: FetchReport): SshFetchResult {
  const { download, scan } = report;
  const remoteOf = new Map(download.files.map((file) => [file.localPath, file.remotePath]));
  const failures: TransferFailure[] = [
    ...download.rejected.map((problem) => ({ uid: problem.remotePath, reason: problem.reason })),
    ...download.failed.map((problem) => ({ uid: problem.remotePath, reason: problem.reason })),
    ...scan.notDicom.map((problem) => ({ uid: remoteOf.get(problem.path) ?? problem.path, reason: `not a DICOM file: ${problem.reason}` })),
    ...scan.damaged.map((problem) => ({ uid: remoteOf.get(problem.path) ?? problem.path, reason: `damaged DICOM file: ${problem.reason}` })),
  ];
  const instances = scan.imported + scan.duplicates;
  let outcome: TransferResult['outcome'] = 'failure';
  if (failures.length === 0 && instances > 0) outcome = 'success';
  else if (instances > 0) outcome = 'partial';
  else if (failures.length === 0) failures.push({ uid: '', reason: 'no DICOM files in the selection' });
  return { instances, failures, outcome, studyInstanceUids: scan.studies.map((study) => study.studyInstanceUid) };
}

/** Returns the status bar text and percentage of an SSH download and import. */
export function sshProgressText(t: Translate, progress: SshFetchProgress): { text: string; percent: number } {
  if (progress.phase === 'import') return { text: t('ssh.importing', { scanned: progress.scanned, imported: progress.imported }), percent: 100 };
  const percent = progress.bytesTotal > 0 ? Math.min(100, Math.round((progress.bytesDone / progress.bytesTotal) * 100)) : 0;
  return {
    text: t('ssh.downloading', { files: `${progress.filesDone}/${progress.filesTotal}`, done: formatSize(progress.bytesDone), total: formatSize(progress.bytesTotal), percent }),
    percent,
  };
}

/** Returns the message for an SSH failure; a changed host key gets a text in the window's language with both fingerprints. */
export function describeSshError(t: Translate, error: unknown): string {
  if (error instanceof HostKeyError && error.code === 'host-key-changed') {
    return t('ssh.hostKeyChanged', {
      host: hostField(error.endpoint.host, error.endpoint.port),
      stored: error.stored.map((entry) => `${entry.keyType} ${entry.fingerprint}`).join(', '),
      offered: `${error.keyType} ${error.fingerprint}`,
    });
  }
  return error instanceof Error ? error.message : String(error);
}
