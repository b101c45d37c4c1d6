/**
 * Runs a method instance: builds its optimizer from the plugin defaults and the user's choices,
 * schedules the LR (LightlySSL warmup + cosine, with LightlyTrain's batch-size scaling), and
 * performs one training step (forward, backward, clip, update, method hooks) without waiting
 * for the GPU: the loss comes back as a tensor to read asynchronously.
 *
 * @module
 */
import { backward } from "./autograd.ts";
import { keep, type Tensor, tidy } from "./tensor.ts";
import { AdamW } from "./optim/adamw.ts";
import { SGD } from "./optim/sgd.ts";
import { LARS } from "./optim/lars.ts";
import { clipGradNorm } from "./optim/clip.ts";
import type { Optimizer, ParamGroup } from "./optim/optimizer.ts";
import { cosineWarmupSchedule } from "./schedule.ts";
import type { ScheduleOverrides } from "./train_config.ts";
import { add, scale } from "../kernels/elementwise.ts";
import { flush } from "./engine.ts";
import type {
  MethodInstance,
  MethodPlugin,
  OptimizerName,
  ParamGroupSpec,
  StepBatch,
} from "./plugin.ts";

/** LightlyTrain's no-weight-decay rule: norms, biases, tokens, embeddings, 0-D/1-D tensors. */
export function isNoDecay(name: string, t: Tensor): boolean {
  if (t.shape.length <= 1) return true;
  return /(^|\.)(bias|cls_token|mask_token|register_tokens?|storage_tokens?|pos_embed|gamma|query|queries|logit_scale|temperature|tau)$/
    .test(name) || /(^|\.)(norm|bn|ln)\w*\./.test(name) || /embedding/.test(name);
}

/** Splits named parameters into LightlyTrain's "params" and "params_no_weight_decay" groups. */
export function decayGroups(named: [string, Tensor][], prefix = "params"): ParamGroupSpec[] {
  const decay = named.filter(([n, t]) => !isNoDecay(n, t));
  const noDecay = named.filter(([n, t]) => isNoDecay(n, t));
  const out: ParamGroupSpec[] = [];
  if (decay.length) out.push({ name: prefix, params: decay });
  if (noDecay.length) {
    out.push({ name: `${prefix}_no_weight_decay`, params: noDecay, weightDecay: 0 });
  }
  return out;
}

/** Settings of a run that the method does not decide. */
export interface RunSettings {
  /** `"auto"` takes the method's default optimizer. */
  optimizer: OptimizerName | "auto";
  /** User optimizer arguments (override the method's defaults for that optimizer). */
  optimizerArgs?: Record<string, unknown>;
  /** Global batch size (after gradient accumulation). */
  batchSize: number;
  /** Total optimizer steps. */
  totalSteps: number;
  /** Epochs of the run (warmup in epochs is converted with it). */
  epochs: number;
  /** The user's overrides of the method's LR scaling and schedule. */
  schedule?: ScheduleOverrides;
}

/** The resolved optimizer and LR facts of a run (logged and written to the config). */
export interface ResolvedOptim {
  /** Optimizer in use. */
  name: OptimizerName;
  /** Its arguments, after defaults and LR scaling. */
  args: Record<string, unknown>;
  /** Base LR before scaling. */
  baseLr: number;
  /** Peak LR after batch-size scaling. */
  peakLr: number;
  /** Warmup steps. */
  warmupSteps: number;
  /** Final LR as a fraction of the peak. */
  lrEndFactor: number;
}

const OPT_KEYS: Record<OptimizerName, string[]> = {
  adamw: ["lr", "weightDecay", "betas", "eps"],
  sgd: ["lr", "weightDecay", "momentum", "dampening", "nesterov"],
  lars: ["lr", "weightDecay", "momentum", "dampening", "nesterov", "trustCoefficient", "eps"],
};

/**
 * Resolves optimizer, arguments, LR scaling and warmup for a plugin and settings; `instance`
 * resolves run-dependent `"auto"` arguments ({@link MethodInstance.resolveOptimizerArgs}).
 */
