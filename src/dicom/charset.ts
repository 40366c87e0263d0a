/**
 * Text decoding and encoding for Specific Character Set (0008,0005), following
 * PS3.5 section 6.1 (repertoires), section 6.1.2.5 (ISO/IEC 2022 code
 * extensions) and annexes H (Japanese), I (Korean) and J (Chinese).
 *
 * Codecs come from iconv-lite. ISO/IEC 2022 escape sequences are handled here
 * because iconv-lite has no stateful ISO 2022 codecs: every code element is
 * decoded through the EUC or single-byte codec that contains the same characters.
 */
import { isUtf8 } from 'buffer';
import { TextDecoder } from 'node:util';
import type * as IconvLite from 'iconv-lite';

/** VRs whose values use the Specific Character Set. All other text VRs use the default repertoire. */
const CHARACTER_SET_VRS = new Set(['SH', 'LO', 'UC', 'ST', 'LT', 'UT', 'PN']);

/** VRs whose values may contain several values separated by backslash (PS3.5 section 6.4). */
const MULTI_VALUE_TEXT_VRS = new Set(['SH', 'LO', 'UC', 'PN']);

const ESC = 0x1b;

let iconvLite: typeof IconvLite | undefined;

/**
 * Returns iconv-lite, loaded on first use. Requiring it cost about 3 ms of
 * every start (Node 20, 2-core AMD EPYC), and a command that decodes no text,
 * such as a verbatim send, does not need it.
 */
function iconv(): typeof IconvLite {
  iconvLite ??= require('iconv-lite') as typeof IconvLite;
  return iconvLite;
}

/** A graphic character set that an ISO 2022 escape sequence designates to G0 or G1. */
interface CodeElement {
  id: string;
  /** Escape sequence that designates this element, without the leading ESC. */
  escape: number[];
  register: 'G0' | 'G1';
  bytesPerCharacter: 1 | 2;
  decode(bytes: Buffer): string;
  /** Returns the bytes of one character as written in the data set, or undefined when not in the set. */
  encode(character: string): number[] | undefined;
}

function decodeLatin1(bytes: Buffer): string {
  return bytes.toString('latin1');
}

function encodeSingleByteG1(character: string, codec: string): number[] | undefined {
  const bytes = iconv().encode(character, codec);
  if (bytes.length !== 1 || bytes[0] < 0xa0) return undefined;
  return iconv().decode(bytes, codec) === character ? [bytes[0]] : undefined;
}

function singleByteG1(id: string, finalByte: string, codec: string): CodeElement {
  return {
    id,
    escape: [0x2d, finalByte.charCodeAt(0)],
    register: 'G1',
    bytesPerCharacter: 1,
    decode: (bytes) => iconv().decode(bytes, codec),
    encode: (character) => encodeSingleByteG1(character, codec),
  };
}

/** ASCII, ISO-IR 6 (ESC ( B). */
const ASCII: CodeElement = {
  id: 'ascii',
  escape: [0x28, 0x42],
  register: 'G0',
  bytesPerCharacter: 1,
  decode: decodeLatin1,
  encode: (character) => (character.charCodeAt(0) < 0x80 ? [character.charCodeAt(0)] : undefined),
};

/**
 * JIS X 0201 Romaji, ISO-IR 14 (ESC ( J). It differs from ASCII only at 0x5C
 * (yen sign) and 0x7E (overline). Those bytes are decoded as in ASCII, because
 * 0x5C is also the DICOM value delimiter.
 */
const JIS_X0201_ROMAJI: CodeElement = { ...ASCII, id: 'jis-x0201-romaji', escape: [0x28, 0x4a] };

/** JIS X 0201 Katakana, ISO-IR 13 (ESC ) I), the half-width katakana of Shift_JIS 0xA1-0xDF. */
const JIS_X0201_KATAKANA: CodeElement = {
  id: 'jis-x0201-katakana',
  escape: [0x29, 0x49],
  register: 'G1',
  bytesPerCharacter: 1,
  decode: (bytes) => iconv().decode(bytes, 'shift_jis'),
  encode(character) {
    const bytes = iconv().encode(character, 'shift_jis');
    return bytes.length === 1 && bytes[0] >= 0xa1 && bytes[0] <= 0xdf ? [bytes[0]] : undefined;
  },
};

