/**
 * `loader ssh ls|get|trust|forget`: list and fetch study files on a remote
 * workstation over SSH, and manage the loader's known-hosts file.
 *
 * A TARGET is a registered SSH node name (`loader nodes add-ssh`) or
 * [LOGIN@]HOST[:PORT]. Host keys are checked against known_hosts in the
 * settings folder. A new key is stored only after the user accepts its
 * fingerprint, and a changed key rejects the connection.
 */
import fs from 'node:fs';
import path from 'node:path';

import type { Command } from 'commander';
import envPaths from 'env-paths';

import { LocalArchive } from '../../services/archive';
import { formatSize } from '../../services/format-size';
import { KeychainSecretStore, resolveNodeSecret, secretEnvVarName } from '../../services/secrets';
import { resolveConfigDir } from '../../services/settings/settings-store';
import type { SshNode } from '../../services/settings/settings-types';
import { validateHost, validateLogin, validatePort } from '../../services/settings/validation';
import {
  connect,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_PARALLEL_TRANSFERS,
  DEFAULT_RECONNECT_ATTEMPTS,
  describeUnknownHostKey,
  fetchHostKey,
  fetchIntoArchive,
  fingerprintOf,
  hostField,
  HostKeyError,
  keyTypeOf,
  KnownHostsFile,
  listFolder,
  quoteRemoteName,
  SshError,
} from '../../services/ssh';
import type { FetchReport, RemoteEntry, SshCredentials, SshSession, SshTarget } from '../../services/ssh';
import { countOf, ExitCode, openSettings, openWritableArchive, resolveArchiveRoot, resolveLegacyCharacterSet, UsageError } from '../context';
import type { GlobalOptions } from '../context';
import { printProblems, printScanProblems, printStudies, scanHasProblems } from '../scan-report';
import { askYesNo } from '../prompt';
import { formatTable, ProgressLine } from '../terminal';
import { abortOnInterrupt } from './echo';
import { promptHidden, readSecretFromStdin } from './secrets';

interface ConnectionOptions {
  port?: string;
  login?: string;
  keyFile?: string;
  passwordStdin?: boolean;
  acceptHostKey?: string;
  timeout?: string;
}

interface GetOptions extends ConnectionOptions {
  archive?: string;
  staging?: string;
  keepStaging?: boolean;
  parallel?: string;
  retries?: string;
  json?: boolean;
}

/** A resolved TARGET: where to connect and, for a registered node, its settings. */
interface ResolvedTarget {
  host: string;
  port: number;
  login: string;
  keyFile?: string;
  defaultFolder?: string;
  /** Set for a registered node; its secret is looked up under this name. */
  nodeName?: string;
  /** Source from which readCredentials took the password or key passphrase, named in the message of a failed login. */
  secretOrigin?: 'stdin' | 'environment' | 'keychain' | 'prompt';
}

function isInteractive(): boolean {
  return Boolean(process.stdin.isTTY && process.stderr.isTTY);
}

function parsePositiveInteger(option: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new UsageError(`${option} ${JSON.stringify(text)} is invalid: give a whole number of 1 or more`);
  return value;
}

/** Parses [LOGIN@]HOST[:PORT]; an IPv6 address with a port is written [ADDRESS]:PORT. */
function parseAddress(text: string, options: ConnectionOptions, sshNodeNames: string[] = []): ResolvedTarget {
  const match = /^(?:([^@]+)@)?(\[[^\]]+\]|[^:@]+|[0-9a-fA-F:]+)(?::(\d+))?$/.exec(text);
  if (!match) throw new UsageError(`target ${JSON.stringify(text)} is invalid: give a registered SSH node name or [LOGIN@]HOST[:PORT]`);
  const [, loginPart, hostPart, portPart] = match;
  const login = loginPart ?? options.login;
  if (login === undefined) {
    // A bare word without a login is most often a misspelt node name, so the registered names are listed.
    const registered = sshNodeNames.length > 0 ? `no SSH node named ${text} is registered (registered: ${sshNodeNames.join(', ')}); for a host, ` : '';
    throw new UsageError(`no login for ${text}: ${registered}write LOGIN@${text} or add --login, or register the node with "loader nodes add-ssh"`);
  }
  if (portPart !== undefined && options.port !== undefined && portPart !== options.port) {
    throw new UsageError(`two different ports given for ${text}: ${portPart} and --port ${options.port}`);
  }
  const result: ResolvedTarget = {
    host: validateHost('host', hostPart.replace(/^\[(.*)\]$/, '$1')),
    port: validatePort('port', Number(portPart ?? options.port ?? 22)),
    login: validateLogin('login', login),
  };
  if (options.keyFile !== undefined) result.keyFile = path.resolve(options.keyFile);
  return result;
}

