/**
 * The SSH source against a real OpenSSH server (test/support/sshd.ts) on
 * 127.0.0.1: logins, host key checks, listings, downloads with import,
 * resume after a cut connection, hostile names and the error messages.
 */
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';

import { LocalArchive } from '../../src/services/archive';
import {
  connect,
  downloadPaths,
  fetchIntoArchive,
  HostKeyError,
  KnownHostsFile,
  listFolder,
  SshError,
} from '../../src/services/ssh';
import type { SshCredentials, SshSession, SshTarget } from '../../src/services/ssh';
import { loadCorpus } from '../support/corpus';
import { createLoaderDirs, LOADER_BIN, loaderIsBuilt, runLoader } from '../support/loader';
import { freePort, LOOPBACK, makeTempDir, runCommand } from '../support/process';
import {
  chownTree,
  ensureTestUser,
  generateKey,
  keygenFingerprint,
  lockTestUser,
  makeRemoteDir,
  sshdUnavailableReason,
  SshdServer,
} from '../support/sshd';
import type { TestUser } from '../support/sshd';

const unavailable = sshdUnavailableReason();
const describeWithSshd = unavailable === undefined ? describe : describe.skip;
if (unavailable !== undefined) console.warn(`skipping the SSH source tests: ${unavailable}`);

const INSTANCE_COUNT = 1000;
const LARGE_FILE_BYTES = 50 * 1024 * 1024;

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Writes `count` copies of a corpus file, each with its own SOP Instance UID of the same length patched in place. */
function writeDistinctInstances(folder: string, count: number): string[] {
  const source = loadCorpus().files.find((file) => file.path === 'samples/mr/mr-small-explicit-le.dcm');
  if (!source?.sopInstanceUid) throw new Error('corpus file samples/mr/mr-small-explicit-le.dcm with a SOP Instance UID not found');
  const original = Buffer.from(source.sopInstanceUid, 'latin1');
  const bytes = fs.readFileSync(source.absolutePath);
  const prefix = '1.2.826.0.1.3680043.9.7.';
  const uids: string[] = [];
  for (let index = 0; index < count; index++) {
    const uid = prefix + '1' + String(index).padStart(original.length - prefix.length - 1, '0');
    const copy = Buffer.from(bytes);
    // The UID appears in the file meta (0002,0003) and in the data set (0008,0018).
    for (let at = copy.indexOf(original); at !== -1; at = copy.indexOf(original, at + 1)) copy.write(uid, at, 'latin1');
    fs.writeFileSync(path.join(folder, `IM${String(index).padStart(4, '0')}.dcm`), copy);
    uids.push(uid);
  }
  return uids;
}

