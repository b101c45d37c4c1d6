/**
 * `pretrain`: LightlyTrain's pretraining job on Sinter. Resolves the configuration, builds the
 * data loader, the GPU view pipeline, the model and the method, then trains with no
 * synchronous readback inside a step (losses are read in groups at logging points), writes
 * checkpoints atomically at every epoch end, exports the backbone, logs metrics / TensorBoard /
 * `train.log`, and writes a `report.html`.
 *
 * Out dir (as LightlyTrain): `checkpoints/last.ckpt` (+ `epoch=E-step=S.ckpt`),
 * `exported_models/exported_last.safetensors`, `metrics.jsonl`, `events.out.tfevents.*`,
 * `train.log`, plus `config.json` and `report.html`.
 *
 * @module
 */
import { initDevice } from "./device.ts";
import { pool, sync } from "./engine.ts";
import { Rng } from "./random.ts";
import { type Tensor, tidy } from "./tensor.ts";
import { type Checkpoint, loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import { getMethod, loadPlugin, type MethodPlugin, scanPluginsFolder } from "./plugin.ts";
import { MethodRun, type StepResult } from "./method_run.ts";
import {
  optimArgs,
  resolveMethodArgs,
  resolveRunLength,
  resolveTrainConfig,
  splitScheduleArgs,
  type TrainConfig,
} from "./train_config.ts";
import { ConfigError } from "./schema.ts";
import { RunLoggers } from "./logging/run_loggers.ts";
import { exampleViewsPng } from "./logging/image_grid.ts";
import { writeReport } from "./logging/report.ts";
import { readMetrics } from "./logging/metrics.ts";
import { createModel, loadModelWithWeights, type ModelWrapper } from "../models/wrapper.ts";
import { saveSafetensors, writeFileAtomic } from "../models/safetensors.ts";
import { createLoader, type ImageLoader } from "../data/loader.ts";
import { describeData, openDataset } from "../data/array.ts";
import { KnnMonitor } from "../eval/knn.ts";
import {
  type MethodTransforms,
  overrideTransforms,
  resolveTransformArgs,
  viewSpecs,
} from "../transforms/config.ts";
import { uploadU8Batch } from "../transforms/batch.ts";
import { ViewPipeline } from "../transforms/views.ts";
import "../models/mod.ts";
import "../methods/mod.ts";

/** Raised when training cannot go on (NaN loss, ...); the message says what to do. */
export class TrainingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TrainingError";
  }
}

/** What `pretrain` returns. */
export interface PretrainResult {
  /** The output folder. */
  out: string;
  /** Optimizer steps taken in total (including resumed ones). */
  steps: number;
  /** Epochs completed. */
  epochs: number;
  /** The last logged loss. */
  lastLoss: number | null;
  /** Path of the exported backbone weights. */
  exported: string;
  /** Path of the last checkpoint. */
  checkpoint: string;
  /** Seconds spent in the training loop (this process). */
  seconds: number;
  /** Images that could not be decoded and were skipped. */
  badImages: string[];
}

/** Options that only the API (not the config) can pass. */
export interface PretrainHooks {
  /** Called after every optimizer step (tests kill a run here). */
  onStep?: (step: number) => void | Promise<void>;
  /** Console for the log echo and progress; false silences it. */
  console?: false;
}

function isEmptyDir(path: string): boolean {
  try {
    for (const _ of Deno.readDirSync(path)) return false;
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return true;
    throw e;
  }
}

