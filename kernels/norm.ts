/**
 * Normalization layers as fused kernels: BatchNorm (1d `[N, C]`, `[N, C, L]`, 2d
 * `[N, C, H, W]`), BatchNorm fused with a ReLU, and LayerNorm over the last dim. Forward and
 * backward side by side, plus plain-TS references. Semantics follow PyTorch 1.13
 * (`F.batch_norm`, `F.layer_norm`).
 *
 * BatchNorm has two paths. When the per-channel plane size S is a multiple of 4 (every conv
 * map with an even width of 4 or more) the vec4 path runs: per-channel partial reductions
 * spread over many workgroups (batch_norm_partial.wgsl), a per-channel finalize
 * (batch_norm_finalize.wgsl) and vec4 elementwise passes (batch_norm_apply4.wgsl,
 * batch_norm_grad_x4.wgsl) that can fuse the ReLU. Otherwise one workgroup per channel does the
 * reductions (batch_norm_stats.wgsl, batch_norm_grad.wgsl) and the elementwise passes read
 * scalars (batch_norm_apply.wgsl, batch_norm_grad_x.wgsl).
 *
 * @module
 */
import bnStatsSrc from "./batch_norm_stats.wgsl" with { type: "text" };
import bnApplySrc from "./batch_norm_apply.wgsl" with { type: "text" };
import bnGradSrc from "./batch_norm_grad.wgsl" with { type: "text" };
import bnGradXSrc from "./batch_norm_grad_x.wgsl" with { type: "text" };
import bnPartialSrc from "./batch_norm_partial.wgsl" with { type: "text" };
import bnFinalizeSrc from "./batch_norm_finalize.wgsl" with { type: "text" };
import bnApply4Src from "./batch_norm_apply4.wgsl" with { type: "text" };
import bnGradX4Src from "./batch_norm_grad_x4.wgsl" with { type: "text" };
import splitSumSrc from "./conv2d_sum.wgsl" with { type: "text" };
import lnSrc from "./layer_norm.wgsl" with { type: "text" };
import lnGradXSrc from "./layer_norm_grad_x.wgsl" with { type: "text" };
import lnGradWbSrc from "./layer_norm_grad_wb.wgsl" with { type: "text" };
import { f32, grid, kernel, rowEntry, vec4Source } from "./kernel.ts";
import { empty, fmtShape, type Tensor, tidy } from "../core/tensor.ts";
import { record } from "../core/autograd.ts";
import { GpuError } from "../core/device.ts";
import { copyEncoder } from "../core/engine.ts";
import { full, relu } from "./elementwise.ts";

/** Threads per workgroup of the per-channel (BatchNorm) reductions. */
const CHANNEL_WG = 256;
/** Threads per workgroup of the per-row / per-column (LayerNorm) kernels. */
const ROW_WG = 64;
/** Threads per workgroup of the elementwise passes. */
const WG = 256;

/** Options of {@link batchNorm}. */
export interface BatchNormOptions {
  /** Batch statistics (and running-stat update) when true, running statistics when false. */
  training: boolean;
  /** Weight of the new batch statistic in the running average (PyTorch default 0.1). */
  momentum?: number;
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
}

function checkVec(op: string, name: string, t: Tensor | null | undefined, c: number): void {
  if (!t) return;
  if (t.dtype !== "f32" || t.shape.length !== 1 || t.shape[0] !== c) {
    throw new GpuError(`${op}: ${name} must be f32 [${c}], got ${t.dtype} ${fmtShape(t.shape)}`);
  }
}

/** Splits an `[N, C, ...]` shape into batch, channels and the product of the rest. */
function ncs(shape: readonly number[]): { n: number; c: number; s: number } {
  let s = 1;
  for (let i = 2; i < shape.length; i++) s *= shape[i];
  return { n: shape[0], c: shape[1], s };
}

