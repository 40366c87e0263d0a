/**
 * Opens SSH connections with an SFTP session, verifying the server's host key
 * against the loader's known-hosts file before any credential is sent.
 */
import type { Client, ConnectConfig, ServerHostKeyAlgorithm, SFTPWrapper } from 'ssh2';

import { createLogger } from '../logger';
import { describeConnectError, describeEndpoint, errorText, SshError } from './errors';
import type { SshEndpoint } from './errors';
import { fingerprintOf, hostField, keyTypeOf, normalizeFingerprint } from './known-hosts';
import type { KnownHostEntry, KnownHostsFile } from './known-hosts';

const log = createLogger('loader.ssh');

export const DEFAULT_CONNECT_TIMEOUT_MS = 20_000;
/** Keepalive requests every 10 s, and 3 unanswered ones close the connection, so a dead link is noticed within about 30 s. */
const KEEPALIVE_INTERVAL_MS = 10_000;
const KEEPALIVE_COUNT_MAX = 3;

/**
 * Creates an ssh2 client, loading ssh2 on first use. Requiring ssh2 took
 * about 16 ms (Node 20 on a 2-core AMD EPYC), which every `loader` command
 * paid at start while this module imported it at the top.
 */
function createClient(): Client {
  const { Client: SshClient } = require('ssh2') as typeof import('ssh2');
  return new SshClient();
}

export interface SshCredentials {
  password?: string;
  /** Contents of a private key file (OpenSSH or PEM format). */
  privateKey?: Buffer;
  /** Passphrase of an encrypted private key. */
  passphrase?: string;
}

export interface SshTarget extends SshEndpoint {
  credentials: SshCredentials;
}

export interface HostKeyOptions {
  knownHosts: KnownHostsFile;
  /**
   * Fingerprint ("SHA256:…") the user accepted for a host that has no entry
   * yet; the key is stored when the offered key has this fingerprint. It never
   * overrides a stored key that differs.
   */
  acceptFingerprint?: string;
}

export interface ConnectOptions {
  hostKeys: HostKeyOptions;
  /** Time for the TCP connection, handshake and authentication, in milliseconds. */
  timeoutMs?: number;
}

/** Raised when the server's host key is not in the known-hosts file or differs from the stored one. */
export class HostKeyError extends SshError {
  constructor(
    code: 'host-key-unknown' | 'host-key-changed',
    message: string,
    readonly endpoint: SshEndpoint,
    readonly key: Buffer,
    readonly fingerprint: string,
    readonly keyType: string,
    readonly stored: KnownHostEntry[] = [],
  ) {
    super(code, message);
  }
}

/** An authenticated connection with one SFTP session. */
export class SshSession {
  private closed = false;

