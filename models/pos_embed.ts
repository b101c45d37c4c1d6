/**
 * Position-embedding resampling as a linear map: PyTorch's bicubic `F.interpolate` of a square
 * `[n, n]` grid of embeddings to `[gh, gw]` is separable, so it is `out = Mh · P · Mw^T` with
 * per-axis interpolation matrices. The matrices are built on the host in float64 (exactly the
 * formulas of PyTorch's kernels, refdata README §8.4) and applied with `matmul`, so gradients
 * reach the table through autograd.
 *
 * Modes:
 * - `aa`: `F.interpolate(size=(gh, gw), mode="bicubic", antialias=True, align_corners=False)`
 *   (Keys a = -0.5, support 2·scale when downsampling, border taps dropped and renormalized):
 *   DINOv2 with registers, and timm's `resample_abs_pos_embed`.
 * - `offset`: `F.interpolate(scale_factor=((gh + 0.1)/n, (gw + 0.1)/n), mode="bicubic",
 *   align_corners=False)` (A = -0.75, taps clamped at the borders, source scale n/(g + 0.1)):
 *   DINOv2 without registers (`interpolate_offset=0.1`).
 *
 * @module
 */
import { fmtShape, keep, type Tensor, tensor, tidy } from "../core/tensor.ts";
import { concat, matmul, reshapeOp, slice } from "../kernels/mod.ts";

/** How a position table is resampled (see the module docs). */
export type PosEmbedMode = "aa" | "offset";

/** Keys cubic for |x| <= 1 (PyTorch `cubic_convolution1`). */
function cubic1(x: number, a: number): number {
  return ((a + 2) * x - (a + 3)) * x * x + 1;
}

/** Keys cubic for 1 < |x| < 2 (PyTorch `cubic_convolution2`). */
function cubic2(x: number, a: number): number {
  return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
}

/** PyTorch's antialiasing bicubic filter (a = -0.5). */
function aaFilter(x: number): number {
  const v = Math.abs(x);
  if (v < 1) return cubic1(v, -0.5);
  if (v < 2) return cubic2(v, -0.5);
  return 0;
}

/**
 * The `[nOut, nIn]` row-major matrix (float64) of PyTorch's antialiased bicubic resize of one
 * axis (`_upsample_bicubic2d_aa`, `align_corners=False`, size given).
 */
export function aaMatrix(nIn: number, nOut: number): Float64Array {
  const m = new Float64Array(nOut * nIn);
  const scale = nIn / nOut;
  const support = scale >= 1 ? 2 * scale : 2;
  const invscale = scale >= 1 ? 1 / scale : 1;
  for (let i = 0; i < nOut; i++) {
    const center = scale * (i + 0.5);
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), nIn);
    let total = 0;
    const w: number[] = [];
    for (let j = xmin; j < xmax; j++) {
      const v = aaFilter((j - center + 0.5) * invscale);
      w.push(v);
      total += v;
    }
    for (let j = xmin; j < xmax; j++) {
      m[i * nIn + j] = total !== 0 ? w[j - xmin] / total : w[j - xmin];
    }
  }
  return m;
}

/**
 * The `[nOut, nIn]` matrix (float64) of PyTorch's plain bicubic resize of one axis
 * (`upsample_bicubic2d`, A = -0.75, `align_corners=False`, taps clamped to the border) with
 * source scale `srcScale` (= 1 / scale_factor when a factor is given, else nIn / nOut).
 */
export function bicubicMatrix(nIn: number, nOut: number, srcScale: number): Float64Array {
  const m = new Float64Array(nOut * nIn);
  const A = -0.75;
  for (let i = 0; i < nOut; i++) {
    const src = srcScale * (i + 0.5) - 0.5;
    const i0 = Math.floor(src);
    const t = src - i0;
    const w = [cubic2(t + 1, A), cubic1(t, A), cubic1(1 - t, A), cubic2(2 - t, A)];
    for (let k = 0; k < 4; k++) {
      const j = Math.min(Math.max(i0 - 1 + k, 0), nIn - 1);
      m[i * nIn + j] += w[k];
    }
  }
  return m;
}

/** The DINOv2 `interpolate_offset` of the `offset` mode. */
export const DINOV2_INTERPOLATE_OFFSET = 0.1;

const hostCache = new Map<string, Float64Array>();

/**
 * The float64 matrix resizing one axis of an `n`-long grid to `g` in `mode` (cached per
 * `(mode, n, g)`). For `offset` the source scale is `n / (g + 0.1)` as in DINOv2.
 */
export function posEmbedAxisMatrix(mode: PosEmbedMode, n: number, g: number): Float64Array {
  const key = `${mode}:${n}:${g}`;
  let m = hostCache.get(key);
  if (!m) {
    if (mode === "aa") m = aaMatrix(n, g);
    else if (mode === "offset") {
      // Output size floor(n * s) with s = (g + 0.1) / n is g; coordinates use 1 / s.
      const s = (g + DINOV2_INTERPOLATE_OFFSET) / n;
      m = bicubicMatrix(n, g, 1 / s);
    } else throw new Error(`pos_embed: unknown interpolation mode '${mode}' (aa or offset)`);
    hostCache.set(key, m);
  }
  return m;
}

