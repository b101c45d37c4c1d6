/**
 * The method plugin contract (API version 1), its validation, the registry and discovery.
 *
 * A method plugin is plain data plus one factory: `create(ctx)` returns the per-run instance
 * (heads, teacher/EMA state, the training step, what to export, state for checkpoints).
 * Built-in methods are registered statically by `methods/mod.ts`; third-party ones come from a
 * specifier (`plugins=./my_method`, `jsr:`, `npm:`, `https:`) or from a plugins folder whose
 * sub-folders each hold a `mod.ts`. A module exports its plugin as `default` or `plugin`.
 *
 * @module
 */
import type { Tensor } from "./tensor.ts";
import type { Rng } from "./random.ts";
import type { Module, StateDict } from "../models/module.ts";
import type { ModelWrapper } from "../models/wrapper.ts";

/** The plugin API version this core implements. */
export const METHOD_API_VERSION = 1;

/** Optimizers the core can build. */
export type OptimizerName = "adamw" | "sgd" | "lars";

/** How the base LR scales with the effective batch size. */
export type LrScaleMethod = "linear" | "sqrt" | "none";

/** A method's training defaults (LightlyTrain's per-method values). */
export interface MethodDefaults<A> {
  /** Method arguments with their defaults; user `method_args` are validated against these keys. */
  methodArgs: A;
  /** The optimizer `optim: "auto"` resolves to. */
  optimizer: OptimizerName;
  /** Default hyper-parameters per optimizer this method supports (`lr`, `weightDecay`, ...). */
  optimizerArgs: Partial<Record<OptimizerName, Record<string, unknown>>>;
  /** Default epochs (null: the method gives `steps` instead). */
  epochs: number | null;
  /** Default number of steps for step-based methods (DINOv2: 125 000), else null. */
  steps?: number | null;
  /** LR scaling rule. */
  lrScaleMethod: LrScaleMethod;
  /** Batch size the base LR refers to. */
  referenceBatchSize: number;
  /** Gradient-norm clip value, or null for none. */
  gradientClip: number | null;
  /**
   * Warmup length rule: "epochs" (min(10, E/10) epochs) or a step count, capped at
   * `total − 1` and, with `maxFraction`, at `floor(maxFraction · total)` (DINO: 12 500, 0.1).
   */
  warmup: "epochs" | { steps: number; maxFraction?: number };
  /** Final LR as a fraction of the peak (LightlySSL's end_value, 0.001). */
  lrEndFactor?: number;
}

/** What a method gets to build its run. */
export interface MethodContext<A> {
  /** The student backbone (the model the user picked). */
  model: ModelWrapper;
  /** Resolved method arguments (defaults merged with the user's, validated). */
  args: A;
  /** Images in the dataset (auto rules depend on it). */
  datasetSize: number;
  /** Global batch size. */
  batchSize: number;
  /** Total optimizer steps of the run. */
  totalSteps: number;
  /** Seeded generator owned by the method (its state is checkpointed by the trainer). */
  rng: Rng;
  /** Builds another model by registry name, e.g. a teacher, loading weights from a file. */
  loadModel(name: string, opts?: { weights?: string; args?: Record<string, unknown> }): Promise<
    ModelWrapper
  >;
}

/** One step's input: the augmented views, float NCHW, in the method's view order. */
export interface StepBatch {
  /** Views: `views[i]` is `[B, C, H_i, W_i]`. */
  views: Tensor[];
}

/** Where the run is. */
export interface StepInfo {
  /** Optimizer steps already taken. */
  step: number;
  /** Total optimizer steps. */
  totalSteps: number;
  /** The optimizer's resolved base weight decay (methods that schedule weight decay start from it). */
  weightDecay?: number;
}

/** What a training step returns; tensors stay on the GPU (read back asynchronously). */
export interface StepOutput {
  /** The scalar loss to back-propagate. */
  loss: Tensor;
  /** Sub-losses (scalars) to log as `train_loss/<name>`. */
  metrics?: Record<string, Tensor>;
}

