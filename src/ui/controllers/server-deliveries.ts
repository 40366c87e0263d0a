/**
 * Instances of a C-MOVE retrieve that the node sends to the window's PACS
 * server instead of the retrieve's own C-STORE SCP. Both listen with the
 * loader's AE title: the server on pacs.port and the retrieve on
 * pacs.moveScuPort. A node whose move destination for that AE title names
 * pacs.port delivers the study to the server. The retrieve finds such
 * instances when its target archive is the server's, but not in another
 * archive, such as the viewer's cache. These helpers count the instances
 * that the server received for the retrieve's progress, and copy them into
 * the target archive when that is another archive.
 */
import type { LocalArchive } from '../../services/archive';
import { isMissedDeliveryNote } from '../../services/query-retrieve';
import type { RetrieveReport, StudyRetrieveReport } from '../../services/query-retrieve';
import { createLogger } from '../../services/logger';
import type { ReceivedInstance } from '../../services/pacs-server/store-service';
import { outcomeOf } from '../../services/transfers';
import type { InstanceProblem, TransferOutcome } from '../../services/transfers';

const log = createLogger('loader.ui');

/**
 * An instance that the server's archive received: stored, already stored, or kept aside as a conflict.
 * A study retrieved again arrives as duplicates, and they count as received too.
 */
export type ServerReceipt = Pick<ReceivedInstance, 'studyInstanceUid' | 'sopInstanceUid' | 'outcome' | 'otherPatient'>;

/** The instances of some studies that the server received while a retrieve ran, by Study Instance UID. */
export class ServerDeliveryWatch {
  readonly byStudy = new Map<string, Map<string, ServerReceipt>>();

  constructor(
    private readonly studyUids: ReadonlySet<string>,
    private readonly onDelivered: () => void,
    readonly stop: () => void,
  ) {}

  received(receipt: ServerReceipt): void {
    if (!this.studyUids.has(receipt.studyInstanceUid)) return;
    let instances = this.byStudy.get(receipt.studyInstanceUid);
    if (!instances) {
      instances = new Map();
      this.byStudy.set(receipt.studyInstanceUid, instances);
    }
    instances.set(receipt.sopInstanceUid, receipt);
    this.onDelivered();
  }

  /** Returns the number of instances of the study that the server stored or already had. */
  deliveredCount(studyInstanceUid: string): number {
    let count = 0;
    for (const receipt of this.byStudy.get(studyInstanceUid)?.values() ?? []) if (receipt.outcome !== 'conflict') count++;
    return count;
  }
}

/** Passes the server's receipts to the retrieves that watch for them. */
export class ServerDeliveries {
  private readonly watches = new Set<ServerDeliveryWatch>();

  received(receipt: ServerReceipt): void {
    for (const watch of this.watches) watch.received(receipt);
  }

  /** Collects the server's receipts of these studies until the watch's stop(); `onDelivered` runs after each one. */
  watch(studyUids: Iterable<string>, onDelivered: () => void): ServerDeliveryWatch {
    const watch: ServerDeliveryWatch = new ServerDeliveryWatch(new Set(studyUids), onDelivered, () => this.watches.delete(watch));
    this.watches.add(watch);
    return watch;
  }
}

/** The retrieve's target archive, node and ports, and the running server's archive and port, for the copies and the notes. */
export interface DeliveryContext {
  serverArchive: LocalArchive;
  target: LocalArchive;
  nodeName: string;
  aeTitle: string;
  serverPort: number;
  moveScuPort: number;
}

/**
 * Adds the instances that the server received to the C-MOVE studies of a
 * retrieve that did not complete, or that completed only because the
 * retrieve found them in its target archive (missedDelivery). Instances are
 * first copied into the target archive when it is not the server's. Returns
 * the report with the new counts, notes and outcomes; a study that the
 * server received nothing of stays as it was.
 */
