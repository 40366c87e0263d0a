/**
 * Application of the table E.1-1 rules to a parsed data set, at every level
 * of sequence nesting. The result is a list of writer.ts element specs.
 */
import { Dataset, Element, formatTag, Tag, tagElement, tagGroup, UNDEFINED_LENGTH } from '../dataset';
import { isPrivateTag, lookupKeyword } from '../tags';
import type { ElementSpec } from '../writer';
import { findRule, ProfileOptions, resolveAction } from './profile';
import type { DateMode } from './profile';
import type { ResolvedAction } from './profile-types';
import { Pseudonym, UidMapper } from './job-keys';

/** The data set has a structure the anonymizer cannot rewrite. */
export class AnonymizationError extends Error {
  override name = 'AnonymizationError';
}

/** Everything the rules need besides the element itself. */
export interface RuleContext {
  profile: ProfileOptions;
  uids: Pick<UidMapper, 'replace'>;
  pseudonym: Pseudonym;
  /** Days dates move with the SHIFT action; 0 when dates are not shifted. */
  dateOffsetDays: number;
  /** Private creators whose blocks are kept; empty removes every private element. */
  keptPrivateCreators: ReadonlySet<string>;
  /** Text that CLEAN writes into descriptors; undefined makes them zero-length. */
  descriptorReplacement?: string;
}

const PATIENT_NAME: Tag = 0x00100010;
const PATIENT_ID: Tag = 0x00100020;

/** VRs of dates and times, which follow the date option also where table E.1-1 does not list the attribute. */
const DATE_TIME_VRS = new Set(['DA', 'DT', 'TM']);

/** VRs of person names and free text, which get a dummy value also where table E.1-1 does not list the attribute. */
const UNLISTED_TEXT_VRS = new Set(['PN', 'LT', 'ST', 'UT']);

/**
 * Attributes with an LT, ST or UT value that table E.1-1 does not list and
 * that are kept, because their text is coded or structural, not written
 * about a patient. Selected from the 127 such attributes of the pydicom
 * 2.3.1 data dictionary (PS3.6 2022); every other one gets a dummy value.
 */
const KEPT_UNLISTED_TEXT: ReadonlySet<Tag> = new Set([
  0x00080108, // Extended Code Meaning
  0x00080114, // Coding Scheme External ID
  0x00080115, // Coding Scheme Name
  0x00080116, // Coding Scheme Responsible Organization
  0x0008030e, // Private Data Element Description
  0x0008030f, // Private Data Element Encoding
  0x00160020, // EXIF Version
  0x20100010, // Image Display Format
  0x300a007b, // Fraction Pattern
  0x3010000c, // Conceptual Volume Combination Expression
  0x3010001d, // Device Alternate Identifier Format
  0x30100086, // Intended Start Day of Week
]);

/** Storage Media File-set ID (0088,0130), the label of the removable medium, which may name the patient. */
const STORAGE_MEDIA_FILE_SET_ID: Tag = 0x00880130;

/** Verification Flag (0040,A493) of an SR document, VERIFIED or UNVERIFIED. */
const VERIFICATION_FLAG: Tag = 0x0040a493;
/** Verifying Observer Sequence (0040,A073), which table E.1-1 empties (action D). */
const VERIFYING_OBSERVER_SEQUENCE: Tag = 0x0040a073;

/** VRs whose value is free text that CLEAN may replace with the fixed text. */
const FREE_TEXT_VRS = new Set(['LO', 'SH', 'LT', 'ST', 'UT', 'UC', 'PN']);
/** Binary VRs whose dummy value is zeros of the original length. */
const BINARY_VRS = new Set(['US', 'SS', 'UL', 'SL', 'FL', 'FD', 'AT', 'SV', 'UV', 'OB', 'OW', 'OF', 'OD', 'OL', 'OV', 'UN']);

/** Dummy values for the D action, chosen to be valid for their VR. */
const DUMMY_TEXT: Record<string, string> = {
  AE: 'ANONYMIZED',
  AS: '000D',
  CS: 'ANONYMIZED',
  DA: '19000101',
  DS: '0',
  DT: '19000101000000',
  IS: '0',
  LO: 'ANONYMIZED',
  LT: 'ANONYMIZED',
  PN: 'ANONYMIZED',
  SH: 'ANONYMIZED',
  ST: 'ANONYMIZED',
  TM: '000000',
  UC: 'ANONYMIZED',
  UR: 'urn:anonymized',
  UT: 'ANONYMIZED',
};

/**
 * Returns the element specs of `dataset` after the rules, in tag order.
 * Group length elements (gggg,0000) are dropped because the writer does not
 * recompute them.
 */
export function applyRules(dataset: Dataset, context: RuleContext): ElementSpec[] {
  const specs: ElementSpec[] = [];
  for (const element of dataset.elements.values()) {
    if (tagElement(element.tag) === 0x0000) continue;
    const spec = isPrivateTag(element.tag) ? applyPrivateRule(dataset, element, context) : applyStandardRule(dataset, element, context);
    if (spec) specs.push(spec);
  }
  return specs;
}

