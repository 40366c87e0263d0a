/**
 * The loader's own known-hosts file, in the OpenSSH format (sshd(8), section
 * SSH_KNOWN_HOSTS FILE FORMAT): one key a line, "host keytype base64", where
 * host is "[host]:port" for ports other than 22. Hashed host fields
 * ("|1|salt|hash") and comma-separated host lists written by OpenSSH are
 * matched too; lines with a marker (@cert-authority, @revoked) are ignored.
 */
import { createHash, createHmac } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { makePrivateFolder } from '../private-files';

export const KNOWN_HOSTS_FILE_NAME = 'known_hosts';

export interface KnownHostEntry {
  /** 1-based line number in the file. */
  line: number;
  keyType: string;
  key: Buffer;
  fingerprint: string;
}

export type HostKeyCheck =
  | { status: 'known'; entry: KnownHostEntry }
  | { status: 'unknown' }
  /** The host has stored keys and none equals the offered one. */
  | { status: 'changed'; stored: KnownHostEntry[] };

/** Returns the fingerprint as `ssh-keygen -lf` prints it: "SHA256:" and the unpadded base64 SHA-256 of the key blob. */
export function fingerprintOf(key: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(key).digest('base64').replace(/=+$/, '');
}

/** Returns the key type a public key blob starts with (RFC 4253, section 6.6), e.g. "ssh-ed25519". */
export function keyTypeOf(key: Buffer): string {
  if (key.length < 4) throw new Error('host key blob is too short');
  const length = key.readUInt32BE(0);
  if (length > key.length - 4 || length > 64) throw new Error('host key blob has an invalid key type length');
  return key.subarray(4, 4 + length).toString('latin1');
}

/** Returns the host field of a known-hosts line for host and port: "host" for port 22, else "[host]:port". */
export function hostField(host: string, port: number): string {
  return port === 22 ? host.toLowerCase() : `[${host.toLowerCase()}]:${port}`;
}

/** Normalizes a fingerprint typed by a user: the "SHA256:" prefix is optional and base64 padding is dropped. */
export function normalizeFingerprint(text: string): string {
  const body = text.trim().replace(/^SHA256:/i, '').replace(/=+$/, '');
  return `SHA256:${body}`;
}

function matchesHostPattern(pattern: string, field: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [salt, hash] = pattern.slice(3).split('|');
    if (salt === undefined || hash === undefined) return false;
    const computed = createHmac('sha1', Buffer.from(salt, 'base64')).update(field).digest('base64');
    return computed === hash;
  }
  return pattern.toLowerCase() === field;
}

export class KnownHostsFile {
  constructor(readonly file: string) {}

  /** Opens the known-hosts file in the loader's settings folder. */
  static inConfigDir(configDir: string): KnownHostsFile {
    return new KnownHostsFile(path.join(configDir, KNOWN_HOSTS_FILE_NAME));
  }

  /** Returns the entries for host and port; negated patterns ("!host") and wildcards are not supported and never match. */
  entriesFor(host: string, port: number): KnownHostEntry[] {
    const field = hostField(host, port);
    const entries: KnownHostEntry[] = [];
    this.readLines().forEach((text, index) => {
      const parts = text.trim().split(/\s+/);
      if (parts.length < 3 || parts[0].startsWith('#') || parts[0].startsWith('@')) return;
      const [hosts, keyType, base64] = parts;
      if (!hosts.split(',').some((pattern) => matchesHostPattern(pattern, field))) return;
      const key = Buffer.from(base64, 'base64');
      entries.push({ line: index + 1, keyType, key, fingerprint: fingerprintOf(key) });
    });
    return entries;
  }

  /** Compares an offered host key with the stored ones, as OpenSSH's StrictHostKeyChecking does. */
  check(host: string, port: number, key: Buffer): HostKeyCheck {
    const stored = this.entriesFor(host, port);
    const entry = stored.find((candidate) => candidate.key.equals(key));
    if (entry) return { status: 'known', entry };
    return stored.length === 0 ? { status: 'unknown' } : { status: 'changed', stored };
  }

  /** Appends a line for the key; the file is created with mode 0600, like ~/.ssh/known_hosts. */
  add(host: string, port: number, key: Buffer): void {
    const line = `${hostField(host, port)} ${keyTypeOf(key)} ${key.toString('base64')}\n`;
    makePrivateFolder(path.dirname(this.file));
    const existing = fs.existsSync(this.file) ? fs.readFileSync(this.file, 'utf8') : '';
    const separator = existing === '' || existing.endsWith('\n') ? '' : '\n';
    fs.appendFileSync(this.file, separator + line, { mode: 0o600 });
  }

  /** Removes every entry for host and port, as `ssh-keygen -R` does, and returns how many lines were removed. */
  remove(host: string, port: number): number {
    const lines = this.readLines();
    const remove = new Set(this.entriesFor(host, port).map((entry) => entry.line));
    if (remove.size === 0) return 0;
    const kept = lines.filter((_, index) => !remove.has(index + 1));
    const temporary = `${this.file}.tmp`;
    fs.writeFileSync(temporary, kept.length === 0 ? '' : kept.join('\n') + '\n', { mode: 0o600 });
    fs.renameSync(temporary, this.file);
    return remove.size;
  }

  /** Returns the key types stored for host and port, so the handshake can ask for a key the file can verify. */
  keyTypesFor(host: string, port: number): string[] {
    return [...new Set(this.entriesFor(host, port).map((entry) => entry.keyType))];
  }

  private readLines(): string[] {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    return lines;
  }
}
