import assert from "node:assert/strict";
import { initDevice, MethodRun, pool, Rng, tensor, tidy } from "../../mod.ts";
import { createModel } from "../../models/mod.ts";
import { plugin } from "./mod.ts";

Deno.test("simclr trains a few steps: finite loss, parameters move, no leak", async () => {
  await initDevice();
  const model = createModel("sinter/tinycnn16", { seed: 1 });
  const args = { ...plugin.defaults.methodArgs, hidden_dim: 32, output_dim: 16 };
  const inst = await plugin.create({
    model,
    args,
    datasetSize: 64,
    batchSize: 8,
    totalSteps: 6,
    rng: new Rng(3),
    loadModel: () => Promise.reject(new Error("no teacher")),
  });
  const run = new MethodRun(plugin, inst, {
    optimizer: "auto",
    batchSize: 8,
    totalSteps: 6,
    epochs: 1,
  });
  assert.equal(run.optim.name, "sgd");
  assert.ok(Math.abs(run.optim.peakLr - 0.3 * 8 / 256) < 1e-12, "linear LR scaling");
  const w = model.getModel().namedParameters()[0][1];
  const w0 = await w.data();
  const rng = new Rng(5);
  const losses: number[] = [];
  let live = 0;
  for (let s = 0; s < 6; s++) {
    const views = tidy(() =>
      [0, 1].map(() => tensor(rng.uniformArray(8 * 3 * 16 * 16), [8, 3, 16, 16]))
    );
    const r = run.trainStep({ views });
    for (const v of views) v.dispose();
    losses.push(await r.loss.item());
    r.loss.dispose();
    if (s === 1) live = pool.stats().liveBytes;
    if (s > 1) assert.equal(pool.stats().liveBytes, live, `step ${s} leaks`);
  }
  assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
  const w1 = await w.data();
  assert.ok(w1.some((v, i) => v !== w0[i]), "backbone weights changed");
  run.dispose();
  inst.dispose();
  model.getModel().dispose();
});
