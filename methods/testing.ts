/**
 * Test helpers of the method plugins: the context `plugin.create` gets, a plugin driven by
 * {@link MethodRun} for a few steps on random views (finite losses, the pool's live bytes
 * constant after step 2), a distillation student with a tiny teacher, and reading values back.
 *
 * @module
 */
import assert from "node:assert/strict";
import { pool } from "../core/engine.ts";
import { MethodRun, type StepResult } from "../core/method_run.ts";
import type { MethodContext, MethodInstance, MethodPlugin, StepBatch } from "../core/plugin.ts";
import { Rng } from "../core/random.ts";
import { type Tensor, tensor, tidy } from "../core/tensor.ts";
import { saveSafetensors } from "../models/safetensors.ts";
import { createModel, type ModelOptions, type ModelWrapper } from "../models/wrapper.ts";
import { loadModelWithWeights } from "../models/wrapper.ts";

/** How {@link MethodContext.loadModel} is called. */
export type LoadModel = MethodContext<unknown>["loadModel"];

/** Run facts of a test context. */
export interface TestContextOptions {
  /** Images in the dataset (default 64). */
  datasetSize?: number;
  /** Global batch size. */
  batchSize: number;
  /** Total optimizer steps. */
  totalSteps: number;
  /** Seed of the method's generator (default 3). */
  seed?: number;
  /** Builds teachers (default: rejects, the method needs none). */
  loadModel?: LoadModel;
}

/** The context `plugin.create` gets in a test. */
export function testContext<A>(
  model: ModelWrapper,
  args: A,
  opts: TestContextOptions,
): MethodContext<A> {
  return {
    model,
    args,
    datasetSize: opts.datasetSize ?? 64,
    batchSize: opts.batchSize,
    totalSteps: opts.totalSteps,
    rng: new Rng(opts.seed ?? 3),
    loadModel: opts.loadModel ?? (() => Promise.reject(new Error("no teacher"))),
  };
}

/** A method instance and the run that drives it. */
export interface TestRun {
  /** The plugin's instance. */
  inst: MethodInstance;
  /** Its run with the method's default ("auto") optimizer, one epoch. */
  run: MethodRun;
}

/** Creates the plugin's instance for `ctx` and a {@link MethodRun} of the same batch and steps. */
export async function startRun<A extends Record<string, unknown>>(
  plugin: MethodPlugin<A>,
  ctx: MethodContext<A>,
): Promise<TestRun> {
  const inst = await plugin.create(ctx);
  const run = new MethodRun(plugin as unknown as MethodPlugin, inst, {
    optimizer: "auto",
    batchSize: ctx.batchSize,
    totalSteps: ctx.totalSteps,
    epochs: 1,
  });
  return { inst, run };
}

/** Options of {@link trainSteps}. */
export interface TrainStepsOptions {
  /** Steps to run. */
  steps: number;
  /** Shapes of each step's views, drawn uniform in [-1, 1) in this order. */
  views: number[][];
  /** Seed of the view generator (default 5). */
  seed?: number;
  /** Builds the step's batch from its views (default `{ views }`); e.g. micro-batches. */
  batch?: (views: Tensor[], step: number) => StepBatch | StepBatch[];
  /** Checks after each step; the loss is read, the metrics are disposed after it returns. */
  onStep?: (step: number, result: StepResult, loss: number) => void | Promise<void>;
}

/**
 * Runs `steps` training steps on random views: every loss must be finite and, from step 2 on,
 * the pool's live bytes must equal those after step 1 (no leak). Returns the losses.
 */
