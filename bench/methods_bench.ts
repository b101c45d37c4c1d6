/**
 * One training step per built-in method on a small model, driven through `MethodRun` with fixed
 * random views (no data): SimCLR and DINO on `sinter/tinycnn16`, DINOv2 on a 2-block DINOv2
 * ViT-S/14 at 56 px, distillation (v3) of `sinter/tinycnn16` from a 1-block DINOv2 ViT-S/14
 * teacher at 28 px saved to a temp safetensors file. Images/s (source images, whatever the
 * number of views) and the peak GPU memory of a step from the buffer pool.
 *
 * `deno run -A bench/methods_bench.ts [method...] [--quick]`
 *
 * @module
 */
import { initDevice } from "../core/device.ts";
import { pool } from "../core/engine.ts";
import { clearBindGroupCache } from "../kernels/kernel.ts";
import { MethodRun } from "../core/method_run.ts";
import type { MethodPlugin } from "../core/plugin.ts";
import { Rng } from "../core/random.ts";
import { trimMatmulTextures } from "../kernels/matmul_tex.ts";
import { createModel, type ModelWrapper, saveSafetensors } from "../models/mod.ts";
import { plugin as simclr } from "../methods/simclr/mod.ts";
import { plugin as dino } from "../methods/dino/mod.ts";
import { plugin as dinov2 } from "../methods/dinov2/mod.ts";
import { plugin as distillation } from "../methods/distillation/mod.ts";
import { loadModelWithWeights } from "../models/wrapper.ts";
import { methodStepper } from "./models_bench.ts";
import { type StepTiming, timeSteps } from "./step_timer.ts";

/** One method case. */
interface MethodCase {
  method: string;
  plugin: MethodPlugin;
  model: string;
  modelOptions: Record<string, unknown>;
  /** Method argument overrides (the rest are the plugin defaults). */
  args: Record<string, unknown>;
  batch: number;
  /** `[channels, h, w]` of each view. */
  views: [number, number, number][];
}

const TEACHER = "dinov2/vits14-noreg";
const TEACHER_ARGS = { depth: 1, imgSize: 28 };
const DATASET = 1000;

function cases(teacherWeights: string): MethodCase[] {
  return [
    {
      method: "simclr",
      plugin: simclr as MethodPlugin,
      model: "sinter/tinycnn16",
      modelOptions: {},
      args: {},
      batch: 64,
      views: [[3, 32, 32], [3, 32, 32]],
    },
    {
      method: "dino",
      plugin: dino as MethodPlugin,
      model: "sinter/tinycnn16",
      modelOptions: {},
      args: {},
      batch: 64,
      views: [[3, 32, 32], [3, 32, 32], ...Array(6).fill([3, 16, 16])],
    },
    {
      method: "dinov2",
      plugin: dinov2 as MethodPlugin,
      model: "dinov2/vits14",
      modelOptions: { depth: 2, imgSize: 56 },
      args: { output_dim: 4096 },
      batch: 16,
      views: [[3, 56, 56], [3, 56, 56], ...Array(8).fill([3, 28, 28])],
    },
    {
      method: "distillation",
      plugin: distillation as MethodPlugin,
      model: "sinter/tinycnn16",
      modelOptions: {},
      args: { teacher: TEACHER, teacher_args: TEACHER_ARGS, teacher_weights: teacherWeights },
      batch: 64,
      views: [[3, 28, 28]],
    },
  ];
}

/** Options of {@link benchMethods}. */
export interface MethodBenchOptions {
  /** Methods to run (default: all). */
  methods?: string[];
  /** Seconds of timed steps per method (default 4). */
  targetSeconds?: number;
  /** Longest step to time (default 40 s; see bench/step_timer.ts). */
  capSeconds?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/** Runs one training step per method (several when fast) on small models. */
export async function benchMethods(opts: MethodBenchOptions = {}): Promise<object> {
  await initDevice();
  const log = opts.log ?? (() => {});
  const dir = await Deno.makeTempDir({ prefix: "sinter_methods_bench_" });
  const results: Record<string, unknown>[] = [];
  try {
    const t = createModel(TEACHER, { ...TEACHER_ARGS, seed: 7 });
    const weights = `${dir}/teacher.safetensors`;
    await saveSafetensors(weights, await t.getModel().stateDict());
    t.getModel().dispose();
    for (const c of cases(weights)) {
      if (opts.methods && !opts.methods.includes(c.method)) continue;
      log(
        `${c.method}: ${c.model} ${JSON.stringify(c.modelOptions)} batch ${c.batch}, views ` +
          c.views.map((v) => v.slice(1).join("x")).join(" "),
      );
      const model = createModel(c.model, { ...c.modelOptions, seed: 1 });
      const loaded: ModelWrapper[] = [];
      const args = { ...c.plugin.defaults.methodArgs, ...c.args };
      let timing: StepTiming | { error: string };
      try {
        const inst = await c.plugin.create({
          model,
          args,
          datasetSize: DATASET,
          batchSize: c.batch,
          totalSteps: 1000,
          rng: new Rng(3),
          loadModel: async (name, o) => {
            const m = await loadModelWithWeights(name, o);
            loaded.push(m);
            return m;
          },
        });
        const run = new MethodRun(c.plugin, inst, {
          optimizer: "auto",
          batchSize: c.batch,
          totalSteps: 1000,
          epochs: 10,
        });
        try {
          timing = await timeSteps(
            c.batch,
            methodStepper(run, (b) => c.views.map((v) => [b, ...v])),
            { targetSeconds: opts.targetSeconds ?? 4, capSeconds: opts.capSeconds ?? 40, log },
          );
        } finally {
          run.dispose();
          inst.dispose();
        }
      } catch (e) {
        timing = { error: (e as Error).message };
        log(`  failed: ${(e as Error).message}`);
      } finally {
        model.getModel().dispose();
        for (const m of loaded) m.getModel().dispose();
        pool.trim();
        clearBindGroupCache();
        trimMatmulTextures();
      }
      results.push({
        method: c.method,
        model: c.model,
        model_options: c.modelOptions,
        method_args: c.args.teacher_weights
          ? { ...c.args, teacher_weights: "(temp file, random weights)" }
          : c.args,
        ...(c.method === "distillation" ? { teacher: TEACHER, teacher_options: TEACHER_ARGS } : {}),
        batch: c.batch,
        views: c.views.map((v) => [c.batch, ...v]),
        train_step: timing,
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  return {
    what: "one training step per method (forward of every view, loss, backward, clipping, " +
      "optimizer, EMA/queue hooks) on fixed random views; images/s counts source images; " +
      `dataset size ${DATASET} for the auto rules; method arguments are the defaults except ` +
      "those listed",
    methods: results,
  };
}

if (import.meta.main) {
  const names = Deno.args.filter((a) => !a.startsWith("--"));
  const r = await benchMethods({
    methods: names.length ? names : undefined,
    targetSeconds: Deno.args.includes("--quick") ? 1 : 4,
    capSeconds: Deno.args.includes("--quick") ? 10 : 40,
    log: console.error,
  });
  console.log(JSON.stringify(r, null, 2));
}