/** Validates BatchNorm arguments (throws `GpuError` naming the shapes); returns N, C, S. */
function checkBatchNorm(
  op: string,
  x: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  training: boolean,
): { n: number; c: number; s: number } {
  if (x.dtype !== "f32" || x.shape.length < 2 || x.shape.length > 5) {
    throw new GpuError(`${op}: x must be f32 [N, C, ...] (2 to 5 dims), got ${fmtShape(x.shape)}`);
  }
  const { n, c, s } = ncs(x.shape);
  for (
    const [name, t] of [["weight", weight], ["bias", bias], ["running_mean", runningMean], [
      "running_var",
      runningVar,
    ]] as const
  ) checkVec(op, name, t, c);
  if (!training && (!runningMean || !runningVar)) {
    throw new GpuError(`${op}: eval mode needs running_mean and running_var`);
  }
  if (training && n * s < 2) {
    throw new GpuError(
      `${op}: expected more than 1 value per channel when training, got input ${fmtShape(x.shape)}`,
    );
  }
  if (c > 65535) throw new GpuError(`${op}: ${c} channels exceed 65535`);
  return { n, c, s };
}

/**
 * Batch normalization of `x [N, C]`, `[N, C, L]` or `[N, C, H, W]` over every dim but C.
 * Training: normalizes with the batch mean and biased variance and updates `runningMean` and
 * `runningVar` IN PLACE (`r <- (1 - momentum) r + momentum stat`, unbiased variance for
 * `runningVar`); pass null running stats to skip the update. Eval: uses the running stats
 * (required). `weight`/`bias` may be null (affine = false). Gradients flow to x, weight and bias
 * (the full train-mode formula in training).
 */
export function batchNorm(
  x: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  opts: BatchNormOptions,
): Tensor {
  const op = "batch_norm";
  const { training } = opts;
  const momentum = opts.momentum ?? 0.1;
  const eps = opts.eps ?? 1e-5;
  const { n, c, s } = checkBatchNorm(op, x, weight, bias, runningMean, runningVar, training);
  const update = training && runningMean !== null && runningVar !== null;
  // Placeholders keep the kernels' bindings fixed when an optional tensor is absent.
  const w = weight ?? full([c], 1);
  const b = bias ?? full([c], 0);
  const rm = runningMean ?? full([c], 0);
  const rv = runningVar ?? full([c], 1);
  if (s % 4 === 0) {
    const y = batchNorm4(x, weight, bias, w, b, rm, rv, update, opts, false);
    if (!weight) w.dispose();
    if (!bias) b.dispose();
    if (!runningMean) rm.dispose();
    if (!runningVar) rv.dispose();
    return y;
  }
  const stats = empty([2, c], "f32", op);
  kernel({
    name: "batch_norm_stats",
    code: bnStatsSrc,
    constants: { TRAINING: training ? 1 : 0, WG: CHANNEL_WG },
  }).dispatch([x, rm, rv, stats], [n, c, s, update ? 1 : 0, f32(momentum), f32(eps)], [c]);
  const y = empty(x.shape, "f32", op);
  kernel({ name: "batch_norm_apply", code: bnApplySrc, constants: { WG } })
    .dispatch([x, stats, w, b, y], [x.size, c, s], grid(Math.ceil(x.size / WG)));
  record(op, [x, weight, bias], [y], [x, stats, w], ([g], [xs, st, ws]) => {
    if (!g) return [null, null, null];
    const sums = empty([2, c], "f32", "batch_norm_grad");
    kernel({ name: "batch_norm_grad", code: bnGradSrc, constants: { WG: CHANNEL_WG } })
      .dispatch([xs, g, st, sums], [n, c, s], [c]);
    let dx: Tensor | null = null;
    if (xs.requiresGrad) {
      dx = empty(xs.shape, "f32", "batch_norm_grad_x");
      kernel({
        name: "batch_norm_grad_x",
        code: bnGradXSrc,
        constants: { TRAINING: training ? 1 : 0, WG },
      }).dispatch(
        [xs, g, st, ws, sums, dx],
        [xs.size, c, s, f32(n * s)],
        grid(
          Math.ceil(xs.size / WG),
        ),
      );
    }
    const dw = weight?.requiresGrad ? slice1d(sums, 0, c, "batch_norm_grad") : null;
    const db = bias?.requiresGrad ? slice1d(sums, c, c, "batch_norm_grad") : null;
    sums.dispose();
    return [dx, dw, db];
  });
  stats.dispose();
  if (!weight) w.dispose();
  if (!bias) b.dispose();
  if (!runningMean) rm.dispose();
  if (!runningVar) rv.dispose();
  return y;
}

