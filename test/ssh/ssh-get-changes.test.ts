/**
 * `ssh get` against a real OpenSSH server (test/support/sshd.ts) when the
 * workstation writes a file during the download, when the import sets files
 * aside as another patient's, and when the user interrupts the download.
 */
import { spawn } from 'child_process';
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { setTimeout as sleep } from 'timers/promises';

import { generateUid } from '../../src/dicom/uid';
import { downloadPaths, fetchIntoArchive } from '../../src/services/ssh';
import { LocalArchive } from '../../src/services/archive';
import { KnownHostsFile, connect } from '../../src/services/ssh';
import type { SshSession } from '../../src/services/ssh';
import { createLoaderDirs, LOADER_BIN, loaderIsBuilt, runLoader } from '../support/loader';
import type { LoaderDirs } from '../support/loader';
import { LOOPBACK, makeTempDir } from '../support/process';
import { writeSecondaryCapture } from '../support/secondary-capture';
import { chownTree, ensureTestUser, lockTestUser, makeRemoteDir, sshdUnavailableReason, SshdServer } from '../support/sshd';
import type { TestUser } from '../support/sshd';

const unavailable = sshdUnavailableReason();
const describeWithSshd = unavailable === undefined ? describe : describe.skip;
if (unavailable !== undefined) console.warn(`skipping the ssh get change tests: ${unavailable}`);

const MiB = 1024 * 1024;
/** A login of its own, because the other SSH test files reset the password of theirs when jest runs them at the same time. */
const LOGIN = 'loader-ssh-get-test';
/** A date modified well before the test, as a file written earlier on the workstation has. */
const WRITTEN_EARLIER = new Date('2024-03-01T10:00:00Z');

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

