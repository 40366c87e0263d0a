/**
 * Resolution of a table E.1-1 rule and the chosen options into the one
 * action applied to an element.
 */
import { makeTag, Tag, tagElement, tagGroup } from '../dataset';
import { PROFILE_RULES } from './profile-table';
import type { OptionKey, ProfileRule, ResolvedAction } from './profile-types';

/** Treatment of dates and times (PS3.15 E.3.6). */
export type DateMode = 'remove' | 'keep' | 'shift';

/** Options of PS3.15 annex E that change the actions of table E.1-1. */
export interface ProfileOptions {
  dates: DateMode;
  keepPatientCharacteristics: boolean;
  keepDeviceIdentity: boolean;
  keepInstitutionIdentity: boolean;
  cleanDescriptors: boolean;
}

/** Returns the rule for a tag, mapping the even groups 5000-501E and 6000-601E to their repeating group rule. */
export function findRule(tag: Tag): ProfileRule | undefined {
  const direct = PROFILE_RULES.get(tag);
  if (direct) return direct;
  const group = tagGroup(tag);
  if ((group & 0xff01) === 0x5000) return PROFILE_RULES.get(makeTag(0x5000, 0x0000));
  if ((group & 0xff01) === 0x6000) return PROFILE_RULES.get(makeTag(0x6000, tagElement(tag)));
  return undefined;
}

/** Option columns that the options turn on, in the order their entries override the Basic Profile. */
function enabledOptions(options: ProfileOptions): OptionKey[] {
  const enabled: OptionKey[] = [];
  if (options.cleanDescriptors) enabled.push('descriptors');
  if (options.keepPatientCharacteristics) enabled.push('patient');
  if (options.keepDeviceIdentity) enabled.push('device');
  if (options.keepInstitutionIdentity) enabled.push('institution');
  if (options.dates === 'keep') enabled.push('dates');
  if (options.dates === 'shift') enabled.push('mdates');
  return enabled;
}

/**
 * Returns the action for an element under `rule`. An option's entry replaces
 * the Basic Profile action. Of a combined action the part that keeps the file
 * valid for every IOD is chosen. That is Z for X/Z, because a Type 2 or 3
 * attribute may be empty, and D for X/D, X/Z/D and Z/D, because a Type 1
 * attribute needs a value.
 * X/Z/U* keeps the sequence so that the UIDs inside it are replaced.
 */
export function resolveAction(rule: ProfileRule, options: ProfileOptions): ResolvedAction {
  for (const option of enabledOptions(options).reverse()) {
    const action = rule.options[option];
    if (action === 'K' || action === 'X') return action;
    if (action === 'C') return option === 'mdates' ? 'SHIFT' : 'CLEAN';
  }
  switch (rule.basic) {
    case 'X/Z':
      return 'Z';
    case 'X/D':
    case 'X/Z/D':
    case 'Z/D':
      return 'D';
    case 'X/Z/U*':
      return 'U';
    case 'C':
      return 'CLEAN';
    default:
      return rule.basic;
  }
}