export async function trainSteps(run: MethodRun, opts: TrainStepsOptions): Promise<number[]> {
  const rng = new Rng(opts.seed ?? 5);
  const losses: number[] = [];
  let live = 0;
  for (let s = 0; s < opts.steps; s++) {
    const views = tidy(() =>
      opts.views.map((shape) => tensor(rng.uniformArray(shape.reduce((a, b) => a * b, 1)), shape))
    );
    const r = run.trainStep(opts.batch ? opts.batch(views, s) : { views });
    for (const v of views) v.dispose();
    const loss = await r.loss.item();
    r.loss.dispose();
    assert.ok(Number.isFinite(loss), `loss ${loss} at step ${s}`);
    losses.push(loss);
    await opts.onStep?.(s, r, loss);
    for (const t of Object.values(r.metrics)) t.dispose();
    if (s === 1) live = pool.stats().liveBytes;
    if (s > 1) assert.equal(pool.stats().liveBytes, live, `step ${s} leaks`);
  }
  return losses;
}

/** True when some element of `a` differs from `b`'s. */
export function differs(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  return Array.from(a).some((v, i) => v !== b[i]);
}

/** The values of named tensors, concatenated on the host. */
export async function flatValues(ts: [string, Tensor][]): Promise<Float32Array> {
  const parts = await Promise.all(ts.map(([, t]) => t.data()));
  return Float32Array.from(parts.flatMap((a) => [...a]));
}

/**
 * The setup of a distillation test: a `sinter/tinycnn16` student (seed 1), the weights of a
 * tiny teacher (options `tiny`, seed 7) in a temporary safetensors file, and method contexts
 * (batch 4, 4 steps) whose `loadModel` builds the requested teacher with the tiny options over
 * the requested ones (the trainer's builds the full-size one).
 */
export class TeacherFixture {
  /** The student backbone. */
  readonly student: ModelWrapper;
  /** Path of the teacher's weights file. */
  readonly weights: string;
  /** Every model the contexts loaded, in order. */
  readonly loaded: ModelWrapper[] = [];
  readonly #teacher: string;
  readonly #tiny: ModelOptions;
  readonly #datasetSize: number;

  private constructor(teacher: string, tiny: ModelOptions, datasetSize: number, weights: string) {
    this.student = createModel("sinter/tinycnn16", { seed: 1 });
    this.weights = weights;
    this.#teacher = teacher;
    this.#tiny = tiny;
    this.#datasetSize = datasetSize;
  }

  /** Saves the tiny `teacher`'s weights and builds the student; contexts see `datasetSize`. */
  static async create(
    teacher: string,
    tiny: ModelOptions,
    datasetSize: number,
  ): Promise<TeacherFixture> {
    const path = await Deno.makeTempFile({ suffix: ".safetensors" });
    const m = createModel(teacher, { ...tiny, seed: 7 }).getModel();
    try {
      await saveSafetensors(path, await m.stateDict());
    } finally {
      m.dispose();
    }
    return new TeacherFixture(teacher, tiny, datasetSize, path);
  }

  /** The plugin's default arguments with this teacher and its weights, validated. */
  methodArgs<A extends Record<string, unknown>>(plugin: MethodPlugin<A>): A {
    const args = {
      ...plugin.defaults.methodArgs,
      teacher: this.#teacher,
      teacher_weights: this.weights,
    };
    plugin.validate?.({ model: this.student, args });
    return args;
  }

  /** A context for `args` (loaded teachers go to {@link loaded}). */
  context<A>(args: A): MethodContext<A> {
    return testContext(this.student, args, {
      datasetSize: this.#datasetSize,
      batchSize: 4,
      totalSteps: 4,
      loadModel: async (name, o) => {
        const m = await loadModelWithWeights(name, { ...o, args: { ...this.#tiny, ...o?.args } });
        this.loaded.push(m);
        return m;
      },
    });
  }

  /** The parameters of the last loaded teacher, checking that it is frozen and in eval mode. */
  frozenTeacher(): [string, Tensor][] {
    const t = this.loaded.at(-1)!.getModel();
    const params = t.namedParameters();
    assert.ok(params.every(([, p]) => !p.requiresGrad) && !t.training, "teacher frozen");
    return params;
  }

  /** Frees the student and removes the weights file. */
  async dispose(): Promise<void> {
    this.student.getModel().dispose();
    await Deno.remove(this.weights);
  }
}
