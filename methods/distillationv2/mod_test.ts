import assert from "node:assert/strict";
import { initDevice, MethodRun, pool, Rng, type Tensor, tensor, tidy } from "../../mod.ts";
import { createModel, type ModelWrapper, saveSafetensors } from "../../models/mod.ts";
import { type DistillationV2Args, plugin } from "./mod.ts";
import { loadModelWithWeights } from "../distillation/teacher.ts";
import { assertAllClose } from "../../core/testing.ts";

const TEACHER = "dinov2/vits14-noreg";
const TINY = { depth: 2, imgSize: 28 };

function ctxFor(args: DistillationV2Args, model: ModelWrapper, loaded: ModelWrapper[] = []) {
  return {
    model,
    args,
    datasetSize: 64,
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

Deno.test("distillation v2 trains a few steps: student moves, teacher frozen", async () => {
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
    for (const layers of [1, 2]) {
      const loaded: ModelWrapper[] = [];
      const inst = await plugin.create(
        ctxFor({ ...args, n_projection_layers: layers, projection_hidden_dim: 16 }, model, loaded),
      );
      const tParams = loaded[0].getModel().namedParameters();
      assert.ok(tParams.every(([, p]) => !p.requiresGrad) && !loaded[0].getModel().training);
      const head = inst.modules().student_head;
      assert.equal(head.namedParameters().at(-1)![1].shape[0], 768, "2 blocks x 384");
      assert.deepEqual(Object.keys(inst.modules()), ["model", "student_head"]);
      const run = new MethodRun(plugin, inst, {
        optimizer: "auto",
        batchSize: 4,
        totalSteps: 4,
        epochs: 1,
      });
      assert.equal(run.optim.name, "lars");
      assert.ok(Math.abs(run.optim.peakLr - 9.0 * Math.sqrt(4 / 1536)) < 1e-12);
      assert.equal(run.optim.args.weightDecay, 1e-6);
      const s0 = await flat(model.getModel().namedParameters());
      const h0 = await flat(head.namedParameters());
      const t0 = await flat(tParams);
      const rng = new Rng(5);
      let live = 0;
      for (let s = 0; s < (layers === 1 ? 4 : 2); s++) {
        // 28 px: the student's 4x4 map is resized to the teacher's 2x2 grid.
        const views = tidy(() => [tensor(rng.uniformArray(4 * 3 * 28 * 28), [4, 3, 28, 28])]);
        const r = run.trainStep({ views });
        views[0].dispose();
        const loss = await r.loss.item();
        assert.ok(Number.isFinite(loss) && loss > 0, `step ${s}: ${loss}`);
        r.loss.dispose();
        if (s === 1) live = pool.stats().liveBytes;
        if (s > 1) assert.equal(pool.stats().liveBytes, live, `step ${s} leaks`);
      }
      const s1 = await flat(model.getModel().namedParameters());
      assert.ok(s1.some((v, i) => v !== s0[i]), "student weights changed");
      const h1 = await flat(head.namedParameters());
      assert.ok(h1.some((v, i) => v !== h0[i]), "head weights changed");
      assertAllClose(await flat(tParams), t0, 0, 0, "teacher weights unchanged");
      run.dispose();
      inst.dispose();
    }
    await assert.rejects(
      () => Promise.resolve(plugin.create(ctxFor({ ...args, n_teacher_blocks: 3 }, model))),
      /n_teacher_blocks=3 but teacher 'dinov2\/vits14-noreg' has 2 blocks/,
    );
  } finally {
    model.getModel().dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("distillation v2 teacher errors", () => {
  const model = { architectureInfo: { kind: "convolutional", norm: "batchnorm" } } as ModelWrapper;
  const d = plugin.defaults.methodArgs;
  assert.throws(
    () => plugin.validate!({ model, args: d }),
    /teacher 'dinov2\/vitb14-noreg' needs pretrained weights.*teacher_weights=dinov2_vitb14_pretrain\.safetensors[^]*torch\.load\('dinov2_vitb14_pretrain\.pth'/,
  );
  assert.throws(
    () => plugin.validate!({ model, args: { ...d, teacher: "sinter/tinycnn16" } }),
    /teacher 'sinter\/tinycnn16' is not supported; distillationv2 takes DINOv2 ViT teachers/,
  );
  assert.throws(
    () => plugin.validate!({ model, args: { ...d, teacher: "dinov3/vitb16" } }),
    /DINOv3 is not available in Sinter\. Pass teacher=dinov2\/vitb14-noreg with/,
  );
});
