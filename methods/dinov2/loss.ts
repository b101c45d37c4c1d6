/**
 * DINOv2's losses as in lightly-train (`dinov2_loss.py`, `dinov2.py`), as autograd ops:
 *
 * - teacher centering: Sinkhorn-Knopp (`sinkhorn.wgsl`) or softmax centering with the
 *   center's EMA update returned (lightly-train's default, applied lazily next step);
 * - the DINO CLS-token loss, global views against the swapped teacher views, local views
 *   against both teacher views, normalized by `(G−1)·G + max(L·G, 1)` terms;
 * - the iBOT masked-patch loss, each masked token weighted by `1 / #masked in its crop`
 *   (`masks_weight.wgsl`), divided by the number of crops;
 * - KoLeo on the backbone CLS tokens before the head, per chunk (global view), with a fused
 *   nearest-neighbour search and distance kernel (`koleo.wgsl`);
 * - the total `w_dino·(global + local) + w_ibot·ibot + w_koleo·koleo`.
 *
 * Everything about the teacher (its probabilities, the centers, the masks' weights) is
 * computed without autograd and returned as new tensors.
 *
 * @module
 */
import sinkhornSrc from "./sinkhorn.wgsl" with { type: "text" };
import masksWeightSrc from "./masks_weight.wgsl" with { type: "text" };
import koleoSrc from "./koleo.wgsl" with { type: "text" };
import koleoGradSrc from "./koleo_grad.wgsl" with { type: "text" };
import { empty, fmtShape, type Tensor, tidy } from "../../core/tensor.ts";
import { noGrad, record } from "../../core/autograd.ts";
import { GpuError } from "../../core/device.ts";
import { f32, grid, kernel } from "../../kernels/kernel.ts";
import { add, affine, full, log, mul, scale, sub } from "../../kernels/elementwise.ts";
import { concat, slice } from "../../kernels/layout.ts";
import { reshapeOp } from "../../kernels/matmul.ts";
import { l2Normalize } from "../../kernels/normalize.ts";
import { mean, sum } from "../../kernels/reduce.ts";
import { logSoftmax, softmax } from "../../kernels/softmax.ts";

const WG = 64;
const ELEM_WG = 256;

// ---------------------------------------------------------------------------------------
// Teacher centering
// ---------------------------------------------------------------------------------------

/**
 * Sinkhorn-Knopp targets of teacher scores `[R, K]` (R samples, K prototypes) at `temp`,
 * as DINOv2's `sinkhorn_knopp_teacher`: rows of the result sum to 1. No autograd.
 * Per-prototype max subtraction keeps `exp` finite (it cancels exactly, see the kernel).
 */
export function sinkhornKnopp(teacher: Tensor, temp: number, iterations = 3): Tensor {
  const op = "sinkhorn_knopp";
  if (teacher.shape.length !== 2 || teacher.dtype !== "f32") {
    throw new GpuError(
      `${op}: teacher must be f32 [R, K], got ${teacher.dtype} ${fmtShape(teacher.shape)}`,
    );
  }
  if (!(temp > 0) || !Number.isInteger(iterations) || iterations < 1) {
    throw new GpuError(`${op}: need temp > 0 and iterations >= 1, got ${temp}, ${iterations}`);
  }
  const [r, k] = teacher.shape;
  const q = empty([r, k], "f32", op);
  const params = [r, k, f32(1 / temp)];
  const run = (entry: string, groups: [number, number]) =>
    kernel({ name: `dinov2_sinkhorn_${entry}`, code: sinkhornSrc, entry, constants: { WG } })
      .dispatch([teacher, q], params, groups);
  const cols = grid(Math.ceil(k / WG));
  for (let i = 0; i < iterations; i++) {
    run(i === 0 ? "cols_init" : "cols", cols);
    run("rows", grid(r));
  }
  return q;
}

/** How the teacher's scores become target distributions. */
export type Dinov2Centering = "softmax" | "sinkhorn_knopp";

/** Teacher centering options shared by the DINO and iBOT losses. */
export interface CenteringOptions {
  /** Teacher temperature of this step (lightly-train warms it up from 0.04 to 0.07). */
  teacherTemp: number;
  /** `"softmax"` (lightly-train's default, needs `center`) or `"sinkhorn_knopp"`. */
  centering?: Dinov2Centering;
  /** The center in effect for this step, `[1, K]` (softmax centering only). */
  center?: Tensor;
  /** Center EMA momentum (default 0.9). */
  centerMomentum?: number;
  /** Sinkhorn-Knopp iterations (default 3). */
  sinkhornIterations?: number;
}

