/**
 * L2 normalization (`F.normalize`, p = 2) and cosine similarity (`F.cosine_similarity`,
 * PyTorch 1.13 semantics) along any dim, one workgroup per row; forward and backward side by
 * side, plus plain-TS references.
 *
 * @module
 */
import normalizeSrc from "./normalize.wgsl" with { type: "text" };
import normalizeGradSrc from "./normalize_grad.wgsl" with { type: "text" };
import cosineSrc from "./cosine_similarity.wgsl" with { type: "text" };
import cosineGradSrc from "./cosine_similarity_grad.wgsl" with { type: "text" };
import { f32, grid, kernel } from "./kernel.ts";
import { empty, fmtShape, type Tensor } from "../core/tensor.ts";
import { record } from "../core/autograd.ts";
import { GpuError } from "../core/device.ts";
import { rowLayout } from "./softmax.ts";

const ROW_WG = 64;
const WG = 256;

/**
 * `x / max(||x||_2, eps)` along `dim` (default 1, as `F.normalize`). The gradient treats the
 * clamp like PyTorch: where `||x|| < eps` the denominator is the constant eps.
 */
export function l2Normalize(x: Tensor, dim = 1, eps = 1e-12): Tensor {
  const op = "l2_normalize";
  if (x.dtype !== "f32") throw new GpuError(`${op}: input must be f32, got ${x.dtype}`);
  const l = rowLayout(op, x.shape, dim);
  const y = empty(x.shape, "f32", op);
  const norms = empty([l.rows], "f32", op);
  kernel({ name: op, code: normalizeSrc, constants: { WG: ROW_WG } })
    .dispatch([x, y, norms], [l.rows, l.len, l.inner, f32(eps)], grid(l.rows));
  record(op, [x], [y], [y, norms], ([g], [ys, ns]) => {
    if (!g) return [null];
    const dx = empty(ys.shape, "f32", "l2_normalize_grad");
    kernel({ name: "l2_normalize_grad", code: normalizeGradSrc, constants: { WG: ROW_WG } })
      .dispatch([ys, g, ns, dx], [l.rows, l.len, l.inner, f32(eps)], grid(l.rows));
    return [dx];
  });
  norms.dispose();
  return y;
}

/**
 * Cosine similarity of `a` and `b` (same shape) along `dim` (default 1), PyTorch 1.13:
 * `sum((a / max(||a||, eps)) * (b / max(||b||, eps)))`; the result drops `dim`. As in PyTorch
 * the norms are clamped outside autograd, so the gradient through each norm uses its raw value.
 */
export function cosineSimilarity(a: Tensor, b: Tensor, dim = 1, eps = 1e-8): Tensor {
  const op = "cosine_similarity";
  if (a.dtype !== "f32" || b.dtype !== "f32") {
    throw new GpuError(`${op}: inputs must be f32, got ${a.dtype} and ${b.dtype}`);
  }
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new GpuError(`${op}: shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)} differ`);
  }
  const l = rowLayout(op, a.shape, dim);
  const d = dim < 0 ? dim + a.shape.length : dim;
  const y = empty(a.shape.filter((_, i) => i !== d), "f32", op);
  const norms = empty([2, l.rows], "f32", op);
  kernel({ name: op, code: cosineSrc, constants: { WG: ROW_WG } })
    .dispatch([a, b, y, norms], [l.rows, l.len, l.inner, f32(eps)], grid(l.rows));
  record(op, [a, b], [y], [a, b, y, norms], ([g], [as, bs, ys, ns]) => {
    if (!g) return [null, null];
    const da = empty(as.shape, "f32", "cosine_similarity_grad");
    const db = empty(bs.shape, "f32", "cosine_similarity_grad");
    kernel({ name: "cosine_similarity_grad", code: cosineGradSrc, constants: { WG } }).dispatch(
      [as, bs, ys, g, ns, da, db],
      [as.size, l.len, l.inner, f32(eps), l.rows],
      grid(Math.ceil(as.size / WG)),
    );
    return [as.requiresGrad ? da : null, bs.requiresGrad ? db : null];
  });
  norms.dispose();
  return y;
}

// ---- plain-TS references (tests) ----

/** Reference `x / max(||x||, eps)` along `dim` on host data (float64). */
export function l2NormalizeRef(
  x: ArrayLike<number>,
  shape: readonly number[],
  dim = 1,
  eps = 1e-12,
): Float64Array {
  const l = rowLayout("l2NormalizeRef", shape, dim);
  const y = new Float64Array(x.length);
  for (let r = 0; r < l.rows; r++) {
    const base = Math.floor(r / l.inner) * l.len * l.inner + (r % l.inner);
    let s = 0;
    for (let k = 0; k < l.len; k++) s += x[base + k * l.inner] ** 2;
    const d = Math.max(Math.sqrt(s), eps);
    for (let k = 0; k < l.len; k++) y[base + k * l.inner] = x[base + k * l.inner] / d;
  }
  return y;
}

/** Reference cosine similarity along `dim` on host data (float64); drops `dim`. */
export function cosineSimilarityRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  shape: readonly number[],
  dim = 1,
  eps = 1e-8,
): Float64Array {
  const l = rowLayout("cosineSimilarityRef", shape, dim);
  const y = new Float64Array(l.rows);
  for (let r = 0; r < l.rows; r++) {
    const base = Math.floor(r / l.inner) * l.len * l.inner + (r % l.inner);
    let saa = 0, sbb = 0, sab = 0;
    for (let k = 0; k < l.len; k++) {
      const i = base + k * l.inner;
      saa += a[i] * a[i];
      sbb += b[i] * b[i];
      sab += a[i] * b[i];
    }
    y[r] = sab / (Math.max(Math.sqrt(saa), eps) * Math.max(Math.sqrt(sbb), eps));
  }
  return y;
}
