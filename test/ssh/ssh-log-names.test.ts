/**
 * `loader ssh get` against a real OpenSSH server (test/support/sshd.ts) on a
 * folder named after a patient: the log lines on standard error identify
 * files by position and path hash, and only the report on standard output
 * names the paths.
 */
import { spawn } from 'child_process';
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { setTimeout as sleep } from 'timers/promises';

import { generateUid } from '../../src/dicom/uid';
import { LocalArchive } from '../../src/services/archive';
import { connect, fetchIntoArchive, KnownHostsFile } from '../../src/services/ssh';
import { createLoaderDirs, LOADER_BIN, loaderIsBuilt, runLoader } from '../support/loader';
import { captureLogLines } from '../support/log-capture';
import { LOOPBACK, makeTempDir } from '../support/process';
import { writeSecondaryCapture } from '../support/secondary-capture';
import { chownTree, ensureTestUser, lockTestUser, makeRemoteDir, sshdUnavailableReason, SshdServer } from '../support/sshd';
import type { TestUser } from '../support/sshd';

const unavailable = sshdUnavailableReason() ?? (loaderIsBuilt() ? undefined : 'dist/loader.js is missing: run npm run build');
const describeWithSshd = unavailable === undefined ? describe : describe.skip;
if (unavailable !== undefined) console.warn(`skipping the ssh log name tests: ${unavailable}`);

const MiB = 1024 * 1024;
/** A login of its own, because the other SSH test files reset the password of theirs when jest runs them at the same time. */
const LOGIN = 'loader-ssh-log-test';
const SURNAME = 'Иванов';
const PATIENT_FOLDER = `${SURNAME} Иван`;
/** Number of files that `ssh get` plans to download, because it rejects the unsafe name and the link while planning. */
const FILE_COUNT = 5;
/** Port of the test's sshd; a free port when SSH_LOG_TEST_PORT is not set. */
const SSHD_PORT = process.env.SSH_LOG_TEST_PORT === undefined ? undefined : Number(process.env.SSH_LOG_TEST_PORT);

function pathHash(remotePath: string): string {
  return createHash('sha256').update(remotePath, 'utf8').digest('hex').slice(0, 12);
}

