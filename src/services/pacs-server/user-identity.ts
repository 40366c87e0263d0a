/**
 * User identity negotiation (PS3.7 annex D.3.3.7) in both roles.
 *
 * As requestor, the loader sends the login of a registered node as user
 * identity type 2 (username and passcode) when the node's password is found,
 * and as type 1 (username only) otherwise. Both fields are UTF-8.
 *
 * As acceptor, when pacs.requireUserIdentity is on, the server accepts only
 * type 2 with the username of a server account and its password. Type 1 is
 * rejected because it carries no passcode to check, and types 3 to 5
 * (Kerberos, SAML, JWT) are not supported. A rejection is an A-ASSOCIATE-RJ
 * with result 1 (rejected-permanent), source 1 (service user) and reason 1
 * (no reason given), which the caller of checkUserIdentity sends.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { inspect } from 'node:util';

import type { AssociationRejectedError, UserIdentity } from '../../dicom/network';
import type { Logger } from '../logger';
import {
  KeychainSecretStore,
  resolveNodeSecret,
  secretEnvVarName,
  SecretStoreUnavailableError,
  userSecretEnvVarName,
} from '../secrets';
import type { ResolvedSecret, SecretStore } from '../secrets';
import type { ServerAccount } from '../settings/settings-types';

/** User identity types (PS3.7 annex D.3.3.7) that the loader sends or checks. */
const USERNAME_ONLY = 1;
const USERNAME_AND_PASSCODE = 2;

/** Characters of a received username shown in log lines and messages. */
const MAX_DISPLAYED_USERNAME = 64;

/**
 * The login and, when found, the password that the loader sends to one node.
 * The password is kept in a private field and left out of JSON and util.inspect
 * output, so that logging the object cannot reveal it.
 */
export class NodeCredentials {
  readonly #password: string | undefined;

  constructor(
    readonly login: string,
    password: string | undefined,
    /** Source of the password: an environment variable name, a keychain account or "prompt". */
    readonly passwordOrigin?: string,
  ) {
    this.#password = password;
  }

  get hasPassword(): boolean {
    return this.#password !== undefined;
  }

