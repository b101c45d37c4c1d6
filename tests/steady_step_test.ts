// A steady training step (fixed shapes) creates no buffer, no pipeline and no bind group: the
// pool hands back the same buffers in the same order, so every dispatch finds its cached bind
// group, as a recorded step replayed.
import assert from "node:assert/strict";
import {
  bindGroupCacheSize,
  initDevice,
  MethodRun,
  pool,
  Rng,
  sync,
  tensor,
  tidy,
} from "../mod.ts";
import { createModel } from "../models/mod.ts";
import { plugin } from "../methods/simclr/mod.ts";

Deno.test("steady steps allocate nothing and create no bind groups", async () => {
  await initDevice();
  const model = createModel("sinter/tinycnn16", { seed: 1 });
  const args = { ...plugin.defaults.methodArgs, hidden_dim: 32, output_dim: 16 };
  const inst = await plugin.create({
    model,
    args,
    datasetSize: 64,
    batchSize: 8,
    totalSteps: 20,
    rng: new Rng(1),
    loadModel: () => Promise.reject(new Error("no teacher")),
  });
  const run = new MethodRun(plugin, inst, {
    optimizer: "auto",
    batchSize: 8,
    totalSteps: 20,
    epochs: 1,
  });
  const rng = new Rng(2);
  const views = tidy(() =>
    [0, 1].map(() => tensor(rng.uniformArray(8 * 3 * 16 * 16), [8, 3, 16, 16]))
  );
  const step = () => run.trainStep({ views }).loss.dispose();
  for (let i = 0; i < 3; i++) step();
  await sync();
  const created = pool.stats().created,
    groups = bindGroupCacheSize(),
    live = pool.stats().liveBytes;
  for (let i = 0; i < 5; i++) step();
  await sync();
  assert.equal(pool.stats().created, created, "buffers created in a steady step");
  assert.equal(bindGroupCacheSize(), groups, "bind groups created in a steady step");
  assert.equal(pool.stats().liveBytes, live);
  for (const v of views) v.dispose();
  run.dispose();
  inst.dispose();
  model.getModel().dispose();
});
