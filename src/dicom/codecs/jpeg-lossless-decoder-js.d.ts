// Declarations for jpeg-lossless-decoder-js 2.1, whose package names a types file that it does not ship.
declare module 'jpeg-lossless-decoder-js' {
  export class Decoder {
    constructor(buffer?: ArrayBufferLike, numBytes?: number);
    /** Decodes a lossless JPEG codestream; 1-byte samples come back as Uint8Array, 2-byte samples as Uint16Array. */
    decode(buffer: ArrayBufferLike, offset?: number, length?: number, numBytes?: number): Uint8Array | Uint16Array;
  }
}
