/**
 * Attributes a viewer needs to display an image: the Image Pixel module
 * (PS3.3 C.7.6.3), the Modality LUT module (C.11.1), the VOI LUT module
 * (C.11.2) and the palette colour lookup tables (C.7.6.3.1.5 and C.7.9).
 */
import type { Dataset } from '../../dicom/dataset';
import { Tags } from '../../dicom/tags';

const PLANAR_CONFIGURATION = 0x00280006;
const WINDOW_CENTER_WIDTH_EXPLANATION = 0x00281055;
const VOI_LUT_FUNCTION = 0x00281056;
const RED_PALETTE_DESCRIPTOR = 0x00281101;
const GREEN_PALETTE_DESCRIPTOR = 0x00281102;
const BLUE_PALETTE_DESCRIPTOR = 0x00281103;
const RED_PALETTE_DATA = 0x00281201;
const GREEN_PALETTE_DATA = 0x00281202;
const BLUE_PALETTE_DATA = 0x00281203;
const SEGMENTED_RED_PALETTE_DATA = 0x00281221;
const SEGMENTED_GREEN_PALETTE_DATA = 0x00281222;
const SEGMENTED_BLUE_PALETTE_DATA = 0x00281223;
const RESCALE_TYPE = 0x00281054;

/** A Window Center and Window Width pair from the data set, with its explanation when present. */
export interface WindowValues {
  center: number;
  width: number;
  explanation?: string;
}

/** VOI LUT Function (0028,1056) defined terms; LINEAR is the default when the attribute is absent. */
export type VoiLutFunction = 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID';

/** One channel of a palette colour lookup table, expanded to one entry per input value. */
export interface PaletteChannel {
  /** Number of entries; a descriptor value of 0 means 65536 (PS3.3 C.7.6.3.1.5). */
  entries: number;
  /** First stored pixel value mapped; smaller values take entry 0 and larger values the last entry. */
  firstMappedValue: number;
  /** Bits per entry: 8 or 16. */
  bitsPerEntry: number;
  /** One value per entry, 0 to 2^bitsPerEntry - 1. */
  data: Uint16Array;
}

export interface PaletteColorLut {
  red: PaletteChannel;
  green: PaletteChannel;
  blue: PaletteChannel;
  /** The tables came from Segmented Palette Color Lookup Table Data (0028,1221-1223). */
  segmented: boolean;
}

/** Image attributes of one instance, as the viewer reads them. */
export interface ViewerImageInfo {
  rows: number;
  columns: number;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  /** 0 for unsigned, 1 for two's complement samples. */
  pixelRepresentation: number;
  samplesPerPixel: number;
  /** 0 for colour-by-pixel, 1 for colour-by-plane, as stored in the file. */
  planarConfiguration: number;
  /** As stored in the file; decoded frames may differ (see NativeFrame.photometricInterpretation). */
  photometricInterpretation: string;
  numberOfFrames: number;
  rescaleSlope: number;
  rescaleIntercept: number;
  rescaleType?: string;
  /** Every Window Center and Width pair of the file, in file order; empty when the file has none. */
  windows: WindowValues[];
  voiLutFunction: VoiLutFunction;
  /** Present only for PALETTE COLOR images whose tables could be read. */
  palette?: PaletteColorLut;
}

/** The data set lacks or has invalid image attributes, so no frame can be read. */
export class ImageAttributeError extends Error {
  override name = 'ImageAttributeError';
}

