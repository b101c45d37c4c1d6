/**
 * `Module`: a tree of named parameters, buffers and children, with PyTorch `state_dict`
 * naming and order (own parameters, own buffers, then children in registration order), train /
 * eval mode, host state-dict export and a strict loader that reports missing, unexpected and
 * wrongly-shaped keys.
 *
 * @module
 */
import { type DType, fmtShape, type Tensor, tensor } from "../core/tensor.ts";
import { upload } from "../core/engine.ts";

/** One entry of a host state dict. */
export interface HostTensor {
  /** Element type: F32 for tensors, I64 for counters such as `num_batches_tracked`. */
  dtype: "F32" | "I64";
  /** Shape. */
  shape: number[];
  /** Values. */
  data: Float32Array | BigInt64Array;
}

/** A host state dict (name -> tensor), in `state_dict` order. */
export type StateDict = Record<string, HostTensor>;

/** What {@link Module.loadStateDict} found. */
export interface LoadReport {
  /** Keys the model has and the file lacks. */
  missing: string[];
  /** Keys the file has and the model lacks. */
  unexpected: string[];
  /** Keys present in both with different shapes. */
  shapeMismatch: { key: string; model: number[]; file: number[] }[];
  /** Keys loaded. */
  loaded: number;
}

/** Options of {@link Module.loadStateDict}. */
export interface LoadOptions {
  /** Throw on missing/unexpected keys (default true). Shape mismatches always throw. */
  strict?: boolean;
  /** Where the weights came from, for messages. */
  source?: string;
}

/** A host-side integer state entry (PyTorch int64 buffers such as `num_batches_tracked`). */
export interface Counter {
  /** Current value. */
  value: number;
}

/** Base class of layers and models. */
export class Module {
  /** Training mode (batch statistics, drop-path) vs evaluation. */
  training = true;
  #params = new Map<string, Tensor>();
  #buffers = new Map<string, Tensor>();
  #counters = new Map<string, Counter>();
  #children = new Map<string, Module>();

  /** Registers a learnable tensor (it will require gradients). */
  protected param(name: string, t: Tensor): Tensor {
    t.name = name;
    this.#params.set(name, t.requireGrad());
    return t;
  }

  /** Registers a non-learnable tensor (running statistics, frozen tables). */
  protected buffer(name: string, t: Tensor): Tensor {
    t.name = name;
    this.#buffers.set(name, t);
    return t;
  }

  /** Registers an int64 host counter saved in the state dict. */
  protected counter(name: string, value = 0): Counter {
    const c = { value };
    this.#counters.set(name, c);
    return c;
  }

  /** Registers a child module under `name`. */
  protected child<M extends Module>(name: string, m: M): M {
    this.#children.set(name, m);
    return m;
  }

  /** Replaces a registered parameter's tensor (e.g. freezing); disposes the old one. */
  protected replaceParam(name: string, t: Tensor): void {
    this.#params.get(name)?.dispose();
    this.#params.set(name, t);
  }