/** What {@link centerTeacher} returns. */
export interface CenteredTeacher {
  /** Target distributions `[R, K]`, rows summing to 1. */
  probs: Tensor;
  /** `m·center + (1−m)·mean_rows(teacher)` for softmax centering, else null. */
  centerNew: Tensor | null;
}

/** Turns teacher scores `[R, K]` into targets (no autograd). */
export function centerTeacher(teacher: Tensor, opts: CenteringOptions): CenteredTeacher {
  const centering = opts.centering ?? "softmax";
  const temp = opts.teacherTemp;
  if (!(temp > 0)) throw new GpuError(`dinov2 centering: teacherTemp must be > 0, got ${temp}`);
  return noGrad(() =>
    tidy(() => {
      if (centering === "sinkhorn_knopp") {
        return {
          probs: sinkhornKnopp(teacher, temp, opts.sinkhornIterations ?? 3),
          centerNew: null,
        };
      }
      if (centering !== "softmax") throw new GpuError(`dinov2 centering: unknown '${centering}'`);
      const c = opts.center;
      const k = teacher.shape[1];
      if (!c || c.size !== k) {
        throw new GpuError(
          `dinov2 centering: softmax centering needs a center of ${k} values, got ${
            c ? fmtShape(c.shape) : "none"
          }`,
        );
      }
      const m = opts.centerMomentum ?? 0.9;
      const probs = softmax(scale(sub(teacher, c.reshape([k])), 1 / temp), -1);
      const batch = mean(teacher, 0).reshape(c.shape);
      return { probs, centerNew: add(scale(c, m), scale(batch, 1 - m)) };
    })
  );
}

// ---------------------------------------------------------------------------------------
// DINO CLS-token loss
// ---------------------------------------------------------------------------------------

/** Options of {@link dinov2DinoLoss}. */
export interface Dinov2DinoLossOptions extends CenteringOptions {
  /** Student temperature (default 0.1). */
  studentTemp?: number;
  /** Number of global crops G (default 2). */
  nGlobal?: number;
}

/** What {@link dinov2DinoLoss} returns. */
export interface Dinov2DinoLossResult {
  /** Global views against the swapped teacher views (scalar, differentiable). */
  lossGlobal: Tensor;
  /** Local views against every teacher view (scalar, differentiable; 0 without locals). */
  lossLocal: Tensor;
  /** Teacher targets `[G·B, K]` in swapped view order. */
  teacherProbs: Tensor;
  /** Updated center (softmax centering), else null. */
  centerNew: Tensor | null;
}

/**
 * DINOv2 DINO-head loss. `studentGlobal [G·B, K]` and `studentLocal [L·B, K]` (null for no
 * local crops) are the student head outputs, view-major; `teacher [G·B, K]` the teacher head
 * outputs in natural view order (the op swaps the global views: `cat(t[B:], t[:B])`).
 * `lossGlobal = −2·mean_rows(Σ P·log_softmax(s_g/T_s)) / n`,
 * `lossLocal = −Σ_{l,g} mean_b(Σ P_g·log_softmax(s_l/T_s)) / n`, `n = (G−1)·G + max(L·G, 1)`.
 */
export function dinov2DinoLoss(
  studentGlobal: Tensor,
  studentLocal: Tensor | null,
  teacher: Tensor,
  opts: Dinov2DinoLossOptions,
): Dinov2DinoLossResult {
  const op = "dinov2_dino_loss";
  const g = opts.nGlobal ?? 2;
  const st = opts.studentTemp ?? 0.1;
  const [rows, k] = studentGlobal.shape;
  if (
    studentGlobal.shape.length !== 2 || rows % g !== 0 || teacher.shape.length !== 2 ||
    teacher.shape[0] !== rows || teacher.shape[1] !== k ||
    (studentLocal && (studentLocal.shape.length !== 2 || studentLocal.shape[1] !== k ||
      studentLocal.shape[0] % (rows / g) !== 0))
  ) {
    throw new GpuError(
      `${op}: need studentGlobal [G·B, K], studentLocal [L·B, K], teacher [G·B, K] with G = ${g}; ` +
        `got ${fmtShape(studentGlobal.shape)}, ${
          studentLocal ? fmtShape(studentLocal.shape) : "none"
        }, ` +
        `${fmtShape(teacher.shape)}`,
    );
  }
  const b = rows / g;
  const l = studentLocal ? studentLocal.shape[0] / b : 0;
  const denom = (g - 1) * g + Math.max(l * g, 1);
  return tidy(() => {
    const swapped = g > 1
      ? noGrad(() => concat([slice(teacher, 0, b, rows), slice(teacher, 0, 0, b)], 0))
      : teacher;
    const { probs, centerNew } = centerTeacher(swapped, opts);
    const lsmG = logSoftmax(scale(studentGlobal, 1 / st), -1);
    const lossGlobal = scale(sum(mul(probs, lsmG)), (-2 / rows) / denom);
    let lossLocal: Tensor;
    if (studentLocal && l > 0) {
      const pSum = noGrad(() => sum(probs.reshape([g, b, k]), 0));
      const lsmL = logSoftmax(scale(reshapeOp(studentLocal, [l, b, k]), 1 / st), -1);
      lossLocal = scale(sum(mul(pSum, sum(lsmL, 0))), -1 / (b * denom));
    } else lossLocal = full([], 0);
    return { lossGlobal, lossLocal, teacherProbs: probs, centerNew };
  });
}