/** Threads per workgroup and vec4s per thread of the vec4 BatchNorm passes. */
const VEC_WG = 64;
const VEC_PER = 16;

/** The vec4 walk over one channel of `[N, C, S]` (see batch_norm_partial.wgsl). */
function vecWalk(n: number, c: number, s: number): number[] {
  const s4 = s / 4, m4 = n * s4;
  const nchunk = Math.ceil(m4 / (VEC_WG * VEC_PER));
  if (nchunk > 65535) throw new GpuError(`batch_norm: ${n * s} values per channel are too many`);
  const ds = VEC_WG % s4;
  const step = Math.floor(VEC_WG / s4) * c * s4 + ds;
  return [m4, s4, c, nchunk, step, ds, (c - 1) * s4, 0];
}

function vecKernel(name: string, code: string, constants: Record<string, number>, entry?: string) {
  return kernel({ name, code, entry, constants: { WG: VEC_WG, PER: VEC_PER, ...constants } });
}

/**
 * The vec4 path of {@link batchNorm} and {@link batchNormRelu} (S a multiple of 4): `w`, `b`,
 * `rm`, `rv` are the tensors or placeholders, `weight`/`bias` the optional inputs. Records
 * the backward (one masked reduction, then the input gradient).
 */
function batchNorm4(
  x: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  w: Tensor,
  b: Tensor,
  rm: Tensor,
  rv: Tensor,
  update: boolean,
  opts: BatchNormOptions,
  relu: boolean,
): Tensor {
  const op = relu ? "batch_norm_relu" : "batch_norm";
  const { n, c, s } = ncs(x.shape);
  const { training } = opts;
  const walk = vecWalk(n, c, s);
  const nchunk = walk[3];
  const RELU = relu ? 1 : 0;
  const prm = empty([4, c], "f32", op);
  let part: Tensor | null = null;
  if (training) {
    part = empty([c, nchunk, 3], "f32", op);
    vecKernel("batch_norm_partial_stats", bnPartialSrc, {}, "stats")
      .dispatch([x, x, w, part], walk, [nchunk, c]);
  }
  kernel({ name: "batch_norm_finalize", code: bnFinalizeSrc, constants: { TRAINING: +training } })
    .dispatch(
      [part ?? w, w, b, rm, rv, prm],
      [c, nchunk, update ? 1 : 0, 0, f32(opts.momentum ?? 0.1), f32(opts.eps ?? 1e-5)],
      [Math.ceil(c / 64)],
    );
  part?.dispose();
  const y = empty(x.shape, "f32", op);
  vecKernel(`batch_norm_apply4`, bnApply4Src, { RELU }).dispatch([x, prm, y], walk, [nchunk, c]);
  record(op, [x, weight, bias], [y], [x, prm], ([g], [xs, pr]) => {
    if (!g) return [null, null, null];
    const gpart = empty([nchunk, 2, c], "f32", `${op}_grad`);
    vecKernel("batch_norm_partial_grad", bnPartialSrc, { RELU }, "grad")
      .dispatch([xs, g, pr, gpart], walk, [nchunk, c]);
    const sums = nchunk === 1 ? gpart : splitSum(gpart, nchunk, 2 * c, `${op}_grad`);
    let dx: Tensor | null = null;
    if (xs.requiresGrad) {
      dx = empty(xs.shape, "f32", `${op}_grad_x`);
      vecKernel("batch_norm_grad_x4", bnGradX4Src, { RELU, TRAINING: +training })
        .dispatch([xs, g, pr, sums, dx], [...walk, f32(n * s)], [nchunk, c]);
    }
    const dw = weight?.requiresGrad ? slice1d(sums, 0, c, `${op}_grad`) : null;
    const db = bias?.requiresGrad ? slice1d(sums, c, c, `${op}_grad`) : null;
    if (sums !== gpart) sums.dispose();
    gpart.dispose();
    return [dx, dw, db];
  });
  prm.dispose();
  return y;
}