/** A parameter group the method asks the optimizer for. */
export interface ParamGroupSpec {
  /** Group name (logged LR per group). */
  name: string;
  /** `[name, tensor]` pairs (names decide weight-decay exclusion when `weightDecay` is unset). */
  params: [string, Tensor][];
  /** LR multiplier relative to the scheduled LR (default 1). */
  lrScale?: number;
  /** Weight decay override (0 for no-decay groups); default the optimizer's. */
  weightDecay?: number;
}

/** Hyper-parameter changes a method makes at a step (teacher temperature, freezes, ...). */
export interface StepSchedule {
  /** Per-group LR multipliers on top of the scheduled LR (0 freezes a group). */
  lrFactor?: Record<string, number>;
  /** Per-group weight decay (replaces the optimizer's). */
  weightDecay?: Record<string, number>;
  /** Values to log as `schedule/<name>`. */
  logs?: Record<string, number>;
}

/** The per-run instance a plugin's `create` returns. */
export interface MethodInstance {
  /** Parameter groups to optimize (student backbone and heads; never a frozen teacher). */
  paramGroups(): ParamGroupSpec[];
  /**
   * Resolves optimizer arguments that depend on the run, such as distillation v3's
   * `weightDecay: "auto"` (by student architecture). Gets the plugin's defaults merged with
   * the user's arguments for `optimizer`; returns them with every `"auto"` replaced.
   */
  resolveOptimizerArgs?(
    optimizer: OptimizerName,
    args: Record<string, unknown>,
  ): Record<string, unknown>;
  /** Called before each step's forward: method schedules and freezes. */
  schedule?(info: StepInfo): StepSchedule;
  /** Forward and loss for one batch; ops are recorded on the autograd tape. */
  trainingStep(batch: StepBatch, info: StepInfo): StepOutput;
  /** After the optimizer update: EMA teacher, center, queue. */
  afterStep?(info: StepInfo): void;
  /** The module whose weights are exported (student backbone, or the EMA teacher). */
  exportModel(): ModelWrapper;
  /** Modules whose parameters and buffers go into checkpoints, by name. */
  modules(): Record<string, Module>;
  /** Non-module state (queues, centers) for checkpoints. */
  stateDict?(): Promise<StateDict>;
  /** Restores {@link stateDict}. */
  loadStateDict?(state: StateDict): void;
  /** Frees every GPU tensor the instance owns (not the student model). */
  dispose(): void;
}

/** A method plugin: plain data plus one factory. */
export interface MethodPlugin<A extends Record<string, unknown> = Record<string, unknown>> {
  /** Must equal {@link METHOD_API_VERSION}. */
  apiVersion: number;
  /** The method name users pass (`method=...`); lower case, `[a-z0-9_-]`. */
  name: string;
  /** Other names for the same method (e.g. `distillationv3`). */
  aliases?: string[];
  /** One line for `list_methods`. */
  description: string;
  /** Training defaults. */
  defaults: MethodDefaults<A>;
  /** The method's transform defaults (the parsed `transforms.yaml`). */
  transforms: Record<string, unknown>;
  /** WGSL sources this method owns, by file name: compiled at load so errors surface early. */
  kernels?: Record<string, string>;
  /** Extra validation of resolved args against the model (e.g. "dinov2 needs a ViT"). */
  validate?(ctx: { model: ModelWrapper; args: A }): void;
  /** Builds the per-run instance. */
  create(ctx: MethodContext<A>): MethodInstance | Promise<MethodInstance>;
}

/** A plugin that failed validation; the message names the plugin, the file and the field. */
export class PluginError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PluginError";
  }
}

type Check = [field: string, ok: (v: unknown) => boolean, expected: string];

const isObj = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);
const isFn = (v: unknown) => typeof v === "function";
const isStr = (v: unknown) => typeof v === "string" && v.length > 0;
const isNum = (v: unknown) => typeof v === "number" && Number.isFinite(v);

