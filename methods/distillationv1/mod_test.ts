import assert from "node:assert/strict";
import { initDevice, MethodRun, pool, Rng, type Tensor, tensor, tidy } from "../../mod.ts";
import { createModel, type ModelWrapper, saveSafetensors } from "../../models/mod.ts";
import { type DistillationV1Args, plugin } from "./mod.ts";
import { loadModelWithWeights } from "../distillation/teacher.ts";
import { assertAllClose } from "../../core/testing.ts";

const TEACHER = "dinov2/vits14-noreg";
const TINY = { depth: 1, imgSize: 28 };

function ctxFor(args: DistillationV1Args, model: ModelWrapper, loaded: ModelWrapper[] = []) {
  return {
    model,
    args,
    datasetSize: 40,
    batchSize: 4,
    totalSteps: 4,
    rng: new Rng(3),
    // The trainer's loadModel builds the full-size teacher; the test's builds a tiny one.
    loadModel: async (name: string, o?: { weights?: string; args?: Record<string, unknown> }) => {
      const m = await loadModelWithWeights(name, { ...o, args: { ...TINY, ...o?.args } });
      loaded.push(m);
      return m;
    },
  };
}

const flat = async (ts: [string, Tensor][]) =>
  Float32Array.from((await Promise.all(ts.map(([, t]) => t.data()))).flatMap((a) => [...a]));

Deno.test("distillation v1 trains a few steps: student moves, teacher frozen, queue fills", async () => {
  await initDevice();
  const dir = await Deno.makeTempDir();
  const model = createModel("sinter/tinycnn16", { seed: 1 });
  try {
    const t = createModel(TEACHER, { ...TINY, seed: 7 });
    const weights = `${dir}/teacher.safetensors`;
    await saveSafetensors(weights, await t.getModel().stateDict());
    t.getModel().dispose();
    const args = { ...plugin.defaults.methodArgs, teacher: TEACHER, teacher_weights: weights };
    plugin.validate!({ model, args });
    const loaded: ModelWrapper[] = [];
    const inst = await plugin.create(ctxFor(args, model, loaded));
    const tParams = loaded[0].getModel().namedParameters();
    assert.ok(tParams.every(([, p]) => !p.requiresGrad) && !loaded[0].getModel().training);
    assert.deepEqual(Object.keys(inst.modules()), ["model", "student_head"]);
    const run = new MethodRun(plugin, inst, {
      optimizer: "auto",
      batchSize: 4,
      totalSteps: 4,
      epochs: 1,
    });
    assert.equal(run.optim.name, "lars");
    assert.ok(Math.abs(run.optim.peakLr - 1.8 * Math.sqrt(4 / 1536)) < 1e-12);
    const s0 = await flat(model.getModel().namedParameters());
    const t0 = await flat(tParams);
    const q0 = (await inst.stateDict!()).teacher_queue;
    assert.deepEqual(q0.shape, [16, 384], "auto queue for 40 images");
    let live = 0;
    const rng = new Rng(5);
    const queues: Float32Array[] = [];
    for (let s = 0; s < 4; s++) {
      const views = tidy(() => [tensor(rng.uniformArray(4 * 3 * 14 * 14), [4, 3, 14, 14])]);
      const r = run.trainStep({ views });
      views[0].dispose();
      const loss = await r.loss.item();
      assert.ok(Number.isFinite(loss), `step ${s}: ${loss}`);
      r.loss.dispose();
      queues.push((await inst.stateDict!()).teacher_queue.data as Float32Array);
      if (s === 1) live = pool.stats().liveBytes;
      if (s > 1) assert.equal(pool.stats().liveBytes, live, `step ${s} leaks`);
    }
    // Newest first: step 1's 4 rows move to rows 4..7 at step 2.
    assertAllClose(queues[1].slice(4 * 384, 8 * 384), queues[0].slice(0, 4 * 384), 0, 0, "shift");
    assert.ok(queues[1].slice(0, 4 * 384).some((v, i) => v !== queues[0][i]), "queue changed");
    const s1 = await flat(model.getModel().namedParameters());
    assert.ok(s1.some((v, i) => v !== s0[i]), "student weights changed");
    assertAllClose(await flat(tParams), t0, 0, 0, "teacher weights unchanged");
    run.dispose();
    inst.dispose();
    const adamw = new MethodRun(plugin, { paramGroups: () => [] } as never, {
      optimizer: "adamw",
      batchSize: 1536,
      totalSteps: 4,
      epochs: 1,
    });
    assert.equal(adamw.optim.peakLr, 5e-4);
    assert.equal(adamw.optim.args.weightDecay, 0);
    adamw.dispose();
    await assert.rejects(
      () => Promise.resolve(plugin.create(ctxFor({ ...args, queue_size: 40 }, model))),
      /queue_size=40 must be smaller than the number of images in the dataset \(40\)/,
    );
  } finally {
    model.getModel().dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("distillation v1 teacher errors", () => {
  const model = { architectureInfo: { kind: "convolutional", norm: "batchnorm" } } as ModelWrapper;
  const d = plugin.defaults.methodArgs;
  assert.throws(
    () => plugin.validate!({ model, args: d }),
    /needs pretrained weights.*teacher_weights=dinov2_vitb14_pretrain\.safetensors/,
  );
  assert.throws(
    () => plugin.validate!({ model, args: { ...d, teacher: "torchvision/resnet50" } }),
    /distillationv1 takes DINOv2 ViT teachers/,
  );
});