export function resolveOptim(
  plugin: MethodPlugin,
  s: RunSettings,
  instance?: Pick<MethodInstance, "resolveOptimizerArgs">,
): ResolvedOptim {
  const name = s.optimizer === "auto" ? plugin.defaults.optimizer : s.optimizer;
  const defaults = plugin.defaults.optimizerArgs[name];
  if (!defaults) {
    throw new Error(
      `method '${plugin.name}' does not support optimizer '${name}'; it supports: ${
        Object.keys(plugin.defaults.optimizerArgs).join(", ")
      }`,
    );
  }
  for (const k of Object.keys(s.optimizerArgs ?? {})) {
    if (!OPT_KEYS[name].includes(k)) {
      throw new Error(
        `unknown optimizer argument '${k}' for ${name}; valid: ${OPT_KEYS[name].join(", ")}`,
      );
    }
  }
  let args = { ...defaults, ...(s.optimizerArgs ?? {}) } as Record<string, unknown>;
  if (instance?.resolveOptimizerArgs) args = instance.resolveOptimizerArgs(name, args);
  const auto = Object.keys(args).find((k) => args[k] === "auto");
  if (auto) {
    throw new Error(
      `method '${plugin.name}': optimizer argument '${auto}' is "auto" but the method does not resolve it; pass a number`,
    );
  }
  const baseLr = Number(args.lr);
  const o = s.schedule ?? {};
  const ratio = s.batchSize / (o.referenceBatchSize ?? plugin.defaults.referenceBatchSize);
  const method = o.lrScaleMethod ?? plugin.defaults.lrScaleMethod;
  const scale = method === "linear" ? ratio : method === "sqrt" ? Math.sqrt(ratio) : 1;
  const w = plugin.defaults.warmup;
  const total = s.totalSteps;
  let warmupSteps: number;
  if (w === "epochs") {
    const warmupEpochs = Math.min(10, s.epochs / 10);
    warmupSteps = Math.min(total, Math.floor((total / s.epochs) * warmupEpochs));
  } else {
    warmupSteps = Math.min(Math.max(total - 1, 0), w.steps);
    if (w.maxFraction !== undefined) {
      warmupSteps = Math.min(warmupSteps, Math.floor(total * w.maxFraction));
    }
  }
  if (o.warmupSteps !== undefined) warmupSteps = Math.min(Math.max(total - 1, 0), o.warmupSteps);
  return {
    name,
    args: { ...args, lr: baseLr * scale },
    baseLr,
    peakLr: baseLr * scale,
    warmupSteps,
    lrEndFactor: o.lrEndFactor ?? plugin.defaults.lrEndFactor ?? 0.001,
  };
}

function buildOptimizer(r: ResolvedOptim, groups: ParamGroupSpec[]): Optimizer<ParamGroup> {
  const a = r.args;
  const wd = Number(a.weightDecay ?? 0);
  const init = groups.map((g) => ({
    params: g.params.map(([, t]) => t),
    lr: r.peakLr * (g.lrScale ?? 1),
    weightDecay: g.weightDecay ?? wd,
  }));
  if (r.name === "adamw") {
    return new AdamW(init, {
      betas: (a.betas as [number, number]) ?? [0.9, 0.999],
      eps: Number(a.eps ?? 1e-8),
    }) as unknown as Optimizer<ParamGroup>;
  }
  const common = {
    momentum: Number(a.momentum ?? 0),
    dampening: Number(a.dampening ?? 0),
    nesterov: Boolean(a.nesterov ?? false),
  };
  if (r.name === "sgd") return new SGD(init, common) as unknown as Optimizer<ParamGroup>;
  return new LARS(init, {
    ...common,
    trustCoefficient: Number(a.trustCoefficient ?? 0.001),
    eps: Number(a.eps ?? 1e-8),
  }) as unknown as Optimizer<ParamGroup>;
}

