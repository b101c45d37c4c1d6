// ONNX export: the protobuf encoder, and every supported backbone exported, run in ONNX Runtime
// (npm:onnxruntime-node, test-only) and compared with Sinter's own eval-mode forward.
// Needs --allow-ffi (onnxruntime-node is a native addon) besides read/env/write.
import assert from "node:assert/strict";
import type * as Ort from "npm:onnxruntime-node@1.30.0";
import { initDevice } from "../core/device.ts";
import { noGrad } from "../core/autograd.ts";
import { upload } from "../core/engine.ts";
import { Rng } from "../core/random.ts";
import { type Tensor, tensor, tidy } from "../core/tensor.ts";
import { compareClose } from "../core/testing.ts";
import { DinoVisionTransformer } from "./dinov2.ts";
import { Module } from "./module.ts";
import { exportOnnx, saveOnnx } from "./onnx.ts";
import { Encoded, varint } from "./onnx/proto.ts";
import { ResNet, resnetWrapper } from "./resnet.ts";
import { loadSafetensors, toFloat32 } from "./safetensors.ts";
import { TransformerWrapper, VisionTransformer } from "./vit.ts";
import { createModel, type ModelWrapper } from "./wrapper.ts";

await initDevice();

const RTOL = 1e-4, ATOL = 1e-5;

let ortModule: typeof Ort | undefined;

/** ONNX Runtime, loaded on first use (so the encoder tests run without --allow-ffi). */
async function loadOrt(): Promise<typeof Ort> {
  if (!ortModule) {
    if ((await Deno.permissions.query({ name: "ffi" })).state !== "granted") {
      throw new Error(
        "onnx_test: ONNX Runtime (npm:onnxruntime-node, a native addon) needs --allow-ffi",
      );
    }
    ortModule = await import("npm:onnxruntime-node@1.30.0");
  }
  return ortModule;
}

/**
 * Replaces the initial state by random values that make every tensor matter (BatchNorm and
 * LayerNorm not the identity, LayerScale large enough, tokens and position rows of order 1).
 */
function randomizeState(m: Module, seed: number): void {
  const rng = new Rng(seed);
  for (const [name, e] of m.stateEntries()) {
    if ("value" in e) continue;
    const n = e.size, shape = e.shape, leaf = name.split(".").pop()!;
    let data: Float32Array;
    if (leaf === "running_var") data = rng.uniformArray(n, 0.5, 1.5);
    else if (leaf === "gamma") data = rng.uniformArray(n, 0.1, 0.4);
    else if (leaf === "weight" && shape.length === 1) data = rng.uniformArray(n, 0.5, 1.5);
    else if (leaf === "weight" && shape.length === 2) {
      const b = Math.sqrt(3 / shape[1]);
      data = rng.uniformArray(n, -b, b);
    } else if (leaf === "weight") continue; // conv: keep the fan-scaled init
    else if (/token|pos_embed/.test(leaf)) data = rng.uniformArray(n, -0.5, 0.5);
    else data = rng.uniformArray(n, -0.2, 0.2); // biases, running_mean
    upload(e.buffer, data);
  }
}

/** Sinter's eval forward: features `[B, C, H', W']` and pooled `[B, C]` on the host. */
async function sinterForward(
  model: ModelWrapper,
  x: Float32Array,
  shape: number[],
): Promise<{ features: Float32Array; pooled: Float32Array; fshape: number[] }> {
  const xt = tensor(x, shape);
  const [f, p] = noGrad(() =>
    tidy(() => {
      const out = model.forwardFeatures(xt);
      return [out.features, model.forwardPool(out)] as [Tensor, Tensor];
    })
  );
  const res = {
    features: (await f.data()) as Float32Array,
    pooled: (await p.data()) as Float32Array,
    fshape: [...f.shape],
  };
  f.dispose();
  p.dispose();
  xt.dispose();
  return res;
}

/** Runs ONNX bytes in ONNX Runtime (CPU) on one input. */
async function runOrt(
  bytes: Uint8Array,
  x: Float32Array,
  shape: number[],
): Promise<{ features: Ort.Tensor; pooled: Ort.Tensor }> {
  const ort = await loadOrt();
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ["cpu"],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: "disabled",
  });
  try {
    assert.deepEqual([...session.inputNames], ["input"]);
    assert.deepEqual([...session.outputNames], ["features", "pooled"]);
    const out = await session.run({ input: new ort.Tensor("float32", x, shape) });
    return { features: out.features, pooled: out.pooled };
  } finally {
    await session.release();
  }
}

/**
 * Exports `model` for `exportShape`, runs it on a random `runShape` input in ORT and in Sinter
 * (eval), and compares both outputs at rtol 1e-4 / atol 1e-5 of the max.
 */
