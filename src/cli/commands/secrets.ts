/**
 * `loader secrets set|delete|status|env-name`: passwords of registered nodes
 * in the OS keychain. Secrets are read from a terminal without echo or from
 * standard input, and are never printed, logged or written to the settings file.
 */
import readline from 'node:readline';
import { Writable } from 'node:stream';

import type { Command } from 'commander';

import { createLogger } from '../../services/logger';
import {
  AmbiguousSecretVariableError,
  KeychainSecretStore,
  nodesSharingSecretVariable,
  readSecretFromEnv,
  secretAccount,
  secretEnvVarName,
  SecretStoreUnavailableError,
} from '../../services/secrets';
import type { LocationKind, SecretStore } from '../../services/secrets';
import type { SettingsStore } from '../../services/settings/settings-store';
import { ExitCode, openSettings, UsageError } from '../context';
import type { GlobalOptions } from '../context';

const log = createLogger('loader.secrets');

/** Options shared by commands that take a password. */
export interface PasswordOptions {
  passwordPrompt?: boolean;
  passwordStdin?: boolean;
}

/** Reads a line from the terminal without echoing it; rejects when standard input is not a terminal. */
export async function promptHidden(question: string): Promise<string> {
  if (!process.stdin.isTTY) {
    throw new UsageError('standard input is not a terminal, so the loader cannot ask for a password: use --password-stdin');
  }
  process.stderr.write(question);
  const silent = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  const prompt = readline.createInterface({ input: process.stdin, output: silent, terminal: true });
  try {
    return await new Promise<string>((resolve) => prompt.question('', resolve));
  } finally {
    prompt.close();
    process.stderr.write('\n');
  }
}

/** Reads the whole of standard input as the secret, without its final line break. */
export async function readSecretFromStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Returns the password the options ask for, or undefined when they ask for none. */
export async function readPasswordOption(options: PasswordOptions, label: string): Promise<string | undefined> {
  if (options.passwordPrompt && options.passwordStdin) {
    throw new UsageError('use either --password-prompt or --password-stdin, not both');
  }
  let secret: string | undefined;
  if (options.passwordStdin) secret = await readSecretFromStdin();
  else if (options.passwordPrompt) secret = await promptHidden(`${label}: `);
  if (secret === '') throw new UsageError(`${label} is empty`);
  return secret;
}

/** Returns the kind of a registered location, or throws a UsageError naming `loader nodes list`. */
export function findLocationKind(settings: SettingsStore, name: string): { kind: LocationKind; name: string } {
  const pacs = settings.findPacsNode(name);
  if (pacs) return { kind: 'pacs', name: pacs.name };
  const ssh = settings.findSshNode(name);
  if (ssh) return { kind: 'ssh', name: ssh.name };
  throw new UsageError(`node "${name}" is not registered; "loader nodes list" shows the registered names`);
}

/** Stores a node's secret, logging the account but never the secret. */
export async function storeNodeSecret(store: SecretStore, kind: LocationKind, name: string, secret: string): Promise<void> {
  const account = secretAccount(kind, name);
  await store.set(account, secret);
  log.info('stored secret in the keychain', { account });
}

/**
 * Deletes a node's secret after the node was removed. An unreachable keychain
 * is reported on standard error and does not fail the removal.
 */
export async function deleteNodeSecret(store: SecretStore, kind: LocationKind, name: string): Promise<void> {
  try {
    if (await store.delete(secretAccount(kind, name))) log.info('deleted secret from the keychain', { account: secretAccount(kind, name) });
  } catch (error) {
    if (!(error instanceof SecretStoreUnavailableError)) throw error;
    process.stderr.write(`loader: the node was removed, but a password stored for it may remain: ${error.reason}\n`);
  }
}

/** Prints the status of a PACS node that has no login: it uses no password, so the keychain is not asked. */
function printNoLogin(name: string, json: boolean): void {
  if (json) {
    process.stdout.write(JSON.stringify({ node: name, login: null, usesPassword: false }, null, 2) + '\n');
    return;
  }
  process.stdout.write(
    `node: ${name}\nno login: this node is called without user identity, so it uses no password; ` +
      `to add one, remove the node with "loader nodes remove ${name}" and add it again with --login\n`,
  );
}

