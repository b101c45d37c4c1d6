/**
 * `deno task eval:fmnist`: the Fashion-MNIST protocol (recipe `fmnist-simclr-600`,
 * shared/reference/fmnist-recipe.md) through Sinter's own `pretrain`, then kNN top-1 (k=20,
 * k=200) of the pretrained encoder, of the same encoder at random init and of raw pixels, with
 * the PyTorch 1.13 reference beside them. Writes `bench/results/fmnist_<adapter>.json` (seed 0;
 * other seeds `fmnist_<adapter>_seed<N>.json`).
 *
 * `deno task eval:fmnist [--seed=0] [--steps=600] [--out=DIR] [--data=DIR] [--eval-only=DIR]`
 *
 * `--eval-only=DIR` evaluates a finished run of this recipe in DIR instead of training (its
 * checkpoint, metrics and the train time its train.log recorded), e.g. when the evaluation of
 * a long run failed.
 *
 * Data: Debian's `dataset-fashion-mnist` (`/usr/share/datasets/fashion-mnist`, IDX files read
 * directly); installed with apt when missing (needs root or sudo). `--data` or
 * `SINTER_FMNIST_DIR` points elsewhere (`.gz` or uncompressed IDX files). `--steps` shortens the run for a check (the JSON then
 * says so and is written as `_partial`).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { initDevice } from "../core/device.ts";
import { pretrain } from "../core/trainer.ts";
import { loadCheckpoint } from "../core/checkpoint.ts";
import { modelFromCheckpoint } from "../core/export.ts";
import { findIdxFile, readIdxDataset } from "../data/idx.ts";
import type { ImageArray } from "../data/array.ts";
import { knnAccuracy, type KnnEvalResult, knnEvaluate } from "../eval/knn.ts";
import { createModel, type ModelWrapper } from "../models/wrapper.ts";
import "../models/mod.ts";
import { adapterSlug, updateReadme } from "./readme_table.ts";

const DEFAULT_DIR = "/usr/share/datasets/fashion-mnist";
const MEAN = 0.286, STD = 0.353;

/** PyTorch 1.13 on the same recipe (fmnist-recipe.md, seeds 0, 1, 2). */
const PYTORCH = {
  pretrained_k20: { mean: 82.33, std: 0.26, seeds: [82.61, 82.1, 82.28] },
  pretrained_k200: { mean: 79.02, std: 0.44, seeds: [79.16, 78.53, 79.38] },
  random_init_k20: { mean: 77.87, std: 1.04, seeds: [78.04, 76.75, 78.81] },
  random_init_k200: { mean: 73.83, std: 1.01, seeds: [74.19, 72.68, 74.61] },
  raw_pixels: { k20: 84.59, k200: 79.13 },
  final_loss: { mean: 3.0926, std: 0.0246 },
  train_seconds_uncontended: 361,
  images_per_second_uncontended: 425.6,
};

/** The recipe as `pretrain` arguments: nothing here is special to Fashion-MNIST's code path. */
export function fmnistRecipe(
  data: string,
  out: string,
  seed: number,
  steps: number,
): Record<string, unknown> {
  return {
    out,
    data,
    overwrite: true,
    seed,
    model: "sinter/tinycnn16",
    model_args: { init: "pytorch" },
    method: "simclr",
    method_args: {
      hidden_dim: 512,
      output_dim: 128,
      num_layers: 2,
      batch_norm: true,
      temperature: 0.2,
      lr_scale_method: "none",
      lr_warmup_steps: 30,
      lr_end_factor: 0,
    },
    optim: "adamw",
    optim_args: { lr: 1e-3, weight_decay: 1e-4, betas: [0.9, 0.999], eps: 1e-8 },
    batch_size: 256,
    steps,
    transform_args: {
      image_size: [28, 28],
      num_channels: 1,
      channel_drop: null,
      random_resize: { min_scale: 0.2, max_scale: 1.0 },
      random_flip: { horizontal_prob: 0.5, vertical_prob: 0 },
      random_rotation: null,
      color_jitter: {
        prob: 0.8,
        strength: 1,
        brightness: 0.4,
        contrast: 0.4,
        saturation: 0,
        hue: 0,
        single_channel: true,
      },
      random_gray_scale: null,
      gaussian_blur: null,
      solarize: null,
      normalize: { mean: [MEAN], std: [STD] },
    },
  };
}