/** JIS X 0208 kanji, ISO-IR 87 (ESC $ B), written as 7-bit byte pairs in G0; EUC-JP sets the high bits. */
const JIS_X0208: CodeElement = {
  id: 'jis-x0208',
  escape: [0x24, 0x42],
  register: 'G0',
  bytesPerCharacter: 2,
  decode: (bytes) => iconv().decode(Buffer.from(bytes.map((byte) => byte | 0x80)), 'euc-jp'),
  encode(character) {
    const bytes = iconv().encode(character, 'euc-jp');
    if (bytes.length !== 2 || bytes[0] < 0xa1 || bytes[1] < 0xa1) return undefined;
    return [bytes[0] & 0x7f, bytes[1] & 0x7f];
  },
};

/** JIS X 0212 supplementary kanji, ISO-IR 159 (ESC $ ( D); EUC-JP writes these as 0x8F plus two bytes. */
const JIS_X0212: CodeElement = {
  id: 'jis-x0212',
  escape: [0x24, 0x28, 0x44],
  register: 'G0',
  bytesPerCharacter: 2,
  decode(bytes) {
    const euc: number[] = [];
    for (let i = 0; i + 1 < bytes.length; i += 2) euc.push(0x8f, bytes[i] | 0x80, bytes[i + 1] | 0x80);
    return iconv().decode(Buffer.from(euc), 'euc-jp');
  },
  encode(character) {
    const bytes = iconv().encode(character, 'euc-jp');
    if (bytes.length !== 3 || bytes[0] !== 0x8f) return undefined;
    return [bytes[1] & 0x7f, bytes[2] & 0x7f];
  },
};

function doubleByteG1(id: string, escape: number[], codec: string): CodeElement {
  return {
    id,
    escape,
    register: 'G1',
    bytesPerCharacter: 2,
    decode: (bytes) => iconv().decode(bytes, codec),
    encode(character) {
      const bytes = iconv().encode(character, codec);
      if (bytes.length !== 2 || bytes[0] < 0xa1 || bytes[1] < 0xa1) return undefined;
      return iconv().decode(bytes, codec) === character ? [bytes[0], bytes[1]] : undefined;
    },
  };
}

/** KS X 1001, ISO-IR 149 (ESC $ ) C), the two-byte part of EUC-KR. */
const KS_X1001 = doubleByteG1('ks-x1001', [0x24, 0x29, 0x43], 'euc-kr');
/** GB 2312, ISO-IR 58 (ESC $ ) A), the two-byte part of EUC-CN. */
const GB2312 = doubleByteG1('gb2312', [0x24, 0x29, 0x41], 'gb2312');

const LATIN1 = singleByteG1('iso-8859-1', 'A', 'iso-8859-1');
const LATIN2 = singleByteG1('iso-8859-2', 'B', 'iso-8859-2');
const LATIN3 = singleByteG1('iso-8859-3', 'C', 'iso-8859-3');
const LATIN4 = singleByteG1('iso-8859-4', 'D', 'iso-8859-4');
const CYRILLIC = singleByteG1('iso-8859-5', 'L', 'iso-8859-5');
const ARABIC = singleByteG1('iso-8859-6', 'G', 'iso-8859-6');
const GREEK = singleByteG1('iso-8859-7', 'F', 'iso-8859-7');
const HEBREW = singleByteG1('iso-8859-8', 'H', 'iso-8859-8');
const LATIN5 = singleByteG1('iso-8859-9', 'M', 'iso-8859-9');
const THAI = singleByteG1('tis-620', 'T', 'tis620');

const ALL_CODE_ELEMENTS: CodeElement[] = [
  ASCII, JIS_X0201_ROMAJI, JIS_X0201_KATAKANA, JIS_X0208, JIS_X0212, KS_X1001, GB2312,
  LATIN1, LATIN2, LATIN3, LATIN4, CYRILLIC, ARABIC, GREEK, HEBREW, LATIN5, THAI,
];

