// torchvision ResNet: module tree and names, init, shapes, input errors, finite-difference
// gradients of every parameter tensor on tiny instances, and parity with the resnet_tv fixtures.
import assert from "node:assert/strict";
import { initDevice } from "../core/device.ts";
import { noGrad } from "../core/autograd.ts";
import { tensor, tidy } from "../core/tensor.ts";
import {
  compareClose,
  gradcheckParameters,
  randomData,
  randomizeBatchNorm,
} from "../core/testing.ts";
import "../kernels/mod.ts";
import type { Module } from "./module.ts";
import { ResNet } from "./resnet.ts";
import { createModel, listModels } from "./wrapper.ts";
import { loadCase, modelFixturesDir } from "../tests/parity/refdata.ts";
import { handlers } from "../tests/parity/handlers/models_resnet.ts";

await initDevice();

function numelOf(m: Module): number {
  return m.namedParameters().reduce((s, [, t]) => s + t.size, 0);
}

Deno.test("resnet18/34/50: torchvision state_dict keys, order, shapes and parameter counts", () => {
  const expected: [string, number, number, number][] = [
    ["resnet18", 11_689_512, 122, 512],
    ["resnet34", 21_797_672, 218, 512],
    ["resnet50", 25_557_032, 320, 2048],
  ];
  for (const [name, params, keys, dim] of expected) {
    const wrapper = createModel(`torchvision/${name}`, { numClasses: 1000 });
    const m = wrapper.getModel();
    try {
      assert.equal(wrapper.name, `torchvision/${name}`);
      assert.equal(wrapper.featureDim, dim);
      assert.equal(wrapper.inChannels, 3);
      assert.deepEqual(wrapper.architectureInfo, { kind: "convolutional", norm: "batchnorm" });
      assert.equal(numelOf(m), params, name);
      const entries = m.stateEntries();
      assert.equal(entries.length, keys, name);
      const shapes = new Map(
        entries.map(([k, e]) => [k, "value" in e ? [] : [...e.shape]] as [string, number[]]),
      );
      assert.deepEqual(entries.slice(0, 7).map(([k]) => k), [
        "conv1.weight",
        "bn1.weight",
        "bn1.bias",
        "bn1.running_mean",
        "bn1.running_var",
        "bn1.num_batches_tracked",
        "layer1.0.conv1.weight",
      ]);
      assert.deepEqual(entries.slice(-2).map(([k]) => k), ["fc.weight", "fc.bias"]);
      assert.deepEqual(shapes.get("conv1.weight"), [64, 3, 7, 7]);
      if (name === "resnet50") {
        assert.deepEqual(shapes.get("layer1.0.downsample.0.weight"), [256, 64, 1, 1]);
        assert.deepEqual(shapes.get("layer2.0.conv2.weight"), [128, 128, 3, 3]);
        assert.deepEqual(shapes.get("layer4.2.conv3.weight"), [2048, 512, 1, 1]);
        assert.deepEqual(shapes.get("fc.weight"), [1000, 2048]);
        // v1.5: the stride sits on the 3x3 conv.
        const r = m as ResNet;
        const b = r.layers[1].blocks[0] as unknown as {
          conv1: { opts: { stride?: unknown } };
          conv2: { opts: { stride?: unknown } };
        };
        assert.equal(b.conv1.opts.stride, 1);
        assert.equal(b.conv2.opts.stride, 2);
      } else {
        assert.ok(!shapes.has("layer1.0.downsample.0.weight"));
        assert.deepEqual(shapes.get("layer2.0.downsample.0.weight"), [128, 64, 1, 1]);
        assert.deepEqual(shapes.get("layer4.1.bn2.running_var"), [512]);
        assert.deepEqual(shapes.get("fc.weight"), [1000, 512]);
      }
    } finally {
      m.dispose();
    }
  }
});

