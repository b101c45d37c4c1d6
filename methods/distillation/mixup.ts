/**
 * Mixup of the distillation methods (LightlyTrain `_methods/distillation*`): one
 * `λ ~ U(0, 1)` per batch and a random permutation, `x ← λ·x + (1−λ)·x[perm]`, applied to the
 * single (already normalized) view before both the teacher and the student. The input carries
 * no gradient, so the op records nothing.
 *
 * @module
 */
import src from "./mixup.wgsl" with { type: "text" };
import { f32, grid, kernel } from "../../kernels/kernel.ts";
import { empty, fmtShape, type Tensor, tensor } from "../../core/tensor.ts";
import { GpuError } from "../../core/device.ts";
import type { Rng } from "../../core/random.ts";

const WG = 256;

/** The random draw of one mixup. */
export interface MixupParams {
  /** The mixing weight of the original image. */
  lambda: number;
  /** `perm[b]`: the image mixed into image `b`. */
  perm: number[];
}

/** Draws `λ ~ U(0, 1)` and a uniform permutation of `batch` (Fisher–Yates) from `rng`. */
export function sampleMixup(rng: Rng, batch: number): MixupParams {
  const lambda = rng.next();
  const perm = Array.from({ length: batch }, (_, i) => i);
  for (let i = batch - 1; i > 0; i--) {
    const j = Math.min(i, Math.floor(rng.next() * (i + 1)));
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  return { lambda, perm };
}

/** `λ·x + (1−λ)·x[perm]` for `x [B, ...]` on the GPU (a new tensor, no autograd). */
export function mixupRaw(x: Tensor, p: MixupParams): Tensor {
  const b = x.shape[0];
  if (x.shape.length < 1 || b === 0 || p.perm.length !== b) {
    throw new GpuError(
      `mixup: input ${fmtShape(x.shape)} needs a batch dim matching ${p.perm.length} permuted rows`,
    );
  }
  if (p.perm.some((v) => !Number.isInteger(v) || v < 0 || v >= b)) {
    throw new GpuError(`mixup: permutation [${p.perm}] out of range for batch ${b}`);
  }
  const perm = tensor(p.perm, [b], "u32");
  const y = empty(x.shape, "f32", "mixup");
  kernel({ name: "mixup", code: src, constants: { WG } }).dispatch(
    [perm, x, y],
    [x.size, x.size / b, f32(p.lambda), f32(1 - p.lambda)],
    grid(Math.ceil(x.size / WG)),
  );
  perm.dispose();
  return y;
}

/** Draws the mixup from `rng` and applies it (see the module doc). */
export function mixup(x: Tensor, rng: Rng): Tensor {
  return mixupRaw(x, sampleMixup(rng, x.shape[0]));
}

/** Plain-TS reference of {@link mixupRaw} on host data `[batch, row]`. */
export function mixupRef(x: ArrayLike<number>, batch: number, p: MixupParams): Float32Array {
  const row = x.length / batch;
  const y = new Float32Array(x.length);
  for (let b = 0; b < batch; b++) {
    for (let c = 0; c < row; c++) {
      y[b * row + c] = p.lambda * x[b * row + c] + (1 - p.lambda) * x[p.perm[b] * row + c];
    }
  }
  return y;
}
