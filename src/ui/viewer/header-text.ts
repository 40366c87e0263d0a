/** Texts of the viewer: the header panel (Qt rich text), the series buttons and the window title. */
import type { HeaderSummary } from '../../services/viewer/header-summary';
import type { Translate } from '../i18n';
import type { ViewerSeries } from './study-source';

/** Escapes text for a Qt rich text label. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Formats a DICOM DA value YYYYMMDD as YYYY-MM-DD and returns other values unchanged. */
export function formatDicomDate(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d{4})(\d{2})(\d{2})$/.exec(value.trim());
  return match ? `${match[1]}-${match[2]}-${match[3]}` : value;
}

/** Replaces the ^ separators of a DICOM person name (PN) with spaces. */
export function formatPersonName(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return value.split('=')[0].replace(/\^+/g, ' ').trim() || value;
}

/** Returns the word for a Patient's Sex (0010,0040) code M, F or O, and other values unchanged. */
export function formatPatientSex(value: string | undefined, t: Translate): string | undefined {
  const code = value?.trim().toUpperCase();
  if (code === 'M' || code === 'F' || code === 'O') return t(`viewer.sex.${code}`);
  return value;
}

type Field = [label: string, value: string | number | undefined];

/** Digits of a UID component between two places where Qt may wrap it. */
const UID_DIGITS_PER_BREAK = 8;

/**
 * Adds a zero-width space after each dot of a UID and after every
 * UID_DIGITS_PER_BREAK digits of a component, so Qt can wrap a long UID in the
 * narrow header panel. A component may have up to 62 digits (a UID has at most
 * 64 characters, PS3.5 section 9.1), wider than the panel in one piece.
 */
function breakableUid(value: string): string {
  if (!/^[0-9]+(\.[0-9]+)+$/.test(value)) return value;
  const digitRun = new RegExp(`([0-9]{${UID_DIGITS_PER_BREAK}})(?=[0-9])`, 'g');
  return value
    .split('.')
    .map((component) => component.replace(digitRun, '$1\u200b'))
    .join('.\u200b');
}

function section(title: string, fields: Field[]): string {
  const rows = fields
    .filter(([, value]) => value !== undefined && value !== '')
    .map(([label, value]) => `<tr><td style="padding-right:8px">${escapeHtml(label)}</td><td>${escapeHtml(breakableUid(String(value)))}</td></tr>`)
    .join('');
  return `<p style="margin:6px 0 2px 0"><b>${escapeHtml(title)}</b></p><table cellspacing="0" cellpadding="1">${rows}</table>`;
}

/** Returns the header panel as Qt rich text: patient, study, series, instance and transfer syntax. */
export function headerPanelHtml(header: HeaderSummary, t: Translate): string {
  const { patient, study, series, instance, transferSyntax } = header;
  return [
    section(t('viewer.header.patient'), [
      [t('viewer.field.name'), formatPersonName(patient.name)],
      [t('viewer.field.id'), patient.id],
      [t('viewer.field.birthDate'), formatDicomDate(patient.birthDate)],
      [t('viewer.field.sex'), formatPatientSex(patient.sex, t)],
    ]),
    section(t('viewer.header.study'), [
      [t('viewer.field.description'), study.description],
      [t('viewer.field.date'), formatDicomDate(study.date)],
      [t('viewer.field.id'), study.id],
      [t('viewer.field.accessionNumber'), study.accessionNumber],
      [t('viewer.field.uid'), study.instanceUid],
    ]),
    section(t('viewer.header.series'), [
      [t('viewer.field.number'), series.number],
      [t('viewer.field.modality'), series.modality],
      [t('viewer.field.description'), series.description],
      [t('viewer.field.uid'), series.instanceUid],
    ]),
    section(t('viewer.header.instance'), [
      [t('viewer.field.number'), instance.number],
      [t('viewer.field.sopClass'), instance.sopClassName ?? instance.sopClassUid],
      [t('viewer.field.frames'), instance.numberOfFrames],
      [t('viewer.field.uid'), instance.sopInstanceUid],
      [t('viewer.field.characterSet'), header.characterSets.join('\\') || undefined],
    ]),
    section(t('viewer.header.transferSyntax'), [
      [t('viewer.field.name'), transferSyntax.name === transferSyntax.uid ? undefined : transferSyntax.name],
      [t('viewer.field.uid'), transferSyntax.uid],
    ]),
  ].join('');
}

/** Returns the caption of a series button: number and modality, description, and image count. */
export function seriesCaption(series: ViewerSeries, t: Translate): string {
  const title = series.number ? t('viewer.series', { number: series.number }) : t('viewer.seriesUnnumbered');
  const lines = [[title, series.modality].filter(Boolean).join(' · ')];
  if (series.description) lines.push(series.description.length > 22 ? `${series.description.slice(0, 21)}…` : series.description);
  const images = series.instances.reduce((sum, instance) => sum + instance.frames, 0);
  lines.push(t('viewer.images', { count: images }));
  return lines.join('\n');
}
