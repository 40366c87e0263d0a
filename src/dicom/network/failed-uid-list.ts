/**
 * The one data set this layer builds and reads itself: the final C-MOVE/C-GET response
 * identifier holding Failed SOP Instance UID List (0008,0058) (PS3.4 annex C, C-MOVE and C-GET).
 * Every other data set passes through the network layer as opaque bytes.
 */

import { deflateRawSync, inflateRawSync } from 'node:zlib';

export const TRANSFER_SYNTAX = {
  IMPLICIT_VR_LITTLE_ENDIAN: '1.2.840.10008.1.2',
  EXPLICIT_VR_LITTLE_ENDIAN: '1.2.840.10008.1.2.1',
  DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN: '1.2.840.10008.1.2.1.99',
  EXPLICIT_VR_BIG_ENDIAN: '1.2.840.10008.1.2.2',
} as const;

const FAILED_SOP_INSTANCE_UID_LIST = { group: 0x0008, element: 0x0058 };

/** VRs whose explicit VR header has a 2-byte reserved field and a 32-bit length (PS3.5 section 7.1.2). */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

interface Encoding {
  explicitVr: boolean;
  littleEndian: boolean;
  deflated: boolean;
}

/**
 * Returns the data set encoding of a transfer syntax. Encapsulated (compressed) transfer
 * syntaxes encode the data set itself as Explicit VR Little Endian (PS3.5 section A.4).
 */
function encodingOf(transferSyntax: string): Encoding {
  switch (transferSyntax) {
    case TRANSFER_SYNTAX.IMPLICIT_VR_LITTLE_ENDIAN:
      return { explicitVr: false, littleEndian: true, deflated: false };
    case TRANSFER_SYNTAX.EXPLICIT_VR_BIG_ENDIAN:
      return { explicitVr: true, littleEndian: false, deflated: false };
    case TRANSFER_SYNTAX.DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN:
      return { explicitVr: true, littleEndian: true, deflated: true };
    default:
      return { explicitVr: true, littleEndian: true, deflated: false };
  }
}

/** Encodes a data set with Failed SOP Instance UID List (0008,0058, VR UI, multi-valued) in the given transfer syntax. */
export function encodeFailedSopInstanceUidList(uids: string[], transferSyntax: string): Buffer {
  const encoding = encodingOf(transferSyntax);
  let value = Buffer.from(uids.join('\\'), 'latin1');
  if (value.length % 2 === 1) value = Buffer.concat([value, Buffer.from([0])]);

  const header = Buffer.alloc(8);
  const u16 = (n: number, at: number) => (encoding.littleEndian ? header.writeUInt16LE(n, at) : header.writeUInt16BE(n, at));
  u16(FAILED_SOP_INSTANCE_UID_LIST.group, 0);
  u16(FAILED_SOP_INSTANCE_UID_LIST.element, 2);
  if (encoding.explicitVr) {
    header.write('UI', 4, 'latin1');
    u16(value.length, 6);
  } else {
    header.writeUInt32LE(value.length, 4);
  }
  const dataset = Buffer.concat([header, value]);
  return encoding.deflated ? deflateRawSync(dataset) : dataset;
}

/**
 * Reads Failed SOP Instance UID List (0008,0058) from the top level of a data set.
 * Returns an empty list when the element is absent or the data set cannot be walked.
 */
export function readFailedSopInstanceUidList(dataset: Buffer, transferSyntax: string): string[] {
  const encoding = encodingOf(transferSyntax);
  let bytes = dataset;
  if (encoding.deflated) {
    try {
      bytes = inflateRawSync(dataset);
    } catch {
      return [];
    }
  }
  const u16 = (at: number) => (encoding.littleEndian ? bytes.readUInt16LE(at) : bytes.readUInt16BE(at));
  const u32 = (at: number) => (encoding.littleEndian ? bytes.readUInt32LE(at) : bytes.readUInt32BE(at));

  let offset = 0;
  while (offset + 8 <= bytes.length) {
    const group = u16(offset);
    const element = u16(offset + 2);
    let length: number;
    let headerLength: number;
    if (encoding.explicitVr) {
      const vr = bytes.toString('latin1', offset + 4, offset + 6);
      if (LONG_VRS.has(vr)) {
        if (offset + 12 > bytes.length) return [];
        length = u32(offset + 8);
        headerLength = 12;
      } else {
        length = u16(offset + 6);
        headerLength = 8;
      }
    } else {
      length = u32(offset + 4);
      headerLength = 8;
    }
    // An undefined-length sequence would need a full parser; the list never follows one in practice.
    if (length === 0xffffffff || offset + headerLength + length > bytes.length) return [];
    if (group === FAILED_SOP_INSTANCE_UID_LIST.group && element === FAILED_SOP_INSTANCE_UID_LIST.element) {
      const text = bytes.toString('latin1', offset + headerLength, offset + headerLength + length).replace(/[\0 ]+$/, '');
      return text === '' ? [] : text.split('\\').map((uid) => uid.trim());
    }
    if (group > FAILED_SOP_INSTANCE_UID_LIST.group || (group === FAILED_SOP_INSTANCE_UID_LIST.group && element > FAILED_SOP_INSTANCE_UID_LIST.element)) return [];
    offset += headerLength + length;
  }
  return [];
}
