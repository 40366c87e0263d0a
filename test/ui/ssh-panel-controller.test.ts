/**
 * The SSH panel's controller against a real OpenSSH server on 127.0.0.1
 * (test/support/sshd.ts), without a display: host key acceptance, folder
 * listing, download and import into a Local panel's archive, opening SSH
 * files in the viewer, registered locations and the error messages.
 */
import * as fs from 'fs';
import * as path from 'path';

import { setLogSink } from '../../src/services/logger';
import { HostKeyError, KnownHostsFile, SshError } from '../../src/services/ssh';
import { AppController } from '../../src/ui/controllers/app-controller';
import type { PanelConnection } from '../../src/ui/controllers/app-controller';
import { sshListingFailure } from '../../src/ui/controllers/panel-state';
import { describeSshError, parentFolder, SshInputError } from '../../src/ui/controllers/ssh-panel-controller';
import type { SshConnection, SshConnectionInput, SshConnectOutcome, SshFetchProgress } from '../../src/ui/controllers/ssh-panel-controller';
import type { OpenProgress } from '../../src/ui/controllers/study-opener';
import { translator } from '../../src/ui/i18n';
import { seriesFromArchive } from '../../src/ui/viewer/study-source';
import { corpusSamples } from '../support/corpus';
import { MemoryStore } from '../support/keyring';
import { LOOPBACK, makeTempDir } from '../support/process';
import { chownTree, ensureTestUser, lockTestUser, makeRemoteDir, sshdUnavailableReason, SshdServer } from '../support/sshd';
import type { TestUser } from '../support/sshd';

/** A login of its own, because test/ssh changes the password of the default test user while this file runs. */
const TEST_LOGIN = 'loader-ssh-ui';

const unavailable = sshdUnavailableReason();
const describeWithSshd = unavailable === undefined ? describe : describe.skip;
if (unavailable !== undefined) console.warn(`skipping the SSH panel controller tests: ${unavailable}`);

/** A study of several instances from the corpus, copied to the remote folders. */
const study = corpusSamples((file) => file.kind === 'mr-volume');

