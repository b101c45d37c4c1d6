/**
 * Distillation v3, lightly-train's default `distillation` method (`distillationv3_loss.py`),
 * as autograd ops, plus the two pieces distillation v1 shares with it: the teacher queue
 * update and the batch-mean KL divergence of temperature-scaled logits.
 *
 * - global: `KL(softmax(t_g·Qᵀ/τ_g) ‖ softmax(s_g·Qᵀ/τ_g))` against the queue of past teacher
 *   embeddings, which is updated with this batch **before** the loss;
 * - local: per image, the token-token similarity distributions `softmax(t_l·t_lᵀ/τ_l)` vs
 *   `softmax(s_l·s_lᵀ/τ_l)` over the B·N token rows;
 * - `loss = global + w_local·local`. All four feature sets are L2-normalized here.
 *
 * @module
 */
import { fmtShape, type Tensor, tidy } from "../../core/tensor.ts";
import { noGrad } from "../../core/autograd.ts";
import { GpuError } from "../../core/device.ts";
import { add, exp, mul, scale, sub } from "../../kernels/elementwise.ts";
import { concat, slice } from "../../kernels/layout.ts";
import { matmul, reshapeOp } from "../../kernels/matmul.ts";
import { l2Normalize } from "../../kernels/normalize.ts";
import { sum } from "../../kernels/reduce.ts";
import { logSoftmax } from "../../kernels/softmax.ts";

/**
 * The teacher queue after this batch (no autograd): `x[:Q]` if `B >= Q`, else
 * `cat(x, queue[:Q−B])` (newest first). Returns a new `[Q, D]` tensor; the old one is untouched.
 */
export function updateQueue(queue: Tensor, x: Tensor): Tensor {
  if (
    queue.shape.length !== 2 || x.shape.length !== 2 || queue.shape[1] !== x.shape[1]
  ) {
    throw new GpuError(
      `update_queue: queue ${fmtShape(queue.shape)} and batch ${
        fmtShape(x.shape)
      } must be [Q, D], [B, D]`,
    );
  }
  const [q] = queue.shape, [b] = x.shape;
  return noGrad(() =>
    tidy(() => (b >= q ? slice(x, 0, 0, q) : concat([x, slice(queue, 0, 0, q - b)], 0)))
  );
}

/**
 * `KLDivLoss(reduction="batchmean")(log_softmax(s/T), softmax(t/T))` for logits `[R, C]`:
 * `Σ p_t·(log p_t − log p_s) / R`. The teacher logits are constants (no gradient).
 */
export function klBatchmean(
  studentLogits: Tensor,
  teacherLogits: Tensor,
  temperature: number,
): Tensor {
  const s = studentLogits.shape, t = teacherLogits.shape;
  if (s.length !== 2 || t.length !== 2 || s[0] !== t[0] || s[1] !== t[1]) {
    throw new GpuError(
      `kl_batchmean: logits ${fmtShape(s)} and ${fmtShape(t)} must be equal [R, C]`,
    );
  }
  if (!(temperature > 0)) throw new GpuError(`kl_batchmean: temperature must be > 0`);
  return tidy(() => {
    const { lpt, pt } = noGrad(() => {
      const lpt = logSoftmax(scale(teacherLogits, 1 / temperature), -1);
      return { lpt, pt: exp(lpt) };
    });
    const lps = logSoftmax(scale(studentLogits, 1 / temperature), -1);
    return scale(sum(mul(pt, sub(lpt, lps))), 1 / s[0]);
  });
}

/** The features of one distillation v3 step (pre-normalization). */
export interface DistillationV3Inputs {
  /** Teacher pooled features `[B, D]` (constants). */
  teacherGlobal: Tensor;
  /** Teacher patch features `[B, N, D]` (constants). */
  teacherLocal: Tensor;
  /** Student global head output `[B, D]`. */
  studentGlobal: Tensor;
  /** Student local head output, resized to the teacher grid, `[B, N, D]`. */
  studentLocal: Tensor;
  /** The teacher queue `[Q, D]` before this step (normalized teacher features, zeros at start). */
  queue: Tensor;
}

/** Options of {@link distillationV3Loss} (lightly-train `DistillationV3Args` defaults). */
export interface DistillationV3Options {
  /** Temperature of the global queue KL (default 0.07). */
  temperatureGlobal?: number;
  /** Temperature of the local token-similarity KL (default 0.07). */
  temperatureLocal?: number;
  /** Weight of the local loss (default 1). */
  localWeight?: number;
}

