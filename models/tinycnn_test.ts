// sinter/tinycnn16: names, shapes, input errors and finite-difference gradients of every
// parameter tensor.
import assert from "node:assert/strict";
import { initDevice } from "../core/device.ts";
import { noGrad } from "../core/autograd.ts";
import { tensor, tidy } from "../core/tensor.ts";
import { gradcheckParameters, randomData, randomizeBatchNorm } from "../core/testing.ts";
import { mean } from "../kernels/mod.ts";
import { TinyCnn } from "./tinycnn.ts";
import { createModel, listModels } from "./wrapper.ts";

await initDevice();

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
    const worst = await gradcheckParameters(m, f);
    if (Deno.env.get("SINTER_VERBOSE")) console.log(`worst ratio ${worst.toFixed(3)}`);
    await assert.rejects(
      gradcheckParameters(m, f, {
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

Deno.test("tinycnn16: init=pytorch draws U(±1/√fan_in) conv weights, the default kaiming normal fan_out", async () => {
  const stats = async (init?: string) => {
    const m = createModel("sinter/tinycnn16", { inChannels: 1, seed: 0, init });
    const w = (await m.getModel().stateDict())["layers.3.conv.weight"]; // [64, 32, 3, 3]
    m.getModel().dispose();
    const v = w.data as Float32Array;
    let max = 0, sq = 0;
    for (const x of v) {
      max = Math.max(max, Math.abs(x));
      sq += x * x;
    }
    return { max, std: Math.sqrt(sq / v.length) };
  };
  const bound = 1 / Math.sqrt(32 * 9);
  const pt = await stats("pytorch");
  assert.ok(pt.max <= bound && pt.max > 0.99 * bound, `max ${pt.max} vs bound ${bound}`);
  assert.ok(Math.abs(pt.std - bound / Math.sqrt(3)) < 0.02 * bound, `std ${pt.std}`);
  const tv = await stats();
  assert.ok(Math.abs(tv.std - Math.sqrt(2 / (64 * 9))) < 0.03 * tv.std, `std ${tv.std}`);
  assert.throws(() => createModel("sinter/tinycnn16", { init: "xavier" }), /init must be/);
});