/** Code elements and codec selected by one Defined Term of Specific Character Set (PS3.3 section C.12.1.1.2). */
interface CharacterSetDefinition {
  term: string;
  /** iconv-lite codec that decodes a whole value when this term is the only one and has no code extensions. */
  codec?: string;
  g0?: CodeElement;
  g1?: CodeElement;
  /** The term names an ISO 2022 code extension set ("ISO 2022 IR nnn"). */
  extension: boolean;
}

function single(term: string, codec: string | undefined, g1?: CodeElement, g0: CodeElement = ASCII): CharacterSetDefinition {
  return { term, codec, g0, g1, extension: false };
}

function extension(term: string, g0?: CodeElement, g1?: CodeElement): CharacterSetDefinition {
  return { term, g0, g1, extension: true };
}

const DEFINITIONS = new Map<string, CharacterSetDefinition>(
  [
    single('ISO_IR 6', 'latin1'),
    single('ISO_IR 100', 'iso-8859-1', LATIN1),
    single('ISO_IR 101', 'iso-8859-2', LATIN2),
    single('ISO_IR 109', 'iso-8859-3', LATIN3),
    single('ISO_IR 110', 'iso-8859-4', LATIN4),
    single('ISO_IR 144', 'iso-8859-5', CYRILLIC),
    single('ISO_IR 127', 'iso-8859-6', ARABIC),
    single('ISO_IR 126', 'iso-8859-7', GREEK),
    single('ISO_IR 138', 'iso-8859-8', HEBREW),
    single('ISO_IR 148', 'iso-8859-9', LATIN5),
    single('ISO_IR 166', 'tis620', THAI),
    // JIS X 0201 has no iconv-lite codec of its own, so it always goes through the code element decoder.
    single('ISO_IR 13', undefined, JIS_X0201_KATAKANA, JIS_X0201_ROMAJI),
    single('ISO_IR 192', 'utf8'),
    single('GB18030', 'gb18030'),
    single('GBK', 'gbk'),
    extension('ISO 2022 IR 6', ASCII),
    extension('ISO 2022 IR 100', ASCII, LATIN1),
    extension('ISO 2022 IR 101', ASCII, LATIN2),
    extension('ISO 2022 IR 109', ASCII, LATIN3),
    extension('ISO 2022 IR 110', ASCII, LATIN4),
    extension('ISO 2022 IR 144', ASCII, CYRILLIC),
    extension('ISO 2022 IR 127', ASCII, ARABIC),
    extension('ISO 2022 IR 126', ASCII, GREEK),
    extension('ISO 2022 IR 138', ASCII, HEBREW),
    extension('ISO 2022 IR 148', ASCII, LATIN5),
    extension('ISO 2022 IR 166', ASCII, THAI),
    extension('ISO 2022 IR 13', JIS_X0201_ROMAJI, JIS_X0201_KATAKANA),
    extension('ISO 2022 IR 87', JIS_X0208),
    extension('ISO 2022 IR 159', JIS_X0212),
    extension('ISO 2022 IR 149', undefined, KS_X1001),
    extension('ISO 2022 IR 58', undefined, GB2312),
  ].map((definition) => [definition.term, definition]),
);

/** Code elements in force at the start of a value and after each delimiter. */
interface CodeState {
  g0: CodeElement;
  g1: CodeElement | undefined;
}

/**
 * Returns the Defined Term for a spelling seen in real files: surrounding
 * spaces removed, upper case, and 'ISO-IR 144', 'ISO IR 100', 'ISO_IR_100',
 * 'ISO 2022 IR 87', 'UTF-8' mapped to the standard spelling. Empty stays empty
 * because an empty first value means the default repertoire.
 */
export function normalizeCharacterSetTerm(term: string): string {
  const upper = term.replace(/[\0 ]+$/, '').trim().toUpperCase();
  if (upper === '') return '';
  const extensionMatch = upper.match(/^ISO[ _-]?2022[ _-]?IR[ _-]?(\d+)$/);
  if (extensionMatch) return `ISO 2022 IR ${Number(extensionMatch[1])}`;
  const singleMatch = upper.match(/^ISO[ _-]?IR[ _-]?(\d+)$/);
  if (singleMatch) return `ISO_IR ${Number(singleMatch[1])}`;
  if (upper === 'UTF-8' || upper === 'UTF8') return 'ISO_IR 192';
  return upper;
}

