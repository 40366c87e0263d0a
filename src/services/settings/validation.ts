/**
 * Field rules for settings. Every message names the field, the rejected value
 * and the rule, so that a user can fix the value without reading code.
 */
import { isIP } from 'node:net';

import type { PacsNode, PacsSettings } from './settings-types';

export class SettingsValidationError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'SettingsValidationError';
  }
}

/** Quotes a value for an error message, with control characters made visible. */
export function quoteValue(value: unknown): string {
  return JSON.stringify(String(value));
}

/**
 * Checks an AE title: 1-16 characters of the default repertoire without
 * backslash or control characters, and not only spaces (PS3.5 table 6.2-1, VR AE).
 */
export function validateAeTitle(field: string, value: unknown): string {
  if (typeof value !== 'string') {
    throw new SettingsValidationError(field, `${field} must be text, got ${quoteValue(value)}`);
  }
  const trimmed = value.trim();
  if (trimmed.length === 0 || value.length > 16) {
    throw new SettingsValidationError(
      field,
      `${field} ${quoteValue(value)} is invalid: an AE title has 1 to 16 characters`,
    );
  }
  if (/[\\\x00-\x1f\x7f]/.test(value) || /[^\x20-\x7e]/.test(value)) {
    throw new SettingsValidationError(
      field,
      `${field} ${quoteValue(value)} is invalid: use printable ASCII without backslash or control characters`,
    );
  }
  return trimmed;
}

export function validatePort(field: string, value: unknown, options: { allowZero?: boolean } = {}): number {
  const port = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  const minimum = options.allowZero ? 0 : 1;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < minimum || port > 65535) {
    throw new SettingsValidationError(
      field,
      `${field} ${quoteValue(value)} is invalid: a port is a whole number from ${minimum} to 65535`,
    );
  }
  return port;
}

/** Accepts an IPv4/IPv6 address or a host name (RFC 1123 labels). */
export function validateHost(field: string, value: unknown): string {
  const host = typeof value === 'string' ? value.trim() : '';
  const hostName = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
  if (isIP(host) === 0 && !hostName.test(host)) {
    throw new SettingsValidationError(
      field,
      `${field} ${quoteValue(value)} is invalid: give an IP address or a host name`,
    );
  }
  return host;
}

export function validateName(field: string, value: unknown): string {
  const name = typeof value === 'string' ? value.trim() : '';
  if (name.length === 0 || name.length > 64 || /[\x00-\x1f\x7f]/.test(name)) {
    throw new SettingsValidationError(
      field,
      `${field} ${quoteValue(value)} is invalid: a name has 1 to 64 characters without control characters`,
    );
  }
  return name;
}

export function validatePacsSettings(pacs: PacsSettings): PacsSettings {
  return {
    ...pacs,
    aeTitle: validateAeTitle('pacs.aeTitle', pacs.aeTitle),
    host: validateHost('pacs.host', pacs.host),
    port: validatePort('pacs.port', pacs.port),
    scuPort: validatePort('pacs.scuPort', pacs.scuPort, { allowZero: true }),
    moveScuPort: validatePort('pacs.moveScuPort', pacs.moveScuPort),
    maxAssociations: validatePositiveInteger('pacs.maxAssociations', pacs.maxAssociations),
  };
}

export function validatePositiveInteger(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new SettingsValidationError(field, `${field} ${quoteValue(value)} is invalid: use a whole number of 1 or more`);
  }
  return value;
}

/** Validates one registry entry; `others` are the entries it must not duplicate. */
export function validatePacsNode(node: PacsNode, others: PacsNode[]): PacsNode {
  const field = `locations.pacs[${quoteValue(node.name)}]`;
  const name = validateName(`${field}.name`, node.name);
  if (others.some((other) => other.name.toLowerCase() === name.toLowerCase())) {
    throw new SettingsValidationError(
      `${field}.name`,
      `node name ${quoteValue(name)} is already registered: choose another name or remove the existing node first`,
    );
  }
  return {
    ...node,
    name,
    aeTitle: validateAeTitle(`${field}.aeTitle`, node.aeTitle),
    host: validateHost(`${field}.host`, node.host),
    port: validatePort(`${field}.port`, node.port),
    characterSet: node.characterSet || 'ISO_IR 192',
  };
}
