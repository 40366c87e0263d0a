/**
 * Stores the C-STORE sub-operations of our C-GET and C-MOVE requests in the
 * local archive and counts them per study.
 */
import type { DimseResult, StoreRequestContext } from '../../dicom/network';
import { LOADER_IMPLEMENTATION_CLASS_UID, LOADER_IMPLEMENTATION_VERSION_NAME } from '../../dicom/uid';
import { ArchiveError, conflictingUid } from '../archive';
import type { LocalArchive } from '../archive';
import { otherPatientResponse } from '../pacs-server/store-service';
import type { InstanceProblem } from '../transfers/report';

/** C-STORE failure statuses (PS3.4 table B.2-1). */
const OUT_OF_RESOURCES = 0xa700;
const DATASET_DOES_NOT_MATCH_SOP_CLASS = 0xa900;
const CANNOT_UNDERSTAND = 0xc000;

/** Maps an archive error to the C-STORE status the node receives; file system and index errors are out of resources. */
function storeFailureStatus(error: unknown): number {
  const code = error instanceof ArchiveError ? error.code : 'io';
  if (code === 'uid-mismatch' || code === 'missing-attribute') return DATASET_DOES_NOT_MATCH_SOP_CLASS;
  if (code === 'unreadable' || code === 'invalid-uid') return CANNOT_UNDERSTAND;
  return OUT_OF_RESOURCES;
}

export interface StudyCounters {
  /** Instances written to the archive for the first time. */
  stored: number;
  /** Instances whose identical copy the archive already had. */
  duplicates: number;
  /** Instances whose UID the archive already had with other content; kept aside, not indexed. */
  conflicts: number;
  /** The part of `conflicts` that the archive stores under another Patient ID. */
  patientConflicts: number;
}

export class ArchiveReceiver {
  readonly counters = new Map<string, StudyCounters>();
  readonly failures: InstanceProblem[] = [];
  /** Called after each sub-operation with the total received so far. */
  onReceived?: (total: number, studyInstanceUid: string) => void;
  private total = 0;

  /** `nodeAeTitle` is the AE title of the node that the instances are retrieved from. */
  constructor(
    private readonly archive: LocalArchive,
    private readonly nodeAeTitle: string,
  ) {}

  /**
   * Returns the AE title of the sender. On a C-GET the loader opened the association, so
   * the node is the called AE title and the calling one is the loader's own. On a C-MOVE the
   * node or the peer it chose opened the association, so the calling AE title is the sender.
   */
  private senderAeTitle(ctx: StoreRequestContext): string {
    if (ctx.association.calledAeTitle === this.nodeAeTitle) return this.nodeAeTitle;
    return ctx.association.callingAeTitle || this.nodeAeTitle;
  }

  countersFor(studyInstanceUid: string): StudyCounters {
    let counters = this.counters.get(studyInstanceUid);
    if (!counters) {
      counters = { stored: 0, duplicates: 0, conflicts: 0, patientConflicts: 0 };
      this.counters.set(studyInstanceUid, counters);
    }
    return counters;
  }

  /** The C-STORE handler: streams the data set into LocalArchive.receive and maps archive errors to statuses. */
  readonly store = async (ctx: StoreRequestContext): Promise<DimseResult> => {
    try {
      const outcome = await this.archive.receive({
        sopClassUid: ctx.sopClassUid,
        sopInstanceUid: ctx.sopInstanceUid,
        transferSyntaxUid: ctx.presentationContext.transferSyntax,
        sourceAeTitle: this.senderAeTitle(ctx),
        data: ctx.data,
        implementationClassUid: LOADER_IMPLEMENTATION_CLASS_UID,
        implementationVersionName: LOADER_IMPLEMENTATION_VERSION_NAME,
      });
      const counters = this.countersFor(outcome.studyInstanceUid);
      if (outcome.outcome === 'stored') counters.stored++;
      else if (outcome.outcome === 'duplicate') counters.duplicates++;
      else counters.conflicts++;
      this.total++;
      this.onReceived?.(this.total, outcome.studyInstanceUid);
      const rejected = otherPatientResponse(outcome);
      if (rejected) {
        const { level, storedPatientId, receivedPatientId } = outcome.otherPatient!;
        const uid = conflictingUid(outcome.otherPatient!);
        counters.patientConflicts++;
        this.failures.push({
          sopInstanceUid: ctx.sopInstanceUid,
          rejectedByReceiver: true,
          reason:
            `the archive stores ${level} ${uid} under Patient ID "${storedPatientId}", the node sent it under "${receivedPatientId}"; ` +
            `not added to the study, the received copy is kept at ${outcome.path}. Correct the Patient ID or the UIDs on the wrong end`,
        });
        return rejected;
      }
      if (outcome.outcome === 'conflict') {
        this.failures.push({ sopInstanceUid: ctx.sopInstanceUid, rejectedByReceiver: true, reason: `the archive has other content for this SOP Instance UID; the received copy is kept at ${outcome.path}` });
      }
      return { status: 0 };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const status = storeFailureStatus(error);
      // Out of resources stands for file system and index errors of this machine, which a later attempt may not have.
      const rejectedByReceiver = status === OUT_OF_RESOURCES ? {} : { rejectedByReceiver: true as const };
      this.failures.push({ sopInstanceUid: ctx.sopInstanceUid, ...rejectedByReceiver, reason: `not stored in the archive: ${message}` });
      return { status, errorComment: message };
    }
  };
}
