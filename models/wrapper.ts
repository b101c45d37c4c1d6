/**
 * The model wrapper every method uses (LightlyTrain's `ModelWrapper` contract), and the registry
 * that builds models by LightlyTrain's `<package>/<name>` scheme.
 *
 * @module
 */
import type { Tensor } from "../core/tensor.ts";
import { mean } from "../kernels/mod.ts";
import type { Module, StateDict } from "./module.ts";
import { loadSafetensors } from "./safetensors.ts";

/** What method defaults depend on. */
export interface ArchitectureInfo {
  /** Convolutional network or vision transformer. */
  kind: "convolutional" | "transformer";
  /** The normalization the backbone uses. */
  norm: "batchnorm" | "layernorm";
}

/** Output of {@link ModelWrapper.forwardFeatures}. */
export interface FeatureOutput {
  /** Feature map `[B, C, H', W']` (for ViTs: the patch tokens as a grid). */
  features: Tensor;
  /** Class token `[B, C]` (transformers only). */
  clsToken?: Tensor;
}

/** Options of {@link ModelWrapper.forwardFeatures}. */
export interface ForwardOptions {
  /** Patch mask `[B, H'*W']` (1 = replace the patch by the mask token), ViTs with a mask token. */
  masks?: Tensor;
}

/** LightlyTrain's model contract. */
export interface ModelWrapper {
  /** Registry name, e.g. `torchvision/resnet18`. */
  readonly name: string;
  /** Channels of `features` and of the pooled vector. */
  readonly featureDim: number;
  /** Input channels the model was built for. */
  readonly inChannels: number;
  /** Architecture facts used by method defaults. */
  readonly architectureInfo: ArchitectureInfo;
  /** Backbone features. Throws before any GPU work on a wrong channel count or size. */
  forwardFeatures(x: Tensor, opts?: ForwardOptions): FeatureOutput;
  /** Pooled features `[B, C, 1, 1]` (global average for CNNs, class token for ViTs). */
  forwardPool(f: FeatureOutput): Tensor;
  /** The module whose weights are exported (PyTorch names). */
  getModel(): Module;
}

/** Global average pooling of a `[B, C, H, W]` map to `[B, C, 1, 1]`. */
export function globalAvgPool(features: Tensor): Tensor {
  return mean(features, [2, 3], true);
}

/** Options every model factory accepts. */
export interface ModelOptions {
  /** Input channels (default 3). */
  inChannels?: number;
  /** Seed of the initial weights (default 0). */
  seed?: number;
  /** Architecture-specific options (e.g. `cifarStem`, `blocks`, `imgSize`). */
  [key: string]: unknown;
}

/** A registered architecture. */
export interface ModelEntry {
  /** `<package>/<name>`. */
  name: string;
  /** One line for `list_models`. */
  description: string;
  /** Builds a fresh model. */
  create(opts: ModelOptions): ModelWrapper;
}

const registry = new Map<string, ModelEntry>();

/** Adds an architecture to the registry (names must be unique). */
export function registerModel(entry: ModelEntry): void {
  if (registry.has(entry.name)) throw new Error(`model '${entry.name}' is already registered`);
  registry.set(entry.name, entry);
}

/** Every registered model name with its description, sorted. */
export function listModels(): { name: string; description: string }[] {
  return [...registry.values()]
    .map(({ name, description }) => ({ name, description }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Builds a model by name; an unknown name lists the known ones. */
export function createModel(name: string, opts: ModelOptions = {}): ModelWrapper {
  const e = registry.get(name);
  if (!e) {
    const known = listModels().map((m) => m.name).join(", ");
    throw new Error(`unknown model '${name}'. Known models: ${known}`);
  }
  return e.create(opts);
}

/**
 * A model built by registry name with its weights from a safetensors file (strict: every key
 * must match): teachers, `ctx.loadModel`, tests. The model is freed if the weights do not load.
 */
export async function loadModelWithWeights(
  name: string,
  opts: { weights?: string; args?: Record<string, unknown> } = {},
): Promise<ModelWrapper> {
  const model = createModel(name, (opts.args ?? {}) as ModelOptions);
  if (opts.weights) {
    try {
      const file = await loadSafetensors(opts.weights);
      const dict: StateDict = {};
      for (const k of file.keys()) {
        const t = file.get(k);
        dict[k] = t.dtype === "I64"
          ? { dtype: "I64", shape: [...t.shape], data: t.data as BigInt64Array }
          : { dtype: "F32", shape: [...t.shape], data: file.float32(k) };
      }
      model.getModel().loadStateDict(dict, { source: opts.weights });
    } catch (e) {
      model.getModel().dispose();
      throw e;
    }
  }
  return model;
}
