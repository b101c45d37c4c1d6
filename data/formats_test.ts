import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { decodeBmp } from "./bmp.ts";
import { decodePnm, isPnm } from "./pnm.ts";
import { ImageDecodeError } from "./raw.ts";
import { encodeBmp, encodePnm, pattern } from "./fixtures_test.ts";

/** A few colours, exact in 5-6-5, for palette and 16-bit BMPs. */
function fewColors(w: number, h: number): Uint8Array {
  const pal = [[0, 0, 0], [248, 252, 248], [248, 0, 0], [0, 252, 0], [0, 0, 248], [128, 64, 32]];
  const out = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) out.set(pal[(i * 7 + (i >> 2)) % pal.length], 3 * i);
  return out;
}

Deno.test("bmp: 24/32-bit, bottom-up and top-down, odd widths (row padding)", () => {
  for (const [w, h] of [[5, 3], [4, 4], [1, 7]]) {
    const rgb = pattern(w, h, w);
    for (const bpp of [24, 32] as const) {
      for (const topDown of [false, true]) {
        const img = decodeBmp(encodeBmp(rgb, w, h, { bpp, topDown }));
        deepStrictEqual([img.width, img.height, img.channels], [w, h, 3]);
        deepStrictEqual(img.data, rgb, `bpp ${bpp} topDown ${topDown} ${w}x${h}`);
      }
    }
  }
});

Deno.test("bmp: palette 1/4/8-bit, RLE8, 16-bit bit fields", () => {
  const w = 7, h = 5;
  const two = fewColors(w, h).map((v, i) => (Math.floor(i / 3) % 3 === 0 ? 0 : v > 0 ? 255 : 0));
  const bw = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) bw.fill(two[3 * i] ? 255 : 0, 3 * i, 3 * i + 3);
  deepStrictEqual(decodeBmp(encodeBmp(bw, w, h, { bpp: 1 })).data, bw);
  const rgb = fewColors(w, h);
  for (const o of [{ bpp: 4 }, { bpp: 8 }, { bpp: 8, rle: true }] as const) {
    deepStrictEqual(decodeBmp(encodeBmp(rgb, w, h, o)).data, rgb, JSON.stringify(o));
  }
  // 5-6-5: channel value q of max m decodes to floor(q * 255 / m).
  const q565 = rgb.map((v, i) => {
    const bits = i % 3 === 1 ? 6 : 5, m = (1 << bits) - 1;
    return Math.floor(((v >> (8 - bits)) * 255) / m);
  });
  deepStrictEqual(decodeBmp(encodeBmp(rgb, w, h, { bpp: 16 })).data, q565);
});

Deno.test("bmp: truncated or unsupported files throw ImageDecodeError", () => {
  const file = encodeBmp(pattern(6, 6), 6, 6, { bpp: 24 });
  throws(() => decodeBmp(file.subarray(0, file.length - 20)), ImageDecodeError);
  throws(() => decodeBmp(file.subarray(0, 30)), ImageDecodeError);
  const odd = file.slice();
  new DataView(odd.buffer).setUint32(30, 4, true); // BI_JPEG
  throws(() => decodeBmp(odd), /unsupported/);
  const rle = encodeBmp(fewColors(8, 8), 8, 8, { bpp: 8, rle: true });
  throws(() => decodeBmp(rle.subarray(0, rle.length - 10)), ImageDecodeError);
});

Deno.test("pnm: P2/P3/P5/P6, comments, maxval scaling incl. 16 bit", () => {
  const w = 3, h = 2;
  const g = [0, 10, 200, 255, 1, 128];
  for (const kind of [2, 5] as const) {
    const img = decodePnm(encodePnm(kind, g, w, h));
    deepStrictEqual([img.width, img.height, img.channels], [w, h, 1]);
    deepStrictEqual(Array.from(img.data), g);
  }
  const rgb = Array.from(pattern(w, h));
  for (const kind of [3, 6] as const) {
    deepStrictEqual(Array.from(decodePnm(encodePnm(kind, rgb, w, h)).data), rgb);
  }
  const g16 = [65535, 32768, 25700, 0, 257, 514];
  deepStrictEqual(Array.from(decodePnm(encodePnm(5, g16, w, h, 65535)).data), [
    255,
    128,
    100,
    0,
    1,
    2,
  ]);
  deepStrictEqual(Array.from(decodePnm(encodePnm(2, [0, 1023, 512, 1, 0, 0], w, h, 1023)).data), [
    0,
    255,
    128,
    0,
    0,
    0,
  ]);
});

Deno.test("pnm: bitmaps P1/P4 (1 is black), magic, truncation", () => {
  const p1 = new TextEncoder().encode("P1\n# c\n3 2\n1 0 1\n0 1 0\n");
  deepStrictEqual(Array.from(decodePnm(p1).data), [0, 255, 0, 255, 0, 255]);
  const p4 = new Uint8Array([...new TextEncoder().encode("P4\n3 2\n"), 0b10100000, 0b01000000]);
  deepStrictEqual(Array.from(decodePnm(p4).data), [0, 255, 0, 255, 0, 255]);
  strictEqual(isPnm(new TextEncoder().encode("P7\n")), false);
  const p6 = encodePnm(6, Array.from(pattern(4, 4)), 4, 4);
  throws(() => decodePnm(p6.subarray(0, p6.length - 1)), /truncated/);
  throws(() => decodePnm(new TextEncoder().encode("P5\n4")), ImageDecodeError);
  throws(() => decodePnm(encodePnm(2, [0, 300], 2, 1, 255)), /above maxval/);
});
