/**
 * Prints lists of instances that failed, were held back or have warnings.
 * Many instances often share one reason (a node that stopped responding fails
 * every instance still to send), so a reason shared by more than
 * MAX_LINES_PER_REASON instances is printed once, with the count and the
 * first UIDs. --json output keeps every instance.
 */
import { explainNetworkErrors } from '../services/network-errors';

export { explainNetworkErrors };

const MAX_LINES_PER_REASON = 3;

export interface InstanceProblemLine {
  sopInstanceUid: string;
  reason: string;
}

/** Writes `problems` under `label` ("failed", "held back", "warning"), two spaces in, one reason per group. */
export function printInstanceProblems(label: string, problems: readonly InstanceProblemLine[], write: (line: string) => void): void {
  const byReason = new Map<string, string[]>();
  for (const problem of problems) {
    const uids = byReason.get(problem.reason) ?? [];
    uids.push(problem.sopInstanceUid);
    byReason.set(problem.reason, uids);
  }

  for (const [reason, uids] of byReason) {
    const explained = explainNetworkErrors(reason);
    if (uids.length <= MAX_LINES_PER_REASON) {
      for (const uid of uids) write(`  ${label}: ${uid}: ${explained}\n`);
      continue;
    }
    write(`  ${label}: ${uids.length} instances: ${explained}\n`);
    write(`    ${uids.slice(0, MAX_LINES_PER_REASON).join(', ')} and ${uids.length - MAX_LINES_PER_REASON} more (--json lists all)\n`);
  }
}
