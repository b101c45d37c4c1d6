/**
 * AdamW exactly as `torch.optim.AdamW` (amsgrad off): decoupled weight decay, bias-corrected
 * moments, one fused kernel per parameter tensor. `lr`, `weightDecay`, `betas` and `eps` are
 * read from the groups at every step (pass schedules through them); the bias corrections are
 * computed on the host in float64 from each parameter's step count and sent as uniforms.
 *
 * @module
 */
import src from "./adamw.wgsl" with { type: "text" };
import { f32, grid, kernel } from "../../kernels/kernel.ts";
import type { Tensor } from "../tensor.ts";
import { type GroupInit, Optimizer, type ParamGroup, type ParamState } from "./optimizer.ts";

const WG = 256;

/** A parameter group of {@link AdamW}. */
export interface AdamWGroup extends ParamGroup {
  /** Coefficients of the running averages of the gradient and its square. */
  betas: [number, number];
  /** Added to the denominator for stability. */
  eps: number;
}

/** torch's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 1e-2. */
export const ADAMW_DEFAULTS: Readonly<Omit<AdamWGroup, "params">> = Object.freeze({
  lr: 1e-3,
  weightDecay: 1e-2,
  betas: [0.9, 0.999] as [number, number],
  eps: 1e-8,
});

/** The uniforms of one update; `step` is the number of steps already taken (t = step + 1). */
export function adamwScalars(
  g: Omit<AdamWGroup, "params">,
  step: number,
): { decay: number; stepSize: number; bc2Sqrt: number } {
  const t = step + 1;
  const [b1, b2] = g.betas;
  return {
    decay: 1 - g.lr * g.weightDecay,
    stepSize: g.lr / (1 - b1 ** t),
    bc2Sqrt: Math.sqrt(1 - b2 ** t),
  };
}

/** Encodes the fused AdamW kernel for one tensor (no autograd, no readback). */
export function adamwUpdateRaw(
  p: Tensor,
  grad: Tensor,
  expAvg: Tensor,
  expAvgSq: Tensor,
  g: Omit<AdamWGroup, "params">,
  step: number,
): void {
  const s = adamwScalars(g, step);
  const [b1, b2] = g.betas;
  kernel({ name: "adamw_step", code: src, constants: { WG } }).dispatch(
    [p, grad, expAvg, expAvgSq],
    [
      Math.ceil(p.size / 4),
      f32(s.decay),
      f32(b1),
      f32(1 - b1),
      f32(b2),
      f32(1 - b2),
      f32(g.eps),
      f32(s.stepSize),
      f32(s.bc2Sqrt),
    ],
    grid(Math.ceil(p.size / 4 / WG)),
  );
}

/** AdamW over parameter groups; state `exp_avg` and `exp_avg_sq` per parameter. */
export class AdamW extends Optimizer<AdamWGroup> {
  /** State-dict tag. */
  readonly kind = "adamw";

  /** `init` is a parameter list (one group) or groups; `defaults` fill what a group leaves out. */
  constructor(
    init: Tensor[] | GroupInit<AdamWGroup>[],
    defaults: Partial<Omit<AdamWGroup, "params">> = {},
  ) {
    super(init, { ...ADAMW_DEFAULTS, ...defaults });
    this.allocateState();
  }

  /** AdamW keeps two moments per parameter. */
  protected slots(): string[] {
    return ["exp_avg", "exp_avg_sq"];
  }

  /** One fused update. */
  protected update(group: AdamWGroup, p: Tensor, grad: Tensor, st: ParamState): void {
    adamwUpdateRaw(p, grad, st.tensors.exp_avg, st.tensors.exp_avg_sq, group, st.step);
  }
}

/**
 * Plain-TS reference of one AdamW step on host arrays (float64 arithmetic), updating `p`, `m`,
 * `v` in place; `step` is the number of steps already taken.
 */
export function adamwRef(
  p: Float64Array,
  grad: ArrayLike<number>,
  m: Float64Array,
  v: Float64Array,
  g: Omit<AdamWGroup, "params">,
  step: number,
): void {
  const t = step + 1;
  const [b1, b2] = g.betas;
  const bc1 = 1 - b1 ** t, bc2 = 1 - b2 ** t;
  for (let i = 0; i < p.length; i++) {
    p[i] *= 1 - g.lr * g.weightDecay;
    m[i] = b1 * m[i] + (1 - b1) * grad[i];
    v[i] = b2 * v[i] + (1 - b2) * grad[i] * grad[i];
    p[i] -= (g.lr / bc1) * m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + g.eps);
  }
}