  /** `[name, tensor]` of all parameters, recursively, in `state_dict` order. */
  namedParameters(prefix = ""): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, t] of this.#params) out.push([prefix + n, t]);
    for (const [n, c] of this.#children) out.push(...c.namedParameters(`${prefix}${n}.`));
    return out;
  }

  /** All parameters that require gradients. */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t).filter((t) => t.requiresGrad);
  }

  /** `[name, tensor]` of all buffers, recursively. */
  namedBuffers(prefix = ""): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, t] of this.#buffers) out.push([prefix + n, t]);
    for (const [n, c] of this.#children) out.push(...c.namedBuffers(`${prefix}${n}.`));
    return out;
  }

  /** Every state entry in PyTorch `state_dict` order (tensors and counters). */
  stateEntries(prefix = ""): [string, Tensor | Counter][] {
    const out: [string, Tensor | Counter][] = [];
    for (const [n, t] of this.#params) out.push([prefix + n, t]);
    for (const [n, t] of this.#buffers) out.push([prefix + n, t]);
    for (const [n, c] of this.#counters) out.push([prefix + n, c]);
    for (const [n, c] of this.#children) out.push(...c.stateEntries(`${prefix}${n}.`));
    return out;
  }

  /** Child modules by name. */
  children(): [string, Module][] {
    return [...this.#children];
  }

  /** Sets training mode recursively. */
  train(on = true): this {
    this.training = on;
    for (const c of this.#children.values()) c.train(on);
    return this;
  }

  /** Sets evaluation mode recursively. */
  eval(): this {
    return this.train(false);
  }

  /** Copies every parameter and buffer to the host (waits for the GPU). */
  async stateDict(): Promise<StateDict> {
    const out: StateDict = {};
    for (const [name, e] of this.stateEntries()) {
      if ("value" in e) {
        out[name] = { dtype: "I64", shape: [], data: BigInt64Array.of(BigInt(e.value)) };
      } else {
        out[name] = { dtype: "F32", shape: [...e.shape], data: (await e.data()) as Float32Array };
      }
    }
    return out;
  }

  /**
   * Loads host tensors into the existing GPU tensors (identity kept, so optimizers stay valid).
   * Shape mismatches always throw; missing / unexpected keys throw unless `strict: false`.
   */
  loadStateDict(dict: StateDict, opts: LoadOptions = {}): LoadReport {
    const strict = opts.strict ?? true;
    const entries = new Map(this.stateEntries());
    const report: LoadReport = { missing: [], unexpected: [], shapeMismatch: [], loaded: 0 };
    for (const [k, e] of entries) {
      const v = dict[k];
      if (!v) {
        report.missing.push(k);
        continue;
      }
      const shape = "value" in e ? [] : [...e.shape];
      const same = v.shape.length === shape.length && v.shape.every((d, i) => d === shape[i]);
      if (!same) report.shapeMismatch.push({ key: k, model: shape, file: [...v.shape] });
    }
    for (const k of Object.keys(dict)) if (!entries.has(k)) report.unexpected.push(k);
    const problems = report.shapeMismatch.length ||
      (strict && (report.missing.length || report.unexpected.length));
    if (problems) throw new Error(describeLoad(report, opts.source ?? "state dict"));
    for (const [k, e] of entries) {
      const v = dict[k];
      if (!v) continue;
      if ("value" in e) e.value = Number(v.data[0]);
      else {
        const data = v.data instanceof Float32Array ? v.data : Float32Array.from(v.data, Number);
        upload(e.buffer, data);
      }
      report.loaded++;
    }
    return report;
  }

  /** Frees every tensor of the tree. */
  dispose(): void {
    for (const t of this.#params.values()) t.dispose();
    for (const t of this.#buffers.values()) t.dispose();
    for (const c of this.#children.values()) c.dispose();
  }
}

/** A readable, actionable summary of a failed load. */
export function describeLoad(r: LoadReport, source: string): string {
  const lines = [`cannot load ${source}: the weights do not match this architecture`];
  const list = (xs: string[]) =>
    xs.slice(0, 12).join(", ") + (xs.length > 12 ? `, … (${xs.length})` : "");
  if (r.missing.length) lines.push(`  missing keys (${r.missing.length}): ${list(r.missing)}`);
  if (r.unexpected.length) {
    lines.push(`  unexpected keys (${r.unexpected.length}): ${list(r.unexpected)}`);
  }
  for (const m of r.shapeMismatch.slice(0, 12)) {
    lines.push(`  shape of ${m.key}: model ${fmtShape(m.model)}, file ${fmtShape(m.file)}`);
  }
  lines.push(
    "  check the model name matches the checkpoint, or pass strict=false to load what matches",
  );
  return lines.join("\n");
}

/** A GPU tensor from host values (helper for layer constructors). */
export function hostTensor(data: Float32Array, shape: number[], dtype: DType = "f32"): Tensor {
  return tensor(data, shape, dtype);
}
