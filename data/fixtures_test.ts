/**
 * Test fixtures for data/: temp folders, tiny BMP / Netpbm encoders (sharp cannot write
 * them), and whether sharp can run here (it needs `--allow-ffi`). Holds no tests itself.
 *
 * @module
 */

/** Whether sharp can be loaded (ffi granted); tests that decode are ignored otherwise. */
export const HAVE_SHARP: boolean = Deno.permissions.querySync({ name: "ffi" }).state === "granted";

if (!HAVE_SHARP) {
  console.warn("data tests: --allow-ffi not granted, decoding tests (sharp) are ignored");
}

/** Makes a temp folder, runs `fn` in it, removes it. */
export async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sinter_data_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Writes an empty (or given) file, creating its folder. */
export async function touch(path: string, bytes = new Uint8Array()): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeFile(path, bytes);
}

/** Options of {@link encodeBmp}. */
export interface BmpOptions {
  /** 1, 4, 8 (palette), 16 (5-6-5 bit fields), 24 or 32. */
  bpp: 1 | 4 | 8 | 16 | 24 | 32;
  /** Store rows top-down (negative height). */
  topDown?: boolean;
  /** RLE8-compress (bpp 8 only). */
  rle?: boolean;
}

/**
 * Encodes RGB pixels as BMP. For palette depths the palette is the distinct colours in
 * order of first use (must fit); 16-bit uses BI_BITFIELDS 5-6-5 (colours should be exact in
 * it); 32-bit stores alpha 0x80 (ignored by decoders).
 */
export function encodeBmp(rgb: Uint8Array, w: number, h: number, o: BmpOptions): Uint8Array {
  const { bpp } = o;
  const colors: number[] = [];
  const index = new Map<number, number>();
  if (bpp <= 8) {
    for (let i = 0; i < w * h; i++) {
      const c = (rgb[3 * i] << 16) | (rgb[3 * i + 1] << 8) | rgb[3 * i + 2];
      if (!index.has(c)) {
        index.set(c, colors.length);
        colors.push(c);
      }
    }
    if (colors.length > 1 << bpp) throw new Error("too many colours");
  }
  const stride = Math.floor((bpp * w + 31) / 32) * 4;
  const rows: number[][] = [];
  for (let fy = 0; fy < h; fy++) {
    const y = o.topDown ? fy : h - 1 - fy;
    const row = new Array(stride).fill(0);
    for (let x = 0; x < w; x++) {
      const p = (y * w + x) * 3;
      const [r, g, b] = [rgb[p], rgb[p + 1], rgb[p + 2]];
      if (bpp === 24) row.splice(3 * x, 3, b, g, r);
      else if (bpp === 32) row.splice(4 * x, 4, b, g, r, 0x80);
      else if (bpp === 16) {
        const v = ((r >> 3) << 11) | ((g >> 2) << 5) | (b >> 3);
        row.splice(2 * x, 2, v & 255, v >> 8);
      } else {
        const idx = index.get((r << 16) | (g << 8) | b)!;
        const per = 8 / bpp;
        row[Math.floor(x / per)] |= idx << (8 - bpp * (1 + (x % per)));
      }
    }
    rows.push(row);
  }
  let pixels: number[];
  if (o.rle) {
    pixels = [];
    for (const row of rows) {
      for (let x = 0; x < w;) { // encoded runs of equal indices
        let n = 1;
        while (x + n < w && n < 255 && row[x + n] === row[x]) n++;
        pixels.push(n, row[x]);
        x += n;
      }
      pixels.push(0, 0);
    }
    pixels.push(0, 1);
  } else pixels = rows.flat();
  const masks = bpp === 16 ? [0xf800, 0x07e0, 0x001f] : [];
  const palette = bpp <= 8 ? colors.flatMap((c) => [c & 255, (c >> 8) & 255, c >> 16, 0]) : [];
  const offset = 14 + 40 + masks.length * 4 + palette.length;
  const out = new Uint8Array(offset + pixels.length);
  const dv = new DataView(out.buffer);
  out.set([0x42, 0x4d]);
  dv.setUint32(2, out.length, true);
  dv.setUint32(10, offset, true);
  dv.setUint32(14, 40, true);
  dv.setInt32(18, w, true);
  dv.setInt32(22, o.topDown ? -h : h, true);
  dv.setUint16(26, 1, true);
  dv.setUint16(28, bpp, true);
  dv.setUint32(30, o.rle ? 1 : bpp === 16 ? 3 : 0, true);
  dv.setUint32(34, pixels.length, true);
  dv.setUint32(46, bpp <= 8 ? colors.length : 0, true);
  masks.forEach((m, i) => dv.setUint32(54 + 4 * i, m, true));
  out.set(palette, 54 + masks.length * 4);
  out.set(pixels, offset);
  return out;
}

/**
 * Encodes a Netpbm image: `kind` 2/3 (ASCII gray/RGB), 5/6 (binary; 16-bit big-endian when
 * `maxval > 255`). `values` are samples in [0, maxval], HWC.
 */
export function encodePnm(
  kind: 2 | 3 | 5 | 6,
  values: ArrayLike<number>,
  w: number,
  h: number,
  maxval = 255,
): Uint8Array {
  const head = new TextEncoder().encode(`P${kind}\n# sinter test\n${w} ${h}\n${maxval}\n`);
  if (kind === 2 || kind === 3) {
    const body = new TextEncoder().encode(Array.from(values).join(" ") + "\n");
    return new Uint8Array([...head, ...body]);
  }
  const wide = maxval > 255;
  const body = new Uint8Array(values.length * (wide ? 2 : 1));
  for (let i = 0; i < values.length; i++) {
    if (wide) body.set([values[i] >> 8, values[i] & 255], 2 * i);
    else body[i] = values[i];
  }
  return new Uint8Array([...head, ...body]);
}

/** `n` distinct RGB pixels (deterministic), HWC. */
export function pattern(w: number, h: number, seed = 0): Uint8Array {
  const out = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    out[3 * i] = (i * 37 + seed * 11) & 255;
    out[3 * i + 1] = (i * 91 + 60 + seed * 5) & 255;
    out[3 * i + 2] = (i * 13 + 120 + seed) & 255;
  }
  return out;
}
