import assert from "node:assert/strict";
import { initDevice } from "../core/device.ts";
import { backward } from "../core/autograd.ts";
import { type Tensor, tensor, tidy } from "../core/tensor.ts";
import { randomData } from "../core/random.ts";
import { assertAllClose, gradcheckParameters, randomizeParameters } from "../core/testing.ts";
import { concat, reshapeOp } from "../kernels/mod.ts";
import { DINOV2_SIZES, DinoVisionTransformer } from "./dinov2.ts";
import { tokensToGrid } from "./vit.ts";
import type { PosEmbedMode } from "./pos_embed.ts";
import { createModel, listModels } from "./wrapper.ts";
import { loadSafetensors } from "./safetensors.ts";
import { loadCase, modelFixturesDir } from "../tests/parity/refdata.ts";
import { handlers } from "../tests/parity/handlers/models_vit.ts";
import { compareCase } from "../tests/parity/runner.ts";

await initDevice();

/** The ViT gradcheck: one step of 1e-2, the largest and two random elements of each tensor. */
const GRADCHECK = { steps: [1e-2], perTensor: 3, seed: 5, pickSeed: 3 };

function tiny(registers: number, interpolation: PosEmbedMode, depth = 1) {
  return new DinoVisionTransformer({
    imgSize: 16,
    patchSize: 4,
    embedDim: 16,
    depth,
    numHeads: 2,
    numRegisterTokens: registers,
    interpolation,
    seed: 5,
  });
}

function disposeAll(...ts: (Tensor | null | undefined)[]) {
  for (const t of ts) t?.dispose();
}

Deno.test("dinov2: registered names, official state_dict names/order, parameter count", async () => {
  const names = listModels().map((m) => m.name);
  for (const arch of Object.keys(DINOV2_SIZES)) {
    assert.ok(names.includes(`dinov2/${arch}`), arch);
    assert.ok(names.includes(`dinov2/${arch}-noreg`), arch);
  }
  // Official dinov2_vits14 (no registers, 37x37+1 pos_embed): 22,056,576 parameters.
  const w = createModel("dinov2/vits14-noreg");
  const m = w.getModel();
  assert.equal(m.namedParameters().reduce((s, [, t]) => s + t.size, 0), 22_056_576);
  assert.equal(w.featureDim, 384);
  m.dispose();
  // Names, order and shapes equal the DINOv2 fixture (ViT-S/14, 4 registers, depth 2).
  const reg = createModel("dinov2/vits14", { depth: 2 }).getModel();
  const file = await loadSafetensors(`${modelFixturesDir()}/dinov2_vit.safetensors`);
  assert.deepEqual(reg.stateEntries().map(([k]) => k), [...file.tensors.keys()]);
  for (const [k, e] of reg.stateEntries()) {
    assert.deepEqual("shape" in e ? [...e.shape] : [], [...file.tensors.get(k)!.shape], k);
  }
  reg.dispose();
  assert.throws(() => createModel("dinov2/vitb14", { registers: 2 }), /unknown option/);
});

Deno.test("dinov2: forward shapes, token order, intermediate layers, input errors", async () => {
  const m = tiny(2, "aa", 2).eval();
  randomizeParameters(m, 3);
  const x = tensor(randomData(2 * 3 * 8 * 12, 1), [2, 3, 8, 12]);
  const f = m.forwardFeatures(x);
  assert.deepEqual(f.clsToken.shape, [2, 16]);
  assert.deepEqual(f.regTokens!.shape, [2, 2, 16]);
  assert.deepEqual(f.patchTokens.shape, [2, 6, 16]);
  assert.deepEqual([f.gh, f.gw], [2, 3]);
  // The last intermediate layer, normed, is x_norm_patchtokens; reshape gives the grid.
  const [l0, l1] = m.getIntermediateLayers(x, 2, { reshape: true, returnClassToken: true });
  assert.deepEqual(l0.patches.shape, [2, 16, 2, 3]);
  const grid = tokensToGrid(f.patchTokens, 2, 3);
  assertAllClose(await l1.patches.data(), await grid.data(), 0, 0, "last layer = patch tokens");
  assertAllClose(await l1.clsToken!.data(), await f.clsToken.data(), 0, 0, "cls");
  const [u] = m.getIntermediateLayers(x, [0], { norm: false });
  assert.deepEqual(u.patches.shape, [2, 6, 16]);
  assert.throws(() => m.getIntermediateLayers(x, [2]), /block index 2 out of range/);
  disposeAll(f.clsToken, f.regTokens, f.patchTokens, l0.patches, l0.clsToken, l1.patches);
  disposeAll(l1.clsToken, u.patches, grid);
  // Errors before GPU work.
  const fake = (shape: number[]) => ({ shape, dtype: "f32" }) as unknown as Tensor;
  assert.throws(() => m.forwardFeatures(fake([2, 4, 8, 8])), /expected input \[B, 3, H, W\]/);
  assert.throws(() => m.forwardFeatures(fake([2, 3, 8, 10])), /multiples of the patch size 4/);
  assert.throws(
    () => m.forwardFeatures(x, fake([2, 5])),
    /masks must be f32 0\/1 of shape \[2, 6\]/,
  );
  const w = createModel("dinov2/vits14", { depth: 1 });
  assert.throws(
    () => w.forwardFeatures(fake([1, 3, 100, 98])),
    /dinov2\/vits14: expected input \[B, 3, H, W\] with H and W multiples of the patch size 14, got \[1, 3, 100, 98\]/,
  );
  w.getModel().dispose();
  x.dispose();
  m.dispose();
});

