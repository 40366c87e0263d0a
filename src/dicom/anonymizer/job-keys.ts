/**
 * Values derived from the per-job secret: replacement UIDs, patient
 * pseudonyms and date offsets. Each is a function of the secret and the
 * original value, so it is the same for every file and study of a job.
 */
import { createHmac, randomBytes } from 'crypto';

/** Bytes of a generated job secret. */
export const JOB_SECRET_BYTES = 32;

/** Returns a new random job secret. */
export function generateJobSecret(): Buffer {
  return randomBytes(JOB_SECRET_BYTES);
}

function hmac(secret: Buffer, purpose: string, value: string): Buffer {
  return createHmac('sha256', secret).update(`${purpose}\0${value}`, 'utf8').digest();
}

/**
 * Maps original UIDs to '2.25.<decimal>' UIDs (PS3.5 section B.2). The number
 * is the first 128 bits of HMAC-SHA256(secret, UID) with the version and
 * variant bits of an RFC 9562 version 8 UUID set, so the result is at most
 * 44 characters long.
 */
export class UidMapper {
  private readonly map = new Map<string, string>();

  constructor(private readonly secret: Buffer) {}

  /** Returns the replacement of `uid`; padding is ignored, so 'x' and 'x\0' map alike. */
  replace(uid: string): string {
    const original = uid.replace(/[\0 ]+$/, '').trim();
    const known = this.map.get(original);
    if (known !== undefined) return known;
    const bytes = hmac(this.secret, 'uid', original).subarray(0, 16);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const replacement = `2.25.${BigInt(`0x${bytes.toString('hex')}`).toString(10)}`;
    this.map.set(original, replacement);
    return replacement;
  }

  /** Number of distinct original UIDs replaced so far. */
  get size(): number {
    return this.map.size;
  }
}

/** Scheme of the pseudonyms that replace Patient's Name and Patient ID. */
export type PseudonymScheme = 'counter' | 'hash';

export interface Pseudonym {
  patientName: string;
  patientId: string;
}

/** Maximum length of a Patient ID pseudonym: the 64 characters of an LO value, which also fit a PN component (64 at most). */
const MAX_PATIENT_ID_LENGTH = 64;

/**
 * Hex digits of a derived (hash scheme) pseudonym: 20 digits, 80 bits. By the
 * birthday bound, n patients share a pseudonym with probability about
 * n^2 / 2^81, so 10 million patients (a large hospital over decades) give
 * about 4e-11. The 10 digits used before gave about 0.5% at 100 000 patients.
 */
export const HASH_PSEUDONYM_HEX_DIGITS = 20;

/** Hex digits of the derived pseudonyms written before HASH_PSEUDONYM_HEX_DIGITS; migration jobs started then keep them. */
export const LEGACY_HASH_PSEUDONYM_HEX_DIGITS = 10;

/** Digits of a counter pseudonym; numbers above 9999 get more digits. */
export const COUNTER_PSEUDONYM_DIGITS = 4;

/**
 * Assigns each patient of a job one pseudonym. The counter scheme numbers
 * patients in the order they are first seen ('ANON^0001' and 'ANON0001').
 * The hash scheme uses `hexDigits` hex digits of HMAC-SHA256(secret, patient
 * key), so it gives the same pseudonym in every job that uses the same secret.
 */
export class PseudonymTable {
  private readonly byPatient = new Map<string, Pseudonym>();

  constructor(
    private readonly secret: Buffer,
    private readonly prefix: string,
    private readonly scheme: PseudonymScheme,
    private readonly hexDigits = HASH_PSEUDONYM_HEX_DIGITS,
  ) {
    if (!/^[A-Za-z0-9_-]*$/.test(prefix)) {
      throw new Error(`invalid pseudonym prefix "${prefix}": use letters, digits, '_' and '-' only`);
    }
    if (!Number.isInteger(hexDigits) || hexDigits < LEGACY_HASH_PSEUDONYM_HEX_DIGITS || hexDigits > 64) {
      throw new Error(`invalid number of pseudonym hex digits ${hexDigits}: use ${LEGACY_HASH_PSEUDONYM_HEX_DIGITS} to 64`);
    }
    const suffixLength = scheme === 'hash' ? hexDigits : COUNTER_PSEUDONYM_DIGITS;
    if (prefix.length + suffixLength > MAX_PATIENT_ID_LENGTH) {
      const suffixName = scheme === 'hash' ? `${hexDigits} hex digits derived from the secret` : `${COUNTER_PSEUDONYM_DIGITS}-digit number`;
      throw new Error(
        `pseudonym prefix "${prefix}" is too long: at most ${MAX_PATIENT_ID_LENGTH - suffixLength} characters fit before the ${suffixName}, ` +
          `because a Patient ID pseudonym has at most ${MAX_PATIENT_ID_LENGTH} characters; give a shorter --pseudonym-prefix`,
      );
    }
  }

  /** Returns the pseudonym of the patient identified by `patientKey`. */
  pseudonymFor(patientKey: string): Pseudonym {
    const known = this.byPatient.get(patientKey);
    if (known) return known;
    const suffix =
      this.scheme === 'hash'
        ? hmac(this.secret, 'patient', patientKey).toString('hex').slice(0, this.hexDigits).toUpperCase()
        : String(this.byPatient.size + 1).padStart(COUNTER_PSEUDONYM_DIGITS, '0');
    const pseudonym = { patientName: `${this.prefix}^${suffix}`, patientId: `${this.prefix}${suffix}` };
    this.byPatient.set(patientKey, pseudonym);
    return pseudonym;
  }

  /** Number of distinct patients seen so far. */
  get size(): number {
    return this.byPatient.size;
  }
}

/** Days a date may move back at most when dates are shifted. */
export const MAX_DATE_SHIFT_DAYS = 3650;

/**
 * Returns the number of days (1 to MAX_DATE_SHIFT_DAYS, always backwards, so
 * negative) that the dates of the patient identified by `patientKey` move.
 * Intervals between the dates of one patient are preserved.
 */
export function dateOffsetDays(secret: Buffer, patientKey: string): number {
  return -(1 + (hmac(secret, 'date-shift', patientKey).readUInt32BE(0) % MAX_DATE_SHIFT_DAYS));
}