async function checkExport(
  model: ModelWrapper,
  exportShape: number[],
  runShape: number[],
  opts: { dynamicBatch?: boolean; seed?: number; input?: Float32Array } = {},
): Promise<Uint8Array> {
  await loadOrt(); // fail fast without --allow-ffi
  model.getModel().eval();
  const bytes = await exportOnnx(model, {
    inputShape: exportShape,
    dynamicBatch: opts.dynamicBatch,
  });
  const n = runShape.reduce((a, b) => a * b, 1);
  const x = opts.input ?? new Rng(opts.seed ?? 3).uniformArray(n, -2, 2);
  const ref = await sinterForward(model, x, runShape);
  const got = await runOrt(bytes, x, runShape);
  assert.deepEqual([...got.features.dims], ref.fshape, `${model.name}: features shape`);
  assert.deepEqual([...got.pooled.dims], [runShape[0], model.featureDim], `${model.name}: pooled`);
  for (
    const [k, g, r] of [
      ["features", got.features.data, ref.features],
      ["pooled", got.pooled.data, ref.pooled],
    ] as const
  ) {
    const c = compareClose(g as Float32Array, r, RTOL, ATOL);
    if (Deno.env.get("SINTER_VERBOSE")) console.log(`${model.name} ${k}: ${c.message}`);
    assert.ok(c.ok, `${model.name} ${k}: ORT vs Sinter: ${c.message}`);
  }
  return bytes;
}

Deno.test("onnx proto: varints and fields encode as protobuf does", () => {
  assert.deepEqual([...varint(0)], [0]);
  assert.deepEqual([...varint(150)], [0x96, 0x01]);
  assert.deepEqual([...varint(2 ** 40)], [0x80, 0x80, 0x80, 0x80, 0x80, 0x20]);
  assert.deepEqual([...varint(-1)], [...new Array(9).fill(0xff), 0x01]);
  const m = new Encoded().int(1, 8).string(2, "ab").float(3, 1).packedInts(4, [1, 300]);
  assert.deepEqual(
    [...m.toBytes()],
    [0x08, 8, 0x12, 2, 97, 98, 0x1d, 0, 0, 0x80, 0x3f, 0x22, 3, 1, 0xac, 0x02],
  );
  const outer = new Encoded().message(7, m);
  assert.equal(outer.length, 2 + m.length);
  assert.deepEqual([...outer.toBytes()].slice(0, 2), [0x3a, m.length]);
});

Deno.test("onnx export: sinter/tinycnn16 matches ORT (dynamic batch)", async () => {
  const model = createModel("sinter/tinycnn16", { seed: 1 });
  randomizeState(model.getModel(), 11);
  await checkExport(model, [1, 3, 20, 18], [2, 3, 20, 18]);
  model.getModel().dispose();
});

Deno.test("onnx export: tiny ResNet BasicBlock and Bottleneck + CIFAR stem match ORT", async () => {
  const basic = resnetWrapper(
    "tiny-resnet-basic",
    new ResNet({ block: "basic", layers: [1, 2, 1, 1], width: 4, numClasses: 5, seed: 2 }),
  );
  randomizeState(basic.getModel(), 12);
  await checkExport(basic, [2, 3, 40, 36], [2, 3, 40, 36], { dynamicBatch: false });
  basic.getModel().dispose();
  const bottleneck = resnetWrapper(
    "tiny-resnet-bottleneck",
    new ResNet({ block: "bottleneck", layers: [1, 1, 1, 1], width: 4, cifarStem: true, seed: 3 }),
  );
  randomizeState(bottleneck.getModel(), 13);
  await checkExport(bottleneck, [1, 3, 16, 12], [2, 3, 16, 12]);
  bottleneck.getModel().dispose();
});

Deno.test("onnx export: tiny timm ViT (resampled pos_embed, no qkv bias) matches ORT", async () => {
  const vit = new VisionTransformer({
    imgSize: 16,
    patchSize: 4,
    embedDim: 32,
    depth: 2,
    numHeads: 4,
    qkvBias: false,
    seed: 4,
  });
  const model = new TransformerWrapper("tiny-timm-vit", vit, 32, 3, false);
  randomizeState(vit, 14);
  await checkExport(model, [1, 3, 24, 20], [2, 3, 24, 20]);
  // The table's own size (no resampling), LayerScale and a fixed batch.
  const ls = new VisionTransformer({
    imgSize: 16,
    patchSize: 4,
    embedDim: 24,
    depth: 1,
    numHeads: 2,
    initValues: 0.1,
    seed: 5,
  });
  randomizeState(ls, 15);
  const lsModel = new TransformerWrapper("tiny-timm-vit-ls", ls, 24, 3, false);
  await checkExport(lsModel, [1, 3, 16, 16], [1, 3, 16, 16], { dynamicBatch: false });
  vit.dispose();
  ls.dispose();
});

