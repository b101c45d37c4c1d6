import assert from "node:assert/strict";
import { initDevice } from "../core/device.ts";
import { backward, noGrad } from "../core/autograd.ts";
import { upload } from "../core/engine.ts";
import { Rng } from "../core/random.ts";
import { type Tensor, tensor, tidy } from "../core/tensor.ts";
import { assertAllClose, randomData } from "../core/testing.ts";
import { concat, reshapeOp } from "../kernels/mod.ts";
import type { Module } from "./module.ts";
import { VisionTransformer, VIT_SIZES, VIT_VARIANTS } from "./vit.ts";
import { interpolatePosEmbedRef } from "./pos_embed.ts";
import { createModel, listModels } from "./wrapper.ts";
import { loadSafetensors } from "./safetensors.ts";
import { loadCase, modelFixturesDir } from "../tests/parity/refdata.ts";
import { handlers } from "../tests/parity/handlers/models_vit.ts";
import { compareCase } from "../tests/parity/runner.ts";

await initDevice();

/** Overwrites every parameter with values of O(0.3) (norm weights around 1) for gradchecks. */
function randomizeParams(m: Module, seed: number): void {
  let s = seed;
  for (const [name, p] of m.namedParameters()) {
    const d = randomData(p.size, s++).map((v) => 0.3 * v);
    if (/norm\d?\.weight$/.test(name) || name.endsWith(".gamma")) d.forEach((v, i) => d[i] = 1 + v);
    upload(p.buffer, d);
  }
}

/**
 * Central-difference check of d(sum(f() * w))/dθ on `perTensor` elements of every parameter θ
 * (the one with the largest analytic gradient plus random ones): |a - n| <= rtol|n| + atol·max|a|.
 */
async function paramGradcheck(
  model: Module,
  f: () => Tensor,
  opts: { eps?: number; rtol?: number; atol?: number; perTensor?: number } = {},
): Promise<number> {
  const eps = opts.eps ?? 1e-2, rtol = opts.rtol ?? 2e-2, atol = opts.atol ?? 2e-2;
  const params = model.namedParameters();
  const out = tidy(f);
  const wHost = randomData(out.size, 5);
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
  const rng = new Rng(3);
  let worst = 0;
  for (const [name, p] of params) {
    assert.ok(p.grad, `no gradient reached ${name}`);
    const analytic = (await p.grad.data()) as Float32Array;
    const host = (await p.data()) as Float32Array;
    let scale = 0, top = 0;
    for (let i = 0; i < analytic.length; i++) {
      if (Math.abs(analytic[i]) > scale) [scale, top] = [Math.abs(analytic[i]), i];
    }
    assert.ok(scale > 0, `gradient of ${name} is all zero`);
    const idx = new Set([top]);
    while (idx.size < Math.min(opts.perTensor ?? 3, host.length)) {
      idx.add(Math.floor(rng.next() * host.length));
    }
    for (const i of idx) {
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
      const ratio = Math.abs(analytic[i] - numeric) / (rtol * Math.abs(numeric) + atol * scale);
      worst = Math.max(worst, ratio);
      assert.ok(
        ratio <= 1,
        `${name}[${i}]: analytic ${analytic[i]}, numeric ${numeric} (max |grad| ${scale})`,
      );
    }
  }
  for (const [, p] of params) {
    p.grad?.dispose();
    p.grad = null;
  }
  return worst;
}

function tiny(opts: { imgSize?: number; depth?: number; dropPathRate?: number } = {}) {
  return new VisionTransformer({
    imgSize: opts.imgSize ?? 8,
    patchSize: 4,
    embedDim: 16,
    depth: opts.depth ?? 1,
    numHeads: 2,
    dropPathRate: opts.dropPathRate,
    seed: 3,
  });
}

Deno.test("vit: registered timm names, state_dict names/order and parameter count", async () => {
  const names = listModels().map((m) => m.name).filter((n) => n.startsWith("timm/vit_"));
  for (const s of Object.keys(VIT_SIZES)) {
    for (const [p, img] of VIT_VARIANTS) {
      assert.ok(names.includes(`timm/vit_${s}_patch${p}_${img}`));
    }
  }
  assert.ok(names.includes("timm/vit_tiny_patch16_224"));
  // timm vit_tiny_patch16_224 without its 1000-class head: 5,717,416 - 193,000.
  const w = createModel("timm/vit_tiny_patch16_224");
  const m = w.getModel();
  assert.equal(m.namedParameters().reduce((s, [, t]) => s + t.size, 0), 5_524_416);
  assert.equal(w.featureDim, 192);
  assert.deepEqual(w.architectureInfo, { kind: "transformer", norm: "layernorm" });
  m.dispose();
  // Names and order equal the timm fixture (depth 2, patch 4, 32x32).
  const small = createModel("timm/vit_tiny_patch4_32", { depth: 2 }).getModel();
  const file = await loadSafetensors(`${modelFixturesDir()}/vit_tiny_p4.safetensors`);
  const keys = small.stateEntries().map(([k]) => k);
  assert.deepEqual(keys, [...file.tensors.keys()]);
  for (const [k, e] of small.stateEntries()) {
    assert.deepEqual("shape" in e ? [...e.shape] : [], [...file.tensors.get(k)!.shape], k);
  }
  small.dispose();
  assert.throws(() => createModel("timm/vit_tiny_patch4_32", { dpth: 2 }), /unknown option 'dpth'/);
  assert.throws(() => createModel("timm/vit_tiny_patch4_32", { depth: 0 }), /depth/);
});

