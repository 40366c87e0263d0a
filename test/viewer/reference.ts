/**
 * Reference pixels for the viewer tests: pydicom's pixel_array, made at test
 * time by Debian's /usr/bin/python3 (python3-pydicom and python3-numpy), and
 * conversion of the viewer's frames to the same sample values.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import type { NativeFrame } from '../../src/services/viewer';
import { makeTempDir } from '../support/process';

export const PYTHON = '/usr/bin/python3';

/**
 * Writes pixel_array as little endian float64, frames × rows × columns ×
 * samples, with bits above Bits Stored cleared or sign-extended as the viewer
 * does (PS3.5 section 8.1.1).
 */
const PYDICOM_SCRIPT = `
import sys, json, numpy, pydicom
dataset = pydicom.dcmread(sys.argv[1])
array = dataset.pixel_array.astype(numpy.int64)
frames = int(getattr(dataset, 'NumberOfFrames', 1) or 1)
samples = int(dataset.SamplesPerPixel)
array = array.reshape((frames, int(dataset.Rows), int(dataset.Columns), samples))
bits = int(dataset.BitsStored)
if int(dataset.BitsAllocated) > 1:
    array = array & ((1 << bits) - 1)
    if int(dataset.PixelRepresentation) == 1:
        array = numpy.where(array >= (1 << (bits - 1)), array - (1 << bits), array)
open(sys.argv[2], 'wb').write(array.astype('<f8').tobytes())
print(json.dumps({'frames': frames, 'samples': samples}))
`;

export interface ReferencePixels {
  frames: number;
  samples: number;
  /** frames × rows × columns × samples values, colour-by-pixel. */
  values: Float64Array;
}

export function havePydicom(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import pydicom, numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Decodes every frame of a file with pydicom. */
export function pydicomPixels(file: string): ReferencePixels {
  const output = path.join(makeTempDir('viewer-reference'), 'pixels.f64');
  const stdout = execFileSync(PYTHON, ['-c', PYDICOM_SCRIPT, file, output], { encoding: 'utf8' });
  const { frames, samples } = JSON.parse(stdout) as { frames: number; samples: number };
  const bytes = fs.readFileSync(output);
  const values = new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  return { frames, samples, values };
}

/** Returns a native frame's samples as numbers, masked or sign-extended to Bits Stored. */
export function frameSamples(frame: NativeFrame): Float64Array {
  const bytes = frame.bitsAllocated / 8;
  const count = frame.pixels.length / bytes;
  const values = new Float64Array(count);
  const shift = 32 - frame.bitsStored;
  for (let index = 0; index < count; index++) {
    let raw: number;
    if (bytes === 1) raw = frame.pixels[index];
    else if (bytes === 2) raw = frame.pixels.readUInt16LE(index * 2);
    else raw = frame.pixels.readUInt32LE(index * 4);
    values[index] = frame.pixelRepresentation === 1 ? (raw << shift) >> shift : (raw << shift) >>> shift;
  }
  return values;
}

/** Returns the largest absolute difference between two equally long arrays. */
export function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} and ${b.length}`);
  let max = 0;
  for (let index = 0; index < a.length; index++) max = Math.max(max, Math.abs(a[index] - b[index]));
  return max;
}
