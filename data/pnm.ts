/**
 * Netpbm decoder: P1-P6 (bitmap, gray, RGB; ASCII and binary), maxval up to 65535. Values are
 * scaled to 8 bit as `round(v * 255 / maxval)`, so 16-bit files keep their full range.
 *
 * @module
 */
import { checkDims, ImageDecodeError, type RawImage } from "./raw.ts";

/** Whether `b` starts like a Netpbm file (`P1`..`P6` then whitespace). */
export function isPnm(b: Uint8Array): boolean {
  return b.length >= 3 && b[0] === 0x50 && b[1] >= 0x31 && b[1] <= 0x36 && isSpace(b[2]);
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0b || c === 0x0c;
}

/** Decodes a Netpbm image; throws {@link ImageDecodeError} when corrupt or truncated. */
export function decodePnm(b: Uint8Array): RawImage {
  if (!isPnm(b)) throw new ImageDecodeError("pnm: bad magic");
  const kind = b[1] - 0x30;
  let pos = 2;
  const token = (): number => {
    for (;;) {
      while (pos < b.length && isSpace(b[pos])) pos++;
      if (b[pos] === 0x23) { // '#' comment to end of line
        while (pos < b.length && b[pos] !== 0x0a && b[pos] !== 0x0d) pos++;
      } else break;
    }
    const start = pos;
    let v = 0;
    while (pos < b.length && b[pos] >= 0x30 && b[pos] <= 0x39) v = v * 10 + b[pos++] - 0x30;
    if (pos === start) throw new ImageDecodeError("pnm: truncated or bad header");
    return v;
  };
  const width = token(), height = token();
  const bitmap = kind === 1 || kind === 4;
  const maxval = bitmap ? 1 : token();
  checkDims("pnm", width, height);
  if (maxval < 1 || maxval > 65535) throw new ImageDecodeError(`pnm: bad maxval ${maxval}`);
  const channels = kind === 3 || kind === 6 ? 3 : 1;
  const n = width * height * channels;
  const out = new Uint8Array(n);
  const scale = (v: number): number => {
    if (v > maxval) throw new ImageDecodeError(`pnm: sample ${v} above maxval ${maxval}`);
    return maxval === 255 ? v : Math.round((v * 255) / maxval);
  };
  if (kind <= 3) { // ASCII
    for (let i = 0; i < n; i++) {
      if (kind === 1) {
        while (pos < b.length && (isSpace(b[pos]) || b[pos] === 0x23)) {
          if (b[pos] === 0x23) { while (pos < b.length && b[pos] !== 0x0a) pos++; }
          else pos++;
        }
        if (pos >= b.length) throw new ImageDecodeError("pnm: truncated pixel data");
        out[i] = b[pos++] === 0x31 ? 0 : 255; // 1 is black
      } else out[i] = scale(token());
    }
    return { data: out, width, height, channels };
  }
  if (!isSpace(b[pos] ?? 0)) throw new ImageDecodeError("pnm: bad header");
  pos++; // exactly one whitespace before binary data
  if (kind === 4) {
    const stride = Math.ceil(width / 8);
    if (pos + stride * height > b.length) throw new ImageDecodeError("pnm: truncated pixel data");
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const bit = (b[pos + y * stride + (x >> 3)] >> (7 - (x & 7))) & 1;
        out[y * width + x] = bit ? 0 : 255;
      }
    }
    return { data: out, width, height, channels };
  }
  const wide = maxval > 255;
  if (pos + n * (wide ? 2 : 1) > b.length) throw new ImageDecodeError("pnm: truncated pixel data");
  for (let i = 0; i < n; i++) {
    out[i] = scale(wide ? (b[pos + 2 * i] << 8) | b[pos + 2 * i + 1] : b[pos + i]);
  }
  return { data: out, width, height, channels };
}
