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
  // NOTE: names that differ only in punctuation ("PACS-1", "PACS 1") share one variable.
  return prefix + (body === '' ? fallback : body);
}

/** Returns the secret from the environment, or undefined when the variable is unset or empty. */
export function readSecretFromEnv(nodeName: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env[secretEnvVarName(nodeName)];
  return value === undefined || value === '' ? undefined : value;
}
