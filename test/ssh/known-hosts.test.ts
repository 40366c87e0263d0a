/** The known-hosts file, remote name checks and connection error messages, without a server. */
import { createHash, createHmac, generateKeyPairSync } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

import {
  checkRemoteName,
  describeConnectError,
  fingerprintOf,
  isInsideRemoteFolder,
  keyTypeOf,
  KnownHostsFile,
  localPathInside,
  normalizeFingerprint,
  SshError,
} from '../../src/services/ssh';
import { makeTempDir, runCommand } from '../support/process';

/** Returns an ssh-ed25519 public key blob (RFC 8709): string "ssh-ed25519", string key. */
function ed25519Blob(): Buffer {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const type = Buffer.from('ssh-ed25519');
  const blob = Buffer.alloc(4 + type.length + 4 + raw.length);
  blob.writeUInt32BE(type.length, 0);
  type.copy(blob, 4);
  blob.writeUInt32BE(raw.length, 4 + type.length);
  raw.copy(blob, 8 + type.length);
  return blob;
}

describe('known hosts file', () => {
  let file: string;
  beforeEach(() => {
    file = path.join(makeTempDir('known-hosts'), 'known_hosts');
  });

  test('add writes OpenSSH lines', () => {
    const key = ed25519Blob();
    const knownHosts = new KnownHostsFile(file);
    knownHosts.add('Example.org', 2222, key);
    knownHosts.add('example.org', 22, key);
    expect(fs.readFileSync(file, 'utf8')).toBe(
      `[example.org]:2222 ssh-ed25519 ${key.toString('base64')}\nexample.org ssh-ed25519 ${key.toString('base64')}\n`,
    );
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  test('check tells known, unknown, changed', () => {
    const key = ed25519Blob();
    const other = ed25519Blob();
    const knownHosts = new KnownHostsFile(file);
    expect(knownHosts.check('10.0.0.5', 2222, key).status).toBe('unknown');
    knownHosts.add('10.0.0.5', 2222, key);
    expect(knownHosts.check('10.0.0.5', 2222, key).status).toBe('known');
    expect(knownHosts.check('10.0.0.5', 22, key).status).toBe('unknown');
    const changed = knownHosts.check('10.0.0.5', 2222, other);
    expect(changed.status).toBe('changed');
    expect(changed.status === 'changed' && changed.stored.map((entry) => entry.fingerprint)).toEqual([fingerprintOf(key)]);
  });

  test('hashed and listed hosts match', () => {
    const key = ed25519Blob();
    const salt = Buffer.from('0123456789abcdefghij');
    const hash = createHmac('sha1', salt).update('[10.0.0.7]:2200').digest('base64');
    fs.writeFileSync(
      file,
      [
        '# comment',
        `|1|${salt.toString('base64')}|${hash} ssh-ed25519 ${key.toString('base64')}`,
        `ws1,10.0.0.8 ssh-ed25519 ${key.toString('base64')} comment`,
        `@revoked 10.0.0.9 ssh-ed25519 ${key.toString('base64')}`,
      ].join('\n'),
    );
    const knownHosts = new KnownHostsFile(file);
    expect(knownHosts.check('10.0.0.7', 2200, key).status).toBe('known');
    expect(knownHosts.check('10.0.0.8', 22, key).status).toBe('known');
    expect(knownHosts.check('10.0.0.9', 22, key).status).toBe('unknown');
  });

  test('remove drops only that host', () => {
    const key = ed25519Blob();
    const knownHosts = new KnownHostsFile(file);
    knownHosts.add('a.example', 22, key);
    knownHosts.add('b.example', 22, key);
    expect(knownHosts.remove('a.example', 22)).toBe(1);
    expect(knownHosts.remove('a.example', 22)).toBe(0);
    expect(fs.readFileSync(file, 'utf8')).toBe(`b.example ssh-ed25519 ${key.toString('base64')}\n`);
  });

  test('fingerprint matches ssh-keygen', async () => {
    const dir = makeTempDir('known-hosts-keygen');
    const keyFile = path.join(dir, 'key');
    const generated = await runCommand('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
    if (generated.code !== 0) throw new Error(`ssh-keygen failed: ${generated.stderr}`);
    const blob = Buffer.from(fs.readFileSync(`${keyFile}.pub`, 'utf8').split(' ')[1], 'base64');
    const listed = await runCommand('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${keyFile}.pub`]);
    expect(fingerprintOf(blob)).toBe(listed.stdout.split(' ')[1]);
    expect(keyTypeOf(blob)).toBe('ssh-ed25519');
  });

  test('normalizeFingerprint accepts typed forms', () => {
    const body = createHash('sha256').update('x').digest('base64');
    const expected = `SHA256:${body.replace(/=+$/, '')}`;
    expect(normalizeFingerprint(`SHA256:${body}`)).toBe(expected);
    expect(normalizeFingerprint(` ${body} `)).toBe(expected);
  });
});

describe('remote names', () => {
  test.each([
    ['..', 'the name contains ".."'],
    ['..\\x', 'the name contains ".."'],
    ['a/b', 'the name contains "/"'],
    ['a\\b', 'the name contains "\\"'],
    ['a\0b', 'the name contains a NUL character'],
    ['new\nline', 'the name contains a control character'],
    ['esc\u001b[2J', 'the name contains a control character'],
    ['c1\u009b', 'the name contains a control character'],
    ['bad\ufffd', 'the name is not valid UTF-8'],
    ['', 'the name is empty'],
    ['.', 'the name is "."'],
  ])('rejects %j', (name, reason) => {
    expect(checkRemoteName(name)).toBe(reason);
  });

  test.each(['IM0001.dcm', 'Иванов И.И.', 'a b', '.hidden', 'x.part'])('accepts %j', (name) => {
    expect(checkRemoteName(name)).toBeUndefined();
  });

  test('folder containment', () => {
    expect(isInsideRemoteFolder('/data/study', '/data/study/a')).toBe(true);
    expect(isInsideRemoteFolder('/data/study', '/data/study')).toBe(true);
    expect(isInsideRemoteFolder('/data/study', '/data/study2/a')).toBe(false);
    expect(isInsideRemoteFolder('/data/study', '/data/study/../x')).toBe(false);
    expect(isInsideRemoteFolder('/', '/etc')).toBe(true);
  });

  test('localPathInside rejects escapes', () => {
    expect(localPathInside('/tmp/staging', ['a', 'b.dcm'])).toBe('/tmp/staging/a/b.dcm');
    expect(() => localPathInside('/tmp/staging', ['..', 'x'])).toThrow(/unsafe remote name/);
    expect(() => localPathInside('/tmp/staging', ['/etc'])).toThrow(/unsafe remote name/);
  });
});

describe('connection errors', () => {
  const endpoint = { host: 'ws.example', port: 2222, login: 'doctor' };

  test.each([
    [{ code: 'ENOTFOUND' }, 'host-not-found', 'host ws.example not found'],
    [{ code: 'EAI_AGAIN' }, 'host-not-found', 'name server did not answer'],
    [{ code: 'ECONNREFUSED' }, 'connection-refused', 'refused'],
    [{ level: 'client-timeout' }, 'timeout', 'timed out after 5 s'],
    [{ level: 'client-authentication' }, 'authentication-failed', 'authentication failed'],
  ])('maps %j', (fields, code, text) => {
    const error = describeConnectError(Object.assign(new Error('raw'), fields), endpoint, 5000);
    expect(error).toBeInstanceOf(SshError);
    expect(error.code).toBe(code);
    expect(error.message).toContain(text);
    expect(error.message).toContain('doctor@ws.example port 2222');
  });
});
