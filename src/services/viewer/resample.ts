/** Resampling of rendered RGBA images to a viewport size. */

export type ResampleMethod = 'nearest' | 'bilinear';

/**
 * Returns the largest size with the image's aspect ratio that fits in the
 * viewport, at least 1 × 1. Pixels are taken as square.
 *
 * NOTE: Pixel Aspect Ratio (0028,0034) and unequal Pixel Spacing are not
 * applied, so images with non-square pixels are shown stretched.
 */
export function fitToViewport(width: number, height: number, viewportWidth: number, viewportHeight: number): { width: number; height: number } {
  const scale = Math.min(viewportWidth / width, viewportHeight / height);
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/** Resamples an RGBA image to `targetWidth` × `targetHeight` with nearest neighbour or bilinear interpolation. */
export function resampleRgba(
  rgba: Uint8Array,
  width: number,
  height: number,
  targetWidth: number,
  targetHeight: number,
  method: ResampleMethod = 'bilinear',
): Uint8Array {
  if (targetWidth === width && targetHeight === height) return rgba;
  const output = new Uint8Array(targetWidth * targetHeight * 4);
  const scaleX = width / targetWidth;
  const scaleY = height / targetHeight;

  for (let y = 0; y < targetHeight; y++) {
    // Pixel centres are aligned: target pixel y covers source rows around (y + 0.5) × scale - 0.5.
    const sourceY = Math.min(height - 1, Math.max(0, (y + 0.5) * scaleY - 0.5));
    for (let x = 0; x < targetWidth; x++) {
      const sourceX = Math.min(width - 1, Math.max(0, (x + 0.5) * scaleX - 0.5));
      const target = (y * targetWidth + x) * 4;
      if (method === 'nearest') {
        const source = (Math.round(sourceY) * width + Math.round(sourceX)) * 4;
        for (let c = 0; c < 4; c++) output[target + c] = rgba[source + c];
        continue;
      }
      const x0 = Math.floor(sourceX);
      const y0 = Math.floor(sourceY);
      const x1 = Math.min(width - 1, x0 + 1);
      const y1 = Math.min(height - 1, y0 + 1);
      const fx = sourceX - x0;
      const fy = sourceY - y0;
      for (let c = 0; c < 4; c++) {
        const top = rgba[(y0 * width + x0) * 4 + c] * (1 - fx) + rgba[(y0 * width + x1) * 4 + c] * fx;
        const bottom = rgba[(y1 * width + x0) * 4 + c] * (1 - fx) + rgba[(y1 * width + x1) * 4 + c] * fx;
        output[target + c] = Math.round(top * (1 - fy) + bottom * fy);
      }
    }
  }
  return output;
}
