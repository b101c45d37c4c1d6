/**
 * Multi-head self-attention in the timm / DINOv2 layout, built from `linear`, a head
 * split/merge permutation kernel (a strided gather/scatter), batched `matmul` and `softmax`,
 * so every input gets a gradient through autograd. Plus a plain-TS reference.
 *
 * Layout: `qkv.weight [3C, C]` rows `[0:C]` = q, `[C:2C]` = k, `[2C:3C]` = v; head `h` uses
 * rows `h*Dh .. (h+1)*Dh` inside each block; `attn = softmax(q k^T Dh^-0.5)` is `[B, H, N, N]`;
 * `y = proj(concat_heads(attn v))`.
 *
 * @module
 */
import { empty, fmtShape, reshapeOwned, type Tensor, tidy } from "../core/tensor.ts";
import { stridedGatherRaw, stridedScatterRaw, type StridedView } from "./layout.ts";
import { record } from "../core/autograd.ts";
import { GpuError } from "../core/device.ts";
import { scale, zeros } from "./elementwise.ts";
import { linear, matmul } from "./matmul.ts";
import { softmax, softmaxRef } from "./softmax.ts";

/** The q, k and v views (`[B, H, N, Dh]`) of a packed `qkv [B, N, 3C]`. */
function qkvViews(b: number, n: number, c: number, heads: number): StridedView[] {
  const dh = c / heads;
  const strides = [n * 3 * c, dh, 3 * c, 1];
  return [0, 1, 2].map((s) => ({ shape: [b, heads, n, dh], strides, offset: s * c }));
}

/**
 * Splits a packed `qkv [B, N, 3C]` (timm layout) into q, k, v, each `[B, H, N, Dh]`
 * contiguous, with autograd (the backward scatters the three gradients back into one).
 */
export function splitHeads(qkv: Tensor, numHeads: number): [Tensor, Tensor, Tensor] {
  if (qkv.shape.length !== 3 || qkv.shape[2] % (3 * numHeads) !== 0) {
    throw new GpuError(
      `split_heads: qkv must be [B, N, 3C] with C divisible by ${numHeads} heads, got ${
        fmtShape(qkv.shape)
      }`,
    );
  }
  const [b, n, c3] = qkv.shape;
  const views = qkvViews(b, n, c3 / 3, numHeads);
  const outs = views.map((v) => stridedGatherRaw(qkv, v)) as [Tensor, Tensor, Tensor];
  record("split_heads", [qkv], outs, [], (grads) => {
    // The three views tile qkv exactly, so zero-filling is needed only for a missing gradient.
    const full = grads.every((g) => g !== null);
    const dqkv = full ? empty(qkv.shape, "f32", "split_heads_grad") : zeros(qkv.shape);
    grads.forEach((g, i) => {
      if (g) stridedScatterRaw(g, dqkv, views[i]);
    });
    return [dqkv];
  });
  return outs;
}

/** Merges heads `[B, H, N, Dh]` into `[B, N, H*Dh]` (head-major channels), with autograd. */
export function mergeHeads(o: Tensor): Tensor {
  if (o.shape.length !== 4) {
    throw new GpuError(`merge_heads: expected [B, H, N, Dh], got ${fmtShape(o.shape)}`);
  }
  const [b, h, n, dh] = o.shape;
  const view = { shape: [b, n, h, dh], strides: [h * n * dh, dh, n * dh, 1], offset: 0 };
  const y = reshapeOwned(stridedGatherRaw(o, view), [b, n, h * dh]);
  record("merge_heads", [o], [y], [], ([g]) => {
    if (!g) return [null];
    const dO = empty(o.shape, "f32", "merge_heads_grad");
    stridedScatterRaw(g, dO, view);
    return [dO];
  });
  return y;
}

/** Output of {@link mhsa}. */
export interface MhsaResult {
  /** `[B, N, C]` attention output after the projection. */
  y: Tensor;
  /** `[B, H, N, N]` attention probabilities. */
  attn: Tensor;
}

/**
 * Multi-head self-attention of `x [B, N, C]` (timm / DINOv2 `Attention`): `qkvW [3C, C]`,
 * `qkvB [3C]` (or null), `projW [C, C]`, `projB [C]` (or null). Differentiable in every input.
 */
