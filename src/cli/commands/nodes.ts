/**
 * `loader nodes add|add-ssh|list|remove|export|import`: the registry of
 * locations. PACS nodes are DICOM peers: registered AE titles may call the
 * server and are the C-MOVE destinations it accepts. SSH nodes are file
 * sources reached over SSH. Passwords go to the OS keychain, never to the settings file.
 */
import fs from 'node:fs';

import type { Command } from 'commander';

import { QUIRK } from '../../services/query-retrieve';
import { KeychainSecretStore, secretEnvVarName, START_SECRET_SERVICE, SecretStoreUnavailableError } from '../../services/secrets';
import type { LocationKind } from '../../services/secrets';
import { exportLocations, importLocations, parseLocationsFile } from '../../services/settings/locations-transfer';
import { DEFAULT_NODE_TIMEOUTS } from '../../services/settings/settings-types';
import type { NodeTimeouts, PacsNode, SshNode } from '../../services/settings/settings-types';
import {
  validateAbsolutePath,
  validateAeTitle,
  validateCharacterSet,
  validateHost,
  validateLogin,
  validateNodeName,
  validatePacsNode,
  validatePort,
  validateQuirks,
  validateSshNode,
  SettingsValidationError,
} from '../../services/settings/validation';
import { ExitCode, openSettings, UsageError } from '../context';
import type { GlobalOptions } from '../context';
import { formatTable } from '../terminal';
import { deleteNodeSecret, readPasswordOption, storeNodeSecret } from './secrets';
import type { PasswordOptions } from './secrets';

interface AddOptions extends PasswordOptions {
  aet: string;
  host: string;
  port: string;
  charset?: string;
  login?: string;
  quirks?: string[];
  timeout?: string[];
}

interface AddSshOptions extends PasswordOptions {
  host: string;
  port: string;
  login: string;
  keyFile?: string;
  folder?: string;
}

/** Name that migrate and sync read as the local archive, so a node under it could never be chosen there. */
const RESERVED_NODE_NAME = 'local';

function isReservedNodeName(name: unknown): boolean {
  return typeof name === 'string' && name.trim().toLowerCase() === RESERVED_NODE_NAME;
}

/** Validates a new node name and rejects the reserved name "local" in any case. */
function validateNewNodeName(name: string): string {
  const valid = validateNodeName('node name', name);
  if (isReservedNodeName(valid)) {
    throw new UsageError(`node name "${valid}" is reserved: migrate and sync take "${RESERVED_NODE_NAME}" for the local archive; choose another name`);
  }
  return valid;
}

/** Older spelling of QUIRK.noWildcardInDates that the query service still reads. */
const OLD_DATE_QUIRK = 'no-date-wildcard';

/**
 * Checks `--quirks` and rejects words that no service reads, because a
 * misspelt quirk would be stored and silently change nothing.
 */
function validateQuirkWords(words: string[]): string[] | undefined {
  const valid = validateQuirks('--quirks', words);
  const known = new Set<string>([QUIRK.noWildcardInDates, OLD_DATE_QUIRK, QUIRK.noModalitiesInStudy, QUIRK.userIdentityResponse]);
  const maxResults = new RegExp(`^${QUIRK.maxResultsPrefix}[1-9][0-9]*$`);
  const unknown = (valid ?? []).filter((word) => !known.has(word) && !maxResults.test(word));
  if (unknown.length > 0) {
    const list = [QUIRK.noWildcardInDates, QUIRK.noModalitiesInStudy, `${QUIRK.maxResultsPrefix}N`, QUIRK.userIdentityResponse].join(', ');
    throw new UsageError(`--quirks ${unknown.map((word) => `"${word}"`).join(', ')} is not a known quirk: use ${list}`);
  }
  return valid;
}

/** Parses `--timeout connect=5 dimse=120` into NodeTimeouts fields. */
function parseTimeouts(values: string[] | undefined): Partial<NodeTimeouts> | undefined {
  if (values === undefined) return undefined;
  const timeouts: Record<string, number> = {};
  for (const value of values) {
    const match = /^([a-z]+)=(\d+)$/.exec(value.trim());
    const field = match ? `${match[1]}Seconds` : '';
    if (!match || !(field in DEFAULT_NODE_TIMEOUTS)) {
      const names = Object.keys(DEFAULT_NODE_TIMEOUTS).map((key) => key.replace(/Seconds$/, ''));
      throw new UsageError(`--timeout "${value}" is invalid: use NAME=SECONDS with NAME one of ${names.join(', ')}`);
    }
    timeouts[field] = Number(match[2]);
  }
  return timeouts;
}

