/**
 * The `pretrain` configuration: LightlyTrain's argument names and defaults, strict validation
 * (an unknown key names the nearest valid one), `key=value` command-line parsing with dotted
 * keys and YAML values, and the auto rules that depend on the dataset and the method.
 *
 * @module
 */
import { ConfigError, type Field, isMap, nearestKey, validate } from "./schema.ts";
import { type DataSpec, isImageArray } from "../data/array.ts";

/** Resolved `pretrain` arguments (snake_case, as LightlyTrain). */
export interface TrainConfig {
  /** Output folder. */
  out: string;
  /** A folder, a list of folders and files, an IDX images file, or (API only) an ImageArray. */
  data: DataSpec;
  /** Registry name, `<package>/<name>`. */
  model: string;
  /** Method name (default `distillation`, i.e. v3). */
  method: string;
  /** Method arguments (validated against the method's defaults). */
  method_args: Record<string, unknown> | null;
  /** Optional 1x1 conv embedding head after pooling. */
  embed_dim: number | null;
  /** Epochs, or "auto" (the method's default). */
  epochs: number | "auto";
  /** Sinter extension: stop after this many optimizer steps ("auto": epochs decide). */
  steps: number | "auto";
  /** Global batch size (clamped to the dataset size). */
  batch_size: number;
  /** Batches whose gradients are summed before an optimizer step. */
  gradient_accumulation_steps: number;
  /** Decoding workers, or "auto". */
  num_workers: number | "auto";
  /** Continue `out/checkpoints/last.ckpt`. */
  resume_interrupted: boolean;
  /** Start from the weights of this checkpoint (fresh optimizer and schedule). */
  checkpoint: string | null;
  /** Allow a non-empty `out`. */
  overwrite: boolean;
  /** Seed of every random choice. */
  seed: number;
  /** Logger settings (`jsonl`, `tensorboard`; a key set to null disables it). */
  loggers: Record<string, unknown> | null;
  /** Callback settings (`model_checkpoint`, `model_export`, ...). */
  callbacks: Record<string, unknown> | null;
  /** "auto", "adamw", "sgd" or "lars". */
  optim: string;
  /** Optimizer arguments (LightlyTrain names: lr, weight_decay, betas, momentum, ...). */
  optim_args: Record<string, unknown> | null;
  /** Transform overrides. */
  transform_args: Record<string, unknown> | null;
  /** Loader settings (`image_size`: working resolution, `cache_bytes`). */
  loader_args: Record<string, unknown> | null;
  /** Accepted for compatibility; only `max_steps` is read. */
  trainer_args: Record<string, unknown> | null;
  /** Model constructor options. */
  model_args: Record<string, unknown> | null;
  /** Third-party method plugins to load (paths resolve against the working directory). */
  plugins: string | string[] | null;
  /** "auto" or "32-true" (fp32 everywhere). */
  precision: string;
  /** Accepted for compatibility: "auto" only (one WebGPU device). */
  accelerator: string;
  /** Accepted for compatibility: "auto" or 1. */
  devices: number | "auto";
  /** Accepted for compatibility: 1. */
  num_nodes: number;
  /** Accepted for compatibility: "auto". */
  strategy: string;
  /** Accepted for compatibility: "auto". */
  float32_matmul_precision: string;
  /** Accepted for compatibility (no ViT activation checkpointing yet: enabled=false only). */
  activation_checkpoint_args: Record<string, unknown> | null;
}

const opt = (f: Field, def: unknown): Field => ({ ...f, default: def } as Field);
const nullable = (kind: "map" | "string" | "strings" | "int"): Field =>
  ({ kind, nullable: true, default: null, ...(kind === "int" ? { min: 1 } : {}) }) as Field;

/** The schema: every key `pretrain` accepts, with its default. */
export const TRAIN_FIELDS: Record<string, Field> = {
  out: { kind: "string" },
  data: { kind: "strings" },
  model: { kind: "string" },
  method: opt({ kind: "string" }, "distillation"),
  method_args: nullable("map"),
  embed_dim: nullable("int"),
  epochs: opt({ kind: "intOrAuto", min: 0 }, "auto"),
  steps: opt({ kind: "intOrAuto" }, "auto"),
  batch_size: opt({ kind: "int", min: 1 }, 128),
  gradient_accumulation_steps: opt({ kind: "int", min: 1 }, 1),
  num_workers: opt({ kind: "intOrAuto", min: 0 }, "auto"),
  resume_interrupted: opt({ kind: "bool" }, false),
  checkpoint: nullable("string"),
  overwrite: opt({ kind: "bool" }, false),
  seed: opt({ kind: "int", min: 0 }, 0),
  loggers: nullable("map"),
  callbacks: nullable("map"),
  optim: opt({ kind: "enum", values: ["auto", "adamw", "sgd", "lars"] }, "auto"),
  optim_args: nullable("map"),
  transform_args: nullable("map"),
  loader_args: nullable("map"),
  trainer_args: nullable("map"),
  model_args: nullable("map"),
  plugins: nullable("strings"),
  precision: opt({ kind: "enum", values: ["auto", "32-true"] }, "auto"),
  accelerator: opt({ kind: "enum", values: ["auto", "gpu", "webgpu", "cpu"] }, "auto"),
  devices: opt({ kind: "intOrAuto" }, "auto"),
  num_nodes: opt({ kind: "int", min: 1 }, 1),
  strategy: opt({ kind: "enum", values: ["auto"] }, "auto"),
  float32_matmul_precision: opt(
    { kind: "enum", values: ["auto", "highest", "high", "medium"] },
    "auto",
  ),
  activation_checkpoint_args: nullable("map"),
};

