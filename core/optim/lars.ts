/**
 * LARS as LightlySSL implements it (`lightly/utils/lars.py`): for groups with weight decay,
 * the update `g + wd·p` is scaled by the trust ratio `trust·‖p‖/(‖g‖ + wd‖p‖ + eps)` (only
 * where both norms are nonzero); groups with `weightDecay = 0` get plain momentum SGD with
 * neither decay nor trust ratio. The norms are reduced on the GPU into a state tensor that
 * the update kernel reads, so a step never waits for the GPU.
 *
 * @module
 */
import src from "./lars.wgsl" with { type: "text" };
import { f32, grid, kernel } from "../../kernels/kernel.ts";
import { empty, keep, type Tensor } from "../tensor.ts";
import type { GroupInit, ParamState } from "./optimizer.ts";
import { checkMomentumGroup, MomentumOptimizer, momentumRef, type SGDGroup } from "./sgd.ts";
import { partialCount, sqrtSumInto, sumSquaresPartial } from "./norm.ts";

const WG = 256;

/** A parameter group of {@link LARS}. */
export interface LARSGroup extends SGDGroup {
  /** Scale of the trust ratio (lightly: 0.001). */
  trustCoefficient: number;
  /** Added to the trust-ratio denominator. */
  eps: number;
}

/** lightly's LARS defaults (lr must be set by the caller; 0.3 as lightly-train's LARSArgs). */
export const LARS_DEFAULTS: Readonly<Omit<LARSGroup, "params">> = Object.freeze({
  lr: 0.3,
  weightDecay: 0,
  momentum: 0,
  dampening: 0,
  nesterov: false,
  trustCoefficient: 0.001,
  eps: 1e-8,
});

/**
 * Encodes the LARS update of one tensor. `norms[k]` and `norms[k + 1]` must hold ‖p‖ and ‖g‖
 * when the group has weight decay; `buf` is ignored without momentum.
 */
export function larsUpdateRaw(
  p: Tensor,
  grad: Tensor,
  buf: Tensor,
  norms: Tensor,
  k: number,
  g: Omit<LARSGroup, "params">,
  first: boolean,
): void {
  kernel({ name: "lars_step", code: src, constants: { WG } }).dispatch(
    [p, grad, buf, norms],
    [
      p.size,
      first ? 1 : 0,
      g.nesterov ? 1 : 0,
      g.momentum !== 0 ? 1 : 0,
      f32(g.lr),
      f32(g.momentum),
      f32(1 - g.dampening),
      f32(g.weightDecay),
      f32(g.trustCoefficient),
      f32(g.eps),
      k,
      0,
    ],
    grid(Math.ceil(p.size / WG)),
  );
}

/** LARS over parameter groups; state `momentum_buffer` per parameter where momentum != 0. */
export class LARS extends MomentumOptimizer<LARSGroup> {
  /** State-dict tag. */
  readonly kind = "lars";
  /** ‖p‖, ‖g‖ of parameter i at [2i], [2i+1]. */
  #norms: Tensor;
  /** Scratch for the partial sums of one parameter and its gradient. */
  #partials: Tensor;
  #index = new Map<Tensor, number>();

  /** `init` is a parameter list (one group) or groups; `defaults` fill what a group leaves out. */
  constructor(
    init: Tensor[] | GroupInit<LARSGroup>[],
    defaults: Partial<Omit<LARSGroup, "params">> = {},
  ) {
    super(init, { ...LARS_DEFAULTS, ...defaults });
    for (const g of this.groups) checkMomentumGroup("LARS", g);
    const params = this.params();
    params.forEach((p, i) => this.#index.set(p, i));
    this.#norms = keep(empty([Math.max(1, 2 * params.length)], "f32", "lars-norms"));
    const scratch = Math.max(1, ...params.map((p) => 2 * partialCount(p.size)));
    this.#partials = keep(empty([scratch], "f32", "lars-partials"));
    this.allocateState();
  }

  /** Norms (when the group decays), then one fused update. */
  protected update(group: LARSGroup, p: Tensor, grad: Tensor, st: ParamState): void {
    const k = 2 * this.#index.get(p)!;
    if (group.weightDecay !== 0) {
      const np = sumSquaresPartial(p, this.#partials, 0);
      const ng = sumSquaresPartial(grad, this.#partials, np);
      sqrtSumInto(this.#partials, 0, np, this.#norms, k);
      sqrtSumInto(this.#partials, np, ng, this.#norms, k + 1);
    }
    larsUpdateRaw(p, grad, this.bufferOf(st), this.#norms, k, group, st.step === 0);
  }

  /** Frees the state, norms and scratch. */
  override dispose(): void {
    this.#norms.dispose();
    this.#partials.dispose();
    super.dispose();
  }
}

/** Plain-TS reference of one LARS step (float64), updating `p` and `buf` in place. */
export function larsRef(
  p: Float64Array,
  grad: ArrayLike<number>,
  buf: Float64Array,
  g: Omit<LARSGroup, "params">,
  first: boolean,
): void {
  let d = Float64Array.from(grad);
  if (g.weightDecay !== 0) {
    let sp = 0, sg = 0;
    for (let i = 0; i < p.length; i++) {
      sp += p[i] * p[i];
      sg += grad[i] * grad[i];
    }
    const pn = Math.sqrt(sp), gn = Math.sqrt(sg);
    if (pn !== 0 && gn !== 0) {
      const larsLr = pn / (gn + pn * g.weightDecay + g.eps) * g.trustCoefficient;
      d = Float64Array.from(grad, (v, i) => (v + g.weightDecay * p[i]) * larsLr);
    }
  }
  momentumRef(p, d, buf, g, first);
}
