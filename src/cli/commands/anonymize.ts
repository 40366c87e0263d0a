/**
 * `loader anonymize IN OUT`: writes de-identified copies of DICOM files
 * following the Basic Application Level Confidentiality Profile of PS3.15
 * annex E. IN and OUT are files or folders. A folder is walked recursively,
 * and each output file is written to OUT/<Study Instance UID>/<Series
 * Instance UID>/<SOP Instance UID>.dcm with the new UIDs, as in the archive.
 * Input folder names are not reused, because exports often name them after
 * the patient.
 */
import fs from 'node:fs';
import path from 'node:path';

import type { Command } from 'commander';

import { BUILT_IN_SAFE_PRIVATE_CREATORS, createAnonymizationJob, DicomdirNotAnonymizedError, OutputExistsError } from '../../dicom/anonymizer';
import type { AnonymizationOptions, DateMode, NewUids, PseudonymScheme, WrittenPatient } from '../../dicom/anonymizer';
import { readDicomFileHeaderSync } from '../../dicom/file-reader';
import { Tags } from '../../dicom/tags';
import { generateJobSecret, HASH_PSEUDONYM_HEX_DIGITS } from '../../dicom/anonymizer/job-keys';
import { KeychainSecretStore, loadInstallationSecret } from '../../services/secrets';
import type { SecretStore } from '../../services/secrets';
import { resolveConfigDir } from '../../services/settings/settings-store';
import { countOf, ExitCode, UsageError } from '../context';
import type { GlobalOptions } from '../context';

/** Flags of `loader anonymize`. `loader migrate`, `loader send` and `loader sync` take them too, except --pseudonym-hash and --pseudonym-counter. */
export interface AnonymizeFlags {
  keepDates?: boolean;
  shiftDates?: boolean;
  keepPatientCharacteristics?: boolean;
  keepDevice?: boolean;
  keepInstitution?: boolean;
  cleanDescriptors?: string | boolean;
  keepPrivate?: string[] | boolean;
  allowBurnedIn?: boolean;
  pseudonymPrefix?: string;
  pseudonymHash?: boolean;
  pseudonymCounter?: boolean;
  jobSecretFile?: string;
  /** --one-off-secret: a random secret for this run only (`loader anonymize` and `loader send`). */
  oneOffSecret?: boolean;
}

/** Flags that only `loader anonymize` takes. */
interface AnonymizeCommandFlags extends AnonymizeFlags {
  overwrite?: boolean;
  json?: boolean;
}

/** Raised for an input file whose SOP Instance UID was already written in this run. */
class DuplicateSopInstanceError extends Error {
  constructor(earlierSource: string, earlierOutPath: string) {
    super(`same SOP Instance UID as ${earlierSource}, which was written to ${earlierOutPath}; not written again, so that copy is kept`);
  }
}

/** Returns the regular files under `dir`, sorted, without following symbolic links. */
function listFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...listFiles(full));
    else if (entry.isFile()) files.push(full);
  }
  return files;
}

/** Returns the absolute path of `file` with the links of its nearest existing ancestor resolved; the file need not exist. */
function resolveThroughLinks(file: string): string {
  const absolute = path.resolve(file);
  const rest: string[] = [];
  for (let current = absolute; ; current = path.dirname(current)) {
    try {
      return path.join(fs.realpathSync(current), ...rest);
    } catch {
      if (path.dirname(current) === current) return absolute;
      rest.unshift(path.basename(current));
    }
  }
}

/** Returns whether `output` is an existing folder, or a path written with a trailing separator for a folder still to be created. */
function isFolder(output: string): boolean {
  if (output.endsWith(path.sep) || output.endsWith('/')) return !fs.existsSync(output) || fs.statSync(output).isDirectory();
  return fs.existsSync(output) && fs.statSync(output).isDirectory();
}

/**
 * Rejects an OUT that is the input file itself, because the anonymized copy
 * would replace the original. Also rejects an OUT in the input folder, where
 * the copies would mix with the originals and a later run would read them as input.
 */
