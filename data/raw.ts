/**
 * Decoded pixels before resizing, for the formats sharp (libvips' npm build) cannot read:
 * BMP and Netpbm are decoded in TypeScript and handed to sharp as raw pixels.
 *
 * @module
 */

/** Interleaved 8-bit pixels, rows top to bottom. */
export interface RawImage {
  /** `height * width * channels` bytes. */
  data: Uint8Array;
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** 1 (gray) or 3 (RGB). */
  channels: 1 | 3;
}

/** An image file that cannot be decoded (corrupt, truncated, unsupported variant). */
export class ImageDecodeError extends Error {
  override name = "ImageDecodeError";
}

/** Checks decoded dimensions (positive, below `maxPixels`). */
export function checkDims(fmt: string, w: number, h: number, maxPixels = 268402689): void {
  if (!(Number.isInteger(w) && Number.isInteger(h) && w > 0 && h > 0)) {
    throw new ImageDecodeError(`${fmt}: bad dimensions ${w}x${h}`);
  }
  if (w * h > maxPixels) {
    throw new ImageDecodeError(`${fmt}: ${w}x${h} exceeds the ${maxPixels} pixel limit`);
  }
}