// ---------------------------------------------------------------------------------------
// iBOT masked-patch loss
// ---------------------------------------------------------------------------------------

/**
 * Weights of the `m` masked tokens of `masks [nCrops, nPatches]` (i32/u32, nonzero = masked),
 * in `masks.flatten().nonzero()` order: `1 / max(#masked in the token's crop, 1)`. No autograd.
 */
export function ibotMasksWeight(masks: Tensor, m: number): Tensor {
  const op = "ibot_masks_weight";
  if (masks.shape.length !== 2 || masks.dtype === "f32") {
    throw new GpuError(
      `${op}: masks must be i32/u32 [crops, patches], got ${masks.dtype} ${fmtShape(masks.shape)}`,
    );
  }
  const [crops, patches] = masks.shape;
  const counts = empty([crops], "u32", op);
  const w = empty([m], "f32", op);
  const groups = grid(Math.ceil(crops / WG));
  for (const entry of ["count", "weights"]) {
    kernel({ name: `dinov2_masks_${entry}`, code: masksWeightSrc, entry, constants: { WG } })
      .dispatch([masks, counts, w], [crops, patches, m], groups);
  }
  counts.dispose();
  return w;
}

/** Options of {@link dinov2IbotLoss}. */
export interface Dinov2IbotLossOptions extends CenteringOptions {
  /** Student temperature (default 0.1). */
  studentTemp?: number;
  /** Precomputed token weights `[M]` (e.g. from the collate); computed from the masks if absent. */
  masksWeight?: Tensor;
}

/** What {@link dinov2IbotLoss} returns. */
export interface Dinov2IbotLossResult {
  /** The iBOT loss (scalar, differentiable). */
  loss: Tensor;
  /** Teacher targets `[M, K]`. */
  teacherProbs: Tensor;
  /** Token weights `[M]` (a new tensor, or the one given). */
  masksWeight: Tensor;
  /** Updated center (softmax centering), else null. */
  centerNew: Tensor | null;
}

/**
 * iBOT loss of the masked patch tokens: `studentPatches`, `teacherPatches` `[M, K]` (head
 * outputs of the masked tokens in `masks.flatten().nonzero()` order), `masks
 * [nCrops, nPatches]`: `loss = −Σ_m w_m·Σ_d P_m·log_softmax(s_m/T_s) / nCrops`.
 */
export function dinov2IbotLoss(
  studentPatches: Tensor,
  teacherPatches: Tensor,
  masks: Tensor,
  opts: Dinov2IbotLossOptions,
): Dinov2IbotLossResult {
  const op = "dinov2_ibot_loss";
  const [m, k] = studentPatches.shape;
  if (
    studentPatches.shape.length !== 2 || teacherPatches.shape.length !== 2 ||
    teacherPatches.shape[0] !== m || teacherPatches.shape[1] !== k || masks.shape.length !== 2
  ) {
    throw new GpuError(
      `${op}: need student and teacher patches [M, K] and masks [crops, patches], got ` +
        `${fmtShape(studentPatches.shape)}, ${fmtShape(teacherPatches.shape)}, ${
          fmtShape(masks.shape)
        }`,
    );
  }
  if (opts.masksWeight && opts.masksWeight.size !== m) {
    throw new GpuError(
      `${op}: masksWeight ${fmtShape(opts.masksWeight.shape)} must hold ${m} values`,
    );
  }
  const st = opts.studentTemp ?? 0.1;
  const crops = masks.shape[0];
  return tidy(() => {
    const { probs, centerNew } = centerTeacher(teacherPatches, opts);
    const masksWeight = opts.masksWeight ?? noGrad(() => ibotMasksWeight(masks, m));
    const target = noGrad(() => mul(probs, masksWeight.reshape([m, 1])));
    const lsm = logSoftmax(scale(studentPatches, 1 / st), -1);
    const loss = scale(sum(mul(target, lsm)), -1 / crops);
    return { loss, teacherProbs: probs, masksWeight, centerNew };
  });
}

