/**
 * Checks a license file: its form, its Ed25519 signature against the public
 * key built into the loader (or one given by tests), and its validity dates.
 */
import crypto from 'node:crypto';

import { canonicalLicenseBytes, LICENSE_FORMAT, LICENSE_FORMAT_VERSION, parseLicenseDate } from './license-format';
import type { License } from './license-format';
import { LICENSE_PUBLIC_KEY_PEM } from './public-key';

export type LicenseProblem = 'malformed' | 'signature' | 'not-yet-valid' | 'expired';

const DAY_MS = 24 * 60 * 60 * 1000;

export class LicenseError extends Error {
  constructor(
    readonly problem: LicenseProblem,
    message: string,
  ) {
    super(message);
    this.name = 'LicenseError';
  }
}

function malformed(detail: string): LicenseError {
  return new LicenseError('malformed', `the license file is malformed: ${detail}`);
}

/** Checks the fields and returns them typed; throws LicenseError('malformed') naming the first bad field. */
function checkShape(value: unknown): License {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed('it is not a JSON object');
  const license = value as Record<string, unknown>;
  if (license.format !== LICENSE_FORMAT) throw malformed(`"format" must be "${LICENSE_FORMAT}"`);
  if (license.version !== LICENSE_FORMAT_VERSION) {
    throw malformed(`"version" ${JSON.stringify(license.version)} is not supported; this loader reads version ${LICENSE_FORMAT_VERSION}`);
  }
  if (typeof license.licensee !== 'string' || license.licensee.trim() === '') throw malformed('"licensee" must be non-empty text');
  for (const field of ['issued', 'expires']) {
    if (parseLicenseDate(license[field]) === undefined) {
      throw malformed(`"${field}" ${JSON.stringify(license[field])} must be a date written YYYY-MM-DD`);
    }
  }
  if (!Array.isArray(license.features) || !license.features.every((feature) => typeof feature === 'string')) {
    throw malformed('"features" must be a list of text values');
  }
  if (typeof license.signature !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(license.signature)) {
    throw malformed('"signature" must be base64 text');
  }
  return license as unknown as License;
}

export class LicenseVerifier {
  private readonly publicKey: crypto.KeyObject;

  /**
   * @param publicKeyPem Ed25519 public key (SPKI PEM); the built-in key unless a test injects its own.
   * @param now Clock for the date checks.
   */
  constructor(
    publicKeyPem: string = LICENSE_PUBLIC_KEY_PEM,
    readonly now: () => Date = () => new Date(),
  ) {
    this.publicKey = crypto.createPublicKey(publicKeyPem);
    if (this.publicKey.asymmetricKeyType !== 'ed25519') {
      throw new Error(`the license public key is a ${this.publicKey.asymmetricKeyType} key; an Ed25519 key is required`);
    }
  }

  /** Parses and verifies license text; returns the license or throws LicenseError with the reason. */
  verify(text: string): License {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw malformed(`it is not valid JSON (${(error as Error).message})`);
    }
    const license = checkShape(parsed);

    const signature = Buffer.from(license.signature, 'base64');
    const bytes = canonicalLicenseBytes(parsed as Record<string, unknown>);
    if (signature.length !== 64 || !crypto.verify(null, bytes, this.publicKey, signature)) {
      throw new LicenseError(
        'signature',
        'the license signature is invalid: the file was changed after it was issued, or it was not issued for this loader',
      );
    }

    const now = this.now().getTime();
    const validFrom = parseLicenseDate(license.issued) as number;
    const validUntil = (parseLicenseDate(license.expires) as number) + DAY_MS;
    if (now < validFrom) {
      throw new LicenseError('not-yet-valid', `the license is not valid yet: it starts on ${license.issued} (UTC)`);
    }
    if (now >= validUntil) {
      throw new LicenseError('expired', `the license expired on ${license.expires} (UTC): ask your supplier for a renewed license`);
    }
    return license;
  }
}
