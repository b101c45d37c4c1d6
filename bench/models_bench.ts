/**
 * Model throughput on the current adapter: for each case, the backbone forward (eval mode, no
 * gradients), forward + backward (train mode, loss = mean of the pooled features) and a full
 * SimCLR training step (two views of each image through backbone and projection head, NT-Xent,
 * backward, SGD update; driven through `MethodRun` without data), in images/s, with the peak
 * GPU memory of a step from the buffer pool. The training step is compared with PyTorch 1.13 on
 * the CPU of the machine the cases were chosen on (2 cores; numbers from the issue).
 *
 * Each measurement warms up first and times `n` steps with one readback at the end (see
 * bench/step_timer.ts). A training step estimated over 10 s (forward passes: 2.5 s) is timed
 * once after one warm-up step at its batch (`single_step`); one estimated over the cap, 40 s (forward
 * passes: 10 s), is timed once at the largest power-of-two batch under it, or with `fullBatch`
 * once at the full batch. Images/s counts source images: a SimCLR step of batch 128 processes 256 views.
 *
 * `deno run -A bench/models_bench.ts [case ids...] [--quick] [--full-batch]`
 *
 * @module
 */
import { initDevice } from "../core/device.ts";
import { pool } from "../core/engine.ts";
import { clearBindGroupCache } from "../kernels/kernel.ts";
import { backward, noGrad } from "../core/autograd.ts";
import { MethodRun } from "../core/method_run.ts";
import { Rng } from "../core/random.ts";
import { type Tensor, tensor, tidy } from "../core/tensor.ts";
import { mean } from "../kernels/reduce.ts";
import { trimMatmulTextures } from "../kernels/matmul_tex.ts";
import { trimConvTextures } from "../kernels/conv2d_tex.ts";
import { createModel, type ModelWrapper } from "../models/mod.ts";
import { plugin as simclr } from "../methods/simclr/mod.ts";
import { round, type Stepper, type StepTiming, timeSteps } from "./step_timer.ts";

/** One model case. */
export interface ModelCase {
  /** Short id used in the results. */
  id: string;
  /** Registry name. */
  model: string;
  /** Model options. */
  options: Record<string, unknown>;
  /** Input channels. */
  channels: number;
  /** Input height and width. */
  size: number;
  /** Batch size. */
  batch: number;
  /** PyTorch 1.13 CPU images/s of the SimCLR training step on 2 cores (from the issue). */
  pytorchTrainImagesPerSec: number;
}

/** The cases of the issue. */
export const MODEL_CASES: readonly ModelCase[] = [
  {
    id: "resnet18_cifar_32",
    model: "torchvision/resnet18",
    options: { cifarStem: true },
    channels: 3,
    size: 32,
    batch: 128,
    pytorchTrainImagesPerSec: 10.8,
  },
  {
    id: "resnet18_64",
    model: "torchvision/resnet18",
    options: {},
    channels: 3,
    size: 64,
    batch: 64,
    pytorchTrainImagesPerSec: 33.7,
  },
  {
    id: "vit_tiny_patch4_32",
    model: "timm/vit_tiny_patch4_32",
    options: {},
    channels: 3,
    size: 32,
    batch: 128,
    pytorchTrainImagesPerSec: 14.6,
  },
  {
    id: "tinycnn16_28",
    model: "sinter/tinycnn16",
    options: { inChannels: 1 },
    channels: 1,
    size: 28,
    batch: 256,
    pytorchTrainImagesPerSec: 142,
  },
];

/** The share of PyTorch's training throughput the project aims for. */
export const GOAL_RATIO = 0.25;

