/**
 * Softmax, log-softmax (along any dim, max-subtracted, one workgroup per row) and the mean
 * cross-entropy of logits `[N, C]` against int32 class labels `[N]` or soft targets `[N, C]`
 * (PyTorch `F.cross_entropy`, reduction "mean"). Forward and backward side by side, plus
 * plain-TS references.
 *
 * @module
 */
import softmaxSrc from "./softmax.wgsl" with { type: "text" };
import softmaxGradSrc from "./softmax_grad.wgsl" with { type: "text" };
import ceSrc from "./cross_entropy.wgsl" with { type: "text" };
import ceGradSrc from "./cross_entropy_grad.wgsl" with { type: "text" };
import { f32, grid, kernel, rowEntry } from "./kernel.ts";
import { empty, fmtShape, reshapeOwned, type Tensor } from "../core/tensor.ts";
import { record } from "../core/autograd.ts";
import { GpuError } from "../core/device.ts";
import { binaryRaw, unaryRaw } from "./elementwise.ts";
import { reduceRaw } from "./reduce.ts";

const ROW_WG = 64;
const WG = 256;

/**
 * How a tensor splits into rows along `dim`: `rows` rows of `len` elements that lie `inner`
 * apart; row `r` starts at `floor(r / inner) * len * inner + r % inner`.
 */
export interface RowLayout {
  /** Number of rows (all elements / len). */
  rows: number;
  /** Elements per row (the size of `dim`). */
  len: number;
  /** Distance between neighbours in a row (product of the dims after `dim`). */
  inner: number;
}

/** Rows of `shape` along `dim` (negative counts from the end); throws naming `op`. */
export function rowLayout(op: string, shape: readonly number[], dim: number): RowLayout {
  const d = dim < 0 ? dim + shape.length : dim;
  if (!Number.isInteger(d) || d < 0 || d >= shape.length) {
    throw new GpuError(`${op}: dim ${dim} out of range for shape ${fmtShape(shape)}`);
  }
  let outer = 1, inner = 1;
  for (let i = 0; i < d; i++) outer *= shape[i];
  for (let i = d + 1; i < shape.length; i++) inner *= shape[i];
  return { rows: outer * inner, len: shape[d], inner };
}

function checkFloat(op: string, x: Tensor): void {
  if (x.dtype !== "f32") throw new GpuError(`${op}: input must be f32, got ${x.dtype}`);
}

/** Raw softmax (`log` false) or log-softmax (`log` true) along `dim`; no autograd. */
export function softmaxRaw(x: Tensor, dim = -1, log = false): Tensor {
  const op = log ? "log_softmax" : "softmax";
  checkFloat(op, x);
  const l = rowLayout(op, x.shape, dim);
  const y = empty(x.shape, "f32", op);
  const e = rowEntry(l.rows, l.len, ROW_WG);
  kernel({
    name: op,
    code: softmaxSrc,
    entry: e.entry,
    constants: { LOG: log ? 1 : 0, WG: ROW_WG },
  })
    .dispatch([x, y], [l.rows, l.len, l.inner], e.groups);
  return y;
}

/** Raw backward of softmax / log-softmax from the forward output `y` and gradient `dy`. */
export function softmaxGradRaw(y: Tensor, dy: Tensor, dim = -1, log = false): Tensor {
  const op = log ? "log_softmax_grad" : "softmax_grad";
  const l = rowLayout(op, y.shape, dim);
  const dx = empty(y.shape, "f32", op);
  const e = rowEntry(l.rows, l.len, ROW_WG);
  kernel({
    name: op,
    code: softmaxGradSrc,
    entry: e.entry,
    constants: { LOG: log ? 1 : 0, WG: ROW_WG },
  }).dispatch([y, dy, dx], [l.rows, l.len, l.inner], e.groups);
  return dx;
}

/** Softmax along `dim` (default the last), with autograd. */
export function softmax(x: Tensor, dim = -1): Tensor {
  const y = softmaxRaw(x, dim, false);
  record("softmax", [x], [y], [y], ([g], [ys]) => [g ? softmaxGradRaw(ys, g, dim, false) : null]);
  return y;
}

/** Log-softmax along `dim` (default the last), with autograd. */
export function logSoftmax(x: Tensor, dim = -1): Tensor {
  const y = softmaxRaw(x, dim, true);
  record(
    "log_softmax",
    [x],
    [y],
    [y],
    ([g], [ys]) => [g ? softmaxGradRaw(ys, g, dim, true) : null],
  );
  return y;
}

