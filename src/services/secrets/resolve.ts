/**
 * Finds the secret of a node for code that connects to it. An environment
 * variable overrides the keychain, so a headless server works without one.
 */
import { AmbiguousSecretVariableError, nodesSharingSecretVariable, secretEnvVarName, userSecretEnvVarName } from './env-secrets';
import { secretAccount, SecretStoreUnavailableError } from './secret-store';
import type { SecretKind, SecretStore } from './secret-store';

export type SecretSource = 'environment' | 'keychain' | 'prompt';

export interface ResolvedSecret {
  secret: string;
  source: SecretSource;
  /** The environment variable or keychain account the secret came from. */
  origin: string;
}

export interface ResolveOptions {
  env?: NodeJS.ProcessEnv;
  /**
   * Asks the user, e.g. on a terminal without echo. Called only when the
   * store cannot be reached; the answer is used once and not stored.
   * NOTE: commands that connect to a node should pass one when standard input
   * is a terminal, because the keychain error message promises that prompt.
   */
  prompt?: (question: string) => Promise<string>;
}

/**
 * Returns the secret of a node from the environment, the store or the prompt,
 * in that order, or undefined when the store has none. Throws
 * SecretStoreUnavailableError when no variable is set, the store cannot be
 * reached and no prompt is given, and AmbiguousSecretVariableError when the
 * variable is set but other registered nodes map to it as well. It never
 * reads the settings file or any other source.
 */
export async function resolveNodeSecret(
  kind: SecretKind,
  nodeName: string,
  store: SecretStore,
  options: ResolveOptions = {},
): Promise<ResolvedSecret | undefined> {
  const variable = kind === 'user' ? userSecretEnvVarName(nodeName) : secretEnvVarName(nodeName);
  const fromEnv = (options.env ?? process.env)[variable];
  if (fromEnv !== undefined && fromEnv !== '' && kind !== 'user') {
    const sharing = nodesSharingSecretVariable(nodeName);
    if (sharing.length > 1) throw new AmbiguousSecretVariableError(variable, sharing);
  }
  if (fromEnv !== undefined && fromEnv !== '') return { secret: fromEnv, source: 'environment', origin: variable };

  const account = secretAccount(kind, nodeName);
  let stored: string | null;
  try {
    stored = await store.get(account);
  } catch (error) {
    if (!(error instanceof SecretStoreUnavailableError) || options.prompt === undefined) throw error;
    const owner = kind === 'user' ? `server account ${nodeName}` : `${kind} node ${nodeName}`;
    const answer = await options.prompt(`Password for ${owner} (the keychain is not reachable): `);
    return { secret: answer, source: 'prompt', origin: 'prompt' };
  }
  return stored === null ? undefined : { secret: stored, source: 'keychain', origin: account };
}
