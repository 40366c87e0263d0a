/** Outcome of a transfer of many instances, shared by send, C-GET and C-MOVE. */

export interface InstanceProblem {
  sopInstanceUid: string;
  /** DIMSE status, when the peer returned one. */
  status?: number;
  reason: string;
  /**
   * Set when the loader's own C-STORE SCP rejected a received instance for its content (invalid UID,
   * Patient ID conflict, other content under a stored SOP Instance UID), so sending it again fails the same way.
   */
  rejectedByReceiver?: true;
}

export interface TransferReport {
  /** Instances the transfer was expected to move. */
  total: number;
  /** Instances that arrived with status success or warning. */
  completed: number;
  /** Instances that arrived with a warning status (counted in `completed` too). */
  warnings: InstanceProblem[];
  failures: InstanceProblem[];
  /** Things worth telling the user that are not tied to one instance, e.g. a fallback and its reason. */
  notes: string[];
}

export type TransferOutcome = 'success' | 'partial' | 'failure';

export function emptyReport(total: number): TransferReport {
  return { total, completed: 0, warnings: [], failures: [], notes: [] };
}

/** Classifies a report: everything arrived, some arrived, or nothing arrived although something was expected. */
export function outcomeOf(report: TransferReport): TransferOutcome {
  if (report.failures.length === 0 && report.completed >= report.total) return 'success';
  if (report.completed === 0 && report.total > 0) return 'failure';
  return 'partial';
}
