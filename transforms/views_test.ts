// The random view pipeline on the GPU: every view of every image equals the float64 reference
// run with the parameters the pipeline drew; grouped and per-view runs agree bit for bit; a
// seed reproduces a run; channel drop and a whole DINO configuration run end to end.
import assert from "node:assert/strict";
import { initDevice } from "../core/device.ts";
import { Rng } from "../core/random.ts";
import { assertAllClose } from "../core/testing.ts";
import { uploadU8Batch } from "./batch.ts";
import { overrideTransforms, viewSpecs } from "./config.ts";
import { builtinTransforms } from "./defaults.ts";
import { type HostImages, viewRef } from "./reference.ts";
import type { ViewSpec } from "./sample.ts";
import { ViewPipeline } from "./views.ts";

await initDevice();

const NORM = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

function spec(name: string, size: [number, number], edit: Partial<ViewSpec> = {}): ViewSpec {
  return {
    name,
    size,
    crop: { scale: [0.2, 1], ratio: [3 / 4, 4 / 3] },
    hflipProb: 0.5,
    vflipProb: 0.3,
    rotation: { prob: 0.5, degrees: 30 },
    jitter: { prob: 0.9, brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.2 },
    grayProb: 0.3,
    blur: { prob: 0.6, sigmas: [0.1, 1.5], blurLimit: [0, 0] },
    solarize: { prob: 0.5, threshold: 0.5 },
    normalize: NORM,
    channelDrop: null,
    ...edit,
  };
}

function u8Images(seed: number, n: number): Uint8Array {
  const rng = new Rng(seed);
  return new Uint8Array(n).map(() => Math.floor(rng.next() * 256));
}

const [B, H, W, C] = [4, 19, 23, 3];
const bytes = u8Images(1, B * H * W * C);
const host: HostImages = { format: "u8-hwc", data: bytes, height: H, width: W, channels: C };
const specs = [spec("g0", [12, 10]), spec("l0", [6, 7], { blur: null }), spec("g1", [12, 10])];

Deno.test("views: each view of each image equals the reference with the drawn parameters", async () => {
  const batch = uploadU8Batch(bytes, [B, H, W, C]);
  const { out, params } = new ViewPipeline(specs).run(batch, new Rng(42));
  // The draws exercise every op at least once.
  const flat = params.flat();
  assert.ok(flat.some((p) => p.hflip) && flat.some((p) => p.vflip) && flat.some((p) => p.angle));
  assert.ok(flat.some((p) => p.steps.length === 4) && flat.some((p) => p.gray));
  assert.ok(flat.some((p) => p.radius > 0) && flat.some((p) => p.solarize !== null));
  for (let v = 0; v < specs.length; v++) {
    assert.deepEqual(out[v].shape, [B, 3, ...specs[v].size]);
    const got = await out[v].data();
    const n = 3 * specs[v].size[0] * specs[v].size[1];
    for (let b = 0; b < B; b++) {
      const want = viewRef(host, params[v][b], specs[v].size, NORM.mean, NORM.std);
      assertAllClose(got.subarray(b * n, (b + 1) * n), want, 1e-4, 1e-5, `view ${v} image ${b}`);
    }
    out[v].dispose();
  }
  batch.tensor.dispose();
});

Deno.test("views: grouped and per-view runs agree; a seed reproduces the run", async () => {
  const batch = uploadU8Batch(bytes, [B, H, W, C]);
  const pipe = new ViewPipeline(specs);
  assert.deepEqual(pipe.groups(3), [[0, 2], [1]]);
  const a = pipe.run(batch, new Rng(7));
  const g = pipe.runGrouped(batch, new Rng(7));
  const c = pipe.run(batch, new Rng(8));
  assert.deepEqual(a.params, g.params);
  assert.notDeepEqual(a.params, c.params);
  const grouped = await g.out[0].images.data();
  const v0 = await a.out[0].data(), v2 = await a.out[2].data();
  assert.deepEqual(grouped, Float32Array.from([...v0, ...v2]));
  const again = pipe.run(batch, new Rng(7));
  for (let v = 0; v < 3; v++) assert.deepEqual(await again.out[v].data(), await a.out[v].data());
  for (const t of [...a.out, ...c.out, ...again.out, ...g.out.map((x) => x.images), batch.tensor]) {
    t.dispose();
  }
});

