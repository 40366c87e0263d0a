/**
 * User identity negotiation (PS3.7 annex D.3.3.7): the server's account
 * check, the loader as requestor against Orthanc and against its own server,
 * DCMTK storescu as requestor, and a server account stored in a real keychain.
 *
 * Passwords come from LOADER_SECRET_<NODE> and LOADER_USER_SECRET_<ACCOUNT>,
 * except in the keychain test, and DBUS_SESSION_BUS_ADDRESS points at a
 * missing socket so that no test reaches the keychain of the machine.
 */
import fs from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';

import type { UserIdentity } from '../../src/dicom/network';
import { NodeCredentials, resolveNodeCredentials, ServerAccounts, ServerAccountsError } from '../../src/services/pacs-server/user-identity';
import { SecretStoreUnavailableError } from '../../src/services/secrets';
import type { SecretStore } from '../../src/services/secrets';
import {
  associationArgs,
  corpusPath,
  createLoaderDirs,
  freePort,
  LOADER_BIN,
  loaderIsBuilt,
  LOOPBACK,
  runDcmtk,
  runLoader,
  startLoader,
  startOrthanc,
} from '../support/peers';
import { MemoryStore, missingKeychainTools, runInKeyringSession } from '../support/keyring';
import type { LoaderDirs, LoaderServer, OrthancHandle } from '../support/peers';

const PASSWORD = 'Pr0per pässword';
const WRONG_PASSWORD = 'wrong-Guess-42';

class UnreachableStore implements SecretStore {
  readonly description = 'unreachable';
  async get(): Promise<string | null> {
    throw new SecretStoreUnavailableError('keychain is not reachable: use LOADER_USER_SECRET_ALICE', 'no bus');
  }
  async set(): Promise<void> {
    throw new SecretStoreUnavailableError('keychain is not reachable', 'no bus');
  }
  async delete(): Promise<boolean> {
    throw new SecretStoreUnavailableError('keychain is not reachable', 'no bus');
  }
}

function identity(type: UserIdentity['type'], username: string, passcode?: string): UserIdentity {
  return {
    type,
    primaryField: Buffer.from(username, 'utf8'),
    secondaryField: passcode === undefined ? undefined : Buffer.from(passcode, 'utf8'),
    positiveResponseRequested: false,
  };
}

describe('server account check', () => {
  let accounts: ServerAccounts;

  beforeAll(async () => {
    const store = new MemoryStore();
    await store.set('user:alice', PASSWORD);
    accounts = await ServerAccounts.load([{ name: 'alice' }, { name: 'bob' }], store, { LOADER_USER_SECRET_BOB: 'bob-secret' });
  });

  test('right passcode accepted', () => {
    expect(accounts.check(identity(2, 'alice', PASSWORD))).toEqual({ accepted: true, username: 'alice' });
    expect(accounts.check(identity(2, 'bob', 'bob-secret'))).toEqual({ accepted: true, username: 'bob' });
  });

  test.each([
    ['no identity', undefined, /no user identity was sent/],
    ['wrong passcode', identity(2, 'alice', WRONG_PASSWORD), /wrong passcode for user "alice"/],
    ['empty passcode', identity(2, 'alice', ''), /wrong passcode for user "alice"/],
    ['username case differs', identity(2, 'Alice', PASSWORD), /unknown user "Alice"/],
    ['unknown user', identity(2, 'mallory', PASSWORD), /unknown user "mallory"/],
    ['username only', identity(1, 'alice'), /user "alice" sent no passcode/],
    ['Kerberos type', identity(3, 'ticket'), /type 3 is not supported/],
  ])('%s rejected', (_case, item, reason) => {
    const check = accounts.check(item);
    expect(check.accepted).toBe(false);
    if (check.accepted) return;
    expect(check.reason).toMatch(reason);
    expect(check.reason).not.toContain(PASSWORD);
    expect(check.reason).not.toContain(WRONG_PASSWORD);
  });

  test('control characters escaped in reason', () => {
    const check = accounts.check(identity(2, 'evil\nname\u001b[31m', 'x'));
    expect(check.accepted).toBe(false);
    if (!check.accepted) expect(check.reason).toBe('unknown user "evil\\nname\\u001b[31m"');
  });

  test('no accounts fails to load', async () => {
    await expect(ServerAccounts.load([], new MemoryStore(), {})).rejects.toThrow(/no server account exists.*loader users add/);
  });

  test('unreachable keychain fails to load', async () => {
    const load = ServerAccounts.load([{ name: 'alice' }], new UnreachableStore(), {});
    await expect(load).rejects.toThrow(ServerAccountsError);
    await expect(ServerAccounts.load([{ name: 'alice' }], new UnreachableStore(), {})).rejects.toThrow(/LOADER_USER_SECRET_ALICE/);
  });

  test('environment avoids unreachable keychain', async () => {
    const loaded = await ServerAccounts.load([{ name: 'alice' }], new UnreachableStore(), { LOADER_USER_SECRET_ALICE: PASSWORD });
    expect(loaded.check(identity(2, 'alice', PASSWORD)).accepted).toBe(true);
  });

  test('account without password fails to load', async () => {
    await expect(ServerAccounts.load([{ name: 'carol' }], new MemoryStore(), {})).rejects.toThrow(/carol has no password.*LOADER_USER_SECRET_CAROL/);
  });
});