/**
 * Returns the action for a date or time attribute that table E.1-1 does not
 * list, such as Instance Creation Date (0008,0012), which modalities set to
 * the day of the scan. Left as it is, it would show the real date beside
 * removed or shifted ones. PS3.15 E.1.1 note 4 suggests handling every DA, DT
 * and TM value by its VR. D writes a dummy value, so a Type 1 attribute stays valid.
 */
function unlistedDateTimeAction(element: Element, dates: DateMode): ResolvedAction {
  if (dates === 'keep' || !element.value || element.value.length === 0) return 'K';
  return dates === 'shift' ? 'SHIFT' : 'D';
}

/**
 * Returns the action for a person name or free text attribute that table
 * E.1-1 does not list, such as Comments on the Scheduled Procedure Step
 * (0040,0400) or Evaluator Name (0014,2006). Such text may name the patient
 * or staff, so it gets a dummy value, which also keeps a Type 1 attribute
 * valid. Coded and structural text (KEPT_UNLISTED_TEXT) and empty values are kept.
 */
function unlistedTextAction(element: Element): ResolvedAction {
  if (!element.value || element.value.length === 0) return 'K';
  if (element.vr !== 'PN' && KEPT_UNLISTED_TEXT.has(element.tag)) return 'K';
  return 'D';
}

/**
 * Returns true for an element of an overlay repeating group, the even groups
 * 6000-601E of the Overlay Plane module.
 */
function isOverlayGroupElement(tag: Tag): boolean {
  return (tagGroup(tag) & 0xffe1) === 0x6000;
}

function applyStandardRule(dataset: Dataset, element: Element, context: RuleContext): ElementSpec | undefined {
  // Table E.1-1 of PS3.15 removes Overlay Data (60xx,3000) and Overlay Comments (60xx,4000) but lists no other
  // overlay attribute. Keeping those others would leave an overlay without its data and with free text such as
  // Overlay Description (60xx,0022) and Overlay Label (60xx,1500), so the whole group is removed. The Clean
  // Graphics option, under which the table cleans Overlay Data instead of removing it, is not offered.
  if (isOverlayGroupElement(element.tag)) return undefined;
  const rule = findRule(element.tag);
  if (!rule && DATE_TIME_VRS.has(element.vr)) return keepElement(dataset, element, context, unlistedDateTimeAction(element, context.profile.dates));
  if (!rule && element.tag === STORAGE_MEDIA_FILE_SET_ID) return undefined;
  if (!rule && element.tag === VERIFICATION_FLAG) return verificationFlag(dataset, element, context);
  if (!rule && UNLISTED_TEXT_VRS.has(element.vr)) return keepElement(dataset, element, context, unlistedTextAction(element));
  if (!rule) return keepElement(dataset, element, context, isReplaceableUid(element) ? 'U' : 'K');
  const action = resolveAction(rule, context.profile);
  if (element.tag === PATIENT_NAME && action !== 'K') {
    return { tag: element.tag, vr: element.vr, value: context.pseudonym.patientName };
  }
  if (element.tag === PATIENT_ID && action !== 'K') {
    return { tag: element.tag, vr: element.vr, value: context.pseudonym.patientId };
  }
  return keepElement(dataset, element, context, action);
}

/**
 * Keeps a private element only when its block's private creator is on the
 * kept list. A kept sequence has the rules applied to its items. Private
 * creator elements themselves are kept when their value is on the list.
 */
function applyPrivateRule(dataset: Dataset, element: Element, context: RuleContext): ElementSpec | undefined {
  if (context.keptPrivateCreators.size === 0) return undefined;
  const element16 = tagElement(element.tag);
  if (element16 < 0x0010) return undefined;
  const creatorTag = element16 <= 0x00ff ? element.tag : ((tagGroup(element.tag) << 16) | (element16 >>> 8)) >>> 0;
  const creator = dataset.getString(creatorTag)?.trim();
  if (creator === undefined || !context.keptPrivateCreators.has(creator)) return undefined;
  return keepElement(dataset, element, context, 'K');
}

/**
 * Returns true for a UID outside the table that still identifies an instance
 * or an entity: every UI value except well-known DICOM UIDs (root
 * 1.2.840.10008), SOP class UIDs, transfer syntaxes and coding schemes. Such
 * UIDs appear in private-free standard attributes newer than the table.
 */
function isReplaceableUid(element: Element): boolean {
  if (element.vr !== 'UI' || !element.value || element.value.length === 0) return false;
  const keyword = lookupKeyword(element.tag) ?? '';
  if (/ClassUID$|TransferSyntax|CodingSchemeUID|MappingResourceUID|ContextGroupExtensionCreatorUID/.test(keyword)) return false;
  const values = element.value.toString('latin1').replace(/[\0 ]+$/, '').split('\\');
  return values.some((value) => !value.trim().startsWith('1.2.840.10008.'));
}

