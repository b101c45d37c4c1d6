/**
 * The optimizer base: parameter groups with mutable hyper-parameters (schedules change `lr`
 * and `weightDecay` between steps), per-parameter state tensors allocated once, `zeroGrad`,
 * and a host-side state dict for checkpoints.
 *
 * @module
 */
import fillSrc from "../../kernels/fill.wgsl" with { type: "text" };
import { f32, grid, kernel } from "../../kernels/kernel.ts";
import { full } from "../../kernels/elementwise.ts";
import { upload } from "../engine.ts";
import { GpuError } from "../device.ts";
import { fmtShape, keep, type Tensor } from "../tensor.ts";

const WG = 256;

/** The hyper-parameters every group has. */
export interface ParamGroup {
  /** The tensors this group updates (their `.grad` is read at each step). */
  params: Tensor[];
  /** Learning rate; may be changed before any step (schedules). */
  lr: number;
  /** Weight decay; may be changed before any step (schedules). */
  weightDecay: number;
}

/** A group as given to a constructor: any hyper-parameter left out takes the default. */
export type GroupInit<G extends ParamGroup> = { params: Tensor[] } & Partial<Omit<G, "params">>;

/** State of one parameter in a state dict. */
export interface ParamStateDict {
  /** Optimizer steps already taken for this parameter. */
  step: number;
  /** State tensors by name (torch names: `exp_avg`, `exp_avg_sq`, `momentum_buffer`). */
  buffers: Record<string, Float32Array>;
}

/** An optimizer's state on the host, as `stateDict()` returns and `loadStateDict()` takes. */
export interface OptimizerStateDict {
  /** Which optimizer wrote it (`adamw`, `sgd`, `lars`). */
  kind: string;
  /** Each group's hyper-parameters, with `params` as indices into the flattened list. */
  groups: Record<string, unknown>[];
  /** One entry per parameter, in the flattened order of the groups' params. */
  state: ParamStateDict[];
}

/** Per-parameter state held on the GPU. */
export interface ParamState {
  /** Steps already taken for this parameter. */
  step: number;
  /** State tensors by name (kept: never disposed by `tidy`). */
  tensors: Record<string, Tensor>;
}

/** Sets every element of `t` to `value` in place. */
export function fillInPlace(t: Tensor, value: number): void {
  kernel({ name: "fill", code: fillSrc, constants: { WG } })
    .dispatch([t], [Math.ceil(t.size / 4), f32(value)], grid(Math.ceil(t.size / 4 / WG)));
}

/** Base class of the optimizers: groups, state tensors, `zeroGrad`, state dicts. */
export abstract class Optimizer<G extends ParamGroup> {
  /** The parameter groups; their hyper-parameters may be changed between steps. */
  readonly groups: G[];
  /** Name written into state dicts. */
  abstract readonly kind: string;
  /** State of each parameter. */
  protected readonly state: Map<Tensor, ParamState> = new Map();
  #disposed = false;

  /** Builds the groups from `init` (a parameter list is one group) and `defaults`. */
  constructor(init: Tensor[] | GroupInit<G>[], defaults: Omit<G, "params">) {
    const list = init.length && !("params" in init[0])
      ? [{ params: init as Tensor[] }]
      : init as GroupInit<G>[];
    this.groups = list.map((g) => {
      const given = Object.fromEntries(Object.entries(g).filter(([, v]) => v !== undefined));
      return { ...defaults, ...given, params: [...g.params] } as unknown as G;
    });
    const seen = new Set<Tensor>();
    for (const g of this.groups) {
      for (const p of g.params) {
        if (seen.has(p)) {
          throw new GpuError(`${this.constructor.name}: a parameter is in two groups`);
        }
        if (p.dtype !== "f32") {
          throw new GpuError(`${this.constructor.name}: parameter ${p} is not f32`);
        }
        seen.add(p);
      }
    }
  }

  /** Names of the state tensors a parameter of `group` needs (allocated once, zero-filled). */
  protected abstract slots(group: G): string[];

  /** Allocates the state of every parameter; subclasses call this at the end of their constructor. */
  protected allocateState(): void {
    for (const g of this.groups) for (const p of g.params) this.stateOf(g, p);
  }

  /** The state of `p`, allocating missing slots (kept, zero-filled) on first use. */
  protected stateOf(group: G, p: Tensor): ParamState {
    let st = this.state.get(p);
    if (!st) this.state.set(p, st = { step: 0, tensors: {} });
    for (const name of this.slots(group)) {
      if (!st.tensors[name]) st.tensors[name] = keep(full(p.shape, 0));
    }
    return st;
  }

  /** Every parameter, in group order. */
  params(): Tensor[] {
    return this.groups.flatMap((g) => g.params);
  }

