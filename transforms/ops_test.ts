// The deterministic transform ops and the raw kernels against the float64 references, on small
// batches whose images get different parameters (so per-image rows are really read).
import assert from "node:assert/strict";
import { initDevice } from "../core/device.ts";
import { Rng } from "../core/random.ts";
import { tensor } from "../core/tensor.ts";
import { assertAllClose } from "../core/testing.ts";
import { floatBatch, uploadU8Batch } from "./batch.ts";
import { blurFinishRaw, colorRaw, resampleRaw } from "./kernels.ts";
import {
  adjustBrightness,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  colorJitter,
  gaussianBlur,
  hflip,
  normalize,
  resizedCrop,
  rgbToGrayscale,
  rotate,
  solarize,
  toFloat,
  vflip,
} from "./ops.ts";
import { identityParams, type ImageParams, packParams, STRIDE } from "./plan.ts";
import { blurRef, colorRef, type HostImages, resampleRef } from "./reference.ts";

await initDevice();

const B = 2, H = 6, W = 7, HW = H * W;
const SHAPE = [B, 3, H, W];

function image(seed: number, n = B * 3 * HW): Float32Array {
  return new Rng(seed).uniformArray(n, 0, 1);
}

/** Reference of an op applied image by image with the same params. */
function perImage(
  x: Float32Array,
  C: number,
  f: (img: Float32Array) => ArrayLike<number>,
): number[] {
  const out: number[] = [];
  for (let b = 0; b < x.length / (C * HW); b++) {
    out.push(...Array.from(f(x.subarray(b * C * HW, (b + 1) * C * HW))));
  }
  return out;
}

function params(edit: (p: ImageParams) => void): ImageParams {
  const p = identityParams(0, H, W, 3);
  edit(p);
  return p;
}

const colorCases: [
  string,
  (x: ReturnType<typeof tensor>) => ReturnType<typeof tensor>,
  ImageParams,
][] = [
  [
    "brightness",
    (x) => adjustBrightness(x, 1.7),
    params((p) => [p.steps, p.brightness] = [[0], 1.7]),
  ],
  ["contrast", (x) => adjustContrast(x, 0.45), params((p) => [p.steps, p.contrast] = [[1], 0.45])],
  [
    "saturation",
    (x) => adjustSaturation(x, 1.9),
    params((p) => [p.steps, p.saturation] = [[2], 1.9]),
  ],
  ["hue+", (x) => adjustHue(x, 0.31), params((p) => [p.steps, p.hue] = [[3], 0.31])],
  ["hue-", (x) => adjustHue(x, -0.5), params((p) => [p.steps, p.hue] = [[3], -0.5])],
  ["gray", (x) => rgbToGrayscale(x), params((p) => p.gray = true)],
];
for (const [name, op, p] of colorCases) {
  Deno.test(`transforms op ${name} matches the reference`, async () => {
    const xd = image(11);
    const x = tensor(xd, SHAPE);
    const y = op(x);
    assertAllClose(
      await y.data(),
      perImage(xd, 3, (img) => colorRef(img, HW, p)),
      1e-5,
      1e-6,
      name,
    );
    // The input is not modified.
    assert.deepEqual(Array.from(await x.data()), Array.from(xd));
    x.dispose();
    y.dispose();
  });
}

Deno.test("transforms colorJitter: every order of four steps, contrast mean per image", async () => {
  const xd = image(12);
  for (const order of [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1], [1, 3, 0, 2]]) {
    const d = { order, brightness: 1.3, contrast: 0.6, saturation: 1.5, hue: -0.2 };
    const x = tensor(xd, SHAPE);
    const y = colorJitter(x, d);
    const p = params((p) => Object.assign(p, { steps: order, ...d }));
    assertAllClose(
      await y.data(),
      perImage(xd, 3, (img) => colorRef(img, HW, p)),
      1e-5,
      1e-6,
      `${order}`,
    );
    x.dispose();
    y.dispose();
  }
  assert.throws(() =>
    colorJitter(tensor(xd, SHAPE), {
      order: [0, 0],
      brightness: 1,
      contrast: 1,
      saturation: 1,
      hue: 0,
    })
  );
});

Deno.test("transforms color kernel: per-image rows, contrast after other steps", async () => {
  // Three images, each with its own sequence; contrast's mean is taken mid-sequence.
  const n = 3, h = 9, w = 31;
  const xd = new Rng(13).uniformArray(n * 3 * h * w, 0, 1);
  const rows: ImageParams[] = [
    params((p) => Object.assign(p, { steps: [3, 0, 1], hue: 0.4, brightness: 1.6, contrast: 1.8 })),
    params((p) => Object.assign(p, { steps: [2, 1], saturation: 0.2, contrast: 0.3, gray: true })),
    params(() => {}),
  ];
  const x = tensor(xd, [n, 3, h, w]);
  const prm = tensor(packParams(rows), [n * STRIDE]);
  colorRaw(x, prm);
  const got = await x.data();
  rows.forEach((p, i) => {
    const img = xd.subarray(i * 3 * h * w, (i + 1) * 3 * h * w);
    const want = colorRef(img, h * w, p);
    assertAllClose(
      got.subarray(i * 3 * h * w, (i + 1) * 3 * h * w),
      want,
      1e-5,
      1e-6,
      `image ${i}`,
    );
  });
  x.dispose();
  prm.dispose();
});

