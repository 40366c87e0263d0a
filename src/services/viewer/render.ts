/**
 * Renders a native frame to 8-bit RGBA (byte order R, G, B, A; what a Qt
 * QImage of Format_RGBA8888 displays).
 *
 * Greyscale frames go through the grayscale pipeline of PS3.3 C.11: the
 * modality LUT as Rescale Slope and Intercept, then the VOI window, then
 * inversion for MONOCHROME1. Palette colour frames go through their lookup
 * tables, YBR_FULL frames are converted to RGB, and RGB frames pass through.
 */
import type { NativeFrame } from './frame-source';
import type { PaletteChannel, ViewerImageInfo, VoiLutFunction } from './image-info';

/** A VOI window in modality units (Hounsfield units for CT). */
export interface VoiWindow {
  center: number;
  width: number;
}

/**
 * Window presets for CT in Hounsfield units, as width/level: soft tissue
 * W400/L40, lung W1500/L-600, bone W2000/L300, brain W80/L40.
 */
export const VOI_PRESETS = {
  'soft-tissue': { center: 40, width: 400 },
  lung: { center: -600, width: 1500 },
  bone: { center: 300, width: 2000 },
  brain: { center: 40, width: 80 },
} as const satisfies Record<string, VoiWindow>;

export type VoiPresetName = keyof typeof VOI_PRESETS;

export interface RenderOptions {
  /** Window to apply; takes precedence over `preset` and the file's values. */
  window?: VoiWindow;
  preset?: VoiPresetName;
  /** Zero-based index of the file's Window Center/Width pair used when no window or preset is given; default 0. */
  fileWindowIndex?: number;
  /** Inverts greyscale output after the MONOCHROME1 inversion, for a user's invert command. */
  invert?: boolean;
}

/** Origin of the applied window: the request, a preset, the file, or the frame's minimum and maximum. */
export type WindowSource = 'request' | 'preset' | 'file' | 'min-max';

export interface RenderedImage {
  /** width × height × 4 bytes, R G B A, alpha 255. */
  rgba: Uint8Array;
  width: number;
  height: number;
  /** The window applied to a greyscale frame; absent for colour frames. */
  window?: VoiWindow & { source: WindowSource; voiLutFunction: VoiLutFunction };
}

/** The frame cannot be rendered: unknown Photometric Interpretation or missing palette. */
export class RenderError extends Error {
  override name = 'RenderError';
}

/** Renders one native frame of an image with `info` attributes to RGBA. Throws RenderError for an unsupported colour model. */
export function renderFrame(frame: NativeFrame, info: ViewerImageInfo, options: RenderOptions = {}): RenderedImage {
  const width = info.columns;
  const height = info.rows;
  const photometric = frame.photometricInterpretation;
  if (photometric === 'MONOCHROME1' || photometric === 'MONOCHROME2') return renderGreyscale(frame, info, options);
  if (frame.samplesPerPixel === 1 && photometric === 'PALETTE COLOR') {
    if (!info.palette) throw new RenderError('PALETTE COLOR image has no readable palette colour lookup tables (0028,1101-1203)');
    return { rgba: renderPalette(frame, info), width, height };
  }
  if (frame.samplesPerPixel === 3 && (photometric === 'RGB' || photometric === 'YBR_FULL')) {
    return { rgba: renderColour(frame, width * height, photometric === 'YBR_FULL'), width, height };
  }
  throw new RenderError(`Photometric Interpretation ${photometric} with ${frame.samplesPerPixel} samples per pixel is not supported for display`);
}

/** Returns a reader of sample `index` as a signed or unsigned stored value, masked to Bits Stored. */
function sampleReader(frame: NativeFrame): (index: number) => number {
  const { pixels, bitsAllocated, bitsStored, pixelRepresentation } = frame;
  const signed = pixelRepresentation === 1;
  // Bits above Bits Stored may hold overlays or garbage (PS3.5 section 8.1.1), so they are cleared or sign-extended.
  const shift = 32 - bitsStored;
  const fix = signed ? (value: number) => (value << shift) >> shift : (value: number) => (value << shift) >>> shift;
  if (bitsAllocated === 8) return (index) => fix(pixels[index]);
  if (bitsAllocated === 16) return (index) => fix(pixels.readUInt16LE(index * 2));
  return (index) => fix(pixels.readUInt32LE(index * 4));
}

