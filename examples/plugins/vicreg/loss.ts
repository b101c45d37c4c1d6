/**
 * The VICReg loss (Bardes, Ponce, LeCun, ICLR 2022; LightlySSL `VICRegLoss`) as autograd ops
 * from Sinter's public API: for two batches of embeddings `z_a, z_b [B, D]`,
 *
 * - invariance `mean((z_a − z_b)²)`;
 * - variance `½·Σ_{z∈{a,b}} mean(relu(1 − sqrt(var₀(z) + ε)))` (unbiased variance per dim);
 * - covariance `Σ_{z∈{a,b}} Σ_{i≠j} C(z)²_ij / D` with `C = z̄ᵀz̄ / (B−1)`, `z̄ = z − mean₀(z)`;
 * - `loss = λ·invariance + μ·variance + ν·covariance`.
 *
 * @module
 */
import {
  add,
  affine,
  fmtShape,
  matmul,
  mean,
  relu,
  scale,
  sqrt,
  square,
  sub,
  sum,
  type Tensor,
  tidy,
} from "../../../mod.ts";

/** Weights of the three terms (LightlySSL / paper defaults 25, 25, 1 and ε = 1e-4). */
export interface VICRegOptions {
  /** Invariance weight λ. */
  lambdaParam?: number;
  /** Variance weight μ. */
  muParam?: number;
  /** Covariance weight ν. */
  nuParam?: number;
  /** ε under the square root of the variance. */
  eps?: number;
}

/** The loss and its three terms (scalars). */
export interface VICRegResult {
  /** `λ·inv + μ·var + ν·cov`. */
  loss: Tensor;
  /** Invariance term. */
  invariance: Tensor;
  /** Variance term. */
  variance: Tensor;
  /** Covariance term. */
  covariance: Tensor;
}

/** Variance hinge and off-diagonal covariance of one batch `[B, D]`. */
function varCov(z: Tensor, eps: number): { variance: Tensor; covariance: Tensor } {
  const [b, d] = z.shape;
  const zc = sub(z, mean(z, 0, true));
  const v = scale(sum(square(zc), 0), 1 / (b - 1));
  const variance = mean(relu(affine(sqrt(affine(v, 1, eps)), -1, 1)));
  const cov = scale(matmul(zc, zc, true, false), 1 / (b - 1));
  // Σ_{i≠j} C_ij² = Σ C² − Σ diag(C)², and diag(C) is the variance.
  const covariance = scale(sub(sum(square(cov)), sum(square(v))), 1 / d);
  return { variance, covariance };
}

/** The VICReg loss of two views' embeddings (see the module doc). */
export function vicregLoss(za: Tensor, zb: Tensor, opts: VICRegOptions = {}): VICRegResult {
  const a = za.shape, b = zb.shape;
  if (a.length !== 2 || b.length !== 2 || a[0] !== b[0] || a[1] !== b[1] || a[0] < 2) {
    throw new Error(
      `vicreg_loss: need two [B, D] batches with B >= 2, got ${fmtShape(a)} and ${fmtShape(b)}`,
    );
  }
  const eps = opts.eps ?? 1e-4;
  return tidy(() => {
    const invariance = mean(square(sub(za, zb)));
    const va = varCov(za, eps), vb = varCov(zb, eps);
    const variance = scale(add(va.variance, vb.variance), 0.5);
    const covariance = add(va.covariance, vb.covariance);
    const loss = add(
      add(scale(invariance, opts.lambdaParam ?? 25), scale(variance, opts.muParam ?? 25)),
      scale(covariance, opts.nuParam ?? 1),
    );
    return { loss, invariance, variance, covariance };
  });
}

/** Plain-TS reference of {@link vicregLoss} (float64) for host rows `[B, D]`. */
export function vicregLossRef(
  za: ArrayLike<number>,
  zb: ArrayLike<number>,
  b: number,
  d: number,
  opts: VICRegOptions = {},
): { loss: number; invariance: number; variance: number; covariance: number } {
  const eps = opts.eps ?? 1e-4;
  let invariance = 0;
  for (let i = 0; i < b * d; i++) invariance += (za[i] - zb[i]) ** 2;
  invariance /= b * d;
  const terms = (z: ArrayLike<number>) => {
    const mu = Array.from({ length: d }, (_, j) => {
      let s = 0;
      for (let i = 0; i < b; i++) s += z[i * d + j];
      return s / b;
    });
    const c = (i: number, j: number) => z[i * d + j] - mu[j];
    let v = 0, cv = 0;
    for (let j = 0; j < d; j++) {
      for (let k = 0; k < d; k++) {
        let s = 0;
        for (let i = 0; i < b; i++) s += c(i, j) * c(i, k);
        s /= b - 1;
        if (j === k) v += Math.max(0, 1 - Math.sqrt(s + eps));
        else cv += s * s;
      }
    }
    return { variance: v / d, covariance: cv / d };
  };
  const ta = terms(za), tb = terms(zb);
  const variance = 0.5 * (ta.variance + tb.variance);
  const covariance = ta.covariance + tb.covariance;
  const loss = (opts.lambdaParam ?? 25) * invariance + (opts.muParam ?? 25) * variance +
    (opts.nuParam ?? 1) * covariance;
  return { loss, invariance, variance, covariance };
}