// ---------------------------------------------------------------------------------------
// KoLeo
// ---------------------------------------------------------------------------------------

/** What {@link koleoDistances} returns. */
export interface KoleoDistances {
  /** `||xn_i − xn_nn(i) + eps||` per row, `[N]` (differentiable with respect to xn). */
  distances: Tensor;
  /** Nearest-neighbour index within the chunk, int32 `[N]` (no gradient). */
  nnIndex: Tensor;
}

/**
 * For L2-normalized rows `xn [N, E]` in `chunks` equal chunks: each row's nearest neighbour
 * in its chunk by cosine (ties to the lowest index) and the distance to it (torch
 * `pairwise_distance` with `eps` added to the difference). The gradient flows to both rows.
 */
export function koleoDistances(xn: Tensor, chunks = 1, eps = 1e-8): KoleoDistances {
  const op = "koleo_distances";
  const [n, e] = xn.shape;
  if (xn.shape.length !== 2 || xn.dtype !== "f32" || n % chunks !== 0 || n === 0) {
    throw new GpuError(
      `${op}: need f32 [N, E] with N divisible by ${chunks}, got ${fmtShape(xn.shape)}`,
    );
  }
  const params = [n, e, n / chunks, f32(eps)];
  const nnIndex = empty([n], "i32", op);
  const distances = empty([n], "f32", op);
  for (const [entry, groups] of [["nn", grid(n)], ["dist", grid(Math.ceil(n / WG))]] as const) {
    kernel({ name: `dinov2_koleo_${entry}`, code: koleoSrc, entry, constants: { WG } })
      .dispatch([xn, nnIndex, distances], params, groups);
  }
  record(op, [xn], [distances], [xn, nnIndex, distances], ([g], [x, idx, d]) => {
    if (!g) return [null];
    const dx = empty(x.shape, "f32", "koleo_distances_grad");
    kernel({ name: "dinov2_koleo_grad", code: koleoGradSrc, constants: { WG: ELEM_WG } })
      .dispatch([x, idx, d, g, dx], params, grid(Math.ceil(x.size / ELEM_WG)));
    return [dx];
  });
  return { distances, nnIndex };
}

/** Options of {@link koleoLoss}. */
export interface KoleoLossOptions {
  /** Number of equal chunks (DINOv2: one per global view; default 1). */
  chunks?: number;
  /** eps of the normalization, the distance and the log (default 1e-8). */
  eps?: number;
}

/** What {@link koleoLoss} returns. */
export interface KoleoLossResult {
  /** `Σ_chunks −mean_i log(d_i + eps)` (scalar, differentiable). */
  loss: Tensor;
  /** Nearest neighbours within each chunk, int32 `[chunks, N/chunks]`. */
  nnIndex: Tensor;
}

/**
 * KoLeo (lightly `KoLeoLoss`, DINOv2's) of `x [N, E]`, summed over `chunks` equal chunks:
 * `xn = normalize(x, eps)`, `d_i` = distance to the nearest other row of the chunk,
 * `loss_chunk = −mean log(d_i + eps)`.
 */
export function koleoLoss(x: Tensor, opts: KoleoLossOptions = {}): KoleoLossResult {
  const chunks = opts.chunks ?? 1, eps = opts.eps ?? 1e-8;
  if (x.shape.length !== 2 || x.shape[0] % chunks !== 0) {
    throw new GpuError(
      `koleo_loss: need [N, E] with N divisible by ${chunks}, got ${fmtShape(x.shape)}`,
    );
  }
  const per = x.shape[0] / chunks;
  return tidy(() => {
    const { distances, nnIndex } = koleoDistances(l2Normalize(x, 1, eps), chunks, eps);
    const loss = scale(sum(log(affine(distances, 1, eps))), -1 / per);
    return { loss, nnIndex: nnIndex.reshape([chunks, per]) };
  });
}

// ---------------------------------------------------------------------------------------
// Total
// ---------------------------------------------------------------------------------------

