import assert from "node:assert/strict";
import { backward, initDevice, Rng, SGD, tensor, tidy } from "../mod.ts";
import { mean, square } from "../kernels/mod.ts";
import { createModel } from "../models/mod.ts";
import { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";

function build(seed: number) {
  const model = createModel("sinter/tinycnn16", { seed });
  const params = model.getModel().parameters();
  const opt = new SGD(params, { lr: 0.05, momentum: 0.9 });
  return { model, opt };
}

function step(m: ReturnType<typeof build>, x: Float32Array) {
  tidy(() => {
    const f = m.model.forwardPool(m.model.forwardFeatures(tensor(x, [2, 3, 16, 16])));
    backward(mean(square(f)));
    m.opt.step();
    m.opt.zeroGrad();
  });
}

Deno.test("a checkpoint restores model, BN stats, counters and optimizer state exactly", async () => {
  await initDevice();
  const rng = new Rng(1);
  const xs = [0, 1, 2].map(() => rng.uniformArray(2 * 3 * 16 * 16));
  const a = build(1);
  step(a, xs[0]);
  step(a, xs[1]);
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/last.ckpt`;
    await saveCheckpoint(path, {
      modules: { model: a.model.getModel() },
      optimizer: await a.opt.stateDict(),
      meta: { step: 2, epoch: 0, rng: { trainer: rng.state }, config: { seed: 1 } },
    });
    const ck = await loadCheckpoint(path);
    assert.equal(ck.meta.step, 2);
    assert.deepEqual(ck.prefixes(), ["model"]);
    const b = build(99);
    ck.restoreModule("model", b.model.getModel());
    b.opt.loadStateDict(ck.optimizerState()!);
    step(a, xs[2]);
    step(b, xs[2]);
    const sa = await a.model.getModel().stateDict();
    const sb = await b.model.getModel().stateDict();
    for (const k of Object.keys(sa)) {
      assert.deepEqual(sb[k].data, sa[k].data, `${k} differs after resume`);
    }
    await Deno.writeTextFile(`${dir}/junk.ckpt`, "not a checkpoint");
    await assert.rejects(() => loadCheckpoint(`${dir}/junk.ckpt`), /junk\.ckpt/);
    await assert.rejects(() => loadCheckpoint(`${dir}/missing.ckpt`), /missing\.ckpt/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
