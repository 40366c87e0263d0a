/**
 * C-FIND SCP for the Patient Root and Study Root information models
 * (PS3.4 annex C), served from the archive's index.
 */
import type { FindMatch, QueryRequestContext } from '../../dicom/network';
import { DimseStatusError, STATUS } from '../../dicom/network';
import { SopClass } from '../../dicom/uid';
import type { LocalArchive } from '../archive';
import { QueryError } from '../archive';
import { findUnsupportedMatchingKeys } from '../archive/query';
import type { Logger } from '../logger';
import {
  decodeIdentifier,
  encodeMatch,
  IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS,
  abbreviateRequestValue,
  UNABLE_TO_PROCESS,
} from './identifier-codec';

const LEVELS = ['PATIENT', 'STUDY', 'SERIES', 'IMAGE'] as const;
export type QueryLevel = (typeof LEVELS)[number];

export type InformationModel = 'PATIENT' | 'STUDY';

/** Matches sent between two turns of the event loop, in which a C-CANCEL-RQ can arrive. */
const CANCEL_CHECK_INTERVAL = 8;

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Returns the information model of a Q/R abstract syntax (FIND, MOVE or GET). */
export function informationModelOf(abstractSyntax: string): InformationModel {
  const patientRoot: string[] = [
    SopClass.PatientRootQueryRetrieveFind,
    SopClass.PatientRootQueryRetrieveMove,
    SopClass.PatientRootQueryRetrieveGet,
  ];
  return patientRoot.includes(abstractSyntax) ? 'PATIENT' : 'STUDY';
}

/** Validates Query/Retrieve Level (0008,0052) against the information model (PS3.4 C.6). */
export function checkLevel(level: string, model: InformationModel): QueryLevel {
  if (!(LEVELS as readonly string[]).includes(level)) {
    throw new DimseStatusError(
      IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS,
      `invalid Query/Retrieve Level "${abbreviateRequestValue(level)}"`,
    );
  }
  if (model === 'STUDY' && level === 'PATIENT') {
    throw new DimseStatusError(
      IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS,
      'PATIENT level is not part of the Study Root model',
    );
  }
  return level as QueryLevel;
}

/** Maximum key names in one log line, because a hostile request may carry thousands of private attributes. */
const MAX_LOGGED_KEY_NAMES = 16;

function listForLog(names: string[]): string {
  const listed = names.slice(0, MAX_LOGGED_KEY_NAMES).join(',');
  return names.length > MAX_LOGGED_KEY_NAMES ? `${listed},...(${names.length} in all)` : listed;
}

export function createFindHandler(archive: LocalArchive, aeTitle: string, log: Logger) {
  return async function* handleFind(context: QueryRequestContext): AsyncIterable<FindMatch> {
    const transferSyntax = context.presentationContext.transferSyntax;
    const request = decodeIdentifier(context.identifier, transferSyntax);
    const model = informationModelOf(context.presentationContext.abstractSyntax);
    const level = checkLevel(request.level, model);
    const queryKeys = request.keys.map((key) => ({ keyword: key.keyword, value: key.value }));
    // Matching keys the index cannot use are ignored, and every match then warns of it with FF01 (PS3.4 table C.4-1).
    const unsupportedKeys = [...request.unsupportedKeys, ...findUnsupportedMatchingKeys(level, queryKeys)];
    const status = unsupportedKeys.length > 0 ? STATUS.PENDING_WITH_WARNINGS : STATUS.PENDING;
    const fields = {
      callingAeTitle: context.association.callingAeTitle,
      level,
      model,
      keys: request.keys.filter((key) => key.value !== '').map((key) => key.keyword).join(','),
      ...(unsupportedKeys.length > 0 ? { unsupportedKeys: listForLog(unsupportedKeys) } : {}),
    };

    let matches = 0;
    try {
      const records = archive.query(level, queryKeys, { model, caseInsensitivePersonNames: true });
      for (const record of records) {
        // Sending waits only once 1 MiB of responses is queued (MAX_QUEUED_SEND_BYTES in association.ts),
        // so without this pause a C-CANCEL-RQ would be read only after the last match.
        if (matches % CANCEL_CHECK_INTERVAL === 0) await yieldToEventLoop();
        if (context.signal.aborted) break;
        matches += 1;
        yield { identifier: encodeMatch(request, record, transferSyntax, aeTitle), status };
      }
    } catch (error) {
      if (error instanceof QueryError) {
        const status = error.code === 'invalid-key' ? UNABLE_TO_PROCESS : IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS;
        log.warn('C-FIND rejected', { ...fields, error: error.message });
        // The network layer cuts the comment to the 64 characters of Error Comment (0000,0902); logs keep all of it.
        throw new DimseStatusError(status, error.message);
      }
      throw error;
    }

    log.info(context.signal.aborted ? 'C-FIND cancelled' : 'C-FIND completed', { ...fields, matches });
  };
}