/**
 * Checks that --key-file names a readable file on this machine, so a typo is
 * reported at add time instead of at the first connection. Settings
 * validation checks only the form, because a settings file may be edited on
 * another machine. So `nodes import` does not run this check.
 */
function validateKeyFile(value: string): string {
  const keyFile = validateAbsolutePath('--key-file', value);
  const fix = 'give the absolute path of an existing private key, or leave --key-file out to log in with a password';
  let stats: fs.Stats;
  try {
    stats = fs.statSync(keyFile);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new UsageError(`--key-file ${keyFile} not found: ${fix}`);
    throw new UsageError(`--key-file ${keyFile} cannot be read (${(error as Error).message}): ${fix}`);
  }
  if (!stats.isFile()) throw new UsageError(`--key-file ${keyFile} is not a file: ${fix}`);
  try {
    fs.accessSync(keyFile, fs.constants.R_OK);
  } catch (error) {
    throw new UsageError(`--key-file ${keyFile} cannot be read (${(error as Error).message}): check its permissions, or ${fix}`);
  }
  return keyFile;
}

/**
 * Adds the ways out to the rejection of an AE title that another node uses
 * (the message of checkUniqueAeTitle already names that node). Returns other
 * errors unchanged.
 */
function explainTakenAeTitle(error: unknown, node: PacsNode, others: readonly PacsNode[]): unknown {
  if (!(error instanceof SettingsValidationError) || !error.field.endsWith('.aeTitle')) return error;
  // The same rule as the check it explains: an entry for the same host and port may share the AE title.
  const owner = others.find(
    (other) => other.aeTitle === node.aeTitle && (other.host.toLowerCase() !== node.host.toLowerCase() || other.port !== node.port),
  );
  if (owner === undefined) return error;
  return new UsageError(
    `${error.message}. If ${owner.name} is an old entry for this peer, remove it with "loader nodes remove ${owner.name}" and add ${node.name} again. ` +
      `To rename ${owner.name}, remove it and add it again under the new name. Otherwise give ${node.name} another AE title with --aet`,
  );
}

/**
 * Validates a new entry, then stores its password, then saves the entry, so
 * that a rejected entry leaves no password behind. When the keychain is not
 * available the entry is saved without its password and the keychain error is
 * returned, so the caller can print how to give the password instead.
 */
async function addWithSecret<T extends PacsNode | SshNode>(
  globals: GlobalOptions,
  kind: LocationKind,
  node: T,
  options: PasswordOptions,
): Promise<{ added: T; keychainError?: SecretStoreUnavailableError }> {
  const settings = openSettings(globals);
  const others = [...settings.listPacsNodes(), ...settings.listSshNodes()];
  let valid: T;
  try {
    valid = (kind === 'pacs' ? validatePacsNode(node as PacsNode, others) : validateSshNode(node as SshNode, others)) as T;
  } catch (error) {
    throw kind === 'pacs' ? explainTakenAeTitle(error, node as PacsNode, settings.listPacsNodes()) : error;
  }
  const label = kind === 'ssh' && (node as SshNode).keyFile !== undefined ? 'Key passphrase' : 'Password';
  const secret = await readPasswordOption(options, `${label} for ${valid.name}`);
  let keychainError: SecretStoreUnavailableError | undefined;
  if (secret !== undefined) {
    try {
      await storeNodeSecret(new KeychainSecretStore(), kind, valid.name, secret);
    } catch (error) {
      if (!(error instanceof SecretStoreUnavailableError)) throw error;
      keychainError = error;
    }
  }
  const added = (kind === 'pacs' ? settings.addPacsNode(valid as PacsNode) : settings.addSshNode(valid as SshNode)) as T;
  return { added, keychainError };
}

/**
 * Reports on standard error that a node was registered without the password
 * the user gave, and sets exit code 3 (partial success) so scripts notice.
 */
function reportPasswordNotStored(name: string, error: SecretStoreUnavailableError): void {
  process.stderr.write(
    `loader: registered ${name} without its password. To give the password, set ${secretEnvVarName(name)} for the loader process, ` +
      `or ${START_SECRET_SERVICE} and run "loader secrets set ${name}" in that session. Cause: ${error.reason}\n`,
  );
  process.exitCode = ExitCode.PartialSuccess;
}