describe('node credentials', () => {
  test('password from environment gives type 2', async () => {
    const credentials = await resolveNodeCredentials({ name: 'main', login: 'alice' }, { store: new UnreachableStore(), env: { LOADER_SECRET_MAIN: PASSWORD } });
    const item = credentials!.toUserIdentity();
    expect(item.type).toBe(2);
    expect(item.primaryField.toString('utf8')).toBe('alice');
    expect(item.secondaryField!.toString('utf8')).toBe(PASSWORD);
    expect(item.positiveResponseRequested).toBe(false);
  });

  test('unreachable keychain gives type 1 and a warning', async () => {
    const warnings: string[] = [];
    const credentials = await resolveNodeCredentials({ name: 'main', login: 'alice' }, { store: new UnreachableStore(), env: {}, warn: (message) => warnings.push(message) });
    expect(credentials!.toUserIdentity().type).toBe(1);
    expect(credentials!.toUserIdentity().secondaryField).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('sending the login of main without a password');
  });

  test('no stored password gives a warning', async () => {
    const warnings: string[] = [];
    const credentials = await resolveNodeCredentials({ name: 'main', login: 'alice' }, { store: new MemoryStore(), env: {}, warn: (message) => warnings.push(message) });
    expect(credentials!.toUserIdentity().type).toBe(1);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('sending the login of main without a password: LOADER_SECRET_MAIN is not set and the memory has no password for it');
    expect(warnings[0]).toContain('"loader secrets set main"');
  });

  test('node without login gets none', async () => {
    expect(await resolveNodeCredentials({ name: 'main' }, { store: new MemoryStore(), env: {} })).toBeUndefined();
  });

  test('password hidden from JSON and inspect', () => {
    const credentials = new NodeCredentials('alice', PASSWORD, 'LOADER_SECRET_MAIN');
    expect(JSON.stringify({ credentials })).not.toContain(PASSWORD);
    expect(inspect(credentials)).not.toContain(PASSWORD);
    expect(inspect({ node: { credentials } }, { depth: 5 })).not.toContain(PASSWORD);
  });
});

/** Environment of loader runs: no reachable keychain, so only the variables given here apply. */
function noKeychainEnv(dirs: LoaderDirs, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { DBUS_SESSION_BUS_ADDRESS: `unix:path=${dirs.root}/no-bus`, ...extra };
}

async function loaderOk(args: string[], dirs: LoaderDirs, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const result = await runLoader(args, { dirs, env: noKeychainEnv(dirs, env) });
  if (result.code !== 0) throw new Error(`loader ${args.join(' ')} failed with code ${result.code}: ${result.stderr.slice(-2000)}`);
  return result.stdout;
}

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

describeBuilt('Orthanc with user identity', () => {
  let orthanc: OrthancHandle;

  beforeAll(async () => {
    orthanc = await startOrthanc({ aeTitle: 'ORTHANCUID' });
  });

  afterAll(async () => {
    await orthanc?.stop();
  });

  test('echo with login and password succeeds', async () => {
    const dirs = createLoaderDirs('uid-orthanc');
    await loaderOk(['nodes', 'add', 'orthanc', '--aet', orthanc.aeTitle, '--host', LOOPBACK, '--port', String(orthanc.port), '--login', 'alice'], dirs);

    const result = await runLoader(['echo', 'orthanc', '--json'], { dirs, env: noKeychainEnv(dirs, { LOADER_SECRET_ORTHANC: PASSWORD, LOADER_LOG_LEVEL: 'debug' }) });

    expect(result.stderr).not.toContain(PASSWORD);
    expect(result.code).toBe(0);
    expect(result.json<{ status: number }>().status).toBe(0);
  });
});

