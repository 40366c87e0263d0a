/**
 * Builds the test corpus before the first test file runs when it is missing
 * or outdated. build-corpus.sh returns at once when the corpus is up to date.
 */
import { execFileSync } from 'child_process';
import * as path from 'path';

export default function globalSetup(): void {
  const script = path.join(__dirname, 'fixtures', 'build-corpus.sh');
  try {
    execFileSync(script, [], { stdio: ['ignore', 'ignore', 'inherit'] });
  } catch (error) {
    throw new Error(`building the test corpus failed (${script}): ${(error as Error).message}`);
  }
}
