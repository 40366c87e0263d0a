/** Public API of the SSH source: connections with host key checks, listings and downloads. */

export {
  connect,
  DEFAULT_CONNECT_TIMEOUT_MS,
  describeUnknownHostKey,
  fetchHostKey,
  HostKeyError,
  SshSession,
  type ConnectOptions,
  type HostKeyOptions,
  type SshCredentials,
  type SshTarget,
} from './connection';
export {
  DEFAULT_PARALLEL_TRANSFERS,
  DEFAULT_RECONNECT_ATTEMPTS,
  downloadPaths,
  type DownloadedFile,
  type DownloadOptions,
  type DownloadProgress,
  type DownloadReport,
  type RemoteProblem,
  type SessionFactory,
} from './download';
export { describeConnectError, describeEndpoint, SshError, type SshEndpoint, type SshErrorCode } from './errors';
export { fetchIntoArchive, type FetchedFileProblem, type FetchOptions, type FetchReport } from './fetch';
export {
  fingerprintOf,
  hostField,
  keyTypeOf,
  KNOWN_HOSTS_FILE_NAME,
  KnownHostsFile,
  normalizeFingerprint,
  type HostKeyCheck,
  type KnownHostEntry,
} from './known-hosts';
export { remotePathHash } from './log-fields';
export { listFolder, sortEntries, type RemoteEntry, type RemoteEntryType, type RemoteListing } from './listing';
export { checkRemoteName, isInsideRemoteFolder, localPathInside, quoteRemoteName } from './remote-names';
