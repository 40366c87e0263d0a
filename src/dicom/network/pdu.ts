/**
 * Encoding and decoding of the upper layer protocol data units (PS3.8 section 9.3).
 *
 * Every decoder validates lengths before reading, so it never reads past the buffer.
 * A truncated or hostile PDU raises a PduError that names the problem and the
 * A-ABORT reason to send. P-DATA-TF bodies are framed by pdu-reader.ts and never
 * pass through here as a whole, because they can carry data sets of any size.
 */

export const PDU_TYPE = {
  ASSOCIATE_RQ: 0x01,
  ASSOCIATE_AC: 0x02,
  ASSOCIATE_RJ: 0x03,
  P_DATA_TF: 0x04,
  RELEASE_RQ: 0x05,
  RELEASE_RP: 0x06,
  ABORT: 0x07,
} as const;

/** Item types of A-ASSOCIATE PDUs (PS3.8 sections 9.3.2 to 9.3.4 and annex D). */
const ITEM = {
  APPLICATION_CONTEXT: 0x10,
  PRESENTATION_CONTEXT_RQ: 0x20,
  PRESENTATION_CONTEXT_AC: 0x21,
  ABSTRACT_SYNTAX: 0x30,
  TRANSFER_SYNTAX: 0x40,
  USER_INFORMATION: 0x50,
  MAX_LENGTH: 0x51,
  IMPLEMENTATION_CLASS_UID: 0x52,
  ASYNC_OPERATIONS_WINDOW: 0x53,
  ROLE_SELECTION: 0x54,
  IMPLEMENTATION_VERSION_NAME: 0x55,
  SOP_CLASS_EXTENDED_NEGOTIATION: 0x56,
  SOP_CLASS_COMMON_EXTENDED_NEGOTIATION: 0x57,
  USER_IDENTITY_RQ: 0x58,
  USER_IDENTITY_AC: 0x59,
} as const;

/** The only application context name defined by DICOM (PS3.7 annex A.2.1). */
export const DICOM_APPLICATION_CONTEXT = '1.2.840.10008.3.1.1.1';

/** Length of the PDU header: type, reserved byte and 32-bit length (PS3.8 section 9.3.1). */
export const PDU_HEADER_LENGTH = 6;

/** Largest A-ASSOCIATE-RQ or -AC body we accept; real ones are a few KiB. */
export const MAX_ASSOCIATE_PDU_LENGTH = 64 * 1024;

/** A-ABORT source values (PS3.8 table 9-26). */
export const ABORT_SOURCE = { SERVICE_USER: 0, SERVICE_PROVIDER: 2 } as const;

/** A-ABORT reasons when the source is the service provider (PS3.8 table 9-26). */
export const ABORT_REASON = {
  NOT_SPECIFIED: 0,
  UNRECOGNIZED_PDU: 1,
  UNEXPECTED_PDU: 2,
  UNRECOGNIZED_PDU_PARAMETER: 4,
  UNEXPECTED_PDU_PARAMETER: 5,
  INVALID_PDU_PARAMETER_VALUE: 6,
} as const;

export interface PresentationContextProposal {
  id: number;
  abstractSyntax: string;
  transferSyntaxes: string[];
}

export interface RoleSelection {
  sopClassUid: string;
  scuRole: boolean;
  scpRole: boolean;
}

/** User identity negotiation (PS3.7 annex D.3.3.7): 1 username, 2 username and passcode, 3 Kerberos, 4 SAML, 5 JWT. */
export interface UserIdentity {
  type: 1 | 2 | 3 | 4 | 5;
  primaryField: Buffer;
  secondaryField?: Buffer;
  positiveResponseRequested: boolean;
}

export interface UserInformation {
  maxPduLength: number;
  implementationClassUid: string;
  implementationVersionName?: string;
  /** Asynchronous operations window as proposed; this layer never grants more than one operation each way. */
  asyncOperations?: { maxInvoked: number; maxPerformed: number };
  roleSelections: RoleSelection[];
  userIdentity?: UserIdentity;
  /** Server response of the user identity negotiation (A-ASSOCIATE-AC only). */
  userIdentityServerResponse?: Buffer;
}

