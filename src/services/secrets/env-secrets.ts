/**
 * Secrets given through environment variables, for machines without a
 * keychain (a headless server without a Secret Service on D-Bus) and for scripts.
 *
 * The variable for a node is LOADER_SECRET_ followed by the node name in upper
 * case. Cyrillic letters are transliterated, and every other run of characters
 * outside A-Z and 0-9 becomes one underscore. So node "Main PACS" reads
 * LOADER_SECRET_MAIN_PACS, and node "Клиника-2" reads LOADER_SECRET_KLINIKA_2.
 *
 * The password of a server account (`loader users add`) reads
 * LOADER_USER_SECRET_ followed by the account name in the same form, so an
 * account and a node with the same name never share a variable.
 */

export const SECRET_ENV_PREFIX = 'LOADER_SECRET_';
export const USER_SECRET_ENV_PREFIX = 'LOADER_USER_SECRET_';

/** Russian letters to Latin, after the passport transliteration (ICAO Doc 9303). */
const CYRILLIC_TO_LATIN: Record<string, string> = {
  а: 'a', б: 'b', в: 'v', г: 'g', д: 'd', е: 'e', ё: 'e', ж: 'zh', з: 'z', и: 'i', й: 'i',
  к: 'k', л: 'l', м: 'm', н: 'n', о: 'o', п: 'p', р: 'r', с: 's', т: 't', у: 'u', ф: 'f',
  х: 'kh', ц: 'ts', ч: 'ch', ш: 'sh', щ: 'shch', ъ: 'ie', ы: 'y', ь: '', э: 'e', ю: 'iu', я: 'ia',
};

/** Returns the name of the environment variable that contains the secret of a node. */
export function secretEnvVarName(nodeName: string): string {
  return envVarName(SECRET_ENV_PREFIX, nodeName, 'NODE');
}

/** Returns the name of the environment variable that contains the password of a server account. */
export function userSecretEnvVarName(userName: string): string {
  return envVarName(USER_SECRET_ENV_PREFIX, userName, 'USER');
}

function envVarName(prefix: string, name: string, fallback: string): string {
  const latin = [...name.toLowerCase()].map((char) => CYRILLIC_TO_LATIN[char] ?? char).join('');
  // NFKD splits accented Latin letters, so "é" keeps its "e".
  const ascii = latin.normalize('NFKD').replace(/[\u0300-\u036f]/g, '');
  const body = ascii.toUpperCase().replace(/[^A-Z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  // Names that differ only in case and punctuation ("PACS-1", "pacs_1") share one variable.
  // The settings reject such a name for a new node, and resolveNodeSecret rejects a shared variable.
  return prefix + (body === '' ? fallback : body);
}

/**
 * Node names by the secret variable that two or more of them map to, as the
 * settings store found them when it last loaded or saved the settings.
 * NOTE: this is process-wide state, which assumes one settings file per process.
 */
let sharedSecretVariables = new Map<string, string[]>();

/** Groups node names by secret variable and returns the variables that more than one name maps to. */
export function findSharedSecretVariables(nodeNames: string[]): Map<string, string[]> {
  const byVariable = new Map<string, string[]>();
  for (const name of nodeNames) {
    const variable = secretEnvVarName(name);
    byVariable.set(variable, [...(byVariable.get(variable) ?? []), name]);
  }
  return new Map([...byVariable].filter(([, names]) => names.length > 1));
}

/** Replaces the record of shared secret variables; called by the settings store. */
export function recordSharedSecretVariables(shared: Map<string, string[]>): void {
  sharedSecretVariables = new Map(shared);
}

/** Returns the registered node names that share this node's secret variable, the node included, or [] when it has the variable to itself. */
export function nodesSharingSecretVariable(nodeName: string): string[] {
  return sharedSecretVariables.get(secretEnvVarName(nodeName)) ?? [];
}

/** Several registered nodes map to one secret variable, so the node whose password it contains is unknown. */
export class AmbiguousSecretVariableError extends Error {
  override readonly name = 'AmbiguousSecretVariableError';

  constructor(
    readonly variable: string,
    readonly nodeNames: string[],
  ) {
    super(
      `nodes ${nodeNames.join(' and ')} all map to the environment variable ${variable}, so the loader cannot ` +
        'tell whose password it contains and reads it for none of them: unset it and store each ' +
        'password with "loader secrets set NODE", or remove all but one of these nodes and register them again ' +
        "under names whose variables differ: LOADER_SECRET_ and the name in upper case, with Cyrillic letters spelled in Latin " +
        "and each run of characters other than A-Z and 0-9 replaced by one '_'",
    );
  }
}

/** Returns the secret from the environment, or undefined when the variable is unset or empty. */
export function readSecretFromEnv(nodeName: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env[secretEnvVarName(nodeName)];
  return value === undefined || value === '' ? undefined : value;
}
