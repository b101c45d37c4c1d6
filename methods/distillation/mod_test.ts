import assert from "node:assert/strict";
import {
  initDevice,
  MethodRun,
  pool,
  resolveOptim,
  Rng,
  type Tensor,
  tensor,
  tidy,
} from "../../mod.ts";
import { createModel, type ModelWrapper, saveSafetensors } from "../../models/mod.ts";
import { autoWeightDecay, type DistillationV3Args, plugin } from "./mod.ts";
import { loadModelWithWeights } from "../../models/wrapper.ts";
import { mixupRaw, mixupRef, sampleMixup } from "./mixup.ts";
import { autoQueueSize, resolveQueueSize } from "./queue.ts";
import { assertAllClose, randomData } from "../../core/testing.ts";

const TEACHER = "dinov2/vits14-noreg";
const TINY = { depth: 1, imgSize: 28 };

/** Saves a tiny random DINOv2 teacher's `stateDict()` to a temp safetensors file. */
async function tinyTeacherFile(dir: string, opts: Record<string, unknown> = TINY) {
  const t = createModel(TEACHER, { ...opts, seed: 7 });
  const path = `${dir}/teacher.safetensors`;
  await saveSafetensors(path, await t.getModel().stateDict());
  t.getModel().dispose();
  return path;
}

function ctxFor(args: DistillationV3Args, model: ModelWrapper, loaded: ModelWrapper[] = []) {
  return {
    model,
    args,
    datasetSize: 64,
    batchSize: 4,
    totalSteps: 5,
    rng: new Rng(3),
    loadModel: async (name: string, o?: { weights?: string; args?: Record<string, unknown> }) => {
      const m = await loadModelWithWeights(name, o);
      loaded.push(m);
      return m;
    },
  };
}

const flat = async (ts: [string, Tensor][]) =>
  Float32Array.from((await Promise.all(ts.map(([, t]) => t.data()))).flatMap((a) => [...a]));