Deno.test("resnet: torchvision init (kaiming normal fan_out, BN 1/0), seeds, no fc by default", async () => {
  const m = new ResNet({ block: "basic", layers: [1, 1, 1, 1], width: 16, seed: 3 });
  const again = new ResNet({ block: "basic", layers: [1, 1, 1, 1], width: 16, seed: 3 });
  const other = new ResNet({ block: "basic", layers: [1, 1, 1, 1], width: 16, seed: 4 });
  try {
    assert.equal(m.fc, null);
    assert.ok(!m.namedParameters().some(([k]) => k.startsWith("fc.")));
    const w = (await m.layers[3].blocks[0].namedParameters()[0][1].data()) as Float32Array;
    // layer4.0.conv1: [128, 64, 3, 3], std sqrt(2 / (128 * 9)).
    let ss = 0;
    for (const v of w) ss += v * v;
    const std = Math.sqrt(ss / w.length), want = Math.sqrt(2 / (128 * 9));
    assert.ok(Math.abs(std / want - 1) < 0.03, `std ${std} vs ${want}`);
    assert.deepEqual([...(await m.bn1.weight.data())], new Array(16).fill(1));
    assert.deepEqual([...(await m.bn1.bias.data())], new Array(16).fill(0));
    assert.deepEqual(await m.conv1.weight.data(), await again.conv1.weight.data());
    assert.notDeepEqual(await m.conv1.weight.data(), await other.conv1.weight.data());
  } finally {
    m.dispose();
    again.dispose();
    other.dispose();
  }
});

Deno.test("resnet wrappers: registry, feature shapes, pooling, CIFAR stem, channels", async () => {
  const names = listModels().map((e) => e.name);
  for (const n of ["torchvision/resnet18", "torchvision/resnet34", "torchvision/resnet50"]) {
    assert.ok(names.includes(n), n);
  }
  const cases: [string, Record<string, unknown>, number[], number[], number][] = [
    ["torchvision/resnet18", { width: 8 }, [2, 3, 40, 32], [2, 64, 2, 1], 64],
    ["torchvision/resnet34", { width: 8, cifarStem: true }, [1, 3, 16, 16], [1, 64, 2, 2], 64],
    ["torchvision/resnet50", { width: 8, blocks: [1, 1, 1, 1], inChannels: 1 }, [1, 1, 32, 32], [
      1,
      256,
      1,
      1,
    ], 256],
  ];
  for (const [name, opts, inShape, featShape, dim] of cases) {
    const m = createModel(name, opts);
    try {
      assert.equal(m.name, name);
      assert.equal(m.featureDim, dim);
      assert.equal(m.inChannels, inShape[1]);
      assert.deepEqual(m.architectureInfo, { kind: "convolutional", norm: "batchnorm" });
      m.getModel().eval();
      const x = tensor(randomData(inShape.reduce((a, b) => a * b), 5), inShape);
      const { f, p } = noGrad(() =>
        tidy(() => {
          const f = m.forwardFeatures(x);
          return { f: f.features, p: m.forwardPool(f) };
        })
      );
      assert.deepEqual(f.shape, featShape);
      assert.deepEqual(p.shape, [featShape[0], dim, 1, 1]);
      // forwardPool is the global average of the feature map.
      const fd = await f.data(), pd = await p.data();
      const hw = featShape[2] * featShape[3];
      for (let i = 0; i < pd.length; i += 97) {
        let s = 0;
        for (let j = 0; j < hw; j++) s += fd[i * hw + j];
        assert.ok(Math.abs(s / hw - pd[i]) <= 1e-5 * (1 + Math.abs(pd[i])));
      }
      for (const t of [x, f, p]) t.dispose();
    } finally {
      m.getModel().dispose();
    }
  }
});

