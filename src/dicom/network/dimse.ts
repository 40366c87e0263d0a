/**
 * DIMSE command sets (PS3.7 section 9.3 and annex E): command field values, status
 * codes, and the encoding of group 0000 elements, which is always Implicit VR Little
 * Endian whatever the presentation context's transfer syntax (PS3.7 section 6.3.1).
 */

export const COMMAND_FIELD = {
  C_STORE_RQ: 0x0001,
  C_STORE_RSP: 0x8001,
  C_GET_RQ: 0x0010,
  C_GET_RSP: 0x8010,
  C_FIND_RQ: 0x0020,
  C_FIND_RSP: 0x8020,
  C_MOVE_RQ: 0x0021,
  C_MOVE_RSP: 0x8021,
  C_ECHO_RQ: 0x0030,
  C_ECHO_RSP: 0x8030,
  N_EVENT_REPORT_RQ: 0x0100,
  N_GET_RQ: 0x0110,
  N_SET_RQ: 0x0120,
  N_ACTION_RQ: 0x0130,
  N_CREATE_RQ: 0x0140,
  N_DELETE_RQ: 0x0150,
  C_CANCEL_RQ: 0x0fff,
} as const;

/** Bit set in the command field of every response (PS3.7 annex E). */
export const RESPONSE_BIT = 0x8000;

/** Command Data Set Type (0000,0800) value meaning "no data set follows" (PS3.7 table E.1-1). */
export const NO_DATASET = 0x0101;

/** Priority (0000,0700) values: 0 medium, 1 high, 2 low. */
export const PRIORITY = { MEDIUM: 0, HIGH: 1, LOW: 2 } as const;

/** Status codes used by this layer (PS3.7 annex C and PS3.4 annexes B and C). */
export const STATUS = {
  SUCCESS: 0x0000,
  WARNING: 0x0001,
  COERCION_OF_DATA_ELEMENTS: 0xb000,
  ELEMENTS_DISCARDED: 0xb006,
  DATASET_DOES_NOT_MATCH_SOP_CLASS_WARNING: 0xb007,
  SUB_OPERATIONS_COMPLETE_WITH_FAILURES: 0xb000,
  OUT_OF_RESOURCES: 0xa700,
  OUT_OF_RESOURCES_SUB_OPERATIONS: 0xa702,
  MOVE_DESTINATION_UNKNOWN: 0xa801,
  DATASET_DOES_NOT_MATCH_SOP_CLASS: 0xa900,
  CANNOT_UNDERSTAND: 0xc000,
  UNABLE_TO_PROCESS: 0xc001,
  PROCESSING_FAILURE: 0x0110,
  SOP_CLASS_NOT_SUPPORTED: 0x0122,
  NOT_AUTHORIZED: 0x0124,
  DUPLICATE_INVOCATION: 0x0210,
  UNRECOGNIZED_OPERATION: 0x0211,
  MISTYPED_ARGUMENT: 0x0212,
  CANCEL: 0xfe00,
  PENDING: 0xff00,
  PENDING_WITH_WARNINGS: 0xff01,
} as const;

export type StatusClass = 'success' | 'warning' | 'failure' | 'cancel' | 'pending';

/** Classifies a status code (PS3.7 annex C). Codes not listed as success, warning, cancel or pending are failures. */
export function statusClass(status: number): StatusClass {
  if (status === 0x0000) return 'success';
  if (status === 0xfe00) return 'cancel';
  if (status === 0xff00 || status === 0xff01) return 'pending';
  if (status === 0x0001 || status === 0x0107 || status === 0x0116 || (status & 0xf000) === 0xb000) return 'warning';
  return 'failure';
}

