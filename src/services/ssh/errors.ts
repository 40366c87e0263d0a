/**
 * Errors of the SSH source. Each message names the host, port and login (never
 * a password or passphrase) and what the user can do next.
 */

export type SshErrorCode =
  | 'authentication-failed'
  | 'host-not-found'
  | 'connection-refused'
  | 'timeout'
  | 'connection-lost'
  | 'host-key-unknown'
  | 'host-key-changed'
  | 'key-file'
  | 'permission-denied'
  | 'not-found'
  | 'failed';

export class SshError extends Error {
  override readonly name = 'SshError';

  constructor(
    readonly code: SshErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The address part of messages, e.g. "loader@10.0.0.5 port 22". */
export interface SshEndpoint {
  host: string;
  port: number;
  login: string;
}

export function describeEndpoint(endpoint: SshEndpoint): string {
  return `${endpoint.login}@${endpoint.host} port ${endpoint.port}`;
}

/** SFTP status codes from draft-ietf-secsh-filexfer-02, section 7, as ssh2 puts them in error.code. */
export const SftpStatus = {
  Eof: 1,
  NoSuchFile: 2,
  PermissionDenied: 3,
  Failure: 4,
  BadMessage: 5,
  NoConnection: 6,
  ConnectionLost: 7,
  OpUnsupported: 8,
} as const;

/**
 * Returns true for an error that one file or folder caused on a working SFTP
 * session (missing, permission denied, a failure the server reports), and
 * false for a lost connection, after which a reconnect may help.
 */
export function isRemoteFileError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'number') return false;
  return code !== SftpStatus.NoConnection && code !== SftpStatus.ConnectionLost;
}

/** Converts an SFTP error on `remotePath` into an SshError with a message for the user. */
export function describeSftpError(error: unknown, remotePath: string, endpoint: SshEndpoint): SshError {
  const code = (error as { code?: unknown } | undefined)?.code;
  const where = `${remotePath} on ${describeEndpoint(endpoint)}`;
  if (code === SftpStatus.PermissionDenied) {
    return new SshError(
      'permission-denied',
      `permission denied: ${where}; ask the workstation's owner to give the account ${endpoint.login} read access to it`,
      { cause: error },
    );
  }
  if (code === SftpStatus.NoSuchFile) {
    return new SshError('not-found', `not found: ${where}; check the path with "loader ssh ls"`, { cause: error });
  }
  if (typeof code === 'number' && isRemoteFileError(error)) {
    return new SshError('failed', `the SSH server failed to read ${where}: ${(error as Error).message}`, { cause: error });
  }
  return new SshError('connection-lost', `connection to ${describeEndpoint(endpoint)} lost while reading ${remotePath}: ${errorText(error)}`, {
    cause: error,
  });
}

/**
 * Converts an error from connecting (socket, handshake or authentication) into
 * an SshError. ssh2 marks authentication failures with level
 * 'client-authentication' and handshake timeouts with level 'client-timeout'.
 */
export function describeConnectError(error: unknown, endpoint: SshEndpoint, timeoutMs: number): SshError {
  if (error instanceof SshError) return error;
  const target = describeEndpoint(endpoint);
  const details = error as { code?: unknown; level?: unknown; message?: unknown };
  const code = typeof details.code === 'string' ? details.code : undefined;
  if (details.level === 'client-authentication') {
    return new SshError(
      'authentication-failed',
      `authentication failed for ${target}: the server rejected the password or key; ` +
        `check the login and the password or key file`,
      { cause: error },
    );
  }

  if (code === 'ENOTFOUND' || code === 'EAI_NONAME') {
    return new SshError('host-not-found', `host ${endpoint.host} not found (${target}): check the host name or IP address`, {
      cause: error,
    });
  }

  if (code === 'EAI_AGAIN') {
    return new SshError(
      'host-not-found',
      `host ${endpoint.host} could not be resolved because the name server did not answer (${target}): check the network and DNS settings`,
      { cause: error },
    );
  }

  if (code === 'ECONNREFUSED') {
    return new SshError(
      'connection-refused',
      `connection to ${target} refused: no SSH server listens on that port; check the port and that the workstation's SSH server runs`,
      { cause: error },
    );
  }

  if (details.level === 'client-timeout' || code === 'ETIMEDOUT') {
    return new SshError(
      'timeout',
      `connection to ${target} timed out after ${Math.round(timeoutMs / 1000)} s: the host did not complete the SSH handshake; ` +
        `check that the host is on and reachable and that a firewall lets port ${endpoint.port} through, or raise --timeout`,
      { cause: error },
    );
  }

  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
    return new SshError('timeout', `host ${endpoint.host} is unreachable (${target}): check the network route to the workstation`, {
      cause: error,
    });
  }

  if (code === 'ECONNRESET' || code === 'EPIPE') {
    return new SshError('connection-lost', `connection to ${target} was closed by the remote side: ${errorText(error)}`, {
      cause: error,
    });
  }
  return new SshError('failed', `SSH connection to ${target} failed: ${errorText(error)}`, { cause: error });
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