Deno.test("onnx export: tiny DINOv2 (registers + aa, no registers + offset) matches ORT", async () => {
  for (
    const [registers, mode, shape] of [[2, "aa", [2, 3, 42, 28]], [0, "offset", [
      1,
      3,
      35,
      35,
    ]]] as const
  ) {
    const dino = new DinoVisionTransformer({
      imgSize: 28,
      patchSize: 7,
      embedDim: 32,
      depth: 2,
      numHeads: 2,
      numRegisterTokens: registers,
      interpolation: mode,
      seed: 6,
    });
    randomizeState(dino, 16 + registers);
    const model = new TransformerWrapper(`tiny-dinov2-${mode}`, dino, 32, 3, true);
    await checkExport(model, [1, ...shape.slice(1)], [...shape]);
    dino.dispose();
  }
});

Deno.test("onnx export: the resnet_tv fixture (torchvision weights) matches ORT and the fixture", async () => {
  const dir = Deno.env.get("SINTER_MODEL_FIXTURES") ?? "/work/shared/refdata/models";
  const weights = await loadSafetensors(`${dir}/resnet_tv.safetensors`);
  const net = new ResNet({ block: "basic", layers: [1, 1, 1, 1], numClasses: 10 });
  const dict: Record<
    string,
    { dtype: "F32" | "I64"; shape: number[]; data: Float32Array | BigInt64Array }
  > = {};
  for (const k of weights.keys()) {
    const t = weights.get(k);
    dict[k] = t.dtype === "I64"
      ? { dtype: "I64", shape: [...t.shape], data: t.data as BigInt64Array }
      : { dtype: "F32", shape: [...t.shape], data: toFloat32(t) };
  }
  net.loadStateDict(dict, { source: "resnet_tv.safetensors" });
  const model = resnetWrapper("torchvision/resnet_tv", net);
  const spec = JSON.parse(await Deno.readTextFile(`${dir}/resnet_tv_eval_64x64.json`));
  const cases = await loadSafetensors(`${dir}/${spec.parameters.data_file}`);
  const img = cases.get(spec.inputs.image_u8.data_key).data as Uint8Array;
  const x = Float32Array.from(img, (v) => (v - 127.5) / 64);
  const bytes = await checkExport(model, [1, 3, 64, 64], [2, 3, 64, 64], { input: x });
  // ORT against the float64 PyTorch reference at the fixture case's tolerance.
  const got = await runOrt(bytes, x, [2, 3, 64, 64]);
  const [rtol, atol] = [spec.tolerance.rtol, spec.tolerance.atol];
  for (const [k, g] of [["layer4", got.features], ["pooled", got.pooled]] as const) {
    const ref = cases.float32(spec.outputs[k].data_key);
    const c = compareClose(g.data as Float32Array, ref, rtol, atol);
    assert.ok(c.ok, `resnet_tv ${k}: ORT vs PyTorch reference: ${c.message}`);
  }
  net.dispose();
});

Deno.test("onnx export: unsupported models and bad shapes give clear errors", async () => {
  class Odd extends Module {}
  const odd: ModelWrapper = {
    name: "test/odd",
    featureDim: 4,
    inChannels: 3,
    architectureInfo: { kind: "convolutional", norm: "batchnorm" },
    forwardFeatures: () => {
      throw new Error("unused");
    },
    forwardPool: (f) => f.features,
    getModel: () => new Odd(),
  };
  await assert.rejects(
    exportOnnx(odd, { inputShape: [1, 3, 8, 8] }),
    /test\/odd: no ONNX export for a Odd backbone; supported: ResNet/,
  );
  const cnn = createModel("sinter/tinycnn16");
  await assert.rejects(exportOnnx(cnn, { inputShape: [1, 4, 8, 8] }), /\[B, 3, H, W\]/);
  await assert.rejects(exportOnnx(cnn, { inputShape: [1, 3, 8] }), /inputShape must be/);
  cnn.getModel().dispose();
  const vit = new VisionTransformer({
    imgSize: 8,
    patchSize: 4,
    embedDim: 8,
    depth: 1,
    numHeads: 2,
  });
  const vw = new TransformerWrapper("tiny-vit", vit, 8, 3, false);
  await assert.rejects(
    exportOnnx(vw, { inputShape: [1, 3, 10, 8] }),
    /multiples of the patch size 4/,
  );
  vit.dispose();
});

Deno.test("onnx export: saveOnnx writes the file atomically", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/m.onnx`;
    const bytes = Uint8Array.of(1, 2, 3);
    await saveOnnx(path, bytes);
    assert.deepEqual([...await Deno.readFile(path)], [1, 2, 3]);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["m.onnx"]);
    await assert.rejects(saveOnnx(`${dir}/missing/m.onnx`, bytes), /cannot save/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
