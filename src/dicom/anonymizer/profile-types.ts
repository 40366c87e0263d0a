/** Types of the rules of DICOM PS3.15 table E.1-1 and of the options that change them. */

/**
 * Action of the Basic Profile column (PS3.15 table E.1-1): D dummy value, Z
 * zero-length or dummy, X remove, K keep, C clean, U replace UID. A combined
 * action such as X/Z lets the implementation pick one of its parts.
 */
export type BasicAction = 'D' | 'Z' | 'X' | 'K' | 'C' | 'U' | 'X/Z' | 'X/D' | 'X/Z/D' | 'X/Z/U*' | 'Z/D';

/** Option columns of table E.1-1, by the keys the TSV transcription uses. */
export type OptionKey =
  | 'uids'
  | 'dates'
  | 'mdates'
  | 'patient'
  | 'device'
  | 'institution'
  | 'descriptors'
  | 'structured'
  | 'graphics';

export interface ProfileRule {
  /** Tag as the standard prints it, e.g. (0010,0010) or (60XX,3000). */
  tag: string;
  basic: BasicAction;
  /** Action of each option column that has an entry for this attribute. */
  options: Partial<Record<OptionKey, 'K' | 'C' | 'X'>>;
  name: string;
  /** The rule covers the even groups of a repeating group (50xx or 60xx). */
  repeatingGroup?: true;
}

/**
 * Action applied to one element once the options are taken into account.
 * Besides the single actions of the standard, SHIFT moves a date by the
 * patient's offset (Retain Longitudinal Temporal Information with Modified
 * Dates), and CLEAN empties a descriptor or replaces it with a fixed text.
 */
export type ResolvedAction = 'D' | 'Z' | 'X' | 'K' | 'U' | 'SHIFT' | 'CLEAN';
