import assert from "node:assert/strict";
import { initDevice, type Tensor } from "../../mod.ts";
import { createModel, type ModelWrapper } from "../../models/mod.ts";
import { cosineSchedule } from "../../core/schedule.ts";
import type { DINOv2Head } from "./head.ts";
import { DINOV2_DEFAULT_ARGS, plugin } from "./mod.ts";
import { dinov2NoDecay, vitLayerId } from "./param_groups.ts";
import { differs, startRun, testContext, trainSteps } from "../testing.ts";

Deno.test("dinov2 accepts only dinov2/* models; LLRD layer ids and no-decay names", () => {
  const cnn = { name: "sinter/tinycnn16", getModel: () => ({}) } as unknown as ModelWrapper;
  assert.throws(
    () => plugin.validate!({ model: cnn, args: DINOV2_DEFAULT_ARGS }),
    /only supports DINOv2 ViTs \(dinov2\/vits14/,
  );
  assert.equal(plugin.defaults.steps, 125_000);
  assert.equal(plugin.defaults.lrEndFactor, 1e-6 / 4e-3);
  assert.deepEqual(
    ["cls_token", "pos_embed", "register_tokens", "mask_token", "patch_embed.proj.weight"]
      .map((n) => vitLayerId(n, 12)),
    [0, 0, 0, 0, 0],
  );
  assert.equal(vitLayerId("blocks.0.attn.qkv.weight", 12), 1);
  assert.equal(vitLayerId("blocks.11.mlp.fc2.bias", 12), 12);
  assert.equal(vitLayerId("norm.weight", 12), 13);
  assert.deepEqual(
    ["blocks.0.norm1.weight", "blocks.0.ls1.gamma", "patch_embed.proj.bias", "cls_token"]
      .map(dinov2NoDecay),
    [true, true, true, false],
  );
});

Deno.test("dinov2 trains a few steps: EMA teacher, centers, freezes, LLRD groups, no leak", async () => {
  await initDevice();
  const model = createModel("dinov2/vits14", { depth: 1, imgSize: 56, seed: 1 });
  const args = {
    ...plugin.defaults.methodArgs,
    hidden_dim: 32,
    dino_bottleneck_dim: 16,
    output_dim: 64,
    student_freeze_last_layer_steps: 2,
    student_freeze_backbone_steps: 1,
    teacher_temp_warmup_steps: 3,
  };
  const steps = 5, b = 4;
  const { inst, run } = await startRun(
    plugin,
    testContext(model, args, { batchSize: b, totalSteps: steps }),
  );
  assert.equal(run.optim.name, "adamw");
  assert.ok(Math.abs(run.optim.peakLr - 0.004 * Math.sqrt(b / 1024)) < 1e-12, "sqrt scaling");
  assert.equal(run.optim.warmupSteps, steps - 1, "warmup min(total - 1, 12500)");
  const groups = inst.paramGroups();
  const scales = Object.fromEntries(groups.map((g) => [g.name, g.lrScale]));
  assert.deepEqual(Object.keys(scales).sort(), [
    "backbone_layer0",
    "backbone_layer0_patch_embed",
    "backbone_layer0_patch_embed_no_weight_decay",
    "backbone_layer1",
    "backbone_layer1_no_weight_decay",
    "backbone_layer2_no_weight_decay",
    "head",
    "head_last_layer",
    "head_no_weight_decay",
  ]);
  const close = (a: number | undefined, e: number) => Math.abs((a ?? NaN) - e) < 1e-12;
  assert.ok(close(scales.backbone_layer0, 0.81));
  assert.ok(close(scales.backbone_layer0_patch_embed, 0.81 * 0.2));
  assert.ok(close(scales.backbone_layer1, 0.9));
  assert.ok(close(scales.backbone_layer2_no_weight_decay, 1));
  assert.ok(close(scales.head_last_layer, 1));
  assert.equal(inst.exportModel(), model, "the exported model is the EMA teacher");

  const mods = inst.modules();
  const studentHead = mods.student_head as DINOv2Head;
  assert.equal(studentHead.ibotHead, studentHead.dinoHead, "iBOT head shared by default");
  const teacherW = model.getModel().namedParameters().find(([n]) => n.endsWith("qkv.weight"))![1];
  const studentW = mods.student_embedding_model.namedParameters()
    .find(([n]) => n.endsWith("qkv.weight"))![1];
  const headW = studentHead.dinoHead.namedParameters()[0][1];
  const lastV = studentHead.dinoHead.lastLayer.weightV;
  const lastG = studentHead.dinoHead.lastLayer.weightG;
  assert.equal(teacherW.requiresGrad, false, "teacher is frozen");
  assert.equal(lastG.requiresGrad, true, "the gain g trains in DINOv2");

  const read = async (t: Tensor) => Float32Array.from(await t.data());
  const centers = async () => {
    const sd = await inst.stateDict!();
    return [sd["dino_loss.center"].data, sd["ibot_loss.center"].data] as Float32Array[];
  };
  const [dino0, ibot0] = await centers();
  const s0 = await read(studentW), h0 = await read(headW), v0 = await read(lastV);
  let prevTeacher = await read(teacherW);
  await trainSteps(run, {
    steps,
    views: [[b, 3, 56, 56], [b, 3, 56, 56], [b, 3, 28, 28], [b, 3, 28, 28]],
    onStep: async (s, r) => {
      assert.deepEqual(
        Object.keys(r.metrics).sort(),
        ["dino_global_loss", "dino_local_loss", "ibot_loss", "koleo_loss"],
      );
      for (const [k, t] of Object.entries(r.metrics)) {
        const v = await t.item();
        assert.ok(Number.isFinite(v), `${k} = ${v}`);
      }
      const sNow = await read(studentW);
      if (s === 0) {
        assert.ok(!differs(sNow, s0), "backbone frozen at step 0");
        assert.ok(differs(await read(headW), h0), "head trains while the backbone is frozen");
      }
      if (s === 1) assert.ok(differs(sNow, s0), "backbone trains after its freeze");
      const vNow = await read(lastV);
      if (s < 2) assert.ok(!differs(vNow, v0), `last layer frozen at step ${s}`);
      if (s === 2) assert.ok(differs(vNow, v0), "last layer trains after its freeze");
      // EMA after each step: teacher = m·teacher + (1 − m)·student with m = cosine(step + 1,
      // total, 0.992, 1), which is 1 from step total − 2 on (lightly's cosine_schedule).
      const tNow = await read(teacherW);
      const m = cosineSchedule(s + 1, steps, 0.992, 1);
      const err = tNow.reduce(
        (mx, v, i) => Math.max(mx, Math.abs(v - (m * prevTeacher[i] + (1 - m) * sNow[i]))),
        0,
      );
      assert.ok(err < 1e-7, `teacher EMA at step ${s}: error ${err}`);
      if (s >= 1 && s < steps - 2) assert.ok(differs(tNow, prevTeacher), `teacher moved at ${s}`);
      if (s >= steps - 2) assert.ok(!differs(tNow, prevTeacher), `momentum 1 at step ${s}`);
      prevTeacher = tNow;
    },
  });
  const [dino1, ibot1] = await centers();
  assert.ok(differs(dino1, dino0), "DINO center updated");
  assert.ok(differs(ibot1, ibot0), "iBOT center updated");
  assert.ok([...dino1, ...ibot1].every(Number.isFinite));
  run.dispose();
  inst.dispose();
  model.getModel().dispose();
});

Deno.test("dinov2 with Sinkhorn-Knopp centering, a separate iBOT head, accumulation", async () => {
  await initDevice();
  const model = createModel("dinov2/vits14-noreg", { depth: 1, imgSize: 56, seed: 2 });
  const args = {
    ...plugin.defaults.methodArgs,
    hidden_dim: 32,
    dino_bottleneck_dim: 16,
    output_dim: 64,
    center_method: "sinkhorn_knopp" as const,
    ibot_separate_head: true,
  };
  const steps = 2, b = 4;
  const { inst, run } = await startRun(
    plugin,
    testContext(model, args, { batchSize: b, totalSteps: steps, seed: 4 }),
  );
  const head = inst.modules().student_head as DINOv2Head;
  assert.notEqual(head.ibotHead, head.dinoHead);
  assert.ok(head.namedParameters().some(([n]) => n.startsWith("ibot_head.mlp.0")));
  const sd0 = await inst.stateDict!();
  await trainSteps(run, {
    steps,
    views: [[b, 3, 56, 56], [b, 3, 56, 56]],
    seed: 6,
    // Step 1 accumulates two micro-batches (the EMA runs after each, as Lightning).
    batch: (views, s) => s === 0 ? { views } : [{ views }, { views: [views[1], views[0]] }],
    onStep: async (_, r) => {
      assert.equal(await r.metrics.dino_local_loss.item(), 0, "no local crops");
    },
  });
  const sd1 = await inst.stateDict!();
  assert.ok(
    !differs(
      sd1["dino_loss.center"].data as Float32Array,
      sd0["dino_loss.center"].data as Float32Array,
    ),
    "Sinkhorn-Knopp keeps no center",
  );
  run.dispose();
  inst.dispose();
  model.getModel().dispose();
});