export function mhsa(
  x: Tensor,
  qkvW: Tensor,
  qkvB: Tensor | null,
  projW: Tensor,
  projB: Tensor | null,
  numHeads: number,
): MhsaResult {
  const op = "mhsa";
  if (x.shape.length !== 3) {
    throw new GpuError(`${op}: x must be [B, N, C], got ${fmtShape(x.shape)}`);
  }
  const c = x.shape[2];
  if (!Number.isInteger(numHeads) || numHeads < 1 || c % numHeads !== 0) {
    throw new GpuError(`${op}: ${c} channels do not split into ${numHeads} heads`);
  }
  const bad = (t: Tensor | null, shape: number[]) =>
    t !== null && (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]));
  if (
    bad(qkvW, [3 * c, c]) || bad(qkvB, [3 * c]) || bad(projW, [c, c]) || bad(projB, [c])
  ) {
    throw new GpuError(
      `${op}: for x ${fmtShape(x.shape)} expected qkv.weight [${3 * c}, ${c}], qkv.bias [${
        3 * c
      }], proj.weight [${c}, ${c}], proj.bias [${c}]; got ${fmtShape(qkvW.shape)}, ${
        qkvB ? fmtShape(qkvB.shape) : "null"
      }, ${fmtShape(projW.shape)}, ${projB ? fmtShape(projB.shape) : "null"}`,
    );
  }
  const dh = c / numHeads;
  return tidy(() => {
    const qkv = linear(x, qkvW, qkvB);
    const [q, k, v] = splitHeads(qkv, numHeads);
    const scores = matmul(scale(q, dh ** -0.5), k, false, true);
    const attn = softmax(scores, -1);
    const merged = mergeHeads(matmul(attn, v));
    return { y: linear(merged, projW, projB), attn };
  });
}

// ---- plain-TS references (tests) ----

/** Result of {@link mhsaRef}. */
export interface MhsaRefResult {
  /** `[B, N, C]` output. */
  y: Float64Array;
  /** `[B, H, N, N]` attention probabilities. */
  attn: Float64Array;
}

/** Reference multi-head self-attention on host data (float64), same layout as {@link mhsa}. */
export function mhsaRef(
  x: ArrayLike<number>,
  b: number,
  n: number,
  c: number,
  qkvW: ArrayLike<number>,
  qkvB: ArrayLike<number> | null,
  projW: ArrayLike<number>,
  projB: ArrayLike<number> | null,
  heads: number,
): MhsaRefResult {
  const dh = c / heads;
  const lin = (
    inp: ArrayLike<number>,
    w: ArrayLike<number>,
    bias: ArrayLike<number> | null,
    out: number,
  ) => {
    const rows = inp.length / c;
    const y = new Float64Array(rows * out);
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < out; o++) {
        let s = bias ? bias[o] : 0;
        for (let i = 0; i < c; i++) s += inp[r * c + i] * w[o * c + i];
        y[r * out + o] = s;
      }
    }
    return y;
  };
  const qkv = lin(x, qkvW, qkvB, 3 * c);
  const at = (bi: number, t: number, s: number, h: number, d: number) =>
    qkv[(bi * n + t) * 3 * c + s * c + h * dh + d];
  const scores = new Float64Array(b * heads * n * n);
  const merged = new Float64Array(b * n * c);
  for (let bi = 0; bi < b; bi++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let d = 0; d < dh; d++) s += at(bi, i, 0, h, d) * at(bi, j, 1, h, d);
          scores[((bi * heads + h) * n + i) * n + j] = s / Math.sqrt(dh);
        }
      }
    }
  }
  const attn = softmaxRef(scores, [b * heads * n, n]);
  for (let bi = 0; bi < b; bi++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < n; i++) {
        for (let d = 0; d < dh; d++) {
          let s = 0;
          for (let j = 0; j < n; j++) {
            s += attn[((bi * heads + h) * n + i) * n + j] * at(bi, j, 2, h, d);
          }
          merged[(bi * n + i) * c + h * dh + d] = s;
        }
      }
    }
  }
  return { y: lin(merged, projW, projB, c), attn };
}