/** Deprecated names that still work (LightlyTrain keeps them too). */
const ALIASES: Record<string, string> = { resume: "resume_interrupted" };

/**
 * Validates user arguments (`pretrain({...})` or parsed CLI pairs) and fills the defaults.
 * Unknown keys name the nearest valid key.
 */
export function resolveTrainConfig(user: Record<string, unknown>): TrainConfig {
  const given: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(user)) {
    const key = ALIASES[k] ?? k;
    if (!(key in TRAIN_FIELDS)) {
      throw new ConfigError(
        `unknown argument '${k}'; did you mean '${nearestKey(k, Object.keys(TRAIN_FIELDS))}'?`,
      );
    }
    if (v !== undefined) given[key] = v;
  }
  const out: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(TRAIN_FIELDS)) {
    const v = k in given ? given[k] : f.default;
    if (v === undefined) throw new ConfigError(`${k}: required (e.g. ${k}=...)`);
    out[k] = k === "data" && isImageArray(v) ? v : validate(k, f, v);
  }
  const c = out as unknown as TrainConfig;
  if (c.devices !== "auto" && c.devices !== 1) {
    throw new ConfigError(`devices: Sinter trains on one WebGPU device; use devices=auto or 1`);
  }
  if (c.num_nodes !== 1) throw new ConfigError(`num_nodes: only 1 is supported`);
  if (c.resume_interrupted && c.checkpoint) {
    throw new ConfigError(
      "resume_interrupted and checkpoint are mutually exclusive: resume continues out/checkpoints/last.ckpt, checkpoint starts fresh from weights",
    );
  }
  if (isMap(c.activation_checkpoint_args) && c.activation_checkpoint_args.enabled === true) {
    throw new ConfigError("activation_checkpoint_args.enabled: not supported yet; remove it");
  }
  return c;
}

/** Parses a command-line value: YAML scalars, flow lists and maps; anything else stays a string. */
export function parseCliValue(raw: string, parseYaml: (s: string) => unknown): unknown {
  try {
    const v = parseYaml(raw);
    return v === undefined ? raw : v;
  } catch {
    return raw;
  }
}

/**
 * Turns `key=value` arguments into a nested object: dotted keys nest
 * (`optim_args.lr=0.1` -> `{optim_args: {lr: 0.1}}`), values are YAML-parsed.
 */
export function parseKeyValues(
  args: readonly string[],
  parseYaml: (s: string) => unknown,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of args) {
    const i = a.indexOf("=");
    if (i <= 0) throw new ConfigError(`argument '${a}' is not key=value (e.g. out=runs/exp1)`);
    const path = a.slice(0, i).replace(/^--?/, "").split(".");
    const value = parseCliValue(a.slice(i + 1), parseYaml);
    let node = out;
    for (const p of path.slice(0, -1)) {
      if (!isMap(node[p])) node[p] = {};
      node = node[p] as Record<string, unknown>;
    }
    node[path.at(-1)!] = value;
  }
  return out;
}

/**
 * Merges user method arguments over a method's defaults; an unknown key names the nearest
 * valid one. `"auto"` values stay for the method to resolve.
 */
export function resolveMethodArgs<A extends Record<string, unknown>>(
  method: string,
  defaults: A,
  user: Record<string, unknown> | null,
): A {
  const out = structuredClone(defaults) as Record<string, unknown>;
  for (const [k, v] of Object.entries(user ?? {})) {
    if (!(k in defaults)) {
      const valid = [...Object.keys(defaults), ...SCHEDULE_ARG_KEYS];
      throw new ConfigError(
        `method_args.${k}: unknown argument of method '${method}'; did you mean '${
          nearestKey(k, valid)
        }'? (valid: ${valid.join(", ")})`,
      );
    }
    const d = defaults[k];
    if (
      d !== null && d !== "auto" && v !== null && v !== "auto" && typeof d !== typeof v &&
      !(Array.isArray(d) && Array.isArray(v))
    ) {
      throw new ConfigError(
        `method_args.${k}: expected a ${typeof d} like the default ${JSON.stringify(d)}, got ${
          JSON.stringify(v)
        }`,
      );
    }
    out[k] = v;
  }
  return out as A;
}

