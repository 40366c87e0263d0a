/** DICOM network layer: upper layer protocol (PS3.8), DIMSE (PS3.7), server and client. */

export * from './pdu';
export { PduReader } from './pdu-reader';
export type { PdvHeader, PduReaderEvents } from './pdu-reader';
export * from './dimse';
export * from './failed-uid-list';
export * from './association';
export * from './message-assembler';
export * from './exchange';
export * from './provider';
export * from './server';
export * from './client';
export * from './dataset-source';
