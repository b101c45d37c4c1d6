/**
 * Checkpoints: one safetensors file holding every module's parameters and buffers (by
 * `<module>.<PyTorch name>`), the optimizer's state tensors (`optimizer.<param index>.<slot>`),
 * method state (`method.<key>`) and, in the header metadata, a JSON record of the step, epoch,
 * RNG states, optimizer hyper-parameters and the resolved config. Written atomically
 * (temp file + rename), so an interrupted save never damages the previous checkpoint.
 *
 * @module
 */
import type { Module, StateDict } from "../models/module.ts";
import {
  loadSafetensors,
  type SafeFile,
  type SafeTensorInput,
  saveSafetensors,
  toFloat32,
} from "../models/safetensors.ts";
import type { OptimizerStateDict } from "./optim/optimizer.ts";

/** Format tag written into every checkpoint. */
export const CHECKPOINT_FORMAT = "sinter-checkpoint/1";

/** Everything a checkpoint records besides tensors. */
export interface CheckpointMeta {
  /** Optimizer steps taken. */
  step: number;
  /** Epochs completed. */
  epoch: number;
  /** Generator states by owner (trainer, method, loader, ...). */
  rng: Record<string, number>;
  /** The resolved configuration of the run. */
  config: Record<string, unknown>;
  /** Optimizer kind and group hyper-parameters, per-parameter step counts. */
  optimizer?: { kind: string; groups: Record<string, unknown>[]; steps: number[] } | null;
  /** Free-form extra facts (loader position, skipped files...). */
  extra?: Record<string, unknown>;
}

/** What to save. */
export interface CheckpointContent {
  /** Modules by prefix (e.g. `model`, `method.head`). */
  modules: Record<string, Module>;
  /** Optimizer state (from `optimizer.stateDict()`), or null. */
  optimizer: OptimizerStateDict | null;
  /** Method state tensors (queues, centers). */
  methodState?: StateDict;
  /** Metadata. */
  meta: CheckpointMeta;
}

/** Writes a checkpoint atomically. */
export async function saveCheckpoint(path: string, c: CheckpointContent): Promise<void> {
  const tensors = new Map<string, SafeTensorInput>();
  for (const [prefix, m] of Object.entries(c.modules)) {
    const sd = await m.stateDict();
    for (const [k, t] of Object.entries(sd)) {
      tensors.set(`${prefix}.${k}`, { dtype: t.dtype, shape: t.shape, data: t.data });
    }
  }
  for (const [k, t] of Object.entries(c.methodState ?? {})) {
    tensors.set(`method.${k}`, { dtype: t.dtype, shape: t.shape, data: t.data });
  }
  let optimizer: CheckpointMeta["optimizer"] = null;
  if (c.optimizer) {
    c.optimizer.state.forEach((st, i) => {
      for (const [slot, data] of Object.entries(st.buffers)) {
        tensors.set(`optimizer.${i}.${slot}`, { dtype: "F32", shape: [data.length], data });
      }
    });
    optimizer = {
      kind: c.optimizer.kind,
      groups: c.optimizer.groups,
      steps: c.optimizer.state.map((s) => s.step),
    };
  }
  const meta = { ...c.meta, optimizer };
  await saveSafetensors(path, tensors, {
    format: CHECKPOINT_FORMAT,
    sinter: JSON.stringify(meta),
  });
}

/** A loaded checkpoint: metadata plus accessors for each part. */
export class Checkpoint {
  /** Where it was read from. */
  readonly path: string;
  /** Metadata. */
  readonly meta: CheckpointMeta;
  /** The tensors. */
  readonly file: SafeFile;

  constructor(path: string, file: SafeFile) {
    this.path = path;
    this.file = file;
    if (file.metadata?.format !== CHECKPOINT_FORMAT || !file.metadata?.sinter) {
      throw new Error(
        `${path} is not a Sinter checkpoint (no '${CHECKPOINT_FORMAT}' header); ` +
          "pass a checkpoints/last.ckpt written by `pretrain`",
      );
    }
    this.meta = JSON.parse(file.metadata.sinter);
  }

  /** The state dict of the module saved under `prefix`. */
  stateDict(prefix: string): StateDict {
    const out: StateDict = {};
    const p = `${prefix}.`;
    for (const k of this.file.keys()) {
      if (!k.startsWith(p)) continue;
      const t = this.file.get(k);
      const name = k.slice(p.length);
      if (t.dtype === "I64") {
        out[name] = { dtype: "I64", shape: [...t.shape], data: t.data as BigInt64Array };
      } else out[name] = { dtype: "F32", shape: [...t.shape], data: toFloat32(t) };
    }
    return out;
  }

  /** Which module prefixes the checkpoint holds. */
  prefixes(): string[] {
    const s = new Set<string>();
    for (const k of this.file.keys()) {
      if (k.startsWith("optimizer.") || k.startsWith("method.")) continue;
      s.add(k.slice(0, k.indexOf(".")));
    }
    return [...s];
  }

  /** Loads the module saved under `prefix` (strict). */
  restoreModule(prefix: string, m: Module): void {
    m.loadStateDict(this.stateDict(prefix), { source: `${this.path} (${prefix})` });
  }

  /** The method's state tensors. */
  methodState(): StateDict {
    return this.stateDict("method");
  }

  /** The optimizer state, as `optimizer.loadStateDict` takes it, or null. */
  optimizerState(): OptimizerStateDict | null {
    const o = this.meta.optimizer;
    if (!o) return null;
    return {
      kind: o.kind,
      groups: o.groups,
      state: o.steps.map((step, i) => {
        const buffers: Record<string, Float32Array> = {};
        const p = `optimizer.${i}.`;
        for (const k of this.file.keys()) {
          if (k.startsWith(p)) buffers[k.slice(p.length)] = toFloat32(this.file.get(k));
        }
        return { step, buffers };
      }),
    };
  }
}

/** Reads a checkpoint file; a missing or foreign file gets a clear error. */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  return new Checkpoint(path, await loadSafetensors(path));
}
