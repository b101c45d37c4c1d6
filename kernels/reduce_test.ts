import assert from "node:assert/strict";
import { initDevice, tensor } from "../core/mod.ts";
import { assertAllClose, gradcheck, randomData } from "../core/testing.ts";
import { max, mean, sum } from "./mod.ts";

Deno.test("sum/mean/max over axes match a host loop", async () => {
  await initDevice();
  const d = randomData(2 * 3 * 70, 11);
  const t = tensor(d, [2, 3, 70]);
  const s = sum(t, [0, 2]);
  const ref = [0, 0, 0];
  d.forEach((v, i) => ref[Math.floor(i / 70) % 3] += v);
  assertAllClose(await s.data(), ref, 1e-5, 1e-6, "sum");
  const m = mean(t, 1, true);
  assert.deepEqual(m.shape, [2, 1, 70]);
  const mx = max(t, -1);
  assert.deepEqual(mx.shape, [2, 3]);
  const mref = [0, 1, 2, 3, 4, 5].map((r) => Math.max(...d.slice(r * 70, r * 70 + 70)));
  assert.deepEqual([...await mx.data()], mref);
  const all = sum(tensor(randomData(100000, 2)));
  assert.deepEqual(all.shape, []);
  assert.throws(() => sum(t, 3), /sum: axis out of range/);
});

Deno.test("reduction gradients match finite differences", async () => {
  await initDevice();
  const inp = [{ data: randomData(24, 5), shape: [2, 3, 4] }];
  await gradcheck((a) => sum(a, 1), inp);
  await gradcheck((a) => mean(a, [0, 2]), inp);
  await gradcheck((a) => max(a, 2), inp);
});