const CHECKS: Check[] = [
  ["apiVersion", isNum, "a number"],
  [
    "name",
    (v) => typeof v === "string" && /^[a-z0-9_-]+$/.test(v),
    "a lower-case name ([a-z0-9_-])",
  ],
  ["description", isStr, "a non-empty string"],
  ["defaults", isObj, "an object"],
  ["defaults.methodArgs", isObj, "an object"],
  [
    "defaults.optimizer",
    (v) => ["adamw", "sgd", "lars"].includes(v as string),
    '"adamw", "sgd" or "lars"',
  ],
  ["defaults.optimizerArgs", isObj, "an object"],
  ["defaults.epochs", (v) => v === null || isNum(v), "a number or null"],
  [
    "defaults.lrScaleMethod",
    (v) => ["linear", "sqrt", "none"].includes(v as string),
    '"linear", "sqrt" or "none"',
  ],
  ["defaults.referenceBatchSize", (v) => isNum(v) && (v as number) > 0, "a positive number"],
  ["defaults.gradientClip", (v) => v === null || isNum(v), "a number or null"],
  [
    "defaults.warmup",
    (v) => v === "epochs" || (isObj(v) && isNum((v as { steps: unknown }).steps)),
    '"epochs" or {steps}',
  ],
  ["transforms", isObj, "an object (the parsed transforms.yaml)"],
  ["create", isFn, "a function"],
];

function get(obj: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>(
    (o, k) => (isObj(o) ? (o as Record<string, unknown>)[k] : undefined),
    obj,
  );
}

/**
 * Checks a plugin object's shape; throws {@link PluginError} naming the plugin, where it came
 * from and the missing or wrong field.
 */
export function validatePlugin(p: unknown, source: string): MethodPlugin {
  if (!isObj(p)) {
    throw new PluginError(
      `method plugin from ${source}: the module must export a plugin object as 'default' or 'plugin'`,
    );
  }
  const name = typeof (p as { name?: unknown }).name === "string"
    ? (p as { name: string }).name
    : "(unnamed)";
  for (const [field, ok, expected] of CHECKS) {
    const v = get(p, field);
    if (!ok(v)) {
      const got = v === undefined ? "missing" : `got ${JSON.stringify(v) ?? typeof v}`;
      throw new PluginError(
        `method plugin '${name}' (${source}): field '${field}' must be ${expected}, ${got}`,
      );
    }
  }
  const plugin = p as unknown as MethodPlugin;
  if (plugin.apiVersion !== METHOD_API_VERSION) {
    throw new PluginError(
      `method plugin '${name}' (${source}): apiVersion ${plugin.apiVersion} is not supported; this Sinter implements apiVersion ${METHOD_API_VERSION}`,
    );
  }
  const opt = plugin.defaults.optimizer;
  if (!isObj(plugin.defaults.optimizerArgs[opt])) {
    throw new PluginError(
      `method plugin '${name}' (${source}): field 'defaults.optimizerArgs.${opt}' must give the default optimizer's arguments`,
    );
  }
  if (
    plugin.aliases !== undefined && !(Array.isArray(plugin.aliases) && plugin.aliases.every(isStr))
  ) {
    throw new PluginError(
      `method plugin '${name}' (${source}): field 'aliases' must be a list of names`,
    );
  }
  if (
    plugin.kernels !== undefined &&
    !(isObj(plugin.kernels) && Object.values(plugin.kernels).every(isStr))
  ) {
    throw new PluginError(
      `method plugin '${name}' (${source}): field 'kernels' must map file names to WGSL source`,
    );
  }
  return plugin;
}

/**
 * Compiles a plugin's WGSL kernels and throws a {@link PluginError} naming the plugin, the file,
 * the line and the compiler's message for the first error.
 */
export async function compilePluginKernels(plugin: MethodPlugin, source: string): Promise<void> {
  if (!plugin.kernels) return;
  const { getDevice } = await import("./device.ts");
  const dev = await getDevice();
  for (const [file, code] of Object.entries(plugin.kernels)) {
    const mod = dev.gpu.createShaderModule({ code, label: `${plugin.name}/${file}` });
    const info = await mod.getCompilationInfo();
    const err = info.messages.find((m) => m.type === "error");
    if (err) {
      throw new PluginError(
        `method plugin '${plugin.name}' (${source}): WGSL kernel '${file}' does not compile: line ${err.lineNum}:${err.linePos}: ${err.message}`,
      );
    }
  }
}