/** Sums `splits` consecutive blocks of `n` values of `part` into a new `[n]` tensor. */
function splitSum(part: Tensor, splits: number, n: number, op: string): Tensor {
  const out = empty([n], "f32", op);
  kernel({ name: "split_sum", code: splitSumSrc, constants: { WG } })
    .dispatch([part, out], [n, splits], grid(Math.ceil(n / WG)));
  return out;
}

/**
 * `relu(batchNorm(x, ...))` as one op (the conv-BN-ReLU blocks of CNNs): same arguments,
 * semantics and gradients as {@link batchNorm} followed by {@link relu}, but the ReLU runs in
 * the normalization pass and its mask is recomputed from x in the backward, so neither the
 * normalized values nor a separate ReLU pass are kept.
 */
export function batchNormRelu(
  x: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  opts: BatchNormOptions,
): Tensor {
  const op = "batch_norm_relu";
  const { s } = checkBatchNorm(op, x, weight, bias, runningMean, runningVar, opts.training);
  if (s % 4 !== 0) {
    return tidy(() => relu(batchNorm(x, weight, bias, runningMean, runningVar, opts)));
  }
  const c = x.shape[1];
  const update = opts.training && runningMean !== null && runningVar !== null;
  const w = weight ?? full([c], 1);
  const b = bias ?? full([c], 0);
  const rm = runningMean ?? full([c], 0);
  const rv = runningVar ?? full([c], 1);
  const y = batchNorm4(x, weight, bias, w, b, rm, rv, update, opts, true);
  if (!weight) w.dispose();
  if (!bias) b.dispose();
  if (!runningMean) rm.dispose();
  if (!runningVar) rv.dispose();
  return y;
}

/** Elements `[offset, offset + n)` of `src` as a new `[n]` tensor (a buffer copy). */
function slice1d(src: Tensor, offset: number, n: number, op: string): Tensor {
  const out = empty([n], "f32", op);
  copyEncoder().copyBufferToBuffer(src.buffer, offset * 4, out.buffer, 0, n * 4);
  return out;
}

/**
 * Layer normalization over the last dim of `x` (`normalized_shape = [D]`):
 * `y = (x - mean) / sqrt(var + eps) * weight + bias` with the biased variance; `weight` and
 * `bias` are `[D]` or null. Gradients flow to x, weight and bias.
 */
