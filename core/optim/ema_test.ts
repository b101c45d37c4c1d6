import assert from "node:assert/strict";
import { initDevice, tensor } from "../mod.ts";
import { assertAllClose, randomData } from "../testing.ts";
import { emaUpdate, emaUpdateRef } from "./ema.ts";

Deno.test("emaUpdate moves the teacher toward the student in place", async () => {
  await initDevice();
  const sizes = [600, 3];
  const t = sizes.map((n, i) => tensor(randomData(n, 60 + i), [n]));
  const s = sizes.map((n, i) => tensor(randomData(n, 70 + i), [n]));
  const ref = sizes.map((n, i) => Float64Array.from(randomData(n, 60 + i)));
  for (const m of [0.9, 0.996]) {
    emaUpdate(t, s, m);
    ref.forEach((r, i) => emaUpdateRef(r, randomData(sizes[i], 70 + i), m));
  }
  for (let i = 0; i < t.length; i++) assertAllClose(await t[i].data(), ref[i], 1e-5, 1e-6);
  assert.deepEqual([...await s[1].data()], [...randomData(3, 71)]);
  assert.throws(() => emaUpdate([t[0]], [s[1]], 0.5), /differ/);
  assert.throws(() => emaUpdate(t, [s[0]], 0.5), /2 teacher tensors, 1 student/);
  for (const x of [...t, ...s]) x.dispose();
});
