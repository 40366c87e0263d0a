/**
 * Unit tests of PDU encoding, PDU framing, command sets and the failed-UID list data set.
 */
import {
  AssociateAcPdu,
  AssociateRqPdu,
  COMMAND_FIELD,
  CommandDecodeError,
  ControlPdu,
  PDU_TYPE,
  PduError,
  PduReader,
  PdvHeader,
  decodeCommand,
  decodeControlPdu,
  describeRejection,
  encodeAbort,
  encodeAssociateAc,
  encodeAssociateRq,
  encodeCommand,
  encodeFailedSopInstanceUidList,
  encodePDataHeader,
  encodeReleaseRq,
  readFailedSopInstanceUidList,
  statusClass,
  toErrorComment,
} from '../../src/dicom/network';
import { EXPLICIT_BE, EXPLICIT_LE, IMPLICIT_LE } from './helpers';

const REQUEST: AssociateRqPdu = {
  type: PDU_TYPE.ASSOCIATE_RQ,
  protocolVersion: 1,
  calledAeTitle: 'LOADER',
  callingAeTitle: 'MODALITY',
  applicationContextName: '1.2.840.10008.3.1.1.1',
  contexts: [
    { id: 1, abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: [IMPLICIT_LE] },
    { id: 3, abstractSyntax: '1.2.840.10008.5.1.4.1.1.2', transferSyntaxes: [EXPLICIT_LE, '1.2.840.10008.1.2.4.90'] },
  ],
  userInformation: {
    maxPduLength: 16384,
    implementationClassUid: '1.2.3.4',
    implementationVersionName: 'TEST_1',
    asyncOperations: { maxInvoked: 4, maxPerformed: 4 },
    roleSelections: [{ sopClassUid: '1.2.840.10008.5.1.4.1.1.2', scuRole: false, scpRole: true }],
    userIdentity: { type: 2, primaryField: Buffer.from('user'), secondaryField: Buffer.from('pass'), positiveResponseRequested: true },
  },
};

function body(pdu: Buffer): Buffer {
  return pdu.subarray(6);
}

describe('A-ASSOCIATE PDUs', () => {
  test('request round-trips', () => {
    const decoded = decodeControlPdu(PDU_TYPE.ASSOCIATE_RQ, body(encodeAssociateRq(REQUEST)));
    expect(decoded).toEqual(REQUEST);
  });

  test('accept round-trips', () => {
    const accept: AssociateAcPdu = {
      type: PDU_TYPE.ASSOCIATE_AC,
      protocolVersion: 1,
      calledAeTitle: 'LOADER',
      callingAeTitle: 'MODALITY',
      applicationContextName: '1.2.840.10008.3.1.1.1',
      contexts: [
        { id: 1, result: 0, transferSyntax: IMPLICIT_LE },
        { id: 3, result: 4, transferSyntax: undefined },
      ],
      userInformation: { maxPduLength: 0, implementationClassUid: '1.2.3.5', roleSelections: [], userIdentityServerResponse: Buffer.from('ok') },
    };
    expect(decodeControlPdu(PDU_TYPE.ASSOCIATE_AC, body(encodeAssociateAc(accept)))).toEqual(accept);
  });

  test('every truncation raises PduError', () => {
    const full = body(encodeAssociateRq(REQUEST));
    for (let length = 0; length < full.length; length++) {
      expect(() => decodeControlPdu(PDU_TYPE.ASSOCIATE_RQ, full.subarray(0, length))).toThrow(PduError);
    }
  });

  test('even context ID is rejected', () => {
    const bytes = Buffer.from(body(encodeAssociateRq(REQUEST)));
    const contextItem = bytes.indexOf(Buffer.from([0x20, 0x00]), 68);
    bytes[contextItem + 4] = 2;
    expect(() => decodeControlPdu(PDU_TYPE.ASSOCIATE_RQ, bytes)).toThrow(/Invalid presentation context ID 2/);
  });

  test('invalid AE title fails to encode', () => {
    expect(() => encodeAssociateRq({ ...REQUEST, callingAeTitle: 'FAR_TOO_LONG_AE_TITLE' })).toThrow(/Invalid AE title/);
  });

  test('rejection reason in words', () => {
    expect(describeRejection(1, 1, 3)).toBe('Association rejected permanently by service user: calling AE title not recognized');
    expect(describeRejection(2, 3, 2)).toBe('Association rejected transiently by service provider (presentation): local limit exceeded');
  });
});