Deno.test("resnet: bad inputs and options fail before any GPU work, naming the model", () => {
  const m = createModel("torchvision/resnet18", { width: 8 });
  try {
    const bad = (shape: number[], msg: RegExp) => {
      const x = tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
      assert.throws(() => m.forwardFeatures(x), msg);
      x.dispose();
    };
    bad(
      [2, 1, 32, 32],
      /torchvision\/resnet18: expected input \[B, 3, H, W\], got \[2, 1, 32, 32\]/,
    );
    bad([3, 32, 32], /expected input \[B, 3, H, W\], got \[3, 32, 32\]/);
    // Training with a 1x1 layer4 map and batch 1: BatchNorm would have one value per channel.
    bad([1, 3, 32, 32], /BatchNorm in training needs more than one value/);
    const x = tensor(new Float32Array(2 * 3 * 32 * 32), [2, 3, 32, 32]);
    assert.throws(
      () => m.forwardFeatures(x, { masks: x }),
      /masks are not supported/,
    );
    x.dispose();
  } finally {
    m.getModel().dispose();
  }
  assert.throws(
    () => createModel("torchvision/resnet18", { cifarstem: true }),
    /unknown option 'cifarstem' \(did you mean 'cifarStem'\?\)/,
  );
  assert.throws(
    () => createModel("torchvision/resnet18", { blocks: [2, 2, 2] }),
    /blocks must be 4/,
  );
  assert.throws(() => createModel("torchvision/resnet18", { numClasses: -1 }), /numClasses/);
});

/** FD check of all parameters of `m` on a random input of `shape` (loss = sum(logits * w)). */
async function checkModelGradients(m: ResNet, shape: number[], seed: number): Promise<void> {
  randomizeBatchNorm(m, seed);
  const x = tensor(randomData(shape.reduce((a, b) => a * b), seed), shape);
  try {
    const worst = await gradcheckParameters(m, () => m.forward(x));
    if (Deno.env.get("SINTER_VERBOSE")) console.log(`worst ratio ${worst.toFixed(3)}`);
  } finally {
    x.dispose();
    m.dispose();
  }
}

Deno.test("resnet: FD gradients of all parameters, BasicBlock, CIFAR stem, train BN", async () => {
  const m = new ResNet({
    block: "basic",
    layers: [1, 1, 1, 1],
    width: 4,
    numClasses: 5,
    cifarStem: true,
    seed: 5,
  });
  await checkModelGradients(m, [2, 3, 16, 16], 6);
});

Deno.test("resnet: FD gradients of all parameters, Bottleneck, 7x7 stem + max-pool, eval BN", async () => {
  const m = new ResNet({
    block: "bottleneck",
    layers: [1, 1, 1, 1],
    width: 4,
    numClasses: 3,
    seed: 5,
  })
    .eval();
  await checkModelGradients(m, [2, 3, 32, 32], 6);
});

// ---- parity with the torchvision fixtures (refdata README section 8) ----

for (const name of ["resnet_tv_eval_64x64", "resnet_tv_eval_96x80", "resnet_tv_train_64x64"]) {
  Deno.test(`resnet parity: ${name}`, async () => {
    const c = await loadCase({
      name,
      op: "resnet_tv_forward",
      group: "models",
      file: `${name}.json`,
    }, modelFixturesDir());
    const got = await handlers[c.op](c);
    const lines: string[] = [];
    let ok = true;
    for (const [k, ref] of Object.entries(c.outputs)) {
      assert.ok(got[k], `${name}: output ${k} missing`);
      const exact = ref.dtype !== "float32";
      const r = compareClose(got[k], ref.data, exact ? 0 : c.rtol, exact ? 0 : c.atol);
      const pass = exact ? r.worstRatio === 0 : r.ok;
      if (!pass) ok = false;
      lines.push(`${k}: ${pass ? "ok" : "FAIL"} ${r.message}`);
    }
    if (Deno.env.get("SINTER_VERBOSE")) console.log(lines.join("\n"));
    assert.ok(ok, lines.join("\n"));
    if (name.includes("train")) assert.equal(Object.keys(c.outputs).length, 3 + 12 * 3);
  });
}
