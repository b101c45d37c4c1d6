/**
 * Teacher/student helpers shared by the self-distillation methods (DINO, DINOv2): a deep copy
 * of a model (same registry name, same architecture options, same weights), freezing, and the
 * EMA update of a list of modules, and the grouping of multi-crop views by size.
 *
 * @module
 */
import type { Tensor } from "../../core/tensor.ts";
import { emaUpdate } from "../../core/optim/ema.ts";
import type { Module } from "../../models/module.ts";
import { createModel, type ModelOptions, type ModelWrapper } from "../../models/wrapper.ts";

/**
 * The registry options that rebuild `model`'s architecture, read from its module's `config`
 * (ResNet: `blocks`, `numClasses`, `cifarStem`, `width`; ViT / DINOv2: `imgSize`, `depth`,
 * `dropPathRate`, `initValues`), plus `inChannels` and `seed`.
 */
export function architectureOptions(model: ModelWrapper): ModelOptions {
  const c = (model.getModel() as Module & { config?: Record<string, unknown> }).config;
  const out: ModelOptions = {};
  if (model.inChannels !== 3) out.inChannels = model.inChannels;
  if (!c) return out;
  if (typeof c.seed === "number") out.seed = c.seed;
  if ("block" in c && Array.isArray(c.layers)) {
    out.blocks = [...c.layers];
    for (const k of ["numClasses", "cifarStem", "width"]) if (c[k] !== undefined) out[k] = c[k];
  } else if ("embedDim" in c && "depth" in c) {
    for (const k of ["imgSize", "depth", "dropPathRate"]) if (c[k] !== undefined) out[k] = c[k];
    if (typeof c.initValues === "number") out.initValues = c.initValues;
  }
  return out;
}

/**
 * A deep copy of `model`: a new instance of the same registry entry and architecture (with
 * `overrides`, e.g. `{dropPathRate: 0}`) loaded with `model`'s parameters and buffers. A model
 * whose architecture cannot be rebuilt this way fails the strict load with a message naming
 * the mismatching keys.
 */
export async function copyModel(
  model: ModelWrapper,
  overrides: ModelOptions = {},
): Promise<ModelWrapper> {
  const copy = createModel(model.name, { ...architectureOptions(model), ...overrides });
  try {
    copy.getModel().loadStateDict(await model.getModel().stateDict(), {
      source: `a copy of ${model.name}`,
    });
  } catch (e) {
    copy.getModel().dispose();
    throw e;
  }
  return copy;
}

/** Stops gradients to every parameter of `modules` (a frozen teacher). */
export function freeze(...modules: Module[]): void {
  for (const m of modules) for (const [, t] of m.namedParameters()) t.requiresGrad = false;
}

/** Every parameter of `modules`, in order (frozen ones included, as `update_momentum`). */
export function allParameters(...modules: Module[]): Tensor[] {
  return modules.flatMap((m) => m.namedParameters().map(([, t]) => t));
}

/**
 * lightly `update_momentum` over module pairs: `teacher ← m·teacher + (1−m)·student` for every
 * parameter (buffers are not averaged), in place on the GPU.
 */
export function emaModules(teacher: Module[], student: Module[], m: number): void {
  emaUpdate(allParameters(...teacher), allParameters(...student), m);
}

/** Views grouped by spatial size, in first-appearance order (one forward per group). */
export function groupBySize(views: readonly Tensor[]): Tensor[][] {
  const groups = new Map<string, Tensor[]>();
  for (const v of views) {
    const key = `${v.shape[2]}x${v.shape[3]}`;
    const g = groups.get(key);
    if (g) g.push(v);
    else groups.set(key, [v]);
  }
  return [...groups.values()];
}