/**
 * Mean cross-entropy of `logits [N, C]` against `target`: int32 class labels `[N]`
 * (`loss = mean_i(lse_i - x_i[t_i])`) or float probabilities `[N, C]`
 * (`loss = mean_i(-sum_c t_ic log_softmax(x_i)_c)`). Returns a scalar (shape `[]`).
 * Gradients flow to the logits and, for soft targets, to the target too. A label outside
 * `[0, C)` makes the loss NaN.
 */
export function crossEntropy(logits: Tensor, target: Tensor): Tensor {
  const op = "cross_entropy";
  checkFloat(op, logits);
  if (logits.shape.length !== 2) {
    throw new GpuError(`${op}: logits must be [N, C], got ${fmtShape(logits.shape)}`);
  }
  const [n, c] = logits.shape;
  const soft = target.dtype === "f32";
  if (soft) {
    if (target.shape.length !== 2 || target.shape[0] !== n || target.shape[1] !== c) {
      throw new GpuError(
        `${op}: soft targets ${fmtShape(target.shape)} must match logits ${fmtShape(logits.shape)}`,
      );
    }
  } else if (target.dtype !== "i32" || target.shape.length !== 1 || target.shape[0] !== n) {
    throw new GpuError(
      `${op}: labels must be int32 [${n}] for logits ${fmtShape(logits.shape)}, got ` +
        `${target.dtype} ${fmtShape(target.shape)}`,
    );
  }
  const rowLoss = empty([n], "f32", op);
  const stats = empty([2, n], "f32", op);
  kernel({ name: op, code: ceSrc, constants: { SOFT: soft ? 1 : 0, WG: ROW_WG } })
    .dispatch([logits, target, rowLoss, stats], [n, c, 0], grid(n));
  const r = reduceRaw("sum", rowLoss, [0], 1 / n);
  rowLoss.dispose();
  const loss = reshapeOwned(r, []);
  record(op, [logits, target], [loss], [logits, target, stats], ([g], [xs, ts, st]) => {
    if (!g) return [null, null];
    let dx: Tensor | null = null, dt: Tensor | null = null;
    if (xs.requiresGrad) {
      dx = empty(xs.shape, "f32", "cross_entropy_grad");
      kernel({
        name: "cross_entropy_grad",
        code: ceGradSrc,
        constants: { SOFT: soft ? 1 : 0, WG },
      }).dispatch([xs, ts, st, g, dx], [n, c, f32(1 / n)], grid(Math.ceil((n * c) / WG)));
    }
    if (soft && ts.requiresGrad) {
      // d loss / d t = -log_softmax(x) * g / N
      const ls = softmaxRaw(xs, -1, true);
      const m = binaryRaw("mul", ls, g);
      dt = unaryRaw("identity", m, -1 / n);
      ls.dispose();
      m.dispose();
    }
    return [dx, dt];
  });
  stats.dispose();
  return loss;
}

// ---- plain-TS references (tests) ----

/** Reference softmax / log-softmax along `dim` on host data (float64 inside). */
export function softmaxRef(
  x: ArrayLike<number>,
  shape: readonly number[],
  dim = -1,
  log = false,
): Float64Array {
  const l = rowLayout("softmaxRef", shape, dim);
  const y = new Float64Array(x.length);
  for (let r = 0; r < l.rows; r++) {
    const base = Math.floor(r / l.inner) * l.len * l.inner + (r % l.inner);
    let m = -Infinity;
    for (let k = 0; k < l.len; k++) m = Math.max(m, x[base + k * l.inner]);
    let s = 0;
    for (let k = 0; k < l.len; k++) s += Math.exp(x[base + k * l.inner] - m);
    for (let k = 0; k < l.len; k++) {
      const i = base + k * l.inner;
      y[i] = log ? x[i] - m - Math.log(s) : Math.exp(x[i] - m) / s;
    }
  }
  return y;
}

/** Reference mean cross-entropy; `target` holds labels (length n) or probabilities (n·c). */
export function crossEntropyRef(
  logits: ArrayLike<number>,
  n: number,
  c: number,
  target: ArrayLike<number>,
): number {
  const ls = softmaxRef(logits, [n, c], -1, true);
  const soft = target.length === n * c;
  let total = 0;
  for (let i = 0; i < n; i++) {
    if (soft) { for (let k = 0; k < c; k++) total -= target[i * c + k] * ls[i * c + k]; }
    else total -= ls[i * c + target[i]];
  }
  return total / n;
}