Deno.test("transforms rgbToGrayscale with one output channel", async () => {
  const xd = image(14);
  const x = tensor(xd, SHAPE);
  const y = rgbToGrayscale(x, 1);
  assert.deepEqual(y.shape, [B, 1, H, W]);
  const want = perImage(
    xd,
    3,
    (img) => colorRef(img, HW, params((p) => p.gray = true)).subarray(0, HW),
  );
  assertAllClose(await y.data(), want, 1e-5, 1e-6);
  x.dispose();
  y.dispose();
});

Deno.test("transforms gaussianBlur (separable, reflect) and its checks", async () => {
  for (const [k, s] of [[5, 0.8], [3, 2.5], [11, 1.7]] as const) {
    const xd = image(15);
    const x = tensor(xd, SHAPE);
    const y = gaussianBlur(x, k, s);
    const want = perImage(xd, 3, (img) => blurRef(img, 3, H, W, (k - 1) / 2, s));
    assertAllClose(await y.data(), want, 1e-5, 1e-6, `k${k}`);
    x.dispose();
    y.dispose();
  }
  const x = tensor(image(15), SHAPE);
  assert.throws(() => gaussianBlur(x, 4, 1), /odd/);
  assert.throws(() => gaussianBlur(x, 15, 1), /reflect padding/);
  x.dispose();
});

Deno.test("transforms solarize (>=) and normalize", async () => {
  const xd = image(16);
  xd.set([0.75, 0.5, 0.7499999, 0.75000006, 0, 1]);
  const x = tensor(xd, SHAPE);
  const y = solarize(x, 0.75);
  const want = Array.from(xd, (v) => Math.fround(v) >= Math.fround(0.75) ? 1 - v : v);
  assertAllClose(await y.data(), want, 0, 1e-7);
  assert.deepEqual((await y.data())[0], 0.25);
  const mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225];
  const z = normalize(x, mean, std);
  const wantN = Array.from(
    xd,
    (v, i) => (v - mean[Math.floor(i / HW) % 3]) / std[Math.floor(i / HW) % 3],
  );
  assertAllClose(await z.data(), wantN, 1e-5, 1e-6);
  assert.throws(() => normalize(x, [0.5], [0.5]), /3 values/);
  for (const t of [x, y, z]) t.dispose();
});

Deno.test("transforms flips are exact index maps", async () => {
  const xd = image(17);
  const x = tensor(xd, SHAPE);
  const h = await hflip(x).data();
  const v = await vflip(x).data();
  for (let p = 0; p < B * 3; p++) {
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < W; j++) {
        assert.deepEqual(h[(p * H + i) * W + j], xd[(p * H + i) * W + (W - 1 - j)]);
        assert.deepEqual(v[(p * H + i) * W + j], xd[(p * H + (H - 1 - i)) * W + j]);
      }
    }
  }
  x.dispose();
});

Deno.test("transforms rotate: 90 degrees is np.rot90 (counter-clockwise), 30 degrees matches", async () => {
  const n = 5;
  const xd = new Rng(18).uniformArray(3 * n * n, 0, 1);
  const x = tensor(xd, [1, 3, n, n]);
  const r = await rotate(x, 90).data();
  const want: number[] = [];
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) want.push(xd[(c * n + j) * n + (n - 1 - i)]);
    }
  }
  assertAllClose(r, want, 1e-5, 1e-6, "rot90");
  const p = identityParams(0, n, n, 3);
  p.angle = 30;
  const src: HostImages = { format: "f32-nchw", data: xd, height: n, width: n, channels: 3 };
  assertAllClose(await rotate(x, 30).data(), resampleRef(src, p, [n, n]), 1e-5, 1e-6, "rot30");
  x.dispose();
});

