/**
 * C-MOVE and C-GET SCP (PS3.4 annex C.4.2 and C.4.3): resolves the request
 * identifier to stored instances and sends each one as a C-STORE sub-operation.
 * The stored bytes go verbatim when the peer accepted their transfer syntax,
 * otherwise they are converted, or decompressed, to an uncompressed syntax it
 * accepted (see openSubOperationData).
 */
import type {
  DimseResult,
  GetRequestContext,
  MoveRequestContext,
  QueryRequestContext,
  RetrieveResult,
} from '../../dicom/network';
import { DimseStatusError } from '../../dicom/network';
import { Tags } from '../../dicom/tags';
import type { LocalArchive, StoredInstance } from '../archive';
import type { Logger } from '../logger';
import { checkLevel, informationModelOf } from './find-service';
import { decodeIdentifier, IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS, abbreviateRequestValue } from './identifier-codec';
import { MoveDestinationSender, openSubOperationData } from './move-destination';
import type { PacsNode } from '../settings/settings-types';

/** Statuses of PS3.4 tables C.4-2 and C.4-3. */
export const RetrieveStatus = {
  Success: 0x0000,
  SubOperationsCompleteWithFailures: 0xb000,
  UnableToPerformSubOperations: 0xa702,
  MoveDestinationUnknown: 0xa801,
  Cancel: 0xfe00,
} as const;

export function isSuccess(status: number): boolean {
  return status === 0x0000;
}

export function isWarning(status: number): boolean {
  return status === 0x0001 || (status & 0xf000) === 0xb000;
}

/** Finds the stored instances a C-MOVE or C-GET identifier names. */
export function resolveInstances(archive: LocalArchive, context: QueryRequestContext): StoredInstance[] {
  const request = decodeIdentifier(context.identifier, context.presentationContext.transferSyntax);
  const model = informationModelOf(context.presentationContext.abstractSyntax);
  const level = checkLevel(request.level, model);
  const dataset = request.dataset;

  const required = (tag: number, name: string): string[] => {
    const values = dataset.getStrings(tag);
    if (values.length === 0) {
      throw new DimseStatusError(IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS, `${level} level retrieve needs ${name}`);
    }
    return values;
  };

  switch (level) {
    case 'PATIENT':
      return required(Tags.PatientID, 'Patient ID').flatMap((patientId) => archive.listInstances({ patientId }));
    case 'STUDY':
      return required(Tags.StudyInstanceUID, 'Study Instance UID').flatMap((studyInstanceUid) =>
        archive.listInstances({ studyInstanceUid }),
      );
    case 'SERIES':
      return required(Tags.SeriesInstanceUID, 'Series Instance UID').flatMap((seriesInstanceUid) =>
        archive.listInstances({ seriesInstanceUid }),
      );
    case 'IMAGE':
      return archive.listInstances({ sopInstanceUids: required(Tags.SOPInstanceUID, 'SOP Instance UID') });
  }
}

type SendOne = (instance: StoredInstance) => Promise<DimseResult>;

/**
 * Runs one C-STORE sub-operation per instance, reporting pending progress after
 * each. One failing instance never stops the others; a cancel stops before the next.
 */
async function runSubOperations(
  instances: StoredInstance[],
  sendOne: SendOne,
  context: MoveRequestContext | GetRequestContext,
  log: Logger,
): Promise<RetrieveResult> {
  const progress = { remaining: instances.length, completed: 0, failed: 0, warning: 0 };
  const failedSopInstanceUids: string[] = [];
  let firstFailure: string | undefined;

  for (const instance of instances) {
    if (context.signal.aborted) {
      return { status: RetrieveStatus.Cancel, ...progress, failedSopInstanceUids };
    }

    let result: DimseResult;
    try {
      result = await sendOne(instance);
    } catch (error) {
      result = { status: 0xc000, errorComment: (error as Error).message };
    }

    progress.remaining -= 1;
    if (isSuccess(result.status)) {
      progress.completed += 1;
    } else if (isWarning(result.status)) {
      progress.warning += 1;
    } else {
      progress.failed += 1;
      failedSopInstanceUids.push(instance.sopInstanceUid);
      firstFailure ??= result.errorComment ?? `the peer answered C-STORE with status 0x${result.status.toString(16).padStart(4, '0')} and no error comment`;
      log.warn('C-STORE sub-operation failed', {
        callingAeTitle: context.association.callingAeTitle,
        sopInstanceUid: instance.sopInstanceUid,
        status: `0x${result.status.toString(16).padStart(4, '0')}`,
        error: result.errorComment,
      });
    }
    if (progress.remaining > 0) context.sendPending({ ...progress });
  }

  let status: number = RetrieveStatus.Success;
  if (progress.failed > 0) {
    status = progress.completed + progress.warning > 0
      ? RetrieveStatus.SubOperationsCompleteWithFailures
      : RetrieveStatus.UnableToPerformSubOperations;
  } else if (progress.warning > 0) {
    status = RetrieveStatus.SubOperationsCompleteWithFailures;
  }
  return { status, ...progress, failedSopInstanceUids, errorComment: firstFailure };
}

