/**
 * Splits a socket byte stream into PDUs (PS3.8 section 9.3) without buffering data sets.
 *
 * Control PDUs (association, release, abort) are collected whole and decoded; their
 * size is capped. P-DATA-TF PDUs are parsed as they arrive: each PDV header is
 * reported, then its fragment bytes are handed on in the slices the socket delivered
 * them, so memory use does not grow with the data set size.
 */

import {
  ABORT_REASON,
  ControlPdu,
  MAX_ASSOCIATE_PDU_LENGTH,
  PDU_HEADER_LENGTH,
  PDU_TYPE,
  PduError,
  decodeControlPdu,
  describeUnrecognizedPdu,
} from './pdu';

export interface PdvHeader {
  contextId: number;
  isCommand: boolean;
  isLast: boolean;
  /** Fragment length in bytes, excluding the context ID and message control header. */
  length: number;
}

export interface PduReaderEvents {
  onControlPdu(pdu: ControlPdu): void;
  onPdvStart(header: PdvHeader): void;
  /** One slice of the current PDV fragment, valid only during the call when the socket reads into a shared buffer. */
  onPdvData(chunk: Buffer): void;
  onPdvEnd(header: PdvHeader): void;
  onError(error: PduError): void;
}

type State =
  | { kind: 'header' }
  | { kind: 'control'; type: number; length: number }
  | { kind: 'pdv-header'; pduRemaining: number }
  | { kind: 'pdv-data'; pduRemaining: number; pdvRemaining: number; header: PdvHeader };

/** Length of a PDV header: 32-bit item length, context ID and message control header (PS3.8 section 9.3.5.1). */
const PDV_HEADER_LENGTH = 6;

export class PduReader {
  private state: State = { kind: 'header' };
  /** Bytes of a header or control PDU body still being collected. */
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private stopped = false;
  /** Length field of the PDU being received, for pduProgress. */
  private pduLength = 0;
  /**
   * Date.now() when the PDU being received started, or when the last PDU ended
   * while the stream is between PDUs. The stall timer of association.ts
   * measures progress from here, in whole PDUs, because a peer that sends one
   * byte at a time would restart a timer that counts bytes.
   */
  pduBoundaryAt = Date.now();

  /**
   * @param maxPDataLength maximum P-DATA-TF body length we accept, which is the maximum PDU
   *   length we advertised (PS3.8 annex D.1).
   */
  constructor(
    private readonly events: PduReaderEvents,
    private readonly maxPDataLength: number,
  ) {}

  /** Stops parsing; later calls to push() are ignored. */
  stop(): void {
    this.stopped = true;
    this.pending = [];
  }

  /** True when the stream is between PDUs, so a socket end here is not a truncation. */
  get atPduBoundary(): boolean {
    return this.state.kind === 'header' && this.pendingLength === 0;
  }

  /**
   * Returns the bytes received of the PDU in progress and its length including the
   * 6-byte header (undefined until the header is complete), or undefined between PDUs.
   */
  pduProgress(): { received: number; length?: number } | undefined {
    const state = this.state;
    switch (state.kind) {
      case 'header':
        return this.pendingLength === 0 ? undefined : { received: this.pendingLength };
      case 'control':
        return { received: PDU_HEADER_LENGTH + this.pendingLength, length: PDU_HEADER_LENGTH + state.length };
      case 'pdv-header':
      case 'pdv-data': {
        const received = PDU_HEADER_LENGTH + this.pduLength - state.pduRemaining + (state.kind === 'pdv-header' ? this.pendingLength : 0);
        return { received, length: PDU_HEADER_LENGTH + this.pduLength };
      }
    }
  }

  push(chunk: Buffer): void {
    let offset = 0;
    try {
      while (!this.stopped && offset < chunk.length) {
        offset = this.step(chunk, offset);
      }
    } catch (error) {
      this.stop();
      const pduError = error instanceof PduError ? error : new PduError(`Failed to decode PDU: ${(error as Error).message}`);
      this.events.onError(pduError);
    }
  }

