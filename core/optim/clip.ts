/**
 * `clipGradNorm`: torch's `clip_grad_norm_` (norm 2) on the GPU. The total norm over all
 * gradients is reduced on the GPU and the gradients are scaled by
 * `min(maxNorm / (total + 1e-6), 1)` in place, without waiting for the GPU.
 *
 * @module
 */
import src from "./clip.wgsl" with { type: "text" };
import { f32, grid, kernel } from "../../kernels/kernel.ts";
import { empty, type Tensor } from "../tensor.ts";
import { GpuError } from "../device.ts";
import { partialCount, sqrtSumInto, sumSquaresPartial } from "./norm.ts";

const WG = 256;

/** Scales `grad` in place by `min(maxNorm / (total[0] + eps), 1)`. */
export function scaleByClipCoefRaw(grad: Tensor, total: Tensor, maxNorm: number, eps = 1e-6): void {
  kernel({ name: "clip_grad_norm", code: src, constants: { WG } }).dispatch(
    [grad, total],
    [grad.size, f32(maxNorm), f32(eps), 0],
    grid(Math.ceil(grad.size / WG)),
  );
}

/**
 * Clips the gradients of `params` (those that have one) to a total L2 norm of `maxNorm`, in
 * place. Returns the total norm before clipping as a 1-element GPU tensor (the caller owns
 * it; read it back only when needed).
 */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number, eps = 1e-6): Tensor {
  if (!(maxNorm >= 0)) throw new GpuError(`clipGradNorm: maxNorm must be >= 0, got ${maxNorm}`);
  const grads = params.flatMap((p) => (p.grad ? [p.grad] : []));
  const count = grads.reduce((s, g) => s + partialCount(g.size), 0);
  const partials = empty([Math.max(count, 1)], "f32", "clip-partials");
  const total = empty([], "f32", "clip-total-norm");
  let base = 0;
  for (const g of grads) base += sumSquaresPartial(g, partials, base);
  sqrtSumInto(partials, 0, base, total, 0);
  for (const g of grads) scaleByClipCoefRaw(g, total, maxNorm, eps);
  partials.dispose();
  return total;
}

/** torch's clip coefficient for a total norm (host numbers). */
export function clipCoef(totalNorm: number, maxNorm: number, eps = 1e-6): number {
  return Math.min(maxNorm / (totalNorm + eps), 1);
}

/** Plain-TS reference: clips host gradients in place and returns the total norm. */
export function clipGradNormRef(grads: Float64Array[], maxNorm: number, eps = 1e-6): number {
  let s = 0;
  for (const g of grads) for (const v of g) s += v * v;
  const total = Math.sqrt(s);
  const c = clipCoef(total, maxNorm, eps);
  for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= c;
  return total;
}