export interface AssociateRqPdu {
  type: typeof PDU_TYPE.ASSOCIATE_RQ;
  protocolVersion: number;
  calledAeTitle: string;
  callingAeTitle: string;
  applicationContextName: string;
  contexts: PresentationContextProposal[];
  userInformation: UserInformation;
}

export interface PresentationContextResult {
  id: number;
  /** 0 acceptance, 1 user rejection, 2 no reason, 3 abstract syntax not supported, 4 transfer syntaxes not supported (PS3.8 table 9-18). */
  result: 0 | 1 | 2 | 3 | 4;
  transferSyntax?: string;
}

export interface AssociateAcPdu {
  type: typeof PDU_TYPE.ASSOCIATE_AC;
  protocolVersion: number;
  /** Copy of the called AE title of the request. */
  calledAeTitle: string;
  callingAeTitle: string;
  applicationContextName: string;
  contexts: PresentationContextResult[];
  userInformation: UserInformation;
}

export interface AssociateRjPdu {
  type: typeof PDU_TYPE.ASSOCIATE_RJ;
  /** 1 rejected-permanent, 2 rejected-transient. */
  result: number;
  /** 1 service user, 2 service provider (ACSE), 3 service provider (presentation). */
  source: number;
  reason: number;
}

export interface ReleaseRqPdu {
  type: typeof PDU_TYPE.RELEASE_RQ;
}

export interface ReleaseRpPdu {
  type: typeof PDU_TYPE.RELEASE_RP;
}

export interface AbortPdu {
  type: typeof PDU_TYPE.ABORT;
  source: number;
  reason: number;
}

/** Every PDU except P-DATA-TF, which pdu-reader.ts streams instead. */
export type ControlPdu = AssociateRqPdu | AssociateAcPdu | AssociateRjPdu | ReleaseRqPdu | ReleaseRpPdu | AbortPdu;

/** A PDU that violates PS3.8; `abortReason` is the A-ABORT reason to send back. */
export class PduError extends Error {
  constructor(
    message: string,
    readonly abortReason: number = ABORT_REASON.INVALID_PDU_PARAMETER_VALUE,
  ) {
    super(message);
    this.name = 'PduError';
  }
}

// ---------------------------------------------------------------------------
// Encoding

function pduHeader(type: number, bodyLength: number): Buffer {
  const header = Buffer.alloc(PDU_HEADER_LENGTH);
  header.writeUInt8(type, 0);
  header.writeUInt32BE(bodyLength, 2);
  return header;
}

function encodePdu(type: number, body: Buffer): Buffer {
  return Buffer.concat([pduHeader(type, body.length), body]);
}

function item(type: number, value: Buffer): Buffer {
  if (value.length > 0xffff) {
    throw new RangeError(`Item 0x${type.toString(16)} is ${value.length} bytes long; the maximum is 65535`);
  }
  const header = Buffer.alloc(4);
  header.writeUInt8(type, 0);
  header.writeUInt16BE(value.length, 2);
  return Buffer.concat([header, value]);
}

function ascii(text: string): Buffer {
  if (!/^[\x20-\x7e]*$/.test(text)) {
    throw new RangeError(`Value ${JSON.stringify(text)} contains characters outside printable ASCII`);
  }
  return Buffer.from(text, 'latin1');
}

function uidItem(type: number, uid: string): Buffer {
  if (uid.length === 0 || uid.length > 64 || !/^[0-9.]+$/.test(uid)) {
    throw new RangeError(`Invalid UID ${JSON.stringify(uid)} in item 0x${type.toString(16)}`);
  }
  return item(type, ascii(uid));
}

/** Encodes an AE title as 16 bytes padded with spaces (PS3.8 section 9.3.2). */
export function encodeAeTitle(aeTitle: string): Buffer {
  const trimmed = aeTitle.trim();
  if (trimmed.length === 0 || trimmed.length > 16 || !/^[\x20-\x5b\x5d-\x7e]+$/.test(trimmed)) {
    throw new RangeError(`Invalid AE title ${JSON.stringify(aeTitle)}: expected 1 to 16 printable ASCII characters without backslash`);
  }
  return Buffer.from(trimmed.padEnd(16, ' '), 'latin1');
}

