/**
 * A private OpenSSH server on 127.0.0.1 for the SSH source tests: its own
 * config, host key, PID file and authorized_keys in a temp folder, and a local
 * test user that it alone admits. Needs root (to run sshd, create the user and
 * set its password) and Debian's openssh-server and openssh-client.
 */
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

import { freePort, LOOPBACK, makeTempDir, runCommand, startProcess, waitForPort } from './process';
import type { ManagedProcess } from './process';

export const SSHD_BINARY = '/usr/sbin/sshd';
export const SSH_KEYGEN = '/usr/bin/ssh-keygen';
export const TEST_LOGIN = 'loader-ssh-test';

export interface TestUser {
  login: string;
  /** A random password set for this run. */
  password: string;
  home: string;
  uid: number;
  gid: number;
}

/** Returns why the SSH tests cannot run here, or undefined when they can. */
export function sshdUnavailableReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'the SSH tests run sshd and create a user, so they need root';
  if (!fs.existsSync(SSHD_BINARY)) return `${SSHD_BINARY} not found: run scripts/setup.sh --test (installs openssh-server)`;
  if (!fs.existsSync(SSH_KEYGEN)) return `${SSH_KEYGEN} not found: run scripts/setup.sh --test (installs openssh-client)`;
  return undefined;
}