describeBuilt('server requiring user identity', () => {
  const sample = () => corpusPath('samples/ct/ct-small.dcm').absolutePath;
  let server: LoaderServer;
  let client: LoaderDirs;

  beforeAll(async () => {
    const serverDirs = createLoaderDirs('uid-server');
    const added = await loaderOk(['users', 'add', 'alice'], serverDirs);
    expect(added).toContain('LOADER_USER_SECRET_ALICE');
    await loaderOk(['config', 'set', 'pacs.requireUserIdentity', 'on'], serverDirs);
    server = await startLoader([], { aeTitle: 'LOADERUID', dirs: serverDirs, env: noKeychainEnv(serverDirs, { LOADER_USER_SECRET_ALICE: PASSWORD }) });

    client = createLoaderDirs('uid-client');
    const address = ['--aet', server.aeTitle, '--host', LOOPBACK, '--port', String(server.port)];
    await loaderOk(['nodes', 'add', 'good', ...address, '--login', 'alice', '--quirks', 'user-identity-response'], client);
    await loaderOk(['nodes', 'add', 'wrong', ...address, '--login', 'alice'], client);
    await loaderOk(['nodes', 'add', 'nopassword', ...address, '--login', 'alice'], client);
    await loaderOk(['nodes', 'add', 'anonymous', ...address], client);
  });

  afterAll(async () => {
    await server?.stop();
  });

  const clientEnv = () => noKeychainEnv(client, { LOADER_SECRET_GOOD: PASSWORD, LOADER_SECRET_WRONG: WRONG_PASSWORD });

  test('server logs the requirement', () => {
    expect(server.readLog()).toMatch(/listening .*userIdentity="required \(1 accounts\)"/);
  });

  test('storescu with right password stores', async () => {
    const result = await runDcmtk('storescu', ['--user', 'alice', '--password', PASSWORD, ...associationArgs(server, 'STORESCU'), sample()]);
    expect(result.code).toBe(0);
    expect(server.readLog()).toMatch(/user identity accepted callingAeTitle=STORESCU username=alice/);
  });

  test('storescu with wrong password rejected', async () => {
    const result = await runDcmtk('storescu', ['--user', 'alice', '--password', WRONG_PASSWORD, ...associationArgs(server, 'STOREWRONG'), sample()]);
    const output = result.stdout + result.stderr;

    expect(result.code).not.toBe(0);
    expect(output).toMatch(/Association Rejected/i);
    expect(output).toMatch(/Rejected Permanent/i);
    expect(output).toMatch(/Service User/i);
    expect(output).toMatch(/No Reason/i);
  });

  test('storescu without identity rejected', async () => {
    const result = await runDcmtk('storescu', [...associationArgs(server, 'STORENONE'), sample()]);
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/Association Rejected/i);
  });

  test('rejection log names user, not passcode', async () => {
    await runDcmtk('storescu', ['--user', 'alice', '--password', WRONG_PASSWORD, ...associationArgs(server, 'STORELOG'), sample()]);
    const lines = server.readLog().split('\n').filter((line) => line.includes('STORELOG') && /rejected/i.test(line));

    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).toMatch(/wrong passcode for user \\?"alice\\?"/);
    expect(server.readLog()).not.toContain(WRONG_PASSWORD);
    expect(server.readLog()).not.toContain(PASSWORD);
    expect(server.readLog()).toMatch(/STORENONE: no user identity was sent/);
  });

  test('loader echo with right password', async () => {
    const result = await runLoader(['echo', 'good', '--json'], { dirs: client, env: clientEnv() });

    expect(result.code).toBe(0);
    expect(result.json<{ status: number }>().status).toBe(0);
    // The quirk requests a positive response, and the server sends one.
    expect(result.stderr).not.toContain('did not confirm the user identity');
    expect(result.stderr).not.toContain(PASSWORD);
  });

  test('loader echo with wrong password', async () => {
    const result = await runLoader(['echo', 'wrong'], { dirs: client, env: clientEnv() });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('node wrong rejected the association');
    expect(result.stderr).toContain('credentials may be wrong');
    expect(result.stderr).toContain('login "alice"');
    expect(result.stderr).not.toContain(WRONG_PASSWORD);
  });

  test('loader echo with login only', async () => {
    const result = await runLoader(['echo', 'nopassword'], { dirs: client, env: clientEnv() });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('sending the login of nopassword without a password');
    expect(result.stderr).toContain('login without a password');
    expect(server.readLog()).toMatch(/user \\?"alice\\?" sent no passcode/);
  });

  test('loader echo without login', async () => {
    const result = await runLoader(['echo', 'anonymous'], { dirs: client, env: clientEnv() });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('node anonymous rejected the association');
    expect(result.stderr).not.toContain('credentials may be wrong');
  });

  test('loader send with right password', async () => {
    await loaderOk(['scan', sample(), '--import'], client);
    const study = corpusPath('samples/ct/ct-small.dcm').studyInstanceUid!;
    const result = await runLoader(['send', 'good', '--study-uid', study], { dirs: client, env: clientEnv() });

    expect(result.stderr).not.toContain(PASSWORD);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('success: 1 of 1 instances sent');
  });

  test('C-MOVE sub-operations send the login', async () => {
    const sourceDirs = createLoaderDirs('uid-move-source');
    await loaderOk(['scan', sample(), '--import'], sourceDirs);
    await loaderOk(['nodes', 'add', 'dest', '--aet', server.aeTitle, '--host', LOOPBACK, '--port', String(server.port), '--login', 'alice'], sourceDirs);
    const source = await startLoader([], { aeTitle: 'MOVESOURCE', dirs: sourceDirs, env: noKeychainEnv(sourceDirs, { LOADER_SECRET_DEST: PASSWORD }) });
    try {
      const study = corpusPath('samples/ct/ct-small.dcm').studyInstanceUid!;
      const result = await runDcmtk('movescu', [
        '-S', '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${study}`, '--move', server.aeTitle,
        ...associationArgs(source, 'MOVESCU'),
      ]);

      expect(result.code).toBe(0);
      expect(server.readLog()).toMatch(/user identity accepted callingAeTitle=MOVESOURCE username=alice/);
      expect(source.readLog()).not.toContain(PASSWORD);
    } finally {
      await source.stop();
    }
  });

  test('server without accounts does not start', async () => {
    const dirs = createLoaderDirs('uid-no-accounts');
    await loaderOk(['config', 'set', 'pacs.requireUserIdentity', 'on'], dirs);
    const result = await runLoader(['serve', '--host', LOOPBACK, '--port', String(await freePort())], { dirs, env: noKeychainEnv(dirs), timeoutMs: 20_000 });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no server account exists');
  });

  test('server with unreachable keychain does not start', async () => {
    const dirs = createLoaderDirs('uid-no-keychain');
    await loaderOk(['users', 'add', 'alice'], dirs);
    await loaderOk(['config', 'set', 'pacs.requireUserIdentity', 'on'], dirs);
    const result = await runLoader(['serve', '--host', LOOPBACK, '--port', String(await freePort())], { dirs, env: noKeychainEnv(dirs), timeoutMs: 20_000 });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cannot load the password of server account alice');
    expect(result.stderr).toContain('no D-Bus session bus is reachable');
    expect(result.stderr).toContain('LOADER_USER_SECRET_ALICE');
  });
});

