/**
 * Anonymization jobs: DICOM PS3.15 annex E, Basic Application Level
 * Confidentiality Profile with the Retain Longitudinal Temporal Information,
 * Retain Patient Characteristics, Retain Device Identity, Retain Institution
 * Identity, Clean Descriptors and Retain Safe Private options.
 *
 * One job contains the secret and the tables that keep replacement UIDs,
 * pseudonyms and date offsets the same across all the files it writes.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Readable, Writable } from 'stream';
import { pipeline } from 'stream/promises';
import * as zlib from 'zlib';

import { Dataset, tagElement } from '../dataset';
import { isPrivateTag, Tags } from '../tags';
import { LOADER_IMPLEMENTATION_CLASS_UID, LOADER_IMPLEMENTATION_VERSION_NAME } from '../uid';
import { buildFileMetaInformation, ElementSpec, encodeElements } from '../writer';
import { holdBackReason } from './hold-back';
import { dateOffsetDays, generateJobSecret, PseudonymScheme, PseudonymTable, UidMapper } from './job-keys';
import type { Pseudonym } from './job-keys';
import { copyPixelGroup, openInstance, OpenedInstance } from './part10';
import type { DateMode, ProfileOptions } from './profile';
import { applyRules, RuleContext } from './rules';

/**
 * Private creators whose blocks --keep-private always keeps.
 * NOTE: PS3.15 table E.3.10-1 lists safe private attributes one by one. This
 * list keeps the whole block of each creator, which is wider than the table.
 */
export const BUILT_IN_SAFE_PRIVATE_CREATORS: readonly string[] = ['GEMS_ACQU_01', 'GEMS_PARM_01', 'SIEMENS MR HEADER'];

export interface AnonymizationOptions {
  /** remove (default), keep full dates, or shift them by a per-patient offset. */
  dates?: DateMode;
  keepPatientCharacteristics?: boolean;
  keepDeviceIdentity?: boolean;
  keepInstitutionIdentity?: boolean;
  /** Keep descriptors cleaned: replaced with descriptorReplacement, or zero-length without it. */
  cleanDescriptors?: boolean;
  descriptorReplacement?: string;
  /** Private creators whose blocks are kept (Retain Safe Private option); absent or empty removes all private elements. */
  keepPrivateCreators?: readonly string[];
  /** Write images that may contain burned-in text, and encapsulated documents, instead of holding them back (see hold-back.ts). */
  allowBurnedIn?: boolean;
  /** Start of pseudonyms, default 'ANON'. */
  pseudonymPrefix?: string;
  pseudonymScheme?: PseudonymScheme;
  /** Hex digits of hash scheme pseudonyms; default HASH_PSEUDONYM_HEX_DIGITS. */
  pseudonymHexDigits?: number;
  /** Secret for UIDs, pseudonyms and date offsets; a random one is generated when absent. */
  jobSecret?: Buffer;
}

/** Outcome of one instance. */
export type InstanceResult =
  | ({ status: 'written'; outPath?: string } & NewUids & WrittenPatient)
  | { status: 'held'; reason: string };

/**
 * Pseudonym and original identity of the patient of a written instance, so a
 * caller can tell which study became which. The original values are
 * identifying: print them to the user only, never to a log.
 */
export interface WrittenPatient {
  pseudonym: Pseudonym;
  originalPatientName: string;
  originalStudyInstanceUid: string;
}

export interface HeldBackInstance {
  /** Input path, or the label given to anonymizeStream. */
  source: string;
  reason: string;
}

export interface AnonymizationReport {
  written: number;
  heldBack: HeldBackInstance[];
  /** Distinct original UIDs replaced in the files written, not in files skipped or failed after their header was read. */
  uidMapSize: number;
  /** Distinct patients of the files written. */
  patients: number;
}

export interface AnonymizeFileOptions {
  /** Whether a file that already exists at the output path is replaced (default true). When false, such a file raises OutputExistsError. */
  overwrite?: boolean;
}

