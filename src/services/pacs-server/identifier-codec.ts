/**
 * Decoding of C-FIND/C-MOVE/C-GET request identifiers and encoding of C-FIND
 * responses, in the presentation context's transfer syntax (PS3.4 C.4).
 */
import { canEncode, findUnknownCharacterSets, type LegacyCharacterSet } from '../../dicom/charset';
import { formatTag, tagElement } from '../../dicom/dataset';
import type { Dataset, DatasetEncoding, Element, Tag } from '../../dicom/dataset';
import { parseDataset } from '../../dicom/parser';
import { isPrivateCreator, lookupKeyword, lookupVr, Tags } from '../../dicom/tags';
import { describeTransferSyntax } from '../../dicom/uid';
import { encodeElements } from '../../dicom/writer';
import type { ElementSpec } from '../../dicom/writer';
import { DimseStatusError } from '../../dicom/network';
import { isUniversalMatch } from '../archive/query-matching';

/** C-FIND failure "Identifier does not match SOP Class" (PS3.4 table C.4-1). */
export const IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS = 0xa900;
/** C-FIND failure "Unable to process" (PS3.4 table C.4-1). */
export const UNABLE_TO_PROCESS = 0xc000;

const UTF8 = 'ISO_IR 192';

/** Attributes a request carries that are not matching keys. */
const NON_KEY_TAGS = new Set<Tag>([Tags.SpecificCharacterSet, Tags.QueryRetrieveLevel]);

export interface RequestedKey {
  tag: Tag;
  keyword: string;
  vr: string;
  /** Decoded value from the request; '' asks for the attribute to be returned. */
  value: string;
}

export interface DecodedIdentifier {
  dataset: Dataset;
  level: string;
  keys: RequestedKey[];
  characterSets: string[];
  /**
   * Matching keys left out of `keys` because the index cannot match them:
   * sequences with an item that carries a value, and private or unknown
   * attributes with a value. Each is named by its keyword, or by its tag as
   * (gggg,eeee) when it has none.
   */
  unsupportedKeys: string[];
}

/** Characters of a request value that messages and log lines quote. */
const QUOTED_VALUE_LENGTH = 64;

/**
 * Shortens a value from a request for a message or log line: whole when short,
 * otherwise its first 64 characters and its length, so that a hostile request
 * cannot write megabytes into the log.
 */
export function abbreviateRequestValue(value: string): string {
  const characters = [...value];
  if (characters.length <= QUOTED_VALUE_LENGTH) return value;
  return `${characters.slice(0, QUOTED_VALUE_LENGTH).join('')}... (${characters.length} characters)`;
}

export function encodingOf(transferSyntaxUid: string): DatasetEncoding {
  const syntax = describeTransferSyntax(transferSyntaxUid);
  if (!syntax) {
    throw new DimseStatusError(UNABLE_TO_PROCESS, `unknown transfer syntax ${transferSyntaxUid}`);
  }
  return { explicitVr: syntax.explicitVr, littleEndian: syntax.littleEndian };
}

/**
 * Decodes a C-FIND, C-MOVE or C-GET identifier. Text of an identifier that
 * declares no Specific Character Set, or only ISO_IR 6, and is not valid UTF-8
 * is read in `legacyCharacterSet`, as the archive indexed such text.
 */