/** `<dir>/<base>.gz`, or the uncompressed `<dir>/<base>`. */
async function idxPath(dir: string, base: string): Promise<string> {
  const p = await findIdxFile(`${dir}/${base}.gz`);
  if (!p) throw new Error(`${dir}: no ${base}[.gz]`);
  return p;
}

async function ensureData(dir: string): Promise<void> {
  if (await findIdxFile(`${dir}/train-images-idx3-ubyte.gz`)) return;
  if (dir !== DEFAULT_DIR) {
    throw new Error(`no Fashion-MNIST IDX files in ${dir} (expected train-images-idx3-ubyte.gz)`);
  }
  console.log("Fashion-MNIST not found; installing Debian's dataset-fashion-mnist with apt");
  const root = Deno.uid() === 0;
  const cmd = root ? ["apt-get"] : ["sudo", "apt-get"];
  for (const args of [["update", "-qq"], ["install", "-y", "-qq", "dataset-fashion-mnist"]]) {
    const r = await new Deno.Command(cmd[0], {
      args: [...cmd.slice(1), ...args],
      env: { DEBIAN_FRONTEND: "noninteractive" },
    }).output();
    if (!r.success) {
      throw new Error(
        `apt-get ${args.join(" ")} failed (${new TextDecoder().decode(r.stderr).trim()}); ` +
          "install dataset-fashion-mnist yourself or pass --data=DIR",
      );
    }
  }
}

/** Raw-pixel kNN: `x/255`, 784-d, L2-normalized inside {@link knnAccuracy}. */
async function pixelKnn(train: ImageArray, test: ImageArray): Promise<Record<number, number>> {
  const px = (a: ImageArray) => ({
    data: Float32Array.from(a.images, (v) => v / 255),
    dim: a.height * a.width * a.channels,
    labels: a.labels!,
  });
  return await knnAccuracy(px(train), px(test), { k: [20, 200] });
}

async function encoderKnn(
  model: ModelWrapper,
  train: ImageArray,
  test: ImageArray,
): Promise<KnnEvalResult> {
  return await knnEvaluate(model, train, test, {
    imageSize: [28, 28],
    mean: [MEAN],
    std: [STD],
    k: [20, 200],
    batchSize: 500,
  });
}