Deno.test("transforms resizedCrop: antialias on/off, up and down, against the reference", async () => {
  const h = 13, w = 17;
  const xd = new Rng(19).uniformArray(2 * 3 * h * w, 0, 1);
  const x = tensor(xd, [2, 3, h, w]);
  const src: HostImages = { format: "f32-nchw", data: xd, height: h, width: w, channels: 3 };
  const cases: [[number, number, number, number], [number, number]][] = [
    [[0, 0, h, w], [5, 4]],
    [[2, 3, 9, 11], [20, 3]],
    [[1, 0, 12, 17], [3, 30]],
    [[4, 5, 2, 2], [7, 7]],
  ];
  for (const [box, size] of cases) {
    for (const aa of [true, false]) {
      const y = resizedCrop(x, box, size, aa);
      const want: number[] = [];
      for (let b = 0; b < 2; b++) {
        const p = identityParams(b, h, w, 3);
        p.crop = [...box];
        p.antialias = aa;
        want.push(...resampleRef(src, p, size));
      }
      assertAllClose(await y.data(), want, 1e-5, 1e-6, `${box} -> ${size} aa ${aa}`);
      y.dispose();
    }
  }
  assert.throws(() => resizedCrop(x, [10, 0, 5, 5], [4, 4]), /outside/);
  x.dispose();
});

Deno.test("transforms toFloat: packed uint8 HWC to float NCHW, u / 255", async () => {
  const [b, h, w, c] = [2, 3, 5, 3];
  const u = new Uint8Array(b * h * w * c).map((_, i) => (i * 37 + 11) % 256);
  const batch = uploadU8Batch(u, [b, h, w, c]);
  const y = await toFloat(batch).data();
  for (let n = 0; n < b; n++) {
    for (let ch = 0; ch < c; ch++) {
      for (let i = 0; i < h * w; i++) {
        assert.deepEqual(
          y[(n * c + ch) * h * w + i],
          Math.fround(u[(n * h * w + i) * c + ch] / 255),
        );
      }
    }
  }
  batch.tensor.dispose();
});

Deno.test("transforms resample from uint8: channel map, valid sizes, rotation, flips", async () => {
  const [b, h, w, c] = [3, 11, 13, 5];
  const rng = new Rng(20);
  const u = new Uint8Array(b * h * w * c).map(() => Math.floor(rng.next() * 256));
  const sizes: [number, number][] = [[11, 13], [7, 9], [10, 4]];
  const batch = uploadU8Batch(u, [b, h, w, c], sizes);
  const rows: ImageParams[] = sizes.map(([hh, ww], i) => {
    const p = identityParams(i, hh, ww, c);
    p.crop = [1, 0, hh - 1, ww];
    p.channels = [4, 1, 0];
    p.hflip = i !== 1;
    p.vflip = i === 1;
    p.angle = i === 2 ? rng.uniform(-40, 40) : 0;
    return p;
  });
  const prm = tensor(packParams(rows), [rows.length * STRIDE]);
  const y = resampleRaw(batch, prm, rows.length, 3, [6, 8]);
  const src: HostImages = { format: "u8-hwc", data: u, height: h, width: w, channels: c };
  const want = rows.flatMap((p) => [...resampleRef(src, p, [6, 8])]);
  assertAllClose(await y.data(), want, 1e-5, 1e-6);
  // A float batch of the same pixels gives the same result.
  const f = toFloat(batch);
  const y2 = resampleRaw(floatBatch(f, sizes), prm, rows.length, 3, [6, 8]);
  assertAllClose(await y2.data(), want, 1e-5, 1e-6, "float source");
  for (const t of [prm, y, f, y2, batch.tensor]) t.dispose();
  assert.throws(() => uploadU8Batch(u, [b, h, w, c], [[12, 1], [1, 1], [1, 1]]), /outside/);
});

Deno.test("transforms finish kernel: per-image blur radius, solarize and normalize", async () => {
  const n = 3, c = 2, h = 8, w = 9;
  const xd = new Rng(21).uniformArray(n * c * h * w, 0, 1);
  const rows = [
    params((p) => Object.assign(p, { radius: 2, sigma: 1.1, solarize: 0.5 })),
    params((p) => Object.assign(p, { radius: 0, solarize: 0.3 })),
    params((p) => Object.assign(p, { radius: 4, sigma: 0.6 })),
  ];
  const mean = [0.3, 0.6], std = [0.5, 2];
  const x = tensor(xd, [n, c, h, w]);
  const prm = tensor(packParams(rows), [n * STRIDE]);
  const nrm = tensor([...mean, ...std], [4]);
  const y = await blurFinishRaw(x, prm, nrm, true).data();
  const want: number[] = [];
  rows.forEach((p, i) => {
    const img = blurRef(
      xd.subarray(i * c * h * w, (i + 1) * c * h * w),
      c,
      h,
      w,
      p.radius,
      p.sigma,
    );
    img.forEach((v, k) => {
      const s = p.solarize !== null && v >= p.solarize ? 1 - v : v;
      want.push((s - mean[Math.floor(k / (h * w))]) / std[Math.floor(k / (h * w))]);
    });
  });
  assertAllClose(y, want, 1e-5, 1e-6);
  assert.equal(y.length, want.length);
  for (const t of [x, prm, nrm]) t.dispose();
});