/** Maps a modality value to 0..255 with the VOI LUT function of PS3.3 C.11.2.1.2 and C.11.2.1.3. */
export function applyVoi(x: number, window: VoiWindow, voiFunction: VoiLutFunction): number {
  const { center: c, width: w } = window;
  let y: number;
  if (voiFunction === 'SIGMOID') {
    y = 255 / (1 + Math.exp((-4 * (x - c)) / w));
  } else if (voiFunction === 'LINEAR_EXACT') {
    if (x <= c - w / 2) y = 0;
    else if (x > c + w / 2) y = 255;
    else y = ((x - c) / w + 0.5) * 255;
  } else {
    // LINEAR: the window's lower edge is c - 0.5 - (w - 1) / 2 and its upper edge c - 0.5 + (w - 1) / 2.
    if (x <= c - 0.5 - (w - 1) / 2) y = 0;
    else if (x > c - 0.5 + (w - 1) / 2) y = 255;
    else y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255;
  }
  return Math.min(255, Math.max(0, Math.round(y)));
}

/**
 * Returns the LINEAR window that maps the smallest modality value to 0 and the
 * largest to 255; a flat frame gets width 1, so every pixel maps to 0.
 */
export function minMaxWindow(minimum: number, maximum: number): VoiWindow {
  const width = Math.max(1, maximum - minimum + 1);
  return { center: minimum + width / 2, width };
}

function chooseWindow(
  info: ViewerImageInfo,
  options: RenderOptions,
  storedRange: () => [number, number],
): { window: VoiWindow; source: WindowSource; voiLutFunction: VoiLutFunction } {
  const valid = (window: VoiWindow | undefined) => window !== undefined && Number.isFinite(window.center) && Number.isFinite(window.width) && window.width > 0;
  if (valid(options.window)) return { window: options.window!, source: 'request', voiLutFunction: info.voiLutFunction };
  if (options.preset !== undefined) {
    const preset: VoiWindow | undefined = VOI_PRESETS[options.preset];
    if (!preset) throw new RenderError(`unknown window preset "${options.preset}"; use one of ${Object.keys(VOI_PRESETS).join(', ')}`);
    return { window: preset, source: 'preset', voiLutFunction: 'LINEAR' };
  }
  const fileWindow = info.windows[options.fileWindowIndex ?? 0] ?? info.windows[0];
  if (fileWindow) return { window: { center: fileWindow.center, width: fileWindow.width }, source: 'file', voiLutFunction: info.voiLutFunction };

  const [low, high] = storedRange();
  const a = low * info.rescaleSlope + info.rescaleIntercept;
  const b = high * info.rescaleSlope + info.rescaleIntercept;
  return { window: minMaxWindow(Math.min(a, b), Math.max(a, b)), source: 'min-max', voiLutFunction: 'LINEAR' };
}

/** Largest Bits Stored for which a lookup table over every stored value is built (65536 entries). */
const MAX_LUT_BITS = 16;