Deno.test("distillation v3 trains a few steps: student moves, teacher frozen, queue fills", async () => {
  await initDevice();
  const dir = await Deno.makeTempDir();
  const model = createModel("sinter/tinycnn16", { seed: 1 });
  try {
    const weights = await tinyTeacherFile(dir);
    const args: DistillationV3Args = {
      ...plugin.defaults.methodArgs,
      teacher: TEACHER,
      teacher_args: TINY,
      teacher_weights: weights,
    };
    plugin.validate!({ model, args });
    const loaded: ModelWrapper[] = [];
    const inst = await plugin.create(ctxFor(args, model, loaded));
    const teacher = loaded[0];
    const tParams = teacher.getModel().namedParameters();
    assert.ok(tParams.every(([, t]) => !t.requiresGrad), "teacher parameters are frozen");
    assert.equal(teacher.getModel().training, false, "teacher in eval mode");
    const run = new MethodRun(plugin, inst, {
      optimizer: "auto",
      batchSize: 4,
      totalSteps: 5,
      epochs: 1,
    });
    assert.equal(run.optim.name, "adamw");
    assert.equal(run.optim.args.weightDecay, 1e-6, "auto weight decay of a conv+BN student");
    assert.ok(Math.abs(run.optim.peakLr - 5e-4 * Math.sqrt(4 / 1536)) < 1e-15, "sqrt scaling");
    const mods = inst.modules();
    assert.deepEqual(Object.keys(mods), [
      "model",
      "student_projection_head_global",
      "student_projection_head_local",
    ]);
    assert.ok(!Object.values(mods).includes(teacher.getModel()), "teacher not checkpointed");
    const inGroups = new Set(inst.paramGroups().flatMap((g) => g.params.map(([, t]) => t)));
    assert.ok(tParams.every(([, t]) => !inGroups.has(t)), "teacher not optimized");

    const s0 = await flat(model.getModel().namedParameters());
    const t0 = await flat(tParams);
    const q0 = (await inst.stateDict!()).teacher_queue;
    assert.deepEqual(q0.shape, [autoQueueSize(64), 384]);
    assert.ok(q0.data.every((v) => v === 0), "queue starts at zero");
    const rng = new Rng(5);
    let live = 0;
    for (let s = 0; s < 5; s++) {
      const views = tidy(() => [tensor(rng.uniformArray(4 * 3 * 28 * 28), [4, 3, 28, 28])]);
      const r = run.trainStep({ views });
      views[0].dispose();
      const loss = await r.loss.item();
      const g = await r.metrics.global_loss.item(), l = await r.metrics.local_loss.item();
      assert.ok([loss, g, l].every(Number.isFinite), `step ${s}: ${loss} ${g} ${l}`);
      assert.ok(Math.abs(loss - (g + l)) < 1e-4 * Math.max(1, Math.abs(loss)), "loss = g + l");
      for (const t of [r.loss, ...Object.values(r.metrics)]) t.dispose();
      if (s === 1) live = pool.stats().liveBytes;
      if (s > 1) assert.equal(pool.stats().liveBytes, live, `step ${s} leaks`);
    }
    const s1 = await flat(model.getModel().namedParameters());
    assert.ok(s1.some((v, i) => v !== s0[i]), "student weights changed");
    assertAllClose(await flat(tParams), t0, 0, 0, "teacher weights unchanged");
    const q1 = (await inst.stateDict!()).teacher_queue;
    // 5 steps of 4 images: the 20 newest rows are unit-norm teacher embeddings, the rest zero.
    for (let r = 0; r < q1.shape[0]; r++) {
      const row = q1.data.slice(r * 384, (r + 1) * 384) as Float32Array;
      const n = Math.hypot(...row);
      if (r < 20) assert.ok(Math.abs(n - 1) < 1e-4, `queue row ${r} norm ${n}`);
      else assert.equal(n, 0, `queue row ${r} still empty`);
    }
    inst.loadStateDict!({ teacher_queue: q0 });
    assert.ok((await inst.stateDict!()).teacher_queue.data.every((v) => v === 0), "restored");
    assert.throws(
      () => inst.loadStateDict!({ teacher_queue: { ...q0, shape: [16, 384] } }),
      /checkpoint's teacher_queue is \[16, 384\] but this run's is \[32, 384\]/,
    );
    run.dispose();
    inst.dispose();
  } finally {
    model.getModel().dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("distillation v3 teacher errors say what to pass and how to convert", async () => {
  await initDevice();
  const dir = await Deno.makeTempDir();
  const model = createModel("sinter/tinycnn16", { seed: 1 });
  try {
    const d = plugin.defaults.methodArgs;
    assert.throws(
      () => plugin.validate!({ model, args: d }),
      (e: Error) =>
        /'dinov3\/vitb16' is a DINOv3 model, and DINOv3 is not available/.test(e.message) &&
        /teacher=dinov2\/vitb14-noreg \(or any Sinter model/.test(e.message) &&
        /teacher_weights=dinov2_vitb14_pretrain\.safetensors/.test(e.message) &&
        /import torch, safetensors\.torch as st; sd = torch\.load\('dinov2_vitb14_pretrain\.pth'.*st\.save_file/
          .test(e.message),
    );
    await assert.rejects(() => Promise.resolve(plugin.create(ctxFor(d, model))), /DINOv3/);
    assert.throws(
      () => plugin.validate!({ model, args: { ...d, teacher: "dinov2/vitb14-noreg" } }),
      /needs pretrained weights\. Sinter downloads no weights: pass teacher_weights=dinov2_vitb14_pretrain\.safetensors.*\n.*python -c/,
    );
    assert.throws(
      () => plugin.validate!({ model, args: { ...d, teacher: "dinov2/vits14" } }),
      /dinov2_vits14_reg4_pretrain\.pth/,
    );
    const args = { ...d, teacher: TEACHER, teacher_args: TINY, teacher_weights: `${dir}/nope.st` };
    await assert.rejects(
      () => Promise.resolve(plugin.create(ctxFor(args, model))),
      /teacher_weights file '.*nope\.st' does not exist\. .*dinov2_vits14_pretrain/,
    );
    const weights = await tinyTeacherFile(dir);
    // The file is a 28-px, depth-1 teacher: a teacher of another size says the shapes differ.
    await assert.rejects(
      () =>
        Promise.resolve(
          plugin.create(
            ctxFor({ ...args, teacher_weights: weights, teacher_args: { depth: 1 } }, model),
          ),
        ),
      (e: Error) =>
        /cannot load teacher 'dinov2\/vits14-noreg'/.test(e.message) &&
        /shape of pos_embed: model \[1, 1370, 384\], file \[1, 5, 384\]/.test(e.message) &&
        /tensor sizes do not match teacher/.test(e.message),
    );
    await assert.rejects(
      () =>
        Promise.resolve(
          plugin.create(ctxFor({ ...args, teacher_weights: weights, queue_size: 64 }, model)),
        ),
      /queue_size=64 must be smaller than the number of images in the dataset \(64\)/,
    );
  } finally {
    model.getModel().dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("distillation helpers: auto queue buckets, weight decay, mixup", async () => {
  await initDevice();
  const cases: [number, number][] = [
    [10, 16],
    [49, 16],
    [50, 32],
    [99, 32],
    [249, 64],
    [499, 128],
    [999, 256],
    [1999, 512],
    [3999, 1024],
    [9999, 2048],
    [19999, 4096],
    [20000, 8192],
    [10 ** 6, 8192],
  ];
  for (const [n, q] of cases) assert.equal(autoQueueSize(n), q, `N=${n}`);
  assert.equal(resolveQueueSize("auto", 300, "m"), 128);
  assert.equal(resolveQueueSize(100, 300, "m"), 100);
  assert.throws(() => resolveQueueSize(0, 300, "m"), /"auto" or a positive integer/);
  assert.equal(autoWeightDecay({ kind: "convolutional", norm: "batchnorm" }), 1e-6);
  assert.equal(autoWeightDecay({ kind: "transformer", norm: "layernorm" }), 0.04);
  const vit = createModel("timm/vit_tiny_patch4_32", {});
  const optim = resolveOptim(
    plugin,
    { optimizer: "auto", batchSize: 8, totalSteps: 4, epochs: 1 },
    {
      resolveOptimizerArgs: (_n, a) => ({
        ...a,
        weightDecay: autoWeightDecay(vit.architectureInfo),
      }),
    },
  );
  assert.equal(optim.args.weightDecay, 0.04);
  vit.getModel().dispose();
  assert.throws(
    () => resolveOptim(plugin, { optimizer: "auto", batchSize: 8, totalSteps: 4, epochs: 1 }),
    /optimizer argument 'weightDecay' is "auto"/,
  );
  const lars = resolveOptim(plugin, {
    optimizer: "lars",
    batchSize: 1536,
    totalSteps: 4,
    epochs: 1,
  });
  assert.equal(lars.peakLr, 1.8);

  const rng = new Rng(9);
  const p = sampleMixup(rng, 6);
  assert.deepEqual([...p.perm].sort(), [0, 1, 2, 3, 4, 5]);
  assert.ok(p.lambda >= 0 && p.lambda < 1);
  const host = randomData(6 * 2 * 3 * 3, 4);
  const x = tensor(host, [6, 2, 3, 3]);
  const y = mixupRaw(x, p);
  assertAllClose(await y.data(), mixupRef(host, 6, p), 1e-6, 1e-6, "mixup");
  // A wrong permutation must change the result (the test can fail).
  const other = { lambda: p.lambda, perm: [...p.perm].reverse() };
  const diff = mixupRef(host, 6, other);
  assert.ok((await y.data()).some((v, i) => Math.abs(v - diff[i]) > 1e-3));
  x.dispose();
  y.dispose();
});