/** Splits a Specific Character Set value at backslashes and normalizes each Defined Term. */
export function parseSpecificCharacterSet(value: string): string[] {
  const terms = value.split('\\').map(normalizeCharacterSetTerm);
  while (terms.length > 1 && terms[terms.length - 1] === '') terms.pop();
  return terms.length === 1 && terms[0] === '' ? [] : terms;
}

/** Returns the terms this module does not know; decodeText reads text under them as decodeNonStandard describes. */
export function findUnknownCharacterSets(characterSets: string[]): string[] {
  return characterSets
    .map(normalizeCharacterSetTerm)
    .filter((term) => term !== '' && !DEFINITIONS.has(term));
}

function lookupDefinitions(characterSets: string[]): (CharacterSetDefinition | undefined)[] {
  return characterSets.map((term) => {
    const normalized = normalizeCharacterSetTerm(term);
    return normalized === '' ? DEFINITIONS.get('ISO_IR 6') : DEFINITIONS.get(normalized);
  });
}

/**
 * Returns the codec for a value that needs no code extension handling. That is
 * a single term that is not an ISO 2022 term, or a first term of ISO_IR 192,
 * GB18030 or GBK, because PS3.5 section 6.1.2.5.3 does not allow code
 * extensions with those. Returns undefined when the ISO 2022 decoder is needed.
 */
function wholeValueCodec(definitions: (CharacterSetDefinition | undefined)[]): string | undefined {
  if (definitions.length === 0) return 'latin1';
  const first = definitions[0];
  if (first && (first.codec === 'utf8' || first.codec === 'gb18030' || first.codec === 'gbk')) return first.codec;
  if (definitions.length > 1) return undefined;
  if (!first) return 'latin1';
  return first.extension ? undefined : first.codec;
}

function initialState(definitions: (CharacterSetDefinition | undefined)[]): CodeState {
  const first = definitions[0];
  return { g0: first?.g0 ?? ASCII, g1: first?.g1 };
}

function isDelimiter(byte: number, vr: string): boolean {
  // Control characters other than ESC, such as CR, LF, TAB and FF (PS3.5 section 6.1.2.5.3).
  if (byte < 0x20 && byte !== ESC) return true;
  if (byte === 0x5c) return MULTI_VALUE_TEXT_VRS.has(vr);
  if (byte === 0x5e || byte === 0x3d) return vr === 'PN';
  return false;
}

function matchEscape(bytes: Buffer, offset: number): CodeElement | undefined {
  for (const element of ALL_CODE_ELEMENTS) {
    const sequence = element.escape;
    if (offset + 1 + sequence.length > bytes.length) continue;
    let matches = true;
    for (let i = 0; i < sequence.length; i++) {
      if (bytes[offset + 1 + i] !== sequence[i]) {
        matches = false;
        break;
      }
    }
    if (matches) return element;
  }
  return undefined;
}

/**
 * Decodes a value that may switch code elements with ISO 2022 escape sequences.
 * The value starts in the code elements of the first term, and returns to them
 * before every delimiter and control character, as PS3.5 section 6.1.2.5.3
 * requires of writers. For PN the delimiters are '^', '=' and '\', so every
 * component group is decoded on its own.
 */
