import assert from "node:assert/strict";
import { initDevice } from "../../mod.ts";
import type { ModelWrapper } from "../../models/mod.ts";
import { plugin } from "./mod.ts";
import { assertAllClose } from "../../core/testing.ts";
import { differs, flatValues, startRun, TeacherFixture, trainSteps } from "../testing.ts";

const TEACHER = "dinov2/vits14-noreg";
const TINY = { depth: 2, imgSize: 28 };

Deno.test("distillation v2 trains a few steps: student moves, teacher frozen", async () => {
  await initDevice();
  const fx = await TeacherFixture.create(TEACHER, TINY, 64);
  const model = fx.student;
  try {
    const args = fx.methodArgs(plugin);
    for (const layers of [1, 2]) {
      const { inst, run } = await startRun(
        plugin,
        fx.context({ ...args, n_projection_layers: layers, projection_hidden_dim: 16 }),
      );
      const tParams = fx.frozenTeacher();
      const head = inst.modules().student_head;
      assert.equal(head.namedParameters().at(-1)![1].shape[0], 768, "2 blocks x 384");
      assert.deepEqual(Object.keys(inst.modules()), ["model", "student_head"]);
      assert.equal(run.optim.name, "lars");
      assert.ok(Math.abs(run.optim.peakLr - 9.0 * Math.sqrt(4 / 1536)) < 1e-12);
      assert.equal(run.optim.args.weightDecay, 1e-6);
      const s0 = await flatValues(model.getModel().namedParameters());
      const h0 = await flatValues(head.namedParameters());
      const t0 = await flatValues(tParams);
      const losses = await trainSteps(run, {
        steps: layers === 1 ? 4 : 2,
        // 28 px: the student's 4x4 map is resized to the teacher's 2x2 grid.
        views: [[4, 3, 28, 28]],
      });
      assert.ok(losses.every((l) => l > 0), `losses ${losses}`);
      const s1 = await flatValues(model.getModel().namedParameters());
      assert.ok(differs(s1, s0), "student weights changed");
      assert.ok(differs(await flatValues(head.namedParameters()), h0), "head weights changed");
      assertAllClose(await flatValues(tParams), t0, 0, 0, "teacher weights unchanged");
      run.dispose();
      inst.dispose();
    }
    await assert.rejects(
      () => Promise.resolve(plugin.create(fx.context({ ...args, n_teacher_blocks: 3 }))),
      /n_teacher_blocks=3 but teacher 'dinov2\/vits14-noreg' has 2 blocks/,
    );
  } finally {
    await fx.dispose();
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