describe('PduReader', () => {
  function collect(maxLength = 1024) {
    const events: string[] = [];
    const pdus: ControlPdu[] = [];
    const data: Buffer[] = [];
    const errors: PduError[] = [];
    const reader = new PduReader(
      {
        onControlPdu: (pdu) => {
          pdus.push(pdu);
          events.push(`pdu ${pdu.type}`);
        },
        onPdvStart: (header: PdvHeader) => events.push(`start ${header.contextId} ${header.isCommand} ${header.isLast} ${header.length}`),
        onPdvData: (chunk) => data.push(Buffer.from(chunk)),
        onPdvEnd: () => events.push('end'),
        onError: (error) => errors.push(error),
      },
      maxLength,
    );
    return { reader, events, pdus, data, errors };
  }

  test('byte-by-byte feed frames PDUs', () => {
    const fragment = Buffer.from('0123456789');
    const stream = Buffer.concat([encodePDataHeader(5, false, true, fragment.length), fragment, encodeReleaseRq()]);
    const { reader, events, data, errors } = collect();
    for (const byte of stream) reader.push(Buffer.from([byte]));
    expect(errors).toEqual([]);
    expect(events).toEqual(['start 5 false true 10', 'end', `pdu ${PDU_TYPE.RELEASE_RQ}`]);
    expect(Buffer.concat(data).equals(fragment)).toBe(true);
  });

  test('two PDVs in one PDU', () => {
    const pdv = (contextId: number, control: number, text: string) => {
      const header = Buffer.alloc(6);
      header.writeUInt32BE(text.length + 2, 0);
      header[4] = contextId;
      header[5] = control;
      return Buffer.concat([header, Buffer.from(text)]);
    };
    const pdvs = Buffer.concat([pdv(1, 0x01, 'cmd'), pdv(1, 0x03, 'more')]);
    const header = Buffer.from([0x04, 0, 0, 0, 0, 0]);
    header.writeUInt32BE(pdvs.length, 2);
    const { reader, events, errors } = collect();
    reader.push(Buffer.concat([header, pdvs]));
    expect(errors).toEqual([]);
    expect(events).toEqual(['start 1 true false 3', 'end', 'start 1 true true 4', 'end']);
  });

  test('P-DATA-TF over our maximum is rejected', () => {
    const { reader, errors } = collect(1000);
    reader.push(encodePDataHeader(1, false, true, 2000));
    expect(errors[0]?.message).toMatch(/exceeds the maximum PDU length of 1000/);
  });

  test('PDV overrunning its PDU is rejected', () => {
    const header = Buffer.from([0x04, 0, 0, 0, 0, 8, 0, 0, 0, 50, 1, 0]);
    const { reader, errors } = collect();
    reader.push(header);
    expect(errors[0]?.message).toMatch(/overruns its P-DATA-TF PDU/);
  });

  test('unknown PDU type is rejected', () => {
    const { reader, errors } = collect();
    reader.push(Buffer.from([0x42, 0, 0, 0, 0, 0]));
    expect(errors[0]?.abortReason).toBe(1);
    expect(errors[0]?.message).toBe('Unrecognized PDU type 0x42');
  });

  test.each([
    ['an HTTP response', Buffer.from('HTTP/1.1 400 Bad Request\r\n'), /0x48: the peer speaks HTTP, not DICOM\. Check that the port is the peer's DICOM port/],
    ['an HTTP request', Buffer.from('GET / HTTP/1.1\r\n'), /0x47: the peer speaks HTTP/],
    ['a TLS handshake', Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00]), /0x16: the peer speaks TLS/],
    ['a TLS alert', Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46]), /0x15: the peer speaks TLS/],
  ])('unknown PDU type from %s names the protocol', (_case, bytes, message) => {
    const { reader, errors } = collect();
    reader.push(bytes);
    expect(errors[0]?.message).toMatch(message);
  });

  test('abort PDU decodes', () => {
    const { reader, pdus } = collect();
    reader.push(encodeAbort(2, 6));
    expect(pdus).toEqual([{ type: PDU_TYPE.ABORT, source: 2, reason: 6 }]);
  });
});

