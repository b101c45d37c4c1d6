/**
 * BMP decoder (Windows and OS/2 headers): 1/4/8-bit palette (uncompressed, RLE4, RLE8),
 * 16/32-bit with default or bit-field masks (`floor(v * 255 / max)`, as PIL scales), 24-bit; bottom-up and top-down. Alpha is
 * dropped, as PIL's `convert("RGB")` does. Output is RGB.
 *
 * @module
 */
import { checkDims, ImageDecodeError, type RawImage } from "./raw.ts";

/** Whether `b` starts like a BMP file. */
export function isBmp(b: Uint8Array): boolean {
  return b.length >= 26 && b[0] === 0x42 && b[1] === 0x4d;
}

function maskInfo(mask: number): { shift: number; max: number } {
  if (!mask) return { shift: 0, max: 0 };
  let shift = 0;
  while (!((mask >>> shift) & 1)) shift++;
  return { shift, max: mask >>> shift };
}

/** Decodes a BMP image; throws {@link ImageDecodeError} when corrupt, truncated or exotic. */
export function decodeBmp(b: Uint8Array): RawImage {
  if (!isBmp(b)) throw new ImageDecodeError("bmp: bad magic");
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const need = (end: number, what: string) => {
    if (end > b.length) throw new ImageDecodeError(`bmp: truncated ${what}`);
  };
  const dataOffset = dv.getUint32(10, true);
  const hsize = dv.getUint32(14, true);
  need(14 + hsize, "header");
  let width: number, height: number, bpp: number, compression = 0, colors = 0;
  const core = hsize === 12;
  if (core) {
    width = dv.getUint16(18, true);
    height = dv.getInt16(20, true);
    bpp = dv.getUint16(24, true);
  } else if (hsize >= 40) {
    width = dv.getInt32(18, true);
    height = dv.getInt32(22, true);
    bpp = dv.getUint16(28, true);
    compression = dv.getUint32(30, true);
    colors = dv.getUint32(46, true);
  } else throw new ImageDecodeError(`bmp: unsupported header size ${hsize}`);
  const topDown = height < 0;
  height = Math.abs(height);
  checkDims("bmp", width, height);
  // Bit-field masks: in the header (V2+), or right after a 40-byte header.
  let masks: number[] | null = null;
  let paletteAt = 14 + hsize;
  if (compression === 3 || compression === 6) {
    const n = compression === 6 ? 4 : 3;
    if (hsize >= 52) {
      masks = [0, 1, 2, 3].map((i) => (i < n || hsize >= 56 ? dv.getUint32(54 + 4 * i, true) : 0));
    } else {
      need(paletteAt + 4 * n, "masks");
      masks = [0, 1, 2, 3].map((i) => (i < n ? dv.getUint32(paletteAt + 4 * i, true) : 0));
      paletteAt += 4 * n;
    }
  } else if (bpp === 16) masks = [0x7c00, 0x03e0, 0x001f];
  else if (bpp === 32) masks = [0xff0000, 0x00ff00, 0x0000ff];
  const ok = compression === 0 || (compression === 1 && bpp === 8) ||
    (compression === 2 && bpp === 4) || ((compression === 3 || compression === 6) &&
      (bpp === 16 || bpp === 32));
  if (!ok || ![1, 4, 8, 16, 24, 32].includes(bpp)) {
    throw new ImageDecodeError(`bmp: unsupported ${bpp}-bit compression ${compression}`);
  }
  let palette: Uint8Array | null = null;
  if (bpp <= 8) {
    const count = colors || 1 << bpp;
    const entry = core ? 3 : 4;
    need(paletteAt + count * entry, "palette");
    palette = new Uint8Array(256 * 3);
    for (let i = 0; i < Math.min(count, 256); i++) {
      const p = paletteAt + i * entry;
      palette.set([b[p + 2], b[p + 1], b[p]], i * 3);
    }
  }
  const out = new Uint8Array(width * height * 3);
  const row = (y: number) => (topDown ? y : height - 1 - y) * width * 3; // file row -> out
  const put = (y: number, x: number, idx: number) => {
    const o = row(y) + x * 3;
    out[o] = palette![idx * 3];
    out[o + 1] = palette![idx * 3 + 1];
    out[o + 2] = palette![idx * 3 + 2];
  };
  if (compression === 1 || compression === 2) {
    decodeRle(b, dataOffset, width, height, compression === 2, put);
    return { data: out, width, height, channels: 3 };
  }
  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  need(dataOffset + stride * (height - 1) + Math.ceil((bpp * width) / 8), "pixel data");
  const fields = masks?.slice(0, 3).map(maskInfo);
  for (let y = 0; y < height; y++) {
    const src = dataOffset + y * stride;
    const dst = row(y);
    if (bpp === 24) {
      for (let x = 0; x < width; x++) {
        out[dst + 3 * x] = b[src + 3 * x + 2];
        out[dst + 3 * x + 1] = b[src + 3 * x + 1];
        out[dst + 3 * x + 2] = b[src + 3 * x];
      }
    } else if (bpp === 16 || bpp === 32) {
      for (let x = 0; x < width; x++) {
        const v = bpp === 16 ? dv.getUint16(src + 2 * x, true) : dv.getUint32(src + 4 * x, true);
        for (let c = 0; c < 3; c++) {
          const { shift, max } = fields![c];
          out[dst + 3 * x + c] = max ? Math.floor((((v >>> shift) & max) * 255) / max) : 0;
        }
      }
    } else {
      const per = 8 / bpp, mask = (1 << bpp) - 1;
      for (let x = 0; x < width; x++) {
        const byte = b[src + Math.floor(x / per)];
        put(y, x, (byte >> (8 - bpp * (1 + (x % per)))) & mask);
      }
    }
  }
  return { data: out, width, height, channels: 3 };
}

/** RLE8 / RLE4 (Windows), writing palette indices through `put(fileRow, x, index)`. */
function decodeRle(
  b: Uint8Array,
  at: number,
  width: number,
  height: number,
  four: boolean,
  put: (y: number, x: number, idx: number) => void,
): void {
  let x = 0, y = 0, p = at;
  const set = (idx: number) => {
    if (x < width && y < height) put(y, x, idx);
    x++;
  };
  for (;;) {
    if (p + 1 >= b.length) throw new ImageDecodeError("bmp: truncated RLE data");
    const n = b[p], v = b[p + 1];
    p += 2;
    if (n > 0) {
      for (let i = 0; i < n; i++) set(four ? (i & 1 ? v & 15 : v >> 4) : v);
    } else if (v === 0) { // end of line
      x = 0;
      y++;
    } else if (v === 1) return; // end of bitmap
    else if (v === 2) { // delta
      if (p + 1 >= b.length) throw new ImageDecodeError("bmp: truncated RLE data");
      x += b[p];
      y += b[p + 1];
      p += 2;
    } else { // absolute run of v pixels, padded to 16 bits
      const bytes = four ? Math.ceil(v / 2) : v;
      if (p + bytes > b.length) throw new ImageDecodeError("bmp: truncated RLE data");
      for (let i = 0; i < v; i++) {
        set(four ? (i & 1 ? b[p + (i >> 1)] & 15 : b[p + (i >> 1)] >> 4) : b[p + i]);
      }
      p += bytes + (bytes & 1);
    }
    if (y >= height) return;
  }
}