  /** Collects exactly `length` bytes across chunks; returns them when complete. */
  private collect(chunk: Buffer, offset: number, length: number): { bytes?: Buffer; offset: number } {
    const take = Math.min(length - this.pendingLength, chunk.length - offset);
    const part = chunk.subarray(offset, offset + take);
    this.pendingLength += take;
    offset += take;
    if (this.pendingLength < length) {
      // Copied, because the next socket read may reuse the chunk's memory (socket-read-buffer.ts).
      this.pending.push(Buffer.from(part));
      return { offset };
    }
    this.pending.push(part);
    const bytes = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, length);
    this.pending = [];
    this.pendingLength = 0;
    return { bytes, offset };
  }

  private step(chunk: Buffer, offset: number): number {
    const state = this.state;
    switch (state.kind) {
      case 'header': {
        // Once per PDU, so the receive path reads the clock per PDU and not per chunk.
        if (this.pendingLength === 0) this.pduBoundaryAt = Date.now();
        const { bytes, offset: next } = this.collect(chunk, offset, PDU_HEADER_LENGTH);
        if (bytes) this.startPdu(bytes);
        return next;
      }
      case 'control': {
        const { bytes, offset: next } = this.collect(chunk, offset, state.length);
        if (bytes) {
          this.state = { kind: 'header' };
          this.pduBoundaryAt = Date.now();
          // Copy so that the decoded PDU does not keep the whole socket chunk alive.
          this.events.onControlPdu(decodeControlPdu(state.type, Buffer.from(bytes)));
        }
        return next;
      }
      case 'pdv-header': {
        const { bytes, offset: next } = this.collect(chunk, offset, PDV_HEADER_LENGTH);
        if (bytes) this.startPdv(state.pduRemaining, bytes);
        return next;
      }
      case 'pdv-data': {
        const take = Math.min(state.pdvRemaining, chunk.length - offset);
        if (take > 0) {
          state.pdvRemaining -= take;
          state.pduRemaining -= take;
          this.events.onPdvData(chunk.subarray(offset, offset + take));
        }
        if (state.pdvRemaining === 0) this.endPdv(state);
        return offset + take;
      }
    }
  }

  private startPdu(header: Buffer): void {
    const type = header.readUInt8(0);
    const length = header.readUInt32BE(2);
    if (type === PDU_TYPE.P_DATA_TF) {
      if (length > this.maxPDataLength) {
        throw new PduError(`P-DATA-TF PDU of ${length} bytes exceeds the maximum PDU length of ${this.maxPDataLength} bytes we advertised`);
      }
      if (length < PDV_HEADER_LENGTH) throw new PduError(`P-DATA-TF PDU of ${length} bytes is too short to hold a PDV`);
      this.pduLength = length;
      this.state = { kind: 'pdv-header', pduRemaining: length };
      return;
    }
    if (type < PDU_TYPE.ASSOCIATE_RQ || type > PDU_TYPE.ABORT) {
      throw new PduError(describeUnrecognizedPdu(header), ABORT_REASON.UNRECOGNIZED_PDU);
    }
    const limit = type === PDU_TYPE.ASSOCIATE_RQ || type === PDU_TYPE.ASSOCIATE_AC ? MAX_ASSOCIATE_PDU_LENGTH : 4;
    if (length > limit) throw new PduError(`PDU of type 0x${type.toString(16).padStart(2, '0')} has length ${length}; the maximum is ${limit}`);
    this.state = { kind: 'control', type, length };
    // An empty body never reaches step(), so decode it here; decodeControlPdu rejects it with a clear message.
    if (length === 0) {
      this.state = { kind: 'header' };
      this.events.onControlPdu(decodeControlPdu(type, Buffer.alloc(0)));
    }
  }

  private startPdv(pduRemaining: number, bytes: Buffer): void {
    const itemLength = bytes.readUInt32BE(0);
    const contextId = bytes.readUInt8(4);
    const control = bytes.readUInt8(5);
    if (itemLength < 2) throw new PduError(`PDV item length ${itemLength} is smaller than its 2-byte header`);
    if (itemLength + 4 > pduRemaining) {
      throw new PduError(`PDV item length ${itemLength} overruns its P-DATA-TF PDU (${pduRemaining - 4} bytes left)`);
    }
    if ((control & 0xfc) !== 0) throw new PduError(`Invalid PDV message control header 0x${control.toString(16)}`);
    const header: PdvHeader = { contextId, isCommand: (control & 0x01) !== 0, isLast: (control & 0x02) !== 0, length: itemLength - 2 };
    const state: State = { kind: 'pdv-data', pduRemaining: pduRemaining - PDV_HEADER_LENGTH, pdvRemaining: header.length, header };
    this.state = state;
    this.events.onPdvStart(header);
    if (header.length === 0 && !this.stopped) this.endPdv(state);
  }

  private endPdv(state: Extract<State, { kind: 'pdv-data' }>): void {
    this.state = state.pduRemaining === 0 ? { kind: 'header' } : { kind: 'pdv-header', pduRemaining: state.pduRemaining };
    if (state.pduRemaining === 0) this.pduBoundaryAt = Date.now();
    if (state.pduRemaining > 0 && state.pduRemaining < PDV_HEADER_LENGTH) {
      throw new PduError(`P-DATA-TF PDU has ${state.pduRemaining} trailing bytes after its last PDV`);
    }
    this.events.onPdvEnd(state.header);
  }
}
