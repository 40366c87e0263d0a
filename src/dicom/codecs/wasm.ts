/**
 * Loads the Emscripten builds of OpenJPEG, CharLS and libjpeg-turbo that the
 * @cornerstonejs/codec-* packages ship, each once per process.
 *
 * The decode-only WebAssembly builds are loaded through their package subpath
 * exports with a require created at run time, so webpack leaves them in
 * node_modules (its externals match only whole package names). The module
 * factory then reads its .wasm file from the package folder itself.
 */
import { createRequire } from 'node:module';

import { createLogger } from '../../services/logger';

const logger = createLogger('loader.codecs');

/** An embind object whose C++ memory is freed by delete(). */
export interface WasmObject {
  delete(): void;
}

export interface WasmFrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned?: boolean;
}

/** The decoder classes of the three packages share this shape (Cornerstone codecs 1.2 and 1.3). */
export interface WasmDecoder extends WasmObject {
  /** Resizes the input buffer in WebAssembly memory and returns a view of it. */
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  /** A view of, or for some builds a copy of, the decoded samples. */
  getDecodedBuffer(): Uint8Array;
  getFrameInfo(): WasmFrameInfo;
}

export interface OpenJpegDecoder extends WasmDecoder {
  getIsReversible(): boolean;
  getColorSpace(): number;
}

export interface CharlsDecoder extends WasmDecoder {
  getInterleaveMode(): number;
  getNearLossless(): number;
}

export interface OpenJpegModule {
  J2KDecoder: new () => OpenJpegDecoder;
}

export interface CharlsModule {
  JpegLSDecoder: new () => CharlsDecoder;
  getExceptionMessage?(exception: unknown): unknown;
}

export interface LibJpegTurboModule {
  JPEGDecoder: new () => WasmDecoder;
}

interface EmscriptenOptions {
  print(text: string): void;
  printErr(text: string): void;
}

type ModuleFactory<T> = (options: EmscriptenOptions) => Promise<T>;

const load = createRequire(__filename);
const modules = new Map<string, Promise<unknown>>();

/**
 * Output a codec writes with printf (OpenJPEG reports decode errors this way
 * instead of failing), kept per codec until takeCodecMessages reads it.
 */
const messages = new Map<string, string[]>();

/** Returns and clears the lines that a codec printed since the last call. */
export function takeCodecMessages(codec: string): string[] {
  const lines = messages.get(codec) ?? [];
  messages.set(codec, []);
  return lines;
}

function loadModule<T>(codec: string, specifier: string): Promise<T> {
  let module = modules.get(specifier) as Promise<T> | undefined;
  if (!module) {
    const factory = load(specifier) as ModuleFactory<T>;
    const record = (text: string) => {
      const lines = messages.get(codec) ?? [];
      // Keep the last few lines only: a damaged file must not grow this list without bound.
      if (lines.length >= 20) lines.shift();
      lines.push(text.trim());
      messages.set(codec, lines);
    };
    module = factory({ print: record, printErr: record });
    module.catch((error: Error) => logger.error('Loading a WebAssembly codec failed', { codec, specifier, error: error.message }));
    modules.set(specifier, module);
  }
  return module;
}

export function loadOpenJpeg(): Promise<OpenJpegModule> {
  return loadModule('openjpeg', '@cornerstonejs/codec-openjpeg/decodewasmjs');
}

export function loadCharls(): Promise<CharlsModule> {
  return loadModule('charls', '@cornerstonejs/codec-charls/decodewasmjs');
}

export function loadLibJpegTurbo(): Promise<LibJpegTurboModule> {
  return loadModule('libjpeg-turbo', '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs');
}

/**
 * Runs `decode` on a new decoder holding a copy of `frame`, then deletes the
 * decoder, which frees its WebAssembly memory. `decode` must copy what it
 * keeps out of that memory before it returns.
 */
export function withDecoder<D extends WasmDecoder, R>(decoder: D, frame: Buffer, decode: (decoder: D) => R): R {
  try {
    decoder.getEncodedBuffer(frame.length).set(frame);
    return decode(decoder);
  } finally {
    decoder.delete();
  }
}

/** Describes what a WebAssembly decoder threw: C++ exceptions arrive as numbers, libjpeg-turbo's as pointers to text. */
export function describeThrown(error: unknown, module?: CharlsModule): string {
  if (error instanceof Error) return error.message;
  if (module?.getExceptionMessage && typeof error === 'number') {
    try {
      const message = module.getExceptionMessage(error);
      if (Array.isArray(message)) return message.filter((part) => typeof part === 'string' && part !== '').join(': ');
      if (typeof message === 'string') return message;
    } catch {
      // Fall through to the generic text.
    }
  }
  return `exception ${String(error)}`;
}