const pct = (v: number) => Math.round(v * 10000) / 100;

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      seed: { type: "string", default: "0" },
      steps: { type: "string", default: "600" },
      out: { type: "string" },
      data: { type: "string" },
      "skip-pixels": { type: "boolean", default: false },
      "eval-only": { type: "string" },
    },
  });
  const seed = Number(values.seed), steps = Number(values.steps);
  const dir = values.data ?? Deno.env.get("SINTER_FMNIST_DIR") ?? DEFAULT_DIR;
  await ensureData(dir);
  const dev = await initDevice();
  const trainPath = await idxPath(dir, "train-images-idx3-ubyte");
  const train = await readIdxDataset(trainPath);
  const test = await readIdxDataset(await idxPath(dir, "t10k-images-idx3-ubyte"));
  if (!train.labels || !test.labels) throw new Error(`labels files missing in ${dir}`);
  const evalOnly = values["eval-only"];
  const out = evalOnly ?? values.out ?? await Deno.makeTempDir({ prefix: "sinter-fmnist-" });
  const config = fmnistRecipe(trainPath, out, seed, steps);
  console.log(`adapter: ${dev.report.description}; out: ${out}`);

  // The encoder at random init: the same model pretrain builds from the same seed.
  const t0 = performance.now();
  const fresh = createModel("sinter/tinycnn16", { inChannels: 1, seed, init: "pytorch" });
  const random = await encoderKnn(fresh, train, test);
  fresh.getModel().dispose();
  console.log(`random init: k=20 ${pct(random.top1[20])}  k=200 ${pct(random.top1[200])}`);

  const r = evalOnly ? await finishedRun(evalOnly) : await pretrain(config);
  const ck = await loadCheckpoint(r.checkpoint);
  const trained = modelFromCheckpoint(ck);
  const pre = await encoderKnn(trained, train, test);
  trained.getModel().dispose();
  console.log(`pretrained:  k=20 ${pct(pre.top1[20])}  k=200 ${pct(pre.top1[200])}`);
  const pixels = values["skip-pixels"] ? null : await pixelKnn(train, test);
  if (pixels) console.log(`raw pixels:  k=20 ${pct(pixels[20])}  k=200 ${pct(pixels[200])}`);

  const metrics = (await Deno.readTextFile(`${out}/metrics.jsonl`)).trim().split("\n")
    .map((l) => JSON.parse(l) as { step: number; train_loss?: number })
    .filter((m) => m.train_loss !== undefined);
  const losses = metrics.map((m) => m.train_loss!);
  const images = r.steps * 256;
  const k20 = pct(pre.top1[20]);
  const result = {
    recipe: "fmnist-simclr-600",
    date: new Date().toISOString(),
    git_commit: await gitHead(),
    adapter: dev.report.description,
    backend: dev.report.backend,
    seed,
    steps: r.steps,
    complete: r.steps === 600,
    evaluated_separately: evalOnly ? `--eval-only ${evalOnly}: the run trained earlier` : undefined,
    pretrained: { k20, k200: pct(pre.top1[200]) },
    random_init: { k20: pct(random.top1[20]), k200: pct(random.top1[200]) },
    raw_pixels: pixels ? { k20: pct(pixels[20]), k200: pct(pixels[200]) } : null,
    loss: {
      step0: losses[0] ?? null,
      final: losses.at(-1) ?? null,
      mean_last_20: losses.length >= 20 ? losses.slice(-20).reduce((a, b) => a + b, 0) / 20 : null,
      logged_steps: metrics.length,
    },
    train_seconds: Math.round(r.seconds * 10) / 10,
    images_per_second: Math.round((images / r.seconds) * 10) / 10,
    eval_seconds: {
      random_init: Math.round(random.seconds),
      pretrained: Math.round(pre.seconds),
    },
    total_seconds: Math.round((performance.now() - t0) / 1000),
    loadavg_after: Deno.loadavg(),
    cores: navigator.hardwareConcurrency,
    pytorch_reference: PYTORCH,
    target_k20: Math.round((PYTORCH.pretrained_k20.mean - 1) * 100) / 100,
    meets_target: k20 >= PYTORCH.pretrained_k20.mean - 1,
    config,
  };
  const slug = adapterSlug(dev.report.description);
  const suffix = (seed ? `_seed${seed}` : "") + (r.steps === 600 ? "" : "_partial");
  const file = new URL(`./results/fmnist_${slug}${suffix}.json`, import.meta.url);
  await Deno.writeTextFile(file, JSON.stringify(result, null, 2) + "\n");
  if (r.steps === 600) {
    updateReadme(new URL("../README.md", import.meta.url), new URL("./results/", import.meta.url));
  }
  console.log(
    `\nFMNIST recipe, seed ${seed}, ${r.steps} steps on ${dev.report.description}:\n` +
      `  pretrained k=20 ${k20} (PyTorch ${PYTORCH.pretrained_k20.mean} ± ` +
      `${PYTORCH.pretrained_k20.std}; target >= ${result.target_k20}: ${
        result.meets_target ? "met" : "NOT met"
      })\n  train ${result.train_seconds} s, ${result.images_per_second} images/s\n` +
      `wrote ${file.pathname}`,
  );
}

/** Steps, train seconds and checkpoint of a finished run (its train.log "Finished" line). */
async function finishedRun(
  dir: string,
): Promise<{ steps: number; seconds: number; checkpoint: string }> {
  const log = await Deno.readTextFile(`${dir}/train.log`);
  const m = /Finished (\d+) steps in ([\d.]+) s/.exec(log);
  if (!m) throw new Error(`${dir}/train.log has no "Finished N steps" line: the run did not end`);
  return { steps: Number(m[1]), seconds: Number(m[2]), checkpoint: `${dir}/checkpoints/last.ckpt` };
}

async function gitHead(): Promise<string | null> {
  try {
    const r = await new Deno.Command("git", { args: ["rev-parse", "HEAD"] }).output();
    return r.success ? new TextDecoder().decode(r.stdout).trim() : null;
  } catch {
    return null;
  }
}