export function registerSecrets(program: Command, globals: () => GlobalOptions): void {
  const secrets = program
    .command('secrets')
    .description('passwords of registered nodes in the OS keychain (never in the settings file)');

  secrets
    .command('set <node>')
    .description('store the password of a PACS node, or the password or key passphrase of an SSH node')
    .option('--password-stdin', 'read the password from standard input instead of asking on the terminal')
    .action(async (nodeName: string, options: { passwordStdin?: boolean }) => {
      const node = findLocationKind(openSettings(globals()), nodeName);
      const secret = await readPasswordOption(
        { passwordStdin: options.passwordStdin, passwordPrompt: !options.passwordStdin },
        `Password for ${node.name}`,
      );
      await storeNodeSecret(new KeychainSecretStore(), node.kind, node.name, secret as string);
      process.stdout.write(`stored the password of ${node.name} in the keychain\n`);
    });

  secrets
    .command('delete <node>')
    .description('delete the stored password of a node')
    .action(async (nodeName: string) => {
      const node = findLocationKind(openSettings(globals()), nodeName);
      let deleted: boolean;
      try {
        deleted = await new KeychainSecretStore().delete(secretAccount(node.kind, node.name));
      } catch (error) {
        if (!(error instanceof SecretStoreUnavailableError)) throw error;
        // The generic text of an unreachable keychain suggests storing the password elsewhere, which does not fit a deletion.
        throw new Error(
          `could not delete the password of ${node.name}: the OS keychain is not reachable (${error.reason}). ` +
            `Run the command again in a session where the keychain runs, such as the desktop session that stored it; ` +
            `a password in the environment variable ${secretEnvVarName(node.name)} is removed by unsetting that variable`,
        );
      }
      process.stdout.write(deleted ? `deleted the password of ${node.name}\n` : `no password was stored for ${node.name}\n`);
    });

  secrets
    .command('status <node>')
    .description('show where the password of a node comes from, without printing it')
    .option('--json', 'print JSON')
    .action(async (nodeName: string, options: { json?: boolean }) => {
      const settings = openSettings(globals());
      const node = findLocationKind(settings, nodeName);
      // A PACS node without a login sends no user identity, so no password of it is ever read.
      if (node.kind === 'pacs' && !settings.findPacsNode(node.name)?.login) {
        printNoLogin(node.name, options.json === true);
        return;
      }
      const variable = secretEnvVarName(node.name);
      const sharing = nodesSharingSecretVariable(node.name);
      const status: Record<string, string | boolean | string[]> = { node: node.name, account: secretAccount(node.kind, node.name), environmentVariable: variable };
      status.inEnvironment = readSecretFromEnv(node.name) !== undefined;
      if (sharing.length > 1) status.environmentVariableSharedWith = sharing.filter((name) => name !== node.name);
      try {
        status.inKeychain = (await new KeychainSecretStore().get(secretAccount(node.kind, node.name))) !== null;
      } catch (error) {
        if (!(error instanceof SecretStoreUnavailableError)) throw error;
        status.keychainError = error.summary;
        // Where the password comes from is unknown unless the environment variable provides it.
        if (!status.inEnvironment) process.exitCode = ExitCode.Failure;
      }
      if (options.json) {
        process.stdout.write(JSON.stringify(status, null, 2) + '\n');
        return;
      }
      const keychain =
        status.keychainError !== undefined
          ? `not reachable: ${status.keychainError}; set ${variable} instead, or start a Secret Service such as gnome-keyring-daemon`
          : status.inKeychain
            ? 'stored'
            : 'none stored';
      let environment = status.inEnvironment ? 'set (overrides the keychain)' : 'not set';
      if (sharing.length > 1) {
        const others = sharing.filter((name) => name !== node.name).join(', ');
        environment = `${status.inEnvironment ? 'set' : 'not set'}, but not used: nodes ${others} map to it as well`;
      }
      process.stdout.write(`node: ${node.name}\nenvironment variable ${variable}: ${environment}\nkeychain account ${status.account}: ${keychain}\n`);
    });

  secrets
    .command('env-name <node>')
    .description('print the environment variable that can hold the password of a node instead of the keychain')
    .action((nodeName: string) => {
      const node = findLocationKind(openSettings(globals()), nodeName);
      const sharing = nodesSharingSecretVariable(node.name);
      if (sharing.length > 1) throw new AmbiguousSecretVariableError(secretEnvVarName(node.name), sharing);
      process.stdout.write(`${secretEnvVarName(node.name)}\n`);
    });
}
