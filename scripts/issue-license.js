#!/usr/bin/env node
/**
 * Maintainer tool: creates the license signing key pair and signs license files.
 *
 *   node scripts/issue-license.js --generate-key DIR
 *   node scripts/issue-license.js --key PRIVATE_KEY --licensee NAME --expires YYYY-MM-DD
 *       [--issued YYYY-MM-DD] [--feature NAME]... [--out FILE]
 *
 * --generate-key writes DIR/license-private.pem (mode 0600) and
 * DIR/license-public.pem, and prints the public key for
 * src/services/license/public-key.ts. The private key and DIR must lie outside
 * this repository, so that the key can never be committed: paths inside it
 * are rejected, also through symbolic links.
 *
 * The signature covers the same canonical serialization as
 * src/services/license/license-format.ts: JSON without whitespace, object keys
 * sorted, UTF-8, without the "signature" field. test/license runs this script
 * and verifies its output with the loader's verifier.
 */
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const REPO_ROOT = fs.realpathSync(path.resolve(__dirname, '..'));
const FORMAT = 'sciberia-loader-license';
const VERSION = 1;

function fail(message, code = 1) {
  process.stderr.write(`issue-license: ${message}\n`);
  process.exit(code);
}

function usage() {
  process.stdout.write(fs.readFileSync(__filename, 'utf8').split('\n').slice(4, 8).map((line) => line.replace(/^ \* ?/, '')).join('\n') + '\n');
}

/** Resolves a path through every symbolic link that exists, including the part that does not exist yet. */
function realPathOfMaybeMissing(target) {
  const absolute = path.resolve(target);
  const missing = [];
  let existing = absolute;
  while (!fs.existsSync(existing)) {
    missing.unshift(path.basename(existing));
    existing = path.dirname(existing);
  }
  return path.join(fs.realpathSync(existing), ...missing);
}

function rejectInsideRepository(target, what) {
  const real = realPathOfMaybeMissing(target);
  if (real === REPO_ROOT || real.startsWith(REPO_ROOT + path.sep)) {
    fail(`${what} ${target} is inside the repository ${REPO_ROOT}; keep the private key outside it, e.g. in /root/.sciberia-license-key`, 2);
  }
}

function canonicalJson(value) {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .filter((key) => value[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

function isDate(text) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const time = Date.parse(`${text}T00:00:00Z`);
  return !Number.isNaN(time) && new Date(time).toISOString().slice(0, 10) === text;
}

function parseArguments(argv) {
  const options = { features: [] };
  const takesValue = new Set(['--generate-key', '--key', '--licensee', '--issued', '--expires', '--feature', '--out']);
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i];
    if (name === '-h' || name === '--help') {
      usage();
      process.exit(0);
    }
    if (!takesValue.has(name)) fail(`unknown option ${name}; run with --help`, 2);
    const value = argv[++i];
    if (value === undefined) fail(`${name} needs a value`, 2);
    if (name === '--feature') options.features.push(value);
    else options[name.slice(2).replace(/-(\w)/g, (_match, letter) => letter.toUpperCase())] = value;
  }
  return options;
}

function generateKey(dir) {
  rejectInsideRepository(dir, 'key folder');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const privateFile = path.join(dir, 'license-private.pem');
  const publicFile = path.join(dir, 'license-public.pem');
  if (fs.existsSync(privateFile)) fail(`${privateFile} exists already; move it away first so no issued license loses its key`);
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' });
  fs.writeFileSync(privateFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  fs.writeFileSync(publicFile, publicPem, { mode: 0o644 });
  process.stdout.write(`wrote ${privateFile} and ${publicFile}\n\npublic key for src/services/license/public-key.ts:\n${publicPem}`);
}

function issue(options) {
  if (!options.key) fail('--key PRIVATE_KEY is required (or --generate-key DIR to make one)', 2);
  rejectInsideRepository(options.key, 'private key');
  if (!options.licensee || options.licensee.trim() === '') fail('--licensee NAME is required', 2);
  const issued = options.issued || new Date().toISOString().slice(0, 10);
  if (!isDate(issued)) fail(`--issued ${issued} is invalid: use YYYY-MM-DD`, 2);
  if (!options.expires || !isDate(options.expires)) fail(`--expires ${options.expires || ''} is invalid: use YYYY-MM-DD`, 2);
  if (options.expires < issued) fail(`--expires ${options.expires} is before --issued ${issued}`, 2);

  let privateKey;
  try {
    privateKey = crypto.createPrivateKey(fs.readFileSync(options.key));
  } catch (error) {
    fail(`cannot read the private key ${options.key}: ${error.message}`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') fail(`${options.key} is a ${privateKey.asymmetricKeyType} key; an Ed25519 key is required`);

  const license = {
    format: FORMAT,
    version: VERSION,
    licensee: options.licensee.trim(),
    issued,
    expires: options.expires,
    features: [...new Set(options.features)],
  };
  license.signature = crypto.sign(null, Buffer.from(canonicalJson(license), 'utf8'), privateKey).toString('base64');
  const text = JSON.stringify(license, null, 2) + '\n';
  if (options.out) {
    fs.writeFileSync(options.out, text);
    process.stdout.write(`wrote the license for ${license.licensee}, valid ${issued} to ${options.expires}, to ${options.out}\n`);
  } else {
    process.stdout.write(text);
  }
}

const options = parseArguments(process.argv.slice(2));
if (options.generateKey) generateKey(options.generateKey);
else issue(options);