function checkOutputPath(input: string, output: string, inputIsFolder: boolean): void {
  const realInput = fs.realpathSync(input);
  const realOutput = resolveThroughLinks(output);
  if (!inputIsFolder && realOutput === realInput) {
    throw new UsageError(`OUT ${output} is the input file itself, which the anonymized copy would replace; give another output path`);
  }
  if (inputIsFolder && (realOutput === realInput || realOutput.startsWith(realInput + path.sep))) {
    throw new UsageError(`OUT ${output} is inside the input folder ${input}, so the anonymized copies would mix with the originals; choose a folder outside it`);
  }
}

function readJobSecret(file: string): Buffer {
  let secret: Buffer;
  try {
    secret = fs.readFileSync(file);
  } catch (error) {
    throw new UsageError(`cannot read the job secret file ${file}: ${(error as Error).message}`);
  }
  if (secret.length < 16) throw new UsageError(`job secret file ${file} contains ${secret.length} bytes; use at least 16 random bytes`);
  return secret;
}

/**
 * Returns the pseudonym scheme: hash unless --pseudonym-counter is given. The counter scheme is rejected
 * with a job secret file, because numbering restarts at 0001 in every run, so two runs with the same
 * secret would give different patients the same pseudonym.
 */
function pseudonymScheme(flags: AnonymizeFlags): PseudonymScheme {
  if (flags.pseudonymHash && flags.pseudonymCounter) throw new UsageError('--pseudonym-hash and --pseudonym-counter exclude each other; choose one');
  if (flags.pseudonymCounter && flags.jobSecretFile) {
    throw new UsageError(
      '--pseudonym-counter cannot be used with --job-secret-file: numbering restarts at 0001 in every run, ' +
        'so runs with the same secret would give different patients the same pseudonym; ' +
        'leave out --pseudonym-counter to derive pseudonyms from the secret, or leave out --job-secret-file for a single run',
    );
  }
  return flags.pseudonymCounter ? 'counter' : 'hash';
}

/** Source of the secret of an anonymizing run. */
export type AnonymizationSecretSource = 'job-secret-file' | 'installation' | 'one-off';

/**
 * Returns the secret of an anonymizing run and its source. --job-secret-file wins. --one-off-secret and
 * --pseudonym-counter get a random secret for this run only. A counter pseudonym names a patient only
 * within one run, so UIDs that stay the same across runs would put one study under two pseudonyms on a
 * PACS that receives both runs. Otherwise the installation secret is loaded, or created with one notice
 * on stderr that names where it is kept.
 */
export async function resolveAnonymizationSecret(
  flags: AnonymizeFlags,
  configDir: string | undefined,
  store: SecretStore = new KeychainSecretStore(),
): Promise<{ secret: Buffer; source: AnonymizationSecretSource }> {
  if (flags.oneOffSecret && flags.jobSecretFile) throw new UsageError('--one-off-secret and --job-secret-file exclude each other; choose one');
  if (flags.jobSecretFile) return { secret: readJobSecret(flags.jobSecretFile), source: 'job-secret-file' };
  if (flags.oneOffSecret || flags.pseudonymCounter) return { secret: generateJobSecret(), source: 'one-off' };
  const installation = await loadInstallationSecret(resolveConfigDir(configDir), store, (message) => process.stderr.write(`loader: ${message}\n`));
  return { secret: installation.secret, source: 'installation' };
}

export function toOptions(flags: AnonymizeFlags): AnonymizationOptions {
  if (flags.keepDates && flags.shiftDates) throw new UsageError('--keep-dates and --shift-dates exclude each other; choose one');
  const scheme = pseudonymScheme(flags);
  let dates: DateMode = 'remove';
  if (flags.keepDates) dates = 'keep';
  if (flags.shiftDates) dates = 'shift';

  // --keep-private alone keeps the built-in list, and names given after it are added to that list.
  let keepPrivate: string[] = [];
  if (flags.keepPrivate === true) keepPrivate = [...BUILT_IN_SAFE_PRIVATE_CREATORS];
  if (Array.isArray(flags.keepPrivate)) keepPrivate = [...BUILT_IN_SAFE_PRIVATE_CREATORS, ...flags.keepPrivate];

  return {
    dates,
    keepPatientCharacteristics: flags.keepPatientCharacteristics,
    keepDeviceIdentity: flags.keepDevice,
    keepInstitutionIdentity: flags.keepInstitution,
    cleanDescriptors: flags.cleanDescriptors !== undefined,
    descriptorReplacement: typeof flags.cleanDescriptors === 'string' ? flags.cleanDescriptors : undefined,
    keepPrivateCreators: keepPrivate,
    allowBurnedIn: flags.allowBurnedIn,
    pseudonymPrefix: flags.pseudonymPrefix,
    pseudonymScheme: scheme,
    jobSecret: flags.jobSecretFile ? readJobSecret(flags.jobSecretFile) : undefined,
  };
}