/** Reads the viewer's image attributes from a data set. Throws ImageAttributeError when a required one is missing or invalid. */
export function readViewerImageInfo(dataset: Dataset): ViewerImageInfo {
  const rows = requireNumber(dataset, Tags.Rows, 'Rows');
  const columns = requireNumber(dataset, Tags.Columns, 'Columns');
  const bitsAllocated = requireNumber(dataset, Tags.BitsAllocated, 'Bits Allocated');
  const samplesPerPixel = dataset.getNumber(Tags.SamplesPerPixel) ?? 1;
  const bitsStored = dataset.getNumber(Tags.BitsStored) ?? bitsAllocated;
  if (rows <= 0 || columns <= 0) throw new ImageAttributeError(`Rows ${rows} and Columns ${columns} must be positive`);
  if (![1, 8, 16, 32].includes(bitsAllocated)) throw new ImageAttributeError(`Bits Allocated ${bitsAllocated} is not 1, 8, 16 or 32`);
  if (bitsStored < 1 || bitsStored > bitsAllocated) {
    throw new ImageAttributeError(`Bits Stored ${bitsStored} must be between 1 and Bits Allocated ${bitsAllocated}`);
  }
  if (samplesPerPixel !== 1 && samplesPerPixel !== 3) throw new ImageAttributeError(`Samples per Pixel ${samplesPerPixel} is not 1 or 3`);

  const photometricInterpretation = (dataset.getString(Tags.PhotometricInterpretation) || (samplesPerPixel === 1 ? 'MONOCHROME2' : 'RGB')).toUpperCase();
  const numberOfFrames = Math.max(1, Math.trunc(dataset.getNumber(Tags.NumberOfFrames) ?? 1));
  const slope = dataset.getNumber(Tags.RescaleSlope);
  const rescaleType = dataset.getString(RESCALE_TYPE);

  const info: ViewerImageInfo = {
    rows,
    columns,
    bitsAllocated,
    bitsStored,
    highBit: dataset.getNumber(Tags.HighBit) ?? bitsStored - 1,
    pixelRepresentation: dataset.getNumber(Tags.PixelRepresentation) ?? 0,
    samplesPerPixel,
    planarConfiguration: dataset.getNumber(PLANAR_CONFIGURATION) ?? 0,
    photometricInterpretation,
    numberOfFrames,
    // A slope of 0 would map every pixel to the intercept, which no real image means, so it is read as 1.
    rescaleSlope: slope === undefined || slope === 0 ? 1 : slope,
    rescaleIntercept: dataset.getNumber(Tags.RescaleIntercept) ?? 0,
    windows: readWindows(dataset),
    voiLutFunction: readVoiLutFunction(dataset),
  };
  if (rescaleType) info.rescaleType = rescaleType;
  if (photometricInterpretation === 'PALETTE COLOR') {
    const palette = readPalette(dataset);
    if (palette) info.palette = palette;
  }
  return info;
}

function requireNumber(dataset: Dataset, tag: number, name: string): number {
  const value = dataset.getNumber(tag);
  if (value === undefined) throw new ImageAttributeError(`${name} is missing, so the pixel data cannot be read`);
  return value;
}

function readDecimalStrings(dataset: Dataset, tag: number): number[] {
  return dataset.getStrings(tag).map((text) => Number(text.trim()));
}

/**
 * Pairs Window Center and Window Width values by position (PS3.3 C.11.2.1.2).
 * Pairs with a non-numeric value or a width below 1 are skipped, because the
 * LINEAR function divides by width - 1.
 */
function readWindows(dataset: Dataset): WindowValues[] {
  const centers = readDecimalStrings(dataset, Tags.WindowCenter);
  const widths = readDecimalStrings(dataset, Tags.WindowWidth);
  const explanations = dataset.getStrings(WINDOW_CENTER_WIDTH_EXPLANATION);
  const windows: WindowValues[] = [];
  for (let index = 0; index < Math.min(centers.length, widths.length); index++) {
    const center = centers[index];
    const width = widths[index];
    if (!Number.isFinite(center) || !Number.isFinite(width) || width < 1) continue;
    const window: WindowValues = { center, width };
    if (explanations[index]) window.explanation = explanations[index];
    windows.push(window);
  }
  return windows;
}

function readVoiLutFunction(dataset: Dataset): VoiLutFunction {
  const value = (dataset.getString(VOI_LUT_FUNCTION) ?? '').toUpperCase();
  return value === 'LINEAR_EXACT' || value === 'SIGMOID' ? value : 'LINEAR';
}

/** Returns the words of an OW or US element in the data set's byte order. */
function readWords(dataset: Dataset, tag: number): Uint16Array | undefined {
  const value = dataset.get(tag)?.value;
  if (!value || value.length < 2) return undefined;
  const words = new Uint16Array(value.length >> 1);
  const littleEndian = dataset.encoding.littleEndian;
  for (let index = 0; index < words.length; index++) {
    words[index] = littleEndian ? value.readUInt16LE(index * 2) : value.readUInt16BE(index * 2);
  }
  return words;
}

/**
 * Reads the three palette colour lookup tables, normal or segmented.
 * Returns undefined when a descriptor or its data is missing.
 */
