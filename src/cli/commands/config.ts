/**
 * `loader config show|set|path`: the loader's own settings (DICOM identity,
 * server options, interface). Locations are managed with `loader nodes`.
 */
import type { Command } from 'commander';

import { CONFIG_KEYS, setConfigValue } from '../../services/settings/config-keys';
import { openSettings } from '../context';
import type { GlobalOptions } from '../context';
import { formatTable } from '../terminal';

function formatValue(value: unknown): string {
  if (typeof value !== 'boolean') return String(value);
  return value ? 'on' : 'off';
}

export function registerConfig(program: Command, globals: () => GlobalOptions): void {
  const config = program.command('config').description('show and change the loader settings');

  config
    .command('show')
    .description('print the settings; locations are listed by "loader nodes list"')
    .option('--json', 'print the whole settings file content as JSON')
    .action((options: { json?: boolean }) => {
      const settings = openSettings(globals()).settings;
      if (options.json) {
        process.stdout.write(JSON.stringify(settings, null, 2) + '\n');
        return;
      }
      const sections = settings as unknown as Record<string, Record<string, unknown>>;
      const rows = Object.entries(CONFIG_KEYS).map(([key, { section, field, description }]) => [
        key,
        formatValue(sections[section][field]),
        description,
      ]);
      process.stdout.write(formatTable(['KEY', 'VALUE', 'MEANING'], rows, 80) + '\n');
      process.stdout.write(
        `\n${settings.locations.pacs.length} PACS nodes and ${settings.locations.ssh.length} SSH nodes registered\n`,
      );
    });

  config
    .command('set <key> <value>')
    .description(`change one setting; keys: ${Object.keys(CONFIG_KEYS).join(', ')}`)
    .action((key: string, value: string) => {
      const saved = setConfigValue(openSettings(globals()), key, value);
      process.stdout.write(`${saved.key} = ${formatValue(saved.value)}\n`);
    });

  config
    .command('path')
    .description('print the path of the settings file')
    .action(() => {
      process.stdout.write(openSettings(globals()).path + '\n');
    });
}