function encodeUserInformation(info: UserInformation, isRequest: boolean): Buffer {
  const parts: Buffer[] = [];
  const maxLength = Buffer.alloc(4);
  maxLength.writeUInt32BE(info.maxPduLength, 0);
  parts.push(item(ITEM.MAX_LENGTH, maxLength));
  parts.push(uidItem(ITEM.IMPLEMENTATION_CLASS_UID, info.implementationClassUid));

  if (info.asyncOperations) {
    const window = Buffer.alloc(4);
    window.writeUInt16BE(info.asyncOperations.maxInvoked, 0);
    window.writeUInt16BE(info.asyncOperations.maxPerformed, 2);
    parts.push(item(ITEM.ASYNC_OPERATIONS_WINDOW, window));
  }

  for (const role of info.roleSelections) {
    const uid = ascii(role.sopClassUid);
    const value = Buffer.alloc(4 + uid.length);
    value.writeUInt16BE(uid.length, 0);
    uid.copy(value, 2);
    value.writeUInt8(role.scuRole ? 1 : 0, 2 + uid.length);
    value.writeUInt8(role.scpRole ? 1 : 0, 3 + uid.length);
    parts.push(item(ITEM.ROLE_SELECTION, value));
  }

  if (info.implementationVersionName) {
    if (info.implementationVersionName.length > 16) {
      throw new RangeError(`Implementation version name ${JSON.stringify(info.implementationVersionName)} is longer than 16 characters`);
    }
    parts.push(item(ITEM.IMPLEMENTATION_VERSION_NAME, ascii(info.implementationVersionName)));
  }

  if (isRequest && info.userIdentity) {
    const identity = info.userIdentity;
    const secondary = identity.secondaryField ?? Buffer.alloc(0);
    const value = Buffer.alloc(6 + identity.primaryField.length + secondary.length);
    value.writeUInt8(identity.type, 0);
    value.writeUInt8(identity.positiveResponseRequested ? 1 : 0, 1);
    value.writeUInt16BE(identity.primaryField.length, 2);
    identity.primaryField.copy(value, 4);
    value.writeUInt16BE(secondary.length, 4 + identity.primaryField.length);
    secondary.copy(value, 6 + identity.primaryField.length);
    parts.push(item(ITEM.USER_IDENTITY_RQ, value));
  }

  if (!isRequest && info.userIdentityServerResponse) {
    const response = info.userIdentityServerResponse;
    const value = Buffer.alloc(2 + response.length);
    value.writeUInt16BE(response.length, 0);
    response.copy(value, 2);
    parts.push(item(ITEM.USER_IDENTITY_AC, value));
  }

  return item(ITEM.USER_INFORMATION, Buffer.concat(parts));
}

function associateHeader(pdu: AssociateRqPdu | AssociateAcPdu): Buffer {
  const header = Buffer.alloc(68);
  header.writeUInt16BE(pdu.protocolVersion, 0);
  encodeAeTitle(pdu.calledAeTitle).copy(header, 4);
  encodeAeTitle(pdu.callingAeTitle).copy(header, 20);
  return header;
}

export function encodeAssociateRq(pdu: AssociateRqPdu): Buffer {
  const parts = [associateHeader(pdu), uidItem(ITEM.APPLICATION_CONTEXT, pdu.applicationContextName)];
  for (const context of pdu.contexts) {
    const header = Buffer.from([context.id, 0, 0, 0]);
    const subItems = [uidItem(ITEM.ABSTRACT_SYNTAX, context.abstractSyntax)];
    for (const transferSyntax of context.transferSyntaxes) subItems.push(uidItem(ITEM.TRANSFER_SYNTAX, transferSyntax));
    parts.push(item(ITEM.PRESENTATION_CONTEXT_RQ, Buffer.concat([header, ...subItems])));
  }
  parts.push(encodeUserInformation(pdu.userInformation, true));
  return encodePdu(PDU_TYPE.ASSOCIATE_RQ, Buffer.concat(parts));
}