/** Digits a counter pseudonym can have: 4 up to more than any run numbers, but fewer than the 20 hex digits of a derived one. */
const COUNTER_SUFFIX = '\\d{4,19}';

/**
 * Returns the files that receive a run's output besides OUT itself: all files under a folder OUT, or the
 * other files in the folder of a file OUT.
 */
function filesBesideOutput(output: string, outputIsFolder: boolean): string[] {
  if (outputIsFolder) return fs.existsSync(output) ? listFiles(output) : [];
  const folder = path.dirname(path.resolve(output));
  if (!fs.existsSync(folder)) return [];
  return fs
    .readdirSync(folder, { withFileTypes: true })
    .filter((entry) => entry.isFile() && path.join(folder, entry.name) !== path.resolve(output))
    .map((entry) => path.join(folder, entry.name));
}

/**
 * Rejects a --pseudonym-counter run when the output folder already contains DICOM files whose Patient ID
 * is a counter pseudonym of the same prefix. Numbering starts at 0001 in every run, so this run would give
 * its patients pseudonyms that belong to other patients of an earlier run. Continuing the numbering is not
 * safe either, because the earlier patients are not known: a patient met again would get a second number.
 */
function rejectCounterCollision(output: string, outputIsFolder: boolean, prefix: string): void {
  const counterPseudonym = new RegExp(`^${prefix}${COUNTER_SUFFIX}$`);
  for (const file of filesBesideOutput(output, outputIsFolder)) {
    let patientId: string;
    try {
      patientId = (readDicomFileHeaderSync(file).dataset.getString(Tags.PatientID) ?? '').trim();
    } catch {
      continue; // Not a DICOM file, so it contains no pseudonym.
    }
    if (!counterPseudonym.test(patientId)) continue;
    const where = outputIsFolder ? `OUT ${output}` : `the folder of OUT ${output}`;
    throw new UsageError(
      `${where} already contains anonymized files with counter pseudonyms (Patient ID ${patientId} in ${file}), ` +
        `and this run numbers patients from ${prefix}0001 again, so two patients would share one pseudonym; ` +
        'write to an empty folder, give another --pseudonym-prefix, or leave out --pseudonym-counter to use pseudonyms derived from the installation secret, which stay the same in every run',
    );
  }
}

/** A study in the output: its new Study Instance UID, the pseudonym of its patient and the files written. */
interface StudyWritten extends WrittenPatient {
  studyInstanceUid: string;
  files: number;
}

/** Counts a written instance into the list of studies written, keyed by the new Study Instance UID. */
function countStudy(studies: Map<string, StudyWritten>, uids: NewUids, patient: WrittenPatient): void {
  const known = studies.get(uids.studyInstanceUid);
  if (known) known.files++;
  else studies.set(uids.studyInstanceUid, { studyInstanceUid: uids.studyInstanceUid, ...patient, files: 1 });
}

/**
 * Formats the line that shows the technician what the recipient finds for one study. It contains the
 * original Patient's Name, so it goes to stdout only, never to a log.
 */
export function describeStudyWritten(study: StudyWritten, verb: string): string {
  const original = study.originalPatientName === '' ? 'patient without a name' : study.originalPatientName;
  return (
    `study ${study.originalStudyInstanceUid} of ${original} ${verb} as Patient's Name ${study.pseudonym.patientName}, Patient ID ${study.pseudonym.patientId}, ` +
    `Study Instance UID ${study.studyInstanceUid} (${countOf(study.files, 'file')})`
  );
}

