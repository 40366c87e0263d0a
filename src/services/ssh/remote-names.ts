/**
 * Checks of names and paths that come from the SSH server, so that nothing
 * is written outside the staging folder whatever the server sends.
 */
import path from 'node:path';

/**
 * Returns why a remote file or folder name cannot be downloaded, or undefined
 * when it is safe as one local path component. Rejected are empty names, "."
 * and "..", and names containing "..", "/", "\", NUL or other control
 * characters. Names that were not valid UTF-8 are rejected too, because ssh2
 * decodes them with U+FFFD in place of the bad bytes and the server would not
 * find the file under that name.
 */
export function checkRemoteName(name: string): string | undefined {
  if (name === '') return 'the name is empty';
  if (name.includes('..')) return 'the name contains ".."';
  if (name === '.') return 'the name is "."';
  if (name.includes('/')) return 'the name contains "/"';
  if (name.includes('\\')) return 'the name contains "\\"';
  if (name.includes('\0')) return 'the name contains a NUL character';
  // C0 controls, DEL and C1 controls; a newline or an escape sequence in a name could also forge terminal output.
  if (/[\u0001-\u001f\u007f-\u009f]/.test(name)) return 'the name contains a control character';
  if (name.includes('\ufffd')) return 'the name is not valid UTF-8';
  return undefined;
}

/** Quotes a remote name for messages so that control characters show as escapes and cannot forge output. */
export function quoteRemoteName(name: string): string {
  return JSON.stringify(name);
}

/** Returns true when `candidate` is `root` or inside it; both are absolute POSIX paths. */
export function isInsideRemoteFolder(root: string, candidate: string): boolean {
  const normalizedRoot = path.posix.normalize(root);
  const normalized = path.posix.normalize(candidate);
  if (normalized === normalizedRoot) return true;
  const prefix = normalizedRoot.endsWith('/') ? normalizedRoot : normalizedRoot + '/';
  return normalized.startsWith(prefix);
}

/** Reason why `ssh get` does not follow a symbolic link, as `ssh ls` shows it. */
export const LINK_OUTSIDE_FOLDER = 'leads outside the folder';

/**
 * Returns LINK_OUTSIDE_FOLDER when a symbolic link resolved to `target` leads
 * out of `folder`, or undefined when it stays inside. Both are resolved
 * absolute POSIX paths. `ssh get` and `ssh ls` share this check.
 */
export function checkLinkTarget(folder: string, target: string): string | undefined {
  return isInsideRemoteFolder(folder, target) ? undefined : LINK_OUTSIDE_FOLDER;
}

/**
 * Joins checked names below a local folder and asserts that the result stays
 * inside it, as a second guard behind checkRemoteName.
 */
export function localPathInside(root: string, names: string[]): string {
  for (const name of names) {
    const reason = checkRemoteName(name);
    if (reason !== undefined) throw new Error(`unsafe remote name ${quoteRemoteName(name)}: ${reason}`);
  }
  const resolvedRoot = path.resolve(root);
  const candidate = path.resolve(resolvedRoot, ...names);
  if (candidate !== resolvedRoot && !candidate.startsWith(resolvedRoot + path.sep)) {
    throw new Error(`local path ${candidate} would be outside ${resolvedRoot}`);
  }
  return candidate;
}