describeWithSshd('SSH panel controller against OpenSSH', () => {
  let user: TestUser;
  let server: SshdServer;
  let remoteRoot: string;
  let controller: AppController;
  let secrets: MemoryStore;
  let configDir: string;
  let archiveRoot: string;
  let cacheDir: string;
  
  let previousSink: (line: string) => void;
  beforeAll(async () => {
    previousSink = setLogSink(() => undefined);
    user = await ensureTestUser(TEST_LOGIN);
    server = await SshdServer.start(user);
    remoteRoot = makeRemoteDir(user, 'loader-ui-test');
    const root = makeTempDir('ssh-panel');
    configDir = path.join(root, 'config');
    archiveRoot = path.join(root, 'archive');
    cacheDir = path.join(root, 'cache');
    secrets = new MemoryStore();
    controller = new AppController({ configDir, archiveRoot, cacheDir, secretStore: secrets, sshTimeoutMs: 10_000 });
  });

  afterAll(async () => {
    await controller?.close();
    await server?.stop();
    if (user) await lockTestUser(TEST_LOGIN);
    if (remoteRoot) fs.rmSync(remoteRoot, { recursive: true, force: true });
    setLogSink(previousSink);
  });

  /** Creates a remote folder owned by the test user with the given files (name to contents or a local file to copy). */
  function remoteFolder(label: string, files: Record<string, string | { copy: string }>): string {
    const folder = fs.mkdtempSync(path.join(remoteRoot, `${label}-`));
    for (const [name, contents] of Object.entries(files)) {
      const file = path.join(folder, name);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      if (typeof contents === 'string') fs.writeFileSync(file, contents);
      else fs.copyFileSync(contents.copy, file);
    }
    chownTree(folder, user);
    return folder;
  }

  function studyFiles(): Record<string, { copy: string }> {
    return Object.fromEntries(study.map((sample, index) => [`IM${index}.dcm`, { copy: sample.absolutePath }]));
  }

  function input(changes: Partial<SshConnectionInput> = {}): SshConnectionInput {
    return { name: '', host: LOOPBACK, port: String(server.port), login: user.login, password: user.password, folder: '', ...changes };
  }

  /** Lists a folder and returns the error it raised, or undefined when it succeeded. */
  async function listingError(connection: SshConnection, folder: string): Promise<unknown> {
    try {
      await controller.ssh.list(connection, folder);
      return undefined;
    } catch (error) {
      return error;
    }
  }

  /** Connects, accepting the host key when it is new, and returns the open connection. */
  async function connected(changes: Partial<SshConnectionInput> = {}): Promise<Extract<SshConnectOutcome, { status: 'connected' }>> {
    let outcome = await controller.ssh.connect(input(changes));
    if (outcome.status === 'host-key-unknown') outcome = await controller.ssh.connect(input(changes), outcome.prompt.fingerprint);
    if (outcome.status !== 'connected') throw new Error('the host key was accepted, but the connection still asks for it');
    return outcome;
  }

  function panelConnection(connection: SshConnection): PanelConnection {
    return { kind: 'ssh', ssh: connection, label: connection.label };
  }

  test('new host key needs acceptance', async () => {
    const outcome = await controller.ssh.connect(input());
    expect(outcome.status).toBe('host-key-unknown');
    if (outcome.status !== 'host-key-unknown') return;
    expect(outcome.prompt.fingerprint).toBe(await server.hostKeyFingerprint());
    expect(outcome.prompt.keyType).toBe('ssh-ed25519');
    expect(outcome.prompt.host).toBe(`[${LOOPBACK}]:${server.port}`);
    expect(fs.existsSync(path.join(configDir, 'known_hosts'))).toBe(false);
  });

  test('wrong accepted fingerprint is rejected', async () => {
    const attempt = controller.ssh.connect(input(), 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    await expect(attempt).rejects.toBeInstanceOf(HostKeyError);
    expect(fs.existsSync(path.join(configDir, 'known_hosts'))).toBe(false);
  });

  test('accepted host key is stored', async () => {
    const folder = remoteFolder('accept', { 'b.dcm': 'bb', 'a.dcm': 'a', 'zeta/x.dcm': 'x' });
    const { listing } = await connected({ folder });
    const stored = KnownHostsFile.inConfigDir(configDir).entriesFor(LOOPBACK, server.port);
    expect(stored.map((entry) => entry.fingerprint)).toEqual([await server.hostKeyFingerprint()]);
    expect(listing.path).toBe(folder);

    // The second connection finds the stored key, so no prompt is returned.
    const again = await controller.ssh.connect(input({ folder }));
    expect(again.status).toBe('connected');
    if (again.status === 'connected') controller.ssh.disconnect(again.connection);
  });

  test('listing has name, size and date', async () => {
    const folder = remoteFolder('list', { 'b.dcm': 'bb', 'a.dcm': 'a', 'zeta/x.dcm': 'x' });
    fs.utimesSync(path.join(folder, 'a.dcm'), new Date('2024-03-01T10:00:00Z'), new Date('2024-03-01T10:00:00Z'));
    const { connection } = await connected();
    const listing = await controller.ssh.list(connection, folder);
    expect(listing.rows.map((row) => row.name)).toEqual(['zeta', 'a.dcm', 'b.dcm']);
    expect(listing.rows[0]).toMatchObject({ type: 'folder', size: 0, path: `${folder}/zeta` });
    expect(listing.rows[1]).toMatchObject({ type: 'file', size: 1, modified: '2024-03-01T10:00:00.000Z', path: `${folder}/a.dcm` });
    expect(listing.rows[2]).toMatchObject({ type: 'file', size: 2 });
  });

  test('folders are entered and left', async () => {
    const folder = remoteFolder('enter', { 'zeta/inner/x.dcm': 'x' });
    const { connection } = await connected({ folder });
    const inside = await controller.ssh.list(connection, `${folder}/zeta`);
    expect(inside.path).toBe(`${folder}/zeta`);
    expect(inside.rows.map((row) => row.name)).toEqual(['inner']);

    const up = await controller.ssh.list(connection, parentFolder(inside.path));
    expect(up.path).toBe(folder);
    expect(parentFolder('/')).toBe('/');
  });

  test('listing reconnects a closed session', async () => {
    const folder = remoteFolder('reconnect', { 'a.dcm': 'a' });
    const { connection } = await connected({ folder });
    const first = connection.session;
    first.close();
    const listing = await controller.ssh.list(connection, folder);
    expect(listing.rows.map((row) => row.name)).toEqual(['a.dcm']);
    expect(connection.session).not.toBe(first);
  });

  test('missing folder fails with its path', async () => {
    const { connection } = await connected();
    const missing = `${remoteRoot}/no-such-folder`;
    await expect(controller.ssh.list(connection, missing)).rejects.toThrow(`not found: ${missing}`);
  });

  test('download imports DICOM into the archive', async () => {
    const folder = remoteFolder('get', { ...studyFiles(), 'notes.txt': 'not a DICOM file', 'bad\nname.dcm': 'x' });
    const { connection } = await connected({ folder });
    const local = controller.connectLocal(archiveRoot);
    if (local.kind !== 'local') throw new Error('expected a local connection');

    const events: SshFetchProgress[] = [];
    const result = await controller.ssh.fetchIntoArchive(connection, [folder], local.archive, (event) => events.push(event));
    expect(result.instances).toBe(study.length);
    expect(result.outcome).toBe('partial');
    expect(result.studyInstanceUids).toEqual([study[0].studyInstanceUid]);
    expect(local.archive.listInstances({ studyInstanceUid: study[0].studyInstanceUid! })).toHaveLength(study.length);
    expect(controller.searchLocal(local.archive).map((row) => row.studyInstanceUid)).toEqual([study[0].studyInstanceUid]);

    const notDicom = result.failures.find((failure) => failure.uid === `${folder}/notes.txt`);
    expect(notDicom?.reason).toMatch(/^not a DICOM file/);
    const unsafe = result.failures.find((failure) => failure.uid.includes('bad'));
    expect(unsafe?.reason).toMatch(/unsafe name/);
    expect(result.failures).toHaveLength(2);

    const downloads = events.flatMap((event) => (event.phase === 'download' ? [event] : []));
    const last = downloads[downloads.length - 1];
    expect(last.bytesDone).toBe(last.bytesTotal);
    expect(last.filesTotal).toBe(study.length + 1);
    expect(events.some((event) => event.phase === 'import')).toBe(true);
    // The staged copies are removed after the import.
    const staged = path.join(controller.ssh.stagingDirFor(connection.endpoint), 'files');
    const left = fs.existsSync(staged) ? fs.readdirSync(staged, { recursive: true }).filter((name) => fs.statSync(path.join(staged, String(name))).isFile()) : [];
    expect(left).toEqual([]);
  });

  test('download of only non-DICOM fails', async () => {
    const folder = remoteFolder('text', { 'readme.txt': 'text' });
    const { connection } = await connected({ folder });
    const local = controller.connectLocal(archiveRoot);
    if (local.kind !== 'local') throw new Error('expected a local connection');
    const result = await controller.ssh.fetchIntoArchive(connection, [`${folder}/readme.txt`], local.archive, () => undefined);
    expect(result.outcome).toBe('failure');
    expect(result.instances).toBe(0);
    expect(result.failures.map((failure) => failure.uid)).toEqual([`${folder}/readme.txt`]);
  });

  test('remote open downloads into the cache archive', async () => {
    const folder = remoteFolder('open', studyFiles());
    const { connection } = await connected({ folder });
    const events: OpenProgress[] = [];
    const opened = await controller.studyOpener.open(panelConnection(connection), { remotePaths: [folder] }, (event) => events.push(event));
    expect(opened?.studiesFound).toBe(1);
    expect(opened?.study.archiveRoot).toBe(path.join(cacheDir, 'viewer-archive'));
    expect(opened?.study.studyInstanceUid).toBe(study[0].studyInstanceUid);
    expect(events.every((event) => event.source === 'ssh')).toBe(true);

    const series = await seriesFromArchive(opened!.study.archiveRoot, opened!.study.studyInstanceUid, 'latin1');
    expect(series.reduce((total, entry) => total + entry.instances.length, 0)).toBe(study.length);
  });

  test('remote open without DICOM fails', async () => {
    const folder = remoteFolder('open-text', { 'readme.txt': 'text' });
    const { connection } = await connected({ folder });
    const attempt = controller.studyOpener.open(panelConnection(connection), { remotePaths: [folder] }, () => undefined);
    await expect(attempt).rejects.toThrow(/no study could be opened/);
  });

  test('registered location uses the keychain', async () => {
    const folder = remoteFolder('registered', { 'a.dcm': 'a' });
    controller.settings.addSshNode({ name: 'workstation', host: LOOPBACK, port: server.port, login: user.login, defaultFolder: folder });
    await secrets.set('ssh:workstation', user.password);

    const location = controller.listLocations().find((entry) => entry.kind === 'ssh');
    expect(location?.name).toBe('workstation');
    expect(location?.description).toBe(`SSH ${user.login}@${LOOPBACK}:${server.port} ${folder}`);
    expect(location?.sshNode?.defaultFolder).toBe(folder);

    const { listing, connection } = await connected({ name: 'workstation', password: '' });
    expect(listing.path).toBe(folder);
    expect(connection.nodeName).toBe('workstation');
  });

  test('missing password is an input error', async () => {
    await expect(controller.ssh.connect(input({ password: '' }))).rejects.toBeInstanceOf(SshInputError);
    await expect(controller.ssh.connect(input({ password: '' }))).rejects.toThrow(/type it in the Password field/);
  });

  test('invalid port is an input error', async () => {
    await expect(controller.ssh.connect(input({ port: '70000' }))).rejects.toBeInstanceOf(SshInputError);
  });

  test('wrong password fails authentication', async () => {
    const attempt = controller.ssh.connect(input({ password: 'wrong password' }));
    await expect(attempt).rejects.toBeInstanceOf(SshError);
    await expect(controller.ssh.connect(input({ password: 'wrong password' }))).rejects.toMatchObject({ code: 'authentication-failed' });
  });

  // Runs last: it replaces the server's host key.
  test('changed host key is an error', async () => {
    const oldFingerprint = await server.hostKeyFingerprint();
    const folder = remoteFolder('changed', { 'a.dcm': 'a' });
    const { connection: before } = await connected({ folder });
    await server.restartWithNewHostKey();
    const newFingerprint = await server.hostKeyFingerprint();
    expect(newFingerprint).not.toBe(oldFingerprint);

    let caught: unknown;
    try {
      await controller.ssh.connect(input());
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(HostKeyError);
    expect((caught as HostKeyError).code).toBe('host-key-changed');

    const english = describeSshError(translator('en'), caught);
    expect(english).toContain('CHANGED');
    expect(english).toContain(oldFingerprint);
    expect(english).toContain(newFingerprint);
    expect(describeSshError(translator('ru'), caught)).toContain('ИЗМЕНИЛСЯ');

    // Accepting a fingerprint never replaces a stored key.
    await expect(controller.ssh.connect(input(), newFingerprint)).rejects.toMatchObject({ code: 'host-key-changed' });
    const stored = KnownHostsFile.inConfigDir(configDir).entriesFor(LOOPBACK, server.port);
    expect(stored.map((entry) => entry.fingerprint)).toEqual([oldFingerprint]);

    // A panel that was connected before the change reconnects to list, and ends up not connected with no list.
    before.session.close();
    const listError = await listingError(before, folder);
    expect(listError).toMatchObject({ code: 'host-key-changed' });
    const changed = sshListingFailure(listError, describeSshError(translator('en'), listError));
    expect(changed.changes).toHaveProperty('connection', undefined);
    expect(changed.changes.remoteRows).toEqual([]);
    expect(changed.changes.selectedPaths).toEqual([]);
    expect(changed.changes.message).toContain('CHANGED');
    expect(changed.disconnect).toBe(true);
    expect(changed.reconnect).toBe(false);

    // After `loader ssh forget` removed the key, the panel connects again, which shows the accept prompt.
    expect(KnownHostsFile.inConfigDir(configDir).remove(LOOPBACK, server.port)).toBe(1);
    const forgotten = await listingError(before, folder);
    expect(forgotten).toMatchObject({ code: 'host-key-unknown' });
    const unknown = sshListingFailure(forgotten, describeSshError(translator('en'), forgotten));
    expect(unknown.changes).toHaveProperty('connection', undefined);
    expect(unknown.reconnect).toBe(true);
    const again = await controller.ssh.connect(input({ folder }));
    expect(again.status).toBe('host-key-unknown');
    if (again.status === 'host-key-unknown') expect(again.prompt.fingerprint).toBe(newFingerprint);

    // Other listing errors keep the connection and only show the message.
    const other = sshListingFailure(new Error('permission denied'), 'permission denied');
    expect(other).toEqual({ changes: { message: 'permission denied' }, disconnect: false, reconnect: false });
  });
});
