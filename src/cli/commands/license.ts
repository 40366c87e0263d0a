/**
 * `loader license activate|status`. The license is checked against the public
 * key built into the loader; see src/services/license.
 */
import type { Command } from 'commander';

import { LicenseError, LicenseService } from '../../services/license';
import { createLogger } from '../../services/logger';
import { resolveConfigDir } from '../../services/settings/settings-store';
import { ExitCode } from '../context';
import type { GlobalOptions } from '../context';

const log = createLogger('loader.license');

function openLicense(globals: GlobalOptions): LicenseService {
  return new LicenseService(resolveConfigDir(globals.configDir));
}

/**
 * Logs a warning when no valid license is activated.
 * NOTE: the server still starts without a license, because tests and CI run without one.
 */
export function warnWhenUnlicensed(globals: GlobalOptions): void {
  const status = openLicense(globals).status();
  if (status.state === 'active') {
    log.info('license is active', { licensee: status.license.licensee, expires: status.license.expires });
    return;
  }
  log.warn(`no valid license: ${status.message}; activate one with "loader license activate FILE"`, { path: status.path });
}

export function registerLicense(program: Command, globals: () => GlobalOptions): void {
  const license = program.command('license').description('activate and check the license');

  license
    .command('activate <file>')
    .description('verify a license file and install it in the settings folder')
    .action((file: string) => {
      const service = openLicense(globals());
      try {
        const activated = service.activate(file);
        process.stdout.write(
          `activated the license for ${activated.licensee}, valid ${activated.issued} to ${activated.expires}` +
            (activated.features.length > 0 ? `, features: ${activated.features.join(', ')}` : '') +
            '\n',
        );
      } catch (error) {
        if (!(error instanceof LicenseError)) throw error;
        process.stderr.write(`loader: license ${file} rejected: ${error.message}\n`);
        process.exitCode = ExitCode.Failure;
      }
    });

  license
    .command('status')
    .description('show the activated license; exits with 1 when none is valid')
    .option('--json', 'print JSON')
    .action((options: { json?: boolean }) => {
      const status = openLicense(globals()).status();
      if (options.json) {
        process.stdout.write(JSON.stringify(status, null, 2) + '\n');
      } else if (status.state === 'active') {
        const { licensee, issued, expires, features } = status.license;
        process.stdout.write(
          `license: active\nlicensee: ${licensee}\nvalid: ${issued} to ${expires} (${status.daysLeft} days left)\n` +
            `features: ${features.length > 0 ? features.join(', ') : '(none)'}\nfile: ${status.path}\n`,
        );
      } else {
        process.stdout.write(`license: ${status.state}\nreason: ${status.message}\nfile: ${status.path}\n`);
        process.stdout.write('activate a license with "loader license activate FILE"\n');
      }
      if (status.state !== 'active') process.exitCode = ExitCode.Failure;
    });
}
