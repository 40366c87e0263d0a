/**
 * License signing and verification. Each run makes a throwaway key pair with
 * scripts/issue-license.js in a temp folder, signs licenses with the script
 * and verifies them with the loader's verifier given that public key. The CLI
 * uses the built-in key, so the CLI tests cover rejections only.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { LicenseError, LicenseService, LicenseVerifier } from '../../src/services/license';
import { createLoaderDirs, loaderIsBuilt, runLoader, startLoader } from '../support/loader';
import { makeTempDir, REPO_ROOT, runCommand } from '../support/process';

const SCRIPT = path.join(REPO_ROOT, 'scripts', 'issue-license.js');
const NOW = new Date('2027-06-15T12:00:00Z');

interface KeyPair {
  privateKey: string;
  publicKeyPem: string;
}

async function generateKeyPair(): Promise<KeyPair> {
  const dir = path.join(makeTempDir('license-key'), 'key');
  const result = await runCommand('node', [SCRIPT, '--generate-key', dir]);
  if (result.code !== 0) throw new Error(`issue-license.js --generate-key failed: ${result.stderr}`);
  return {
    privateKey: path.join(dir, 'license-private.pem'),
    publicKeyPem: fs.readFileSync(path.join(dir, 'license-public.pem'), 'utf8'),
  };
}

/** Signs a license with the maintainer script and returns the file path. */
async function issueLicense(key: KeyPair, options: { issued?: string; expires?: string; licensee?: string } = {}): Promise<string> {
  const out = path.join(makeTempDir('license'), 'license.json');
  const result = await runCommand('node', [
    SCRIPT,
    '--key', key.privateKey,
    '--licensee', options.licensee ?? 'Городская больница №1',
    '--issued', options.issued ?? '2027-01-01',
    '--expires', options.expires ?? '2027-12-31',
    '--feature', 'pacs-server',
    '--feature', 'migration',
    '--out', out,
  ]);
  if (result.code !== 0) throw new Error(`issue-license.js failed: ${result.stderr}`);
  return out;
}

function verifyProblem(verifier: LicenseVerifier, text: string): string {
  try {
    verifier.verify(text);
  } catch (error) {
    if (error instanceof LicenseError) return `${error.problem}: ${error.message}`;
    throw error;
  }
  return 'accepted';
}

let key: KeyPair;
let otherKey: KeyPair;
let verifier: LicenseVerifier;

beforeAll(async () => {
  [key, otherKey] = await Promise.all([generateKeyPair(), generateKeyPair()]);
  verifier = new LicenseVerifier(key.publicKeyPem, () => NOW);
});

