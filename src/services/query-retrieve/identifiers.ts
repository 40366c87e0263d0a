/**
 * C-FIND, C-MOVE and C-GET identifiers of the query/retrieve client: request
 * keys encoded in the node's Specific Character Set, and response identifiers
 * decoded in the character set they declare (PS3.4 C.4.1.1.3, PS3.5 section 6.1).
 */
import { canEncode } from '../../dicom/charset';
import type { DatasetEncoding } from '../../dicom/dataset';
import { parseDataset } from '../../dicom/parser';
import { lookupKeyword, lookupVr } from '../../dicom/tags';
import { TransferSyntax, describeTransferSyntax } from '../../dicom/uid';
import { encodeElements } from '../../dicom/writer';
import type { ElementSpec } from '../../dicom/writer';
import { FilterError } from './study-filters';

export type QueryLevel = 'PATIENT' | 'STUDY' | 'SERIES' | 'IMAGE';

/** Attributes of the query keys this client sends, by keyword. */
export const QUERY_TAGS = {
  SpecificCharacterSet: 0x00080005,
  QueryRetrieveLevel: 0x00080052,
  RetrieveAETitle: 0x00080054,
  StudyDate: 0x00080020,
  StudyTime: 0x00080030,
  SeriesDate: 0x00080021,
  AccessionNumber: 0x00080050,
  Modality: 0x00080060,
  ModalitiesInStudy: 0x00080061,
  StudyDescription: 0x00081030,
  SeriesDescription: 0x0008103e,
  SOPClassUID: 0x00080016,
  SOPInstanceUID: 0x00080018,
  AvailableTransferSyntaxUID: 0x00083002,
  PatientName: 0x00100010,
  PatientID: 0x00100020,
  PatientBirthDate: 0x00100030,
  PatientSex: 0x00100040,
  StudyInstanceUID: 0x0020000d,
  SeriesInstanceUID: 0x0020000e,
  StudyID: 0x00200010,
  SeriesNumber: 0x00200011,
  InstanceNumber: 0x00200013,
  NumberOfStudyRelatedSeries: 0x00201206,
  NumberOfStudyRelatedInstances: 0x00201208,
  NumberOfSeriesRelatedInstances: 0x00201209,
} as const;

export type QueryKeyword = keyof typeof QUERY_TAGS;

/** One key of a request identifier; the value '' requests the attribute without matching on it (universal matching). */
export interface RequestKey {
  keyword: QueryKeyword;
  value: string | string[];
}

/** Transfer syntaxes proposed for query/retrieve contexts, in order of preference. */
export const QUERY_TRANSFER_SYNTAXES = [TransferSyntax.ExplicitVRLittleEndian, TransferSyntax.ImplicitVRLittleEndian];

export function encodingOf(transferSyntaxUid: string): DatasetEncoding {
  const syntax = describeTransferSyntax(transferSyntaxUid);
  if (!syntax) throw new Error(`Unknown transfer syntax ${transferSyntaxUid} for an identifier`);
  return { explicitVr: syntax.explicitVr, littleEndian: syntax.littleEndian };
}

function isAscii(text: string): boolean {
  return !/[^\x00-\x7f]/.test(text);
}

/**
 * Encodes a request identifier. Text values are encoded in `characterSets`,
 * which are declared in Specific Character Set (0008,0005) whenever a value is
 * not plain ASCII. Throws FilterError when a value cannot be represented in
 * them, e.g. Cyrillic text for a node set to ISO_IR 100.
 */
export function encodeRequestIdentifier(level: QueryLevel, keys: RequestKey[], characterSets: string[], transferSyntaxUid: string): Buffer {
  const elements: ElementSpec[] = [{ tag: QUERY_TAGS.QueryRetrieveLevel, vr: 'CS', value: level }];
  let needsCharacterSet = false;
  for (const key of keys) {
    const tag = QUERY_TAGS[key.keyword];
    const vr = lookupVr(tag);
    const values = Array.isArray(key.value) ? key.value : [key.value];
    for (const value of values) {
      if (isAscii(value)) continue;
      if (!canEncode(value, characterSets, vr)) {
        throw new FilterError(`"${value}" cannot be encoded in the node's character set ${characterSets.join('\\')}; change the node's character set or the filter`);
      }
      needsCharacterSet = true;
    }
    elements.push({ tag, vr, value: Array.isArray(key.value) ? key.value : key.value });
  }
  const declared = needsCharacterSet ? characterSets : [];
  if (declared.length > 0) elements.push({ tag: QUERY_TAGS.SpecificCharacterSet, vr: 'CS', value: declared });
  return encodeElements(elements, encodingOf(transferSyntaxUid), declared);
}

/** A response identifier with text values decoded, keyed by DICOM keyword. */
export interface DecodedIdentifier {
  values: Record<string, string>;
  /** Specific Character Set the values were decoded with; [] for the default repertoire. */
  characterSets: string[];
  /** True when the identifier had non-ASCII text but declared no character set, so the node's was assumed. */
  assumedCharacterSet: boolean;
}

/**
 * Decodes a response identifier with the character set it declares. When it
 * declares none but contains non-ASCII bytes, the node's configured character
 * set is assumed, because many nodes send their own encoding undeclared.
 */
export function decodeResponseIdentifier(bytes: Buffer, transferSyntaxUid: string, nodeCharacterSets: string[]): DecodedIdentifier {
  const encoding = encodingOf(transferSyntaxUid);
  let dataset = parseDataset(bytes, encoding, { stopAtTag: null });
  let assumedCharacterSet = false;
  if (dataset.characterSets.length === 0 && !isAscii(bytes.toString('latin1'))) {
    dataset = parseDataset(bytes, encoding, { stopAtTag: null, characterSets: nodeCharacterSets });
    assumedCharacterSet = true;
  }
  const values: Record<string, string> = {};
  for (const element of dataset.elements.values()) {
    if (element.items) continue;
    const keyword = lookupKeyword(element.tag);
    if (keyword === undefined) continue;
    if (['US', 'UL', 'SS', 'SL', 'FL', 'FD'].includes(element.vr)) {
      values[keyword] = String(dataset.getNumber(element.tag) ?? '');
    } else {
      values[keyword] = dataset.getString(element.tag) ?? '';
    }
  }
  return { values, characterSets: dataset.characterSets, assumedCharacterSet };
}
