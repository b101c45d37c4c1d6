import assert from "node:assert/strict";
import {
  optimArgs,
  parseKeyValues,
  resolveMethodArgs,
  resolveRunLength,
  resolveTrainConfig,
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