function decodeWithCodeExtensions(bytes: Buffer, definitions: (CharacterSetDefinition | undefined)[], vr: string): string {
  const initial = initialState(definitions);
  let state: CodeState = { ...initial };
  let text = '';
  let runElement: CodeElement | undefined;
  let runBytes: number[] = [];

  const flush = () => {
    if (runElement && runBytes.length > 0) text += runElement.decode(Buffer.from(runBytes));
    runBytes = [];
    runElement = undefined;
  };
  const append = (element: CodeElement, ...values: number[]) => {
    if (runElement !== element) {
      flush();
      runElement = element;
    }
    runBytes.push(...values);
  };

  let i = 0;
  while (i < bytes.length) {
    const byte = bytes[i];

    if (byte === ESC) {
      const element = matchEscape(bytes, i);
      if (element) {
        if (element.register === 'G0') state.g0 = element;
        else state.g1 = element;
        i += 1 + element.escape.length;
      } else {
        // An escape sequence this decoder does not know stays in the text as the ESC character.
        append(ASCII, byte);
        i++;
      }
      continue;
    }

    if (byte < 0x80) {
      if (state.g0.bytesPerCharacter === 2 && byte > 0x20 && i + 1 < bytes.length && bytes[i + 1] > 0x20 && bytes[i + 1] < 0x80) {
        append(state.g0, byte, bytes[i + 1]);
        i += 2;
        continue;
      }
      if (isDelimiter(byte, vr)) {
        append(ASCII, byte);
        state = { ...initial };
        i++;
        continue;
      }
      append(state.g0.bytesPerCharacter === 1 ? state.g0 : ASCII, byte);
      i++;
      continue;
    }

    const g1 = state.g1;
    if (g1 && g1.bytesPerCharacter === 2 && i + 1 < bytes.length && bytes[i + 1] >= 0x80) {
      append(g1, byte, bytes[i + 1]);
      i += 2;
    } else if (g1 && g1.bytesPerCharacter === 1) {
      append(g1, byte);
      i++;
    } else {
      // No G1 set is designated, so the byte is outside every declared repertoire: keep it as Latin-1.
      append(LATIN1_FALLBACK, byte);
      i++;
    }
  }
  flush();
  return text;
}

const LATIN1_FALLBACK: CodeElement = { ...ASCII, id: 'latin1-fallback' };

/** Terms that declare only the default repertoire (ISO 646); '' is an empty first value. */
const DEFAULT_REPERTOIRE_TERMS = new Set(['', 'ISO_IR 6', 'ISO 2022 IR 6']);

function isCodeExtensionTerm(term: string): boolean {
  return normalizeCharacterSetTerm(term).startsWith('ISO 2022 ');
}

function declaresOnlyDefaultRepertoire(characterSets: string[]): boolean {
  return characterSets.every((term) => DEFAULT_REPERTOIRE_TERMS.has(normalizeCharacterSetTerm(term)));
}

/**
 * Returns true when a value under the default repertoire can be read as UTF-8.
 * ISO 646 allows no bytes above 0x7F, so such bytes that form valid UTF-8 come
 * from equipment that writes UTF-8 without declaring it. ASCII-only values
 * decode the same either way. A value with ESC keeps the ISO 2022 decoding
 * of 'ISO 2022 IR 6'.
 * NOTE: a value cut inside a UTF-8 character, as by equipment that truncates
 * to the byte limit of the VR, is not valid UTF-8 and goes to the legacy character set.
 */
function isUndeclaredUtf8(bytes: Buffer): boolean {
  return !bytes.includes(ESC) && isUtf8(bytes);
}

/**
 * Returns true when decodeText reads this value in the legacy character set,
 * so its decoded text depends on pacs.legacyCharacterSet. Such a value is SH,
 * LO, UC, ST, LT, UT or PN, has bytes above 0x7F that are not valid UTF-8, and
 * is read under no Specific Character Set or only ISO_IR 6. Values under
 * unknown terms (see decodeNonStandard) are not counted.
 */
export function isLegacyCharacterSetText(bytes: Buffer, characterSets: string[], vr: string): boolean {
  if (!CHARACTER_SET_VRS.has(vr) || !bytes.some((byte) => byte >= 0x80)) return false;
  if (!declaresOnlyDefaultRepertoire(characterSets) || isUndeclaredUtf8(bytes)) return false;
  return !bytes.includes(ESC) || !characterSets.some(isCodeExtensionTerm);
}

/**
 * Character sets that the loader may assume for text in a data set that
 * declares no Specific Character Set, or only ISO_IR 6, when the text is not
 * valid UTF-8. Names are WHATWG encoding labels, as TextDecoder takes them.
 */
export const LEGACY_CHARACTER_SETS = ['latin1', 'windows-1251', 'koi8-r', 'iso-8859-5'] as const;

export type LegacyCharacterSet = (typeof LEGACY_CHARACTER_SETS)[number];

/** ISO 8859-1, which keeps every byte as one character, so no text is lost. */
export const DEFAULT_LEGACY_CHARACTER_SET: LegacyCharacterSet = 'latin1';

