/**
 * In-memory model of a parsed DICOM data set (PS3.5 section 7).
 *
 * Values stay as the raw bytes read from the file or the network, so a data set
 * can be indexed or matched without re-encoding it. Text is decoded on request
 * with the data set's Specific Character Set (0008,0005).
 */
import type { LegacyCharacterSet } from './charset';

/** A tag as one unsigned 32-bit number: (group << 16 | element) >>> 0. */
export type Tag = number;

export function makeTag(group: number, element: number): Tag {
  return ((group << 16) | element) >>> 0;
}

export function tagGroup(tag: Tag): number {
  return tag >>> 16;
}

export function tagElement(tag: Tag): number {
  return tag & 0xffff;
}

/** Formats a tag as DICOM writes it: (0010,0010). */
export function formatTag(tag: Tag): string {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
  return `(${hex(tagGroup(tag))},${hex(tagElement(tag))})`;
}

/** Value length that marks an undefined-length sequence or item (PS3.5 section 7.5). */
export const UNDEFINED_LENGTH = 0xffffffff;

export interface Element {
  tag: Tag;
  /** Two-letter VR; 'UN' when an implicit VR stream has a tag the dictionary does not know. */
  vr: string;
  /** Value length as encoded, or UNDEFINED_LENGTH. */
  length: number;
  /** Raw value bytes, absent for sequences and encapsulated pixel data. */
  value?: Buffer;
  /** Items of a sequence (VR SQ). */
  items?: Dataset[];
  /** Byte offset of the value in the buffer or file it was parsed from. */
  offset: number;
}

export interface DatasetEncoding {
  littleEndian: boolean;
  explicitVr: boolean;
}

/**
 * Decodes text bytes with a Specific Character Set. Injected by charset.ts so that
 * this file stays free of codec dependencies.
 */
export type TextDecoderFn = (bytes: Buffer, characterSets: string[], vr: string, legacyCharacterSet: LegacyCharacterSet) => string;

export class Dataset {
  readonly elements = new Map<Tag, Element>();

  /**
   * Defined Terms of Specific Character Set (0008,0005) in force for this data set.
   * Sequence items inherit the value of their parent unless they carry their own.
   */
  characterSets: string[] = [];

  /**
   * Character set of text that is not valid UTF-8 when characterSets declares
   * none or only ISO_IR 6. Sequence items inherit the value of their parent.
   */
  legacyCharacterSet: LegacyCharacterSet = 'latin1';

  constructor(
    readonly encoding: DatasetEncoding,
    private readonly decodeText: TextDecoderFn,
  ) {}

  has(tag: Tag): boolean {
    return this.elements.has(tag);
  }

  get(tag: Tag): Element | undefined {
    return this.elements.get(tag);
  }

  /**
   * Returns the decoded value of a text element with padding removed, multiple
   * values joined by backslash, or undefined when the element is absent.
   * `legacyCharacterSet` overrides the data set's own for this value.
   */
  getString(tag: Tag, legacyCharacterSet: LegacyCharacterSet = this.legacyCharacterSet): string | undefined {
    const element = this.elements.get(tag);
    if (!element || !element.value) return element ? '' : undefined;
    return trimPadding(this.decodeText(element.value, this.characterSets, element.vr, legacyCharacterSet), element.vr);
  }

  /** Returns every value of a multi-valued text element, each with padding removed. */
  getStrings(tag: Tag): string[] {
    const text = this.getString(tag);
    if (text === undefined || text === '') return [];
    return text.split('\\').map((value) => trimPadding(value, 'CS'));
  }

  /** Returns the first value of a numeric element (binary or IS/DS text). */
  getNumber(tag: Tag): number | undefined {
    const element = this.elements.get(tag);
    if (!element?.value || element.value.length === 0) return undefined;
    const bytes = element.value;
    const le = this.encoding.littleEndian;
    switch (element.vr) {
      case 'US':
        return le ? bytes.readUInt16LE(0) : bytes.readUInt16BE(0);
      case 'SS':
        return le ? bytes.readInt16LE(0) : bytes.readInt16BE(0);
      case 'UL':
        return le ? bytes.readUInt32LE(0) : bytes.readUInt32BE(0);
      case 'SL':
        return le ? bytes.readInt32LE(0) : bytes.readInt32BE(0);
      case 'FL':
        return le ? bytes.readFloatLE(0) : bytes.readFloatBE(0);
      case 'FD':
        return le ? bytes.readDoubleLE(0) : bytes.readDoubleBE(0);
      default: {
        const first = (this.getString(tag) ?? '').split('\\')[0].trim();
        const number = Number(first);
        return first === '' || Number.isNaN(number) ? undefined : number;
      }
    }
  }

  /** Returns the items of a sequence, or an empty list when it is absent. */
  getItems(tag: Tag): Dataset[] {
    return this.elements.get(tag)?.items ?? [];
  }
}

/**
 * Removes the padding PS3.5 section 6.2 allows: trailing spaces for text VRs,
 * a trailing NUL for UI, and leading spaces for VRs where they are insignificant.
 */
export function trimPadding(text: string, vr: string): string {
  // Character loops instead of regular expressions: the receive path trims about 25 values per instance.
  let end = text.length;
  while (end > 0 && (text.charCodeAt(end - 1) === 0x20 || text.charCodeAt(end - 1) === 0)) end--;
  let start = 0;
  const keepsLeadingSpaces = vr === 'UI' || vr === 'LT' || vr === 'ST' || vr === 'UT';
  if (!keepsLeadingSpaces) {
    while (start < end && text.charCodeAt(start) === 0x20) start++;
  }
  return start === 0 && end === text.length ? text : text.slice(start, end);
}
