/**
 * SimCLR's NT-Xent loss (lightly `NTXentLoss`, no memory bank, one process) as autograd ops:
 * both views are L2-normalized, every sample of both views is a negative for every other,
 * the positive of a sample is the same image in the other view, and the loss is the mean
 * cross-entropy over the 2B rows. The per-row cross-entropy over the similarity matrix with
 * its diagonal excluded is one fused kernel (`ntxent.wgsl`), forward and backward.
 *
 * @module
 */
import ntxentSrc from "./ntxent.wgsl" with { type: "text" };
import ntxentGradSrc from "./ntxent_grad.wgsl" with { type: "text" };
import { empty, fmtShape, type Tensor, tidy } from "../../core/tensor.ts";
import { noGrad, record } from "../../core/autograd.ts";
import { GpuError } from "../../core/device.ts";
import { f32, grid, kernel } from "../../kernels/kernel.ts";
import { concat, slice } from "../../kernels/layout.ts";
import { matmul, reshapeOp } from "../../kernels/matmul.ts";
import { l2Normalize } from "../../kernels/normalize.ts";
import { mean } from "../../kernels/reduce.ts";

const ROW_WG = 64;
const WG = 256;

/** Options of {@link ntxent}. */
export interface NTXentOptions {
  /** Softmax temperature (LightlyTrain's SimCLR uses 0.1, lightly's default is 0.5). */
  temperature?: number;
}

/** What {@link ntxent} returns. */
export interface NTXentResult {
  /** Mean cross-entropy over the 2B rows (scalar, differentiable). */
  loss: Tensor;
  /** Mean over the B rows anchored in view 0 (scalar, informational, no gradient). */
  lossView0: Tensor;
  /** Mean over the B rows anchored in view 1 (scalar, informational, no gradient). */
  lossView1: Tensor;
}

/**
 * Per-row NT-Xent cross-entropy of a `[2B, 2B]` similarity matrix `sim` (rows and columns
 * ordered view 0 then view 1): row i has logits `sim[i, j] / T` for `j != i` and its positive
 * at column `(i + B) mod 2B`. Returns `[2B]`, with autograd to `sim`.
 */
export function ntxentRows(sim: Tensor, temperature: number): Tensor {
  const op = "ntxent_rows";
  const n = sim.shape[0];
  if (sim.shape.length !== 2 || sim.shape[1] !== n || n % 2 !== 0 || n < 2) {
    throw new GpuError(`${op}: similarities must be [2B, 2B], got ${fmtShape(sim.shape)}`);
  }
  if (!(temperature > 0)) throw new GpuError(`${op}: temperature must be > 0, got ${temperature}`);
  const params = [n, n / 2, f32(1 / temperature)];
  const loss = empty([n], "f32", op);
  const lse = empty([n], "f32", op);
  kernel({ name: "simclr_ntxent", code: ntxentSrc, constants: { WG: ROW_WG } })
    .dispatch([sim, loss, lse], params, grid(n));
  record(op, [sim], [loss], [sim, lse], ([g], [s, l]) => {
    if (!g) return [null];
    const ds = empty(s.shape, "f32", "ntxent_rows_grad");
    kernel({ name: "simclr_ntxent_grad", code: ntxentGradSrc, constants: { WG } })
      .dispatch([s, l, g, ds], params, grid(Math.ceil(s.size / WG)));
    return [ds];
  });
  lse.dispose();
  return loss;
}

/**
 * NT-Xent of two views' projections `out0`, `out1` (`[B, D]` each, row i of both from the same
 * image): `z = normalize(out, dim=1)`, logits `z_i·z_j / T` over all 2B−1 other samples,
 * target the other view of the same image, mean cross-entropy over both directions.
 */
export function ntxent(out0: Tensor, out1: Tensor, opts: NTXentOptions = {}): NTXentResult {
  const t = opts.temperature ?? 0.1;
  if (
    out0.shape.length !== 2 || out1.shape.length !== 2 ||
    out0.shape.some((d, i) => d !== out1.shape[i])
  ) {
    throw new GpuError(
      `ntxent: views must both be [B, D], got ${fmtShape(out0.shape)} and ${fmtShape(out1.shape)}`,
    );
  }
  const b = out0.shape[0];
  return tidy(() => {
    const z = concat([l2Normalize(out0, 1), l2Normalize(out1, 1)], 0);
    const rows = ntxentRows(matmul(z, z, false, true), t);
    const perView = mean(reshapeOp(rows, [2, b]), 1);
    const loss = mean(perView);
    const [lossView0, lossView1] = noGrad(() => [
      slice(perView, 0, 0, 1).reshape([]),
      slice(perView, 0, 1, 2).reshape([]),
    ]);
    return { loss, lossView0, lossView1 };
  });
}

// ---- plain-TS reference (tests) ----

/** Reference NT-Xent on host data `[B, D]` (float64): `[loss, lossView0, lossView1]`. */
export function ntxentRef(
  out0: ArrayLike<number>,
  out1: ArrayLike<number>,
  b: number,
  d: number,
  temperature = 0.1,
): [number, number, number] {
  const z: number[][] = [];
  for (const src of [out0, out1]) {
    for (let i = 0; i < b; i++) {
      const row = Array.from({ length: d }, (_, k) => src[i * d + k]);
      const n = Math.max(Math.hypot(...row), 1e-12);
      z.push(row.map((v) => v / n));
    }
  }
  const per: number[] = [];
  for (let i = 0; i < 2 * b; i++) {
    const logits: number[] = [];
    for (let j = 0; j < 2 * b; j++) {
      if (j !== i) logits.push(z[i].reduce((s, v, k) => s + v * z[j][k], 0) / temperature);
    }
    const pos = z[i].reduce((s, v, k) => s + v * z[(i + b) % (2 * b)][k], 0) / temperature;
    const m = Math.max(...logits);
    const lse = m + Math.log(logits.reduce((s, v) => s + Math.exp(v - m), 0));
    per.push(lse - pos);
  }
  const avg = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  return [avg(per), avg(per.slice(0, b)), avg(per.slice(b))];
}
