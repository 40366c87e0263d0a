/**
 * `loader nodes add|list|remove`: the registry of DICOM nodes. Registered AE
 * titles may call the server and are the C-MOVE destinations it accepts.
 */
import type { Command } from 'commander';

import { openSettings, UsageError } from '../context';
import type { GlobalOptions } from '../context';
import { formatTable } from '../terminal';

interface AddOptions {
  aet: string;
  host: string;
  port: string;
  charset?: string;
}

export function registerNodes(program: Command, globals: () => GlobalOptions): void {
  const nodes = program.command('nodes').description('manage registered DICOM nodes (PACS servers, modalities, viewers)');

  nodes
    .command('add <name>')
    .description('register a node')
    .requiredOption('--aet <title>', 'AE title of the node')
    .requiredOption('--host <address>', 'IP address or host name of the node')
    .requiredOption('--port <number>', 'TCP port of the node')
    .option('--charset <term>', 'Specific Character Set for queries to this node', 'ISO_IR 192')
    .action((name: string, options: AddOptions) => {
      const node = openSettings(globals()).addPacsNode({
        name,
        aeTitle: options.aet,
        host: options.host,
        port: Number(options.port),
        characterSet: options.charset ?? 'ISO_IR 192',
      });
      process.stdout.write(`registered ${node.name}: ${node.aeTitle} at ${node.host}:${node.port}\n`);
    });

  nodes
    .command('list')
    .description('list registered nodes')
    .option('--json', 'print JSON')
    .action((options: { json?: boolean }) => {
      const list = openSettings(globals()).listPacsNodes();
      if (options.json) {
        process.stdout.write(JSON.stringify(list, null, 2) + '\n');
        return;
      }
      const rows = list.map((node) => [node.name, node.aeTitle, node.host, String(node.port), node.characterSet]);
      process.stdout.write(formatTable(['NAME', 'AE TITLE', 'HOST', 'PORT', 'CHARSET'], rows) + '\n');
    });

  nodes
    .command('remove <name>')
    .description('remove a registered node')
    .action((name: string) => {
      if (!openSettings(globals()).removePacsNode(name)) {
        throw new UsageError(`node "${name}" is not registered; "loader nodes list" shows the registered names`);
      }
      process.stdout.write(`removed ${name}\n`);
    });
}
