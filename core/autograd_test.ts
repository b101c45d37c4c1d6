import assert from "node:assert/strict";
import { backward, initDevice, pool, tapeLength, tensor, tidy } from "./mod.ts";
import { add, mul, sum } from "../kernels/mod.ts";
import { gradcheck, randomData } from "./testing.ts";

Deno.test("fan-out accumulates: d/dx sum(x*x + x) = 2x + 1", async () => {
  await initDevice();
  const x = tensor([1, -2, 3], [3]).requireGrad();
  tidy(() => backward(sum(add(mul(x, x), x))));
  assert.deepEqual([...await x.grad!.data()], [3, -3, 7]);
  assert.equal(tapeLength(), 0);
  x.dispose();
});

Deno.test("gradients accumulate across backward calls until cleared", async () => {
  await initDevice();
  const x = tensor([1, 2], [2]).requireGrad();
  tidy(() => backward(sum(mul(x, tensor([3, 4], [2])))));
  tidy(() => backward(sum(x)));
  assert.deepEqual([...await x.grad!.data()], [4, 5]);
  x.dispose();
});

Deno.test("broadcast gradients are summed back to the input shape", async () => {
  await initDevice();
  await gradcheck((a, b) => mul(add(a, b), a), [
    { data: randomData(6, 1), shape: [2, 3] },
    { data: randomData(3, 2), shape: [3] },
  ]);
});

Deno.test("backward releases the tape and its saved tensors", async () => {
  await initDevice();
  const x = tensor(randomData(64, 3), [8, 8]).requireGrad();
  tidy(() => backward(sum(mul(x, x))));
  const level = pool.stats().liveBytes;
  for (let i = 0; i < 5; i++) tidy(() => backward(sum(mul(x, x))));
  assert.equal(pool.stats().liveBytes, level);
  assert.equal(tapeLength(), 0);
  x.dispose();
});

Deno.test("backward without a recorded op says so", async () => {
  await initDevice();
  const x = tensor([1], [1]);
  assert.throws(() => backward(x), /does not require a gradient/);
  x.dispose();
});