/** What {@link distillationV3Loss} returns. */
export interface DistillationV3Result {
  /** `global + w·local` (scalar, differentiable with respect to the student features). */
  loss: Tensor;
  /** Global queue KL. */
  globalLoss: Tensor;
  /** Local token-similarity KL. */
  localLoss: Tensor;
  /** The queue after this step, `[Q, D]` (a new tensor; the caller swaps it in). */
  queueNew: Tensor;
}

/** Distillation v3 loss (see the module doc). */
export function distillationV3Loss(
  x: DistillationV3Inputs,
  opts: DistillationV3Options = {},
): DistillationV3Result {
  const op = "distillation_v3";
  const [b, d] = x.teacherGlobal.shape;
  const [lb, n, ld] = x.teacherLocal.shape;
  const same = (a: readonly number[], e: readonly number[]) =>
    a.length === e.length && a.every((v, i) => v === e[i]);
  if (
    !same(x.teacherGlobal.shape, [b, d]) || !same(x.studentGlobal.shape, [b, d]) ||
    !same(x.teacherLocal.shape, [b, n, ld]) || lb !== b ||
    !same(x.studentLocal.shape, [b, n, ld]) ||
    x.queue.shape.length !== 2 || x.queue.shape[1] !== d
  ) {
    throw new GpuError(
      `${op}: need teacher/student global [B, D], local [B, N, D'], queue [Q, D]; got ` +
        [x.teacherGlobal, x.teacherLocal, x.studentGlobal, x.studentLocal, x.queue]
          .map((t) => fmtShape(t.shape)).join(", "),
    );
  }
  const tg = opts.temperatureGlobal ?? 0.07, tl = opts.temperatureLocal ?? 0.07;
  const w = opts.localWeight ?? 1;
  return tidy(() => {
    const { teacherG, teacherL } = noGrad(() => ({
      teacherG: l2Normalize(x.teacherGlobal, -1),
      teacherL: l2Normalize(x.teacherLocal, -1),
    }));
    const queueNew = updateQueue(x.queue, teacherG);
    const studentG = l2Normalize(x.studentGlobal, -1);
    const studentL = l2Normalize(x.studentLocal, -1);
    const tq = noGrad(() => matmul(teacherG, queueNew, false, true));
    const globalLoss = klBatchmean(matmul(studentG, queueNew, false, true), tq, tg);
    const tt = noGrad(() => matmul(teacherL, teacherL, false, true).reshape([b * n, n]));
    const ss = reshapeOp(matmul(studentL, studentL, false, true), [b * n, n]);
    const localLoss = klBatchmean(ss, tt, tl);
    const loss = add(globalLoss, scale(localLoss, w));
    return { loss, globalLoss, localLoss, queueNew };
  });
}

// ---- plain-TS references (tests), float64 ----

/** Reference `Σ p_t (log p_t − log p_s) / rows` for host logits `[rows, c]`. */
export function klBatchmeanRef(
  student: ArrayLike<number>,
  teacher: ArrayLike<number>,
  rows: number,
  c: number,
  temperature: number,
): number {
  const lsm = (x: ArrayLike<number>, r: number) => {
    const v = Array.from({ length: c }, (_, j) => x[r * c + j] / temperature);
    const m = Math.max(...v);
    const lse = m + Math.log(v.reduce((a, u) => a + Math.exp(u - m), 0));
    return v.map((u) => u - lse);
  };
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const lt = lsm(teacher, r), ls = lsm(student, r);
    for (let j = 0; j < c; j++) total += Math.exp(lt[j]) * (lt[j] - ls[j]);
  }
  return total / rows;
}

/** Reference L2 normalization of host rows `[rows, d]` (eps 1e-12). */
export function normalizeRowsRef(x: ArrayLike<number>, rows: number, d: number): number[][] {
  return Array.from({ length: rows }, (_, r) => {
    const v = Array.from({ length: d }, (_, j) => x[r * d + j]);
    const n = Math.max(Math.hypot(...v), 1e-12);
    return v.map((u) => u / n);
  });
}

/** Reference queue update on host rows: `x[:Q]` if `B >= Q` else `x ++ queue[:Q−B]`. */
export function updateQueueRef(queue: number[][], x: number[][]): number[][] {
  return x.length >= queue.length
    ? x.slice(0, queue.length)
    : [...x, ...queue.slice(0, queue.length - x.length)];
}

/** Reference `a bᵀ` of host rows. */
export function gramRef(a: number[][], b: number[][]): number[] {
  return a.flatMap((u) => b.map((v) => u.reduce((s, x, k) => s + x * v[k], 0)));
}
