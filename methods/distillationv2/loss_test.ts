import { distillationV2Loss, linearChannelsLast } from "./loss.ts";
import { initDevice, tensor } from "../../core/mod.ts";
import { interpolateBilinearRef } from "../../kernels/interpolate.ts";
import { assertAllClose, gradcheck, randomData } from "../../core/testing.ts";
import { throws } from "node:assert/strict";

await initDevice();

/** Reference: head per position, resize, tokens, MSE against the concatenated teacher maps. */
function reference(
  x: Float32Array,
  w: Float32Array,
  bias: Float32Array,
  t: Float32Array[],
  [b, c, h, wd]: number[],
  o: number,
  [ht, wt]: number[],
): number {
  const proj = new Float64Array(b * o * h * wd);
  for (let n = 0; n < b; n++) {
    for (let p = 0; p < h * wd; p++) {
      for (let j = 0; j < o; j++) {
        let s = bias[j];
        for (let k = 0; k < c; k++) s += w[j * c + k] * x[(n * c + k) * h * wd + p];
        proj[(n * o + j) * h * wd + p] = s;
      }
    }
  }
  const up = interpolateBilinearRef(proj, [b, o, h, wd], [ht, wt]);
  const dt = o / t.length;
  let total = 0;
  for (let n = 0; n < b; n++) {
    for (let j = 0; j < o; j++) {
      const blk = t[Math.floor(j / dt)], jj = j % dt;
      for (let p = 0; p < ht * wt; p++) {
        total += (up[(n * o + j) * ht * wt + p] - blk[(n * dt + jj) * ht * wt + p]) ** 2;
      }
    }
  }
  return total / (b * o * ht * wt);
}

Deno.test("distillation v2 matches the reference (up- and downsampling)", async () => {
  const b = 2, c = 3, o = 4;
  for (const [h, w] of [[3, 2], [6, 5], [4, 4]]) {
    const x = randomData(b * c * h * w, 1), wt = randomData(o * c, 2), bs = randomData(o, 3);
    const t = [randomData(b * 2 * 16, 4), randomData(b * 2 * 16, 5)];
    const [X, W, B] = [tensor(x, [b, c, h, w]), tensor(wt, [o, c]), tensor(bs, [o])];
    const T = t.map((d) => tensor(d, [b, 2, 4, 4]));
    const r = distillationV2Loss(linearChannelsLast(X, W, B), T);
    const want = reference(x, wt, bs, t, [b, c, h, w], o, [4, 4]);
    assertAllClose([await r.loss.item()], [want], 1e-5, 1e-6, `${h}x${w}`);
    for (const z of [X, W, B, ...T, r.loss, r.studentTokens, r.teacherTokens]) z.dispose();
  }
});

Deno.test("distillation v2 gradients (student map, head weight and bias)", async () => {
  const T = [tensor(randomData(2 * 3 * 9, 6), [2, 3, 3, 3])];
  await gradcheck(
    (x, w, bb) => distillationV2Loss(linearChannelsLast(x, w, bb), T).loss,
    [
      { data: randomData(2 * 2 * 4, 7), shape: [2, 2, 2, 2] },
      { data: randomData(6, 8), shape: [3, 2] },
      { data: randomData(3, 9), shape: [3] },
    ],
    { eps: 1e-3 },
  );
  T[0].dispose();
});

Deno.test("distillation v2 rejects channel mismatches", () => {
  const s = tensor(randomData(2 * 4 * 4), [2, 4, 2, 2]),
    t = tensor(randomData(2 * 3 * 4), [2, 3, 2, 2]);
  throws(() => distillationV2Loss(s, [t]), /distillation_v2: student has 4 channels/);
  s.dispose();
  t.dispose();
});
