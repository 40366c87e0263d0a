/**
 * Storage of node passwords and SSH passphrases outside the settings file.
 *
 * A secret is addressed by an account name: "pacs:<node name>" for a PACS
 * node's password, "ssh:<node name>" for an SSH node's password or key passphrase,
 * "user:<account name>" for the password of an account of the loader's own PACS server.
 */

export type LocationKind = 'pacs' | 'ssh';
/** Kind of a secret: a registered node's, or 'user' for a server account. */
export type SecretKind = LocationKind | 'user';

export interface SecretStore {
  /** Human-readable name of the backing store for messages, e.g. "OS keychain (Secret Service)". */
  readonly description: string;
  /** Returns the stored secret, or null when none is stored for the account. */
  get(account: string): Promise<string | null>;
  set(account: string, secret: string): Promise<void>;
  /** Returns true when a secret was deleted, false when none was stored. */
  delete(account: string): Promise<boolean>;
}

/** Returns the account name under which a node's or server account's secret is stored. */
export function secretAccount(kind: SecretKind, nodeName: string): string {
  return `${kind}:${nodeName}`;
}

/** Raised when the secret store cannot be used; the message names the cause and the alternatives. */
export class SecretStoreUnavailableError extends Error {
  constructor(
    message: string,
    /** The store's own error text, without the alternatives. */
    readonly reason: string,
    /** Short description of the failure, without the library's error text, for one-line status output. */
    readonly summary: string = reason,
  ) {
    super(message);
    this.name = 'SecretStoreUnavailableError';
  }
}