describeWithSshd('ssh get against OpenSSH', () => {
  let user: TestUser;
  let server: SshdServer;
  let remoteRoot: string;
  let knownHosts: KnownHostsFile;

  beforeAll(async () => {
    user = await ensureTestUser(LOGIN);
    server = await SshdServer.start(user);
    remoteRoot = makeRemoteDir(user, 'loader-get-test');
    knownHosts = new KnownHostsFile(path.join(makeTempDir('ssh-config'), 'known_hosts'));
    knownHosts.add(LOOPBACK, server.port, Buffer.from(fs.readFileSync(`${server.hostKeyFile}.pub`, 'utf8').split(' ')[1], 'base64'));
  });

  afterAll(async () => {
    await server?.stop();
    if (user) await lockTestUser(LOGIN);
    if (remoteRoot) fs.rmSync(remoteRoot, { recursive: true, force: true });
  });

  function open(): Promise<SshSession> {
    return connect({ host: LOOPBACK, port: server.port, login: user.login, credentials: { password: user.password } }, { hostKeys: { knownHosts }, timeoutMs: 10_000 });
  }

  /** Creates a remote folder owned by the test user with the given files, dated WRITTEN_EARLIER. */
  function remoteFolder(label: string, files: Record<string, Buffer>): string {
    const folder = fs.mkdtempSync(path.join(remoteRoot, `${label}-`));
    for (const [name, contents] of Object.entries(files)) {
      fs.writeFileSync(path.join(folder, name), contents);
      fs.utimesSync(path.join(folder, name), WRITTEN_EARLIER, WRITTEN_EARLIER);
    }
    chownTree(folder, user);
    return folder;
  }

  test('file overwritten in place downloaded again', async () => {
    const before = randomBytes(16 * MiB);
    const after = randomBytes(16 * MiB);
    const folder = remoteFolder('overwrite', { 'image.bin': before });
    const remoteFile = path.join(folder, 'image.bin');
    let overwritten = false;

    const report = await downloadPaths(() => open(), [remoteFile], {
      stagingDir: makeTempDir('ssh-staging'),
      onProgress: (progress) => {
        if (overwritten || progress.bytesDone < 2 * MiB) return;
        overwritten = true;
        // The workstation writes the new contents into the same file while the download runs.
        const fd = fs.openSync(remoteFile, 'r+');
        fs.writeSync(fd, after, 0, after.length, 0);
        fs.closeSync(fd);
      },
    });

    expect(overwritten).toBe(true);
    expect(report.failed).toEqual([]);
    expect(report.files).toHaveLength(1);
    expect(report.files[0].resumedFrom).toBe(0);
    const staged = fs.readFileSync(report.files[0].localPath);
    expect(staged.length).toBe(after.length);
    expect(sha256(staged)).toBe(sha256(after));
  });

  test('file growing throughout reported failed', async () => {
    const folder = remoteFolder('grow', { 'series.bin': randomBytes(8 * MiB), 'done.bin': randomBytes(1000) });
    const remoteFile = path.join(folder, 'series.bin');
    const staging = makeTempDir('ssh-staging');
    const archive = LocalArchive.open(path.join(makeTempDir('ssh-archive'), 'archive'), { durability: 'process-crash' });
    // The workstation appends 256 KiB every 100 ms for the whole download.
    const writer = setInterval(() => fs.appendFileSync(remoteFile, randomBytes(256 * 1024)), 100);
    let report;
    try {
      report = await fetchIntoArchive(() => open(), [folder], archive, { stagingDir: staging, keepStaging: true });
    } finally {
      clearInterval(writer);
      archive.close();
    }

    expect(report.download.files.map((file) => path.basename(file.remotePath))).toEqual(['done.bin']);
    expect(report.download.failed).toHaveLength(1);
    expect(report.download.failed[0].remotePath).toBe(remoteFile);
    expect(report.download.failed[0].reason).toContain('changed during the download');
    expect(report.download.failed[0].reason).toContain('in each of 3 attempts');
    expect(report.download.failed[0].reason).toContain('run again when the workstation has finished writing it');
    // Neither a complete nor a partial copy of the changing file stays to be imported or resumed.
    const everything = fs.readdirSync(staging, { recursive: true }).map(String);
    expect(everything.filter((name) => name.includes('series.bin'))).toEqual([]);
    expect(report.scan.scanned).toBe(1);
  });

  describe('command line', () => {
    const testWithBundle = loaderIsBuilt() ? test : test.skip;

    /** Registers the server as SSH node "ws" and trusts its host key; returns the environment with the node's password. */
    async function registerNode(dirs: LoaderDirs): Promise<NodeJS.ProcessEnv> {
      const add = await runLoader(['nodes', 'add-ssh', 'ws', '--host', LOOPBACK, '--port', String(server.port), '--login', user.login], { dirs });
      expect(add.code).toBe(0);
      const trust = await runLoader(['ssh', 'trust', 'ws', '--accept-host-key', await server.hostKeyFingerprint()], { dirs });
      expect(trust.code).toBe(0);
      return { LOADER_SECRET_WS: user.password };
    }

    testWithBundle('other patient listed, exit 3', async () => {
      const studyUid = generateUid();
      const work = makeTempDir('ssh-other-patient');
      writeSecondaryCapture(path.join(work, 'first.dcm'), studyUid, 'PID-FIRST', []);
      writeSecondaryCapture(path.join(work, 'second.dcm'), studyUid, 'PID-SECOND', []);
      const folder = remoteFolder('other-patient', {
        'first.dcm': fs.readFileSync(path.join(work, 'first.dcm')),
        'second.dcm': fs.readFileSync(path.join(work, 'second.dcm')),
      });
      const dirs = createLoaderDirs('ssh-other-patient');
      const env = await registerNode(dirs);
      const staging = path.join(dirs.root, 'staging');

      const first = await runLoader(['ssh', 'get', 'ws', path.join(folder, 'first.dcm'), '--staging', staging], { dirs, env });
      expect(first.code).toBe(0);
      const second = await runLoader(['ssh', 'get', 'ws', path.join(folder, 'second.dcm'), '--staging', staging], { dirs, env });
      expect(second.code).toBe(3);
      expect(second.stdout).toMatch(new RegExp(`^other patient: ${path.join(folder, 'second.dcm')}: `, 'm'));
      expect(second.stdout).toContain('1 file of another patient than the study or series indexed under its UIDs');
      expect(second.stdout).toContain('1 conflict kept aside');

      // scan --import of the same file gives the same exit code.
      const scan = await runLoader(['scan', '--import', path.join(work, 'second.dcm')], { dirs });
      expect(scan.code).toBe(3);
    });

    testWithBundle('interrupt imports completed files', async () => {
      const work = makeTempDir('ssh-interrupt');
      const files: Record<string, Buffer> = {};
      for (const name of ['a1.dcm', 'a2.dcm', 'a3.dcm']) {
        writeSecondaryCapture(path.join(work, name), generateUid(), 'PID-INTERRUPT', []);
        files[name] = fs.readFileSync(path.join(work, name));
      }
      files['z-large.bin'] = randomBytes(64 * MiB);
      const folder = remoteFolder('interrupt', files);
      const dirs = createLoaderDirs('ssh-interrupt');
      const env = await registerNode(dirs);
      const staging = path.join(dirs.root, 'staging');
      const args = ['--archive', dirs.archiveDir, '--config-dir', dirs.configDir, 'ssh', 'get', 'ws', folder, '--staging', staging, '--parallel', '1'];
      const partFile = path.join(staging, 'partial', ...folder.split('/').filter(Boolean), 'z-large.bin.part');

      const child = spawn(LOADER_BIN, args, { env: { ...process.env, HOME: dirs.homeDir, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      // The files are transferred one at a time in name order, so the DICOM files are complete once the large file has bytes.
      for (let waited = 0; (fs.statSync(partFile, { throwIfNoEntry: false })?.size ?? 0) < MiB; waited += 20) {
        if (waited > 60_000) throw new Error(`no bytes of ${partFile} after 60 s; stderr: ${stderr}`);
        await sleep(20);
      }
      child.kill('SIGINT');
      const code = await exited;

      expect(stderr).toContain('cancelling; press Ctrl-C again to exit at once');
      expect(stdout).toContain('download cancelled: 1 file not downloaded');
      expect(stdout).toContain(`not downloaded: ${path.join(folder, 'z-large.bin')}: cancelled`);
      expect(stdout).toContain('imported 3 files into the archive');
      expect(code).toBe(3);
      expect(fs.statSync(partFile).size).toBeGreaterThan(0);

      // The next run continues the partial file; it is not DICOM, hence exit code 3.
      const resumed = await runLoader(['ssh', 'get', 'ws', folder, '--staging', staging, '--json'], { dirs, env });
      const report = resumed.json<{ download: { files: Array<{ remotePath: string; resumedFrom: number; alreadyStaged: boolean }>; cancelled: boolean } }>();
      expect(report.download.cancelled).toBe(false);
      const large = report.download.files.find((file) => file.remotePath.endsWith('z-large.bin'));
      expect(large?.resumedFrom).toBeGreaterThan(0);
      expect(resumed.code).toBe(3);
    });
  });
});