export interface AnonymizationJob {
  /**
   * Anonymizes one Part 10 file. `out` is the output path, or a function of
   * the new UIDs that returns it. A file held back is not written.
   */
  anonymizeFile(inPath: string, out: string | ((uids: NewUids) => string), fileOptions?: AnonymizeFileOptions): Promise<InstanceResult>;
  /** Anonymizes a Part 10 stream into `output`; nothing is written to `output` for an instance held back. */
  anonymizeStream(input: AsyncIterable<Buffer | string>, output: Writable, label?: string): Promise<InstanceResult>;
  report(): AnonymizationReport;
}

export interface NewUids {
  sopInstanceUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
}

/** Patient key and replacement UIDs of one anonymized instance, which the report counts once its output is written. */
interface InstanceKeys {
  patientKey: string;
  replacementUids: Set<string>;
}

/** Media Storage Directory Storage, the SOP class of a DICOMDIR. */
const MEDIA_STORAGE_DIRECTORY = '1.2.840.10008.1.3.10';

/**
 * Raised for a DICOMDIR, which is not anonymized: its directory records
 * repeat patient data and name the original files, which the anonymized
 * copies replace under new names, so a copy would both leak and point nowhere.
 */
export class DicomdirNotAnonymizedError extends Error {
  override readonly name = 'DicomdirNotAnonymizedError';
}

/** Raised when the output path of anonymizeFile exists and the call did not allow replacing it. */
export class OutputExistsError extends Error {
  override readonly name = 'OutputExistsError';

  constructor(readonly outPath: string) {
    super(`${outPath} already exists`);
  }
}

/**
 * Moves the finished `partialPath` to `outPath` unless a file exists there.
 * A hard link fails atomically when the name exists, so a file created by
 * another process after any check is never replaced.
 */