function resolveTarget(globals: GlobalOptions, text: string, options: ConnectionOptions): ResolvedTarget {
  const settings = openSettings(globals);
  const node: SshNode | undefined = settings.findSshNode(text);
  if (node === undefined) return parseAddress(text, options, settings.listSshNodes().map((sshNode) => sshNode.name));
  const result: ResolvedTarget = {
    host: node.host,
    port: options.port !== undefined ? validatePort('--port', Number(options.port)) : node.port,
    login: options.login !== undefined ? validateLogin('--login', options.login) : node.login,
    nodeName: node.name,
  };
  const keyFile = options.keyFile ?? node.keyFile;
  if (keyFile !== undefined) result.keyFile = path.resolve(keyFile);
  if (node.defaultFolder !== undefined) result.defaultFolder = node.defaultFolder;
  return result;
}

/**
 * Returns the password or key passphrase: standard input with
 * --password-stdin, then for a registered node the environment variable or
 * the keychain, then a prompt on a terminal.
 */
async function readSecret(target: ResolvedTarget, options: ConnectionOptions, label: string): Promise<string> {
  if (options.passwordStdin) {
    target.secretOrigin = 'stdin';
    return readSecretFromStdin();
  }
  const prompt = isInteractive() ? promptHidden : undefined;
  if (target.nodeName !== undefined) {
    const resolved = await resolveNodeSecret('ssh', target.nodeName, new KeychainSecretStore(), { prompt });
    if (resolved !== undefined) {
      target.secretOrigin = resolved.source;
      return resolved.secret;
    }
  }
  if (prompt !== undefined) {
    target.secretOrigin = 'prompt';
    return prompt(`${label} for ${target.login}@${target.host}: `);
  }
  const stored =
    target.nodeName === undefined
      ? ''
      : `, store it with "loader secrets set ${target.nodeName}" or set ${secretEnvVarName(target.nodeName)}`;
  throw new UsageError(`no ${label.toLowerCase()} for ${target.login}@${target.host} port ${target.port}: use --password-stdin${stored}`);
}

async function readCredentials(target: ResolvedTarget, options: ConnectionOptions): Promise<SshCredentials> {
  if (target.keyFile === undefined) return { password: await readSecret(target, options, 'Password') };
  let privateKey: Buffer;
  try {
    privateKey = fs.readFileSync(target.keyFile);
  } catch (error) {
    throw new UsageError(`private key file ${target.keyFile} cannot be read: ${(error as Error).message}`);
  }
  // ssh2 loads here, not at start, so that other commands do not pay for it.
  const { utils: ssh2Utils } = require('ssh2') as typeof import('ssh2');
  const parsed = ssh2Utils.parseKey(privateKey);
  if (!(parsed instanceof Error)) return { privateKey };
  if (!/passphrase/i.test(parsed.message)) {
    throw new UsageError(`private key file ${target.keyFile} is invalid: ${parsed.message}`);
  }
  return { privateKey, passphrase: await readSecret(target, options, 'Key passphrase') };
}

function knownHostsOf(globals: GlobalOptions): KnownHostsFile {
  return KnownHostsFile.inConfigDir(resolveConfigDir(globals.configDir));
}

