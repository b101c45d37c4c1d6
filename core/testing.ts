/**
 * Test helpers: the refdata tolerance rule, and a finite-difference gradient check so a new
 * op's test is a line or two.
 *
 * @module
 */
import { type Tensor, tensor, tidy } from "./tensor.ts";
import { backward, noGrad } from "./autograd.ts";
import { randomData } from "./random.ts";

export { randomData };

/** Result of a closeness comparison. */
export interface CloseReport {
  /** True when every element is within tolerance. */
  ok: boolean;
  /** Largest |got-ref| / allowed over the elements (<= 1 passes). */
  worstRatio: number;
  /** Index of the worst element. */
  worstIndex: number;
  /** Human-readable summary. */
  message: string;
}

/**
 * Refdata rule: `|got_i - ref_i| <= rtol·|ref_i| + atol·S`, `S = max|ref|` (1 if all zero).
 * NaN anywhere fails.
 */
export function compareClose(
  got: ArrayLike<number>,
  ref: ArrayLike<number>,
  rtol: number,
  atol: number,
): CloseReport {
  if (got.length !== ref.length) {
    return {
      ok: false,
      worstRatio: Infinity,
      worstIndex: -1,
      message: `length ${got.length} != reference length ${ref.length}`,
    };
  }
  let s = 0;
  for (let i = 0; i < ref.length; i++) s = Math.max(s, Math.abs(ref[i]));
  if (s === 0) s = 1;
  let worst = 0, wi = 0;
  for (let i = 0; i < ref.length; i++) {
    const allowed = rtol * Math.abs(ref[i]) + atol * s;
    const err = Math.abs(got[i] - ref[i]);
    const r = Number.isNaN(err) ? Infinity : err / allowed;
    if (r > worst) {
      worst = r;
      wi = i;
    }
  }
  return {
    ok: worst <= 1,
    worstRatio: worst,
    worstIndex: wi,
    message: `worst ratio ${worst.toExponential(3)} at [${wi}]: got ${got[wi]}, ref ${ref[wi]}`,
  };
}

/** Throws unless `got` is close to `ref` by the refdata rule. */
export function assertAllClose(
  got: ArrayLike<number>,
  ref: ArrayLike<number>,
  rtol = 1e-5,
  atol = 1e-6,
  what = "value",
): void {
  const r = compareClose(got, ref, rtol, atol);
  if (!r.ok) throw new Error(`${what}: not close (rtol ${rtol}, atol ${atol}): ${r.message}`);
}

/**
 * Checks the analytic gradients of `fn` (any ops, any output) against central differences of
 * `L = sum(fn(...) * w)` for a fixed random `w`. Inputs are given as host arrays with shapes;
 * fp32 differences need a loose tolerance (default rtol 2e-2, atol 2e-3 of the largest).
 */
export async function gradcheck(
  fn: (...xs: Tensor[]) => Tensor,
  inputs: { data: Float32Array; shape: number[] }[],
  opts: { eps?: number; rtol?: number; atol?: number; seed?: number; check?: number[] } = {},
): Promise<void> {
  const eps = opts.eps ?? 1e-2;
  const check = opts.check ?? inputs.map((_, i) => i);
  const lossOf = async (datas: Float32Array[]): Promise<number> => {
    const out = tidy(() =>
      noGrad(() => {
        const xs = datas.map((d, i) => tensor(d, inputs[i].shape));
        return fn(...xs);
      })
    );
    const v = await out.data();
    out.dispose();
    const w = randomData(v.length, opts.seed ?? 7);
    let s = 0;
    for (let i = 0; i < v.length; i++) s += v[i] * w[i];
    return s;
  };
  const xs = inputs.map((x) => tensor(x.data, x.shape).requireGrad());
  const out = fn(...xs);
  const w = tensor(randomData(out.size, opts.seed ?? 7), out.shape);
  backward(out, w);
  out.dispose();
  w.dispose();
  const datas = inputs.map((x) => Float32Array.from(x.data));
  for (const i of check) {
    const analytic = await xs[i].grad!.data();
    const numeric = new Float64Array(datas[i].length);
    for (let j = 0; j < datas[i].length; j++) {
      const orig = datas[i][j];
      datas[i][j] = orig + eps;
      const lp = await lossOf(datas);
      datas[i][j] = orig - eps;
      const lm = await lossOf(datas);
      datas[i][j] = orig;
      numeric[j] = (lp - lm) / (2 * eps);
    }
    assertAllClose(
      analytic,
      numeric,
      opts.rtol ?? 2e-2,
      opts.atol ?? 2e-3,
      `gradient of input ${i}`,
    );
  }
  for (const x of xs) x.dispose();
}
