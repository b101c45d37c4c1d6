import assert from "node:assert/strict";
import { initDevice, MethodRun, pool, Rng, tensor, tidy } from "../../../mod.ts";
import { createModel } from "../../../models/mod.ts";
import { assertAllClose, gradcheck, randomData } from "../../../core/testing.ts";
import { plugin } from "./mod.ts";
import { vicregLoss, vicregLossRef } from "./loss.ts";

Deno.test("vicreg loss matches the float64 reference and its gradient", async () => {
  await initDevice();
  const [b, d] = [6, 5];
  const ha = randomData(b * d, 1), hb = randomData(b * d, 2).map((v, i) => 0.5 * v + ha[i]);
  const [za, zb] = [tensor(ha, [b, d]), tensor(hb, [b, d])];
  const opts = { lambdaParam: 25, muParam: 25, nuParam: 1, eps: 1e-4 };
  const r = vicregLoss(za, zb, opts);
  const want = vicregLossRef(ha, hb, b, d, opts);
  for (const k of ["loss", "invariance", "variance", "covariance"] as const) {
    assertAllClose([await r[k].item()], [want[k]], 1e-5, 1e-5, k);
  }
  assert.ok(want.variance > 0 && want.covariance > 0, "every term is exercised");
  await gradcheck(
    (x, y) => vicregLoss(x, y, opts).loss,
    [{ data: ha, shape: [b, d] }, { data: hb, shape: [b, d] }],
    { eps: 1e-3 },
  );
  assert.throws(() => vicregLoss(tensor([1, 2], [1, 2]), tensor([1, 2], [1, 2])), /B >= 2/);
  for (const t of [za, zb, ...Object.values(r)]) t.dispose();
});

Deno.test("vicreg trains a few steps: finite loss, parameters move, no leak", async () => {
  await initDevice();
  const model = createModel("sinter/tinycnn16", { seed: 1 });
  const args = { ...plugin.defaults.methodArgs, hidden_dim: 32, output_dim: 32 };
  const inst = await plugin.create({
    model,
    args,
    datasetSize: 64,
    batchSize: 8,
    totalSteps: 5,
    rng: new Rng(3),
    loadModel: () => Promise.reject(new Error("no teacher")),
  });
  const run = new MethodRun(plugin, inst, {
    optimizer: "auto",
    batchSize: 8,
    totalSteps: 5,
    epochs: 1,
  });
  assert.equal(run.optim.name, "lars");
  assert.ok(Math.abs(run.optim.peakLr - 0.2 * 8 / 256) < 1e-12);
  const w = model.getModel().namedParameters()[0][1];
  const w0 = await w.data();
  const rng = new Rng(5);
  let live = 0;
  for (let s = 0; s < 5; s++) {
    const views = tidy(() =>
      [0, 1].map(() => tensor(rng.uniformArray(8 * 3 * 16 * 16), [8, 3, 16, 16]))
    );
    const r = run.trainStep({ views });
    for (const v of views) v.dispose();
    const loss = await r.loss.item();
    assert.ok(Number.isFinite(loss), `step ${s}: ${loss}`);
    assert.deepEqual(Object.keys(r.metrics), [
      "invariance_loss",
      "variance_loss",
      "covariance_loss",
    ]);
    for (const t of [r.loss, ...Object.values(r.metrics)]) t.dispose();
    if (s === 1) live = pool.stats().liveBytes;
    if (s > 1) assert.equal(pool.stats().liveBytes, live, `step ${s} leaks`);
  }
  const w1 = await w.data();
  assert.ok(w1.some((v, i) => v !== w0[i]), "backbone weights changed");
  run.dispose();
  inst.dispose();
  model.getModel().dispose();
});
