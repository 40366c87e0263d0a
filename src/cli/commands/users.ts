/**
 * `loader users add|set-password|list|remove`: accounts of the loader's PACS server for
 * user identity negotiation. Names are kept in the settings file and
 * passwords in the OS keychain under "user:<name>". The variable
 * LOADER_USER_SECRET_<NAME> overrides the keychain when the server starts.
 */
import type { Command } from 'commander';

import { KeychainSecretStore, secretAccount, SecretStoreUnavailableError, START_SECRET_SERVICE, userSecretEnvVarName } from '../../services/secrets';
import { validateServerAccount } from '../../services/settings/validation';
import { ExitCode, openSettings, UsageError } from '../context';
import type { GlobalOptions } from '../context';
import { readPasswordOption } from './secrets';
import type { PasswordOptions } from './secrets';

export function registerUsers(program: Command, globals: () => GlobalOptions): void {
  const users = program
    .command('users')
    .description('accounts that may log in to the PACS server when pacs.requireUserIdentity is on');

  users
    .command('add <name>')
    .description(
      'add a server account; its password goes to the OS keychain, never to the settings file. ' +
        'Without a password option only the name is added, for a password given in LOADER_USER_SECRET_<NAME>',
    )
    .option('--password-stdin', 'read the password from standard input')
    .option('--password-prompt', 'ask for the password on the terminal without echo')
    .action(async (name: string, options: PasswordOptions) => {
      const settings = openSettings(globals());
      const existing = settings.findServerAccount(name);
      if (existing) {
        throw new UsageError(`server account ${existing.name} already exists: change its password with "loader users set-password ${existing.name}"`);
      }
      const valid = validateServerAccount({ name }, settings.listServerAccounts());
      const password = await readPasswordOption(options, `Password for server account ${valid.name}`);
      // An unavailable keychain does not stop the account from being added, so only the password is left to give later.
      let keychainError: SecretStoreUnavailableError | undefined;
      if (password !== undefined) {
        try {
          await new KeychainSecretStore().set(secretAccount('user', valid.name), password);
        } catch (error) {
          if (!(error instanceof SecretStoreUnavailableError)) throw error;
          keychainError = error;
        }
      }
      const added = settings.addServerAccount(valid);
      const variable = userSecretEnvVarName(added.name);
      if (keychainError !== undefined) {
        process.stdout.write(`added server account ${added.name}\n`);
        process.stderr.write(
          `loader: added server account ${added.name} without its password. To give the password, set ${variable} for the server, ` +
            `or ${START_SECRET_SERVICE} and run "loader users set-password ${added.name}" in that session. Cause: ${keychainError.reason}\n`,
        );
        process.exitCode = ExitCode.PartialSuccess;
      } else if (password !== undefined) {
        process.stdout.write(`added server account ${added.name}; its password is in the keychain as ${secretAccount('user', added.name)}\n`);
      } else {
        process.stdout.write(
          `added server account ${added.name} without a password: set ${variable} for the server, ` +
            `or, where the OS keychain (Secret Service on D-Bus) runs, store one with "loader users set-password ${added.name}"\n`,
        );
      }
      if (!settings.settings.pacs.requireUserIdentity) {
        process.stdout.write('note: the server checks accounts only after "loader config set pacs.requireUserIdentity on"\n');
      }
    });

  users
    .command('set-password <name>')
    .description('store or replace the password of a server account in the OS keychain')
    .option('--password-stdin', 'read the password from standard input instead of asking on the terminal')
    .action(async (name: string, options: { passwordStdin?: boolean }) => {
      const account = openSettings(globals()).findServerAccount(name);
      if (!account) throw new UsageError(`server account "${name}" does not exist; "loader users list" shows the accounts`);
      const password = await readPasswordOption(
        { passwordStdin: options.passwordStdin, passwordPrompt: !options.passwordStdin },
        `Password for server account ${account.name}`,
      );
      await new KeychainSecretStore().set(secretAccount('user', account.name), password as string);
      process.stdout.write(`stored the password of server account ${account.name} in the keychain; restart the server to use it\n`);
    });

  users
    .command('list')
    .description('list the server accounts, without passwords')
    .option('--json', 'print JSON')
    .action((options: { json?: boolean }) => {
      const settings = openSettings(globals());
      const accounts = settings.listServerAccounts().map((account) => ({
        name: account.name,
        keychainAccount: secretAccount('user', account.name),
        environmentVariable: userSecretEnvVarName(account.name),
      }));
      if (options.json) {
        process.stdout.write(JSON.stringify({ requireUserIdentity: settings.settings.pacs.requireUserIdentity, accounts }, null, 2) + '\n');
        return;
      }
      if (accounts.length === 0) {
        process.stdout.write('no server accounts; add one with "loader users add NAME --password-prompt"\n');
        return;
      }
      for (const account of accounts) process.stdout.write(`${account.name}\t(env ${account.environmentVariable})\n`);
    });

  users
    .command('remove <name>')
    .description('remove a server account and its password from the keychain')
    .action(async (name: string) => {
      const settings = openSettings(globals());
      const account = settings.findServerAccount(name);
      if (!account) {
        // An entry that failed validation is not listed, but the settings warning names this command for removing it.
        if (settings.removeServerAccount(name)) {
          process.stdout.write(`removed the invalid server account entry ${name}\n`);
          return;
        }
        throw new UsageError(`server account "${name}" does not exist; "loader users list" shows the accounts`);
      }
      settings.removeServerAccount(account.name);
      process.stdout.write(`removed server account ${account.name}\n`);
      try {
        await new KeychainSecretStore().delete(secretAccount('user', account.name));
      } catch (error) {
        if (!(error instanceof SecretStoreUnavailableError)) throw error;
        process.stderr.write(`loader: the account was removed, but its password may remain in the keychain: ${error.reason}\n`);
      }
    });
}
