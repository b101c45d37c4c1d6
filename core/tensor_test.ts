import assert from "node:assert/strict";
import { bucketSize, initDevice, keep, pool, tensor, tidy } from "./mod.ts";
import "../kernels/mod.ts";

Deno.test("bucketSize rounds up to 4 buckets per power of two", () => {
  assert.equal(bucketSize(1), 256);
  assert.equal(bucketSize(1000), 1024);
  assert.equal(bucketSize(1025), 1280);
  assert.equal(bucketSize(4096), 4096);
  assert.equal(bucketSize(5000), 5120);
});

Deno.test("tensor round-trips data and shape errors name the op", async () => {
  await initDevice();
  const t = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
  assert.deepEqual([...await t.data()], [1, 2, 3, 4, 5, 6]);
  assert.throws(() => tensor([1, 2, 3], [2, 2]), /tensor: 3 values do not fill shape \[2, 2\]/);
  assert.throws(() => t.reshape([4, 2]), /reshape: cannot view \[2, 3\] as \[4, 2\]/);
  const i = tensor([-1, 7], [2], "i32");
  assert.deepEqual([...await i.data()], [-1, 7]);
  t.dispose();
  i.dispose();
});

Deno.test("tidy frees everything but the result; reshape shares storage", async () => {
  await initDevice();
  const before = pool.stats().liveBytes;
  const kept = tidy(() => {
    const a = tensor([1, 2, 3, 4], [4]);
    tensor([9], [1]);
    const v = a.reshape([2, 2]);
    keep(a);
    return v;
  });
  assert.deepEqual(kept.shape, [2, 2]);
  assert.deepEqual([...await kept.data()], [1, 2, 3, 4]);
  kept.dispose();
  assert.equal(pool.stats().liveBytes - before, 256, "the kept base tensor is still live");
});

Deno.test("a disposed tensor is rejected by ops", async () => {
  await initDevice();
  const { relu } = await import("../kernels/mod.ts");
  const t = tensor([1, 2], [2]);
  t.dispose();
  assert.throws(() => relu(t), /disposed before use/);
});
