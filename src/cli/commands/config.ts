/**
 * `loader config show|set|path`: the loader's own settings (DICOM identity,
 * server options, interface). Locations are managed with `loader nodes`.
 */
import type { Command } from 'commander';

import { CONFIG_KEYS, setConfigValue } from '../../services/settings/config-keys';
import { openSettings } from '../context';
import type { GlobalOptions } from '../context';
import { describeServerRestart } from '../serve-restart';
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
      const store = openSettings(globals());
      const settings = store.settings;
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
      // A terminal gets cells cut to 80 columns. A pipe or a file gets them whole, so every explanation can be read.
      const maxWidth = process.stdout.isTTY ? 80 : Infinity;
      process.stdout.write(formatTable(['KEY', 'VALUE', 'MEANING'], rows, maxWidth) + '\n');
      process.stdout.write(`\npacs.legacyCharacterSet ${settings.pacs.legacyCharacterSet}: ${store.describeLegacyCharacterSetSource()}\n`);
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
      const restart = describeServerRestart(saved.key, globals());
      // On stderr, so that stdout stays the one "key = value" line that scripts read.
      if (restart !== undefined) process.stderr.write(`${restart}\n`);
    });

  config
    .command('path')
    .description('print the path of the settings file')
    .action(() => {
      process.stdout.write(openSettings(globals()).path + '\n');
    });
}
