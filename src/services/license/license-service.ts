/**
 * Activation and status of the license: `activate` verifies a file and copies
 * it to license.json in the settings folder, and `status` verifies that copy.
 */
import fs from 'node:fs';
import path from 'node:path';

import { createLogger } from '../logger';
import { makePrivateFolder, PRIVATE_FILE_MODE } from '../private-files';
import type { License } from './license-format';
import { LicenseError, LicenseVerifier } from './verifier';
import type { LicenseProblem } from './verifier';

const log = createLogger('loader.license');

export const LICENSE_FILE_NAME = 'license.json';

/** Message of the `missing` status, which the license window replaces with its own text. */
export const MISSING_LICENSE_MESSAGE = 'no license is activated';

export type LicenseStatus =
  | { state: 'active'; path: string; license: Omit<License, 'signature'>; daysLeft: number }
  | { state: 'missing'; path: string; message: string }
  | { state: 'invalid'; path: string; problem: LicenseProblem | 'unreadable'; message: string };

export class LicenseService {
  readonly path: string;

  constructor(
    configDir: string,
    private readonly verifier: LicenseVerifier = new LicenseVerifier(),
  ) {
    this.path = path.join(configDir, LICENSE_FILE_NAME);
  }

  /** Verifies the file and installs it, replacing any earlier license; throws LicenseError when it is invalid. */
  activate(file: string): License {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (error) {
      throw new LicenseError('malformed', `cannot read the license file ${file}: ${(error as Error).message}`);
    }
    const license = this.verifier.verify(text);

    // Written under a temporary name and renamed, so a crash never leaves half a license.
    makePrivateFolder(path.dirname(this.path));
    const temporary = `${this.path}.${process.pid}.tmp`;
    fs.writeFileSync(temporary, text, { mode: PRIVATE_FILE_MODE });
    fs.renameSync(temporary, this.path);
    log.info('license activated', { licensee: license.licensee, expires: license.expires, path: this.path });
    return license;
  }

  status(): LicenseStatus {
    let text: string;
    try {
      text = fs.readFileSync(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return { state: 'missing', path: this.path, message: MISSING_LICENSE_MESSAGE };
      }
      return { state: 'invalid', path: this.path, problem: 'unreadable', message: `cannot read ${this.path}: ${(error as Error).message}` };
    }
    try {
      const { signature: _signature, ...license } = this.verifier.verify(text);
      const endOfLastDay = Date.parse(`${license.expires}T00:00:00Z`) + 24 * 60 * 60 * 1000;
      const daysLeft = Math.ceil((endOfLastDay - this.verifier.now().getTime()) / (24 * 60 * 60 * 1000));
      return { state: 'active', path: this.path, license, daysLeft };
    } catch (error) {
      if (!(error instanceof LicenseError)) throw error;
      return { state: 'invalid', path: this.path, problem: error.problem, message: error.message };
    }
  }
}