/**
 * GPU copies of the per-axis matrices, cached per `(mode, grid, gh, gw)`; owned by a model
 * (dispose them with the model).
 */
export class PosEmbedMatrices {
  #cache = new Map<string, [Tensor, Tensor]>();

  /** `[Mh [gh, n], Mw [gw, n]]` as f32 tensors. */
  get(mode: PosEmbedMode, n: number, gh: number, gw: number): [Tensor, Tensor] {
    const key = `${mode}:${n}:${gh}x${gw}`;
    let v = this.#cache.get(key);
    if (!v) {
      v = [
        keep(tensor(posEmbedAxisMatrix(mode, n, gh), [gh, n])),
        keep(tensor(posEmbedAxisMatrix(mode, n, gw), [gw, n])),
      ];
      this.#cache.set(key, v);
    }
    return v;
  }

  /** Frees the cached tensors. */
  dispose(): void {
    for (const [a, b] of this.#cache.values()) {
      a.dispose();
      b.dispose();
    }
    this.#cache.clear();
  }
}

/** Result of {@link splitPosEmbed}: the cls row and the resampled patch rows. */
export interface PosEmbedParts {
  /** `[1, 1, C]` (the table's row 0, unchanged). */
  cls: Tensor;
  /** `[1, gh*gw, C]`, row-major over the patch grid. */
  patches: Tensor;
}

/**
 * Splits a `[1, 1 + n*n, C]` table into its cls row and its patch rows resampled to
 * `[gh, gw]` (row-major). The table is returned unresampled when `gh = gw = n` (DINOv2's
 * shortcut; both modes are the identity there). Differentiable in `posEmbed`.
 */
export function splitPosEmbed(
  posEmbed: Tensor,
  gh: number,
  gw: number,
  mode: PosEmbedMode,
  mats: PosEmbedMatrices,
): PosEmbedParts {
  const [one, rows, c] = posEmbed.shape;
  const n = Math.round(Math.sqrt(rows - 1));
  if (posEmbed.shape.length !== 3 || one !== 1 || n * n !== rows - 1) {
    throw new Error(
      `pos_embed: expected [1, 1 + n*n, C], got ${fmtShape(posEmbed.shape)}`,
    );
  }
  const [mh, mw] = gh === n && gw === n ? [null, null] : mats.get(mode, n, gh, gw);
  return tidy(() => {
    const cls = slice(posEmbed, 1, 0, 1);
    const patchRows = slice(posEmbed, 1, 1, rows);
    if (!mh || !mw) return { cls, patches: patchRows };
    // [n, n*C] -> Mh · P -> [gh, n*C] = [gh, n, C]; then Mw (broadcast over gh) -> [gh, gw, C].
    const p = reshapeOp(patchRows, [n, n * c]);
    const t1 = reshapeOp(matmul(mh, p), [gh, n, c]);
    const out = matmul(mw, t1);
    return { cls, patches: reshapeOp(out, [1, gh * gw, c]) };
  });
}

/**
 * DINOv2 `interpolate_pos_encoding` on a `[1, 1 + n*n, C]` table for a `gh x gw` patch grid:
 * `[1, 1 + gh*gw, C]` (a new tensor), row 0 unchanged. Differentiable in `posEmbed`.
 */
export function interpolatePosEmbed(
  posEmbed: Tensor,
  gh: number,
  gw: number,
  mode: PosEmbedMode,
  mats: PosEmbedMatrices,
): Tensor {
  return tidy(() => {
    const { cls, patches } = splitPosEmbed(posEmbed, gh, gw, mode, mats);
    return concat([cls, patches], 1);
  });
}

/**
 * Plain-TS reference (float64, direct separable sums) of {@link interpolatePosEmbed} on host
 * data: `pos [1 + n*n, C]` -> `[1 + gh*gw, C]`.
 */
export function interpolatePosEmbedRef(
  pos: ArrayLike<number>,
  c: number,
  gh: number,
  gw: number,
  mode: PosEmbedMode,
): Float64Array {
  const n = Math.round(Math.sqrt(pos.length / c - 1));
  const out = new Float64Array((1 + gh * gw) * c);
  for (let k = 0; k < c; k++) out[k] = pos[k];
  if (gh === n && gw === n) {
    for (let i = c; i < out.length; i++) out[i] = pos[i];
    return out;
  }
  const mh = posEmbedAxisMatrix(mode, n, gh), mw = posEmbedAxisMatrix(mode, n, gw);
  for (let i = 0; i < gh; i++) {
    for (let j = 0; j < gw; j++) {
      for (let a = 0; a < n; a++) {
        const wa = mh[i * n + a];
        if (wa === 0) continue;
        for (let b = 0; b < n; b++) {
          const w = wa * mw[j * n + b];
          if (w === 0) continue;
          const src = (1 + a * n + b) * c, dst = (1 + i * gw + j) * c;
          for (let k = 0; k < c; k++) out[dst + k] += w * pos[src + k];
        }
      }
    }
  }
  return out;
}