/** The tensors of one DINOv2 step's loss. */
export interface Dinov2LossInputs {
  /** Student DINO-head outputs of the global crops `[G·B, K]`. */
  studentClsGlobal: Tensor;
  /** Student DINO-head outputs of the local crops `[L·B, K]` (null without local crops). */
  studentClsLocal: Tensor | null;
  /** Teacher DINO-head outputs of the global crops `[G·B, K]`, natural view order. */
  teacherCls: Tensor;
  /** Student iBOT-head outputs of the masked patch tokens `[M, K]`. */
  studentPatchMasked: Tensor;
  /** Teacher iBOT-head outputs of the same tokens `[M, K]`. */
  teacherPatchMasked: Tensor;
  /** Collated masks of the global crops `[G·B, nPatches]` (i32/u32). */
  masks: Tensor;
  /** Student backbone CLS tokens of the global crops before the head `[G·B, E]`. */
  studentClsBeforeHead: Tensor;
  /** Precomputed iBOT token weights `[M]` (optional). */
  masksWeight?: Tensor;
}

/** Options of {@link dinov2Loss}. */
export interface Dinov2LossOptions {
  /** Teacher temperature of this step. */
  teacherTemp: number;
  /** Student temperature (default 0.1). */
  studentTemp?: number;
  /** Centering of both heads' targets (default "softmax"). */
  centering?: Dinov2Centering;
  /** DINO-head center `[1, K]` (softmax centering). */
  dinoCenter?: Tensor;
  /** iBOT-head center `[1, K]` (softmax centering). */
  ibotCenter?: Tensor;
  /** Center EMA momentum (default 0.9). */
  centerMomentum?: number;
  /** Sinkhorn-Knopp iterations (default 3). */
  sinkhornIterations?: number;
  /** Number of global crops (default 2). */
  nGlobal?: number;
  /** Weight of the DINO losses (default 1). */
  dinoLossWeight?: number;
  /** Weight of the iBOT loss (default 1). */
  ibotLossWeight?: number;
  /** Weight of KoLeo (default 0.1). */
  koleoLossWeight?: number;
}

/** What {@link dinov2Loss} returns. */
export interface Dinov2LossResult {
  /** `w_dino·(global + local) + w_ibot·ibot + w_koleo·koleo` (scalar, differentiable). */
  loss: Tensor;
  /** DINO global-crops loss. */
  dinoGlobalLoss: Tensor;
  /** DINO local-crops loss. */
  dinoLocalLoss: Tensor;
  /** iBOT loss. */
  ibotLoss: Tensor;
  /** KoLeo loss (unweighted). */
  koleoLoss: Tensor;
  /** DINO-head teacher targets `[G·B, K]`. */
  dinoTeacherProbs: Tensor;
  /** iBOT-head teacher targets `[M, K]`. */
  ibotTeacherProbs: Tensor;
  /** iBOT token weights `[M]`. */
  masksWeight: Tensor;
  /** Updated DINO center (softmax centering), else null. */
  dinoCenterNew: Tensor | null;
  /** Updated iBOT center (softmax centering), else null. */
  ibotCenterNew: Tensor | null;
  /** KoLeo nearest neighbours `[G, B]`. */
  nnIndex: Tensor;
}

/** The whole DINOv2 loss of one step (lightly-train `training_step_impl`). */
export function dinov2Loss(x: Dinov2LossInputs, opts: Dinov2LossOptions): Dinov2LossResult {
  const common = {
    teacherTemp: opts.teacherTemp,
    studentTemp: opts.studentTemp,
    centering: opts.centering,
    centerMomentum: opts.centerMomentum,
    sinkhornIterations: opts.sinkhornIterations,
  };
  const g = opts.nGlobal ?? 2;
  return tidy(() => {
    const dino = dinov2DinoLoss(x.studentClsGlobal, x.studentClsLocal, x.teacherCls, {
      ...common,
      nGlobal: g,
      center: opts.dinoCenter,
    });
    const ibot = dinov2IbotLoss(x.studentPatchMasked, x.teacherPatchMasked, x.masks, {
      ...common,
      center: opts.ibotCenter,
      masksWeight: x.masksWeight,
    });
    const koleo = koleoLoss(x.studentClsBeforeHead, { chunks: g });
    const wd = opts.dinoLossWeight ?? 1, wi = opts.ibotLossWeight ?? 1;
    const wk = opts.koleoLossWeight ?? 0.1;
    const loss = add(
      add(scale(add(dino.lossGlobal, dino.lossLocal), wd), scale(ibot.loss, wi)),
      scale(koleo.loss, wk),
    );
    return {
      loss,
      dinoGlobalLoss: dino.lossGlobal,
      dinoLocalLoss: dino.lossLocal,
      ibotLoss: ibot.loss,
      koleoLoss: koleo.loss,
      dinoTeacherProbs: dino.teacherProbs,
      ibotTeacherProbs: ibot.teacherProbs,
      masksWeight: ibot.masksWeight,
      dinoCenterNew: dino.centerNew,
      ibotCenterNew: ibot.centerNew,
      nnIndex: koleo.nnIndex,
    };
  });
}