export function isLegacyCharacterSet(value: unknown): value is LegacyCharacterSet {
  return typeof value === 'string' && (LEGACY_CHARACTER_SETS as readonly string[]).includes(value);
}

const legacyDecoders = new Map<LegacyCharacterSet, TextDecoder>();

/**
 * Decodes with a legacy character set. Latin-1 goes through Buffer, because
 * TextDecoder maps the label 'latin1' to windows-1252, which differs at 0x80-0x9F.
 * Node 20's full ICU build has the other three in TextDecoder.
 */
function decodeLegacy(bytes: Buffer, legacyCharacterSet: LegacyCharacterSet): string {
  if (legacyCharacterSet === 'latin1') return bytes.toString('latin1');
  let decoder = legacyDecoders.get(legacyCharacterSet);
  if (!decoder) {
    decoder = new TextDecoder(legacyCharacterSet);
    legacyDecoders.set(legacyCharacterSet, decoder);
  }
  return decoder.decode(bytes);
}

const namedDecoders = new Map<string, TextDecoder | null>();

/** Returns a TextDecoder for an encoding label such as 'WINDOWS-1251' or 'KOI8-R', or undefined when the label names none. */
function decoderForLabel(label: string): TextDecoder | undefined {
  const key = label.toLowerCase();
  if (!namedDecoders.has(key)) {
    let decoder: TextDecoder | null = null;
    try {
      decoder = new TextDecoder(key);
    } catch {
      // Not a WHATWG encoding label.
    }
    namedDecoders.set(key, decoder);
  }
  return namedDecoders.get(key) ?? undefined;
}

/**
 * Decodes text under a Specific Character Set that breaks PS3.5 section 6.1
 * but is seen in real files, or returns undefined for a standard one:
 * - ISO_IR 192 with other terms: PS3.5 allows it only alone, so the value is read as UTF-8.
 * - Only unknown terms: one that names an encoding, such as WINDOWS-1251 or
 *   KOI8-R, decodes with it. Other unknown terms are read as a data set without
 *   Specific Character Set is, as UTF-8 when valid and otherwise in `legacyCharacterSet`.
 */
function decodeNonStandard(bytes: Buffer, characterSets: string[], legacyCharacterSet: LegacyCharacterSet): string | undefined {
  const terms = characterSets.map(normalizeCharacterSetTerm).filter((term) => term !== '');
  if (characterSets.length > 1 && terms.includes('ISO_IR 192') && !bytes.includes(ESC)) return bytes.toString('utf8');
  if (terms.length === 0 || terms.some((term) => DEFINITIONS.has(term))) return undefined;

  const named = terms.length === 1 ? decoderForLabel(terms[0]) : undefined;
  if (named) return named.decode(bytes);
  if (isUndeclaredUtf8(bytes)) return bytes.toString('utf8');
  return decodeLegacy(bytes, legacyCharacterSet);
}

/**
 * Decodes the bytes of a text value with the Specific Character Set terms in
 * force. VRs outside SH, LO, UC, ST, LT, UT and PN use the default repertoire
 * and are read as Latin-1, so bytes are never lost. In SH, LO, UC, ST, LT, UT
 * and PN, a data set without Specific Character Set or with only ISO_IR 6
 * reads a value with valid UTF-8 above 0x7F as UTF-8, and other values in
 * `legacyCharacterSet` (Latin-1 by default). A value with ESC under 'ISO 2022
 * IR 6' keeps the ISO 2022 decoding. Terms that break PS3.5 are read as
 * decodeNonStandard describes. Never throws.
 */
export function decodeText(
  bytes: Buffer,
  characterSets: string[],
  vr: string,
  legacyCharacterSet: LegacyCharacterSet = DEFAULT_LEGACY_CHARACTER_SET,
): string {
  if (bytes.length === 0) return '';
  if (!CHARACTER_SET_VRS.has(vr)) return bytes.toString('latin1');
  if (declaresOnlyDefaultRepertoire(characterSets)) {
    if (isUndeclaredUtf8(bytes)) return bytes.toString('utf8');
    // Escape sequences under 'ISO 2022 IR 6' designate declared code elements, so the ISO 2022 decoder below reads them.
    if (!bytes.includes(ESC) || !characterSets.some(isCodeExtensionTerm)) return decodeLegacy(bytes, legacyCharacterSet);
  }
  const nonStandard = decodeNonStandard(bytes, characterSets, legacyCharacterSet);
  if (nonStandard !== undefined) return nonStandard;

  const definitions = lookupDefinitions(characterSets);
  const codec = wholeValueCodec(definitions);
  if (codec === 'latin1') return bytes.toString('latin1');
  if (codec === 'utf8') return bytes.toString('utf8');
  if (codec !== undefined) return iconv().decode(bytes, codec);
  return decodeWithCodeExtensions(bytes, definitions, vr);
}