function readPalette(dataset: Dataset): PaletteColorLut | undefined {
  const channels: [number, number, number][] = [
    [RED_PALETTE_DESCRIPTOR, RED_PALETTE_DATA, SEGMENTED_RED_PALETTE_DATA],
    [GREEN_PALETTE_DESCRIPTOR, GREEN_PALETTE_DATA, SEGMENTED_GREEN_PALETTE_DATA],
    [BLUE_PALETTE_DESCRIPTOR, BLUE_PALETTE_DATA, SEGMENTED_BLUE_PALETTE_DATA],
  ];
  const result: PaletteChannel[] = [];
  let segmented = false;
  for (const [descriptorTag, dataTag, segmentedTag] of channels) {
    const descriptor = readDescriptor(dataset, descriptorTag);
    if (!descriptor) return undefined;
    const value = dataset.get(dataTag)?.value;
    let data: Uint16Array | undefined;
    if (value && value.length > 0) {
      data = readPaletteData(dataset, dataTag, value, descriptor.entries, descriptor.bitsPerEntry);
    } else {
      const segments = readWords(dataset, segmentedTag);
      if (segments) {
        data = expandSegmentedLut(segments, descriptor.entries);
        segmented = true;
      }
    }
    if (!data) return undefined;
    result.push({ ...descriptor, data });
  }
  return { red: result[0], green: result[1], blue: result[2], segmented };
}

function readDescriptor(dataset: Dataset, tag: number): Omit<PaletteChannel, 'data'> | undefined {
  const value = dataset.get(tag)?.value;
  if (!value || value.length < 6) return undefined;
  const littleEndian = dataset.encoding.littleEndian;
  const word = (index: number) => (littleEndian ? value.readUInt16LE(index * 2) : value.readUInt16BE(index * 2));
  const entries = word(0) === 0 ? 65536 : word(0);
  // The first mapped value is US or SS depending on Pixel Representation (PS3.3 C.7.6.3.1.5).
  const rawFirst = word(1);
  const firstMappedValue = (dataset.getNumber(Tags.PixelRepresentation) ?? 0) === 1 && rawFirst >= 0x8000 ? rawFirst - 0x10000 : rawFirst;
  return { entries, firstMappedValue, bitsPerEntry: word(2) === 8 ? 8 : 16 };
}

/**
 * Reads palette data of `entries` values. Writers store eight-bit tables
 * either packed two entries to a word or one entry per 16-bit word, so the
 * layout is chosen by the data length.
 */
function readPaletteData(dataset: Dataset, tag: number, value: Buffer, entries: number, bitsPerEntry: number): Uint16Array | undefined {
  if (bitsPerEntry === 8 && value.length === entries + (entries % 2) && value.length < entries * 2) {
    return Uint16Array.from(value.subarray(0, entries));
  }
  const words = readWords(dataset, tag);
  if (!words || words.length < entries) return undefined;
  return words.subarray(0, entries);
}

/**
 * Expands Segmented Palette Color Lookup Table Data (PS3.3 C.7.9.2): discrete
 * segments (opcode 0), linear segments (1) and indirect segments (2), which
 * repeat `count` earlier segments starting at a word offset into the data.
 */
export function expandSegmentedLut(segments: Uint16Array, entries: number): Uint16Array {
  const output: number[] = [];

  // Expands up to `maxSegments` segments from word `position`; indirect segments are not followed when nested.
  const expand = (start: number, maxSegments: number, nested: boolean): void => {
    let position = start;
    for (let count = 0; count < maxSegments && position + 1 < segments.length && output.length < entries; count++) {
      const opcode = segments[position];
      const length = segments[position + 1];
      if (opcode === 0) {
        for (let index = 0; index < length; index++) output.push(segments[position + 2 + index] ?? 0);
        position += 2 + length;
      } else if (opcode === 1) {
        // The line runs from the last value written to the segment's value.
        const from = output.length > 0 ? output[output.length - 1] : 0;
        const to = segments[position + 2] ?? 0;
        for (let index = 1; index <= length; index++) output.push(Math.round(from + ((to - from) * index) / length));
        position += 3;
      } else if (opcode === 2 && !nested) {
        const offset = (segments[position + 2] ?? 0) | ((segments[position + 3] ?? 0) << 16);
        expand(offset, length, true);
        position += 4;
      } else {
        return;
      }
    }
  };
  expand(0, Number.MAX_SAFE_INTEGER, false);

  const table = new Uint16Array(entries);
  for (let index = 0; index < entries; index++) table[index] = output[Math.min(index, output.length - 1)] ?? 0;
  return table;
}
