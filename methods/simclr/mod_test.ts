import assert from "node:assert/strict";
import { initDevice } from "../../mod.ts";
import { createModel } from "../../models/mod.ts";
import { plugin } from "./mod.ts";
import { differs, startRun, testContext, trainSteps } from "../testing.ts";

Deno.test("simclr trains a few steps: finite loss, parameters move, no leak", async () => {
  await initDevice();
  const model = createModel("sinter/tinycnn16", { seed: 1 });
  const args = { ...plugin.defaults.methodArgs, hidden_dim: 32, output_dim: 16 };
  const { inst, run } = await startRun(
    plugin,
    testContext(model, args, { batchSize: 8, totalSteps: 6 }),
  );
  assert.equal(run.optim.name, "sgd");
  assert.ok(Math.abs(run.optim.peakLr - 0.3 * 8 / 256) < 1e-12, "linear LR scaling");
  const w = model.getModel().namedParameters()[0][1];
  const w0 = await w.data();
  const losses = await trainSteps(run, { steps: 6, views: [[8, 3, 16, 16], [8, 3, 16, 16]] });
  assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
  assert.ok(differs(await w.data(), w0), "backbone weights changed");
  run.dispose();
  inst.dispose();
  model.getModel().dispose();
});
