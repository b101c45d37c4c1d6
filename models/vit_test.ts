import assert from "node:assert/strict";
import { initDevice } from "../core/device.ts";
import { noGrad } from "../core/autograd.ts";
import { type Tensor, tensor } from "../core/tensor.ts";
import { randomData } from "../core/random.ts";
import { assertAllClose, gradcheckParameters, randomizeParameters } from "../core/testing.ts";
import { concat, reshapeOp } from "../kernels/mod.ts";
import { VisionTransformer, VIT_SIZES, VIT_VARIANTS } from "./vit.ts";
import { interpolatePosEmbedRef } from "./pos_embed.ts";
import { createModel, listModels } from "./wrapper.ts";
import { loadSafetensors } from "./safetensors.ts";
import { loadCase, modelFixturesDir } from "../tests/parity/refdata.ts";
import { handlers } from "../tests/parity/handlers/models_vit.ts";
import { compareCase } from "../tests/parity/runner.ts";

await initDevice();

/** The ViT gradcheck: one step of 1e-2, the largest and two random elements of each tensor. */
const GRADCHECK = { steps: [1e-2], perTensor: 3, seed: 5, pickSeed: 3 };

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
  randomizeParameters(a, 40);
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
  randomizeParameters(m, 9);
  randomizeParameters(ref, 9);
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
  randomizeParameters(m, 21);
  const x = tensor(randomData(2 * 3 * 8 * 8, 8), [2, 3, 8, 8]);
  const worst = await gradcheckParameters(m, () => {
    const f = m.forwardFeatures(x);
    return concat([f.clsToken, reshapeOp(f.patchTokens, [2, 4 * 16])], 1);
  }, GRADCHECK);
  console.log(`vit gradcheck worst ratio ${worst.toFixed(3)}`);
  x.dispose();
  m.dispose();
});