async function runAnonymize(input: string, output: string, flags: AnonymizeCommandFlags, configDir: string | undefined): Promise<void> {
  if (flags.oneOffSecret && flags.jobSecretFile) throw new UsageError('--one-off-secret and --job-secret-file exclude each other; choose one');
  let options: AnonymizationOptions;
  try {
    options = toOptions(flags);
    // Checks the prefix before a secret is loaded or created.
    createAnonymizationJob(options);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError((error as Error).message);
  }
  if (!fs.existsSync(input)) throw new UsageError(`input ${input} not found; check the path`);

  const inputIsFolder = fs.statSync(input).isDirectory();
  checkOutputPath(input, output, inputIsFolder);
  const outputIsFolder = isFolder(output);
  if (inputIsFolder && fs.existsSync(output) && !outputIsFolder) {
    throw new UsageError(`OUT ${output} is a file, but IN ${input} is a folder; give a folder for OUT`);
  }
  if (!inputIsFolder && !outputIsFolder && !flags.overwrite && fs.existsSync(output)) {
    throw new UsageError(`OUT ${output} already exists; give another output path, or add --overwrite to replace it`);
  }
  if (options.pseudonymScheme === 'counter') rejectCounterCollision(output, outputIsFolder, options.pseudonymPrefix ?? 'ANON');
  const { secret, source: secretSource } = await resolveAnonymizationSecret(flags, configDir);
  const job = createAnonymizationJob({ ...options, jobSecret: secret });
  const files = inputIsFolder ? listFiles(input) : [input];
  const studies = new Map<string, StudyWritten>();
  const failed: Array<{ path: string; reason: string }> = [];
  // A DICOMDIR, a repeated SOP Instance UID or an output file that already exists is left out on purpose,
  // so it is listed but does not make the run partial.
  const skipped: Array<{ path: string; reason: string }> = [];
  // Inputs whose output file exists, for example from an earlier run into the same folder.
  let alreadyPresent = 0;
  // Input files already written, by new SOP Instance UID. A second input with the same SOP Instance UID
  // would get the same output name and replace the first copy.
  const writtenBySopInstanceUid = new Map<string, { source: string; outPath: string }>();
  for (const file of files) {
    // The new UIDs are derived from the job secret, so a repeated run with the same secret meets the same paths.
    // A single file written into a folder is named by its new SOP Instance UID only.
    let outputName: string | ((uids: NewUids) => string) = output;
    if (inputIsFolder) outputName = (uids) => path.join(output, uids.studyInstanceUid, uids.seriesInstanceUid, `${uids.sopInstanceUid}.dcm`);
    else if (outputIsFolder) outputName = (uids) => path.join(output, `${uids.sopInstanceUid}.dcm`);
    const target = (uids: NewUids): string => {
      const earlier = writtenBySopInstanceUid.get(uids.sopInstanceUid);
      if (earlier) throw new DuplicateSopInstanceError(earlier.source, earlier.outPath);
      return typeof outputName === 'string' ? outputName : outputName(uids);
    };
    try {
      const result = await job.anonymizeFile(file, target, { overwrite: flags.overwrite === true });
      if (result.status === 'written' && result.outPath) {
        writtenBySopInstanceUid.set(result.sopInstanceUid, { source: file, outPath: result.outPath });
        countStudy(studies, result, result);
      }
    } catch (error) {
      if (error instanceof DicomdirNotAnonymizedError || error instanceof DuplicateSopInstanceError) {
        skipped.push({ path: file, reason: error.message });
      } else if (error instanceof OutputExistsError) {
        alreadyPresent++;
        skipped.push({ path: file, reason: `output ${error.outPath} already exists; add --overwrite to replace it` });
      } else failed.push({ path: file, reason: (error as Error).message });
    }
  }

  const report = job.report();
  // An output file that already exists counts as done for the choice between partial success and failure,
  // so a repeated run that meets a held-back image again still exits with 3 and not with 1.
  if (failed.length > 0 || report.heldBack.length > 0) {
    process.exitCode = report.written + alreadyPresent > 0 ? ExitCode.PartialSuccess : ExitCode.Failure;
  }
  if (flags.json) {
    const json = {
      written: report.written,
      files: files.length,
      patients: report.patients,
      uidsReplaced: report.uidMapSize,
      secret: secretSource,
      studies: [...studies.values()].map((study) => ({
        studyInstanceUid: study.studyInstanceUid,
        patientName: study.pseudonym.patientName,
        patientId: study.pseudonym.patientId,
        originalStudyInstanceUid: study.originalStudyInstanceUid,
        originalPatientName: study.originalPatientName,
        files: study.files,
      })),
      heldBack: report.heldBack,
      failed,
      skipped,
    };
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
    return;
  }
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(
    `anonymized ${countOf(report.written, 'file')} of ${files.length}: ${report.heldBack.length} held back, ${failed.length} failed` +
      `${skipped.length > 0 ? `, ${skipped.length} skipped` : ''}; ` +
      `${countOf(report.patients, 'patient')}, ${countOf(report.uidMapSize, 'UID')} replaced`,
  );
  for (const held of report.heldBack) out(`held back: ${held.source}: ${held.reason} (use --allow-burned-in to write it)`);
  for (const problem of failed) out(`failed: ${problem.path}: ${problem.reason}`);
  for (const problem of skipped) out(`skipped: ${problem.path}: ${problem.reason}`);
  for (const study of studies.values()) out(describeStudyWritten(study, 'written'));
  if (secretSource === 'one-off' && report.written > 0) {
    out('note: anonymized with a one-off random secret, so another run gives the same patients and studies other pseudonyms and UIDs');
  }
}