function keepElement(dataset: Dataset, element: Element, context: RuleContext, action: ResolvedAction): ElementSpec | undefined {
  const { tag, vr } = element;
  if (action === 'X') return undefined;

  if (element.items) {
    // NOTE: D on a sequence writes an empty sequence: a dummy item fit for every IOD cannot be built.
    if (action === 'Z' || action === 'D') return { tag, vr: 'SQ', value: [] };
    return { tag, vr: 'SQ', value: element.items.map((item) => applyRules(item, context)) };
  }
  if (element.value === undefined && element.length === UNDEFINED_LENGTH) {
    throw new AnonymizationError(
      `element ${formatTag(tag)} inside a sequence has encapsulated (compressed) data, which the anonymizer cannot copy; remove it or decompress the file first`,
    );
  }

  switch (action) {
    case 'Z':
      return { tag, vr, value: null };
    case 'D':
      return dummyElement(element, context);
    case 'U':
      return vr === 'UI' ? replaceUids(element, context) : dummyElement(element, context);
    case 'SHIFT':
      return shiftElement(dataset, element, context);
    case 'CLEAN':
      return cleanElement(element, context);
    case 'K':
      return { tag, vr, value: element.value ?? Buffer.alloc(0) };
  }
}

/**
 * Returns Verification Flag as UNVERIFIED when the rules empty the Verifying Observer Sequence of a
 * VERIFIED document. PS3.3 C.17.2 requires at least one Verifying Observer item in a VERIFIED
 * document, and the verifier's identity is gone after de-identification.
 */
function verificationFlag(dataset: Dataset, element: Element, context: RuleContext): ElementSpec | undefined {
  const observers = dataset.elements.get(VERIFYING_OBSERVER_SEQUENCE);
  const observerRule = findRule(VERIFYING_OBSERVER_SEQUENCE);
  const observersKept = observers?.items !== undefined && observerRule !== undefined && resolveAction(observerRule, context.profile) === 'K';
  if (dataset.getString(element.tag)?.trim() !== 'VERIFIED' || observersKept) return keepElement(dataset, element, context, 'K');
  return { tag: element.tag, vr: element.vr, value: 'UNVERIFIED' };
}

function dummyElement(element: Element, context: RuleContext): ElementSpec {
  const { tag, vr } = element;
  if (vr === 'UI') return replaceUids(element, context);
  if (BINARY_VRS.has(vr)) return { tag, vr, value: Buffer.alloc(element.value?.length ?? 0) };
  return { tag, vr, value: DUMMY_TEXT[vr] ?? 'ANONYMIZED' };
}

function replaceUids(element: Element, context: RuleContext): ElementSpec {
  const text = (element.value ?? Buffer.alloc(0)).toString('latin1').replace(/[\0 ]+$/, '');
  if (text === '') return { tag: element.tag, vr: element.vr, value: null };
  const replaced = text.split('\\').map((uid) => (uid.trim() === '' ? '' : context.uids.replace(uid)));
  return { tag: element.tag, vr: 'UI', value: replaced };
}

function cleanElement(element: Element, context: RuleContext): ElementSpec {
  const { tag, vr } = element;
  if (context.descriptorReplacement !== undefined && FREE_TEXT_VRS.has(vr)) {
    return { tag, vr, value: context.descriptorReplacement };
  }
  return { tag, vr, value: null };
}

/**
 * Moves the dates of a DA or DT value by the patient's offset. Times (TM) and
 * the time part of DT are kept, because whole days keep them valid. A value
 * that is not a full date is emptied, as it cannot be shifted.
 */
function shiftElement(dataset: Dataset, element: Element, context: RuleContext): ElementSpec {
  const { tag, vr } = element;
  if (vr === 'TM') return { tag, vr, value: element.value ?? Buffer.alloc(0) };
  if (vr !== 'DA' && vr !== 'DT') return cleanElement(element, context);
  const text = dataset.getString(tag) ?? '';
  const shifted: string[] = [];
  for (const value of text.split('\\')) {
    const moved = shiftDate(value.trim(), context.dateOffsetDays);
    if (moved === undefined) return { tag, vr, value: null };
    shifted.push(moved);
  }
  return { tag, vr, value: shifted };
}

/** Returns `value` (YYYYMMDD, optionally followed by a DT time part) moved by `days`, or undefined when it does not start with a valid date. */
export function shiftDate(value: string, days: number): string | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})(.*)$/.exec(value);
  if (!match) return undefined;
  const [, year, month, day, rest] = match;
  const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  if (date.getUTCMonth() !== Number(month) - 1 || date.getUTCDate() !== Number(day)) return undefined;
  date.setUTCDate(date.getUTCDate() + days);
  const formatted = `${String(date.getUTCFullYear()).padStart(4, '0')}${String(date.getUTCMonth() + 1).padStart(2, '0')}${String(
    date.getUTCDate(),
  ).padStart(2, '0')}`;
  return `${formatted}${rest}`;
}