/**
 * Shows a new host key's fingerprint and asks the user to accept it. Returns
 * true when the user typed y or yes; on a terminal only.
 */
async function confirmHostKey(knownHosts: KnownHostsFile, error: HostKeyError): Promise<boolean> {
  process.stderr.write(
    `The authenticity of host ${hostField(error.endpoint.host, error.endpoint.port)} cannot be established.\n` +
      `${error.keyType} key fingerprint is ${error.fingerprint}.\n` +
      `Compare it with the fingerprint that the workstation's owner reads there ` +
      `(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub for an ed25519 key).\n`,
  );
  const accepted = await askYesNo(`Accept this key and store it in ${knownHosts.file}? [y/N] `);
  if (!accepted) process.stderr.write('host key not accepted; nothing was stored\n');
  return accepted;
}

/**
 * Connects with the host key check. On a terminal, an unknown host key is
 * shown and stored when the user accepts it, and the connection is opened
 * again against the stored key.
 */
/**
 * Returns what to check after a rejected login or an unusable key: the key
 * file, where the password or passphrase came from and how to change it there.
 */
function describeLoginFix(target: ResolvedTarget, code: 'authentication-failed' | 'key-file'): string {
  const secret = target.keyFile === undefined ? 'password' : 'key passphrase';
  const parts: string[] = [];
  if (target.keyFile !== undefined && code === 'authentication-failed') {
    parts.push(`the key file is ${target.keyFile}, and its public key must be in the authorized_keys of ${target.login} on the workstation`);
  }
  const node = target.nodeName;
  switch (target.secretOrigin) {
    case 'environment':
      parts.push(`the ${secret} came from the environment variable ${secretEnvVarName(node!)}: correct it there`);
      break;
    case 'keychain':
      parts.push(`the ${secret} came from the keychain: change it with "loader secrets set ${node}"`);
      break;
    case 'stdin':
      parts.push(`the ${secret} came from standard input (--password-stdin)`);
      break;
    case 'prompt':
      parts.push(`the ${secret} was typed at the prompt`);
      break;
  }
  return parts.length === 0 ? '' : `; ${parts.join('; ')}`;
}

async function openSession(globals: GlobalOptions, target: ResolvedTarget, credentials: SshCredentials, options: ConnectionOptions): Promise<SshSession> {
  const knownHosts = knownHostsOf(globals);
  const sshTarget: SshTarget = { host: target.host, port: target.port, login: target.login, credentials };
  const timeoutMs = parsePositiveInteger('--timeout', options.timeout, DEFAULT_CONNECT_TIMEOUT_MS / 1000) * 1000;
  const hostKeys = { knownHosts, acceptFingerprint: options.acceptHostKey };
  try {
    try {
      return await connect(sshTarget, { hostKeys, timeoutMs });
    } catch (error) {
      if (!(error instanceof HostKeyError) || error.code !== 'host-key-unknown' || options.acceptHostKey !== undefined || !isInteractive()) {
        throw error;
      }
      if (!(await confirmHostKey(knownHosts, error))) throw error;
      knownHosts.add(target.host, target.port, error.key);
      return await connect(sshTarget, { hostKeys: { knownHosts }, timeoutMs });
    }
  } catch (error) {
    if (!(error instanceof SshError) || (error.code !== 'authentication-failed' && error.code !== 'key-file')) throw error;
    throw new SshError(error.code, error.message + describeLoginFix(target, error.code), { cause: error });
  }
}

/** Resolves a remote path given on the command line: relative paths start at the node's folder, or at the login's home folder. */
function remotePath(target: ResolvedTarget, given: string | undefined): string {
  if (given === undefined || given === '') return target.defaultFolder ?? '.';
  if (given.startsWith('/') || target.defaultFolder === undefined) return given;
  return path.posix.join(target.defaultFolder, given);
}

function describeEntryType(entry: RemoteEntry): string {
  if (entry.type !== 'link') return entry.type;
  return `link to ${entry.linkTarget ?? 'unknown'}`;
}