export interface RetrieveDependencies {
  archive: LocalArchive;
  aeTitle: string;
  findDestination(aeTitle: string): PacsNode | undefined;
  log: Logger;
}

export function createMoveHandler(deps: RetrieveDependencies) {
  return async function handleMove(context: MoveRequestContext): Promise<RetrieveResult> {
    const destinationAeTitle = context.moveDestination.trim();
    const fields = { callingAeTitle: context.association.callingAeTitle, moveDestination: abbreviateRequestValue(destinationAeTitle) };
    const destination = deps.findDestination(destinationAeTitle);
    if (!destination) {
      deps.log.warn('C-MOVE destination unknown; register it with "loader nodes add"', fields);
      throw new DimseStatusError(RetrieveStatus.MoveDestinationUnknown, `Move destination unknown: ${abbreviateRequestValue(destinationAeTitle)}`);
    }

    const instances = resolveInstances(deps.archive, context);
    deps.log.info('C-MOVE started', { ...fields, instances: instances.length, host: destination.host, port: destination.port });
    if (instances.length === 0) return emptyResult();

    const sender = new MoveDestinationSender(destination, deps.aeTitle, instances, deps.log);
    try {
      await sender.open();
    } catch (error) {
      const message = (error as Error).message;
      deps.log.error('C-MOVE cannot reach its destination', { ...fields, error: message });
      throw new DimseStatusError(RetrieveStatus.UnableToPerformSubOperations, message);
    }

    try {
      const originator = { aeTitle: context.association.callingAeTitle, messageId: context.messageId };
      const result = await runSubOperations(instances, (instance) => sender.send(instance, originator), context, deps.log);
      deps.log.info('C-MOVE finished', { ...fields, ...summarize(result) });
      return result;
    } finally {
      await sender.close();
    }
  };
}

export function createGetHandler(deps: RetrieveDependencies) {
  return async function handleGet(context: GetRequestContext): Promise<RetrieveResult> {
    const fields = { callingAeTitle: context.association.callingAeTitle };
    const instances = resolveInstances(deps.archive, context);
    deps.log.info('C-GET started', { ...fields, instances: instances.length });

    const sendOne = async (instance: StoredInstance): Promise<DimseResult> => {
      const prepared = await openSubOperationData(instance, context.association.acceptedContexts, deps.log);
      if ('failure' in prepared) {
        return { status: RetrieveStatus.UnableToPerformSubOperations, errorComment: prepared.failure };
      }
      return context.store({
        contextId: prepared.contextId,
        sopClassUid: instance.sopClassUid,
        sopInstanceUid: instance.sopInstanceUid,
        data: prepared.data,
      });
    };

    const result = await runSubOperations(instances, sendOne, context, deps.log);
    deps.log.info('C-GET finished', { ...fields, ...summarize(result) });
    return result;
  };
}

function emptyResult(): RetrieveResult {
  return { status: RetrieveStatus.Success, remaining: 0, completed: 0, failed: 0, warning: 0, failedSopInstanceUids: [] };
}

function summarize(result: RetrieveResult) {
  return {
    status: `0x${result.status.toString(16).padStart(4, '0')}`,
    completed: result.completed,
    failed: result.failed,
    warning: result.warning,
  };
}
