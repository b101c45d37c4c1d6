/**
 * Test helpers: the refdata tolerance rule, a finite-difference gradient check so a new op's
 * test is a line or two, and its counterpart for every parameter of a model (with the
 * parameter randomizers that keep such a check away from kinks and degenerate values).
 *
 * @module
 */
import { type Tensor, tensor, tidy } from "./tensor.ts";
import { backward, noGrad } from "./autograd.ts";
import { upload } from "./engine.ts";
import { randomData, Rng } from "./random.ts";
import type { Module } from "../models/module.ts";

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

/** Options of {@link gradcheckParameters}. */
export interface ParamGradcheckOptions {
  /** Relative tolerance on the numeric gradient (default 2e-2). */
  rtol?: number;
  /** Absolute tolerance, a fraction of the tensor's largest analytic gradient (default 2e-2). */
  atol?: number;
  /** Elements checked per tensor: the largest analytic gradient plus random others (default 2). */
  perTensor?: number;
  /** Central-difference steps tried in order until one agrees (default 1e-3, 3e-4, 1e-4). */
  steps?: number[];
  /** Seed of the output weights `w` (default 7). */
  seed?: number;
  /** Seed that picks the random elements (default `seed`). */
  pickSeed?: number;
  /** Test hook: alters the analytic gradient of a tensor (to show a wrong one is caught). */
  tamper?: (name: string, grad: Float32Array) => void;
}

/**
 * Finite-difference check of d(sum(fn() * w))/dθ for every parameter tensor θ of `module`, at
 * `perTensor` elements of each (the largest analytic gradient and random others): central
 * differences must agree with the analytic gradient within rtol·|numeric| + atol·max|analytic|
 * (max over the tensor) for one of `steps`. Several steps because a random ReLU network is
 * piecewise smooth with kinks dense enough that one step alone crosses some; a wrong gradient
 * fails at every step. An all-zero or missing gradient fails. Throws naming the tensor and
 * element; returns the worst ratio of error to allowed error. Clears the gradients before and
 * after.
 */
export async function gradcheckParameters(
  module: Module,
  fn: () => Tensor,
  opts: ParamGradcheckOptions = {},
): Promise<number> {
  const rtol = opts.rtol ?? 2e-2, atol = opts.atol ?? 2e-2;
  const steps = opts.steps ?? [1e-3, 3e-4, 1e-4];
  const seed = opts.seed ?? 7;
  const params = module.namedParameters();
  const clearGrads = () => {
    for (const [, p] of params) {
      p.grad?.dispose();
      p.grad = null;
    }
  };
  clearGrads();
  const out = tidy(fn);
  const wHost = randomData(out.size, seed);
  const w = tensor(wHost, out.shape);
  backward(out, w);
  out.dispose();
  w.dispose();
  const loss = async () => {
    const o = noGrad(() => tidy(fn));
    const v = await o.data();
    o.dispose();
    let s = 0;
    for (let i = 0; i < v.length; i++) s += v[i] * wHost[i];
    return s;
  };
  const rng = new Rng(opts.pickSeed ?? seed);
  let worst = 0;
  for (const [name, p] of params) {
    if (!p.grad) throw new Error(`no gradient reached ${name}`);
    const analytic = (await p.grad.data()) as Float32Array;
    opts.tamper?.(name, analytic);
    const host = (await p.data()) as Float32Array;
    let scale = 0, top = 0;
    for (let i = 0; i < analytic.length; i++) {
      if (Math.abs(analytic[i]) > scale) [scale, top] = [Math.abs(analytic[i]), i];
    }
    if (!(scale > 0)) throw new Error(`gradient of ${name} is all zero`);
    const idx = new Set([top]);
    while (idx.size < Math.min(opts.perTensor ?? 2, host.length)) {
      idx.add(Math.floor(rng.next() * host.length));
    }
    for (const i of idx) {
      let best = Infinity;
      const tried: number[] = [];
      for (const eps of steps) {
        const orig = host[i];
        host[i] = orig + eps;
        upload(p.buffer, host);
        const lp = await loss();
        host[i] = orig - eps;
        upload(p.buffer, host);
        const lm = await loss();
        host[i] = orig;
        upload(p.buffer, host);
        const numeric = (lp - lm) / (2 * eps);
        tried.push(numeric);
        const allowed = rtol * Math.abs(numeric) + atol * scale;
        best = Math.min(best, Math.abs(analytic[i] - numeric) / allowed);
        if (best <= 1) break;
      }
      worst = Math.max(worst, best);
      if (!(best <= 1)) {
        throw new Error(
          `${name}[${i}]: analytic ${analytic[i]}, numeric ${
            tried.join(", ")
          } (max |grad| ${scale})`,
        );
      }
    }
  }
  clearGrads();
  return worst;
}

/**
 * Gives every BatchNorm (names `bn`, `bn1`..., `downsample.1`) random affine parameters and
 * running statistics, so that no ReLU input of a gradcheck sits exactly on its kink (an
 * all-zero receptive field gives a conv output of exactly 0, which BN with weight 1 / bias 0 /
 * stats 0, 1 would keep at 0).
 */
export function randomizeBatchNorm(module: Module, seed: number): void {
  const rng = new Rng(seed);
  for (const [name, t] of module.stateEntries()) {
    const kind = /(?:bn\d?|downsample\.1)\.(weight|bias|running_mean|running_var)$/.exec(name)?.[1];
    if (!kind || "value" in t) continue;
    const d = new Float32Array(t.size);
    for (let i = 0; i < d.length; i++) {
      d[i] = kind === "bias"
        ? 0.2 * rng.normal()
        : kind === "running_mean"
        ? 0.1 * rng.normal()
        : rng.uniform(0.5, 1.5);
    }
    upload(t.buffer, d);
  }
}

/**
 * Overwrites every parameter with values of O(0.3) (norm weights and layer-scale `gamma`
 * around 1) for gradchecks; tensor k takes seed `seed + k`.
 */
export function randomizeParameters(module: Module, seed: number): void {
  let s = seed;
  for (const [name, p] of module.namedParameters()) {
    const d = randomData(p.size, s++).map((v) => 0.3 * v);
    if (/norm\d?\.weight$/.test(name) || name.endsWith(".gamma")) d.forEach((v, i) => d[i] = 1 + v);
    upload(p.buffer, d);
  }
}
