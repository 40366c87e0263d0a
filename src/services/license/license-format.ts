/**
 * The license file: JSON with the licensee, the validity dates, the licensed
 * features and an Ed25519 signature over the canonical serialization of all
 * other fields.
 *
 * Canonical serialization: JSON with no whitespace and the keys of every
 * object sorted by UTF-16 code units (JavaScript's default sort), encoded as
 * UTF-8, with the "signature" field left out. scripts/issue-license.js signs
 * the same bytes, and test/license checks that the two agree.
 */

export const LICENSE_FORMAT = 'sciberia-loader-license';
export const LICENSE_FORMAT_VERSION = 1;

export interface License {
  format: typeof LICENSE_FORMAT;
  version: number;
  licensee: string;
  /** First day of validity, YYYY-MM-DD, from 00:00 UTC. */
  issued: string;
  /** Last day of validity, YYYY-MM-DD, through 23:59:59 UTC. */
  expires: string;
  features: string[];
  /** Base64 Ed25519 signature of canonicalLicenseBytes(). */
  signature: string;
}

/** Serializes a JSON value with object keys sorted at every level. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Returns the bytes that the signature covers: every field but "signature", canonically serialized. */
export function canonicalLicenseBytes(license: Record<string, unknown>): Buffer {
  const unsigned = { ...license };
  delete unsigned.signature;
  return Buffer.from(canonicalJson(unsigned), 'utf8');
}

/** Returns the time in milliseconds of 00:00 UTC on a YYYY-MM-DD date, or undefined for an invalid date. */
export function parseLicenseDate(text: unknown): number | undefined {
  if (typeof text !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(text)) return undefined;
  const time = Date.parse(`${text}T00:00:00Z`);
  // Date.parse accepts 2026-02-30 as March 2; the round trip rejects such dates.
  return Number.isNaN(time) || new Date(time).toISOString().slice(0, 10) !== text ? undefined : time;
}