function printListing(listingPath: string, entries: RemoteEntry[]): void {
  const rows = entries.map((entry) => {
    const isFolder = entry.type === 'folder' || entry.linkTarget === 'folder';
    const name = entry.unsafeName !== undefined ? quoteRemoteName(entry.name) : entry.name + (isFolder ? '/' : '');
    const reason = entry.unsafeName ?? entry.linkRejected;
    const note = reason === undefined ? '' : `not downloadable: ${reason}`;
    return [name, describeEntryType(entry), isFolder ? '' : formatSize(entry.size), entry.modified.replace('T', ' ').slice(0, 19), note];
  });
  process.stdout.write(`${listingPath}\n`);
  process.stdout.write(formatTable(['NAME', 'TYPE', 'SIZE', 'MODIFIED (UTC)', 'NOTE'], rows, 64) + '\n');
}

/** Returns the default staging folder for one SSH account, in the user's cache folder. */
function defaultStagingDir(target: ResolvedTarget): string {
  const account = `${target.login}@${target.host}_${target.port}`.replace(/[^A-Za-z0-9@._-]+/g, '_');
  return path.join(envPaths('sciberia-loader', { suffix: '' }).cache, 'ssh-staging', account);
}

function printFetchReport(report: FetchReport): void {
  const out = (line: string) => process.stdout.write(line + '\n');
  const { download, scan } = report;
  const resumed = download.files.filter((file) => file.resumedFrom > 0 && !file.alreadyStaged).length;
  const staged = download.files.filter((file) => file.alreadyStaged).length;
  out(
    `downloaded ${countOf(download.files.length, 'file')} (${formatSize(download.bytesTransferred)} transferred, ` +
      `${resumed} resumed, ${staged} already staged, ${countOf(download.reconnects, 'reconnect')}), ` +
      `${download.rejected.length} rejected, ${download.failed.length} failed`,
  );
  printProblems(out, 'rejected', download.rejected);
  printProblems(out, 'failed', download.failed);
  if (download.cancelled) {
    out(
      `download cancelled: ${countOf(download.notDownloaded.length, 'file')} not downloaded; run the same command again ` +
        'with the same staging folder to download them (partial files continue where they stopped)',
    );
    printProblems(out, 'not downloaded', download.notDownloaded.map((remotePath) => ({ remotePath, reason: 'cancelled' })));
  }
  out(
    `imported ${countOf(scan.imported, 'file')} into the archive: ${scan.duplicates} already stored, ` +
      `${countOf(scan.conflicts, 'conflict')} kept aside in the archive's .conflicts folder, ` +
      `${scan.notDicom.length} not DICOM, ${scan.damaged.length} damaged`,
  );
  printScanProblems(out, scan);
  printStudies(out, scan);
}

/**
 * Returns the exit code of `ssh get`. A cancelled download exits with 3 when
 * the archive stores some of its files and with 1 when it stores none.
 * Otherwise rejected or failed items, and the problems for which `scan
 * --import` exits with 3, give 3, or 1 when no file was downloaded.
 */
function fetchExitCode(report: FetchReport): number {
  const { download, scan } = report;
  if (download.cancelled) return scan.imported + scan.duplicates > 0 ? ExitCode.PartialSuccess : ExitCode.Failure;
  const problems = download.rejected.length > 0 || download.failed.length > 0 || scanHasProblems(scan);
  if (!problems) return ExitCode.Success;
  return download.files.length === 0 ? ExitCode.Failure : ExitCode.PartialSuccess;
}

function addConnectionOptions(command: Command): Command {
  return command
    .option('--port <number>', 'TCP port of the SSH server (default: the node\'s port, or 22)')
    .option('--login <name>', 'user name on the SSH server (default: the node\'s login)')
    .option('--key-file <path>', 'private key file to log in with instead of a password')
    .option('--password-stdin', 'read the password (or key passphrase) from standard input')
    .option('--accept-host-key <fingerprint>', 'accept and store the host key of a new host when its fingerprint is this SHA256:… value')
    .option('--timeout <seconds>', 'time allowed to connect and log in, in seconds', String(DEFAULT_CONNECT_TIMEOUT_MS / 1000));
}