/** The tensors a step leaves for asynchronous reading (caller disposes them). */
export interface StepResult {
  /** Scalar loss. */
  loss: Tensor;
  /** Sub-losses. */
  metrics: Record<string, Tensor>;
  /** LR of the first group at this step. */
  lr: number;
  /** Schedule values the method logged. */
  schedules: Record<string, number>;
}

/** Optimizer + schedule + step loop of one method instance. */
export class MethodRun {
  /** The plugin. */
  readonly plugin: MethodPlugin;
  /** The per-run instance. */
  readonly instance: MethodInstance;
  /** Resolved optimizer facts. */
  readonly optim: ResolvedOptim;
  /** The optimizer. */
  readonly optimizer: Optimizer<ParamGroup>;
  /** Optimizer steps taken. */
  step = 0;
  readonly #groups: ParamGroupSpec[];
  readonly #totalSteps: number;
  readonly #baseWd: number[];

  constructor(plugin: MethodPlugin, instance: MethodInstance, settings: RunSettings) {
    this.plugin = plugin;
    this.instance = instance;
    this.optim = resolveOptim(plugin, settings, instance);
    this.#groups = instance.paramGroups();
    this.optimizer = buildOptimizer(this.optim, this.#groups);
    this.#baseWd = this.optimizer.groups.map((g) => g.weightDecay);
    this.#totalSteps = settings.totalSteps;
  }

  /** The LR multiplier of the schedule at `step` (warmup then cosine to `lrEndFactor`). */
  lrFactor(step: number): number {
    return cosineWarmupSchedule(
      Math.min(step, this.#totalSteps - 1),
      this.#totalSteps,
      1,
      this.optim.lrEndFactor,
      this.optim.warmupSteps,
    );
  }

  /**
   * One optimizer step on a batch, or on several micro-batches whose gradients are summed
   * (gradient accumulation: each micro-batch's loss is scaled by 1/K). Returns kept tensors
   * (the mean loss over the micro-batches) to read later.
   */
  trainStep(batch: StepBatch | StepBatch[]): StepResult {
    const micro = Array.isArray(batch) ? batch : [batch];
    const k = micro.length;
    const info = {
      step: this.step,
      totalSteps: this.#totalSteps,
      weightDecay: Number(this.optim.args.weightDecay ?? 0),
    };
    const sched = this.instance.schedule?.(info) ?? {};
    const f = this.lrFactor(this.step);
    this.optimizer.groups.forEach((g, i) => {
      const spec = this.#groups[i];
      g.lr = this.optim.peakLr * (spec.lrScale ?? 1) * f * (sched.lrFactor?.[spec.name] ?? 1);
      g.weightDecay = sched.weightDecay?.[spec.name] ?? this.#baseWd[i];
    });
    const result = tidy(() => {
      let loss: Tensor | null = null;
      let metrics: Record<string, Tensor> = {};
      for (const b of micro) {
        const out = this.instance.trainingStep(b, info);
        const l = k === 1 ? out.loss : scale(out.loss, 1 / k);
        backward(l);
        loss = loss ? add(loss, l) : l;
        const m: Record<string, Tensor> = {};
        for (const [name, t] of Object.entries(out.metrics ?? {})) {
          const v = k === 1 ? t : scale(t, 1 / k);
          m[name] = metrics[name] ? add(metrics[name], v) : v;
        }
        metrics = m;
      }
      const clip = this.plugin.defaults.gradientClip;
      if (clip !== null) clipGradNorm(this.optimizer.params(), clip).dispose();
      this.optimizer.step();
      this.optimizer.zeroGrad();
      this.instance.afterStep?.(info);
      keep(loss!);
      for (const t of Object.values(metrics)) keep(t);
      return { loss: loss!, metrics };
    });
    this.step++;
    // One submit per step: the next step starts with an empty queue and uniform arena, so its
    // dispatches get the same arena offsets and find their cached bind groups.
    flush();
    return {
      loss: result.loss,
      metrics: result.metrics,
      lr: this.optimizer.groups[0]?.lr ?? 0,
      schedules: sched.logs ?? {},
    };
  }

  /** Frees the optimizer state. */
  dispose(): void {
    this.optimizer.dispose();
  }
}
