import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { HAVE_SHARP, withTempDir } from "./fixtures_test.ts";
import { saveViewGrid, viewGrid } from "./grid.ts";
import { loadSharp } from "./sharp.ts";

const MEAN = [0.485, 0.456, 0.406], STD = [0.229, 0.224, 0.225];

/** Normalized NCHW views of solid colours `rgb[n]` (0-255). */
function solid(rgb: number[][], h: number, w: number) {
  const N = rgb.length, data = new Float32Array(N * 3 * h * w);
  rgb.forEach((px, n) => {
    for (let c = 0; c < 3; c++) {
      data.fill((px[c] / 255 - MEAN[c]) / STD[c], (n * 3 + c) * h * w, (n * 3 + c + 1) * h * w);
    }
  });
  return { data, shape: [N, 3, h, w] };
}

Deno.test("viewGrid: rows are images, columns views of any size, denormalized", () => {
  const a = solid([[255, 0, 0], [0, 128, 255]], 4, 4);
  const b = solid([[10, 20, 30], [200, 100, 50], [1, 2, 3]], 2, 3); // 3 images: only 2 rows
  const g = viewGrid([a, b], MEAN, STD, { pad: 1, background: 7 });
  strictEqual(g.width, 1 + 4 + 1 + 3 + 1);
  strictEqual(g.height, 1 + 2 * (4 + 1));
  const at = (x: number, y: number) =>
    Array.from(g.data.subarray((y * g.width + x) * 3, (y * g.width + x) * 3 + 3));
  deepStrictEqual(at(0, 0), [7, 7, 7]);
  deepStrictEqual(at(1, 1), [255, 0, 0]);
  deepStrictEqual(at(4, 4), [255, 0, 0]);
  deepStrictEqual(at(1, 6), [0, 128, 255]);
  deepStrictEqual(at(6, 1), [10, 20, 30]);
  deepStrictEqual(at(8, 7), [200, 100, 50]);
  deepStrictEqual(at(6, 4), [7, 7, 7]); // below the shorter view
  // Gray views (1 channel) are shown as gray; values are clamped.
  const gray = { data: new Float32Array([2, -1, 0.5, 0.25]), shape: [1, 1, 2, 2] };
  const gg = viewGrid([gray], [0], [1], { pad: 0 });
  deepStrictEqual(Array.from(gg.data), [255, 255, 255, 0, 0, 0, 128, 128, 128, 64, 64, 64]);
  throws(() => viewGrid([{ data: new Float32Array(3), shape: [1, 3, 2, 2] }], MEAN, STD), /shape/);
});

Deno.test({
  name: "saveViewGrid: writes a PNG atomically",
  ignore: !HAVE_SHARP,
  fn: async () => {
    await withTempDir(async (dir) => {
      const path = `${dir}/views.png`;
      await saveViewGrid(path, [solid([[255, 0, 0], [0, 0, 255]], 8, 8)], MEAN, STD);
      const sharp = await loadSharp();
      const { data, info } = await sharp(path).raw().toBuffer({ resolveWithObject: true });
      deepStrictEqual([info.width, info.height], [2 + 8 + 2, 2 + 2 * 10]);
      deepStrictEqual(
        Array.from(data.subarray((2 * info.width + 2) * 3, (2 * info.width + 2) * 3 + 3)),
        [255, 0, 0],
      );
      const names = [];
      for await (const e of Deno.readDir(dir)) names.push(e.name);
      deepStrictEqual(names, ["views.png"]); // no temp file left behind
      ok(info.channels === 3);
    });
  },
});
