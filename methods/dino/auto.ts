/**
 * DINO's method arguments (LightlyTrain `DINOArgs`, names and defaults as LightlyTrain) and the
 * rules that resolve their `"auto"` values from the dataset size (`DINOArgs.resolve_auto`,
 * `_scaling.interpolate` / `get_bucket_value`), plus the deprecated epoch-based variants.
 *
 * @module
 */

/** LightlyTrain `IMAGENET_SIZE`: the dataset size where the auto rules reach their end values. */
export const IMAGENET_SIZE = 1_000_000;

/** DINO's method arguments (LightlyTrain `DINOArgs`). */
export interface DINOArgs extends Record<string, unknown> {
  /** Hidden width of the projection head MLP. */
  hidden_dim: number;
  /** Bottleneck width before the weight-normed last layer. */
  bottleneck_dim: number;
  /** Prototypes; `"auto"` picks 1024..65536 by dataset size. */
  output_dim: number | "auto";
  /** Deprecated: freeze the last layer for this many epochs (set `..._steps` to null). */
  student_freeze_last_layer_epochs: number | null;
  /** Steps the student's last layer is frozen (lr 0, wd 0); `"auto"`: 1250. */
  student_freeze_last_layer_steps: number | "auto" | null;
  /** BatchNorm in the head's MLP. */
  batch_norm: boolean;
  /** Freeze the weight-norm gain of the last layer at 1. */
  norm_last_layer: boolean;
  /** Final teacher temperature; `"auto"`: 0.02 (20k images) .. 0.07 (1M images). */
  teacher_temp: number | "auto";
  /** Initial teacher temperature; `"auto"`: from teacher_temp, 0.02 .. 0.04. */
  warmup_teacher_temp: number | "auto";
  /** Deprecated: teacher temperature warmup in epochs (set `..._steps` to null). */
  warmup_teacher_temp_epochs: number | null;
  /** Linear teacher temperature warmup in steps; `"auto"`: 37 500. */
  warmup_teacher_temp_steps: number | "auto" | null;
  /** Caps the epoch-based teacher temperature warmup at this fraction of the run. */
  warmup_teacher_temp_max_steps_fraction: number;
  /** Student temperature. */
  student_temp: number;
  /** Momentum of the center EMA. */
  center_momentum: number;
  /** EMA momentum at step 0; `"auto"`: 0.99 (20k images) .. 0.996 (1M images). */
  momentum_start: number | "auto";
  /** EMA momentum at the last step (cosine schedule). */
  momentum_end: number;
  /** Weight decay at step 0; `"auto"`: the optimizer's. */
  weight_decay_start: number | "auto";
  /** Weight decay at the last step (cosine schedule); `"auto"`: the optimizer's. */
  weight_decay_end: number | "auto";
  /** LR warmup steps (fixed by the plugin defaults; see the README). */
  warmup_steps: number;
  /** LR warmup cap as a fraction of the run (fixed by the plugin defaults). */
  warmup_max_steps_fraction: number;
}

/** The LightlyTrain defaults of {@link DINOArgs}. */
export const DINO_DEFAULT_ARGS: DINOArgs = {
  hidden_dim: 2048,
  bottleneck_dim: 256,
  output_dim: "auto",
  student_freeze_last_layer_epochs: null,
  student_freeze_last_layer_steps: "auto",
  batch_norm: false,
  norm_last_layer: true,
  teacher_temp: "auto",
  warmup_teacher_temp: "auto",
  warmup_teacher_temp_epochs: null,
  warmup_teacher_temp_steps: "auto",
  warmup_teacher_temp_max_steps_fraction: 0.3,
  student_temp: 0.1,
  center_momentum: 0.9,
  momentum_start: "auto",
  momentum_end: 1.0,
  weight_decay_start: "auto",
  weight_decay_end: "auto",
  warmup_steps: 12500,
  warmup_max_steps_fraction: 0.1,
};

/** Python's `round(v, ndigits)` for the values the auto rules produce. */
export function roundTo(v: number, ndigits: number): number {
  return Number(v.toFixed(ndigits));
}

/**
 * LightlyTrain `_scaling.interpolate`: linear from `valueStart` at `inputStart` to `valueEnd` at
 * `inputEnd`, clamped to `[valueStart, valueEnd]`, rounded to `ndigits` when given.
 */
export function interpolate(
  input: number,
  inputStart: number,
  inputEnd: number,
  valueStart: number,
  valueEnd: number,
  ndigits?: number,
): number {
  let v = valueStart + (valueEnd - valueStart) * (input - inputStart) / (inputEnd - inputStart);
  v = Math.min(Math.max(v, valueStart), valueEnd);
  return ndigits === undefined ? v : roundTo(v, ndigits);
}

/** LightlyTrain `_scaling.get_bucket_value`: the value of the first bucket whose threshold exceeds `input`. */
export function bucketValue<T>(input: number, buckets: [number, T][]): T {
  for (const [threshold, value] of buckets) if (input < threshold) return value;
  throw new Error(`input ${input} is larger than all bucket thresholds`);
}

/** `output_dim: "auto"` by dataset size. */
export function autoOutputDim(datasetSize: number): number {
  return bucketValue(datasetSize, [
    [20_000, 1024],
    [50_000, 2048],
    [100_000, 4096],
    [200_000, 16384],
    [500_000, 32768],
    [Infinity, 65536],
  ]);
}