export function registerNodes(program: Command, globals: () => GlobalOptions): void {
  const nodes = program
    .command('nodes')
    .description('manage registered locations: DICOM nodes (PACS servers, modalities, viewers) and SSH sources');

  nodes
    .command('add <name>')
    .description('register a DICOM node')
    .requiredOption('--aet <title>', 'AE title of the node')
    .requiredOption('--host <address>', 'IP address or host name of the node')
    .requiredOption('--port <number>', 'TCP port of the node')
    .option('--charset <term>', 'Specific Character Set for queries to this node', 'ISO_IR 192')
    .option('--login <name>', 'login for user identity negotiation')
    .option('--password-prompt', 'ask for the password on the terminal and store it in the OS keychain')
    .option('--password-stdin', 'read the password from standard input and store it in the OS keychain')
    .option('--quirks <words...>', 'known deviations of the node: no-wildcard-in-dates, no-modalities-in-study, max-results-N, user-identity-response')
    .option('--timeout <name=seconds...>', 'timeouts in seconds: connect, association, dimse, idle')
    .action(async (name: string, options: AddOptions) => {
      // Each option is checked under its own name first, so an error names the option and quotes what was typed.
      const node: PacsNode = {
        name: validateNewNodeName(name),
        aeTitle: validateAeTitle('--aet', options.aet),
        host: validateHost('--host', options.host),
        port: validatePort('--port', options.port),
        characterSet: validateCharacterSet('--charset', options.charset ?? 'ISO_IR 192'),
      };
      if (options.login !== undefined) node.login = validateLogin('--login', options.login);
      if (options.quirks !== undefined) node.quirks = validateQuirkWords(options.quirks);
      const timeouts = parseTimeouts(options.timeout);
      if (timeouts !== undefined) node.timeouts = timeouts;
      const { added, keychainError } = await addWithSecret(globals(), 'pacs', node, options);
      process.stdout.write(`registered ${added.name}: ${added.aeTitle} at ${added.host}:${added.port}\n`);
      if (keychainError !== undefined) reportPasswordNotStored(added.name, keychainError);
    });

  nodes
    .command('add-ssh <name>')
    .description('register an SSH source')
    .requiredOption('--host <address>', 'IP address or host name of the SSH server')
    .option('--port <number>', 'TCP port of the SSH server', '22')
    .requiredOption('--login <name>', 'user name on the SSH server')
    .option('--key-file <path>', 'absolute path of the private key; the password options then set its passphrase')
    .option('--folder <path>', 'absolute path of the folder to open first')
    .option('--password-prompt', 'ask for the password (or key passphrase) on the terminal and store it in the OS keychain')
    .option('--password-stdin', 'read the password (or key passphrase) from standard input and store it in the OS keychain')
    .action(async (name: string, options: AddSshOptions) => {
      const node: SshNode = {
        name: validateNewNodeName(name),
        host: validateHost('--host', options.host),
        port: validatePort('--port', options.port),
        login: validateLogin('--login', options.login),
      };
      if (options.keyFile !== undefined) node.keyFile = validateKeyFile(options.keyFile);
      if (options.folder !== undefined) node.defaultFolder = validateAbsolutePath('--folder', options.folder);
      const { added, keychainError } = await addWithSecret(globals(), 'ssh', node, options);
      process.stdout.write(`registered SSH node ${added.name}: ${added.login}@${added.host}:${added.port}\n`);
      if (keychainError !== undefined) reportPasswordNotStored(added.name, keychainError);
    });

  nodes
    .command('list')
    .description('list registered locations')
    .option('--json', 'print JSON: {"pacs": [...], "ssh": [...]}')
    .action((options: { json?: boolean }) => {
      const settings = openSettings(globals());
      const pacs = settings.listPacsNodes();
      const ssh = settings.listSshNodes();
      if (options.json) {
        process.stdout.write(JSON.stringify({ pacs, ssh }, null, 2) + '\n');
        return;
      }
      const rows = pacs.map((node) => [node.name, node.aeTitle, node.host, String(node.port), node.characterSet, node.login ?? '']);
      process.stdout.write(formatTable(['NAME', 'AE TITLE', 'HOST', 'PORT', 'CHARSET', 'LOGIN'], rows) + '\n');
      if (ssh.length > 0) {
        const sshRows = ssh.map((node) => [node.name, node.host, String(node.port), node.login, node.keyFile ?? '', node.defaultFolder ?? '']);
        process.stdout.write('\nSSH\n' + formatTable(['NAME', 'HOST', 'PORT', 'LOGIN', 'KEY FILE', 'FOLDER'], sshRows) + '\n');
      }
    });

  nodes
    .command('remove <name>')
    .description('remove a registered location and its stored password')
    .action(async (name: string) => {
      const settings = openSettings(globals());
      const kind: LocationKind | undefined = settings.findPacsNode(name) ? 'pacs' : settings.findSshNode(name) ? 'ssh' : undefined;
      if (kind === undefined) {
        // An entry that failed validation is not listed, but the settings warning names this command for removing it.
        const invalidKind: LocationKind | undefined = settings.removePacsNode(name) ? 'pacs' : settings.removeSshNode(name) ? 'ssh' : undefined;
        if (invalidKind === undefined) {
          throw new UsageError(`node "${name}" is not registered; "loader nodes list" shows the registered names`);
        }
        await deleteNodeSecret(new KeychainSecretStore(), invalidKind, name);
        process.stdout.write(`removed the invalid entry ${name}\n`);
        return;
      }
      const registeredName = (kind === 'pacs' ? settings.findPacsNode(name) : settings.findSshNode(name))!.name;
      if (kind === 'pacs') settings.removePacsNode(name);
      else settings.removeSshNode(name);
      await deleteNodeSecret(new KeychainSecretStore(), kind, registeredName);
      process.stdout.write(`removed ${registeredName}\n`);
    });

  nodes
    .command('export <file>')
    .description('write the registered locations to a JSON file (passwords are not exported); "-" writes to standard output')
    .action((file: string) => {
      const text = JSON.stringify(exportLocations(openSettings(globals())), null, 2) + '\n';
      if (file === '-') {
        process.stdout.write(text);
        return;
      }
      fs.writeFileSync(file, text, { mode: 0o600 });
      process.stdout.write(`exported the locations to ${file}\n`);
    });

  nodes
    .command('import <file>')
    .description('add the locations of a JSON file written by "nodes export"; invalid entries are reported and skipped')
    .option('--replace', 'let an imported entry replace a registered entry of the same name instead of rejecting it')
    .option('--json', 'print the report as JSON')
    .action((file: string, options: { replace?: boolean; json?: boolean }) => {
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (error) {
        throw new UsageError(`cannot read ${file}: ${(error as Error).message}`);
      }
      const parsed = parseLocationsFile(text, file);
      const reserved = (kind: 'pacs' | 'ssh') =>
        parsed[kind]
          .filter((entry) => isReservedNodeName((entry as { name?: unknown }).name))
          .map((entry) => ({ kind, name: String((entry as { name: unknown }).name), reason: `the name is reserved: migrate and sync take "${RESERVED_NODE_NAME}" for the local archive` }));
      const rejectedReserved = [...reserved('pacs'), ...reserved('ssh')];
      const allowed = {
        pacs: parsed.pacs.filter((entry) => !isReservedNodeName((entry as { name?: unknown }).name)),
        ssh: parsed.ssh.filter((entry) => !isReservedNodeName((entry as { name?: unknown }).name)),
      };
      const report = importLocations(openSettings(globals()), allowed, { replace: options.replace });
      report.rejected.unshift(...rejectedReserved);
      if (options.json) {
        process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      } else {
        const out = (line: string) => process.stdout.write(line + '\n');
        out(`imported ${report.imported.length} locations, rejected ${report.rejected.length}`);
        for (const entry of report.imported) out(`imported: ${entry.name} (${entry.kind})`);
        for (const name of report.replaced) out(`replaced: ${name}`);
        for (const entry of report.rejected) out(`rejected: ${entry.name} (${entry.kind}): ${entry.reason}`);
        for (const name of report.passwordsIgnored) {
          out(`password of ${name} not imported: passwords stay out of files; store it with "loader secrets set ${name}"`);
        }
      }
      if (report.rejected.length > 0) {
        process.exitCode = report.imported.length > 0 ? ExitCode.PartialSuccess : ExitCode.Failure;
      }
    });
}
