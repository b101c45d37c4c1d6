import assert from "node:assert/strict";
import { initDevice, pool, Rng, tensor } from "../../mod.ts";
import { assertAllClose, gradcheck } from "../../core/testing.ts";
import { gatherRows, gatherRowsRef } from "./gather.ts";

Deno.test("gatherRows matches the reference, checks its indices and its gradient", async () => {
  await initDevice();
  const x0 = new Rng(2).uniformArray(7 * 5);
  const live = pool.stats().liveBytes;
  const idx = [0, 3, 4, 6];
  const x = tensor(x0, [7, 5]);
  const y = gatherRows(x, idx);
  assert.deepEqual(y.shape, [4, 5]);
  assertAllClose(await y.data(), gatherRowsRef(x0, 5, idx), 0, 0);
  y.dispose();
  assert.throws(() => gatherRows(x, [1, 1]), /repeated/);
  assert.throws(() => gatherRows(x, [7]), /out of range/);
  const e = gatherRows(x, []);
  assert.deepEqual(e.shape, [0, 5]);
  e.dispose();
  x.dispose();
  assert.equal(pool.stats().liveBytes, live, "no leak");
  await gradcheck((xs) => gatherRows(xs, [5, 1, 2]), [{ data: x0, shape: [7, 5] }]);
});