// ---------------------------------------------------------------------------------------
// plain-TS references (tests), float64
// ---------------------------------------------------------------------------------------

/** Reference Sinkhorn-Knopp exactly as upstream (no max subtraction), `[R, K]` row-major. */
export function sinkhornKnoppRef(
  t: ArrayLike<number>,
  r: number,
  k: number,
  temp: number,
  iterations = 3,
): Float64Array {
  // q[kk][rr] = Q [K, R] as upstream
  const q = Array.from(
    { length: k },
    (_, kk) => Array.from({ length: r }, (_, rr) => Math.exp(t[rr * k + kk] / temp)),
  );
  const total = q.flat().reduce((a, v) => a + v, 0);
  for (const row of q) for (let i = 0; i < r; i++) row[i] /= total;
  for (let it = 0; it < iterations; it++) {
    for (const row of q) {
      const s = row.reduce((a, v) => a + v, 0);
      for (let i = 0; i < r; i++) row[i] = row[i] / s / k;
    }
    for (let i = 0; i < r; i++) {
      let s = 0;
      for (const row of q) s += row[i];
      for (const row of q) row[i] = row[i] / s / r;
    }
  }
  const out = new Float64Array(r * k);
  for (let kk = 0; kk < k; kk++) for (let i = 0; i < r; i++) out[i * k + kk] = q[kk][i] * r;
  return out;
}

/** Reference iBOT token weights from host masks `[crops, patches]`. */
export function ibotMasksWeightRef(
  masks: ArrayLike<number>,
  crops: number,
  patches: number,
): number[] {
  const w: number[] = [];
  for (let c = 0; c < crops; c++) {
    let n = 0;
    for (let j = 0; j < patches; j++) if (masks[c * patches + j]) n++;
    for (let j = 0; j < n; j++) w.push(1 / Math.max(n, 1));
  }
  return w;
}

/** Reference KoLeo on host data `[n, e]`: `[loss, nnIndex]` (index within the chunk). */
export function koleoLossRef(
  x: ArrayLike<number>,
  n: number,
  e: number,
  chunks = 1,
  eps = 1e-8,
): [number, number[]] {
  const c = n / chunks;
  const xn = Array.from({ length: n }, (_, i) => {
    const row = Array.from({ length: e }, (_, k) => x[i * e + k]);
    const nr = Math.max(Math.hypot(...row), eps);
    return row.map((v) => v / nr);
  });
  let loss = 0;
  const idx: number[] = [];
  for (let i = 0; i < n; i++) {
    const base = Math.floor(i / c) * c;
    let best = -Infinity, bj = 0;
    for (let j = 0; j < c; j++) {
      const v = base + j === i ? -2 : xn[i].reduce((a, u, k) => a + u * xn[base + j][k], 0);
      if (v > best) [best, bj] = [v, j];
    }
    idx.push(bj);
    const d = Math.hypot(...xn[i].map((u, k) => u - xn[base + bj][k] + eps));
    loss -= Math.log(d + eps) / c;
  }
  return [loss, idx];
}

/**
 * Reference `−Σ_rows w_r·Σ_d P·log_softmax(s/T)` on host data `[rows, k]` (the building block
 * of the DINO and iBOT losses); `w` defaults to 1 per row.
 */
export function weightedCrossEntropyRef(
  probs: ArrayLike<number>,
  student: ArrayLike<number>,
  rows: number,
  k: number,
  studentTemp: number,
  w?: ArrayLike<number>,
): number {
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const s = Array.from({ length: k }, (_, j) => student[r * k + j] / studentTemp);
    const m = Math.max(...s);
    const lse = m + Math.log(s.reduce((a, v) => a + Math.exp(v - m), 0));
    let row = 0;
    for (let j = 0; j < k; j++) row += probs[r * k + j] * (s[j] - lse);
    total -= (w ? w[r] : 1) * row;
  }
  return total;
}
