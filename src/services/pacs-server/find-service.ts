/**
 * C-FIND SCP for the Patient Root and Study Root information models
 * (PS3.4 annex C), served from the archive's index.
 */
import type { FindMatch, QueryRequestContext } from '../../dicom/network';
import { findUnknownCharacterSets } from '../../dicom/charset';
import { formatTag } from '../../dicom/dataset';
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
import type { DecodedIdentifier, RequestedKey } from './identifier-codec';

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

/** Forms of a DA or TM matching key that the archive's matcher accepts (see rangeCondition in query-matching.ts). */
const ACCEPTED_FORMS: Record<string, { comment: string; log: string }> = {
  DA: {
    comment: 'YYYYMMDD or a range A-B, A- or -B',
    log: 'YYYYMMDD (also YYYY.MM.DD), or a range A-B of two such dates in which either end may be left open (A- or -B); a list of such values matches any of them',
  },
  TM: {
    comment: 'HHMMSS.FFFFFF or a range A-B, A- or -B',
    log: 'HH, HHMM, HHMMSS or HHMMSS.FFFFFF (also HH:MM:SS), or a range A-B of two such times in which either end may be left open (A- or -B); a list of such values matches any of them',
  },
};

/**
 * Explains an invalid date or time matching key: the log message gets every
 * accepted form, and the Error Comment (at most 64 characters) the short ones.
 * Returns undefined for other query errors.
 */
function explainInvalidDateOrTime(error: QueryError, keys: RequestedKey[]): { logMessage: string; comment: string } | undefined {
  if (error.code !== 'invalid-key') return undefined;
  const key = keys.find((candidate) => error.message.startsWith(`Invalid ${candidate.keyword} value `));
  const forms = key && ACCEPTED_FORMS[key.vr];
  if (!key || !forms) return undefined;
  return {
    logMessage: `${error.message}. Accepted forms: ${forms.log}`,
    comment: `Invalid ${key.keyword} "${abbreviateRequestValue(key.value)}"; use ${forms.comment}`,
  };
}

/**
 * Rejects a request whose non-ASCII key values cannot be decoded: under a
 * Specific Character Set term the loader does not know, such as KOI8-R, or
 * under ISO_IR 192 with bytes that are not valid UTF-8 (decoded to U+FFFD).
 * Such values would be matched as Latin-1 or replacement characters and find
 * nothing, so the requester gets C000 naming the term instead of an empty
 * Success. A request with only ASCII values is decoded the same in every
 * supported character set and goes on. Values are not logged, because they
 * may be patient names.
 *
 * @throws DimseStatusError C000 (Unable to process).
 */
function checkDecodable(request: DecodedIdentifier, context: QueryRequestContext, log: Logger): void {
  const tags = nonAsciiKeyTags(request.keys);
  if (tags.length === 0) return;
  const fields = {
    callingAeTitle: context.association.callingAeTitle,
    calledAeTitle: context.association.calledAeTitle,
    tags: listForLog(tags),
  };

  const unknown = findUnknownCharacterSets(request.characterSets);
  if (unknown.length > 0) {
    const term = abbreviateRequestValue(unknown.join('\\'));
    log.warn('C-FIND rejected: Specific Character Set (0008,0005) is not supported; ask the sender to use ISO_IR 192 (UTF-8)', { ...fields, characterSet: term });
    throw new DimseStatusError(UNABLE_TO_PROCESS, `Specific Character Set ${term} is not supported; use ISO_IR 192`);
  }

  const invalid = request.characterSets.includes('ISO_IR 192') ? request.keys.filter((key) => key.value.includes('\uFFFD')) : [];
  if (invalid.length > 0) {
    const invalidTags = invalid.map((key) => formatTag(key.tag));
    log.warn('C-FIND rejected: keys are not valid UTF-8 although Specific Character Set is ISO_IR 192; ask the sender to encode them in UTF-8 or declare their character set', { ...fields, tags: listForLog(invalidTags) });
    throw new DimseStatusError(UNABLE_TO_PROCESS, `Key ${invalidTags[0]} is not valid UTF-8 (ISO_IR 192)`);
  }
}

/** Returns the tags of the keys whose values have characters outside ASCII, formatted as (gggg,eeee). */
function nonAsciiKeyTags(keys: RequestedKey[]): string[] {
  return keys.filter((key) => /[^\x00-\x7f]/.test(key.value)).map((key) => formatTag(key.tag));
}

export function createFindHandler(archive: LocalArchive, aeTitle: string, log: Logger) {
  return async function* handleFind(context: QueryRequestContext): AsyncIterable<FindMatch> {
    const transferSyntax = context.presentationContext.transferSyntax;
    const request = decodeIdentifier(context.identifier, transferSyntax, archive.legacyCharacterSet);
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

    checkDecodable(request, context, log);
    if (request.characterSets.length === 0) {
      const tags = nonAsciiKeyTags(request.keys);
      if (tags.length > 0) {
        // Without Specific Character Set (0008,0005) the values are outside the default repertoire (PS3.5 section 6.1.2.3),
        // so such a key seldom matches. The values are not logged, because they may be patient names.
        log.warn('C-FIND keys contain bytes above 0x7F but the request has no Specific Character Set (0008,0005); such keys match as decoded and may find nothing. Ask the sender to set Specific Character Set, e.g. ISO_IR 192 for UTF-8', {
          callingAeTitle: context.association.callingAeTitle,
          tags: listForLog(tags),
        });
      }
    }

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
        const explained = explainInvalidDateOrTime(error, request.keys);
        log.warn('C-FIND rejected', { ...fields, error: explained?.logMessage ?? error.message });
        // The network layer cuts the comment to the 64 characters of Error Comment (0000,0902); logs keep all of it.
        throw new DimseStatusError(status, explained?.comment ?? error.message);
      }
      throw error;
    }

    log.info(context.signal.aborted ? 'C-FIND cancelled' : 'C-FIND completed', { ...fields, matches });
  };
}