/** LR-schedule overrides every method accepts in `method_args` (on top of its own arguments). */
export interface ScheduleOverrides {
  /** LightlyTrain `lr_scale_method` ("none" is a Sinter extension: no batch-size scaling). */
  lrScaleMethod?: "linear" | "sqrt" | "none";
  /** LightlyTrain `reference_batch_size`. */
  referenceBatchSize?: number;
  /** Sinter extension `lr_warmup_steps`: linear warmup length in optimizer steps. */
  warmupSteps?: number;
  /** Sinter extension `lr_end_factor`: final LR as a fraction of the peak (0: cosine to 0). */
  lrEndFactor?: number;
}

/** The `method_args` keys of {@link ScheduleOverrides}, shared by every method. */
export const SCHEDULE_ARG_KEYS: readonly string[] = [
  "lr_scale_method",
  "reference_batch_size",
  "lr_warmup_steps",
  "lr_end_factor",
];

/**
 * Takes the shared schedule keys out of user `method_args`: returns the overrides and the
 * method's own arguments. Values are checked here, so a typo fails before any GPU work.
 */
export function splitScheduleArgs(
  user: Record<string, unknown> | null,
): { schedule: ScheduleOverrides; rest: Record<string, unknown> | null } {
  if (!user) return { schedule: {}, rest: user };
  const rest: Record<string, unknown> = {};
  const schedule: ScheduleOverrides = {};
  const num = (k: string, v: unknown, ok: (n: number) => boolean, what: string): number => {
    if (typeof v !== "number" || !ok(v)) {
      throw new ConfigError(`method_args.${k}: expected ${what}, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  for (const [k, v] of Object.entries(user)) {
    if (v === "auto" || v === null) {
      if (!SCHEDULE_ARG_KEYS.includes(k)) rest[k] = v;
      continue;
    }
    if (k === "lr_scale_method") {
      if (!["linear", "sqrt", "none"].includes(v as string)) {
        throw new ConfigError(
          `method_args.lr_scale_method: expected linear, sqrt or none, got ${JSON.stringify(v)}`,
        );
      }
      schedule.lrScaleMethod = v as ScheduleOverrides["lrScaleMethod"];
    } else if (k === "reference_batch_size") {
      schedule.referenceBatchSize = num(k, v, (n) => n > 0, "a positive number");
    } else if (k === "lr_warmup_steps") {
      schedule.warmupSteps = num(k, v, (n) => Number.isInteger(n) && n >= 0, "an integer >= 0");
    } else if (k === "lr_end_factor") {
      schedule.lrEndFactor = num(k, v, (n) => n >= 0, "a number >= 0");
    } else rest[k] = v;
  }
  return { schedule, rest };
}

/** LightlyTrain's optimizer argument names mapped to Sinter's. */
const OPTIM_ARG_NAMES: Record<string, string> = {
  lr: "lr",
  weight_decay: "weightDecay",
  betas: "betas",
  eps: "eps",
  momentum: "momentum",
  dampening: "dampening",
  nesterov: "nesterov",
  trust_coefficient: "trustCoefficient",
};

/** Converts `optim_args` (LightlyTrain names) to the optimizer's option names. */
export function optimArgs(user: Record<string, unknown> | null): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(user ?? {})) {
    const name = OPTIM_ARG_NAMES[k];
    if (!name) {
      throw new ConfigError(
        `optim_args.${k}: unknown optimizer argument; did you mean '${
          nearestKey(k, Object.keys(OPTIM_ARG_NAMES))
        }'?`,
      );
    }
    out[name] = v;
  }
  return out;
}

/** Epoch and step counts of a run. */
export interface RunLength {
  /** Global batch after clamping to the dataset. */
  batchSize: number;
  /** Optimizer steps per epoch (drop_last). */
  stepsPerEpoch: number;
  /** Epochs. */
  epochs: number;
  /** Total optimizer steps. */
  totalSteps: number;
}

/**
 * LightlyTrain's rules: batch clamped to the dataset; `epochs="auto"` is the method's default,
 * or ceil(default_steps·batch/N) for step-based methods; steps per epoch = floor(N/batch)/accum.
 */
export function resolveRunLength(
  c: Pick<TrainConfig, "batch_size" | "epochs" | "steps" | "gradient_accumulation_steps">,
  datasetSize: number,
  methodDefaults: { epochs: number | null; steps?: number | null },
): RunLength {
  const batchSize = Math.min(c.batch_size, datasetSize);
  const micro = Math.floor(datasetSize / batchSize);
  const stepsPerEpoch = Math.max(1, Math.floor(micro / c.gradient_accumulation_steps));
  let epochs: number;
  if (c.epochs !== "auto") epochs = c.epochs;
  else if (methodDefaults.epochs !== null) epochs = methodDefaults.epochs;
  else epochs = Math.ceil(((methodDefaults.steps ?? 100_000) * batchSize) / datasetSize);
  let totalSteps = epochs * stepsPerEpoch;
  if (c.steps !== "auto") {
    totalSteps = c.steps;
    epochs = Math.ceil(totalSteps / stepsPerEpoch);
  }
  return { batchSize, stepsPerEpoch, epochs, totalSteps };
}