function designate(output: number[], element: CodeElement): void {
  output.push(ESC, ...element.escape);
}

/**
 * Encodes with ISO 2022 code extensions: every character goes to the first code
 * element, in the order of the terms, that contains it. Escape sequences switch
 * elements, and the elements of the first term are restored before each
 * delimiter and at the end of the value (PS3.5 section 6.1.2.5.3).
 * Characters that no element contains become '?'.
 */
function encodeWithCodeExtensions(text: string, definitions: (CharacterSetDefinition | undefined)[], vr: string): Buffer {
  const initial = initialState(definitions);
  const state: CodeState = { ...initial };
  const output: number[] = [];
  const candidates: CodeElement[] = [];
  for (const definition of definitions) {
    if (!definition) continue;
    for (const element of [definition.g0, definition.g1]) {
      if (element && element !== ASCII && element !== JIS_X0201_ROMAJI && !candidates.includes(element)) candidates.push(element);
    }
  }

  const restoreInitial = () => {
    if (state.g0 !== initial.g0) {
      designate(output, initial.g0);
      state.g0 = initial.g0;
    }
    if (state.g1 !== initial.g1) {
      if (initial.g1) designate(output, initial.g1);
      state.g1 = initial.g1;
    }
  };

  for (const character of text) {
    const code = character.codePointAt(0) ?? 0;
    if (code < 0x80) {
      if (isDelimiter(code, vr)) {
        restoreInitial();
      } else if (state.g0.bytesPerCharacter !== 1) {
        const g0 = initial.g0.bytesPerCharacter === 1 ? initial.g0 : ASCII;
        designate(output, g0);
        state.g0 = g0;
      }
      output.push(code);
      continue;
    }

    let encoded = false;
    for (const element of candidates) {
      const bytes = element.encode(character);
      if (!bytes) continue;
      const current = element.register === 'G0' ? state.g0 : state.g1;
      if (current !== element) {
        designate(output, element);
        if (element.register === 'G0') state.g0 = element;
        else state.g1 = element;
      }
      output.push(...bytes);
      encoded = true;
      break;
    }
    if (!encoded) {
      if (state.g0.bytesPerCharacter !== 1) {
        designate(output, ASCII);
        state.g0 = ASCII;
      }
      output.push(0x3f);
    }
  }
  restoreInitial();
  return Buffer.from(output);
}

/**
 * Encodes text for a value of the given VR with the Specific Character Set
 * terms in force. Characters the character sets cannot represent are replaced
 * with '?'; use canEncode first to detect that. Does not add padding.
 */
export function encodeText(text: string, characterSets: string[], vr: string): Buffer {
  if (!CHARACTER_SET_VRS.has(vr)) return Buffer.from(text, 'latin1');

  const definitions = lookupDefinitions(characterSets);
  const codec = wholeValueCodec(definitions);
  if (codec === 'latin1') return Buffer.from(text.replace(/[^\u0000-\u007f]/gu, '?'), 'latin1');
  if (codec === 'utf8') return Buffer.from(text, 'utf8');
  if (codec !== undefined) return iconv().encode(text, codec);
  return encodeWithCodeExtensions(text, definitions, vr);
}

/**
 * Returns true when `text` survives encoding with `characterSets` and decoding
 * back unchanged. A server uses it to choose between the requester's character
 * set and ISO_IR 192 for a response.
 */
export function canEncode(text: string, characterSets: string[], vr = 'PN'): boolean {
  if (findUnknownCharacterSets(characterSets).length > 0) return false;
  return decodeText(encodeText(text, characterSets, vr), characterSets, vr) === text;
}
