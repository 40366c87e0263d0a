/**
 * `loader echo`: C-ECHO to a node, and the node options shared by the
 * query/retrieve commands (a registered node name, or --host, --port and --aec).
 */
import type { Command } from 'commander';

import { resolveNodeCredentials } from '../../services/pacs-server/user-identity';
import { echoNode, findRemoteNode, localIdentityFromSettings, remoteNodeFromAddress } from '../../services/query-retrieve';
import type { LocalIdentity, RemoteNode } from '../../services/query-retrieve';
import { openSettings, UsageError } from '../context';
import type { GlobalOptions } from '../context';
import { promptHidden } from './secrets';

export interface NodeOptions {
  host?: string;
  port?: string;
  aec?: string;
  aet?: string;
  charset?: string;
  timeout?: string;
  acseTimeout?: string;
  dimseTimeout?: string;
  json?: boolean;
}

/** DCMTK's single-dash spellings, which commander cannot declare, mapped to ours. */
const DCMTK_FLAGS: Record<string, string> = { '-aet': '--aet', '-aec': '--aec', '-to': '--timeout', '-ta': '--acse-timeout', '-td': '--dimse-timeout' };

/** Rewrites DCMTK-style flags (-aet, -aec, -to, -ta, -td) into the long options of the query/retrieve commands. */
export function normalizeDcmtkFlags(argv: string[]): string[] {
  return argv.map((argument) => DCMTK_FLAGS[argument] ?? argument);
}

/** Adds the options that pick the called node and the calling AE title, in DCMTK's spelling where it has one. */
export function addNodeOptions(command: Command): Command {
  return command
    .option('--host <address>', 'address of a node that is not registered')
    .option('--port <number>', 'TCP port of a node that is not registered')
    .option('--aec <title>', 'called AE title of a node that is not registered')
    .option('--aet <title>', 'calling AE title (default: pacs.aeTitle from the settings)')
    .option('--charset <term>', 'Specific Character Set for a node that is not registered (default ISO_IR 192)')
    .option('--timeout <seconds>', 'TCP connect timeout in seconds (default: the node\'s, 10)')
    .option('--acse-timeout <seconds>', 'association negotiation and release timeout in seconds (default: the node\'s, 30)')
    .option('--dimse-timeout <seconds>', 'timeout for each DIMSE response in seconds (default: the node\'s, 60)')
    .option('--json', 'print JSON');
}

function parseSeconds(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`${flag} "${text}" is invalid: give a whole number of seconds, 1 or more`);
  return Number(text);
}

/**
 * Resolves the called node and our identity from a node name or --host/--port/--aec.
 * For a registered node with a login, it also reads the node's password: from
 * LOADER_SECRET_<NAME>, the keychain, or a prompt when standard input is a
 * terminal and the keychain is unreachable.
 */
export async function resolveTarget(globals: GlobalOptions, name: string | undefined, options: NodeOptions): Promise<{ node: RemoteNode; local: LocalIdentity }> {
  const settings = openSettings(globals);
  const adHoc = options.host !== undefined || options.port !== undefined || options.aec !== undefined;
  let node: RemoteNode;
  if (name !== undefined && adHoc) throw new UsageError('give either a node name or --host, --port and --aec, not both');
  if (name !== undefined) {
    node = findRemoteNode(settings, name);
  } else {
    if (options.host === undefined || options.port === undefined || options.aec === undefined) {
      throw new UsageError('give a registered node name, or --host, --port and --aec');
    }
    node = remoteNodeFromAddress({ host: options.host, port: options.port, aeTitle: options.aec, characterSet: options.charset });
  }
  node.timeouts.connectSeconds = parseSeconds('--timeout', options.timeout) ?? node.timeouts.connectSeconds;
  node.timeouts.associationSeconds = parseSeconds('--acse-timeout', options.acseTimeout) ?? node.timeouts.associationSeconds;
  node.timeouts.dimseSeconds = parseSeconds('--dimse-timeout', options.dimseTimeout) ?? node.timeouts.dimseSeconds;
  node.credentials = await resolveNodeCredentials(node, {
    prompt: process.stdin.isTTY ? promptHidden : undefined,
    warn: (message) => process.stderr.write(`loader: ${message}\n`),
  });
  return { node, local: localIdentityFromSettings(settings, options.aet) };
}

/** Signals that cancel a running command, with the exit code of a second one (128 plus the signal number). */
const CANCEL_SIGNALS: ReadonlyArray<[NodeJS.Signals, number]> = [
  ['SIGINT', 130],
  ['SIGTERM', 143],
];

/**
 * Returns a signal that aborts on the first Ctrl-C (SIGINT) or SIGTERM, so the
 * command stops and cleans up. A second SIGINT or SIGTERM exits at once with
 * 130 or 143; process 'exit' handlers, such as the one that removes the
 * temporary folders of anonymized copies, still run then.
 */
export function abortOnInterrupt(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const handlers = CANCEL_SIGNALS.map(([name, exitCode]) => {
    const onSignal = () => {
      if (controller.signal.aborted) process.exit(exitCode);
      const notice = name === 'SIGINT' ? 'cancelling; press Ctrl-C again' : 'cancelling on SIGTERM; send SIGTERM again or press Ctrl-C';
      process.stderr.write(`\n${notice} to exit at once\n`);
      controller.abort();
    };
    process.on(name, onSignal);
    return [name, onSignal] as const;
  });
  const dispose = () => {
    for (const [name, onSignal] of handlers) process.off(name, onSignal);
  };
  return { signal: controller.signal, dispose };
}

export function registerEcho(program: Command, globals: () => GlobalOptions): void {
  addNodeOptions(program.command('echo [node]').description('send C-ECHO to a node (registered name, or --host --port --aec)')).action(
    async (name: string | undefined, options: NodeOptions) => {
      const { node, local } = await resolveTarget(globals(), name, options);
      const result = await echoNode(node, local);
      if (options.json) {
        process.stdout.write(JSON.stringify({ node: node.name, aeTitle: node.aeTitle, host: node.host, port: node.port, status: result.status, durationMs: result.durationMs }) + '\n');
      } else {
        process.stdout.write(`C-ECHO to ${node.aeTitle} at ${node.host}:${node.port} succeeded in ${result.durationMs} ms\n`);
      }
    },
  );
}