function prepareOut(c: TrainConfig): void {
  try {
    const st = Deno.statSync(c.out);
    if (!st.isDirectory) throw new ConfigError(`out=${c.out} exists and is not a folder`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (!isEmptyDir(c.out) && !c.overwrite && !c.resume_interrupted) {
    throw new ConfigError(
      `out=${c.out} exists and is not empty; pass overwrite=true to write into it, ` +
        "resume_interrupted=true to continue its run, or choose another out",
    );
  }
  Deno.mkdirSync(`${c.out}/checkpoints`, { recursive: true });
  Deno.mkdirSync(`${c.out}/exported_models`, { recursive: true });
}

async function loadPlugins(c: TrainConfig): Promise<void> {
  const specs = c.plugins === null ? [] : Array.isArray(c.plugins) ? c.plugins : [c.plugins];
  for (const s of specs) await loadPlugin(s);
  let dir: string | undefined;
  try {
    dir = Deno.env.get("SINTER_PLUGINS_DIR");
  } catch {
    dir = undefined;
  }
  if (dir) await scanPluginsFolder(dir);
}

/** Writes the backbone's weights (PyTorch names) as safetensors. */
export async function exportWeights(model: ModelWrapper, path: string): Promise<void> {
  const sd = await model.getModel().stateDict();
  await saveSafetensors(path, new Map(Object.entries(sd)), {
    format: "pt",
    sinter_model: model.name,
  });
}

/** The checkpoint prefix of the module a method exports (e.g. the EMA teacher for DINO). */
function exportPrefix(
  instance: { modules(): Record<string, unknown>; exportModel(): ModelWrapper },
): string {
  const target = instance.exportModel().getModel();
  for (const [k, m] of Object.entries(instance.modules())) if (m === target) return k;
  return "model";
}

interface Pending {
  step: number;
  epoch: number;
  r: StepResult;
  dataWait: number;
  seconds: number;
}

/** Pretrains `model` on `data` with `method`; see {@link TrainConfig} for every argument. */
export async function pretrain(
  args: Record<string, unknown>,
  hooks: PretrainHooks = {},
): Promise<PretrainResult> {
  const c = resolveTrainConfig(args);
  const dev = await initDevice();
  await loadPlugins(c);
  const plugin: MethodPlugin = getMethod(c.method);
  const resumePath = `${c.out}/checkpoints/last.ckpt`;
  let resume: Checkpoint | null = null;
  if (c.resume_interrupted) {
    try {
      Deno.statSync(resumePath);
      resume = await loadCheckpoint(resumePath);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  for (const k of Object.keys(c.loggers ?? {})) {
    if (!["jsonl", "tensorboard"].includes(k)) {
      throw new ConfigError(
        `loggers.${k}: not supported (Sinter writes jsonl and tensorboard; wandb and mlflow need network services); remove it`,
      );
    }
  }
  let monitor = null as KnnMonitor | null;
  for (const [k, v] of Object.entries(c.callbacks ?? {})) {
    if (k === "knn_monitor") {
      if (v !== null) monitor = new KnnMonitor(v);
      continue;
    }
    throw new ConfigError(
      `callbacks.${k}: not supported (checkpoints and exports are written every epoch; the one ` +
        `callback is knn_monitor: {train: DIR, val: DIR, every_n_epochs: 1}); remove it`,
    );
  }
  await monitor?.check();
  prepareOut(c);
  const loggers = RunLoggers.open(c.out, {
    jsonl: (c.loggers?.jsonl ?? {}) !== null,
    tensorboard: (c.loggers?.tensorboard ?? {}) !== null,
    console: hooks.console,
  });
  const log = loggers.log;
  let loader: ImageLoader | null = null;
  let run: MethodRun | null = null;
  let model: ModelWrapper | null = null;
  try {
    log.info(`Args: ${JSON.stringify({ ...args, data: describeData(c.data) })}`);
    log.info(`Adapter: ${dev.report.description} (${dev.report.backend})`);
    if (resume) log.info(`Resuming from ${resumePath} at step ${resume.meta.step}`);
    else if (c.resume_interrupted) {
      log.info(`No checkpoint in ${c.out}/checkpoints; starting fresh`);
    }

    // Transforms: the method's defaults with the user's overrides.
    const mt = overrideTransforms(
      plugin.transforms as unknown as MethodTransforms,
      c.transform_args ?? {},
    );
    const targs = resolveTransformArgs(mt.transform_args);
    const specs = viewSpecs(mt);
    const pipeline = new ViewPipeline(specs);
    const maxView = Math.max(...specs.flatMap((s) => s.size));

    // Data.
    const la = c.loader_args ?? {};
    for (const k of Object.keys(la)) {
      if (!["image_size", "cache_bytes", "resize", "prefetch"].includes(k)) {
        throw new ConfigError(
          `loader_args.${k}: unknown key (valid: image_size, cache_bytes, resize, prefetch)`,
        );
      }
    }
    const bad: string[] = [];
    const dataset = await openDataset(c.data);
    const datasetSize = dataset.size;
    const len = resolveRunLength(c, datasetSize, plugin.defaults);
    const maxSteps = c.trainer_args?.max_steps;
    if (maxSteps !== undefined) len.totalSteps = Math.min(len.totalSteps, Number(maxSteps));
    const microBatch = len.batchSize;
    loader = await createLoader({
      data: dataset.data,
      batchSize: microBatch,
      size: Number(la.image_size ?? Math.ceil(maxView * 1.15)),
      resize: (la.resize as "fit" | "crop" | "stretch" | undefined) ?? "fit",
      channels: targs.num_channels,
      workers: c.num_workers === "auto" ? undefined : c.num_workers,
      prefetch: la.prefetch === undefined ? undefined : Number(la.prefetch),
      cacheBytes: Number(la.cache_bytes ?? 0),
      seed: c.seed,
      onBadImage: (b) => {
        bad.push(b.name);
        log.warn(`skipping unreadable image ${b.name}: ${b.error}`);
      },
      onWarning: (m) => log.warn(m),
    });

    // Model and method.
    if (c.embed_dim !== null) {
      throw new ConfigError("embed_dim: the embedding head is not supported yet; remove it");
    }
    model = createModel(c.model, {
      ...(c.model_args ?? {}),
      inChannels: targs.num_channels,
      seed: c.seed,
    });
    const { schedule, rest } = splitScheduleArgs(c.method_args);
    const methodArgs = resolveMethodArgs(plugin.name, plugin.defaults.methodArgs, rest);
    plugin.validate?.({ model, args: methodArgs });
    const methodRng = new Rng(c.seed + 1);
    const viewRng = new Rng(c.seed + 2);
    const instance = await plugin.create({
      model,
      args: methodArgs,
      datasetSize,
      batchSize: microBatch * c.gradient_accumulation_steps,
      totalSteps: len.totalSteps,
      rng: methodRng,
      loadModel: loadModelWithWeights,
    });
    run = new MethodRun(plugin, instance, {
      optimizer: c.optim as "auto",
      optimizerArgs: optimArgs(c.optim_args),
      batchSize: microBatch * c.gradient_accumulation_steps,
      totalSteps: len.totalSteps,
      epochs: len.epochs,
      schedule,
    });

    // Weights or a full resume.
    let startStep = 0;
    if (c.checkpoint) {
      const ck = await loadCheckpoint(c.checkpoint);
      ck.restoreModule("model", model.getModel());
      log.info(`Loaded weights from ${c.checkpoint}`);
    }
    if (resume) {
      const mods = instance.modules();
      for (const [name, m] of Object.entries(mods)) resume.restoreModule(name, m);
      const os = resume.optimizerState();
      if (os) run.optimizer.loadStateDict(os);
      instance.loadStateDict?.(resume.methodState());
      methodRng.state = resume.meta.rng.method;
      viewRng.state = resume.meta.rng.views;
      startStep = resume.meta.step;
      run.step = startStep;
    }

    const resolved = {
      ...c,
      data: describeData(c.data),
      method: plugin.name,
      method_args: methodArgs,
      transform_args: mt.transform_args,
      optim: run.optim.name,
      optim_args: run.optim.args,
      batch_size: microBatch,
      epochs: len.epochs,
      steps: len.totalSteps,
      dataset_size: datasetSize,
      steps_per_epoch: len.stepsPerEpoch,
      warmup_steps: run.optim.warmupSteps,
      lr_end_factor: run.optim.lrEndFactor,
      adapter: dev.report.description,
    };
    log.info(`Resolved configuration: ${JSON.stringify(resolved)}`);
    await Deno.writeTextFile(`${c.out}/config.json`, JSON.stringify(resolved, null, 2) + "\n");

    const logEvery = Math.min(50, Math.max(1, Math.floor(datasetSize / microBatch)));
    const pending: Pending[] = [];
    let lastLoss: number | null = null;
    let examplePng: Uint8Array | undefined;
    const t0 = performance.now();
    let lastGoodCheckpoint: number | null = resume ? startStep : null;

    const drain = async () => {
      for (const p of pending.splice(0)) {
        const loss = await p.r.loss.item();
        const values: Record<string, number> = { train_loss: loss, lr: p.r.lr };
        for (const [k, t] of Object.entries(p.r.metrics)) {
          values[`train_loss/${k}`] = await t.item();
        }
        for (const [k, v] of Object.entries(p.r.schedules)) values[`schedule/${k}`] = v;
        values.data_wait = p.dataWait;
        values["profiling/batch_time"] = p.seconds;
        p.r.loss.dispose();
        for (const t of Object.values(p.r.metrics)) t.dispose();
        if (!Number.isFinite(loss)) {
          throw new TrainingError(
            `the loss became ${loss} at step ${p.step}. The last good checkpoint is ${
              lastGoodCheckpoint === null
                ? "none (no epoch finished yet)"
                : `${resumePath} (step ${lastGoodCheckpoint})`
            }. Lower the learning rate (optim_args.lr=...), check the data, or change the method arguments.`,
          );
        }
        lastLoss = loss;
        loggers.logMetrics(p.step, values, p.epoch);
        log.progress({ step: p.step + 1, epoch: p.epoch, loss, dataWait: p.dataWait });
      }
    };

    const checkpoint = async (epoch: number) => {
      await drain();
      const step = run!.step;
      const content = {
        modules: instance.modules(),
        optimizer: await run!.optimizer.stateDict(),
        methodState: (await instance.stateDict?.()) ?? {},
        meta: {
          step,
          epoch,
          rng: { method: methodRng.state, views: viewRng.state },
          config: resolved as unknown as Record<string, unknown>,
          extra: { export_module: exportPrefix(instance) },
        },
      };
      await saveCheckpoint(resumePath, content);
      // The latest epoch checkpoint, as Lightning's ModelCheckpoint(save_top_k=1) keeps it.
      for (const f of Deno.readDirSync(`${c.out}/checkpoints`)) {
        if (f.name.startsWith("epoch=")) Deno.removeSync(`${c.out}/checkpoints/${f.name}`);
      }
      await Deno.copyFile(
        resumePath,
        `${c.out}/checkpoints/epoch=${Math.max(epoch - 1, 0)}-step=${step}.ckpt`,
      );
      await exportWeights(
        instance.exportModel(),
        `${c.out}/exported_models/exported_last.safetensors`,
      );
      lastGoodCheckpoint = step;
      if (monitor?.due(epoch, len.epochs)) {
        const m = await monitor.run(instance.exportModel(), {
          imageSize: targs.image_size,
          mean: targs.normalize.mean,
          std: targs.normalize.std,
        });
        loggers.logMetrics(Math.max(step - 1, 0), m, Math.max(epoch - 1, 0));
        log.info(
          `kNN top-1 after epoch ${epoch}: ${
            monitor.args.k.map((k) => `k=${k} ${m[`knn/top1_k${k}`].toFixed(2)}%`).join(", ")
          } (${m["knn/seconds"].toFixed(1)} s)`,
        );
      }
      loggers.flush();
    };

    log.startProgress({
      totalSteps: len.totalSteps,
      startStep,
      totalEpochs: len.epochs,
    });
    let step = startStep;
    let epoch = Math.floor(startStep / len.stepsPerEpoch);
    const accum = c.gradient_accumulation_steps;
    if (len.totalSteps === 0) await checkpoint(0);
    while (step < len.totalSteps) {
      const inEpoch = step - epoch * len.stepsPerEpoch;
      const batches = loader.epoch(epoch, inEpoch * accum);
      let micro: Tensor[][] = [];
      let waitMs = 0;
      let tStep = performance.now();
      for await (const b of batches) {
        waitMs += b.waitMs;
        const views = tidy(() => {
          const img = uploadU8Batch(b.images, b.shape, b.sizes);
          const out = pipeline.run(img, viewRng).out;
          img.tensor.dispose();
          return out;
        });
        if (step === 0 && micro.length === 0 && !examplePng) {
          const n = Math.min(4, microBatch);
          const vb = [];
          for (const v of views) {
            const [, C, h, w] = v.shape;
            const data = (await v.data()).slice(0, n * C * h * w) as Float32Array;
            vb.push({ data, n, c: C, h, w });
          }
          examplePng = exampleViewsPng(vb, {
            mean: targs.normalize.mean,
            std: targs.normalize.std,
          });
          loggers.logImage("example_views", examplePng, 0);
          await writeFileAtomic(`${c.out}/example_views.png`, examplePng);
        }
        micro.push(views);
        if (micro.length < accum) continue;
        const r = run.trainStep(micro.map((v) => ({ views: v })));
        for (const vs of micro) for (const v of vs) v.dispose();
        micro = [];
        const now = performance.now();
        const seconds = (now - tStep) / 1000;
        pending.push({
          step,
          epoch,
          r,
          dataWait: seconds > 0 ? Math.min(1, waitMs / 1000 / seconds) : 0,
          seconds,
        });
        tStep = now;
        waitMs = 0;
        step++;
        if (pending.length >= logEvery) await drain();
        await hooks.onStep?.(step);
        if (step >= len.totalSteps) break;
      }
      for (const vs of micro) for (const v of vs) v.dispose();
      epoch++;
      await checkpoint(epoch);
    }
    await drain();
    await sync();
    log.endProgress();
    const seconds = (performance.now() - t0) / 1000;
    const images = (step - startStep) * microBatch * accum;
    log.info(
      `Finished ${step} steps in ${seconds.toFixed(1)} s (${
        (images / Math.max(seconds, 1e-9)).toFixed(1)
      } images/s); peak GPU memory in use ${pool.stats().peakLiveBytes} bytes`,
    );
    const summary = loader.formatSummary();
    if (bad.length) log.warn(summary);
    loggers.flush();
    const metrics = readMetrics(`${c.out}/metrics.jsonl`);
    writeReport(`${c.out}/report.html`, {
      metrics: metrics.rows,
      facts: {
        method: plugin.name,
        model: c.model,
        adapter: dev.report.description,
        status: "completed",
        steps: step,
        totalSteps: len.totalSteps,
        epochs: epoch,
        totalEpochs: len.epochs,
        batchSize: microBatch * accum,
        durationSec: seconds,
        imagesPerSec: images / Math.max(seconds, 1e-9),
        datasetImages: datasetSize,
        skippedImages: bad.length,
        skippedFiles: bad.slice(0, 10),
        outDir: c.out,
      },
      config: resolved,
      examplePng,
    });
    const result: PretrainResult = {
      out: c.out,
      steps: step,
      epochs: epoch,
      lastLoss,
      exported: `${c.out}/exported_models/exported_last.safetensors`,
      checkpoint: resumePath,
      seconds,
      badImages: bad,
    };
    instance.dispose();
    return result;
  } catch (e) {
    log.error((e as Error).message);
    throw e;
  } finally {
    loader?.close();
    run?.dispose();
    model?.getModel().dispose();
    loggers.close();
  }
}