describe('license verifier', () => {
  test('script-signed license accepted', async () => {
    const license = verifier.verify(fs.readFileSync(await issueLicense(key), 'utf8'));
    expect(license.licensee).toBe('Городская больница №1');
    expect(license.issued).toBe('2027-01-01');
    expect(license.expires).toBe('2027-12-31');
    expect(license.features).toEqual(['pacs-server', 'migration']);
  });

  test('tampered license rejected', async () => {
    const text = fs.readFileSync(await issueLicense(key), 'utf8');
    const changed = { ...JSON.parse(text), expires: '2099-12-31' };
    expect(verifyProblem(verifier, JSON.stringify(changed))).toMatch(/^signature: the license signature is invalid/);
    const added = { ...JSON.parse(text), features: ['pacs-server', 'migration', 'everything'] };
    expect(verifyProblem(verifier, JSON.stringify(added))).toMatch(/^signature:/);
  });

  test('reformatted license still accepted', async () => {
    const parsed = JSON.parse(fs.readFileSync(await issueLicense(key), 'utf8'));
    const reordered = Object.fromEntries(Object.entries(parsed).reverse());
    expect(verifyProblem(verifier, JSON.stringify(reordered))).toBe('accepted');
  });

  test('license of another key rejected', async () => {
    const text = fs.readFileSync(await issueLicense(otherKey), 'utf8');
    expect(verifyProblem(verifier, text)).toMatch(/^signature: .*not issued for this loader/);
  });

  test('expired license rejected', async () => {
    const text = fs.readFileSync(await issueLicense(key, { issued: '2026-01-01', expires: '2027-06-14' }), 'utf8');
    expect(verifyProblem(verifier, text)).toBe(
      'expired: the license expired on 2027-06-14 (UTC): ask your supplier for a renewed license',
    );
  });

  test('last day still valid', async () => {
    const text = fs.readFileSync(await issueLicense(key, { issued: '2026-01-01', expires: '2027-06-15' }), 'utf8');
    expect(verifyProblem(verifier, text)).toBe('accepted');
  });

  test('not-yet-valid license rejected', async () => {
    const text = fs.readFileSync(await issueLicense(key, { issued: '2027-07-01', expires: '2028-06-30' }), 'utf8');
    expect(verifyProblem(verifier, text)).toBe('not-yet-valid: the license is not valid yet: it starts on 2027-07-01 (UTC)');
  });

  test('malformed licenses rejected', async () => {
    const valid = JSON.parse(fs.readFileSync(await issueLicense(key), 'utf8'));
    const cases: [string, string, RegExp][] = [
      ['not JSON', '{"licensee":', /^malformed: .*not valid JSON/],
      ['array', '[]', /^malformed: .*not a JSON object/],
      ['wrong format', JSON.stringify({ ...valid, format: 'other' }), /"format" must be "sciberia-loader-license"/],
      ['no licensee', JSON.stringify({ ...valid, licensee: undefined }), /"licensee" must be non-empty text/],
      ['impossible date', JSON.stringify({ ...valid, expires: '2027-02-30' }), /"expires" "2027-02-30" must be a date written YYYY-MM-DD/],
      ['features not a list', JSON.stringify({ ...valid, features: 'all' }), /"features" must be a list/],
      ['no signature', JSON.stringify({ ...valid, signature: undefined }), /"signature" must be base64 text/],
      ['short signature', JSON.stringify({ ...valid, signature: 'AAAA' }), /^signature:/],
    ];
    for (const [label, text, expected] of cases) {
      expect({ label, problem: verifyProblem(verifier, text) }).toEqual({ label, problem: expect.stringMatching(expected) });
    }
  });

  test('non-Ed25519 public key rejected', () => {
    const { publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(() => new LicenseVerifier(pem)).toThrow(/an Ed25519 key is required/);
  });

  test('built-in public key loads', () => {
    expect(() => new LicenseVerifier()).not.toThrow();
  });
});

describe('license service', () => {
  test('activate copies and status reads', async () => {
    const configDir = makeTempDir('license-config');
    const service = new LicenseService(configDir, verifier);
    expect(service.status()).toMatchObject({ state: 'missing' });

    const file = await issueLicense(key);
    service.activate(file);

    expect(fs.readFileSync(path.join(configDir, 'license.json'), 'utf8')).toBe(fs.readFileSync(file, 'utf8'));
    expect(fs.statSync(path.join(configDir, 'license.json')).mode & 0o777).toBe(0o600);
    const status = service.status();
    expect(status.state).toBe('active');
    if (status.state !== 'active') return;
    expect(status.license.licensee).toBe('Городская больница №1');
    expect(status.daysLeft).toBe(200);
    expect(status.license).not.toHaveProperty('signature');
  });

  test('rejected file keeps previous license', async () => {
    const configDir = makeTempDir('license-config');
    const service = new LicenseService(configDir, verifier);
    service.activate(await issueLicense(key, { licensee: 'First' }));

    const otherKeyFile = await issueLicense(otherKey, { licensee: 'Second' });
    const expiredFile = await issueLicense(key, { licensee: 'Third', expires: '2027-01-31' });
    expect(() => service.activate(path.join(configDir, 'missing.json'))).toThrow(/cannot read the license file/);
    expect(() => service.activate(otherKeyFile)).toThrow(LicenseError);
    expect(() => service.activate(expiredFile)).toThrow(/expired/);

    const status = service.status();
    expect(status.state).toBe('active');
    expect(status.state === 'active' ? status.license.licensee : undefined).toBe('First');
  });

  test('installed copy expires later', async () => {
    const configDir = makeTempDir('license-config');
    new LicenseService(configDir, verifier).activate(await issueLicense(key));
    const later = new LicenseVerifier(key.publicKeyPem, () => new Date('2028-01-01T00:00:00Z'));
    expect(new LicenseService(configDir, later).status()).toMatchObject({ state: 'invalid', problem: 'expired' });
  });
});

describe('issue-license script', () => {
  test('private key inside repository rejected', async () => {
    const result = await runCommand('node', [SCRIPT, '--key', path.join(REPO_ROOT, 'license-private.pem'), '--licensee', 'x', '--expires', '2030-01-01']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/private key .* is inside the repository/);
  });

  test('key folder inside repository rejected', async () => {
    const target = path.join(REPO_ROOT, 'test', '.tmp', 'license-key-must-not-exist');
    const result = await runCommand('node', [SCRIPT, '--generate-key', target]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/key folder .* is inside the repository/);
    expect(fs.existsSync(target)).toBe(false);
  });

  test('symbolic link into repository rejected', async () => {
    const link = path.join(makeTempDir('license-link'), 'repo');
    fs.symlinkSync(REPO_ROOT, link);
    const result = await runCommand('node', [SCRIPT, '--generate-key', path.join(link, 'keys')]);
    expect(result.code).toBe(2);
    expect(fs.existsSync(path.join(REPO_ROOT, 'keys'))).toBe(false);
  });

  test('existing key never overwritten', async () => {
    const dir = path.dirname(key.privateKey);
    const before = fs.readFileSync(key.privateKey, 'utf8');
    const result = await runCommand('node', [SCRIPT, '--generate-key', dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/exists already/);
    expect(fs.readFileSync(key.privateKey, 'utf8')).toBe(before);
    expect(fs.statSync(key.privateKey).mode & 0o777).toBe(0o600);
  });
});

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

describeBuilt('license command', () => {
  test('status without license fails', async () => {
    const result = await runLoader(['license', 'status', '--json']);
    expect(result.code).toBe(1);
    expect(result.json()).toMatchObject({ state: 'missing', message: 'no license is activated' });
  });

  test('license of test key rejected', async () => {
    const dirs = createLoaderDirs('license-cli');
    const result = await runLoader(['license', 'activate', await issueLicense(key)], { dirs });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/rejected: the license signature is invalid/);
    expect(fs.existsSync(path.join(dirs.configDir, 'license.json'))).toBe(false);
  });

  test('malformed license rejected', async () => {
    const file = path.join(makeTempDir('license'), 'license.json');
    fs.writeFileSync(file, '{"format": "sciberia-loader-license"');
    const result = await runLoader(['license', 'activate', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/rejected: the license file is malformed: it is not valid JSON/);
  });

  test('serve without license warns', async () => {
    const server = await startLoader();
    try {
      expect(server.readLog()).toMatch(/WARN .*no valid license: no license is activated; activate one with "loader license activate FILE"/);
    } finally {
      await server.stop();
    }
  });
});
