import assert from "node:assert/strict";
import {
  optimArgs,
  parseKeyValues,
  resolveMethodArgs,
  resolveRunLength,
  resolveTrainConfig,
  splitScheduleArgs,
} from "./train_config.ts";
import { parseYaml } from "../transforms/yaml.ts";

Deno.test("defaults are LightlyTrain's and unknown keys name the nearest one", () => {
  const c = resolveTrainConfig({ out: "o", data: "d", model: "sinter/tinycnn16" });
  assert.equal(c.method, "distillation");
  assert.equal(c.batch_size, 128);
  assert.equal(c.epochs, "auto");
  assert.equal(c.seed, 0);
  assert.throws(
    () => resolveTrainConfig({ out: "o", data: "d", model: "m", batchsize: 3 }),
    /unknown argument 'batchsize'; did you mean 'batch_size'\?/,
  );
  assert.throws(() => resolveTrainConfig({ data: "d", model: "m" }), /out: required/);
  assert.throws(
    () => resolveTrainConfig({ out: "o", data: "d", model: "m", batch_size: 0 }),
    /batch_size: expected an integer >= 1/,
  );
  assert.throws(
    () =>
      resolveTrainConfig({
        out: "o",
        data: "d",
        model: "m",
        resume_interrupted: true,
        checkpoint: "c",
      }),
    /mutually exclusive/,
  );
  assert.equal(
    resolveTrainConfig({ out: "o", data: "d", model: "m", resume: true }).resume_interrupted,
    true,
  );
});

Deno.test("key=value arguments nest on dots and parse YAML values", () => {
  const a = parseKeyValues(
    [
      "out=runs/x",
      "optim_args.betas=[0.9,0.999]",
      "loggers.tensorboard=null",
      "batch_size=64",
      "transform_args.image_size=[32,32]",
      'data=["a.jpg", "dir"]',
    ],
    parseYaml,
  );
  assert.deepEqual(a, {
    out: "runs/x",
    optim_args: { betas: [0.9, 0.999] },
    loggers: { tensorboard: null },
    batch_size: 64,
    transform_args: { image_size: [32, 32] },
    data: ["a.jpg", "dir"],
  });
  assert.throws(() => parseKeyValues(["oops"], parseYaml), /not key=value/);
});

Deno.test("method args and optimizer args are strict", () => {
  const d = { temperature: 0.1, output_dim: 128, queue_size: "auto" };
  assert.deepEqual(resolveMethodArgs("simclr", d, { temperature: 0.2 }), {
    ...d,
    temperature: 0.2,
  });
  assert.throws(
    () => resolveMethodArgs("simclr", d, { temprature: 1 }),
    /did you mean 'temperature'/,
  );
  assert.throws(() => resolveMethodArgs("simclr", d, { temperature: "x" }), /expected a number/);
  assert.deepEqual(resolveMethodArgs("x", d, { queue_size: 64 }).queue_size, 64);
  assert.deepEqual(optimArgs({ lr: 0.1, weight_decay: 0 }), { lr: 0.1, weightDecay: 0 });
  assert.throws(() => optimArgs({ weight_decy: 0 }), /did you mean 'weight_decay'/);
});

Deno.test("run length follows LightlyTrain's auto rules", () => {
  const base = {
    batch_size: 128,
    epochs: "auto" as const,
    steps: "auto" as const,
    gradient_accumulation_steps: 1,
  };
  assert.deepEqual(resolveRunLength(base, 1000, { epochs: 100 }), {
    batchSize: 128,
    stepsPerEpoch: 7,
    epochs: 100,
    totalSteps: 700,
  });
  assert.equal(resolveRunLength(base, 50, { epochs: 100 }).batchSize, 50, "batch clamped");
  const dinov2 = resolveRunLength(base, 1000, { epochs: null, steps: 125000 });
  assert.equal(dinov2.epochs, Math.ceil(125000 * 128 / 1000));
  assert.equal(resolveRunLength({ ...base, steps: 5 }, 1000, { epochs: 100 }).totalSteps, 5);
});

Deno.test("method_args schedule overrides: the FMNIST recipe's no-scaling, 30-step warmup, cosine to 0", async () => {
  const { resolveOptim } = await import("./method_run.ts");
  const { plugin: simclr } = await import("../methods/simclr/mod.ts");
  const { schedule, rest } = splitScheduleArgs({
    temperature: 0.2,
    lr_scale_method: "none",
    lr_warmup_steps: 30,
    lr_end_factor: 0,
  });
  assert.deepEqual(rest, { temperature: 0.2 });
  const settings = { optimizer: "adamw" as const, optimizerArgs: { lr: 1e-3 }, batchSize: 256 };
  const r = resolveOptim(simclr, { ...settings, totalSteps: 600, epochs: 3, schedule });
  assert.equal(r.peakLr, 1e-3); // no batch scaling
  assert.equal(r.warmupSteps, 30);
  assert.equal(r.lrEndFactor, 0);
  // Without overrides SimCLR scales linearly (reference 256) and warms up min(10, E/10) epochs.
  const d = resolveOptim(simclr, { ...settings, batchSize: 512, totalSteps: 600, epochs: 3 });
  assert.equal(d.peakLr, 2e-3);
  assert.equal(d.warmupSteps, 60);
  assert.equal(d.lrEndFactor, 0.001);
  // The recipe's LR, step by step (lightly's cosine_warmup_schedule, end value 0).
  const { cosineWarmupSchedule } = await import("./schedule.ts");
  const lr = (s: number) => 1e-3 * cosineWarmupSchedule(s, 600, 1, r.lrEndFactor, r.warmupSteps);
  assert.equal(lr(0), 1e-3 / 30);
  assert.equal(lr(29), 1e-3);
  assert.equal(lr(30), 1e-3);
  assert.ok(Math.abs(lr(314) - 1e-3 * 0.5 * (1 + Math.cos((Math.PI * 284) / 569))) < 1e-15);
  assert.equal(lr(599), 0);
  for (
    const [bad, msg] of [
      [{ lr_scale_method: "cubic" }, /linear, sqrt or none/],
      [{ lr_warmup_steps: 2.5 }, /integer >= 0/],
      [{ lr_end_factor: -1 }, /number >= 0/],
      [{ reference_batch_size: 0 }, /positive number/],
    ] as const
  ) {
    assert.throws(() => splitScheduleArgs(bad), msg);
  }
  // An unknown method argument lists the shared schedule keys too.
  assert.throws(
    () => resolveMethodArgs("simclr", { temperature: 0.1 }, { lr_warmup: 3 }),
    /did you mean 'lr_warmup_steps'/,
  );
});