Deno.test("vit: forward shapes, pooling, and input errors before GPU work", async () => {
  const w = createModel("timm/vit_tiny_patch4_32", { depth: 1 });
  const x = tensor(randomData(2 * 3 * 32 * 32, 1), [2, 3, 32, 32]);
  const f = w.forwardFeatures(x);
  assert.deepEqual(f.features.shape, [2, 192, 8, 8]);
  assert.deepEqual(f.clsToken!.shape, [2, 192]);
  const pooled = w.forwardPool(f);
  assert.deepEqual(pooled.shape, [2, 192, 1, 1]);
  assertAllClose(await pooled.data(), await f.clsToken!.data(), 0, 0, "pool = cls token");
  for (const t of [x, f.features, f.clsToken!, pooled]) t.dispose();
  const bad = (shape: number[], re: RegExp) => {
    const t = { shape, size: shape.reduce((a, b) => a * b, 1) } as unknown as Tensor;
    assert.throws(() => w.forwardFeatures(t), re);
  };
  bad(
    [2, 1, 32, 32],
    /timm\/vit_tiny_patch4_32: expected input \[B, 3, H, W\].*got \[2, 1, 32, 32\]/,
  );
  bad([2, 3, 30, 32], /multiples of the patch size 4, got \[2, 3, 30, 32\]/);
  bad([3, 32, 32], /expected input/);
  const masks = tensor(new Float32Array(128), [2, 64]);
  assert.throws(
    () => w.forwardFeatures(tensor(new Float32Array(2 * 3 * 32 * 32), [2, 3, 32, 32]), { masks }),
    /mask token/,
  );
  masks.dispose();
  w.getModel().dispose();
});

Deno.test("vit: other input sizes resample pos_embed as timm (bicubic, antialiased)", async () => {
  const a = tiny({ imgSize: 8 }).eval();
  const b = tiny({ imgSize: 16 }).eval();
  randomizeParams(a, 40);
  const sd = await a.stateDict();
  const pos = sd.pos_embed.data as Float32Array;
  const resampled = Float32Array.from(interpolatePosEmbedRef(pos, 16, 4, 4, "aa"));
  b.loadStateDict({ ...sd, pos_embed: { dtype: "F32", shape: [1, 17, 16], data: resampled } });
  const x = tensor(randomData(2 * 3 * 16 * 16, 2), [2, 3, 16, 16]);
  const fa = a.forwardFeatures(x), fb = b.forwardFeatures(x);
  assertAllClose(await fa.clsToken.data(), await fb.clsToken.data(), 1e-4, 1e-5, "cls");
  assertAllClose(await fa.patchTokens.data(), await fb.patchTokens.data(), 1e-4, 1e-5, "patches");
  for (const t of [x, fa.clsToken, fa.patchTokens, fb.clsToken, fb.patchTokens]) t.dispose();
  a.dispose();
  b.dispose();
});

Deno.test("vit: drop path acts in training only", async () => {
  const m = tiny({ depth: 2, dropPathRate: 0.9 });
  const ref = tiny({ depth: 2 }).eval();
  randomizeParams(m, 9);
  randomizeParams(ref, 9);
  const x = tensor(randomData(4 * 3 * 8 * 8, 4), [4, 3, 8, 8]);
  const run = async (mm: VisionTransformer) => {
    const f = noGrad(() => mm.forwardFeatures(x));
    f.patchTokens.dispose();
    const d = await f.clsToken.data();
    f.clsToken.dispose();
    return d;
  };
  const evalOut = await run(m.eval());
  assertAllClose(evalOut, await run(ref), 0, 0, "eval = no drop path");
  const trainOut = await run(m.train());
  assert.ok(trainOut.some((v, i) => Math.abs(v - evalOut[i]) > 1e-4), "train differs");
  x.dispose();
  m.dispose();
  ref.dispose();
});

Deno.test("vit: parity with vit_tiny_p4_forward (timm, strict load)", async () => {
  const name = "vit_tiny_p4_forward";
  const dir = modelFixturesDir();
  const c = await loadCase({ name, op: name, group: "models", file: `${name}.json`, dir });
  const res = compareCase(c, await handlers[c.op](c));
  console.log(`${name}: worst ${res.worst.toExponential(2)}; ${res.details.join("; ")}`);
  assert.ok(res.ok, res.details.join("\n"));
});

Deno.test("vit: finite-difference gradients of all parameters (dim 16, 2 heads, depth 1)", async () => {
  const m = tiny({ imgSize: 8 });
  randomizeParams(m, 21);
  const x = tensor(randomData(2 * 3 * 8 * 8, 8), [2, 3, 8, 8]);
  const worst = await paramGradcheck(m, () => {
    const f = m.forwardFeatures(x);
    return concat([f.clsToken, reshapeOp(f.patchTokens, [2, 4 * 16])], 1);
  });
  console.log(`vit gradcheck worst ratio ${worst.toFixed(3)}`);
  x.dispose();
  m.dispose();
});