interface Registered {
  plugin: MethodPlugin;
  source: string;
  builtin: boolean;
}

const registry = new Map<string, Registered>();

/** Registers a validated plugin; a name (or alias) already taken is an error. */
export function registerMethod(plugin: MethodPlugin, source: string, builtin = false): void {
  const p = validatePlugin(plugin, source);
  for (const n of [p.name, ...(p.aliases ?? [])]) {
    const prev = registry.get(n);
    if (prev) {
      const what = prev.builtin ? "a built-in method" : `the plugin from ${prev.source}`;
      throw new PluginError(
        `method plugin '${p.name}' (${source}): the name '${n}' is already used by ${what}; rename the plugin`,
      );
    }
  }
  for (const n of [p.name, ...(p.aliases ?? [])]) registry.set(n, { plugin: p, source, builtin });
}

/** Removes a third-party plugin (tests; built-ins stay). */
export function unregisterMethod(name: string): void {
  const r = registry.get(name);
  if (!r || r.builtin) return;
  for (const [k, v] of registry) if (v.plugin === r.plugin) registry.delete(k);
}

/** The plugin registered under `name` or an alias; an unknown name lists the known ones. */
export function getMethod(name: string): MethodPlugin {
  const r = registry.get(name);
  if (!r) {
    const known = listMethods().map((m) => m.name).join(", ");
    throw new PluginError(`unknown method '${name}'. Known methods: ${known}`);
  }
  return r.plugin;
}

/** Every registered name (aliases included, as LightlyTrain lists them), sorted. */
export function listMethods(): {
  name: string;
  description: string;
  source: string;
  builtin: boolean;
}[] {
  return [...registry.entries()]
    .map(([name, r]) => ({
      name,
      description: r.plugin.description,
      source: r.source,
      builtin: r.builtin,
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Resolves a `plugins=` specifier: local paths against `cwd`, others unchanged. */
export function resolvePluginSpecifier(spec: string, cwd: string): string {
  if (/^(jsr|npm|https?|file):/.test(spec)) return spec;
  const abs = spec.startsWith("/") ? spec : `${cwd.replace(/\/$/, "")}/${spec}`;
  let path = abs;
  try {
    if (Deno.statSync(abs).isDirectory) path = `${abs.replace(/\/$/, "")}/mod.ts`;
  } catch {
    throw new PluginError(`method plugin '${spec}': no such file or folder (resolved to ${abs})`);
  }
  return new URL(`file://${path}`).href;
}

/** Imports, validates, compiles and registers the plugin at a specifier. */
export async function loadPlugin(spec: string, cwd: string = Deno.cwd()): Promise<MethodPlugin> {
  const url = resolvePluginSpecifier(spec, cwd);
  let mod: Record<string, unknown>;
  try {
    mod = await import(url);
  } catch (e) {
    throw new PluginError(`method plugin '${spec}': cannot import ${url}: ${(e as Error).message}`);
  }
  const plugin = validatePlugin(mod.default ?? mod.plugin, url);
  await compilePluginKernels(plugin, url);
  registerMethod(plugin, url);
  return plugin;
}

/** Loads every `<dir>/<sub>/mod.ts` as a plugin; a missing folder yields none. */
export async function scanPluginsFolder(dir: string): Promise<MethodPlugin[]> {
  const out: MethodPlugin[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)].sort((a, b) => a.name.localeCompare(b.name));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return out;
    throw e;
  }
  for (const e of entries) {
    if (!e.isDirectory) continue;
    const modPath = `${dir.replace(/\/$/, "")}/${e.name}/mod.ts`;
    try {
      Deno.statSync(modPath);
    } catch {
      continue;
    }
    out.push(await loadPlugin(modPath, "/"));
  }
  return out;
}