export function registerAnonymize(program: Command, globals: () => GlobalOptions): void {
  program
    .command('anonymize')
    .description(
      'write de-identified copies of DICOM files (PS3.15 annex E Basic Application Level Confidentiality Profile); ' +
        'IN and OUT are files or folders; a folder input is written as OUT/<Study Instance UID>/<Series Instance UID>/<SOP Instance UID>.dcm with the new UIDs',
    )
    .argument('<in>', 'input file or folder')
    .argument('<out>', 'output file, or folder (required for a folder input, and used as a folder when it exists or ends with /)')
    .option('--keep-dates', 'keep dates and times unchanged (Retain Longitudinal Temporal Information with Full Dates)')
    .option('--shift-dates', 'move dates back by a per-patient number of days, 1 to 3650 (... with Modified Dates)')
    .option('--keep-patient-characteristics', "keep sex, age, size, weight and similar (Retain Patient Characteristics)")
    .option('--keep-device', 'keep device names and serial numbers (Retain Device Identity)')
    .option('--keep-institution', 'keep institution names and addresses (Retain Institution Identity)')
    .option('--clean-descriptors [text]', 'keep descriptions, replaced with TEXT, or emptied without it (Clean Descriptors)')
    .option('--keep-private [creators...]', `keep the private blocks of ${BUILT_IN_SAFE_PRIVATE_CREATORS.join(', ')} and of the private creators named here`)
    .option('--allow-burned-in', 'also write images that may show burned-in text (Burned In Annotation YES; US, Secondary Capture, XA, RF, endoscopy, microscopy and photographs without it set to NO) and encapsulated documents (PDF, CDA, 3D models)')
    .option('--pseudonym-prefix <text>', "start of Patient's Name and Patient ID pseudonyms", 'ANON')
    .option('--pseudonym-hash', `derive pseudonyms from the secret (${HASH_PSEUDONYM_HEX_DIGITS} hex digits, as in ANON^<digits>); the default`)
    .option(
      '--pseudonym-counter',
      'number patients in the order met (ANON^0001, ANON^0002) with a one-off random secret; numbers name a patient only within one run, ' +
        'so OUT must not contain counter pseudonyms of the same prefix; rejected with --job-secret-file',
    )
    .option('--overwrite', 'replace output files that already exist; without it an existing file is left as it is and reported')
    .option(
      '--job-secret-file <file>',
      'file with the secret (at least 16 bytes) that fixes UIDs, pseudonyms and date shifts across runs; ' +
        'default: the installation secret, created on first use in the OS keychain or, without one, in a 0600 file in the settings folder',
    )
    .option('--one-off-secret', 'use a random secret for this run only, so its copies cannot be linked to other runs, and another run gives the same studies other UIDs and pseudonyms')
    .option('--json', 'print the report as JSON')
    .action(async (input: string, output: string, flags: AnonymizeCommandFlags) => {
      await runAnonymize(input, output, flags, globals().configDir);
    });
}