  /** Sets the learning rate of every group (multiply per group yourself for per-group scales). */
  setLr(lr: number): void {
    for (const g of this.groups) g.lr = lr;
  }

  /** Applies one update to every parameter that has a gradient (one kernel per tensor). */
  step(): void {
    this.#assertLive();
    for (const g of this.groups) {
      for (const p of g.params) {
        if (!p.grad) continue;
        if (p.grad.size !== p.size) {
          throw new GpuError(
            `${this.kind}: gradient ${fmtShape(p.grad.shape)} does not match parameter ${
              fmtShape(p.shape)
            }`,
          );
        }
        const st = this.stateOf(g, p);
        this.update(g, p, p.grad, st);
        st.step++;
      }
    }
  }

  /** Encodes the update of one parameter; `st.step` is the number of steps already taken. */
  protected abstract update(group: G, p: Tensor, grad: Tensor, st: ParamState): void;

  /**
   * Clears the gradients: fills them with zeros in place (the buffers stay, so a steady step
   * allocates nothing), or drops them with `setToNone` (as torch's default).
   */
  zeroGrad(setToNone = false): void {
    for (const p of this.params()) {
      if (!p.grad) continue;
      if (setToNone) {
        p.grad.dispose();
        p.grad = null;
      } else fillInPlace(p.grad, 0);
    }
  }

  /** Copies the state to the host (waits for the GPU). */
  async stateDict(): Promise<OptimizerStateDict> {
    this.#assertLive();
    const index = new Map<Tensor, number>();
    this.params().forEach((p, i) => index.set(p, i));
    const groups = this.groups.map((g) => {
      const { params, ...hyper } = g;
      return { ...structuredClone(hyper), params: params.map((p) => index.get(p)!) };
    });
    const state: ParamStateDict[] = [];
    for (const p of this.params()) {
      const st = this.state.get(p);
      const buffers: Record<string, Float32Array> = {};
      if (st && this.hasBuffers(st)) {
        for (const [k, t] of Object.entries(st.tensors)) {
          buffers[k] = (await t.data()) as Float32Array;
        }
      }
      state.push({ step: st?.step ?? 0, buffers });
    }
    return { kind: this.kind, groups, state };
  }

  /** Whether a parameter's state tensors hold values worth saving (default: after a step). */
  protected hasBuffers(st: ParamState): boolean {
    return st.step > 0;
  }

  /**
   * Restores a state dict written by the same kind of optimizer over the same parameter
   * shapes: hyper-parameters, steps and state tensors (missing buffers are zero-filled).
   */
  loadStateDict(sd: OptimizerStateDict): void {
    this.#assertLive();
    const name = this.constructor.name;
    if (sd.kind !== this.kind) {
      throw new GpuError(`${name}.loadStateDict: state of a '${sd.kind}' optimizer`);
    }
    const params = this.params();
    if (sd.groups.length !== this.groups.length || sd.state.length !== params.length) {
      throw new GpuError(
        `${name}.loadStateDict: ${sd.groups.length} groups / ${sd.state.length} params given, ` +
          `optimizer has ${this.groups.length} / ${params.length}`,
      );
    }
    sd.groups.forEach((h, i) => {
      const { params: _p, ...hyper } = h;
      Object.assign(this.groups[i], structuredClone(hyper));
    });
    let k = 0;
    for (const g of this.groups) {
      for (const p of g.params) {
        const entry = sd.state[k++];
        const st = this.stateOf(g, p);
        st.step = entry.step;
        for (const slot of Object.keys(st.tensors)) {
          const data = entry.buffers[slot];
          if (data && data.length !== p.size) {
            throw new GpuError(
              `${name}.loadStateDict: '${slot}' of parameter ${k - 1} has ${data.length} values, ` +
                `parameter ${fmtShape(p.shape)} has ${p.size}`,
            );
          }
          if (data) upload(st.tensors[slot].buffer, Float32Array.from(data));
          else fillInPlace(st.tensors[slot], 0);
        }
        this.afterLoad(st, entry);
      }
    }
  }

  /** Hook after a parameter's state was loaded (e.g. SGD marks its buffer as initialized). */
  protected afterLoad(_st: ParamState, _entry: ParamStateDict): void {}

  /** Frees the state tensors; the optimizer cannot be used afterwards. */
  dispose(): void {
    for (const st of this.state.values()) {
      for (const t of Object.values(st.tensors)) t.dispose();
    }
    this.state.clear();
    this.#disposed = true;
  }

  /** `using opt = ...` support. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  #assertLive(): void {
    if (this.#disposed) throw new GpuError(`${this.constructor.name}: used after dispose()`);
  }
}