function moveIntoPlaceWithoutReplacing(partialPath: string, outPath: string): void {
  try {
    fs.linkSync(partialPath, outPath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new OutputExistsError(outPath);
    // File systems without hard links (FAT, some network shares) get a check
    // followed by a rename, which a concurrent writer could still race.
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') throw error;
    if (fs.existsSync(outPath)) throw new OutputExistsError(outPath);
    fs.renameSync(partialPath, outPath);
    return;
  }
  fs.rmSync(partialPath, { force: true });
}

const PATIENT_IDENTITY_REMOVED = 0x00120062;
const DEIDENTIFICATION_METHOD = 0x00120063;
const DEIDENTIFICATION_METHOD_CODE_SEQUENCE = 0x00120064;
const LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED = 0x00280303;
const ISSUER_OF_PATIENT_ID = 0x00100021;
const CODE_VALUE = 0x00080100;
const CODING_SCHEME_DESIGNATOR = 0x00080102;
const CODE_MEANING = 0x00080104;

/** Longitudinal Temporal Information Modified (0028,0303) for each date mode. */
const LONGITUDINAL_VALUES: Record<DateMode, string> = { keep: 'UNMODIFIED', shift: 'MODIFIED', remove: 'REMOVED' };

/** CID 7050 codes of the profile and the options in use, with their meanings. */
function methodCodes(options: ProfileOptions, keepsPrivate: boolean): Array<[string, string]> {
  const codes: Array<[string, string]> = [['113100', 'Basic Application Confidentiality Profile']];
  if (options.cleanDescriptors) codes.push(['113105', 'Clean Descriptors Option']);
  if (options.dates === 'keep') codes.push(['113106', 'Retain Longitudinal Temporal Information Full Dates Option']);
  if (options.dates === 'shift') codes.push(['113107', 'Retain Longitudinal Temporal Information Modified Dates Option']);
  if (options.keepPatientCharacteristics) codes.push(['113108', 'Retain Patient Characteristics Option']);
  if (options.keepDeviceIdentity) codes.push(['113109', 'Retain Device Identity Option']);
  if (keepsPrivate) codes.push(['113111', 'Retain Safe Private Option']);
  if (options.keepInstitutionIdentity) codes.push(['113112', 'Retain Institution Identity Option']);
  return codes;
}

/**
 * Returns whether `specs` keep a private data element at any nesting level.
 * Private creator elements (gggg,0010-00FF) alone do not count, because they
 * carry no data. The Retain Safe Private option (PS3.15 E.3.10) retains safe
 * private attributes, so its code is listed only for an instance that keeps one.
 */
function containsPrivateDataElement(specs: readonly ElementSpec[]): boolean {
  for (const spec of specs) {
    if (isPrivateTag(spec.tag) && tagElement(spec.tag) > 0x00ff) return true;
    if (spec.vr !== 'SQ' || !Array.isArray(spec.value)) continue;
    const items = spec.value as ElementSpec[][];
    if (items.some((item) => containsPrivateDataElement(item))) return true;
  }
  return false;
}

/** Returns the key that identifies a patient within a job: Patient ID with its issuer, or the name when the ID is empty. */
function patientKey(dataset: Dataset): string {
  const id = dataset.getString(Tags.PatientID) ?? '';
  if (id !== '') return `id:${id}\\${dataset.getString(ISSUER_OF_PATIENT_ID) ?? ''}`;
  return `name:${dataset.getString(Tags.PatientName) ?? ''}`;
}

/** Creates a job. Throws for an invalid pseudonym prefix. */
export function createAnonymizationJob(options: AnonymizationOptions = {}): AnonymizationJob {
  const secret = options.jobSecret ?? generateJobSecret();
  const uids = new UidMapper(secret);
  const pseudonyms = new PseudonymTable(secret, options.pseudonymPrefix ?? 'ANON', options.pseudonymScheme ?? 'counter', options.pseudonymHexDigits);
  const profile: ProfileOptions = {
    dates: options.dates ?? 'remove',
    keepPatientCharacteristics: options.keepPatientCharacteristics === true,
    keepDeviceIdentity: options.keepDeviceIdentity === true,
    keepInstitutionIdentity: options.keepInstitutionIdentity === true,
    cleanDescriptors: options.cleanDescriptors === true,
  };
  const keptPrivateCreators = new Set((options.keepPrivateCreators ?? []).map((creator) => creator.trim()).filter(Boolean));
  const heldBack: HeldBackInstance[] = [];
  let written = 0;
  // The UID and pseudonym tables also keep the values of files that were not written, for example because their
  // output exists, so that later files get the same pseudonyms as in a run that wrote them. The report counts these
  // sets instead: the replacement UIDs and the patient keys of the files written.
  const writtenUids = new Set<string>();
  const writtenPatients = new Set<string>();

  /** Counts an instance whose output is complete. */
  function countWritten(instanceKeys: InstanceKeys): void {
    written++;
    writtenPatients.add(instanceKeys.patientKey);
    for (const uid of instanceKeys.replacementUids) writtenUids.add(uid);
  }

  /**
   * Returns whether the elements after the pixel data group keep a private
   * data element under the rules. It reads the whole input again, because a
   * Part 10 stream gives no offset of the elements after Pixel Data. The
   * caller runs it only when private creators are kept and the header keeps
   * no private data element.
   */
  async function tailKeepsPrivateData(source: AsyncIterable<Buffer | string>, context: RuleContext): Promise<boolean> {
    const instance = await openInstance(source);
    const tail: { dataset?: Dataset } = {};
    for await (const chunk of copyPixelGroup(instance, tail)) void chunk;
    if (!tail.dataset) return false;
    // The specs are only inspected, so UIDs are not replaced and the job's UID table does not grow.
    const inspectContext: RuleContext = { ...context, uids: { replace: (uid) => uid } };
    return containsPrivateDataElement(applyRules(tail.dataset, inspectContext));
  }

  /**
   * Returns the anonymized header data set and file meta information, or the
   * reason to hold the instance back. `reopen` returns the input again from
   * its start, for the check of the elements after Pixel Data.
   */
  async function anonymizeHeader(
    instance: OpenedInstance,
    instanceUids: RuleContext['uids'],
    reopen: () => AsyncIterable<Buffer | string>,
  ): Promise<{ held: string } | { meta: Buffer; specs: ElementSpec[]; newUids: NewUids }> {
    const dataset = instance.dataset;
    const reason = options.allowBurnedIn ? undefined : holdBackReason(dataset);
    if (reason) return { held: reason };

    const key = patientKey(dataset);
    const context: RuleContext = {
      profile,
      uids: instanceUids,
      pseudonym: pseudonyms.pseudonymFor(key),
      dateOffsetDays: profile.dates === 'shift' ? dateOffsetDays(secret, key) : 0,
      keptPrivateCreators,
      descriptorReplacement: options.descriptorReplacement,
    };
    const specs = applyRules(dataset, context).filter(
      (spec) => ![PATIENT_IDENTITY_REMOVED, DEIDENTIFICATION_METHOD, DEIDENTIFICATION_METHOD_CODE_SEQUENCE, LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED].includes(spec.tag),
    );
    // Private elements after Pixel Data are copied after this header is written, so they are checked in a first read.
    let keepsPrivate = containsPrivateDataElement(specs);
    if (!keepsPrivate && keptPrivateCreators.size > 0) {
      const source = reopen();
      try {
        keepsPrivate = await tailKeepsPrivateData(source, context);
      } finally {
        if (source instanceof Readable) source.destroy();
      }
    }
    const codes = methodCodes(profile, keepsPrivate);
    specs.push(
      { tag: PATIENT_IDENTITY_REMOVED, vr: 'CS', value: 'YES' },
      { tag: DEIDENTIFICATION_METHOD, vr: 'LO', value: codes.map(([, meaning]) => meaning) },
      {
        tag: DEIDENTIFICATION_METHOD_CODE_SEQUENCE,
        vr: 'SQ',
        value: codes.map(([value, meaning]) => [
          { tag: CODE_VALUE, vr: 'SH', value },
          { tag: CODING_SCHEME_DESIGNATOR, vr: 'SH', value: 'DCM' },
          { tag: CODE_MEANING, vr: 'LO', value: meaning },
        ]),
      },
      {
        tag: LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED,
        vr: 'CS',
        value: LONGITUDINAL_VALUES[profile.dates],
      },
    );

    const originalSopInstance = dataset.getString(Tags.SOPInstanceUID) || instance.meta.getString(Tags.MediaStorageSOPInstanceUID) || '';
    const newUids: NewUids = {
      sopInstanceUid: instanceUids.replace(originalSopInstance),
      studyInstanceUid: instanceUids.replace(dataset.getString(Tags.StudyInstanceUID) ?? ''),
      seriesInstanceUid: instanceUids.replace(dataset.getString(Tags.SeriesInstanceUID) ?? ''),
    };
    const meta = buildFileMetaInformation({
      mediaStorageSopClassUid: dataset.getString(Tags.SOPClassUID) || (instance.meta.getString(Tags.MediaStorageSOPClassUID) ?? ''),
      mediaStorageSopInstanceUid: newUids.sopInstanceUid,
      transferSyntaxUid: instance.transferSyntaxUid,
      implementationClassUid: LOADER_IMPLEMENTATION_CLASS_UID,
      implementationVersionName: LOADER_IMPLEMENTATION_VERSION_NAME,
    });
    return { meta, specs, newUids };
  }

  /** Yields the data set bytes: the anonymized header, the copied pixel data group and the anonymized elements after it. */
  async function* datasetBytes(instance: OpenedInstance, specs: ElementSpec[], context: () => RuleContext): AsyncGenerator<Buffer> {
    yield encodeElements(specs, instance.encoding, instance.dataset.characterSets);
    const tail: { dataset?: Dataset } = {};
    yield* copyPixelGroup(instance, tail);
    if (tail.dataset) yield encodeElements(applyRules(tail.dataset, context()), instance.encoding, instance.dataset.characterSets);
  }

  /**
   * Anonymizes one instance into the output that `openOutput` opens. Returns
   * the result and, for an instance not held back, the keys that
   * countWritten counts once the caller has the output in place.
   */
  async function anonymizeTo(
    input: AsyncIterable<Buffer | string>,
    label: string,
    openOutput: (uids: NewUids) => { output: Writable; outPath?: string },
    reopen: () => AsyncIterable<Buffer | string>,
  ): Promise<{ result: InstanceResult; instanceKeys?: InstanceKeys }> {
    const instance = await openInstance(input);
    if (instance.meta.getString(Tags.MediaStorageSOPClassUID) === MEDIA_STORAGE_DIRECTORY) {
      throw new DicomdirNotAnonymizedError(
        'a DICOMDIR is not anonymized, because its records repeat patient data and name the original files; ' +
          'to make a new one, copy the output under DICOM File IDs (up to 8 characters A-Z, 0-9, _ per folder or file name) and run dcmmkdir',
      );
    }
    const replacementUids = new Set<string>();
    const instanceUids: RuleContext['uids'] = {
      replace(uid) {
        const replacement = uids.replace(uid);
        replacementUids.add(replacement);
        return replacement;
      },
    };
    const header = await anonymizeHeader(instance, instanceUids, reopen);
    if ('held' in header) {
      heldBack.push({ source: label, reason: header.held });
      return { result: { status: 'held', reason: header.held } };
    }
    const key = patientKey(instance.dataset);
    const tailContext = (): RuleContext => ({
      profile,
      uids: instanceUids,
      pseudonym: pseudonyms.pseudonymFor(key),
      dateOffsetDays: profile.dates === 'shift' ? dateOffsetDays(secret, key) : 0,
      keptPrivateCreators,
      descriptorReplacement: options.descriptorReplacement,
    });
    const { output, outPath } = openOutput(header.newUids);
    const body = Readable.from(datasetBytes(instance, header.specs, tailContext), { objectMode: false });
    const metaStream = Readable.from([header.meta], { objectMode: false });
    await pipeline(metaStream, output, { end: false });
    if (instance.deflated) await pipeline(body, zlib.createDeflateRaw(), output);
    else await pipeline(body, output);
    const patient: WrittenPatient = {
      pseudonym: pseudonyms.pseudonymFor(key),
      originalPatientName: instance.dataset.getString(Tags.PatientName) ?? '',
      originalStudyInstanceUid: instance.dataset.getString(Tags.StudyInstanceUID) ?? '',
    };
    return { result: { status: 'written', outPath, ...header.newUids, ...patient }, instanceKeys: { patientKey: key, replacementUids } };
  }

  return {
    async anonymizeFile(inPath, out, fileOptions = {}) {
      const source = fs.createReadStream(inPath, { highWaterMark: 1024 * 1024 });
      let partialPath: string | undefined;
      try {
        const openOutput = (newUids: NewUids) => {
          const outPath = typeof out === 'string' ? out : out(newUids);
          fs.mkdirSync(path.dirname(outPath), { recursive: true });
          partialPath = `${outPath}.partial-${process.pid}`;
          return { output: fs.createWriteStream(partialPath), outPath };
        };
        const reopen = () => fs.createReadStream(inPath, { highWaterMark: 1024 * 1024 });
        const { result, instanceKeys } = await anonymizeTo(source, inPath, openOutput, reopen);
        if (result.status === 'written' && partialPath && result.outPath && instanceKeys) {
          if (fileOptions.overwrite === false) moveIntoPlaceWithoutReplacing(partialPath, result.outPath);
          else fs.renameSync(partialPath, result.outPath);
          // Counted only once the file is in place, so a failed rename or an existing output is not reported as written.
          countWritten(instanceKeys);
        }
        return result;
      } catch (error) {
        if (partialPath) fs.rmSync(partialPath, { force: true });
        throw error;
      } finally {
        source.destroy();
      }
    },

    async anonymizeStream(input, output, label = 'stream') {
      if (keptPrivateCreators.size === 0) {
        const notReopened = (): AsyncIterable<Buffer> => {
          throw new Error('anonymizeStream cannot read its input twice');
        };
        const { result, instanceKeys } = await anonymizeTo(input, label, () => ({ output }), notReopened);
        if (instanceKeys) countWritten(instanceKeys);
        return result;
      }
      // The check of private elements after Pixel Data reads the input twice, so the stream is spooled to a file first.
      const spoolDir = fs.mkdtempSync(path.join(os.tmpdir(), 'loader-anonymize-'));
      const spoolPath = path.join(spoolDir, 'input.dcm');
      try {
        await pipeline(Readable.from(input), fs.createWriteStream(spoolPath));
        const reopen = () => fs.createReadStream(spoolPath, { highWaterMark: 1024 * 1024 });
        const source = reopen();
        try {
          const { result, instanceKeys } = await anonymizeTo(source, label, () => ({ output }), reopen);
          if (instanceKeys) countWritten(instanceKeys);
          return result;
        } finally {
          source.destroy();
        }
      } finally {
        fs.rmSync(spoolDir, { recursive: true, force: true });
      }
    },

    report() {
      return { written, heldBack: [...heldBack], uidMapSize: writtenUids.size, patients: writtenPatients.size };
    },
  };
}
