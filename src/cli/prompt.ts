/** Questions to the user on a terminal, for commands that confirm a step first. */
import readline from 'node:readline/promises';

/** Writes `question` to stderr and returns true when the user types y or yes on stdin. */
export async function askYesNo(question: string): Promise<boolean> {
  const prompt = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^(y|yes)$/i.test((await prompt.question(question)).trim());
  } finally {
    prompt.close();
  }
}
