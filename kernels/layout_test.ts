import assert from "node:assert/strict";
import { initDevice, tensor } from "../core/mod.ts";
import { gradcheck, randomData } from "../core/testing.ts";
import { concat, permute, slice, transpose } from "./mod.ts";

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
