/**
 * The log line for data sets whose text was decoded in pacs.legacyCharacterSet
 * (see isLegacyCharacterSetText). While the value is the default of the
 * interface language, nobody has confirmed it for this equipment, so the line
 * is a WARN. A value that an operator set is logged at INFO.
 */
import { LEGACY_CHARACTER_SETS, type LegacyCharacterSet } from '../../dicom/charset';
import type { LogFields, Logger } from '../logger';

/** Origin of the pacs.legacyCharacterSet value that a process uses. */
export interface LegacyCharacterSetSource {
  /** True when an operator set the value (settings file, settings window or --legacy-charset), false for the default of the interface language. */
  chosen: boolean;
  /** Origin in words, such as "given with --legacy-charset" or "default for the Russian interface language (locale LANG=ru_RU.UTF-8)". */
  description: string;
}

/** Source of an archive opened without one: treated as the untouched default, so its notice stays a WARN. */
export const UNKNOWN_LEGACY_CHARACTER_SET_SOURCE: LegacyCharacterSetSource = { chosen: false, description: 'default' };

/**
 * Logs that `subject` ("Received data sets", "Scanned files") had text decoded
 * in `legacyCharacterSet`, with its source and the commands that change it and
 * index the archive again. A running server reads the setting at its start, so
 * `restartServer` adds that step. `fields` are the counts and ids of the line.
 */
export function logLegacyCharacterSetText(
  logger: Logger,
  subject: string,
  legacyCharacterSet: LegacyCharacterSet,
  source: LegacyCharacterSetSource,
  restartServer: boolean,
  fields: LogFields,
): void {
  const fact =
    `${subject} without Specific Character Set (0008,0005) have names or descriptions with bytes that are not ASCII or UTF-8; ` +
    `they were indexed as pacs.legacyCharacterSet ${legacyCharacterSet}, ${source.description}.`;
  const change =
    `set the character set of this equipment with "loader config set pacs.legacyCharacterSet VALUE" (one of ${LEGACY_CHARACTER_SETS.join(', ')})` +
    `${restartServer ? ', restart the server,' : ''} and run "loader reindex"`;
  const line = { ...fields, legacyCharacterSet };

  if (source.chosen) {
    logger.info(`${fact} If names look garbled, ${change}`, line);
    return;
  }
  logger.warn(
    `${fact} If names look garbled, ${change}. ` +
      `If they look right, set the value anyway ("loader config set pacs.legacyCharacterSet ${legacyCharacterSet}"), which turns this warning into an INFO line`,
    line,
  );
}