  constructor(
    readonly client: Client,
    readonly sftp: SFTPWrapper,
    readonly endpoint: SshEndpoint,
  ) {
    client.once('close', () => {
      this.closed = true;
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Returns the absolute remote path of `remotePath`; "." is the login's home folder. */
  realpath(remotePath: string): Promise<string> {
    return new Promise((resolve, reject) => this.sftp.realpath(remotePath, (error, absolute) => (error ? reject(error) : resolve(absolute))));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.end();
  }
}

/** Text for a host key that is not stored yet, telling how to check and accept it. */
export function describeUnknownHostKey(endpoint: SshEndpoint, fingerprint: string, keyType: string): string {
  return (
    `the host key of ${hostField(endpoint.host, endpoint.port)} is not known yet: ${keyType} key fingerprint ${fingerprint}. ` +
    `Compare it with the fingerprint that the workstation's owner reads there (ssh-keygen -lf /etc/ssh/ssh_host_${shortKeyName(keyType)}_key.pub), ` +
    `then accept it with --accept-host-key ${fingerprint} or "loader ssh trust ${endpoint.host} --port ${endpoint.port}"`
  );
}

/** Text for a host key that differs from the stored one. */
export function describeChangedHostKey(
  endpoint: SshEndpoint,
  knownHostsFile: string,
  fingerprint: string,
  keyType: string,
  stored: KnownHostEntry[],
): string {
  const storedText = stored.map((entry) => `${entry.keyType} ${entry.fingerprint} (${knownHostsFile} line ${entry.line})`).join(', ');
  return (
    `WARNING: the host key of ${hostField(endpoint.host, endpoint.port)} has CHANGED, so the connection was rejected. ` +
    `Stored: ${storedText}. Offered now: ${keyType} ${fingerprint}. ` +
    `Someone may be intercepting the connection (a man-in-the-middle attack), or the workstation's SSH server was reinstalled. ` +
    `Ask the workstation's owner whether its host key was changed and compare the new fingerprint with theirs. ` +
    `Only then remove the old entry with "loader ssh forget ${endpoint.host} --port ${endpoint.port}" and connect again to accept the new key`
  );
}

function shortKeyName(keyType: string): string {
  if (keyType === 'ssh-ed25519') return 'ed25519';
  if (keyType.startsWith('ecdsa-')) return 'ecdsa';
  if (keyType === 'ssh-rsa') return 'rsa';
  return '*';
}

/** Host key algorithms that produce keys of the stored key types, to offer first in the handshake. */
function preferredHostKeyAlgorithms(keyTypes: string[]): ServerHostKeyAlgorithm[] {
  const algorithms: ServerHostKeyAlgorithm[] = [];
  for (const keyType of keyTypes) {
    if (keyType === 'ssh-rsa') algorithms.push('rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa');
    else algorithms.push(keyType as ServerHostKeyAlgorithm);
  }
  return algorithms;
}

/**
 * Checks an offered host key. Returns true when it is stored, or when it is
 * new and its fingerprint equals options.acceptFingerprint (it is then stored).
 * Otherwise it returns false and sets the reason that connect() raises.
 */
function verifyHostKey(endpoint: SshEndpoint, options: HostKeyOptions, key: Buffer, reject: (error: SshError) => void): boolean {
  let keyType: string;
  try {
    keyType = keyTypeOf(key);
  } catch (error) {
    reject(new SshError('failed', `${describeEndpoint(endpoint)} sent an invalid host key: ${errorText(error)}`));
    return false;
  }
  const fingerprint = fingerprintOf(key);
  const result = options.knownHosts.check(endpoint.host, endpoint.port, key);
  if (result.status === 'known') return true;
  if (result.status === 'changed') {
    const message = describeChangedHostKey(endpoint, options.knownHosts.file, fingerprint, keyType, result.stored);
    log.warn('Rejected a changed host key', { host: endpoint.host, port: endpoint.port, offered: fingerprint });
    reject(new HostKeyError('host-key-changed', message, endpoint, key, fingerprint, keyType, result.stored));
    return false;
  }
  if (options.acceptFingerprint !== undefined) {
    const accepted = normalizeFingerprint(options.acceptFingerprint);
    if (accepted === fingerprint) {
      options.knownHosts.add(endpoint.host, endpoint.port, key);
      log.info('Stored an accepted host key', { host: endpoint.host, port: endpoint.port, fingerprint, file: options.knownHosts.file });
      return true;
    }
    const message =
      `the host key of ${hostField(endpoint.host, endpoint.port)} has fingerprint ${fingerprint}, ` +
      `not the ${accepted} given with --accept-host-key, so the connection was rejected; check the fingerprint with the workstation's owner`;
    reject(new HostKeyError('host-key-unknown', message, endpoint, key, fingerprint, keyType));
    return false;
  }
  reject(new HostKeyError('host-key-unknown', describeUnknownHostKey(endpoint, fingerprint, keyType), endpoint, key, fingerprint, keyType));
  return false;
}

/**
 * Connects, verifies the host key and authenticates, then opens an SFTP
 * session. Raises HostKeyError for an unknown or changed host key (before any
 * credential is sent) and SshError for every other failure.
 */
export async function connect(target: SshTarget, options: ConnectOptions): Promise<SshSession> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const endpoint: SshEndpoint = { host: target.host, port: target.port, login: target.login };
  const client = createClient();
  let hostKeyProblem: SshError | undefined;

  const config: ConnectConfig = {
    host: target.host,
    port: target.port,
    username: target.login,
    readyTimeout: timeoutMs,
    keepaliveInterval: KEEPALIVE_INTERVAL_MS,
    keepaliveCountMax: KEEPALIVE_COUNT_MAX,
    hostVerifier: (key: Buffer) =>
      verifyHostKey(endpoint, options.hostKeys, key, (error) => {
        hostKeyProblem = error;
      }),
  };
  const preferred = preferredHostKeyAlgorithms(options.hostKeys.knownHosts.keyTypesFor(target.host, target.port));
  if (preferred.length > 0) {
    config.algorithms = { serverHostKey: { prepend: preferred, append: [], remove: [] } };
  }
  if (target.credentials.privateKey !== undefined) {
    config.privateKey = target.credentials.privateKey;
    if (target.credentials.passphrase !== undefined) config.passphrase = target.credentials.passphrase;
  }
  if (target.credentials.password !== undefined) config.password = target.credentials.password;

  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => {
      client.removeListener('ready', onReady);
      // ssh2 can emit a second error while it closes (e.g. "Connection lost before handshake" after a timeout).
      client.on('error', () => undefined);
      client.end();
      reject(hostKeyProblem ?? describeConnectError(error, endpoint, timeoutMs));
    };
    const onReady = () => {
      client.removeListener('error', onError);
      resolve();
    };
    client.once('ready', onReady);
    client.once('error', onError);
    try {
      client.connect(config);
    } catch (error) {
      // ssh2 throws synchronously for a private key it cannot parse, e.g. a missing passphrase.
      client.removeListener('error', onError);
      client.removeListener('ready', onReady);
      reject(new SshError('key-file', `the private key for ${describeEndpoint(endpoint)} cannot be used: ${errorText(error)}`));
    }
  });
  // Errors after the handshake (a reset socket) arrive as 'error' events and are followed by 'close'.
  client.on('error', (error) => log.warn('SSH connection error', { host: target.host, port: target.port, error: error.message }));