export function layerNorm(
  x: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  eps = 1e-5,
): Tensor {
  const op = "layer_norm";
  if (x.dtype !== "f32" || x.shape.length < 1) {
    throw new GpuError(`${op}: x must be f32 with at least 1 dim, got ${fmtShape(x.shape)}`);
  }
  const d = x.shape.at(-1)!;
  checkVec(op, "weight", weight, d);
  checkVec(op, "bias", bias, d);
  const rows = x.size / d;
  const w = weight ?? full([d], 1);
  const b = bias ?? full([d], 0);
  const y = empty(x.shape, "f32", op);
  const stats = empty([2, rows], "f32", op);
  const e = rowEntry(rows, d, ROW_WG);
  // Rows of a multiple of 4 run 4 elements per load (the vec4 form of the three kernels).
  const v4 = d % 4 === 0;
  const src = (code: string) => v4 ? vec4Source(code) : code;
  kernel({ name: op, code: src(lnSrc), entry: e.entry, constants: { WG: ROW_WG } })
    .dispatch([x, w, b, y, stats], [rows, d, f32(eps)], e.groups);
  record(op, [x, weight, bias], [y], [x, w, stats], ([g], [xs, ws, st]) => {
    if (!g) return [null, null, null];
    let dx: Tensor | null = null, dw: Tensor | null = null, db: Tensor | null = null;
    if (xs.requiresGrad) {
      dx = empty(xs.shape, "f32", "layer_norm_grad_x");
      const ex = rowEntry(rows, d, ROW_WG);
      kernel({
        name: "layer_norm_grad_x",
        code: src(lnGradXSrc),
        entry: ex.entry,
        constants: { WG: ROW_WG },
      }).dispatch([xs, g, ws, st, dx], [rows, d], ex.groups);
    }
    if (weight?.requiresGrad || bias?.requiresGrad) {
      const wb = empty([2, d], "f32", "layer_norm_grad_wb");
      kernel({ name: "layer_norm_grad_wb", code: src(lnGradWbSrc), constants: { WG: ROW_WG } })
        .dispatch([xs, g, st, wb], [rows, d], grid(v4 ? d / 4 : d));
      if (weight?.requiresGrad) dw = slice1d(wb, 0, d, "layer_norm_grad_wb");
      if (bias?.requiresGrad) db = slice1d(wb, d, d, "layer_norm_grad_wb");
      wb.dispose();
    }
    return [dx, dw, db];
  });
  stats.dispose();
  if (!weight) w.dispose();
  if (!bias) b.dispose();
  return y;
}

// ---- plain-TS references (tests) ----

/** Result of {@link batchNormRef}. */
export interface BatchNormRefResult {
  /** Normalized output. */
  y: Float64Array;
  /** Running mean after the step. */
  runningMean: Float64Array;
  /** Running variance after the step. */
  runningVar: Float64Array;
}

/** Reference BatchNorm on host data (float64), same semantics as {@link batchNorm}. */
export function batchNormRef(
  x: ArrayLike<number>,
  shape: readonly number[],
  weight: ArrayLike<number>,
  bias: ArrayLike<number>,
  runningMean: ArrayLike<number>,
  runningVar: ArrayLike<number>,
  opts: BatchNormOptions,
): BatchNormRefResult {
  const { n, c, s } = ncs(shape);
  const mom = opts.momentum ?? 0.1, eps = opts.eps ?? 1e-5;
  const y = new Float64Array(x.length);
  const rm = Float64Array.from(runningMean), rv = Float64Array.from(runningVar);
  const m = n * s;
  for (let ch = 0; ch < c; ch++) {
    const idx = (j: number) => (Math.floor(j / s) * c + ch) * s + (j % s);
    let mean = rm[ch], v = rv[ch];
    if (opts.training) {
      mean = 0;
      for (let j = 0; j < m; j++) mean += x[idx(j)];
      mean /= m;
      v = 0;
      for (let j = 0; j < m; j++) v += (x[idx(j)] - mean) ** 2;
      v /= m;
      rm[ch] = (1 - mom) * rm[ch] + mom * mean;
      rv[ch] = (1 - mom) * rv[ch] + mom * v * m / (m - 1);
    }
    const inv = 1 / Math.sqrt(v + eps);
    for (let j = 0; j < m; j++) {
      y[idx(j)] = (x[idx(j)] - mean) * inv * weight[ch] + bias[ch];
    }
  }
  return { y, runningMean: rm, runningVar: rv };
}

/** Reference LayerNorm over the last dim `d` on host data (float64). */
export function layerNormRef(
  x: ArrayLike<number>,
  d: number,
  weight: ArrayLike<number>,
  bias: ArrayLike<number>,
  eps = 1e-5,
): Float64Array {
  const y = new Float64Array(x.length);
  for (let base = 0; base < x.length; base += d) {
    let mean = 0;
    for (let k = 0; k < d; k++) mean += x[base + k];
    mean /= d;
    let v = 0;
    for (let k = 0; k < d; k++) v += (x[base + k] - mean) ** 2;
    const r = 1 / Math.sqrt(v / d + eps);
    for (let k = 0; k < d; k++) y[base + k] = (x[base + k] - mean) * r * weight[k] + bias[k];
  }
  return y;
}
