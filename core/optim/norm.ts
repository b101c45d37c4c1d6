/**
 * L2 norms computed on the GPU and left there (LARS trust ratios, gradient clipping): a
 * partial sum-of-squares pass writes one value per workgroup into a scratch tensor, then a
 * one-workgroup pass writes the square root of their sum into a slot of an output tensor.
 *
 * @module
 */
import src from "./norm.wgsl" with { type: "text" };
import { kernel } from "../../kernels/kernel.ts";
import { empty, type Tensor } from "../tensor.ts";
import { GpuError } from "../device.ts";

const WG = 256;
/** Most workgroups of one partial pass (each thread then strides over the tensor). */
const MAX_PARTIALS = 512;

/** How many partial sums {@link sumSquaresPartial} writes for a tensor of `n` elements. */
export function partialCount(n: number): number {
  return Math.min(MAX_PARTIALS, Math.max(1, Math.ceil(n / (WG * 4))));
}

/** Writes partial sums of `x²` into `partials[base .. base + partialCount(x.size))`. */
export function sumSquaresPartial(x: Tensor, partials: Tensor, base: number): number {
  const count = partialCount(x.size);
  if (base + count > partials.size) {
    throw new GpuError(`l2norm: ${base + count} partials do not fit in ${partials.size}`);
  }
  kernel({ name: "l2norm_partial", code: src, entry: "partial", constants: { WG } })
    .dispatch([x, partials], [x.size, base, 0, 0], [count]);
  return count;
}

/** Writes `sqrt(sum(partials[base .. base + count)))` into `out[dst]`. */
export function sqrtSumInto(
  partials: Tensor,
  base: number,
  count: number,
  out: Tensor,
  dst: number,
): void {
  if (dst >= out.size) throw new GpuError(`l2norm: slot ${dst} outside ${out.size} outputs`);
  kernel({ name: "l2norm_finalize", code: src, entry: "finalize", constants: { WG } })
    .dispatch([partials, out], [0, base, count, dst], [1]);
}

/** The L2 norm of all elements of all `xs` as a 1-element GPU tensor (no readback). */
export function l2Norm(xs: Tensor | readonly Tensor[]): Tensor {
  const list = Array.isArray(xs) ? xs as readonly Tensor[] : [xs as Tensor];
  const total = list.reduce((s, x) => s + partialCount(x.size), 0);
  const partials = empty([Math.max(total, 1)], "f32", "l2norm-partials");
  const out = empty([], "f32", "l2norm");
  let base = 0;
  for (const x of list) base += sumSquaresPartial(x, partials, base);
  sqrtSumInto(partials, 0, base, out, 0);
  partials.dispose();
  return out;
}

/** Plain-TS reference: the L2 norm over several host arrays (float64). */
export function l2NormRef(xs: readonly ArrayLike<number>[]): number {
  let s = 0;
  for (const x of xs) for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s);
}