  const sftp = await new Promise<SFTPWrapper>((resolve, reject) =>
    client.sftp((error, session) => {
      if (error) {
        client.end();
        reject(new SshError('failed', `${describeEndpoint(endpoint)} failed to open an SFTP session: ${error.message}; check that its SSH server has the sftp subsystem enabled`));
      } else {
        resolve(session);
      }
    }),
  );
  log.info('Connected', { host: target.host, port: target.port, login: target.login });
  return new SshSession(client, sftp, endpoint);
}

/**
 * Fetches the host key the server offers, without authenticating, for
 * `loader ssh trust`. The connection ends as soon as the key has arrived.
 */
export async function fetchHostKey(endpoint: SshEndpoint, timeoutMs = DEFAULT_CONNECT_TIMEOUT_MS): Promise<Buffer> {
  const client = createClient();
  let offered: Buffer | undefined;
  return new Promise<Buffer>((resolve, reject) => {
    client.once('error', (error) => {
      client.on('error', () => undefined);
      client.end();
      if (offered) resolve(offered);
      else reject(describeConnectError(error, endpoint, timeoutMs));
    });
    client.once('ready', () => {
      client.end();
      reject(new SshError('failed', `${describeEndpoint(endpoint)} accepted a connection without a host key check`));
    });
    client.connect({
      host: endpoint.host,
      port: endpoint.port,
      username: endpoint.login,
      readyTimeout: timeoutMs,
      hostVerifier: (key: Buffer) => {
        offered = Buffer.from(key);
        return false;
      },
    });
  });
}
