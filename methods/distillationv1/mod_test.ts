import assert from "node:assert/strict";
import { initDevice, MethodRun } from "../../mod.ts";
import type { ModelWrapper } from "../../models/mod.ts";
import { plugin } from "./mod.ts";
import { assertAllClose } from "../../core/testing.ts";
import { differs, flatValues, startRun, TeacherFixture, trainSteps } from "../testing.ts";

const TEACHER = "dinov2/vits14-noreg";
const TINY = { depth: 1, imgSize: 28 };

Deno.test("distillation v1 trains a few steps: student moves, teacher frozen, queue fills", async () => {
  await initDevice();
  const fx = await TeacherFixture.create(TEACHER, TINY, 40);
  const model = fx.student;
  try {
    const args = fx.methodArgs(plugin);
    const { inst, run } = await startRun(plugin, fx.context(args));
    const tParams = fx.frozenTeacher();
    assert.deepEqual(Object.keys(inst.modules()), ["model", "student_head"]);
    assert.equal(run.optim.name, "lars");
    assert.ok(Math.abs(run.optim.peakLr - 1.8 * Math.sqrt(4 / 1536)) < 1e-12);
    const s0 = await flatValues(model.getModel().namedParameters());
    const t0 = await flatValues(tParams);
    const q0 = (await inst.stateDict!()).teacher_queue;
    assert.deepEqual(q0.shape, [16, 384], "auto queue for 40 images");
    const queues: Float32Array[] = [];
    await trainSteps(run, {
      steps: 4,
      views: [[4, 3, 14, 14]],
      onStep: async () => {
        queues.push((await inst.stateDict!()).teacher_queue.data as Float32Array);
      },
    });
    // Newest first: step 1's 4 rows move to rows 4..7 at step 2.
    assertAllClose(queues[1].slice(4 * 384, 8 * 384), queues[0].slice(0, 4 * 384), 0, 0, "shift");
    assert.ok(differs(queues[1].slice(0, 4 * 384), queues[0]), "queue changed");
    const s1 = await flatValues(model.getModel().namedParameters());
    assert.ok(differs(s1, s0), "student weights changed");
    assertAllClose(await flatValues(tParams), t0, 0, 0, "teacher weights unchanged");
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
      () => Promise.resolve(plugin.create(fx.context({ ...args, queue_size: 40 }))),
      /queue_size=40 must be smaller than the number of images in the dataset \(40\)/,
    );
  } finally {
    await fx.dispose();
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