export async function addServerDeliveries(report: RetrieveReport, watch: ServerDeliveryWatch, context: DeliveryContext): Promise<RetrieveReport> {
  const studies: StudyRetrieveReport[] = [];
  for (const study of report.studies) {
    const received = watch.byStudy.get(study.studyInstanceUid);
    const receivedByRetrieve = study.outcome === 'success' && study.missedDelivery === undefined;
    if (study.method !== 'move' || receivedByRetrieve || received === undefined) {
      studies.push(study);
      continue;
    }
    const updated = await withDeliveries(study, received, context);
    log.info("C-MOVE instances arrived at the window's PACS server instead of the retrieve's port", {
      node: context.nodeName,
      studyInstanceUid: study.studyInstanceUid,
      atServer: received.size,
      copied: context.target !== context.serverArchive,
      serverPort: context.serverPort,
      moveScuPort: context.moveScuPort,
      completed: updated.completed,
      expected: updated.total,
    });
    studies.push(updated);
  }
  return { ...report, studies, outcome: combinedOutcome(studies) };
}

async function withDeliveries(study: StudyRetrieveReport, received: Map<string, ServerReceipt>, context: DeliveryContext): Promise<StudyRetrieveReport> {
  const failures: InstanceProblem[] = [...study.failures];
  const copyNeeded = context.target !== context.serverArchive;
  let arrived = 0;
  for (const [sopInstanceUid, receipt] of received) {
    if (receipt.outcome === 'conflict') {
      const stored = receipt.otherPatient ? 'stores this study, series or instance under another Patient ID' : 'has other content for this SOP Instance UID';
      failures.push({ sopInstanceUid, reason: `arrived at the loader's PACS server, whose archive ${stored}; the received copy is kept aside` });
    } else if (!copyNeeded) {
      arrived++;
    } else {
      const problem = await copyFromServer(sopInstanceUid, context);
      if (problem === undefined) arrived++;
      else failures.push({ sopInstanceUid, reason: problem });
    }
  }

  // The retrieve counted what its target archive listed after the node's response; the server's receipts replace that count.
  const { missedDelivery, ...rest } = study;
  const completed = study.completed - (missedDelivery?.foundInArchive ?? 0) + arrived;
  const where = copyNeeded ? ", and were copied from the server's archive" : '';
  // The retrieve's own count ("received 0 of N instances listed by ...") and its guess where the instances went no longer hold.
  const notes = study.notes.filter((note) => !/^received \d+ of \d+ instances/.test(note) && !isMissedDeliveryNote(note));
  notes.push(
    `${received.size} instances arrived at the loader's PACS server on port ${context.serverPort} instead of port ${context.moveScuPort} of this retrieve${where}: ` +
      `the move destination of ${context.nodeName} for ${context.aeTitle} is the server's port`,
  );
  if (completed !== study.total) {
    const source = study.expectedFrom === 'study-query' ? 'NumberOfStudyRelatedInstances' : 'an IMAGE level C-FIND';
    notes.push(`received ${completed} of ${study.total} instances listed by ${source}`);
  }
  const updated = { ...rest, completed, failures, notes };
  return { ...updated, outcome: outcomeOf(updated) };
}

/** Copies one instance from the server's archive into the target archive; returns the reason when it fails. */
async function copyFromServer(sopInstanceUid: string, context: DeliveryContext): Promise<string | undefined> {
  const file = context.serverArchive.getInstancePath(sopInstanceUid);
  if (file === undefined) return "arrived at the loader's PACS server, but its archive no longer lists it";
  try {
    const copy = await context.target.importFile(file, { copy: true });
    if (copy.outcome === 'conflict') {
      const stored = copy.otherPatient ? 'stores this study, series or instance under another Patient ID' : 'has other content for this SOP Instance UID';
      return `arrived at the loader's PACS server; the target archive ${stored}, so the copy is kept at ${copy.path}`;
    }
    return undefined;
  } catch (error) {
    return `arrived at the loader's PACS server, but copying ${file} into the target archive failed: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** Returns the outcome shared by all studies, or partial when they differ, as retrieveStudies combines them. */
function combinedOutcome(studies: StudyRetrieveReport[]): TransferOutcome {
  const outcomes = new Set(studies.map((study) => study.outcome));
  return outcomes.size === 1 ? [...outcomes][0] : 'partial';
}
