import assert from "node:assert/strict";
import { initDevice, type Tensor } from "../../mod.ts";
import { createModel, type ModelWrapper } from "../../models/mod.ts";
import type { DINOProjectionHead } from "./head.ts";
import { plugin } from "./mod.ts";
import {
  autoMomentumStart,
  autoOutputDim,
  autoTeacherTemp,
  autoWarmupTeacherTemp,
  DINO_DEFAULT_ARGS,
  resolveDinoArgs,
} from "./auto.ts";
import { differs, startRun, testContext, trainSteps } from "../testing.ts";

Deno.test("dino auto rules follow LightlyTrain's dataset-size scaling", () => {
  assert.deepEqual(
    [1000, 19_999, 20_000, 49_999, 99_999, 199_999, 499_999, 500_000, 5e6].map(autoOutputDim),
    [1024, 1024, 2048, 2048, 4096, 16384, 32768, 65536, 65536],
  );
  assert.equal(autoTeacherTemp(100), 0.02);
  assert.equal(autoTeacherTemp(260_000), 0.03);
  assert.equal(autoTeacherTemp(1_000_000), 0.07);
  assert.equal(autoTeacherTemp(3_000_000), 0.07);
  assert.equal(autoWarmupTeacherTemp(0.07), 0.04);
  assert.equal(autoWarmupTeacherTemp(0.02), 0.02);
  assert.equal(autoWarmupTeacherTemp(0.03), 0.02);
  assert.equal(autoMomentumStart(10), 0.99);
  assert.equal(autoMomentumStart(500_000), 0.993);
  assert.equal(autoMomentumStart(1_000_000), 0.996);
  const run = { datasetSize: 1000, batchSize: 100, totalSteps: 100 };
  const r = resolveDinoArgs(DINO_DEFAULT_ARGS, run);
  assert.equal(r.warmupTeacherTempSteps, 37500, "the step path is not capped");
  assert.equal(r.freezeLastLayerSteps, 1250);
  assert.equal(r.weightDecayStart, null);
  const e = resolveDinoArgs({
    ...DINO_DEFAULT_ARGS,
    warmup_teacher_temp_steps: null,
    warmup_teacher_temp_epochs: 30,
    student_freeze_last_layer_steps: null,
    student_freeze_last_layer_epochs: 2,
  }, run);
  assert.equal(e.warmupTeacherTempSteps, 30, "epoch path capped at 0.3 of the run");
  assert.equal(e.freezeLastLayerSteps, 20);
  assert.throws(
    () =>
      resolveDinoArgs({
        ...DINO_DEFAULT_ARGS,
        warmup_teacher_temp_steps: 9,
        warmup_teacher_temp_epochs: 3,
      }, run),
    /warmup_teacher_temp_epochs/,
  );
  assert.throws(
    () =>
      plugin.validate!({
        model: {} as ModelWrapper,
        args: { ...DINO_DEFAULT_ARGS, warmup_steps: 10 },
      }),
    /warmup_steps/,
  );
});

Deno.test("dino trains a few steps: EMA teacher, center, frozen last layer, no leak", async () => {
  await initDevice();
  const model = createModel("sinter/tinycnn16", { seed: 1 });
  const args = {
    ...plugin.defaults.methodArgs,
    hidden_dim: 32,
    bottleneck_dim: 8,
    output_dim: 64,
    student_freeze_last_layer_steps: 2,
    warmup_teacher_temp_steps: 4,
    teacher_temp: 0.06,
    warmup_teacher_temp: 0.04,
  };
  const steps = 6, b = 4;
  const { inst, run } = await startRun(
    plugin,
    testContext(model, args, { batchSize: b, totalSteps: steps }),
  );
  assert.equal(run.optim.name, "sgd");
  assert.ok(Math.abs(run.optim.peakLr - 0.03 * b / 256) < 1e-12, "linear LR scaling");
  assert.equal(run.optim.warmupSteps, 0, "warmup min(12500, floor(0.1·6))");
  assert.deepEqual(run.optimizer.groups.map((g) => g.weightDecay), [1e-4, 1e-4, 0]);
  assert.equal(inst.exportModel(), model, "the exported model is the EMA teacher");
  const mods = inst.modules();
  const studentHead = mods.student_projection_head as DINOProjectionHead;
  const teacherW = model.getModel().namedParameters()[0][1];
  const studentW = mods.student_embedding_model.namedParameters()[0][1];
  const lastV = studentHead.lastLayer.weightV;
  assert.equal(teacherW.requiresGrad, false, "teacher is frozen");
  assert.equal(studentHead.lastLayer.weightG.requiresGrad, false, "norm_last_layer freezes g");
  const groupNames = inst.paramGroups().map((g) => g.name);
  assert.deepEqual(groupNames, ["params", "params_last_layer", "params_no_weight_decay"]);

  const read = async (t: Tensor) => Float32Array.from(await t.data());
  const centerOf = async () => (await inst.stateDict!())["criterion.center"].data as Float32Array;
  const center0 = await centerOf();
  const t0 = await read(teacherW), s0 = await read(studentW), v0 = await read(lastV);
  let prevTeacher = t0, prevV = v0;
  const losses = await trainSteps(run, {
    steps,
    views: [[b, 3, 16, 16], [b, 3, 16, 16], [b, 3, 8, 8], [b, 3, 8, 8]],
    onStep: async (s, r) => {
      const tt = 0.04 + Math.min(s, 4) * 0.02 / 4;
      assert.ok(Math.abs(r.schedules.teacher_temp - tt) < 1e-12, `teacher_temp at step ${s}`);
      // momentum_start auto = 0.99 at 64 images, cosine to 1 over the run.
      const m = 1 - 0.01 * (Math.cos(Math.PI * s / (steps - 1)) + 1) / 2;
      assert.ok(Math.abs(r.schedules.momentum - m) < 1e-12, `momentum at step ${s}`);
      const teacherNow = await read(teacherW);
      // Step 0's EMA averages two identical backbones; from step 1 on the student has moved;
      // the last step's momentum is 1.
      if (s >= 1 && s < steps - 1) {
        assert.ok(differs(teacherNow, prevTeacher), `teacher moved at step ${s}`);
      }
      prevTeacher = teacherNow;
      const vNow = await read(lastV);
      if (s < 2) assert.ok(!differs(vNow, v0), `last layer frozen at step ${s}`);
      else if (s === 2) assert.ok(differs(vNow, prevV), "last layer trains after the freeze");
      prevV = vNow;
    },
  });
  assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
  assert.ok(differs(await read(studentW), s0), "student backbone changed");
  const center1 = await centerOf();
  assert.ok(differs(center1, center0), "center updated");
  assert.ok(Array.from(center1).every(Number.isFinite));
  // The center round-trips through a checkpoint.
  inst.loadStateDict!({ "criterion.center": { dtype: "F32", shape: [1, 64], data: center0 } });
  assert.ok(!differs(await centerOf(), center0));
  run.dispose();
  inst.dispose();
  model.getModel().dispose();
});