export function encodeAssociateAc(pdu: AssociateAcPdu): Buffer {
  const parts = [associateHeader(pdu), uidItem(ITEM.APPLICATION_CONTEXT, pdu.applicationContextName)];
  for (const context of pdu.contexts) {
    const header = Buffer.from([context.id, 0, context.result, 0]);
    // PS3.8 section 9.3.3.2: the transfer syntax sub-item is present but not significant when the context is rejected.
    const transferSyntax = context.result === 0 ? uidItem(ITEM.TRANSFER_SYNTAX, context.transferSyntax ?? '') : item(ITEM.TRANSFER_SYNTAX, Buffer.alloc(0));
    parts.push(item(ITEM.PRESENTATION_CONTEXT_AC, Buffer.concat([header, transferSyntax])));
  }
  parts.push(encodeUserInformation(pdu.userInformation, false));
  return encodePdu(PDU_TYPE.ASSOCIATE_AC, Buffer.concat(parts));
}

export function encodeAssociateRj(pdu: Omit<AssociateRjPdu, 'type'>): Buffer {
  return encodePdu(PDU_TYPE.ASSOCIATE_RJ, Buffer.from([0, pdu.result, pdu.source, pdu.reason]));
}

export function encodeReleaseRq(): Buffer {
  return encodePdu(PDU_TYPE.RELEASE_RQ, Buffer.alloc(4));
}

export function encodeReleaseRp(): Buffer {
  return encodePdu(PDU_TYPE.RELEASE_RP, Buffer.alloc(4));
}

export function encodeAbort(source: number, reason: number): Buffer {
  return encodePdu(PDU_TYPE.ABORT, Buffer.from([0, 0, source, reason]));
}

/**
 * Builds the 12 header bytes of a P-DATA-TF PDU holding one PDV of `fragmentLength`
 * bytes (PS3.8 sections 9.3.5 and E.2). The fragment itself is written after it.
 */
export function encodePDataHeader(contextId: number, isCommand: boolean, isLast: boolean, fragmentLength: number): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt8(PDU_TYPE.P_DATA_TF, 0);
  header.writeUInt32BE(fragmentLength + 6, 2);
  header.writeUInt32BE(fragmentLength + 2, 6);
  header.writeUInt8(contextId, 10);
  header.writeUInt8((isCommand ? 0x01 : 0) | (isLast ? 0x02 : 0), 11);
  return header;
}

// ---------------------------------------------------------------------------
// Decoding

/** Bounds-checked reader over one PDU body. */
class BodyReader {
  offset = 0;
  constructor(
    readonly buffer: Buffer,
    readonly what: string,
  ) {}

  get remaining(): number {
    return this.buffer.length - this.offset;
  }

  need(length: number, field: string): void {
    if (this.remaining < length) {
      throw new PduError(`Truncated ${this.what}: ${field} needs ${length} bytes but ${this.remaining} remain`);
    }
  }

  u8(field: string): number {
    this.need(1, field);
    return this.buffer.readUInt8(this.offset++);
  }

  u16(field: string): number {
    this.need(2, field);
    const value = this.buffer.readUInt16BE(this.offset);
    this.offset += 2;
    return value;
  }