describe('command sets', () => {
  test('round-trip with group length', () => {
    const bytes = encodeCommand({
      commandField: COMMAND_FIELD.C_MOVE_RSP,
      messageIdBeingRespondedTo: 7,
      affectedSopClassUid: '1.2.840.10008.5.1.4.1.2.2.2',
      status: 0xb000,
      remaining: 0,
      completed: 3,
      failed: 1,
      warning: 0,
      errorComment: 'one failed',
      offendingElements: [0x00100010],
      hasDataset: true,
    });
    expect(bytes.readUInt32LE(8)).toBe(bytes.length - 12);
    const { fields, elements } = decodeCommand(bytes);
    expect(fields).toMatchObject({ commandField: 0x8021, messageIdBeingRespondedTo: 7, status: 0xb000, completed: 3, failed: 1, errorComment: 'one failed', offendingElements: [0x00100010], hasDataset: true });
    expect(elements.get(0x00000002)?.length).toBe(28);
  });

  test('truncated command is rejected', () => {
    const bytes = encodeCommand({ commandField: COMMAND_FIELD.C_ECHO_RQ, messageId: 1, hasDataset: false });
    expect(() => decodeCommand(bytes.subarray(0, bytes.length - 3))).toThrow(/overruns|trailing/);
  });

  test('bytes after the command group are skipped', () => {
    const command = encodeCommand({ commandField: COMMAND_FIELD.C_GET_RSP, messageIdBeingRespondedTo: 1, status: 0xff00, failed: 1, hasDataset: false });
    // Orthanc 1.10.1 appends Failed SOP Instance UID List (0008,0058), with group length (0008,0000), to pending C-GET responses.
    const appended = Buffer.from('08000000040000001600000008005800' + '0e000000322e32352e39323932302e312e31', 'hex');
    const { fields, trailing } = decodeCommand(Buffer.concat([command, appended]));

    expect(fields).toMatchObject({ commandField: COMMAND_FIELD.C_GET_RSP, status: 0xff00, failed: 1, hasDataset: false });
    expect(trailing).toEqual({ length: appended.length, firstTag: 0x00080000 });
  });

  test('other group inside the command group is rejected', () => {
    const command = encodeCommand({ commandField: COMMAND_FIELD.C_ECHO_RQ, messageId: 1, hasDataset: false });
    const inside = Buffer.from(command);
    // The element after Command Group Length becomes (0008,0002), so it lies before the end that the group length gives.
    inside.writeUInt16LE(0x0008, 12);

    expect(() => decodeCommand(inside)).toThrow(/outside group 0000/);
  });

  test('status classes', () => {
    expect(statusClass(0x0000)).toBe('success');
    expect(statusClass(0xb007)).toBe('warning');
    expect(statusClass(0x0001)).toBe('warning');
    expect(statusClass(0xa702)).toBe('failure');
    expect(statusClass(0x0122)).toBe('failure');
    expect(statusClass(0xfe00)).toBe('cancel');
    expect(statusClass(0xff01)).toBe('pending');
  });
});

