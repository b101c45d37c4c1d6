// sinter/tinycnn16: names, shapes, input errors and finite-difference gradients of every
// parameter tensor.
import assert from "node:assert/strict";
import { initDevice } from "../core/device.ts";
import { backward, noGrad } from "../core/autograd.ts";
import { upload } from "../core/engine.ts";
import { Rng } from "../core/random.ts";
import { type Tensor, tensor, tidy } from "../core/tensor.ts";
import { randomData } from "../core/testing.ts";
import { mean } from "../kernels/mod.ts";
import type { Module } from "./module.ts";
import { TinyCnn } from "./tinycnn.ts";
import { createModel, listModels } from "./wrapper.ts";

await initDevice();

/**
 * Gives every BatchNorm random affine parameters and running statistics (as the fixture does),
 * so that no ReLU input sits exactly on its kink (an all-zero receptive field gives a conv
 * output of exactly 0, which BN with weight 1 / bias 0 / stats 0, 1 would keep at 0).
 */
function randomizeBatchNorm(m: Module, seed: number): void {
  const rng = new Rng(seed);
  for (const [name, t] of m.stateEntries()) {
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
 * Finite-difference check of d(sum(f() * w))/dθ for every parameter tensor θ of `model`, at
 * `perTensor` elements of each (the largest analytic gradient and random others): central
 * differences must agree with the analytic gradient within rtol·|numeric| + atol·max|analytic|
 * (max over the tensor) for one of the steps 1e-3, 3e-4, 1e-4. Several steps because a random
 * ReLU network is piecewise smooth with kinks dense enough that one step alone crosses some;
 * a wrong gradient fails at every step. Returns the worst ratio of error to allowed error.
 */
async function paramGradcheck(
  model: Module,
  f: () => Tensor,
  opts: {
    rtol?: number;
    atol?: number;
    perTensor?: number;
    seed?: number;
    /** Test hook: alters the analytic gradient of a tensor (to show a wrong one is caught). */
    tamper?: (name: string, grad: Float32Array) => void;
  } = {},
): Promise<number> {
  const rtol = opts.rtol ?? 2e-2, atol = opts.atol ?? 2e-2;
  const params = model.namedParameters();
  for (const [, p] of params) {
    p.grad?.dispose();
    p.grad = null;
  }
  const out = tidy(f);
  const wHost = randomData(out.size, opts.seed ?? 7);
  const w = tensor(wHost, out.shape);
  backward(out, w);
  out.dispose();
  w.dispose();
  const loss = async () => {
    const o = noGrad(() => tidy(f));
    const v = await o.data();
    o.dispose();
    let s = 0;
    for (let i = 0; i < v.length; i++) s += v[i] * wHost[i];
    return s;
  };
  const rng = new Rng(opts.seed ?? 7);
  let worst = 0;
  for (const [name, p] of params) {
    assert.ok(p.grad, `no gradient reached ${name}`);
    const analytic = (await p.grad.data()) as Float32Array;
    opts.tamper?.(name, analytic);
    const host = (await p.data()) as Float32Array;
    let scale = 0, top = 0;
    for (let i = 0; i < analytic.length; i++) {
      if (Math.abs(analytic[i]) > scale) [scale, top] = [Math.abs(analytic[i]), i];
    }
    const idx = new Set([top]);
    while (idx.size < Math.min(opts.perTensor ?? 2, host.length)) {
      idx.add(Math.floor(rng.next() * host.length));
    }
    for (const i of idx) {
      let best = Infinity;
      const tried: number[] = [];
      for (const eps of [1e-3, 3e-4, 1e-4]) {
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
      assert.ok(
        best <= 1,
        `${name}[${i}]: analytic ${analytic[i]}, numeric ${tried.join(", ")} (max |grad| ${scale})`,
      );
    }
  }
  for (const [, p] of params) {
    p.grad?.dispose();
    p.grad = null;
  }
  return worst;
}

Deno.test("tinycnn16: registry, parameter names and shapes, feature shapes, pooling", async () => {
  assert.ok(listModels().some((e) => e.name === "sinter/tinycnn16"));
  const m = createModel("sinter/tinycnn16", { seed: 1 });
  const model = m.getModel();
  try {
    assert.equal(m.featureDim, 128);
    assert.equal(m.inChannels, 3);
    assert.deepEqual(m.architectureInfo, { kind: "convolutional", norm: "batchnorm" });
    const entries = model.stateEntries();
    assert.equal(entries.length, 7 * 6);
    assert.deepEqual(entries.slice(0, 6).map(([k]) => k), [
      "layers.0.conv.weight",
      "layers.0.bn.weight",
      "layers.0.bn.bias",
      "layers.0.bn.running_mean",
      "layers.0.bn.running_var",
      "layers.0.bn.num_batches_tracked",
    ]);
    const shapes = model.namedParameters().filter(([k]) => k.endsWith("conv.weight"))
      .map(([, t]) => [...t.shape]);
    assert.deepEqual(shapes, [
      [16, 3, 3, 3],
      [32, 16, 3, 3],
      [32, 32, 3, 3],
      [64, 32, 3, 3],
      [64, 64, 3, 3],
      [128, 64, 3, 3],
      [128, 128, 3, 3],
    ]);
    model.eval();
    const x = tensor(randomData(2 * 3 * 32 * 20, 3), [2, 3, 32, 20]);
    const { f, p } = noGrad(() =>
      tidy(() => {
        const f = m.forwardFeatures(x);
        return { f: f.features, p: m.forwardPool(f) };
      })
    );
    assert.deepEqual(f.shape, [2, 128, 4, 3]);
    assert.deepEqual(p.shape, [2, 128, 1, 1]);
    const ref = noGrad(() => mean(f, [2, 3], true));
    assert.deepEqual(await p.data(), await ref.data());
    for (const t of [x, f, p, ref]) t.dispose();
  } finally {
    model.dispose();
  }
});

Deno.test("tinycnn16: other channel counts; bad inputs and options fail naming the model", () => {
  const one = createModel("sinter/tinycnn16", { inChannels: 1 });
  assert.equal(one.inChannels, 1);
  one.getModel().dispose();
  const m = createModel("sinter/tinycnn16");
  try {
    const bad = (shape: number[], msg: RegExp) => {
      const x = tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
      assert.throws(() => m.forwardFeatures(x), msg);
      x.dispose();
    };
    bad([2, 4, 16, 16], /sinter\/tinycnn16: expected input \[B, 3, H, W\], got \[2, 4, 16, 16\]/);
    bad([3, 16, 16], /expected input \[B, 3, H, W\], got \[3, 16, 16\]/);
    bad([1, 3, 8, 8], /BatchNorm in training needs more than one value/);
  } finally {
    m.getModel().dispose();
  }
  assert.throws(
    () => createModel("sinter/tinycnn16", { inChanels: 1 }),
    /unknown option 'inChanels' \(did you mean 'inChannels'\?\)/,
  );
});

Deno.test("tinycnn16: FD gradients of all parameters (train BN); a 5% error is caught", async () => {
  const m = new TinyCnn({ seed: 2 });
  randomizeBatchNorm(m, 3);
  const x = tensor(randomData(2 * 3 * 16 * 16, 4), [2, 3, 16, 16]);
  const f = () => mean(m.forwardFeatures(x), [2, 3]);
  try {
    const worst = await paramGradcheck(m, f);
    if (Deno.env.get("SINTER_VERBOSE")) console.log(`worst ratio ${worst.toFixed(3)}`);
    await assert.rejects(
      paramGradcheck(m, f, {
        perTensor: 1,
        tamper: (name, g) => {
          if (name === "layers.5.conv.weight") g.forEach((v, i) => g[i] = v * 1.05);
        },
      }),
      /layers\.5\.conv\.weight/,
    );
  } finally {
    x.dispose();
    m.dispose();
  }
});
