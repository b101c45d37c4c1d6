/**
 * A small PNG encoder (8-bit, no filtering, zlib from `node:zlib`) for the example-views grid,
 * and a reader of a PNG's header facts (size, colour type) for TensorBoard's image summary.
 *
 * @module
 */
import { deflateSync } from "node:zlib";

const CRC_TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE, as used in PNG chunks). */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const SIGNATURE = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]);
/** PNG colour type per channel count (gray, gray+alpha, RGB, RGBA). */
const COLOR_TYPE: Record<number, number> = { 1: 0, 2: 4, 3: 2, 4: 6 };

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * Encodes 8-bit interleaved pixels (`height*width*channels` bytes, rows top to bottom) as PNG.
 * Throws a `RangeError` when the sizes do not match.
 */
export function encodePng(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 2 | 3 | 4,
): Uint8Array {
  if (!(width > 0 && height > 0 && Number.isInteger(width) && Number.isInteger(height))) {
    throw new RangeError(`encodePng: bad size ${width}x${height}`);
  }
  if (COLOR_TYPE[channels] === undefined) {
    throw new RangeError(`encodePng: channels must be 1..4, got ${channels}`);
  }
  const stride = width * channels;
  if (pixels.length !== stride * height) {
    throw new RangeError(
      `encodePng: expected ${stride * height} bytes for ${width}x${height}x${channels}, got ` +
        `${pixels.length}`,
    );
  }
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = 0; // filter: none
    raw.set(pixels.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr[8] = 8;
  ihdr[9] = COLOR_TYPE[channels];
  const idat = new Uint8Array(deflateSync(raw));
  const parts = [
    SIGNATURE,
    chunk("IHDR", ihdr),
    chunk("IDAT", idat),
    chunk("IEND", new Uint8Array()),
  ];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Header facts of a PNG file. */
export interface PngInfo {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Channels: 1 gray, 2 gray+alpha, 3 RGB (also palette), 4 RGBA (TensorBoard's colorspace). */
  channels: number;
}

/** Reads a PNG's size and channel count from its IHDR chunk; throws on a non-PNG. */
export function pngInfo(png: Uint8Array): PngInfo {
  if (png.length < 33 || SIGNATURE.some((b, i) => png[i] !== b)) {
    throw new TypeError("pngInfo: not a PNG file (bad signature)");
  }
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const type = String.fromCharCode(...png.subarray(12, 16));
  if (type !== "IHDR") throw new TypeError("pngInfo: first chunk is not IHDR");
  const colorType = png[25];
  const channels = ({ 0: 1, 2: 3, 3: 3, 4: 2, 6: 4 } as Record<number, number>)[colorType];
  if (channels === undefined) throw new TypeError(`pngInfo: bad colour type ${colorType}`);
  return { width: dv.getUint32(16), height: dv.getUint32(20), channels };
}