  /** Builds the A-ASSOCIATE-RQ item: type 2 with the password, type 1 without. */
  toUserIdentity(positiveResponseRequested = false): UserIdentity {
    const primaryField = Buffer.from(this.login, 'utf8');
    if (this.#password === undefined) return { type: USERNAME_ONLY, primaryField, positiveResponseRequested };
    return { type: USERNAME_AND_PASSCODE, primaryField, secondaryField: Buffer.from(this.#password, 'utf8'), positiveResponseRequested };
  }

  toJSON(): Record<string, unknown> {
    return { login: this.login, hasPassword: this.hasPassword, passwordOrigin: this.passwordOrigin };
  }

  [inspect.custom](): string {
    return `NodeCredentials { login: ${JSON.stringify(this.login)}, hasPassword: ${this.hasPassword} }`;
  }
}

export interface CredentialOptions {
  store?: SecretStore;
  env?: NodeJS.ProcessEnv;
  /** Asks for the password when the keychain is unreachable; pass one only when standard input is a terminal. */
  prompt?: (question: string) => Promise<string>;
  /** Receives a message when the password cannot be read and only the login is sent. */
  warn?: (message: string) => void;
}

/**
 * Finds the credentials for a node that has a login: the password comes from
 * the node's environment variable, the keychain or the prompt, in that order.
 * Returns undefined for a node without a login. When no password is found
 * (none stored, an empty one, or an unreachable keychain and no prompt),
 * `warn` receives a message that names the node and how to give a password,
 * and the credentials carry the login only.
 */
export async function resolveNodeCredentials(
  node: { name: string; login?: string },
  options: CredentialOptions = {},
): Promise<NodeCredentials | undefined> {
  if (node.login === undefined || node.login === '') return undefined;
  const store = options.store ?? new KeychainSecretStore();
  try {
    const resolved = await resolveNodeSecret('pacs', node.name, store, {
      env: options.env,
      prompt: options.prompt,
    });
    if (resolved === undefined || resolved.secret === '') {
      options.warn?.(describeMissingPassword(node.name, store, resolved));
      return new NodeCredentials(node.login, undefined);
    }
    return new NodeCredentials(node.login, resolved.secret, resolved.origin);
  } catch (error) {
    if (!(error instanceof SecretStoreUnavailableError)) throw error;
    options.warn?.(`sending the login of ${node.name} without a password: ${error.message}`);
    return new NodeCredentials(node.login, undefined);
  }
}

/** Returns the warning for a node whose login goes without a password: why none was found, and how to give one. */
function describeMissingPassword(nodeName: string, store: SecretStore, resolved: ResolvedSecret | undefined): string {
  const variable = secretEnvVarName(nodeName);
  let cause: string;
  if (resolved === undefined) cause = `${variable} is not set and the ${store.description} has no password for it`;
  else if (resolved.source === 'prompt') cause = 'the password typed at the prompt is empty';
  else cause = `the password stored as ${resolved.origin} in the ${store.description} is empty`;
  return (
    `sending the login of ${nodeName} without a password: ${cause}. ` +
    `Store the password with "loader secrets set ${nodeName}", or set ${variable} for the loader process`
  );
}

/** Returns the user identity for an association to a registered node, or undefined when the node has no login. */
export async function userIdentityForNode(
  node: { name: string; login?: string; quirks?: string[] },
  log: Logger,
  options: Omit<CredentialOptions, 'warn' | 'prompt'> = {},
): Promise<UserIdentity | undefined> {
  const credentials = await resolveNodeCredentials(node, { ...options, warn: (message) => log.warn(message, { node: node.name }) });
  return credentials?.toUserIdentity(wantsPositiveResponse(node.quirks ?? []));
}

/** Node quirk that requests a positive response to the user identity from the peer. */
export const USER_IDENTITY_RESPONSE_QUIRK = 'user-identity-response';

export function wantsPositiveResponse(quirks: string[]): boolean {
  return quirks.includes(USER_IDENTITY_RESPONSE_QUIRK);
}

/**
 * Rewrites the message of an A-ASSOCIATE-RJ so that it names the node and,
 * when a user identity was sent, adds that the login or password may be
 * wrong. The error keeps its class, so callers that test for
 * AssociationRejectedError still match it.
 */
export function explainRejection(error: AssociationRejectedError, nodeName: string, identity: UserIdentity | undefined): AssociationRejectedError {
  let message = `node ${nodeName} rejected the association: ${error.message}`;
  if (identity !== undefined) {
    const login = JSON.stringify(identity.primaryField.toString('utf8'));
    const sent = identity.type === USERNAME_AND_PASSCODE ? 'login and password' : 'login without a password';
    message +=
      `. A user identity was sent (${sent}, login ${login}), so the credentials may be wrong: ` +
      `check the node's login with "loader nodes list" and its password with "loader secrets status ${nodeName}"`;
  }
  error.message = message;
  return error;
}

export type UserIdentityCheck = { accepted: true; username: string } | { accepted: false; username?: string; reason: string };

/** Raised at server start when the accounts cannot be loaded. The message names the fix. */
export class ServerAccountsError extends Error {
  override readonly name = 'ServerAccountsError';
}

/**
 * The server accounts with SHA-256 digests of their passwords, loaded once when
 * the server starts. Usernames are compared exactly (case-sensitive), and
 * passcodes by digest in constant time.
 */
export class ServerAccounts {
  private constructor(private readonly digests: Map<string, Buffer>) {}

  /**
   * Loads the password of every account from LOADER_USER_SECRET_<NAME> or the
   * keychain. Throws ServerAccountsError when there is no account, when an
   * account has no password, or when the keychain is unreachable and an
   * account's variable is not set.
   */
  static async load(accounts: ServerAccount[], store: SecretStore = new KeychainSecretStore(), env: NodeJS.ProcessEnv = process.env): Promise<ServerAccounts> {
    if (accounts.length === 0) {
      throw new ServerAccountsError(
        'pacs.requireUserIdentity is on but no server account exists: add one with "loader users add NAME --password-prompt", ' +
          'or turn the requirement off with "loader config set pacs.requireUserIdentity off"',
      );
    }
    const digests = new Map<string, Buffer>();
    for (const account of accounts) {
      let resolved;
      try {
        resolved = await resolveNodeSecret('user', account.name, store, { env });
      } catch (error) {
        if (!(error instanceof SecretStoreUnavailableError)) throw error;
        throw new ServerAccountsError(`cannot load the password of server account ${account.name}: ${error.message}`);
      }
      if (resolved === undefined) {
        throw new ServerAccountsError(
          `server account ${account.name} has no password in the ${store.description} and ${userSecretEnvVarName(account.name)} is not set: ` +
            `set it with "loader users add ${account.name} --password-prompt" after "loader users remove ${account.name}", or set the variable`,
        );
      }
      digests.set(account.name, digest(Buffer.from(resolved.secret, 'utf8')));
    }
    return new ServerAccounts(digests);
  }

  get size(): number {
    return this.digests.size;
  }

  /** Checks the user identity item of an A-ASSOCIATE-RQ; the reason names the username, never the passcode. */
  check(identity: UserIdentity | undefined): UserIdentityCheck {
    if (identity === undefined) return { accepted: false, reason: 'no user identity was sent' };
    const username = identity.primaryField.toString('utf8');
    const quotedName = displayUsername(username);
    if (identity.type === USERNAME_ONLY) {
      return { accepted: false, username, reason: `user ${quotedName} sent no passcode (user identity type 1, username only)` };
    }
    if (identity.type !== USERNAME_AND_PASSCODE) {
      return { accepted: false, username, reason: `user identity type ${identity.type} is not supported: use type 2, username and passcode` };
    }

    const expected = this.digests.get(username);
    const received = digest(identity.secondaryField ?? Buffer.alloc(0));
    // An unknown user is compared against a digest of nothing, so both failures take the same time.
    const matches = timingSafeEqual(received, expected ?? EMPTY_DIGEST) && expected !== undefined;
    if (expected === undefined) return { accepted: false, username, reason: `unknown user ${quotedName}` };
    if (!matches) return { accepted: false, username, reason: `wrong passcode for user ${quotedName}` };
    return { accepted: true, username };
  }
}

function digest(bytes: Buffer): Buffer {
  return createHash('sha256').update(bytes).digest();
}

const EMPTY_DIGEST = digest(Buffer.alloc(0));

/** Quotes a username received from the network for a log line, with control characters escaped and long names cut. */
export function displayUsername(username: string): string {
  const cut = username.length > MAX_DISPLAYED_USERNAME ? `${username.slice(0, MAX_DISPLAYED_USERNAME)}...` : username;
  return JSON.stringify(cut);
}
