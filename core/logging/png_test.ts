import assert from "node:assert/strict";
import { inflateSync } from "node:zlib";
import { crc32, encodePng, pngInfo } from "./png.ts";
import { exampleViewsGrid, exampleViewsPng } from "./image_grid.ts";

Deno.test("png: CRC-32 check value, chunk layout, pixels survive a decode", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  const px = Uint8Array.from({ length: 4 * 3 * 3 }, (_, i) => (i * 37) & 255);
  const png = encodePng(px, 4, 3, 3);
  assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
  assert.deepEqual(pngInfo(png), { width: 4, height: 3, channels: 3 });
  // walk the chunks, check each CRC, inflate IDAT and strip the filter bytes
  const dv = new DataView(png.buffer);
  let pos = 8;
  const types: string[] = [];
  let idat = new Uint8Array();
  while (pos < png.length) {
    const len = dv.getUint32(pos);
    const type = String.fromCharCode(...png.subarray(pos + 4, pos + 8));
    types.push(type);
    assert.equal(dv.getUint32(pos + 8 + len), crc32(png.subarray(pos + 4, pos + 8 + len)), type);
    if (type === "IDAT") idat = png.slice(pos + 8, pos + 8 + len);
    pos += 12 + len;
  }
  assert.deepEqual(types, ["IHDR", "IDAT", "IEND"]);
  const raw = new Uint8Array(inflateSync(idat));
  assert.equal(raw.length, 3 * (1 + 12));
  const back = new Uint8Array(36);
  for (let y = 0; y < 3; y++) {
    assert.equal(raw[y * 13], 0);
    back.set(raw.subarray(y * 13 + 1, y * 13 + 13), y * 12);
  }
  assert.deepEqual(back, px);
  assert.throws(() => encodePng(px, 4, 4, 3), /expected 48 bytes/);
  assert.throws(() => pngInfo(new Uint8Array(40)), /not a PNG/);
  assert.equal(pngInfo(encodePng(new Uint8Array(4), 2, 2, 1)).channels, 1);
  assert.equal(pngInfo(encodePng(new Uint8Array(16), 2, 2, 4)).channels, 4);
});

Deno.test("exampleViewsGrid: un-normalizes, one row per image, views centred in cells", () => {
  const mean = [0.5, 0.5, 0.5], std = [0.25, 0.25, 0.25];
  // view A: 2 images 3x4x4 at value 0 (-> 0.5 -> 128), view B: 2 images 1x2x2 gray at -1 (-> 0.25 -> 64)
  const a = { data: new Float32Array(2 * 3 * 4 * 4), n: 2, c: 3, h: 4, w: 4 };
  const b = { data: new Float32Array(2 * 1 * 2 * 2).fill(-1), n: 2, c: 1, h: 2, w: 2 };
  a.data[0] = -100; // clamps to 0 (red channel of the first pixel of image 0)
  const g = exampleViewsGrid([a, b], { mean, std, pad: 1 });
  assert.equal(g.width, 2 * 4 + 3);
  assert.equal(g.height, 2 * 4 + 3);
  const at = (
    x: number,
    y: number,
  ) => [...g.pixels.subarray((y * g.width + x) * 3, (y * g.width + x) * 3 + 3)];
  assert.deepEqual(at(0, 0), [255, 255, 255], "padding is white");
  assert.deepEqual(at(1, 1), [0, 128, 128]);
  assert.deepEqual(at(2, 1), [128, 128, 128]);
  // view B (2x2) centred in the 4x4 cell starting at x=6,y=1: occupies x 7..8, y 2..3
  assert.deepEqual(at(7, 2), [64, 64, 64]);
  assert.deepEqual(at(8, 3), [64, 64, 64]);
  assert.deepEqual(at(6, 2), [255, 255, 255], "outside the centred view");
  assert.deepEqual(at(9, 2), [255, 255, 255], "outside the centred view");
  assert.deepEqual(at(7, 7), [64, 64, 64], "second image, view B");
  assert.deepEqual(at(1, 6), [128, 128, 128], "second image, view A");
  assert.deepEqual(pngInfo(exampleViewsPng([a, b], { mean, std, maxImages: 1 })), {
    width: 2 * 4 + 3 * 2,
    height: 4 + 4,
    channels: 3,
  });
  assert.throws(() => exampleViewsGrid([{ ...a, n: 3 }]), /view 0 has 96 values/);
});