async function run(command: string, args: string[], input?: string): Promise<string> {
  const result = await runCommand(command, args, { input });
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} failed with exit code ${result.code}: ${result.stderr.trim()}`);
  return result.stdout;
}

/**
 * Creates the test user when it is missing and sets a new random password; lockTestUser() locks it again.
 * Test files that jest may run at the same time need different logins, because each run resets the password.
 */
export async function ensureTestUser(login = TEST_LOGIN): Promise<TestUser> {
  const exists = (await runCommand('id', ['-u', login])).code === 0;
  if (!exists) await run('useradd', ['-m', '-s', '/bin/sh', login]);
  const password = randomBytes(12).toString('base64url');
  await run('chpasswd', [], `${login}:${password}\n`);
  const uid = Number((await run('id', ['-u', login])).trim());
  const gid = Number((await run('id', ['-g', login])).trim());
  const home = (await run('getent', ['passwd', login])).trim().split(':')[5];
  return { login, password, home, uid, gid };
}

/** Locks the test user's password again, so it works only while a test runs. */
export async function lockTestUser(login = TEST_LOGIN): Promise<void> {
  await run('usermod', ['-L', login]);
}

/** Generates an ed25519 key pair without a passphrase (or with one) and returns the private key path. */
export async function generateKey(dir: string, name: string, passphrase = ''): Promise<string> {
  const file = path.join(dir, name);
  fs.rmSync(file, { force: true });
  fs.rmSync(`${file}.pub`, { force: true });
  await run(SSH_KEYGEN, ['-q', '-t', 'ed25519', '-N', passphrase, '-C', name, '-f', file]);
  return file;
}

/** Returns the fingerprint `ssh-keygen -lf` prints for a public key file, e.g. "SHA256:…". */
export async function keygenFingerprint(publicKeyFile: string): Promise<string> {
  const output = await run(SSH_KEYGEN, ['-l', '-E', 'sha256', '-f', publicKeyFile]);
  return output.split(/\s+/)[1];
}

export class SshdServer {
  process: ManagedProcess | undefined;

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly user: TestUser,
  ) {}

  readonly host = LOOPBACK;

  get hostKeyFile(): string {
    return path.join(this.dir, 'ssh_host_ed25519_key');
  }

  get authorizedKeysFile(): string {
    return path.join(this.dir, 'authorized_keys');
  }

  /** Starts sshd with a new host key on `port`, or on a free port when it is not given. */
  static async start(user: TestUser, port?: number): Promise<SshdServer> {
    const dir = makeTempDir('sshd');
    // sshd reads authorized_keys as the test user, so the folder must be searchable by it.
    fs.chmodSync(dir, 0o755);
    fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    const server = new SshdServer(dir, port ?? (await freePort()), user);
    fs.writeFileSync(server.authorizedKeysFile, '', { mode: 0o644 });
    await generateKey(dir, 'ssh_host_ed25519_key');
    await server.launch();
    return server;
  }

  /** Appends a public key file's line to the server's authorized_keys. */
  authorize(publicKeyFile: string): void {
    fs.appendFileSync(this.authorizedKeysFile, fs.readFileSync(publicKeyFile, 'utf8'));
  }

  hostKeyFingerprint(): Promise<string> {
    return keygenFingerprint(`${this.hostKeyFile}.pub`);
  }

  /** Stops sshd, replaces its host key and starts it again on the same port. */
  async restartWithNewHostKey(): Promise<void> {
    await this.stop();
    await generateKey(this.dir, 'ssh_host_ed25519_key');
    await this.launch();
  }

  /**
   * PIDs of the per-connection sshd processes: every descendant of the
   * listener. After authentication a connection has a privileged monitor and
   * an unprivileged child that owns the socket, so cutting a connection takes both.
   */
  sessionPids(): number[] {
    const listener = this.process?.pid;
    if (listener === undefined) return [];
    const parentOf = new Map<number, number>();
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue;
      }
      // The command name in brackets may contain spaces, so fields are counted after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parentOf.set(Number(entry), Number(fields[1]));
    }
    const descendants: number[] = [];
    const isDescendant = (pid: number): boolean => {
      for (let parent = parentOf.get(pid); parent !== undefined && parent > 1; parent = parentOf.get(parent)) {
        if (parent === listener) return true;
      }
      return false;
    };
    for (const pid of parentOf.keys()) if (isDescendant(pid)) descendants.push(pid);
    return descendants;
  }

  async stop(): Promise<void> {
    if (this.process && this.process.exitStatus === undefined) await this.process.stop();
    this.process = undefined;
  }

  private writeConfig(): string {
    const config = path.join(this.dir, 'sshd_config');
    const lines = [
      `Port ${this.port}`,
      `ListenAddress ${LOOPBACK}`,
      `HostKey ${this.hostKeyFile}`,
      `PidFile ${path.join(this.dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${this.authorizedKeysFile}`,
      // The temp folder is below the world-writable /tmp, which StrictModes rejects.
      'StrictModes no',
      'PubkeyAuthentication yes',
      'PasswordAuthentication yes',
      'KbdInteractiveAuthentication no',
      // Without PAM, sshd checks passwords against /etc/shadow itself.
      'UsePAM no',
      'PermitRootLogin no',
      `AllowUsers ${this.user.login}`,
      'Subsystem sftp internal-sftp',
      'LogLevel VERBOSE',
      'MaxStartups 50',
    ];
    fs.writeFileSync(config, lines.join('\n') + '\n', { mode: 0o600 });
    return config;
  }

  private async launch(): Promise<void> {
    const config = this.writeConfig();
    await run(SSHD_BINARY, ['-t', '-f', config]);
    this.process = startProcess({ name: 'sshd', command: SSHD_BINARY, args: ['-D', '-e', '-f', config, '-p', String(this.port)], dir: this.dir });
    await waitForPort(this.process, LOOPBACK, this.port);
  }
}

/** Creates a folder in the test user's home, owned by the user, and returns its path. */
export function makeRemoteDir(user: TestUser, label: string): string {
  const dir = fs.mkdtempSync(path.join(user.home, `${label}-`));
  fs.chownSync(dir, user.uid, user.gid);
  return dir;
}

/** Gives every file and folder below `dir` to the test user. */
export function chownTree(dir: string, user: TestUser): void {
  fs.chownSync(dir, user.uid, user.gid);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const child = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) fs.lchownSync(child, user.uid, user.gid);
    else if (entry.isDirectory()) chownTree(child, user);
    else fs.chownSync(child, user.uid, user.gid);
  }
}