/** Options of {@link benchModels}. */
export interface ModelBenchOptions {
  /** Case ids to run (default: all). */
  cases?: string[];
  /** Seconds of timed training steps per case (default 6; forward passes get half). */
  targetSeconds?: number;
  /**
   * Longest training step to time (default 40 s; forward passes get a quarter): a case estimated
   * over it is timed once at a smaller power-of-two batch (see bench/step_timer.ts).
   */
  capSeconds?: number;
  /** Time the requested batches even when a step is estimated over the cap (one step). */
  fullBatch?: boolean;
  /** Skip the forward and forward + backward measurements (training step only). */
  trainOnly?: boolean;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/** The result of one case. */
export interface ModelCaseResult {
  /** Case id. */
  id: string;
  /** Registry name and options. */
  model: string;
  /** Model options. */
  options: Record<string, unknown>;
  /** Input `[batch, channels, size, size]`. */
  input: number[];
  /** Parameters of the backbone. */
  parameters: number;
  /** Forward only (eval mode, no gradients). */
  forward: StepTiming | null;
  /** Forward + backward of the backbone (train mode). */
  forward_backward: StepTiming | null;
  /** SimCLR training step: 2 views, projection head, loss, backward, optimizer. */
  train_step: StepTiming | { error: string };
  /** PyTorch 1.13 CPU images/s of the training step (2 cores). */
  pytorch_train_images_per_s: number;
  /** `train_step.images_per_s / pytorch_train_images_per_s`. */
  ratio_vs_pytorch: number | null;
  /**
   * The same with images per CPU-second times 2 (PyTorch used both cores): the ratio the wall
   * number would have on an idle machine when the cores are shared.
   */
  ratio_vs_pytorch_per_cpu: number | null;
  /** Whether `ratio_vs_pytorch` reaches {@link GOAL_RATIO}. */
  meets_goal: boolean | null;
  /** Set when the training step ran at a smaller batch than the case asks for. */
  note?: string;
}

function randomViews(n: number, shape: number[], seed: number): Tensor[] {
  const rng = new Rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  // Values like normalized images (roughly zero mean, unit spread).
  return Array.from({ length: n }, () => {
    return tensor(rng.uniformArray(size, -1.7, 1.7), shape);
  });
}

function paramCount(m: ModelWrapper): number {
  return m.getModel().parameters().reduce((a, p) => a + p.size, 0);
}

/** Backbone forward: `[B, C, 1, 1]` pooled features, no tape. */
function forwardStepper(m: ModelWrapper, c: ModelCase) {
  return (b: number): Stepper => {
    const [x] = randomViews(1, [b, c.channels, c.size, c.size], 11);
    return {
      step: () => noGrad(() => tidy(() => m.forwardPool(m.forwardFeatures(x)))),
      dispose: () => x.dispose(),
    };
  };
}

/** Backbone forward + backward; the gradients are dropped after each step. */
function backwardStepper(m: ModelWrapper, c: ModelCase) {
  const params = m.getModel().parameters();
  return (b: number): Stepper => {
    const [x] = randomViews(1, [b, c.channels, c.size, c.size], 12);
    return {
      step: () => {
        const loss = tidy(() => {
          const l = mean(m.forwardPool(m.forwardFeatures(x)));
          backward(l);
          return l;
        });
        for (const p of params) {
          p.grad?.dispose();
          p.grad = null;
        }
        return loss;
      },
      dispose: () => x.dispose(),
    };
  };
}

/** Creates the SimCLR instance and run for a model (default head: 2048 hidden, 128 out). */
export async function simclrRun(
  model: ModelWrapper,
  batch: number,
  datasetSize = 50_000,
): Promise<{ run: MethodRun; dispose: () => void }> {
  const inst = await simclr.create({
    model,
    args: { ...simclr.defaults.methodArgs },
    datasetSize,
    batchSize: batch,
    totalSteps: 1000,
    rng: new Rng(3),
    loadModel: () => Promise.reject(new Error("no teacher")),
  });
  const run = new MethodRun(simclr, inst, {
    optimizer: "auto",
    batchSize: batch,
    totalSteps: 1000,
    epochs: 10,
  });
  return {
    run,
    dispose: () => {
      run.dispose();
      inst.dispose();
    },
  };
}

/** A method training step on fixed random views of the given shapes. */
export function methodStepper(run: MethodRun, shapes: (b: number) => number[][]) {
  return (b: number): Stepper => {
    const views = shapes(b).map((s, i) => randomViews(1, s, 20 + i)[0]);
    return {
      step: () => {
        const r = run.trainStep({ views });
        for (const t of Object.values(r.metrics)) t.dispose();
        return r.loss;
      },
      dispose: () => views.forEach((v) => v.dispose()),
    };
  };
}

async function benchCase(
  c: ModelCase,
  o: ModelBenchOptions,
  log: (l: string) => void,
): Promise<ModelCaseResult> {
  const batch = c.batch;
  const target = o.targetSeconds ?? 6, cap = o.capSeconds ?? 40;
  const t = { targetSeconds: target, capSeconds: cap, fullBatch: o.fullBatch, log };
  const tf = { ...t, targetSeconds: target / 2, capSeconds: cap / 4 };
  const model = createModel(c.model, { ...c.options, seed: 1 });
  const parameters = paramCount(model);
  const shape = [batch, c.channels, c.size, c.size];
  log(`${c.id}: ${c.model} ${JSON.stringify(c.options)} input [${shape.join(", ")}]`);
  let forward: StepTiming | null = null, fb: StepTiming | null = null;
  let train: StepTiming | { error: string };
  try {
    if (!o.trainOnly) {
      log(" forward");
      model.getModel().eval();
      forward = await timeSteps(batch, forwardStepper(model, c), tf);
      model.getModel().train();
      log(" forward + backward");
      fb = await timeSteps(batch, backwardStepper(model, c), tf);
    }
    log(" SimCLR training step (2 views)");
    const sim = await simclrRun(model, batch);
    try {
      train = await timeSteps(
        batch,
        methodStepper(sim.run, (b) => [0, 1].map(() => [b, c.channels, c.size, c.size])),
        t,
      );
    } finally {
      sim.dispose();
    }
  } catch (e) {
    train = { error: (e as Error).message };
    log(`  failed: ${(e as Error).message}`);
  } finally {
    model.getModel().dispose();
    pool.trim();
    clearBindGroupCache();
    trimMatmulTextures();
    trimConvTextures();
  }
  const ips = "images_per_s" in train ? train.images_per_s : null;
  const ipc = "images_per_s" in train ? train.images_per_cpu_s : null;
  const ratio = ips === null ? null : round(ips / c.pytorchTrainImagesPerSec);
  return {
    id: c.id,
    model: c.model,
    options: c.options,
    input: shape,
    parameters,
    forward,
    forward_backward: fb,
    train_step: train,
    pytorch_train_images_per_s: c.pytorchTrainImagesPerSec,
    ratio_vs_pytorch: ratio,
    ratio_vs_pytorch_per_cpu: ipc === null ? null : round((ipc * 2) / c.pytorchTrainImagesPerSec),
    meets_goal: ratio === null ? null : ratio >= GOAL_RATIO,
    ...("batch" in train && train.batch < batch
      ? {
        note: `training step timed at batch ${train.batch}, not ${batch}: the full step was ` +
          `estimated at ${train.estimated_full_step_s} s (over ${cap} s); a smaller batch can only ` +
          "lower the throughput (fixed costs per step weigh more), so the ratio is a lower bound",
      }
      : {}),
  };
}

/** Runs the model cases on the current device (initialized if needed). */
export async function benchModels(opts: ModelBenchOptions = {}): Promise<object> {
  await initDevice();
  const log = opts.log ?? (() => {});
  const cases = MODEL_CASES.filter((c) => !opts.cases || opts.cases.includes(c.id));
  const results: ModelCaseResult[] = [];
  for (const c of cases) results.push(await benchCase(c, opts, log));
  return {
    what: "images/s of the backbone forward (eval, no grad), forward + backward (train mode, " +
      "loss = mean of pooled features) and a SimCLR training step (2 views per image, default " +
      "head 2048-128, NT-Xent, SGD), on fixed random inputs; images/s counts source images",
    pytorch: "PyTorch 1.13 CPU, 2 cores, same training step (numbers from the issue)",
    goal_ratio: GOAL_RATIO,
    cases: results,
  };
}

if (import.meta.main) {
  const ids = Deno.args.filter((a) => !a.startsWith("--"));
  const quick = Deno.args.includes("--quick");
  const r = await benchModels({
    cases: ids.length ? ids : undefined,
    targetSeconds: quick ? 2 : 6,
    capSeconds: quick ? 10 : 40,
    trainOnly: quick,
    fullBatch: Deno.args.includes("--full-batch"),
    log: console.error,
  });
  console.log(JSON.stringify(r, null, 2));
}