/** `teacher_temp: "auto"` by dataset size (0.02 at 20k .. 0.07 at 1M, 2 decimals). */
export function autoTeacherTemp(datasetSize: number): number {
  return interpolate(datasetSize, 20_000, IMAGENET_SIZE, 0.02, 0.07, 2);
}

/** `warmup_teacher_temp: "auto"`: `min(T, interp(T: 0.02 -> 0.02, 0.07 -> 0.04))`. */
export function autoWarmupTeacherTemp(teacherTemp: number): number {
  return Math.min(teacherTemp, interpolate(teacherTemp, 0.02, 0.07, 0.02, 0.04, 2));
}

/** `momentum_start: "auto"` by dataset size (0.99 at 20k .. 0.996 at 1M, 3 decimals). */
export function autoMomentumStart(datasetSize: number): number {
  return interpolate(datasetSize, 20_000, IMAGENET_SIZE, 0.99, 0.996, 3);
}

/** DINO's arguments with every `"auto"` and epoch-based value resolved for one run. */
export interface ResolvedDINOArgs {
  /** Prototypes. */
  outputDim: number;
  /** Final teacher temperature. */
  teacherTemp: number;
  /** Teacher temperature at step 0. */
  warmupTeacherTemp: number;
  /** Steps of the linear teacher temperature warmup. */
  warmupTeacherTempSteps: number;
  /** Steps the student's last layer is frozen. */
  freezeLastLayerSteps: number;
  /** EMA momentum at step 0. */
  momentumStart: number;
  /** Weight decay at step 0, or null for the optimizer's. */
  weightDecayStart: number | null;
  /** Weight decay at the end, or null for the optimizer's. */
  weightDecayEnd: number | null;
}

/** What the auto rules depend on. */
export interface DinoRunInfo {
  /** Images in the dataset. */
  datasetSize: number;
  /** Global batch size. */
  batchSize: number;
  /** Total optimizer steps. */
  totalSteps: number;
}

function exclusive(a: DINOArgs, steps: keyof DINOArgs, epochs: keyof DINOArgs): void {
  if (a[steps] === null && a[epochs] === null) {
    throw new Error(`dino: ${String(epochs)} and ${String(steps)} cannot both be null`);
  }
  if (typeof a[steps] === "number" && typeof a[epochs] === "number") {
    throw new Error(
      `dino: ${String(epochs)}=${a[epochs]} and ${String(steps)}=${a[steps]} cannot both be ` +
        `set; set only ${String(steps)} (${String(epochs)} is deprecated)`,
    );
  }
}

/**
 * Resolves {@link DINOArgs} as LightlyTrain `DINOArgs.resolve_auto` and the method do. The
 * deprecated epoch-based values use `steps per epoch = floor(datasetSize / batchSize)` (the
 * loader drops the last partial batch), at least 1.
 */
export function resolveDinoArgs(a: DINOArgs, run: DinoRunInfo): ResolvedDINOArgs {
  exclusive(a, "warmup_teacher_temp_steps", "warmup_teacher_temp_epochs");
  exclusive(a, "student_freeze_last_layer_steps", "student_freeze_last_layer_epochs");
  const stepsPerEpoch = Math.max(1, Math.floor(run.datasetSize / run.batchSize));
  const teacherTemp = a.teacher_temp === "auto" ? autoTeacherTemp(run.datasetSize) : a.teacher_temp;
  const warmupTeacherTemp = a.warmup_teacher_temp === "auto"
    ? autoWarmupTeacherTemp(teacherTemp)
    : a.warmup_teacher_temp;
  let warmupTeacherTempSteps: number;
  if (a.warmup_teacher_temp_steps === "auto" && a.warmup_teacher_temp_epochs === null) {
    warmupTeacherTempSteps = 37500;
  } else if (typeof a.warmup_teacher_temp_steps === "number") {
    warmupTeacherTempSteps = a.warmup_teacher_temp_steps;
  } else {
    // Epoch path, capped at a fraction of the run (the step path is not capped).
    warmupTeacherTempSteps = Math.min(
      Math.floor(Number(a.warmup_teacher_temp_epochs) * stepsPerEpoch),
      Math.floor(run.totalSteps * a.warmup_teacher_temp_max_steps_fraction),
    );
  }
  let freezeLastLayerSteps: number;
  if (a.student_freeze_last_layer_steps === "auto" && a.student_freeze_last_layer_epochs === null) {
    freezeLastLayerSteps = 1250;
  } else if (typeof a.student_freeze_last_layer_steps === "number") {
    freezeLastLayerSteps = a.student_freeze_last_layer_steps;
  } else {
    freezeLastLayerSteps = Math.floor(Number(a.student_freeze_last_layer_epochs) * stepsPerEpoch);
  }
  return {
    outputDim: a.output_dim === "auto" ? autoOutputDim(run.datasetSize) : a.output_dim,
    teacherTemp,
    warmupTeacherTemp,
    warmupTeacherTempSteps,
    freezeLastLayerSteps,
    momentumStart: a.momentum_start === "auto"
      ? autoMomentumStart(run.datasetSize)
      : a.momentum_start,
    weightDecayStart: a.weight_decay_start === "auto" ? null : a.weight_decay_start,
    weightDecayEnd: a.weight_decay_end === "auto" ? null : a.weight_decay_end,
  };
}