const keychainReady = missingKeychainTools().length === 0 && loaderIsBuilt();
const describeKeychain = keychainReady ? describe : describe.skip;

describeKeychain('server account in a real keychain', () => {
  test('users add stores password; server accepts it', async () => {
    const dirs = createLoaderDirs('uid-keychain');
    const port = await freePort();
    const loader = `${LOADER_BIN} --config-dir ${dirs.configDir} --archive ${dirs.archiveDir}`;
    const serverLog = path.join(dirs.root, 'serve.log');
    // The server runs in the same private D-Bus session as `users add`, so it reads the keyring that received the password.
    const script = `
      set -e
      printf '%s\\n' "$PASSWORD" | $LOADER users add alice --password-stdin
      echo "lookup=$(secret-tool lookup service sciberia-loader username user:alice)"
      $LOADER users list
      $LOADER config set pacs.requireUserIdentity on
      $LOADER serve --aet LOADERKC --host 127.0.0.1 --port $PORT --accept-any >"$SERVER_LOG" 2>&1 &
      server=$!
      for i in $(seq 1 100); do grep -q listening "$SERVER_LOG" && break; sleep 0.1; done
      set +e
      storescu --user alice --password "$PASSWORD" -aet STOREKC -aec LOADERKC 127.0.0.1 $PORT "$SAMPLE"
      echo "right=$?"
      storescu --user alice --password wrong-Guess-42 -aet STOREKC -aec LOADERKC 127.0.0.1 $PORT "$SAMPLE" >/dev/null 2>&1
      echo "wrong=$?"
      kill -TERM $server
      wait $server
      echo "server=$?"
    `;
    const env = {
      LOADER: loader,
      PASSWORD,
      PORT: String(port),
      SERVER_LOG: serverLog,
      SAMPLE: corpusPath('samples/ct/ct-small.dcm').absolutePath,
      TCP_NODELAY: '1',
    };
    const result = await runInKeyringSession(script, dirs, env, 90_000);
    const log = fs.readFileSync(serverLog, 'utf8') as string;

    expect(result.stdout).toContain(`lookup=${PASSWORD}\n`);
    expect(result.stdout).toContain('added server account alice; its password is in the keychain as user:alice');
    expect(result.stdout).toMatch(/^alice\t/m);
    expect(result.stdout).toContain('right=0');
    expect(result.stdout).not.toContain('wrong=0');
    expect(result.stdout).toContain('server=0');
    expect(log).toMatch(/user identity accepted callingAeTitle=STOREKC username=alice/);
    expect(log).toMatch(/wrong passcode for user/);
    expect(log).not.toContain(PASSWORD);
    const settingsText = fs.readFileSync(path.join(dirs.configDir, 'settings.json'), 'utf8') as string;
    expect(settingsText).not.toContain(PASSWORD);
  });
});