export function registerSsh(program: Command, globals: () => GlobalOptions): void {
  const ssh = program
    .command('ssh')
    .description('list and fetch files on a workstation over SSH (TARGET: a registered SSH node or [LOGIN@]HOST[:PORT])');

  addConnectionOptions(
    ssh
      .command('ls <target> [path]')
      .description('list a remote folder (default: the node\'s folder, or the home folder): folders first, then files')
      .option('--json', 'print the listing as JSON'),
  ).action(async (targetText: string, given: string | undefined, options: ConnectionOptions & { json?: boolean }) => {
    const target = resolveTarget(globals(), targetText, options);
    const session = await openSession(globals(), target, await readCredentials(target, options), options);
    try {
      const listing = await listFolder(session, remotePath(target, given));
      if (options.json) process.stdout.write(JSON.stringify(listing, null, 2) + '\n');
      else printListing(listing.path, listing.entries);
    } finally {
      session.close();
    }
  });

  addConnectionOptions(
    ssh
      .command('get <target> <paths...>')
      .description('download remote files and folders into a staging folder, then import them into the archive')
      .option('--archive <dir>', 'archive to import into (default: the global --archive)')
      .option('--staging <dir>', 'folder for downloads and partial files (default: ssh-staging in the user cache folder)')
      .option('--keep-staging', 'keep the downloaded copies after the import')
      .option('--parallel <count>', 'files transferred at the same time', String(DEFAULT_PARALLEL_TRANSFERS))
      .option('--retries <count>', 'reconnect attempts in a row after a lost connection', String(DEFAULT_RECONNECT_ATTEMPTS))
      .option('--json', 'print the download and import report as JSON'),
  ).action(async (targetText: string, paths: string[], options: GetOptions) => {
    const target = resolveTarget(globals(), targetText, options);
    const credentials = await readCredentials(target, options);
    const parallel = parsePositiveInteger('--parallel', options.parallel, DEFAULT_PARALLEL_TRANSFERS);
    const retries = parsePositiveInteger('--retries', options.retries, DEFAULT_RECONNECT_ATTEMPTS);
    // The first connection settles the host key question, so reconnects never prompt.
    const first = await openSession(globals(), target, credentials, options);
    let firstUsed = false;
    const session = async () => {
      if (!firstUsed) {
        firstUsed = true;
        return first;
      }
      return openSession(globals(), target, credentials, { ...options, acceptHostKey: undefined });
    };

    const archiveRoot = options.archive !== undefined ? path.resolve(options.archive) : resolveArchiveRoot(globals());
    const archive = openWritableArchive(archiveRoot, { legacyCharacterSet: resolveLegacyCharacterSet(globals()) });
    const progress = new ProgressLine();
    // The first Ctrl-C or SIGTERM stops the download, and the files completed are still imported; a second one exits at once.
    const interrupt = abortOnInterrupt();
    try {
      const report = await fetchIntoArchive(
        session,
        paths.map((given) => remotePath(target, given)),
        archive,
        {
          stagingDir: path.resolve(options.staging ?? defaultStagingDir(target)),
          keepStaging: Boolean(options.keepStaging),
          parallel,
          reconnectAttempts: retries,
          signal: interrupt.signal,
          onProgress: (state) =>
            progress.update(
              `downloading: ${state.filesDone}/${state.filesTotal} files, ${formatSize(state.bytesDone)} of ${formatSize(state.bytesTotal)} — ${state.currentPath}`,
            ),
          onScanProgress: (state) => progress.update(`importing: ${state.scanned} files, ${state.imported} imported`),
        },
      );
      progress.done();
      if (options.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      else printFetchReport(report);
      process.exitCode = fetchExitCode(report);
    } finally {
      interrupt.dispose();
      progress.done();
      archive.close();
    }
  });

  ssh
    .command('trust <host>')
    .description('show the host key of an SSH server (a host or a registered SSH node) and store it in the known-hosts file after you accept it')
    .option('--port <number>', 'TCP port of the SSH server (default: the node\'s port, or 22)')
    .option('--accept-host-key <fingerprint>', 'store the key without asking when its fingerprint is this SHA256:… value')
    .option('--timeout <seconds>', 'time allowed to connect, in seconds', String(DEFAULT_CONNECT_TIMEOUT_MS / 1000))
    .action(async (hostText: string, options: { port?: string; acceptHostKey?: string; timeout?: string }) => {
      const node = openSettings(globals()).findSshNode(hostText);
      // No login is sent: the host key arrives before authentication, so the login only appears in messages.
      const endpoint = {
        host: node?.host ?? validateHost('host', hostText),
        port: options.port !== undefined ? validatePort('--port', Number(options.port)) : (node?.port ?? 22),
        login: node?.login ?? 'loader',
      };
      const timeoutMs = parsePositiveInteger('--timeout', options.timeout, DEFAULT_CONNECT_TIMEOUT_MS / 1000) * 1000;
      const knownHosts = knownHostsOf(globals());
      const key = await fetchHostKey(endpoint, timeoutMs);
      const fingerprint = fingerprintOf(key);
      const keyType = keyTypeOf(key);
      const check = knownHosts.check(endpoint.host, endpoint.port, key);
      if (check.status === 'known') {
        process.stdout.write(`${hostField(endpoint.host, endpoint.port)} ${keyType} ${fingerprint} is already trusted\n`);
        return;
      }
      if (check.status === 'changed') {
        // Fetch again through connect() for the full warning text with both fingerprints.
        const error = await connect({ ...endpoint, credentials: {} }, { hostKeys: { knownHosts }, timeoutMs }).then(
          (session) => {
            session.close();
            return new SshError('failed', 'the host key changed while checking it; run the command again');
          },
          (caught: unknown) => caught,
        );
        throw error;
      }
      let accepted = false;
      if (options.acceptHostKey !== undefined) {
        const expected = options.acceptHostKey.trim().replace(/=+$/, '');
        if (expected !== fingerprint && `SHA256:${expected}` !== fingerprint) {
          throw new SshError(
            'host-key-unknown',
            `the host key of ${hostField(endpoint.host, endpoint.port)} has fingerprint ${fingerprint}, not ${options.acceptHostKey}; nothing was stored`,
          );
        }
        accepted = true;
      } else if (isInteractive()) {
        const error = new HostKeyError('host-key-unknown', '', endpoint, key, fingerprint, keyType);
        accepted = await confirmHostKey(knownHosts, error);
      } else {
        throw new SshError('host-key-unknown', describeUnknownHostKey(endpoint, fingerprint, keyType));
      }
      if (!accepted) {
        process.exitCode = ExitCode.Failure;
        return;
      }
      knownHosts.add(endpoint.host, endpoint.port, key);
      process.stdout.write(`stored ${hostField(endpoint.host, endpoint.port)} ${keyType} ${fingerprint} in ${knownHosts.file}\n`);
    });

  ssh
    .command('forget <host>')
    .description('remove the stored host keys of an SSH server (a host or a registered SSH node), e.g. after its owner confirmed a new key')
    .option('--port <number>', 'TCP port of the SSH server (default: the node\'s port, or 22)')
    .action((hostText: string, options: { port?: string }) => {
      const node = openSettings(globals()).findSshNode(hostText);
      const host = node?.host ?? validateHost('host', hostText);
      const port = options.port !== undefined ? validatePort('--port', Number(options.port)) : (node?.port ?? 22);
      const knownHosts = knownHostsOf(globals());
      const removed = knownHosts.remove(host, port);
      if (removed === 0) {
        process.stdout.write(`no host key stored for ${hostField(host, port)} in ${knownHosts.file}\n`);
        return;
      }
      process.stdout.write(`removed ${countOf(removed, 'host key')} of ${hostField(host, port)} from ${knownHosts.file}\n`);
    });
}
