/**
 * Paths to the sample files of the python3-pydicom package (Debian) and
 * helpers for temporary copies. Suites that need the samples are skipped,
 * with a message, when the package is not installed.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const PYDICOM_DATA = '/usr/lib/python3/dist-packages/pydicom/data';
export const TEST_FILES = path.join(PYDICOM_DATA, 'test_files');
export const CHARSET_FILES = path.join(PYDICOM_DATA, 'charset_files');

export const haveSamples = fs.existsSync(TEST_FILES) && fs.existsSync(CHARSET_FILES);
if (!haveSamples) {
  // eslint-disable-next-line no-console
  console.warn(`DICOM sample files not found under ${PYDICOM_DATA}; install python3-pydicom to run the sample-based tests.`);
}

export const describeWithSamples = haveSamples ? describe : describe.skip;

export function haveTool(name: string): boolean {
  try {
    execFileSync(name, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function testFile(name: string): string {
  return path.join(TEST_FILES, name);
}

export function charsetFile(name: string): string {
  return path.join(CHARSET_FILES, name);
}

/** Creates a temporary folder that the caller removes with removeTempDir. */
export function makeTempDir(prefix = 'dicom-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeTempDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}
