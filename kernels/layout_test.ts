import assert from "node:assert/strict";
import { initDevice, tensor } from "../core/mod.ts";
import { gradcheck, randomData } from "../core/testing.ts";
import { concat, permute, slice, transpose } from "./mod.ts";
import { stridedGatherRaw, stridedScatterRaw } from "./layout.ts";
import { zeros } from "./elementwise.ts";

Deno.test("permute, slice and concat move the right elements", async () => {
  await initDevice();
  const x = tensor([0, 1, 2, 3, 4, 5], [2, 3]);
  assert.deepEqual([...await transpose(x, 0, 1).data()], [0, 3, 1, 4, 2, 5]);
  assert.deepEqual([...await slice(x, 1, 1, 3).data()], [1, 2, 4, 5]);
  const c = concat([x, tensor([9, 8], [2, 1])], 1);
  assert.deepEqual(c.shape, [2, 4]);
  assert.deepEqual([...await c.data()], [0, 1, 2, 9, 3, 4, 5, 8]);
  const p = permute(tensor(randomData(24, 1), [2, 3, 4]), [2, 0, 1]);
  assert.deepEqual(p.shape, [4, 2, 3]);
  assert.throws(() => permute(x, [0, 0]), /not a permutation/);
  assert.throws(() => concat([x, tensor([1, 2], [1, 2])], 1), /differ outside dim 1/);
  assert.throws(() => slice(x, 1, 2, 5), /out of range/);
});

Deno.test("layout gradients match finite differences", async () => {
  await initDevice();
  const a = { data: randomData(24, 2), shape: [2, 3, 4] };
  const b = { data: randomData(8, 3), shape: [2, 1, 4] };
  await gradcheck((x) => permute(x, [1, 2, 0]), [a]);
  await gradcheck((x) => slice(x, 2, 1, 3), [a]);
  await gradcheck((x, y) => concat([x, y, x], 1), [a, b]);
});

Deno.test("strided gather and scatter match the host, 1 and 4 elements per invocation", async () => {
  await initDevice();
  const src = randomData(2 * 5 * 24, 4); // a [2, 5, 24] qkv-like tensor
  // [B, H, N, Dh] views of it: Dh 4 with aligned strides and offset (vec4), then offset 2.
  for (const offset of [8, 2]) {
    const view = { shape: [2, 2, 5, 4], strides: [120, 4, 24, 1], offset };
    const want = new Float32Array(80);
    let o = 0;
    for (let b = 0; b < 2; b++) {
      for (let h = 0; h < 2; h++) {
        for (let n = 0; n < 5; n++) {
          for (let d = 0; d < 4; d++) want[o++] = src[offset + b * 120 + h * 4 + n * 24 + d];
        }
      }
    }
    const t = tensor(src, [2, 5, 24]);
    const g = stridedGatherRaw(t, view);
    assert.deepEqual([...await g.data()], [...want]);
    const back = zeros([2, 5, 24]);
    stridedScatterRaw(g, back, view);
    const got = await back.data();
    const wantBack = new Float32Array(240);
    o = 0;
    for (let b = 0; b < 2; b++) {
      for (let h = 0; h < 2; h++) {
        for (let n = 0; n < 5; n++) {
          for (let d = 0; d < 4; d++) wantBack[offset + b * 120 + h * 4 + n * 24 + d] = want[o++];
        }
      }
    }
    assert.deepEqual([...got], [...wantBack], `offset ${offset}`);
    for (const x of [t, g, back]) x.dispose();
  }
});