Deno.test("dinov2: masks replace patch embeddings by mask_token", async () => {
  const m = tiny(0, "offset").eval();
  randomizeParameters(m, 4);
  const x1 = tensor(randomData(3 * 8 * 8, 6), [1, 3, 8, 8]);
  const x2 = tensor(randomData(3 * 8 * 8, 7), [1, 3, 8, 8]);
  const mask = tensor([0, 1, 0, 1], [1, 4]);
  const zero = tensor([0, 0, 0, 0], [1, 4]);
  const runs = [m.prepareTokens(x1), m.prepareTokens(x1, mask), m.prepareTokens(x1, zero)];
  runs.push(m.prepareTokens(x2, mask));
  const [plain, masked, unmasked, masked2] = await Promise.all(runs.map((r) => r.tokens.data()));
  assertAllClose(unmasked, plain, 0, 0, "all-zero mask = no mask");
  for (let row = 0; row < 5; row++) {
    const isMasked = row === 2 || row === 4; // token 1 + patch index
    for (let c = 0; c < 16; c++) {
      const i = row * 16 + c;
      if (isMasked) {
        assert.equal(masked[i], masked2[i], `masked row ${row} does not depend on the image`);
        assert.notEqual(masked[i], plain[i]);
      } else if (row > 0) {
        assert.equal(masked[i], plain[i], `row ${row} kept`);
        assert.notEqual(masked2[i], plain[i]);
      }
    }
  }
  disposeAll(...runs.map((r) => r.tokens), x1, x2, mask, zero);
  m.dispose();
});

for (
  const name of [
    "dinov2_vit_98_aa",
    "dinov2_vit_98_aa_masked",
    "dinov2_vit_98_offset",
    "dinov2_vit_224_aa",
  ]
) {
  Deno.test(`dinov2: parity with ${name} (strict load)`, async () => {
    const dir = modelFixturesDir();
    const c = await loadCase({
      name,
      op: "dinov2_vit_forward",
      group: "models",
      file: `${name}.json`,
      dir,
    });
    const res = compareCase(c, await handlers[c.op](c));
    console.log(`${name}: worst ${res.worst.toExponential(2)}; ${res.details.join("; ")}`);
    assert.ok(res.ok, res.details.join("\n"));
  });
}

Deno.test("dinov2: finite-difference gradients of all parameters (dim 16, 2 heads, depth 1)", async () => {
  for (const mode of ["offset", "aa"] as PosEmbedMode[]) {
    const m = tiny(2, mode);
    randomizeParameters(m, 31);
    const x = tensor(randomData(2 * 3 * 8 * 12, 8), [2, 3, 8, 12]);
    const masks = tensor([0, 1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1], [2, 6]);
    const worst = await gradcheckParameters(m, () => {
      const f = m.forwardFeatures(x, masks);
      return concat([
        f.clsToken,
        reshapeOp(f.regTokens!, [2, 32]),
        reshapeOp(f.patchTokens, [2, 96]),
      ], 1);
    }, { ...GRADCHECK, perTensor: mode === "aa" ? 2 : 3 });
    console.log(`dinov2 (${mode}) gradcheck worst ratio ${worst.toFixed(3)}`);
    disposeAll(x, masks);
    m.dispose();
  }
});

Deno.test("dinov2: forward + backward through the wrapper leaves no tensors behind", async () => {
  const { pool } = await import("../core/engine.ts");
  const { sum, add } = await import("../kernels/mod.ts");
  const w = createModel("dinov2/vits14", {
    depth: 1,
    imgSize: 28,
  });
  const m = w.getModel();
  const x = tensor(randomData(2 * 3 * 42 * 28, 2), [2, 3, 42, 28]);
  const masks = tensor(Float32Array.from({ length: 12 }, (_, i) => i % 2), [2, 6]);
  const step = async () => {
    const f = w.forwardFeatures(x, { masks });
    const pooled = w.forwardPool(f);
    const loss = tidy(() => add(sum(f.features), sum(pooled)));
    backward(loss);
    const v = await loss.item();
    disposeAll(loss, pooled, f.features, f.clsToken);
    for (const p of m.parameters()) {
      assert.ok(p.grad, `gradient of ${p.name}`);
      p.grad.dispose();
      p.grad = null;
    }
    return v;
  };
  const first = await step(); // builds the cached interpolation matrices
  const live = pool.stats().liveBytes;
  assert.equal(await step(), first);
  assert.equal(pool.stats().liveBytes, live);
  disposeAll(x, masks);
  m.dispose();
});