function renderGreyscale(frame: NativeFrame, info: ViewerImageInfo, options: RenderOptions): RenderedImage {
  const width = info.columns;
  const height = info.rows;
  const count = width * height;
  const read = sampleReader(frame);

  const storedRange = (): [number, number] => {
    let low = Infinity;
    let high = -Infinity;
    for (let index = 0; index < count; index++) {
      const value = read(index);
      if (value < low) low = value;
      if (value > high) high = value;
    }
    return [low, high];
  };
  const chosen = chooseWindow(info, options, storedRange);
  const invert = (frame.photometricInterpretation === 'MONOCHROME1') !== (options.invert === true);
  const slope = info.rescaleSlope;
  const intercept = info.rescaleIntercept;
  const toOutput = (stored: number) => {
    const level = applyVoi(stored * slope + intercept, chosen.window, chosen.voiLutFunction);
    return invert ? 255 - level : level;
  };

  const rgba = new Uint8Array(count * 4);
  if (frame.bitsStored <= MAX_LUT_BITS) {
    // One table entry per possible stored value makes the per-pixel work a single lookup.
    const offset = frame.pixelRepresentation === 1 ? 1 << (frame.bitsStored - 1) : 0;
    const lut = new Uint8Array(1 << frame.bitsStored);
    for (let entry = 0; entry < lut.length; entry++) lut[entry] = toOutput(entry - offset);
    for (let index = 0; index < count; index++) {
      const level = lut[read(index) + offset];
      const target = index * 4;
      rgba[target] = level;
      rgba[target + 1] = level;
      rgba[target + 2] = level;
      rgba[target + 3] = 255;
    }
  } else {
    for (let index = 0; index < count; index++) {
      const level = toOutput(read(index));
      const target = index * 4;
      rgba[target] = level;
      rgba[target + 1] = level;
      rgba[target + 2] = level;
      rgba[target + 3] = 255;
    }
  }
  return { rgba, width, height, window: { ...chosen.window, source: chosen.source, voiLutFunction: chosen.voiLutFunction } };
}

/**
 * Returns a channel's table scaled to 8 bits. Sixteen-bit entries are shifted
 * right by 8, except in tables whose entries all fit in 8 bits: some writers
 * store 8-bit values in 16-bit entries, and shifting those would give black.
 */
function paletteTo8Bits(channel: PaletteChannel): Uint8Array {
  const table = new Uint8Array(channel.entries);
  let maximum = 0;
  for (const value of channel.data) if (value > maximum) maximum = value;
  const shift = channel.bitsPerEntry === 16 && maximum > 255 ? 8 : 0;
  for (let index = 0; index < channel.entries; index++) table[index] = Math.min(255, channel.data[index] >> shift);
  return table;
}

function renderPalette(frame: NativeFrame, info: ViewerImageInfo): Uint8Array {
  const palette = info.palette!;
  const count = info.rows * info.columns;
  const read = sampleReader(frame);
  const channels = [palette.red, palette.green, palette.blue].map((channel) => ({ channel, table: paletteTo8Bits(channel) }));
  const rgba = new Uint8Array(count * 4);
  for (let index = 0; index < count; index++) {
    const value = read(index);
    const target = index * 4;
    for (let c = 0; c < 3; c++) {
      const { channel, table } = channels[c];
      // Values below the first mapped value take the first entry, values past the end the last (PS3.3 C.7.6.3.1.5).
      const entry = Math.min(channel.entries - 1, Math.max(0, value - channel.firstMappedValue));
      rgba[target + c] = table[entry];
    }
    rgba[target + 3] = 255;
  }
  return rgba;
}

function clampByte(value: number): number {
  return Math.min(255, Math.max(0, Math.round(value)));
}

/**
 * Copies colour-by-pixel RGB to RGBA, or converts YBR_FULL to RGB with the
 * equations of PS3.3 C.7.6.3.1.2. Samples wider than 8 bits are scaled down to 8.
 */
function renderColour(frame: NativeFrame, count: number, ybr: boolean): Uint8Array {
  const read = sampleReader({ ...frame, pixelRepresentation: 0 });
  const shift = Math.max(0, frame.bitsStored - 8);
  const rgba = new Uint8Array(count * 4);
  for (let index = 0; index < count; index++) {
    const first = read(index * 3) >>> shift;
    const second = read(index * 3 + 1) >>> shift;
    const third = read(index * 3 + 2) >>> shift;
    const target = index * 4;
    if (ybr) {
      rgba[target] = clampByte(first + 1.402 * (third - 128));
      rgba[target + 1] = clampByte(first - 0.3441 * (second - 128) - 0.7141 * (third - 128));
      rgba[target + 2] = clampByte(first + 1.772 * (second - 128));
    } else {
      rgba[target] = first;
      rgba[target + 1] = second;
      rgba[target + 2] = third;
    }
    rgba[target + 3] = 255;
  }
  return rgba;
}
