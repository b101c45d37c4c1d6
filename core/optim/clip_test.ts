import assert from "node:assert/strict";
import { initDevice, tensor } from "../mod.ts";
import { assertAllClose, randomData } from "../testing.ts";
import { clipGradNorm, clipGradNormRef } from "./clip.ts";
import { l2Norm, l2NormRef } from "./norm.ts";

Deno.test("clipGradNorm scales all gradients by the clip coefficient computed on the GPU", async () => {
  await initDevice();
  for (const maxNorm of [0.5, 1e6]) {
    const sizes = [48, 6, 3000];
    const data = sizes.map((n, i) => randomData(n, 50 + i));
    const ps = sizes.map((n, i) => {
      const p = tensor(new Float32Array(n), [n]);
      p.grad = tensor(data[i], [n]);
      return p;
    });
    const noGrad = tensor([1], [1]);
    const ref = data.map((d) => Float64Array.from(d));
    const refTotal = clipGradNormRef(ref, maxNorm);
    const total = clipGradNorm([...ps, noGrad], maxNorm);
    assert.deepEqual(total.shape, []);
    assertAllClose([await total.item()], [refTotal], 1e-5, 1e-6, "total norm");
    for (let i = 0; i < ps.length; i++) {
      assertAllClose(await ps[i].grad!.data(), ref[i], 1e-5, 1e-6, `grad ${i} (max ${maxNorm})`);
    }
    total.dispose();
    for (const p of [...ps, noGrad]) p.dispose();
  }
});

Deno.test("l2Norm reduces large tensors (capped partial count) and lists", async () => {
  await initDevice();
  const big = randomData(700_000, 5);
  const small = randomData(33, 6);
  const a = tensor(big, [700, 1000]), b = tensor(small, [33]);
  const n = l2Norm([a, b]);
  assertAllClose([await n.item()], [l2NormRef([big, small])], 1e-5, 1e-6, "norm");
  const e = l2Norm([]);
  assert.equal(await e.item(), 0);
  for (const t of [a, b, n, e]) t.dispose();
});
