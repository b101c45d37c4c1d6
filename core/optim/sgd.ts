/**
 * SGD exactly as `torch.optim.SGD`: weight decay added to the gradient, momentum with
 * dampening (the buffer is the update itself on the first step), optional Nesterov. One fused
 * kernel per parameter tensor; hyper-parameters are read from the groups at every step.
 *
 * @module
 */
import src from "./sgd.wgsl" with { type: "text" };
import { f32, grid, kernel } from "../../kernels/kernel.ts";
import { empty, keep, type Tensor } from "../tensor.ts";
import { GpuError } from "../device.ts";
import {
  type GroupInit,
  Optimizer,
  type ParamGroup,
  type ParamState,
  type ParamStateDict,
} from "./optimizer.ts";

const WG = 256;

/** A parameter group of {@link SGD}. */
export interface SGDGroup extends ParamGroup {
  /** Momentum factor (0: plain SGD, no buffer). */
  momentum: number;
  /** Dampening of the momentum (not applied on the first step). */
  dampening: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0). */
  nesterov: boolean;
}

/** torch's defaults except lr (torch requires one): lr 0.01, no momentum, no decay. */
export const SGD_DEFAULTS: Readonly<Omit<SGDGroup, "params">> = Object.freeze({
  lr: 0.01,
  weightDecay: 0,
  momentum: 0,
  dampening: 0,
  nesterov: false,
});

/**
 * Encodes the fused SGD kernel for one tensor; `first` marks the step that initializes the
 * momentum buffer. `buf` is ignored (any tensor) when the group has no momentum.
 */
export function sgdUpdateRaw(
  p: Tensor,
  grad: Tensor,
  buf: Tensor,
  g: Omit<SGDGroup, "params">,
  first: boolean,
): void {
  kernel({ name: "sgd_step", code: src, constants: { WG } }).dispatch(
    [p, grad, buf],
    [
      Math.ceil(p.size / 4),
      first ? 1 : 0,
      g.nesterov ? 1 : 0,
      g.momentum !== 0 ? 1 : 0,
      f32(g.lr),
      f32(g.momentum),
      f32(1 - g.dampening),
      f32(g.weightDecay),
    ],
    grid(Math.ceil(p.size / 4 / WG)),
  );
}

/** Checks the torch constraints on SGD/LARS hyper-parameters. */
export function checkMomentumGroup(name: string, g: Omit<SGDGroup, "params">): void {
  if (g.lr < 0 || g.momentum < 0 || g.weightDecay < 0) {
    throw new GpuError(`${name}: lr, momentum and weightDecay must be >= 0`);
  }
  if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) {
    throw new GpuError(`${name}: Nesterov momentum requires momentum > 0 and zero dampening`);
  }
}

/** Base of SGD and LARS: one `momentum_buffer` per parameter where momentum != 0. */
export abstract class MomentumOptimizer<G extends SGDGroup> extends Optimizer<G> {
  #placeholder: Tensor | null = null;

  /** Momentum groups keep a buffer per parameter. */
  protected slots(group: G): string[] {
    return group.momentum !== 0 ? ["momentum_buffer"] : [];
  }

  /** The momentum buffer of `st`, or a one-element placeholder for momentum-free groups. */
  protected bufferOf(st: ParamState): Tensor {
    const b = st.tensors.momentum_buffer;
    if (b) return b;
    if (!this.#placeholder) this.#placeholder = keep(empty([1], "f32", "sgd-placeholder"));
    return this.#placeholder;
  }

  /** A loaded momentum buffer counts as initialized (torch keeps no step for SGD). */
  protected override afterLoad(st: ParamState, entry: ParamStateDict): void {
    if (!st.tensors.momentum_buffer) return;
    if (entry.buffers.momentum_buffer) st.step = Math.max(st.step, 1);
    else st.step = 0;
  }

  /** Frees the buffers and the placeholder. */
  override dispose(): void {
    this.#placeholder?.dispose();
    this.#placeholder = null;
    super.dispose();
  }
}

/** SGD with momentum, dampening, Nesterov and weight decay (torch semantics). */
export class SGD extends MomentumOptimizer<SGDGroup> {
  /** State-dict tag. */
  readonly kind = "sgd";

  /** `init` is a parameter list (one group) or groups; `defaults` fill what a group leaves out. */
  constructor(
    init: Tensor[] | GroupInit<SGDGroup>[],
    defaults: Partial<Omit<SGDGroup, "params">> = {},
  ) {
    super(init, { ...SGD_DEFAULTS, ...defaults });
    for (const g of this.groups) checkMomentumGroup("SGD", g);
    this.allocateState();
  }

  /** One fused update. */
  protected update(group: SGDGroup, p: Tensor, grad: Tensor, st: ParamState): void {
    sgdUpdateRaw(p, grad, this.bufferOf(st), group, st.step === 0);
  }
}

/**
 * Plain-TS reference of one SGD step (float64), updating `p` and `buf` in place. `d` is the
 * direction before momentum (weight decay already added, or LARS-scaled).
 */
export function momentumRef(
  p: Float64Array,
  d: Float64Array,
  buf: Float64Array,
  g: Omit<SGDGroup, "params">,
  first: boolean,
): void {
  for (let i = 0; i < p.length; i++) {
    let di = d[i];
    if (g.momentum !== 0) {
      buf[i] = first ? di : g.momentum * buf[i] + (1 - g.dampening) * di;
      di = g.nesterov ? di + g.momentum * buf[i] : buf[i];
    }
    p[i] -= g.lr * di;
  }
}

/** Plain-TS reference of one torch SGD step (float64), updating `p` and `buf` in place. */
export function sgdRef(
  p: Float64Array,
  grad: ArrayLike<number>,
  buf: Float64Array,
  g: Omit<SGDGroup, "params">,
  first: boolean,
): void {
  const d = Float64Array.from(grad, (v, i) => v + g.weightDecay * p[i]);
  momentumRef(p, d, buf, g, first);
}