export function formatStatus(status: number): string {
  return `0x${status.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** A DIMSE response with a failure (or otherwise unwanted) status. */
export class DimseStatusError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly offendingElements?: number[],
  ) {
    super(message);
    this.name = 'DimseStatusError';
  }
}

/** Error comment (0000,0902) is LO, so at most 64 characters. */
export const MAX_ERROR_COMMENT_LENGTH = 64;

/** Command elements (tags of group 0000), PS3.7 annex E.1. */
export const COMMAND_TAG = {
  COMMAND_GROUP_LENGTH: 0x00000000,
  AFFECTED_SOP_CLASS_UID: 0x00000002,
  REQUESTED_SOP_CLASS_UID: 0x00000003,
  COMMAND_FIELD: 0x00000100,
  MESSAGE_ID: 0x00000110,
  MESSAGE_ID_BEING_RESPONDED_TO: 0x00000120,
  MOVE_DESTINATION: 0x00000600,
  PRIORITY: 0x00000700,
  COMMAND_DATA_SET_TYPE: 0x00000800,
  STATUS: 0x00000900,
  OFFENDING_ELEMENT: 0x00000901,
  ERROR_COMMENT: 0x00000902,
  ERROR_ID: 0x00000903,
  AFFECTED_SOP_INSTANCE_UID: 0x00001000,
  REQUESTED_SOP_INSTANCE_UID: 0x00001001,
  NUMBER_OF_REMAINING_SUB_OPERATIONS: 0x00001020,
  NUMBER_OF_COMPLETED_SUB_OPERATIONS: 0x00001021,
  NUMBER_OF_FAILED_SUB_OPERATIONS: 0x00001022,
  NUMBER_OF_WARNING_SUB_OPERATIONS: 0x00001023,
  MOVE_ORIGINATOR_AE_TITLE: 0x00001030,
  MOVE_ORIGINATOR_MESSAGE_ID: 0x00001031,
} as const;

/** Typed view of the command elements this layer reads and writes. */
export interface CommandFields {
  commandField: number;
  hasDataset: boolean;
  affectedSopClassUid?: string;
  requestedSopClassUid?: string;
  messageId?: number;
  messageIdBeingRespondedTo?: number;
  moveDestination?: string;
  priority?: number;
  status?: number;
  offendingElements?: number[];
  errorComment?: string;
  errorId?: number;
  affectedSopInstanceUid?: string;
  requestedSopInstanceUid?: string;
  remaining?: number;
  completed?: number;
  failed?: number;
  warning?: number;
  moveOriginatorAeTitle?: string;
  moveOriginatorMessageId?: number;
}

type ValueKind = 'UI' | 'US' | 'AE' | 'LO' | 'AT';

const FIELD_LAYOUT: { tag: number; key: Exclude<keyof CommandFields, 'hasDataset'>; vr: ValueKind }[] = [
  { tag: COMMAND_TAG.AFFECTED_SOP_CLASS_UID, key: 'affectedSopClassUid', vr: 'UI' },
  { tag: COMMAND_TAG.REQUESTED_SOP_CLASS_UID, key: 'requestedSopClassUid', vr: 'UI' },
  { tag: COMMAND_TAG.COMMAND_FIELD, key: 'commandField', vr: 'US' },
  { tag: COMMAND_TAG.MESSAGE_ID, key: 'messageId', vr: 'US' },
  { tag: COMMAND_TAG.MESSAGE_ID_BEING_RESPONDED_TO, key: 'messageIdBeingRespondedTo', vr: 'US' },
  { tag: COMMAND_TAG.MOVE_DESTINATION, key: 'moveDestination', vr: 'AE' },
  { tag: COMMAND_TAG.PRIORITY, key: 'priority', vr: 'US' },
  { tag: COMMAND_TAG.STATUS, key: 'status', vr: 'US' },
  { tag: COMMAND_TAG.OFFENDING_ELEMENT, key: 'offendingElements', vr: 'AT' },
  { tag: COMMAND_TAG.ERROR_COMMENT, key: 'errorComment', vr: 'LO' },
  { tag: COMMAND_TAG.ERROR_ID, key: 'errorId', vr: 'US' },
  { tag: COMMAND_TAG.AFFECTED_SOP_INSTANCE_UID, key: 'affectedSopInstanceUid', vr: 'UI' },
  { tag: COMMAND_TAG.REQUESTED_SOP_INSTANCE_UID, key: 'requestedSopInstanceUid', vr: 'UI' },
  { tag: COMMAND_TAG.NUMBER_OF_REMAINING_SUB_OPERATIONS, key: 'remaining', vr: 'US' },
  { tag: COMMAND_TAG.NUMBER_OF_COMPLETED_SUB_OPERATIONS, key: 'completed', vr: 'US' },
  { tag: COMMAND_TAG.NUMBER_OF_FAILED_SUB_OPERATIONS, key: 'failed', vr: 'US' },
  { tag: COMMAND_TAG.NUMBER_OF_WARNING_SUB_OPERATIONS, key: 'warning', vr: 'US' },
  { tag: COMMAND_TAG.MOVE_ORIGINATOR_AE_TITLE, key: 'moveOriginatorAeTitle', vr: 'AE' },
  { tag: COMMAND_TAG.MOVE_ORIGINATOR_MESSAGE_ID, key: 'moveOriginatorMessageId', vr: 'US' },
];

function padEven(bytes: Buffer, pad: number): Buffer {
  return bytes.length % 2 === 0 ? bytes : Buffer.concat([bytes, Buffer.from([pad])]);
}

function encodeValue(vr: ValueKind, value: string | number | number[]): Buffer {
  switch (vr) {
    case 'US': {
      const number = value as number;
      if (!Number.isInteger(number) || number < 0 || number > 0xffff) throw new RangeError(`Invalid US command value ${number}`);
      const bytes = Buffer.alloc(2);
      bytes.writeUInt16LE(number, 0);
      return bytes;
    }
    case 'AT': {
      const tags = value as number[];
      const bytes = Buffer.alloc(tags.length * 4);
      tags.forEach((tag, index) => {
        bytes.writeUInt16LE(tag >>> 16, index * 4);
        bytes.writeUInt16LE(tag & 0xffff, index * 4 + 2);
      });
      return bytes;
    }
    case 'UI':
      return padEven(Buffer.from(value as string, 'latin1'), 0x00);
    case 'AE':
      return padEven(Buffer.from((value as string).trim(), 'latin1'), 0x20);
    case 'LO':
      return padEven(Buffer.from((value as string).slice(0, MAX_ERROR_COMMENT_LENGTH), 'latin1'), 0x20);
  }
}

/** Writes an implicit VR little endian element header and returns the offset after it. */
function writeElementHeader(bytes: Buffer, offset: number, tag: number, length: number): number {
  bytes.writeUInt16LE(tag >>> 16, offset);
  bytes.writeUInt16LE(tag & 0xffff, offset + 2);
  return bytes.writeUInt32LE(length, offset + 4);
}

/** Encodes a command set in ascending tag order, preceded by Command Group Length (0000,0000). */
export function encodeCommand(fields: CommandFields): Buffer {
  const elements: { tag: number; value: Buffer }[] = [];
  for (const { tag, key, vr } of FIELD_LAYOUT) {
    const value = fields[key];
    if (value === undefined) continue;
    elements.push({ tag, value: encodeValue(vr, value) });
  }
  elements.push({ tag: COMMAND_TAG.COMMAND_DATA_SET_TYPE, value: encodeValue('US', fields.hasDataset ? 0x0000 : NO_DATASET) });
  elements.sort((a, b) => a.tag - b.tag);

  // One buffer for the whole command set: a response goes out per C-STORE, and a buffer per element cost several microseconds.
  let bodyLength = 0;
  for (const element of elements) bodyLength += 8 + element.value.length;
  const bytes = Buffer.allocUnsafe(12 + bodyLength);
  let offset = writeElementHeader(bytes, 0, COMMAND_TAG.COMMAND_GROUP_LENGTH, 4);
  offset = bytes.writeUInt32LE(bodyLength, offset);
  for (const element of elements) {
    offset = writeElementHeader(bytes, offset, element.tag, element.value.length);
    offset += element.value.copy(bytes, offset);
  }
  return bytes;
}

/** A command set that cannot be decoded. The association aborts, because no response can be addressed to the message. */
export class CommandDecodeError extends Error {
  override name = 'CommandDecodeError';
}

export interface DecodedCommand {
  /** Raw element values by tag, as received. */
  elements: Map<number, Buffer>;
  fields: CommandFields;
  /**
   * Bytes after the end of the command set that Command Group Length (0000,0000) gives,
   * starting with an element outside group 0000, which the decoder skipped (see decodeCommand).
   */
  trailing?: { length: number; firstTag: number };
}

function readUs(value: Buffer, tag: number): number {
  if (value.length !== 2) throw new CommandDecodeError(`Command element ${formatCommandTag(tag)} has length ${value.length}; expected 2 (US)`);
  return value.readUInt16LE(0);
}

function readText(value: Buffer): string {
  return value.toString('latin1').replace(/[\0 ]+$/, '').trim();
}

export function formatCommandTag(tag: number): string {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
  return `(${hex(tag >>> 16)},${hex(tag & 0xffff)})`;
}

/** Returns the end offset of the command set that a leading Command Group Length (0000,0000) gives, or undefined without one. */
function commandGroupEnd(bytes: Buffer): number | undefined {
  if (bytes.length < 12 || bytes.readUInt32LE(0) !== COMMAND_TAG.COMMAND_GROUP_LENGTH || bytes.readUInt32LE(4) !== 4) return undefined;
  return 12 + bytes.readUInt32LE(8);
}

/**
 * Decodes an Implicit VR Little Endian command set. Throws CommandDecodeError when it is malformed.
 *
 * A command set contains only group 0000 elements (PS3.7 section 6.3.1 and annex E.1). Orthanc 1.10.1
 * breaks this rule in the pending C-GET responses that follow a failed C-STORE sub-operation: it
 * appends the Failed SOP Instance UID List (0008,0058), with its group length (0008,0000), to the
 * command fragment, while Command Data Set Type (0000,0800) states that no data set follows. So
 * elements outside group 0000 that start exactly where Command Group Length (0000,0000) ends the
 * command set are skipped and reported in `trailing`. Such an element anywhere else still throws.
 */
export function decodeCommand(bytes: Buffer): DecodedCommand {
  const elements = new Map<number, Buffer>();
  const groupEnd = commandGroupEnd(bytes);
  let trailing: DecodedCommand['trailing'];
  let offset = 0;
  while (offset < bytes.length) {
    if (bytes.length - offset < 8) throw new CommandDecodeError(`Command set has ${bytes.length - offset} trailing bytes, too few for an element header`);
    const group = bytes.readUInt16LE(offset);
    const element = bytes.readUInt16LE(offset + 2);
    const length = bytes.readUInt32LE(offset + 4);
    const tag = ((group << 16) | element) >>> 0;
    if (group !== 0x0000 && offset === groupEnd) {
      trailing = { length: bytes.length - offset, firstTag: tag };
      break;
    }
    if (group !== 0x0000) throw new CommandDecodeError(`Command set contains element ${formatCommandTag(tag)} outside group 0000`);
    if (length > bytes.length - offset - 8) throw new CommandDecodeError(`Command element ${formatCommandTag(tag)} length ${length} overruns the command set`);
    elements.set(tag, bytes.subarray(offset + 8, offset + 8 + length));
    offset += 8 + length;
  }

  const commandField = elements.get(COMMAND_TAG.COMMAND_FIELD);
  const dataSetType = elements.get(COMMAND_TAG.COMMAND_DATA_SET_TYPE);
  if (!commandField) throw new CommandDecodeError('Command set lacks Command Field (0000,0100)');
  if (!dataSetType) throw new CommandDecodeError('Command set lacks Command Data Set Type (0000,0800)');

  const fields: CommandFields = { commandField: readUs(commandField, COMMAND_TAG.COMMAND_FIELD), hasDataset: readUs(dataSetType, COMMAND_TAG.COMMAND_DATA_SET_TYPE) !== NO_DATASET };
  const target = fields as unknown as Record<string, unknown>;
  for (const { tag, key, vr } of FIELD_LAYOUT) {
    const value = elements.get(tag);
    if (value === undefined || key === 'commandField') continue;
    if (vr === 'US') target[key] = readUs(value, tag);
    else if (vr === 'AT') {
      const tags: number[] = [];
      for (let i = 0; i + 4 <= value.length; i += 4) tags.push(((value.readUInt16LE(i) << 16) | value.readUInt16LE(i + 2)) >>> 0);
      target[key] = tags;
    } else target[key] = readText(value);
  }
  return trailing ? { elements, fields, trailing } : { elements, fields };
}

export function isResponse(commandField: number): boolean {
  return (commandField & RESPONSE_BIT) !== 0;
}

export function commandName(commandField: number): string {
  for (const [name, value] of Object.entries(COMMAND_FIELD)) {
    if (value === commandField) return name.replace(/_/g, '-').replace(/-(RQ|RSP)$/, '-$1');
  }
  return `command 0x${commandField.toString(16).padStart(4, '0')}`;
}
