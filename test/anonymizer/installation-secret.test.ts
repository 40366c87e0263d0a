/**
 * The installation secret of `loader anonymize`. Two patients anonymized in
 * separate runs into one OUT get different derived pseudonyms, and a patient
 * gets the same pseudonym and UIDs in every run. --pseudonym-counter rejects
 * an OUT that already contains its numbers. The secret is kept in
 * gnome-keyring when a Secret Service is reachable, and in a 0600 file otherwise.
 */
import * as fs from 'fs';
import * as path from 'path';

import { readDicomFileHeaderSync } from '../../src/dicom/file-reader';
import { Tags } from '../../src/dicom/tags';
import { INSTALLATION_SECRET_FILE, INSTALLATION_SECRET_MARKER, loadInstallationSecret, SecretStoreUnavailableError } from '../../src/services/secrets';
import type { SecretStore } from '../../src/services/secrets';
import { MemoryStore, missingKeychainTools, runInKeyringSession } from '../support/keyring';
import { createLoaderDirs, LOADER_BIN, loaderIsBuilt, runLoader } from '../support/loader';
import { corpusFile, makeTempDir, REPO_ROOT, runDcmtk } from '../support/peers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;
const describeKeychain = loaderIsBuilt() && missingKeychainTools().length === 0 ? describe : describe.skip;

const DERIVED_NAME = /^ANON\^[0-9A-F]{20}$/;

/** A study the tests anonymize: its input folder and original identifiers. */
interface PatientStudy {
  folder: string;
  patientName: string;
  studyInstanceUid: string;
}

/** Writes a CT of a new study for the patient into `folder`, with the name in UTF-8 as Russian exports carry it. */
async function makePatientStudy(folder: string, patientName: string, patientId: string): Promise<PatientStudy> {
  fs.mkdirSync(folder, { recursive: true });
  const file = path.join(folder, 'a.dcm');
  fs.copyFileSync(path.join(REPO_ROOT, 'test', '.corpus', corpusFile('ct').path), file);
  const modified = await runDcmtk('dcmodify', [
    '--no-backup',
    '--gen-stud-uid',
    '--gen-ser-uid',
    '--gen-inst-uid',
    '--insert',
    '(0008,0005)=ISO_IR 192',
    '--insert',
    `(0010,0010)=${patientName}`,
    '--insert',
    `(0010,0020)=${patientId}`,
    file,
  ]);
  expect(modified.code).toBe(0);
  return { folder, patientName, studyInstanceUid: readDicomFileHeaderSync(file).dataset.getString(Tags.StudyInstanceUID) ?? '' };
}

/** Returns the Patient's Name, Patient ID and Study Instance UID of every file under `dir`, sorted by name. */
function readPatients(dir: string): Array<{ patientName: string; patientId: string; studyInstanceUid: string }> {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => readDicomFileHeaderSync(path.join(entry.parentPath, entry.name)).dataset)
    .map((dataset) => ({
      patientName: dataset.getString(Tags.PatientName) ?? '',
      patientId: dataset.getString(Tags.PatientID) ?? '',
      studyInstanceUid: dataset.getString(Tags.StudyInstanceUID) ?? '',
    }))
    .sort((a, b) => a.patientName.localeCompare(b.patientName));
}

interface AnonymizeJson {
  written: number;
  secret: string;
  studies: Array<{ studyInstanceUid: string; patientName: string; patientId: string; originalStudyInstanceUid: string; originalPatientName: string; files: number }>;
}

/** SecretStore whose every call fails as a keychain without a D-Bus session does. */
class UnreachableStore implements SecretStore {
  readonly description = 'unreachable keychain';
  private fail(): never {
    throw new SecretStoreUnavailableError('keychain is not reachable', 'no D-Bus session');
  }
  async get(): Promise<string | null> {
    this.fail();
  }
  async set(): Promise<void> {
    this.fail();
  }
  async delete(): Promise<boolean> {
    this.fail();
  }
}

describe('concurrent first use', () => {
  test.each([
    ['keychain', () => new MemoryStore()],
    ['file', () => new UnreachableStore()],
  ])('one secret created in %s', async (_kind, makeStore) => {
    const configDir = path.join(makeTempDir('installation-secret'), 'config');
    const store = makeStore();
    const notices: string[] = [];

    const loaded = await Promise.all(Array.from({ length: 4 }, () => loadInstallationSecret(configDir, store, (message) => notices.push(message))));

    expect(loaded.map((entry) => entry.secret.toString('hex'))).toEqual(Array(4).fill(loaded[0].secret.toString('hex')));
    expect(loaded[0].secret).toHaveLength(32);
    expect(notices).toHaveLength(1);
    expect(notices[0]).not.toContain(loaded[0].secret.toString('hex'));
  });
});