export function decodeIdentifier(bytes: Buffer, transferSyntaxUid: string, legacyCharacterSet: LegacyCharacterSet): DecodedIdentifier {
  let dataset: Dataset;
  try {
    dataset = parseDataset(bytes, encodingOf(transferSyntaxUid), { stopAtTag: 0xffffffff, legacyCharacterSet });
  } catch (error) {
    throw new DimseStatusError(UNABLE_TO_PROCESS, `identifier cannot be parsed: ${(error as Error).message}`);
  }

  const level = (dataset.getString(Tags.QueryRetrieveLevel) ?? '').toUpperCase();
  const keys: RequestedKey[] = [];
  const unsupportedKeys: string[] = [];
  for (const element of dataset.elements.values()) {
    if (NON_KEY_TAGS.has(element.tag) || element.tag >>> 16 === 0x0002) continue;
    const keyword = lookupKeyword(element.tag);
    // A requester that does not know an attribute sends it as UN, so its VR comes from the dictionary.
    const vr = element.vr === 'UN' ? lookupVr(element.tag) : element.vr;
    // Sequence keys and private attributes are not indexed; they are not returned either.
    if (!keyword || vr === 'SQ' || element.items) {
      if (isMatchingKey(dataset, element)) unsupportedKeys.push(keyword ?? formatTag(element.tag));
      continue;
    }
    keys.push({ tag: element.tag, keyword, vr, value: dataset.getString(element.tag) ?? '' });
  }
  return { dataset, level, keys, characterSets: dataset.characterSets, unsupportedKeys };
}

/** VRs whose values are binary, so a value of zero bytes is the only empty one. */
const BINARY_VALUE_VRS = new Set(['AT', 'FD', 'FL', 'OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SL', 'SS', 'SV', 'UL', 'UN', 'US', 'UV']);

/**
 * True when `element` is a matching key rather than a return key (PS3.4
 * C.2.2.2.3 and C.2.2.2.6): a sequence with an item that carries a value at
 * any depth, or another element whose value is neither empty nor only '*'.
 * Group lengths and private creators are never keys.
 */
function isMatchingKey(dataset: Dataset, element: Element): boolean {
  if (tagElement(element.tag) === 0x0000 || isPrivateCreator(element.tag)) return false;
  if (element.items) {
    return element.items.some((item) =>
      [...item.elements.values()].some((inner) => inner.tag !== Tags.SpecificCharacterSet && isMatchingKey(item, inner)),
    );
  }
  if (!element.value || element.value.length === 0) return false;
  if (BINARY_VALUE_VRS.has(element.vr)) return true;
  return !isUniversalMatch(dataset.getString(element.tag) ?? '');
}

/**
 * Chooses the Specific Character Set of a response: the requester's own when it
 * can carry every value, none for plain ASCII, otherwise UTF-8 (ISO_IR 192).
 * A requested set that the loader does not know is never repeated, because
 * the response would then name an encoding it is not in.
 */
export function chooseResponseCharacterSets(values: string[], requested: string[]): string[] {
  const usable = findUnknownCharacterSets(requested).length === 0 ? requested : [];
  const text = values.join('');
  if (!/[^\x00-\x7f]/.test(text)) return usable;
  if (usable.length > 0 && canEncode(text, usable)) return usable;
  return [UTF8];
}

const BINARY_VRS = new Set(['US', 'SS', 'UL', 'SL', 'FL', 'FD']);

/** Encodes one C-FIND match: the requested keys with the record's values. */
export function encodeMatch(
  request: DecodedIdentifier,
  record: Record<string, string>,
  transferSyntaxUid: string,
  retrieveAeTitle: string,
): Buffer {
  const values = request.keys.map((key) => record[key.keyword] ?? '');
  const characterSets = chooseResponseCharacterSets(values, request.characterSets);

  const elements: ElementSpec[] = [];
  if (characterSets.length > 0) {
    elements.push({ tag: Tags.SpecificCharacterSet, vr: 'CS', value: characterSets });
  }
  elements.push({ tag: Tags.QueryRetrieveLevel, vr: 'CS', value: request.level });
  elements.push({ tag: Tags.RetrieveAETitle, vr: 'AE', value: retrieveAeTitle });

  request.keys.forEach((key, index) => {
    if (key.tag === Tags.RetrieveAETitle) return;
    const value = values[index];
    if (BINARY_VRS.has(key.vr)) {
      elements.push({ tag: key.tag, vr: key.vr, value: value === '' ? [] : value.split('\\').map(Number) });
    } else {
      elements.push({ tag: key.tag, vr: key.vr, value: value === '' ? '' : value.split('\\') });
    }
  });

  return encodeElements(elements, encodingOf(transferSyntaxUid), characterSets);
}