describeWithSshd('SSH source against OpenSSH', () => {
  let user: TestUser;
  let server: SshdServer;
  let remoteRoot: string;
  let keyDir: string;
  let knownHosts: KnownHostsFile;

  beforeAll(async () => {
    user = await ensureTestUser();
    server = await SshdServer.start(user);
    keyDir = makeTempDir('ssh-keys');
    remoteRoot = makeRemoteDir(user, 'loader-test');
    knownHosts = new KnownHostsFile(path.join(makeTempDir('ssh-config'), 'known_hosts'));
    knownHosts.add(LOOPBACK, server.port, publicKeyBlob(`${server.hostKeyFile}.pub`));
  });

  afterAll(async () => {
    await server?.stop();
    if (user) await lockTestUser();
    if (remoteRoot) fs.rmSync(remoteRoot, { recursive: true, force: true });
  });

  function publicKeyBlob(publicKeyFile: string): Buffer {
    return Buffer.from(fs.readFileSync(publicKeyFile, 'utf8').split(' ')[1], 'base64');
  }

  function target(credentials: SshCredentials = { password: user.password }, port = server.port): SshTarget {
    return { host: LOOPBACK, port, login: user.login, credentials };
  }

  function open(credentials?: SshCredentials): Promise<SshSession> {
    return connect(target(credentials), { hostKeys: { knownHosts }, timeoutMs: 10_000 });
  }

  /** Creates a remote folder owned by the test user with the given files (name to contents). */
  function remoteFolder(label: string, files: Record<string, string | Buffer> = {}): string {
    const folder = fs.mkdtempSync(path.join(remoteRoot, `${label}-`));
    for (const [name, contents] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(folder, name)), { recursive: true });
      fs.writeFileSync(path.join(folder, name), contents);
    }
    chownTree(folder, user);
    return folder;
  }

  describe('login', () => {
    test('password login lists a folder', async () => {
      const folder = remoteFolder('list', { 'b.dcm': 'bb', 'a.dcm': 'a', 'zeta/x.dcm': 'x' });
      fs.utimesSync(path.join(folder, 'a.dcm'), new Date('2024-03-01T10:00:00Z'), new Date('2024-03-01T10:00:00Z'));
      const session = await open();
      try {
        const listing = await listFolder(session, folder);
        expect(listing.path).toBe(folder);
        expect(listing.entries.map((entry) => entry.name)).toEqual(['zeta', 'a.dcm', 'b.dcm']);
        expect(listing.entries[0].type).toBe('folder');
        expect(listing.entries[1]).toMatchObject({ type: 'file', size: 1, modified: '2024-03-01T10:00:00.000Z' });
        expect(listing.entries[2].size).toBe(2);
      } finally {
        session.close();
      }
    });

    test('key login without passphrase', async () => {
      const key = await generateKey(keyDir, 'plain');
      server.authorize(`${key}.pub`);
      const session = await open({ privateKey: fs.readFileSync(key) });
      expect(await session.realpath('.')).toBe(user.home);
      session.close();
    });

    test('key login with passphrase', async () => {
      const key = await generateKey(keyDir, 'encrypted', 'correct horse');
      server.authorize(`${key}.pub`);
      const session = await open({ privateKey: fs.readFileSync(key), passphrase: 'correct horse' });
      expect(await session.realpath('.')).toBe(user.home);
      session.close();

      const missing = await open({ privateKey: fs.readFileSync(key) }).catch((error: unknown) => error);
      expect(missing).toBeInstanceOf(SshError);
      expect((missing as SshError).code).toBe('key-file');
    });

    test('wrong password names endpoint, not password', async () => {
      const wrong = 'not-the-password-42';
      const error = await open({ password: wrong }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(SshError);
      expect((error as SshError).code).toBe('authentication-failed');
      expect((error as SshError).message).toContain(`${user.login}@${LOOPBACK} port ${server.port}`);
      expect((error as SshError).message).not.toContain(wrong);
    });

    test('refused connection names endpoint', async () => {
      const closedPort = await freePort();
      const error = await connect(target(undefined, closedPort), { hostKeys: { knownHosts } }).catch((caught: unknown) => caught);
      expect((error as SshError).code).toBe('connection-refused');
      expect((error as SshError).message).toContain(`port ${closedPort}`);
    });

    test('silent server times out', async () => {
      const silent = net.createServer(() => undefined);
      await new Promise<void>((resolve) => silent.listen(0, LOOPBACK, resolve));
      const port = (silent.address() as net.AddressInfo).port;
      try {
        const started = Date.now();
        const error = await connect(target(undefined, port), { hostKeys: { knownHosts }, timeoutMs: 1000 }).catch((caught: unknown) => caught);
        expect((error as SshError).code).toBe('timeout');
        expect((error as SshError).message).toContain(`${user.login}@${LOOPBACK} port ${port}`);
        expect(Date.now() - started).toBeLessThan(10_000);
      } finally {
        silent.close();
      }
    });
  });

  describe('permissions', () => {
    test('unreadable folder reports permission denied', async () => {
      const folder = remoteFolder('locked', { 'inner/a.dcm': 'a' });
      fs.chownSync(path.join(folder, 'inner'), 0, 0);
      fs.chmodSync(path.join(folder, 'inner'), 0o700);
      const session = await open();
      try {
        const error = await listFolder(session, path.join(folder, 'inner')).catch((caught: unknown) => caught);
        expect((error as SshError).code).toBe('permission-denied');
        expect((error as SshError).message).toContain(path.join(folder, 'inner'));
        expect((error as SshError).message).toContain(user.login);
      } finally {
        session.close();
      }
    });

    test('unreadable file is listed as failed', async () => {
      const folder = remoteFolder('secret', { 'open.dcm': 'open', 'closed.dcm': 'closed' });
      fs.chownSync(path.join(folder, 'closed.dcm'), 0, 0);
      fs.chmodSync(path.join(folder, 'closed.dcm'), 0o600);
      const staging = makeTempDir('ssh-staging');
      const report = await downloadPaths(() => open(), [folder], { stagingDir: staging });
      expect(report.files.map((file) => path.basename(file.localPath))).toEqual(['open.dcm']);
      expect(report.failed).toHaveLength(1);
      expect(report.failed[0].remotePath).toBe(path.join(folder, 'closed.dcm'));
      expect(report.failed[0].reason).toMatch(/permission denied/);
    });
  });

  test('missing path listed as failed', async () => {
    const archive = LocalArchive.open(path.join(makeTempDir('ssh-archive'), 'archive'), { durability: 'process-crash' });
    try {
      const missing = path.join(remoteRoot, 'no-such-folder');
      const report = await fetchIntoArchive(() => open(), [missing], archive, { stagingDir: makeTempDir('ssh-staging') });
      expect(report.download.files).toEqual([]);
      expect(report.download.failed).toHaveLength(1);
      expect(report.download.failed[0].reason).toContain(`not found: ${missing}`);
      expect(report.scan.scanned).toBe(0);
    } finally {
      archive.close();
    }
  });

  test('1000 DICOM files fetched and indexed', async () => {
    const folder = remoteFolder('study');
    const uids = writeDistinctInstances(folder, INSTANCE_COUNT);
    chownTree(folder, user);
    const staging = makeTempDir('ssh-staging');
    const archive = LocalArchive.open(path.join(makeTempDir('ssh-archive'), 'archive'), { durability: 'process-crash' });
    try {
      const report = await fetchIntoArchive(() => open(), [folder], archive, { stagingDir: staging });
      expect(report.download.files).toHaveLength(INSTANCE_COUNT);
      expect(report.download.rejected).toEqual([]);
      expect(report.download.failed).toEqual([]);
      expect(report.scan.imported).toBe(INSTANCE_COUNT);
      expect(report.scan.damaged).toEqual([]);
      expect(report.scan.studies).toHaveLength(1);
      expect(report.scan.studies[0].numberOfInstances).toBe(INSTANCE_COUNT);
      expect(new Set(uids).size).toBe(INSTANCE_COUNT);
      // The staged copies are removed after the import.
      expect(fs.existsSync(path.join(staging, 'files', ...folder.split('/').filter(Boolean), 'IM0000.dcm'))).toBe(false);
    } finally {
      archive.close();
    }
  });

  test('fetch removes empty staging folders', async () => {
    const folder = remoteFolder('patient-folder');
    for (const modality of ['CT', 'MR']) {
      fs.mkdirSync(path.join(folder, '2024', modality), { recursive: true });
      writeDistinctInstances(path.join(folder, '2024', modality), 2);
    }
    chownTree(folder, user);
    const staging = makeTempDir('ssh-staging');
    // A partial copy from an unfinished earlier download, which the next run of its own command continues.
    const remoteNames = folder.split('/').filter(Boolean);
    const unfinished = path.join(staging, 'partial', ...remoteNames, '2024', 'XA', 'IM0000.dcm.part');
    fs.mkdirSync(path.dirname(unfinished), { recursive: true });
    fs.writeFileSync(unfinished, 'first bytes');
    const archive = LocalArchive.open(path.join(makeTempDir('ssh-archive'), 'archive'), { durability: 'process-crash' });
    try {
      const report = await fetchIntoArchive(() => open(), [path.join(folder, '2024', 'CT'), path.join(folder, '2024', 'MR')], archive, {
        stagingDir: staging,
      });

      expect(report.download.files).toHaveLength(4);
      expect(report.download.failed).toEqual([]);
      expect(fs.existsSync(path.join(staging, 'partial', ...remoteNames, '2024', 'CT'))).toBe(false);
      expect(fs.existsSync(path.join(staging, 'partial', ...remoteNames, '2024', 'MR'))).toBe(false);
      expect(fs.existsSync(path.join(staging, 'files'))).toBe(false);
      expect(fs.readFileSync(unfinished, 'utf8')).toBe('first bytes');
      fs.rmSync(path.dirname(unfinished), { recursive: true });

      const second = await fetchIntoArchive(() => open(), [path.join(folder, '2024')], archive, { stagingDir: staging });

      expect(second.download.files).toHaveLength(4);
      expect(fs.readdirSync(staging)).toEqual([]);
    } finally {
      archive.close();
    }
  });

  test('cut connection resumes byte-identical', async () => {
    const large = randomBytes(LARGE_FILE_BYTES);
    const folder = remoteFolder('large', { 'large.bin': large, 'small.bin': 'small' });
    const staging = makeTempDir('ssh-staging');
    let cut = false;
    let sessionsKilled = 0;
    const report = await downloadPaths(() => open(), [folder], {
      stagingDir: staging,
      initialBackoffMs: 200,
      onProgress: (progress) => {
        if (cut || progress.currentPath !== path.join(folder, 'large.bin') || progress.bytesDone < 8 * 1024 * 1024) return;
        cut = true;
        for (const pid of server.sessionPids()) {
          process.kill(pid, 'SIGKILL');
          sessionsKilled += 1;
        }
      },
    });
    expect(sessionsKilled).toBeGreaterThan(0);
    expect(report.reconnects).toBeGreaterThanOrEqual(1);
    const largeFile = report.files.find((file) => file.remotePath.endsWith('large.bin'));
    expect(largeFile).toBeDefined();
    expect(largeFile!.resumedFrom).toBeGreaterThan(0);
    expect(largeFile!.resumedFrom).toBeLessThan(LARGE_FILE_BYTES);
    expect(fs.statSync(largeFile!.localPath).size).toBe(LARGE_FILE_BYTES);
    expect(sha256(largeFile!.localPath)).toBe(createHash('sha256').update(large).digest('hex'));
    expect(report.failed).toEqual([]);
    expect(fs.existsSync(path.join(staging, 'partial'))).toBe(false);
  });

  test('next run resumes partial file', async () => {
    const large = randomBytes(LARGE_FILE_BYTES / 2);
    const folder = remoteFolder('rerun', { 'large.bin': large });
    const staging = makeTempDir('ssh-staging');
    let cut = false;
    const cutAfter8MiB = (progress: { bytesDone: number }) => {
      if (cut || progress.bytesDone < 8 * 1024 * 1024) return;
      cut = true;
      for (const pid of server.sessionPids()) process.kill(pid, 'SIGKILL');
    };

    const first = await downloadPaths(() => open(), [folder], { stagingDir: staging, reconnectAttempts: 0, onProgress: cutAfter8MiB }).catch(
      (caught: unknown) => caught,
    );
    expect(first).toBeInstanceOf(SshError);
    expect((first as SshError).code).toBe('connection-lost');
    const partFile = path.join(staging, 'partial', ...folder.split('/').filter(Boolean), 'large.bin.part');
    const partSize = fs.statSync(partFile).size;
    expect(partSize).toBeGreaterThan(0);

    const second = await downloadPaths(() => open(), [folder], { stagingDir: staging });
    expect(second.files).toHaveLength(1);
    expect(second.files[0].resumedFrom).toBe(partSize);
    expect(sha256(second.files[0].localPath)).toBe(createHash('sha256').update(large).digest('hex'));
    expect(fs.existsSync(partFile)).toBe(false);
    expect(fs.existsSync(path.join(staging, 'partial'))).toBe(false);
  });

  test('hostile names and links rejected', async () => {
    const folder = remoteFolder('hostile', { 'good.dcm': 'good', '..\\x': 'dots', 'new\nline.dcm': 'newline', 'inside/real.dcm': 'real' });
    fs.symlinkSync('/etc', path.join(folder, 'etc-link'));
    fs.symlinkSync('/etc/passwd', path.join(folder, 'passwd.dcm'));
    fs.symlinkSync('inside/real.dcm', path.join(folder, 'alias.dcm'));
    chownTree(folder, user);
    const staging = makeTempDir('ssh-staging');

    const report = await downloadPaths(() => open(), [folder], { stagingDir: staging });

    const downloaded = report.files.map((file) => path.relative(path.join(staging, 'files', folder), file.localPath)).sort();
    expect(downloaded).toEqual(['alias.dcm', 'good.dcm', 'inside/real.dcm']);
    const rejectedText = report.rejected.map((item) => `${item.remotePath}: ${item.reason}`).join('\n');
    expect(rejectedText).toContain('"..\\\\x"');
    expect(rejectedText).toContain('"new\\nline.dcm"');
    expect(rejectedText).toMatch(/etc-link: symbolic link to "\/etc", outside/);
    expect(rejectedText).toMatch(/passwd\.dcm: symbolic link to "\/etc\/passwd", outside/);
    expect(report.rejected).toHaveLength(4);
    // Only files/ remains (partial/ is removed once empty), and nothing from /etc arrived.
    expect(fs.readdirSync(staging).sort()).toEqual(['files']);
    const everything = fs.readdirSync(staging, { recursive: true }).map(String);
    expect(everything.some((name) => name.includes('passwd') || name.includes('etc-link'))).toBe(false);
  });

  test('ls marks links get rejects', async () => {
    const folder = remoteFolder('links', { 'inside/real.dcm': 'real' });
    fs.symlinkSync('/etc', path.join(folder, 'etc-link'));
    fs.symlinkSync('/etc/passwd', path.join(folder, 'passwd.dcm'));
    fs.symlinkSync('inside/real.dcm', path.join(folder, 'alias.dcm'));
    fs.symlinkSync('inside', path.join(folder, 'inside-link'));
    chownTree(folder, user);

    const session = await open();
    let entries;
    try {
      entries = new Map((await listFolder(session, folder)).entries.map((entry) => [entry.name, entry]));
    } finally {
      session.close();
    }

    expect(entries.get('etc-link')).toMatchObject({ type: 'link', linkTarget: 'folder', linkTargetPath: '/etc', linkRejected: 'leads outside the folder' });
    expect(entries.get('passwd.dcm')).toMatchObject({ type: 'link', linkTarget: 'file', linkRejected: 'leads outside the folder' });
    expect(entries.get('alias.dcm')?.linkRejected).toBeUndefined();
    expect(entries.get('inside-link')?.linkRejected).toBeUndefined();

    // ssh get rejects exactly the links that ls marks, whether it meets them in the folder or is given them.
    const staging = makeTempDir('ssh-staging');
    const given = ['etc-link', 'passwd.dcm', 'alias.dcm', 'inside-link'].map((name) => path.join(folder, name));
    const report = await downloadPaths(() => open(), given, { stagingDir: staging });
    expect(report.rejected.map((item) => path.basename(item.remotePath)).sort()).toEqual(['etc-link', 'passwd.dcm']);
    // alias.dcm and inside-link both lead to inside/real.dcm, which is downloaded once.
    expect(report.files.map((file) => path.basename(file.localPath))).toEqual(['real.dcm']);
  });

  test('links to included folders named', async () => {
    const folder = remoteFolder('loops', { 'sub/a.dcm': 'a' });
    fs.symlinkSync('..', path.join(folder, 'sub', 'loop'));
    fs.symlinkSync('sub', path.join(folder, 'z-alias'));
    chownTree(folder, user);

    const report = await downloadPaths(() => open(), [folder], { stagingDir: makeTempDir('ssh-staging') });

    expect(report.files.map((file) => path.relative(folder, file.remotePath))).toEqual(['sub/a.dcm']);
    // Each link is listed once under its own path; the folders they lead to were downloaded.
    expect(report.rejected.map((item) => item.remotePath).sort()).toEqual([path.join(folder, 'sub', 'loop'), path.join(folder, 'z-alias')]);
    for (const item of report.rejected) expect(item.reason).toMatch(/^symbolic link to ".*", a folder that is already included$/);
  });

  test('staging folder without space or write access', async () => {
    const folder = remoteFolder('space', { 'big.bin': randomBytes(3 * 1024 * 1024), 'small.dcm': 'small' });
    // A 1 MiB tmpfs as the staging folder, read-only in the second half.
    const staging = makeTempDir('ssh-staging-small');
    const mounted = await runCommand('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', staging]);
    expect(mounted.code).toBe(0);
    try {
      const full = await downloadPaths(() => open(), [folder], { stagingDir: staging }).catch((caught: unknown) => caught);
      expect(full).toBeInstanceOf(SshError);
      expect((full as SshError).message).toMatch(
        new RegExp(`^the files need 3\\.0 MiB in the staging folder ${staging}, but only [0-9.]+ (KiB|MiB) is free there; free space`),
      );
      // Nothing was transferred: the check runs before the first file.
      expect(fs.readdirSync(staging, { recursive: true })).toEqual([]);

      expect((await runCommand('mount', ['-o', 'remount,ro', staging])).code).toBe(0);
      const readOnly = await downloadPaths(() => open(), [path.join(folder, 'small.dcm')], { stagingDir: staging }).catch((caught: unknown) => caught);
      expect((readOnly as Error).message).toContain(`writing to the staging folder ${staging} failed: `);
      expect((readOnly as Error).message).toContain('choose a staging folder that this user can write to');
    } finally {
      await runCommand('umount', [staging]);
    }
  });

  test('import problems name remote paths', async () => {
    const source = loadCorpus().files.find((file) => file.path === 'samples/mr/mr-small-explicit-le.dcm')!;
    const bytes = fs.readFileSync(source.absolutePath);
    const folder = remoteFolder('problems', { 'notes.txt': 'not DICOM', 'cut.dcm': bytes.subarray(0, bytes.length - 100) });
    const archive = LocalArchive.open(path.join(makeTempDir('ssh-archive'), 'archive'), { durability: 'process-crash' });
    try {
      const report = await fetchIntoArchive(() => open(), [folder], archive, { stagingDir: makeTempDir('ssh-staging') });
      expect(report.scan.notDicom.map((problem) => problem.remotePath)).toEqual([path.join(folder, 'notes.txt')]);
      expect(report.scan.damaged.map((problem) => problem.remotePath)).toEqual([path.join(folder, 'cut.dcm')]);
      // The staged copies named by `path` are gone after the import.
      for (const problem of [...report.scan.notDicom, ...report.scan.damaged]) expect(fs.existsSync(problem.path)).toBe(false);
    } finally {
      archive.close();
    }
  });

  describe('command line', () => {
    const testWithBundle = loaderIsBuilt() ? test : test.skip;

    testWithBundle('ls, trust, get and forget', async () => {
      const folder = remoteFolder('cli', { 'notes.txt': 'not DICOM' });
      fs.mkdirSync(path.join(folder, 'series'));
      writeDistinctInstances(path.join(folder, 'series'), 3);
      chownTree(folder, user);
      const dirs = createLoaderDirs('ssh-cli');
      const env = { LOADER_SECRET_WORKSTATION: user.password };
      const fingerprint = await server.hostKeyFingerprint();
      const add = await runLoader(
        ['nodes', 'add-ssh', 'workstation', '--host', LOOPBACK, '--port', String(server.port), '--login', user.login, '--folder', folder],
        { dirs },
      );
      expect(add.code).toBe(0);

      const misspelt = await runLoader(['ssh', 'ls', 'workstaton'], { dirs, env });
      expect(misspelt.code).toBe(2);
      expect(misspelt.stderr).toContain('no login for workstaton: no SSH node named workstaton is registered (registered: workstation)');

      const unknown = await runLoader(['ssh', 'ls', 'workstation'], { dirs, env });
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toContain(fingerprint);
      expect(unknown.stderr).toContain('--accept-host-key');
      expect(fs.existsSync(path.join(dirs.configDir, 'known_hosts'))).toBe(false);

      const trust = await runLoader(['ssh', 'trust', 'workstation', '--accept-host-key', fingerprint], { dirs });
      expect(trust.code).toBe(0);
      expect(fs.readFileSync(path.join(dirs.configDir, 'known_hosts'), 'utf8')).toContain(`[127.0.0.1]:${server.port} ssh-ed25519 AAAA`);

      const list = await runLoader(['ssh', 'ls', 'workstation', '--json'], { dirs, env });
      expect(list.code).toBe(0);
      const listing = list.json<{ path: string; entries: Array<{ name: string; type: string }> }>();
      expect(listing.path).toBe(folder);
      expect(listing.entries.map((entry) => `${entry.type} ${entry.name}`)).toEqual(['folder series', 'file notes.txt']);

      const staging = path.join(dirs.root, 'staging');
      const table = await runLoader(['ssh', 'ls', 'workstation'], { dirs, env });
      expect(table.code).toBe(0);
      expect(table.stdout).toMatch(/^series\/\s+folder/m);
      expect(table.stdout).toMatch(/^notes\.txt\s+file\s+9 B/m);
      const get = await runLoader(['ssh', 'get', 'workstation', 'series', '--staging', staging], { dirs, env });
      expect(get.stderr.split('\n').filter((line) => line.includes('ERROR'))).toEqual([]);
      expect(get.code).toBe(0);
      expect(get.stdout).toContain('downloaded 3 files');
      expect(get.stdout).toContain('imported 3 files into the archive');
      expect(get.stdout).toContain('STUDY INSTANCE UID');

      const wrong = await runLoader(['ssh', 'ls', 'workstation'], { dirs, env: { LOADER_SECRET_WORKSTATION: 'wrong-password-7' } });
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toContain(`authentication failed for ${user.login}@${LOOPBACK} port ${server.port}`);
      expect(wrong.stderr).toContain('the password came from the environment variable LOADER_SECRET_WORKSTATION: correct it there');
      expect(wrong.stderr).not.toContain('wrong-password-7');

      const forget = await runLoader(['ssh', 'forget', LOOPBACK, '--port', String(server.port)], { dirs });
      expect(forget.code).toBe(0);
      expect(forget.stdout).toContain('removed 1 host key');
      expect(fs.readFileSync(path.join(dirs.configDir, 'known_hosts'), 'utf8')).toBe('');

      // A registered node name works for forget as it does for trust, with the node's host and port.
      expect((await runLoader(['ssh', 'trust', 'workstation', '--accept-host-key', fingerprint], { dirs })).code).toBe(0);
      const forgetNode = await runLoader(['ssh', 'forget', 'workstation'], { dirs });
      expect(forgetNode.code).toBe(0);
      expect(forgetNode.stdout).toContain(`removed 1 host key of [127.0.0.1]:${server.port}`);
      expect(fs.readFileSync(path.join(dirs.configDir, 'known_hosts'), 'utf8')).toBe('');
    });
  });

  describe('terminal prompt', () => {
    const testWithTerminal = loaderIsBuilt() && fs.existsSync('/usr/bin/script') ? test : test.skip;

    /** Runs the loader under script(1), so that its standard input and error are a terminal, and types `input`. */
    async function runOnTerminal(args: string[], input: string, dirs: ReturnType<typeof createLoaderDirs>, env: NodeJS.ProcessEnv) {
      const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
      const commandLine = [LOADER_BIN, '--archive', dirs.archiveDir, '--config-dir', dirs.configDir, ...args].map(quote).join(' ');
      return runCommand('/usr/bin/script', ['-qec', commandLine, '/dev/null'], { input, env: { HOME: dirs.homeDir, ...env } });
    }

    testWithTerminal('host key accepted only on yes', async () => {
      const dirs = createLoaderDirs('ssh-tty');
      const env = { LOADER_SECRET_TTY: user.password };
      const fingerprint = await server.hostKeyFingerprint();
      const knownHostsPath = path.join(dirs.configDir, 'known_hosts');
      const add = await runLoader(['nodes', 'add-ssh', 'tty', '--host', LOOPBACK, '--port', String(server.port), '--login', user.login], { dirs });
      expect(add.code).toBe(0);

      const declined = await runOnTerminal(['ssh', 'ls', 'tty', remoteRoot], 'n\n', dirs, env);
      expect(declined.stdout).toContain(fingerprint);
      expect(declined.stdout).toContain('[y/N]');
      expect(declined.code).toBe(1);
      expect(fs.existsSync(knownHostsPath)).toBe(false);

      const accepted = await runOnTerminal(['ssh', 'ls', 'tty', remoteRoot], 'y\n', dirs, env);
      expect(accepted.stdout).toContain(fingerprint);
      expect(accepted.code).toBe(0);
      expect(new KnownHostsFile(knownHostsPath).entriesFor(LOOPBACK, server.port).map((entry) => entry.fingerprint)).toEqual([fingerprint]);
    });
  });

  // Runs last, because it replaces the server's host key.
  describe('host key', () => {
    test('first contact then changed key', async () => {
      const fresh = new KnownHostsFile(path.join(makeTempDir('ssh-config'), 'known_hosts'));
      const expected = await server.hostKeyFingerprint();

      const unknown = await connect(target(), { hostKeys: { knownHosts: fresh } }).catch((caught: unknown) => caught);
      expect(unknown).toBeInstanceOf(HostKeyError);
      expect((unknown as HostKeyError).code).toBe('host-key-unknown');
      expect((unknown as HostKeyError).fingerprint).toBe(expected);
      expect((unknown as HostKeyError).message).toContain(expected);
      expect(fs.existsSync(fresh.file)).toBe(false);

      const wrongFingerprint = 'SHA256:' + 'A'.repeat(43);
      const mismatch = await connect(target(), { hostKeys: { knownHosts: fresh, acceptFingerprint: wrongFingerprint } }).catch(
        (caught: unknown) => caught,
      );
      expect((mismatch as HostKeyError).code).toBe('host-key-unknown');
      expect(fs.existsSync(fresh.file)).toBe(false);

      const accepted = await connect(target(), { hostKeys: { knownHosts: fresh, acceptFingerprint: expected } });
      accepted.close();
      expect(fs.readFileSync(fresh.file, 'utf8')).toMatch(new RegExp(`^\\[127\\.0\\.0\\.1\\]:${server.port} ssh-ed25519 AAAA\\S+\\n$`));
      const again = await connect(target(), { hostKeys: { knownHosts: fresh } });
      again.close();

      await server.restartWithNewHostKey();
      const replaced = await keygenFingerprint(`${server.hostKeyFile}.pub`);
      const changed = await connect(target(), { hostKeys: { knownHosts: fresh, acceptFingerprint: replaced } }).catch(
        (caught: unknown) => caught,
      );
      expect((changed as HostKeyError).code).toBe('host-key-changed');
      expect((changed as HostKeyError).message).toContain(expected);
      expect((changed as HostKeyError).message).toContain(replaced);
      expect((changed as HostKeyError).message).toContain(`loader ssh forget ${LOOPBACK} --port ${server.port}`);
      expect(fresh.entriesFor(LOOPBACK, server.port).map((entry) => entry.fingerprint)).toEqual([expected]);
    });
  });
});