describeBuilt('installation secret in loader anonymize', () => {
  let root: string;
  let ivanov: PatientStudy;
  let elkina: PatientStudy;

  beforeAll(async () => {
    root = makeTempDir('anonymize-installation');
    ivanov = await makePatientStudy(path.join(root, 'DIR_IVANOV'), 'Иванов^Иван', 'IV-1');
    elkina = await makePatientStudy(path.join(root, 'DIR_ELKINA'), 'Ёлкина^Анна', 'EL-1');
  });

  test('two runs into one OUT keep patients apart', async () => {
    const dirs = createLoaderDirs('anonymize-installation');
    const output = path.join(dirs.root, 'OUT');

    const first = await runLoader(['anonymize', ivanov.folder, output], { dirs });
    const second = await runLoader(['anonymize', elkina.folder, output], { dirs });

    expect(first.code).toBe(0);
    expect(second.code).toBe(0);
    const patients = readPatients(output);
    expect(patients).toHaveLength(2);
    expect(patients[0].patientName).toMatch(DERIVED_NAME);
    expect(patients[1].patientName).toMatch(DERIVED_NAME);
    expect(patients[0].patientName).not.toBe(patients[1].patientName);
    expect(patients[0].patientId).not.toBe(patients[1].patientId);
  });

  test('patient keeps pseudonym and UIDs across runs', async () => {
    const dirs = createLoaderDirs('anonymize-installation');

    const first = await runLoader(['anonymize', ivanov.folder, path.join(dirs.root, 'first'), '--shift-dates'], { dirs });
    const second = await runLoader(['anonymize', ivanov.folder, path.join(dirs.root, 'second'), '--shift-dates'], { dirs });

    expect(first.code).toBe(0);
    expect(second.code).toBe(0);
    expect(readPatients(path.join(dirs.root, 'second'))).toEqual(readPatients(path.join(dirs.root, 'first')));
    // The notice names the file once, on the run that created the secret, and never shows the secret.
    const file = path.join(dirs.configDir, INSTALLATION_SECRET_FILE);
    const secretHex = fs.readFileSync(file, 'utf8').trim();
    expect(secretHex).toMatch(/^[0-9a-f]{64}$/);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(first.stderr).toContain(`created the installation anonymization secret in ${file} (mode 0600)`);
    expect(second.stderr).toBe('');
    for (const text of [first.stdout, first.stderr, second.stdout]) expect(text).not.toContain(secretHex);
  });

  test('result lists pseudonym and new study', async () => {
    const dirs = createLoaderDirs('anonymize-installation');
    const output = path.join(dirs.root, 'OUT');

    const result = await runLoader(['anonymize', elkina.folder, output, '--json'], { dirs });

    expect(result.code).toBe(0);
    const report = result.json<AnonymizeJson>();
    const [written] = readPatients(output);
    expect(report.secret).toBe('installation');
    expect(report.studies).toEqual([
      {
        studyInstanceUid: written.studyInstanceUid,
        patientName: written.patientName,
        patientId: written.patientId,
        originalStudyInstanceUid: elkina.studyInstanceUid,
        originalPatientName: elkina.patientName,
        files: 1,
      },
    ]);

    const text = await runLoader(['anonymize', elkina.folder, path.join(dirs.root, 'again')], { dirs });
    expect(text.stdout).toContain(
      `study ${elkina.studyInstanceUid} of ${elkina.patientName} written as Patient's Name ${written.patientName}, Patient ID ${written.patientId}, ` +
        `Study Instance UID ${written.studyInstanceUid} (1 file)`,
    );
  });

  test('counter rejects OUT with its numbers', async () => {
    const dirs = createLoaderDirs('anonymize-installation');
    const output = path.join(dirs.root, 'OUT');

    const first = await runLoader(['anonymize', ivanov.folder, output, '--pseudonym-counter'], { dirs });
    const second = await runLoader(['anonymize', elkina.folder, output, '--pseudonym-counter'], { dirs });
    const otherPrefix = await runLoader(['anonymize', elkina.folder, output, '--pseudonym-counter', '--pseudonym-prefix', 'B'], { dirs });

    expect(first.code).toBe(0);
    expect(second.code).toBe(2);
    expect(second.stderr).toContain(`OUT ${output} already contains anonymized files with counter pseudonyms (Patient ID ANON0001`);
    expect(second.stderr).toContain('write to an empty folder, give another --pseudonym-prefix, or leave out --pseudonym-counter');
    expect(otherPrefix.code).toBe(0);
    expect(readPatients(output).map((patient) => patient.patientName)).toEqual(['ANON^0001', 'B^0001']);
  });

  test('one-off secret gives other pseudonyms', async () => {
    const dirs = createLoaderDirs('anonymize-installation');

    const first = await runLoader(['anonymize', ivanov.folder, path.join(dirs.root, 'first'), '--one-off-secret', '--json'], { dirs });
    const second = await runLoader(['anonymize', ivanov.folder, path.join(dirs.root, 'second'), '--one-off-secret', '--json'], { dirs });
    const withFile = await runLoader(['anonymize', ivanov.folder, path.join(dirs.root, 'third'), '--one-off-secret', '--job-secret-file', path.join(ivanov.folder, 'a.dcm')], { dirs });

    expect(first.json<AnonymizeJson>().secret).toBe('one-off');
    expect(readPatients(path.join(dirs.root, 'second'))[0].patientName).not.toBe(readPatients(path.join(dirs.root, 'first'))[0].patientName);
    expect(fs.readdirSync(dirs.configDir)).not.toContain(INSTALLATION_SECRET_FILE);
    expect(second.code).toBe(0);
    expect(withFile.code).toBe(2);
    expect(withFile.stderr).toContain('--one-off-secret and --job-secret-file exclude each other');
  });

  test('secret file readable by others rejected', async () => {
    const dirs = createLoaderDirs('anonymize-installation');
    expect((await runLoader(['anonymize', ivanov.folder, path.join(dirs.root, 'first')], { dirs })).code).toBe(0);
    const file = path.join(dirs.configDir, INSTALLATION_SECRET_FILE);
    fs.chmodSync(file, 0o644);

    const result = await runLoader(['anonymize', ivanov.folder, path.join(dirs.root, 'second')], { dirs });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${file} has mode 0644, so other users may read it; run "chmod 600 ${file}"`);
    expect(fs.existsSync(path.join(dirs.root, 'second'))).toBe(false);
  });
});

describeKeychain('installation secret in the keychain', () => {
  test('kept in gnome-keyring across runs', async () => {
    const root = makeTempDir('anonymize-keychain');
    const study = await makePatientStudy(path.join(root, 'DIR_IVANOV'), 'Иванов^Иван', 'IV-1');
    const dirs = createLoaderDirs('anonymize-keychain');
    const first = path.join(dirs.root, 'first');
    const second = path.join(dirs.root, 'second');

    // One D-Bus session with both runs, because the keyring of the test lives only as long as its daemon.
    const loader = `${LOADER_BIN} --config-dir ${dirs.configDir} --archive ${dirs.archiveDir}`;
    const result = await runInKeyringSession(
      `
      $LOADER anonymize "$INPUT" "$FIRST"; echo "first=$?"
      $LOADER anonymize "$INPUT" "$SECOND"; echo "second=$?"
      echo "stored=$(secret-tool lookup service sciberia-loader username anonymization:installation)"
      `,
      dirs,
      { LOADER: loader, INPUT: study.folder, FIRST: first, SECOND: second },
      60_000,
    );

    expect(result.stdout).toContain('first=0');
    expect(result.stdout).toContain('second=0');
    const stored = /stored=([0-9a-f]*)/.exec(result.stdout)?.[1] ?? '';
    expect(stored).toMatch(/^[0-9a-f]{64}$/);
    expect(result.stdout.replace(`stored=${stored}`, '')).not.toContain(stored);
    expect(result.stderr).not.toContain(stored);
    expect(result.stderr.match(/created the installation anonymization secret and stored it in the OS keychain/g)).toHaveLength(1);
    expect(fs.readdirSync(dirs.configDir)).toContain(INSTALLATION_SECRET_MARKER);
    expect(fs.readdirSync(dirs.configDir)).not.toContain(INSTALLATION_SECRET_FILE);
    expect(readPatients(second)).toEqual(readPatients(first));
    expect(readPatients(first)[0].patientName).toMatch(DERIVED_NAME);

    // Without the keychain a run fails instead of creating a second secret, which would change every pseudonym.
    const withoutKeychain = await runLoader(['anonymize', study.folder, path.join(dirs.root, 'third')], { dirs, env: { DBUS_SESSION_BUS_ADDRESS: '' } });
    expect(withoutKeychain.code).toBe(1);
    expect(withoutKeychain.stderr).toContain('the installation anonymization secret is kept in the OS keychain');
    expect(withoutKeychain.stderr).toContain('--one-off-secret');
    expect(fs.readdirSync(dirs.configDir)).not.toContain(INSTALLATION_SECRET_FILE);
    expect(fs.existsSync(path.join(dirs.root, 'third'))).toBe(false);
  });

  test('keychain entry reused after settings loss', async () => {
    const root = makeTempDir('anonymize-keychain');
    const study = await makePatientStudy(path.join(root, 'DIR_ELKINA'), 'Ёлкина^Анна', 'EL-1');
    const dirs = createLoaderDirs('anonymize-keychain');
    const loader = `${LOADER_BIN} --config-dir ${dirs.configDir} --archive ${dirs.archiveDir}`;

    const result = await runInKeyringSession(
      `
      $LOADER anonymize "$INPUT" "$FIRST"; echo "first=$?"
      rm "$MARKER"
      $LOADER anonymize "$INPUT" "$SECOND"; echo "second=$?"
      `,
      dirs,
      { LOADER: loader, INPUT: study.folder, FIRST: path.join(dirs.root, 'first'), SECOND: path.join(dirs.root, 'second'), MARKER: path.join(dirs.configDir, INSTALLATION_SECRET_MARKER) },
      60_000,
    );

    expect(result.stdout).toContain('first=0');
    expect(result.stdout).toContain('second=0');
    expect(result.stderr).toContain('using the installation anonymization secret found in the OS keychain');
    expect(readPatients(path.join(dirs.root, 'second'))).toEqual(readPatients(path.join(dirs.root, 'first')));
  });
});