describeWithSshd('ssh get log lines', () => {
  const capturedLines = captureLogLines();
  let user: TestUser;
  let server: SshdServer;
  let remoteRoot: string;

  beforeAll(async () => {
    user = await ensureTestUser(LOGIN);
    server = await SshdServer.start(user, SSHD_PORT);
    remoteRoot = makeRemoteDir(user, 'loader-log-test');
  });

  afterAll(async () => {
    await server?.stop();
    if (user) await lockTestUser(LOGIN);
    if (remoteRoot) fs.rmSync(remoteRoot, { recursive: true, force: true });
  });

  test('patient name only on stdout', async () => {
    const series = path.join(remoteRoot, PATIENT_FOLDER, 'CT');
    fs.mkdirSync(series, { recursive: true });
    fs.mkdirSync(path.join(remoteRoot, 'elsewhere'));
    for (const name of ['0001.dcm', '0002.dcm', '0003.dcm']) writeSecondaryCapture(path.join(series, name), generateUid(), 'PID-LOG', []);
    const large = path.join(series, '0057.dcm');
    const growing = path.join(series, '0099.dcm');
    fs.writeFileSync(large, randomBytes(64 * MiB));
    fs.writeFileSync(growing, randomBytes(8 * MiB));
    fs.writeFileSync(path.join(series, `0100\u0007${SURNAME}.dcm`), 'unsafe name');
    fs.symlinkSync(path.join(remoteRoot, 'elsewhere'), path.join(series, 'outside'));
    chownTree(remoteRoot, user);

    const dirs = createLoaderDirs('ssh-log-names');
    const add = await runLoader(['nodes', 'add-ssh', 'ws', '--host', LOOPBACK, '--port', String(server.port), '--login', user.login], { dirs });
    expect(add.code).toBe(0);
    const trust = await runLoader(['ssh', 'trust', 'ws', '--accept-host-key', await server.hostKeyFingerprint()], { dirs });
    expect(trust.code).toBe(0);
    const staging = path.join(dirs.root, 'staging');
    const partFile = path.join(staging, 'partial', ...large.split('/').filter(Boolean)) + '.part';
    const args = ['--archive', dirs.archiveDir, '--config-dir', dirs.configDir, 'ssh', 'get', 'ws', path.join(remoteRoot, PATIENT_FOLDER), '--staging', staging, '--parallel', '1'];
    const env = { ...process.env, HOME: dirs.homeDir, LOADER_SECRET_WS: user.password, LOADER_LOG_LEVEL: 'info' };

    // The workstation keeps writing 0099.dcm for the whole download, so each of its copies changes.
    const writer = setInterval(() => fs.appendFileSync(growing, randomBytes(128 * 1024)), 50);
    let stdout = '';
    let stderr = '';
    let code: number | null;
    try {
      const child = spawn(LOADER_BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (exitCode) => resolve(exitCode)));
      // Files are transferred one at a time in name order, so 0057.dcm is the one in flight once its .part file has bytes.
      for (let waited = 0; (fs.statSync(partFile, { throwIfNoEntry: false })?.size ?? 0) < MiB; waited += 20) {
        if (waited > 60_000) throw new Error(`no bytes of ${partFile} after 60 s; stderr: ${stderr}`);
        await sleep(20);
      }
      // Cuts the connection: the per-connection processes of our own sshd, by PID.
      for (const pid of server.sessionPids()) process.kill(pid, 'SIGKILL');
      code = await exited;
    } finally {
      clearInterval(writer);
    }

    const logLines = stderr.split('\n').filter((line) => line !== '');
    expect(logLines.filter((line) => line.includes(SURNAME))).toEqual([]);
    expect(logLines.filter((line) => line.includes(user.password))).toEqual([]);

    // Each logged case happened, and its line names the server, the file's position and its path hash.
    const fileFields = (file: string, position: number) => `host=${LOOPBACK} port=${server.port} file="${position} of ${FILE_COUNT}" pathHash=${pathHash(file)}`;
    expect(stderr).toMatch(new RegExp(`WARN  loader\\.ssh\\.download: Connection lost during a transfer ${fileFields(large, 4)} error=`));
    expect(stderr).toContain(`INFO  loader.ssh.download: Resuming a partial transfer ${fileFields(large, 4)} offset=`);
    expect(stderr).toContain(`WARN  loader.ssh.download: Remote file changed during the download; downloading it again ${fileFields(growing, 5)}`);
    expect(stderr).toContain(`WARN  loader.ssh.download: Remote file kept changing during the download; not imported ${fileFields(growing, 5)} attempts=3`);
    expect(stderr).toContain(`WARN  loader.ssh.download: Rejected an unsafe remote name host=${LOOPBACK} port=${server.port} folderHash=${pathHash(series)}`);
    expect(stderr).toContain(`WARN  loader.ssh.download: Did not follow a symbolic link out of the chosen folder host=${LOOPBACK} port=${server.port} linkHash=${pathHash(path.join(series, 'outside'))}`);

    // The report for the user keeps the full paths.
    expect(stdout).toContain(`failed: ${growing}: `);
    expect(stdout).toContain(`rejected: ${path.join(series, 'outside')}: `);
    expect(stdout).toContain(`rejected: ${series}/"0100\\u0007${SURNAME}.dcm": `);
    expect(stdout).toContain('downloaded 4 files');
    expect(stdout).toContain('1 reconnect');
    expect(code).toBe(3);
  }, 180_000);

  test('file kept aside without name', async () => {
    const folder = path.join(remoteRoot, `${PATIENT_FOLDER} 2`);
    fs.mkdirSync(folder);
    const studyUid = generateUid();
    writeSecondaryCapture(path.join(folder, 'first.dcm'), studyUid, 'PID-FIRST', []);
    writeSecondaryCapture(path.join(folder, 'second.dcm'), studyUid, 'PID-SECOND', []);
    chownTree(folder, user);
    const knownHosts = new KnownHostsFile(path.join(makeTempDir('ssh-config'), 'known_hosts'));
    knownHosts.add(LOOPBACK, server.port, Buffer.from(fs.readFileSync(`${server.hostKeyFile}.pub`, 'utf8').split(' ')[1], 'base64'));
    const open = () => connect({ host: LOOPBACK, port: server.port, login: user.login, credentials: { password: user.password } }, { hostKeys: { knownHosts }, timeoutMs: 10_000 });
    const archive = LocalArchive.open(path.join(makeTempDir('ssh-archive'), 'archive'), { durability: 'process-crash' });
    const firstLine = capturedLines.length;
    let report;
    try {
      report = await fetchIntoArchive(open, [folder], archive, { stagingDir: makeTempDir('ssh-staging') });
    } finally {
      archive.close();
    }

    // The second file is of another Patient ID than the study indexed from the first, so the archive keeps it aside.
    expect(report.scan.otherPatient.map((file) => file.remotePath)).toEqual([path.join(folder, 'second.dcm')]);
    const lines = capturedLines.slice(firstLine);
    expect(lines.some((line) => line.includes('kept it aside'))).toBe(true);
    expect(lines.filter((line) => line.includes(SURNAME))).toEqual([]);
  });
});