Deno.test("views: channel drop on 5-channel images keeps the drawn channels", async () => {
  const [b, h, w, c] = [3, 9, 11, 5];
  const u = u8Images(2, b * h * w * c);
  const batch = uploadU8Batch(u, [b, h, w, c]);
  const sp = spec("drop", [5, 6], {
    jitter: null,
    grayProb: 0,
    solarize: null,
    channelDrop: { keep: 2, weights: [1, 0, 1, 1, 2] },
    normalize: { mean: [0.5, 0.4], std: [0.2, 0.3] },
  });
  const { out, params } = new ViewPipeline([sp]).run(batch, new Rng(3));
  assert.deepEqual(out[0].shape, [b, 2, 5, 6]);
  const got = await out[0].data();
  const src: HostImages = { format: "u8-hwc", data: u, height: h, width: w, channels: c };
  params[0].forEach((p, i) => {
    assert.ok(p.channels.includes(1));
    const want = viewRef(src, p, [5, 6], [0.5, 0.4], [0.2, 0.3]);
    assertAllClose(got.subarray(i * 60, (i + 1) * 60), want, 1e-4, 1e-5, `image ${i}`);
  });
  out[0].dispose();
  // Jitter needs RGB.
  assert.throws(
    () => new ViewPipeline([{ ...sp, jitter: spec("x", [2, 2]).jitter }]).run(batch, new Rng(1)),
    /3 channels/,
  );
  batch.tensor.dispose();
});

Deno.test("views: a small DINO configuration end to end", async () => {
  const m = overrideTransforms(builtinTransforms("dino"), {
    image_size: [16, 16],
    "local_view.view_size": [8, 8],
    "local_view.num_views": 3,
  });
  const pipe = new ViewPipeline(viewSpecs(m));
  const batch = uploadU8Batch(bytes, [B, H, W, C]);
  const { out } = pipe.runGrouped(batch, new Rng(5));
  assert.deepEqual(out.map((g) => g.views), [[0, 1], [2, 3, 4]]);
  assert.deepEqual(out.map((g) => g.images.shape), [[2 * B, 3, 16, 16], [3 * B, 3, 8, 8]]);
  for (const g of out) {
    const d = await g.images.data();
    assert.ok(d.every(Number.isFinite));
    // Normalized ImageNet-style values stay within [(0 - 0.485) / 0.229, (1 - 0.406) / 0.225].
    assert.ok(d.every((x) => x >= -2.2 && x <= 2.7));
    g.images.dispose();
  }
  batch.tensor.dispose();
});

Deno.test("views: 1-channel brightness and contrast jitter (FMNIST recipe) equal the reference", async () => {
  const [b1, h1, w1] = [6, 28, 28];
  const gray = u8Images(3, b1 * h1 * w1);
  const norm = { mean: [0.286], std: [0.353] };
  const s = spec("g", [28, 28], {
    rotation: null,
    vflipProb: 0,
    jitter: { prob: 1, brightness: 0.4, contrast: 0.4, saturation: 0, hue: 0 },
    grayProb: 0,
    blur: null,
    solarize: null,
    normalize: norm,
  });
  const batch = uploadU8Batch(gray, [b1, h1, w1, 1]);
  const { out, params } = new ViewPipeline([s]).run(batch, new Rng(5));
  const flat = params[0];
  // Both orders are drawn, and every image gets both ops.
  assert.ok(flat.some((p) => p.steps[0] === 0) && flat.some((p) => p.steps[0] === 1));
  assert.ok(flat.every((p) => p.steps.length === 2));
  const got = await out[0].data();
  const src: HostImages = { format: "u8-hwc", data: gray, height: h1, width: w1, channels: 1 };
  const n = h1 * w1;
  for (let i = 0; i < b1; i++) {
    const want = viewRef(src, flat[i], [28, 28], norm.mean, norm.std);
    assertAllClose(got.subarray(i * n, (i + 1) * n), want, 1e-4, 1e-5, `image ${i}`);
  }
  out[0].dispose();
  batch.tensor.dispose();
});

Deno.test("views: colour jitter on one channel needs single_channel and no saturation or hue", () => {
  const simclr = builtinTransforms("simclr");
  const gray = { num_channels: 1, normalize: { mean: [0.5], std: [0.5] } };
  // LightlyTrain's rule: off on 1 channel.
  assert.equal(viewSpecs(overrideTransforms(simclr, gray))[0].jitter, null);
  const on = overrideTransforms(simclr, {
    ...gray,
    color_jitter: {
      prob: 0.8,
      strength: 1,
      brightness: 0.4,
      contrast: 0.4,
      saturation: 0,
      hue: 0,
      single_channel: true,
    },
  });
  assert.deepEqual(viewSpecs(on)[0].jitter, {
    prob: 0.8,
    brightness: 0.4,
    contrast: 0.4,
    saturation: 0,
    hue: 0,
  });
  assert.throws(
    () => viewSpecs(overrideTransforms(simclr, { ...gray, "color_jitter.single_channel": true })),
    /saturation and hue need RGB/,
  );
});