  u32(field: string): number {
    this.need(4, field);
    const value = this.buffer.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  bytes(length: number, field: string): Buffer {
    this.need(length, field);
    const value = this.buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  /** Reads items (type, reserved byte, 16-bit length, value) until the body ends. */
  *items(): Generator<{ type: number; value: Buffer }> {
    while (this.remaining > 0) {
      const type = this.u8('item type');
      this.u8('reserved byte');
      const length = this.u16('item length');
      yield { type, value: this.bytes(length, `item 0x${type.toString(16)}`) };
    }
  }
}

/** Decodes a UID value; trailing NUL and space padding is tolerated and removed. */
function decodeUid(value: Buffer, field: string): string {
  const uid = value.toString('latin1').replace(/[\0 ]+$/, '');
  if (uid.length === 0 || uid.length > 64 || !/^[0-9.]+$/.test(uid)) {
    throw new PduError(`Invalid ${field} UID ${JSON.stringify(uid.slice(0, 80))}`);
  }
  return uid;
}

/** Decodes an AE title field; leading and trailing spaces are not significant (PS3.5 section 6.2). */
function decodeAeTitle(value: Buffer): string {
  return value.toString('latin1').replace(/\0+$/, '').trim();
}

function decodeUserInformation(value: Buffer, isRequest: boolean): UserInformation {
  const reader = new BodyReader(value, 'user information item');
  let maxPduLength: number | undefined;
  let implementationClassUid: string | undefined;
  const info: Partial<UserInformation> & { roleSelections: RoleSelection[] } = { roleSelections: [] };

  for (const sub of reader.items()) {
    const subReader = new BodyReader(sub.value, `user information sub-item 0x${sub.type.toString(16)}`);
    switch (sub.type) {
      case ITEM.MAX_LENGTH:
        maxPduLength = subReader.u32('maximum length');
        break;
      case ITEM.IMPLEMENTATION_CLASS_UID:
        implementationClassUid = decodeUid(sub.value, 'implementation class');
        break;
      case ITEM.ASYNC_OPERATIONS_WINDOW:
        info.asyncOperations = { maxInvoked: subReader.u16('maximum invoked'), maxPerformed: subReader.u16('maximum performed') };
        break;
      case ITEM.ROLE_SELECTION: {
        const uidLength = subReader.u16('SOP class UID length');
        const sopClassUid = decodeUid(subReader.bytes(uidLength, 'SOP class UID'), 'role selection SOP class');
        const scuRole = subReader.u8('SCU role') === 1;
        const scpRole = subReader.u8('SCP role') === 1;
        info.roleSelections.push({ sopClassUid, scuRole, scpRole });
        break;
      }
      case ITEM.IMPLEMENTATION_VERSION_NAME:
        info.implementationVersionName = sub.value.toString('latin1').trim();
        break;
      case ITEM.USER_IDENTITY_RQ: {
        if (!isRequest) throw new PduError('User identity request sub-item (0x58) in an A-ASSOCIATE-AC', ABORT_REASON.UNEXPECTED_PDU_PARAMETER);
        const type = subReader.u8('user identity type');
        if (type < 1 || type > 5) throw new PduError(`Invalid user identity type ${type}; expected 1 to 5`);
        const positiveResponseRequested = subReader.u8('positive response requested') === 1;
        const primaryField = Buffer.from(subReader.bytes(subReader.u16('primary field length'), 'primary field'));
        const secondaryLength = subReader.u16('secondary field length');
        const secondaryField = secondaryLength > 0 ? Buffer.from(subReader.bytes(secondaryLength, 'secondary field')) : undefined;
        info.userIdentity = { type: type as UserIdentity['type'], primaryField, secondaryField, positiveResponseRequested };
        break;
      }
      case ITEM.USER_IDENTITY_AC: {
        if (isRequest) throw new PduError('User identity response sub-item (0x59) in an A-ASSOCIATE-RQ', ABORT_REASON.UNEXPECTED_PDU_PARAMETER);
        info.userIdentityServerResponse = Buffer.from(subReader.bytes(subReader.u16('server response length'), 'server response'));
        break;
      }
      // Extended negotiation is not supported; PS3.7 annex D.3.3.5 lets the acceptor omit its reply, so these are skipped.
      case ITEM.SOP_CLASS_EXTENDED_NEGOTIATION:
      case ITEM.SOP_CLASS_COMMON_EXTENDED_NEGOTIATION:
      default:
        break;
    }
  }

  if (maxPduLength === undefined) throw new PduError('User information item lacks the maximum length sub-item (0x51)');
  if (implementationClassUid === undefined) throw new PduError('User information item lacks the implementation class UID sub-item (0x52)');
  return { ...info, maxPduLength, implementationClassUid };
}

function decodeAssociate(type: 0x01 | 0x02, body: Buffer): AssociateRqPdu | AssociateAcPdu {
  const isRequest = type === PDU_TYPE.ASSOCIATE_RQ;
  const what = isRequest ? 'A-ASSOCIATE-RQ' : 'A-ASSOCIATE-AC';
  const reader = new BodyReader(body, what);
  const protocolVersion = reader.u16('protocol version');
  reader.u16('reserved bytes');
  const calledAeTitle = decodeAeTitle(reader.bytes(16, 'called AE title'));
  const callingAeTitle = decodeAeTitle(reader.bytes(16, 'calling AE title'));
  reader.bytes(32, 'reserved bytes');

  let applicationContextName: string | undefined;
  let userInformation: UserInformation | undefined;
  const proposals: PresentationContextProposal[] = [];
  const results: PresentationContextResult[] = [];

  for (const entry of reader.items()) {
    switch (entry.type) {
      case ITEM.APPLICATION_CONTEXT:
        applicationContextName = decodeUid(entry.value, 'application context name');
        break;
      case ITEM.PRESENTATION_CONTEXT_RQ: {
        if (!isRequest) throw new PduError('Presentation context request item (0x20) in an A-ASSOCIATE-AC', ABORT_REASON.UNEXPECTED_PDU_PARAMETER);
        const contextReader = new BodyReader(entry.value, 'presentation context item');
        const id = contextReader.u8('presentation context ID');
        contextReader.bytes(3, 'reserved bytes');
        let abstractSyntax: string | undefined;
        const transferSyntaxes: string[] = [];
        for (const sub of contextReader.items()) {
          if (sub.type === ITEM.ABSTRACT_SYNTAX) abstractSyntax = decodeUid(sub.value, 'abstract syntax');
          else if (sub.type === ITEM.TRANSFER_SYNTAX) transferSyntaxes.push(decodeUid(sub.value, 'transfer syntax'));
          else throw new PduError(`Unknown sub-item 0x${sub.type.toString(16)} in presentation context ${id}`, ABORT_REASON.UNRECOGNIZED_PDU_PARAMETER);
        }
        if (id % 2 === 0) throw new PduError(`Invalid presentation context ID ${id}; IDs are odd numbers from 1 to 255`);
        if (abstractSyntax === undefined) throw new PduError(`Presentation context ${id} lacks an abstract syntax`);
        if (transferSyntaxes.length === 0) throw new PduError(`Presentation context ${id} proposes no transfer syntax`);
        if (proposals.some((p) => p.id === id)) throw new PduError(`Presentation context ID ${id} is proposed twice`);
        proposals.push({ id, abstractSyntax, transferSyntaxes });
        break;
      }
      case ITEM.PRESENTATION_CONTEXT_AC: {
        if (isRequest) throw new PduError('Presentation context result item (0x21) in an A-ASSOCIATE-RQ', ABORT_REASON.UNEXPECTED_PDU_PARAMETER);
        const contextReader = new BodyReader(entry.value, 'presentation context item');
        const id = contextReader.u8('presentation context ID');
        contextReader.u8('reserved byte');
        const result = contextReader.u8('result/reason');
        contextReader.u8('reserved byte');
        if (result > 4) throw new PduError(`Invalid result ${result} for presentation context ${id}`);
        let transferSyntax: string | undefined;
        for (const sub of contextReader.items()) {
          if (sub.type === ITEM.TRANSFER_SYNTAX && result === 0) transferSyntax = decodeUid(sub.value, 'transfer syntax');
        }
        if (result === 0 && transferSyntax === undefined) throw new PduError(`Accepted presentation context ${id} lacks a transfer syntax`);
        results.push({ id, result: result as PresentationContextResult['result'], transferSyntax });
        break;
      }
      case ITEM.USER_INFORMATION:
        userInformation = decodeUserInformation(entry.value, isRequest);
        break;
      default:
        throw new PduError(`Unknown item type 0x${entry.type.toString(16)} in ${what}`, ABORT_REASON.UNRECOGNIZED_PDU_PARAMETER);
    }
  }

  if (applicationContextName === undefined) throw new PduError(`${what} lacks the application context item`);
  if (userInformation === undefined) throw new PduError(`${what} lacks the user information item`);
  if (isRequest) {
    if (proposals.length === 0) throw new PduError('A-ASSOCIATE-RQ proposes no presentation context');
    return { type: PDU_TYPE.ASSOCIATE_RQ, protocolVersion, calledAeTitle, callingAeTitle, applicationContextName, contexts: proposals, userInformation };
  }
  return { type: PDU_TYPE.ASSOCIATE_AC, protocolVersion, calledAeTitle, callingAeTitle, applicationContextName, contexts: results, userInformation };
}

function decodeFourByteBody(body: Buffer, what: string): Buffer {
  if (body.length !== 4) throw new PduError(`Invalid ${what} length ${body.length}; expected 4`);
  return body;
}

/**
 * Decodes the body of any PDU except P-DATA-TF. Throws PduError for a malformed
 * body or an unknown PDU type.
 */
export function decodeControlPdu(type: number, body: Buffer): ControlPdu {
  switch (type) {
    case PDU_TYPE.ASSOCIATE_RQ:
    case PDU_TYPE.ASSOCIATE_AC:
      return decodeAssociate(type, body);
    case PDU_TYPE.ASSOCIATE_RJ: {
      const bytes = decodeFourByteBody(body, 'A-ASSOCIATE-RJ');
      return { type: PDU_TYPE.ASSOCIATE_RJ, result: bytes[1], source: bytes[2], reason: bytes[3] };
    }
    case PDU_TYPE.RELEASE_RQ:
      decodeFourByteBody(body, 'A-RELEASE-RQ');
      return { type: PDU_TYPE.RELEASE_RQ };
    case PDU_TYPE.RELEASE_RP:
      decodeFourByteBody(body, 'A-RELEASE-RP');
      return { type: PDU_TYPE.RELEASE_RP };
    case PDU_TYPE.ABORT: {
      const bytes = decodeFourByteBody(body, 'A-ABORT');
      return { type: PDU_TYPE.ABORT, source: bytes[2], reason: bytes[3] };
    }
    default:
      throw new PduError(`Unrecognized PDU type 0x${type.toString(16).padStart(2, '0')}`, ABORT_REASON.UNRECOGNIZED_PDU);
  }
}

/** Starts of an HTTP request or response, as the first bytes of a PDU header show them. */
const HTTP_STARTS = ['HTTP/', 'GET ', 'POST ', 'PUT ', 'HEAD ', 'DELETE', 'OPTION', 'PATCH '];

/**
 * Describes a PDU header whose type PS3.8 section 9.3 does not define. When
 * the bytes start an HTTP message or a TLS record, the message names that
 * protocol, because the peer's address then most likely names a web or TLS
 * port instead of its DICOM port.
 */
export function describeUnrecognizedPdu(header: Buffer): string {
  const unrecognized = `Unrecognized PDU type 0x${header[0].toString(16).padStart(2, '0')}`;
  const text = header.toString('latin1');
  if (HTTP_STARTS.some((start) => text.startsWith(start))) {
    return `${unrecognized}: the peer speaks HTTP, not DICOM. Check that the port is the peer's DICOM port, not its web port (Orthanc, for example, serves HTTP on 8042 and DICOM on 4242)`;
  }
  // A TLS record starts with its content type, 21 (alert) or 22 (handshake), and the major version 3.
  if ((header[0] === 0x15 || header[0] === 0x16) && header[1] === 0x03) {
    return `${unrecognized}: the peer speaks TLS. This loader speaks DICOM without TLS; use a port of the peer that does the same`;
  }
  return unrecognized;
}

/** Describes an A-ASSOCIATE-RJ in words (PS3.8 table 9-21). */
export function describeRejection(result: number, source: number, reason: number): string {
  const kinds: Record<number, string> = { 1: 'rejected permanently', 2: 'rejected transiently' };
  const kind = kinds[result] ?? `rejected (result ${result})`;
  const reasons: Record<number, Record<number, string>> = {
    1: { 1: 'no reason given', 2: 'application context name not supported', 3: 'calling AE title not recognized', 7: 'called AE title not recognized' },
    2: { 1: 'no reason given', 2: 'protocol version not supported' },
    3: { 1: 'temporary congestion', 2: 'local limit exceeded' },
  };
  const sources: Record<number, string> = { 1: 'service user', 2: 'service provider (ACSE)', 3: 'service provider (presentation)' };
  const sourceText = sources[source] ?? `source ${source}`;
  const reasonText = reasons[source]?.[reason] ?? `reason ${reason}`;
  return `Association ${kind} by ${sourceText}: ${reasonText}`;
}

/** Describes an A-ABORT source and reason in words (PS3.8 table 9-26). */
export function describeAbort(source: number, reason: number): string {
  if (source === ABORT_SOURCE.SERVICE_USER) return 'aborted by the service user';
  const reasons: Record<number, string> = {
    0: 'reason not specified',
    1: 'unrecognized PDU',
    2: 'unexpected PDU',
    4: 'unrecognized PDU parameter',
    5: 'unexpected PDU parameter',
    6: 'invalid PDU parameter value',
  };
  const reasonText = reasons[reason] ?? `reason ${reason}`;
  return `aborted by the service provider: ${reasonText}`;
}
