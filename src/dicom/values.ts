/**
 * Parsing helpers for DICOM value representations (PS3.5 section 6.2): dates
 * (DA), times (TM) and person names (PN). They accept the legacy forms older
 * equipment writes and never throw.
 */

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * Returns a DA value as 'YYYYMMDD', or undefined when it is not a valid date.
 * Accepts 'YYYYMMDD' and the ACR-NEMA forms 'YYYY.MM.DD' and 'YYYY-MM-DD'
 * (PS3.5 section 6.2, note on DA), with surrounding spaces or NULs.
 */
export function normalizeDate(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const trimmed = text.replace(/^[\0 ]+|[\0 ]+$/g, '');
  const match = trimmed.match(/^(\d{4})(?:(\d{2})(\d{2})|\.(\d{2})\.(\d{2})|-(\d{2})-(\d{2}))$/);
  if (!match) return undefined;
  const year = Number(match[1]);
  const month = Number(match[2] ?? match[4] ?? match[6]);
  const day = Number(match[3] ?? match[5] ?? match[7]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  return `${match[1]}${String(month).padStart(2, '0')}${String(day).padStart(2, '0')}`;
}

/**
 * Returns a TM value as 'HH[MM[SS[.F{1,6}]]]', or undefined when it is not a
 * valid time. Accepts the legacy form 'HH:MM[:SS[.F]]' (PS3.5 section 6.2,
 * note on TM). Seconds may be 60 for a leap second.
 */
export function normalizeTime(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const trimmed = text.replace(/^[\0 ]+|[\0 ]+$/g, '');
  const match =
    trimmed.match(/^(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,6}))?)?)?$/) ??
    trimmed.match(/^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?$/);
  if (!match) return undefined;
  const [, hours, minutes, seconds, fraction] = match;
  if (Number(hours) > 23) return undefined;
  if (minutes !== undefined && Number(minutes) > 59) return undefined;
  if (seconds !== undefined && Number(seconds) > 60) return undefined;
  let normalized = hours;
  if (minutes !== undefined) normalized += minutes;
  if (seconds !== undefined) normalized += seconds;
  if (fraction !== undefined) normalized += `.${fraction}`;
  return normalized;
}

/** The five components of one person name component group (PS3.5 section 6.2.1.1). */
export interface PersonNameComponents {
  familyName: string;
  givenName: string;
  middleName: string;
  namePrefix: string;
  nameSuffix: string;
}

/** A person name split into its alphabetic, ideographic and phonetic component groups (PS3.5 section 6.2.1.2). */
export interface PersonName {
  alphabetic: PersonNameComponents;
  ideographic: PersonNameComponents;
  phonetic: PersonNameComponents;
}

function splitComponents(group: string): PersonNameComponents {
  const [familyName = '', givenName = '', middleName = '', namePrefix = '', nameSuffix = ''] = group
    .split('^')
    .map((component) => component.trim());
  return { familyName, givenName, middleName, namePrefix, nameSuffix };
}

/** Splits one decoded PN value at '=' into component groups and at '^' into components. */
export function splitPersonName(value: string): PersonName {
  const [alphabetic = '', ideographic = '', phonetic = ''] = value.replace(/[\0 ]+$/, '').split('=');
  return {
    alphabetic: splitComponents(alphabetic),
    ideographic: splitComponents(ideographic),
    phonetic: splitComponents(phonetic),
  };
}

/** Returns the component groups of a PN value: [alphabetic, ideographic, phonetic], missing ones empty. */
export function splitPersonNameGroups(value: string): [string, string, string] {
  const [alphabetic = '', ideographic = '', phonetic = ''] = value.replace(/[\0 ]+$/, '').split('=');
  return [alphabetic, ideographic, phonetic];
}

/**
 * Removes trailing empty components and component groups, which PS3.5 section
 * 6.2.1.1 allows writers to omit: 'Wang^XiaoDong=王^小東=' becomes
 * 'Wang^XiaoDong=王^小東' and 'Doe^John^^^' becomes 'Doe^John'.
 */
export function trimPersonName(value: string): string {
  const groups = value
    .replace(/[\0 ]+$/, '')
    .split('=')
    .map((group) => group.replace(/[\^ ]+$/, ''));
  while (groups.length > 0 && groups[groups.length - 1] === '') groups.pop();
  return groups.join('=');
}