describe('Error Comment', () => {
  test.each([
    ['short text unchanged', 'Move destination unknown: NOWHERE', 'Move destination unknown: NOWHERE'],
    [
      'cut at a clause boundary',
      'Failed to connect to NOLISTEN at 127.0.0.1:34212: connect ECONNREFUSED 127.0.0.1:34212',
      'Failed to connect to NOLISTEN at 127.0.0.1:34212',
    ],
    [
      'cut at a word boundary',
      'the destination answered C-STORE with status 0xa700 and no error comment',
      'the destination answered C-STORE with status 0xa700 and no error',
    ],
    [
      'SCP role reason kept whole',
      'No SCP role for 1.2.840.10008.5.1.4.1.1.4: a C-GET sub-operation needs SCP/SCU role selection',
      'No SCP role for 1.2.840.10008.5.1.4.1.1.4',
    ],
    ['backslash replaced', 'a\\b', 'a b'],
    ['one long word cut at 64', 'x'.repeat(80), 'x'.repeat(64)],
  ])('%s', (_case, text, comment) => {
    const result = toErrorComment(text);

    expect(result).toBe(comment);
    expect(result!.length).toBeLessThanOrEqual(64);
  });
});

describe('failed SOP instance UID list', () => {
  const DEFLATED = '1.2.840.10008.1.2.1.99';
  const JPEG_BASELINE = '1.2.840.10008.1.2.4.50';

  test.each([IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE, DEFLATED, JPEG_BASELINE])('round-trips in %s', (transferSyntax) => {
    const uids = ['1.2.3.4', '1.2.3.45'];
    const dataset = encodeFailedSopInstanceUidList(uids, transferSyntax);
    if (transferSyntax !== DEFLATED) expect(dataset.length % 2).toBe(0);
    expect(readFailedSopInstanceUidList(dataset, transferSyntax)).toEqual(uids);
  });

  test('big endian header bytes', () => {
    const dataset = encodeFailedSopInstanceUidList(['1.2'], EXPLICIT_BE);
    expect(dataset.subarray(0, 8)).toEqual(Buffer.from([0x00, 0x08, 0x00, 0x58, 0x55, 0x49, 0x00, 0x04]));
  });
});

describe('mutated input', () => {
  /** Deterministic pseudo-random numbers (mulberry32), so a failure can be reproduced. */
  function random(seed: number): () => number {
    let state = seed;
    return () => {
      state = (state + 0x6d2b79f5) | 0;
      let t = Math.imul(state ^ (state >>> 15), 1 | state);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  function mutate(bytes: Buffer, next: () => number): Buffer {
    const copy = Buffer.from(bytes);
    const flips = 1 + Math.floor(next() * 4);
    for (let i = 0; i < flips; i++) copy[Math.floor(next() * copy.length)] = Math.floor(next() * 256);
    return copy.subarray(0, Math.floor(next() * (copy.length + 1)));
  }

  test('PDU reader never throws', () => {
    const next = random(12345);
    const command = encodeCommand({ commandField: COMMAND_FIELD.C_ECHO_RQ, messageId: 1, affectedSopClassUid: '1.2.840.10008.1.1', hasDataset: false });
    const samples = [encodeAssociateRq(REQUEST), Buffer.concat([encodePDataHeader(1, true, true, command.length), command]), encodeAbort(0, 0)];
    for (let round = 0; round < 3000; round++) {
      const input = mutate(samples[round % samples.length], next);
      const reader = new PduReader({ onControlPdu: () => undefined, onPdvStart: () => undefined, onPdvData: () => undefined, onPdvEnd: () => undefined, onError: () => undefined }, 16384);
      expect(() => reader.push(input)).not.toThrow();
    }
  });

  test('command decoder throws only CommandDecodeError', () => {
    const next = random(67890);
    const command = encodeCommand({ commandField: COMMAND_FIELD.C_STORE_RQ, messageId: 9, affectedSopClassUid: '1.2.3', affectedSopInstanceUid: '1.2.3.4', priority: 0, hasDataset: true });
    for (let round = 0; round < 3000; round++) {
      try {
        decodeCommand(mutate(command, next));
      } catch (error) {
        expect(error).toBeInstanceOf(CommandDecodeError);
      }
    }
  });
});
