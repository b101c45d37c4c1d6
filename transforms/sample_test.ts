// Statistical tests of the host-side random draws (no GPU). Every test uses a fixed seed, so it
// is deterministic; the bounds are still set from the sampling distribution (5 standard
// deviations for rates and means, Kolmogorov-Smirnov at alpha = 0.001 for shapes), so a correct
// sampler passes for any seed with overwhelming probability, while each bound is tight enough
// that a wrong probability, range or distribution shape (noted beside each check) fails.
import assert from "node:assert/strict";
import { Rng } from "../core/random.ts";
import {
  blurKernelSize,
  DEFAULT_RATIO,
  drawImageParams,
  randperm,
  roundHalfEven,
  sampleChannelDrop,
  sampleCrop,
  type ViewSpec,
} from "./sample.ts";

/** Kolmogorov-Smirnov distance between samples and a CDF. */
function ksDistance(xs: number[], cdf: (x: number) => number): number {
  const s = [...xs].sort((a, b) => a - b);
  let d = 0;
  s.forEach((x, i) => {
    const f = cdf(x);
    d = Math.max(d, Math.abs(f - i / s.length), Math.abs(f - (i + 1) / s.length));
  });
  return d;
}

/** KS critical value at alpha = 0.001. */
const ksBound = (n: number) => 1.95 / Math.sqrt(n);

/** Asserts `k` successes of `n` Bernoulli(p) draws lie within 5 standard deviations. */
function assertRate(what: string, k: number, n: number, p: number): void {
  const sd = Math.sqrt(n * p * (1 - p));
  assert.ok(
    Math.abs(k - n * p) <= 5 * sd,
    `${what}: ${k} of ${n}, expected ${n * p} +- ${(5 * sd).toFixed(1)}`,
  );
}

function spec(edit: Partial<ViewSpec> = {}): ViewSpec {
  return {
    name: "test",
    size: [8, 8],
    crop: null,
    hflipProb: 0,
    vflipProb: 0,
    rotation: null,
    jitter: null,
    grayProb: 0,
    blur: null,
    solarize: null,
    normalize: { mean: [0, 0, 0], std: [1, 1, 1] },
    channelDrop: null,
    ...edit,
  };
}

Deno.test("sample crop: area fractions fill the scale range uniformly, aspect log-uniform", () => {
  // 400x400 keeps the integer rounding of h and w below 1% of the area.
  const H = 400, W = 400, N = 6000;
  for (const scale of [[0.08, 1], [0.05, 0.14], [0.32, 1]] as [number, number][]) {
    const rng = new Rng(1);
    const frac: number[] = [], logAspect: number[] = [];
    for (let i = 0; i < N; i++) {
      const [t, l, h, w] = sampleCrop(rng, H, W, scale);
      assert.ok(t >= 0 && l >= 0 && t + h <= H && l + w <= W, "crop inside the image");
      const f = (h * w) / (H * W);
      // Range, up to the rounding of h and w to integers (at most (h + w) / 2 + 1/4 pixels):
      // a wrong lower or upper scale bound puts crops outside.
      const e = (0.5 * (h + w) + 0.25) / (H * W);
      assert.ok(f >= scale[0] - e && f <= scale[1] + e, `fraction ${f} outside ${scale}`);
      frac.push(f);
      logAspect.push(Math.log(w / h));
    }
    // Spread: the range ends are reached (a lower bound set too high, e.g. 0.14 for 0.08,
    // leaves the first 1% of the range empty; ~60 crops are expected there).
    const span = scale[1] - scale[0];
    assert.ok(Math.min(...frac) < scale[0] + 0.01 * span, `min ${Math.min(...frac)}`);
    assert.ok(Math.max(...frac) > scale[1] - 0.02 * span, `max ${Math.max(...frac)}`);
    // Shape: below area 0.75 no aspect ratio is rejected, so the accepted fraction is uniform
    // there (sampling the side length uniformly instead gives KS distance ~0.15).
    const cut = Math.min(scale[1], 0.7);
    const low = frac.filter((f) => f <= cut);
    const d = ksDistance(low, (x) => Math.min(Math.max((x - scale[0]) / (cut - scale[0]), 0), 1));
    assert.ok(d < ksBound(low.length) + 0.01, `area KS ${d} (n ${low.length}) for ${scale}`);
    // Aspect: log-uniform in [3/4, 4/3] (linear-uniform would give KS ~0.07), so both ends.
    const [a0, a1] = DEFAULT_RATIO.map(Math.log);
    const aspects = logAspect.filter((_, i) => frac[i] <= cut && frac[i] >= 0.04);
    const da = ksDistance(aspects, (x) => Math.min(Math.max((x - a0) / (a1 - a0), 0), 1));
    // Rounding h and w to integers widens the aspect by up to ~1%: allow 0.02 extra.
    assert.ok(da < ksBound(aspects.length) + 0.02, `aspect KS ${da}`);
  }
});

Deno.test("sample crop: positions uniform, fallback central crop, rounding half to even", () => {
  const rng = new Rng(2);
  let s = 0, n = 0;
  for (let i = 0; i < 4000; i++) {
    const [t, , h] = sampleCrop(rng, 300, 200, [0.08, 0.5]);
    if (h < 300) {
      s += t / (300 - h);
      n++;
    }
  }
  // Mean of U[0,1]-like positions: sd of the mean ~ 0.29 / sqrt(n).
  assert.ok(Math.abs(s / n - 0.5) < 5 * 0.29 / Math.sqrt(n), `mean position ${s / n}`);
  // A 10x100 strip cannot hold a crop of area >= 0.9 with aspect <= 4/3: central crop of
  // height 10 and width round(10 * 4/3) = 13.
  assert.deepEqual(sampleCrop(new Rng(3), 10, 100, [0.9, 1]), [0, 43, 10, 13]);
  assert.deepEqual([0.5, 1.5, 2.5, -0.5, 2.4].map(roundHalfEven), [0, 2, 2, -0, 2]);
});

Deno.test("sample flips, gray, solarize, jitter, blur and rotation rates follow their probabilities", () => {
  // 20000 draws: 5 sd of a rate at p = 0.5 is 0.018, so p = 0.48 or 0.52 already fails.
  const N = 20000;
  const probs = { h: 0.5, v: 0.1, rot: 0.3, jit: 0.8, gray: 0.2, blur: 0.5, sol: 0.2 };
  const sp = spec({
    hflipProb: probs.h,
    vflipProb: probs.v,
    rotation: { prob: probs.rot, degrees: 25 },
    jitter: { prob: probs.jit, brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1 },
    grayProb: probs.gray,
    blur: { prob: probs.blur, sigmas: [0.1, 2], blurLimit: [0, 0] },
    solarize: { prob: probs.sol, threshold: 0.5 },
  });
  const rng = new Rng(4);
  const count = { h: 0, v: 0, rot: 0, jit: 0, gray: 0, blur: 0, sol: 0 };
  const angles: number[] = [], sigmas: number[] = [];
  const factors: number[][] = [[], [], [], []];
  const orders = new Map<string, number>();
  for (let i = 0; i < N; i++) {
    const p = drawImageParams(sp, rng, 0, 32, 32, 3);
    count.h += +p.hflip;
    count.v += +p.vflip;
    if (p.angle !== 0) {
      count.rot++;
      angles.push(p.angle);
    }
    if (p.steps.length) {
      count.jit++;
      orders.set(p.steps.join(""), (orders.get(p.steps.join("")) ?? 0) + 1);
      factors[0].push(p.brightness);
      factors[1].push(p.contrast);
      factors[2].push(p.saturation);
      factors[3].push(p.hue);
    }
    count.gray += +p.gray;
    if (p.sigma > 0) {
      count.blur++;
      sigmas.push(p.sigma);
      assert.equal(p.radius, (blurKernelSize(p.sigma) - 1) / 2);
    }
    count.sol += +(p.solarize !== null);
  }
  for (const k of Object.keys(probs) as (keyof typeof probs)[]) {
    assertRate(k, count[k], N, probs[k]);
  }
  // Ranges and uniform shapes of the continuous draws.
  const uniformKs = (xs: number[], lo: number, hi: number, what: string) => {
    assert.ok(xs.every((x) => x >= lo && x <= hi), `${what} outside [${lo}, ${hi}]`);
    const d = ksDistance(xs, (x) => (x - lo) / (hi - lo));
    assert.ok(d < ksBound(xs.length), `${what} KS ${d}`);
  };
  uniformKs(angles, -25, 25, "angle");
  uniformKs(sigmas, 0.1, 2, "sigma");
  uniformKs(factors[0], 0.6, 1.4, "brightness");
  uniformKs(factors[1], 0.6, 1.4, "contrast");
  uniformKs(factors[2], 0.8, 1.2, "saturation");
  uniformKs(factors[3], -0.1, 0.1, "hue");
  // All 24 orders, equally likely: chi-square with 23 dof < 60 (p ~ 4e-5); a fixed or
  // partly fixed order gives thousands.
  assert.equal(orders.size, 24);
  const e = count.jit / 24;
  const chi2 = [...orders.values()].reduce((s, o) => s + (o - e) ** 2 / e, 0);
  assert.ok(chi2 < 60, `order chi2 ${chi2}`);
});

Deno.test("sample jitter: zero strengths are skipped, brightness range clipped at 0", () => {
  const rng = new Rng(5);
  const sp = spec({ jitter: { prob: 1, brightness: 1.5, contrast: 0, saturation: 0, hue: 0.5 } });
  for (let i = 0; i < 2000; i++) {
    const p = drawImageParams(sp, rng, 0, 16, 16, 3);
    assert.deepEqual([...p.steps].sort(), [0, 3]);
    assert.ok(p.brightness >= 0 && p.brightness <= 2.5);
    assert.ok(p.hue >= -0.5 && p.hue <= 0.5);
  }
});

Deno.test("sample blur kernel size from sigma (OpenCV uint8 rule) and fixed limits", () => {
  assert.deepEqual([0.05, 0.0834, 0.1, 0.5, 1, 2].map(blurKernelSize), [1, 3, 3, 5, 7, 13]);
  const rng = new Rng(6);
  const sp = spec({ blur: { prob: 1, sigmas: [1, 1], blurLimit: [3, 7] } });
  const seen = new Set<number>();
  for (let i = 0; i < 500; i++) seen.add(drawImageParams(sp, rng, 0, 16, 16, 3).radius);
  assert.deepEqual([...seen].sort(), [1, 2, 3]);
  // Distillation's sigma range (0, 0.1): radius 0 below 0.0833, else 1.
  const d = spec({ blur: { prob: 1, sigmas: [0, 0.1], blurLimit: [0, 0] } });
  let r1 = 0;
  for (let i = 0; i < 4000; i++) r1 += drawImageParams(d, rng, 0, 16, 16, 3).radius;
  assertRate("radius 1 in distillation blur", r1, 4000, 1 - 0.0833 / 0.1);
});

Deno.test("sample channel drop: weighted without replacement, zero weights always kept", () => {
  // Weights [1, 1, 0, 2], keep 2: channel 2 is always kept; the other kept one is 0 or 1 with
  // probability 5/12 each and 3 with 1/6 (sequential draws with renormalized weights).
  const rng = new Rng(7);
  const N = 12000;
  const kept = [0, 0, 0, 0];
  for (let i = 0; i < N; i++) {
    const k = sampleChannelDrop(rng, [1, 1, 0, 2], 2);
    assert.equal(k.length, 2);
    assert.ok(k.includes(2));
    assert.deepEqual(k, [...k].sort());
    for (const c of k) kept[c]++;
  }
  assertRate("kept 0", kept[0], N, 5 / 12);
  assertRate("kept 1", kept[1], N, 5 / 12);
  assertRate("kept 3", kept[3], N, 1 / 6);
  assert.deepEqual(sampleChannelDrop(rng, [1, 1, 1], 3), [0, 1, 2]);
});

Deno.test("sample permutations are uniform and the stream is reproducible", () => {
  const a = new Rng(8), b = new Rng(8);
  for (let i = 0; i < 100; i++) assert.deepEqual(randperm(a, 5), randperm(b, 5));
  const sp = spec({ crop: { scale: [0.08, 1], ratio: DEFAULT_RATIO }, hflipProb: 0.5 });
  const x = Array.from({ length: 50 }, () => drawImageParams(sp, a, 0, 64, 48, 3));
  const y = Array.from({ length: 50 }, () => drawImageParams(sp, b, 0, 64, 48, 3));
  assert.deepEqual(x, y);
  const z = Array.from({ length: 50 }, () => drawImageParams(sp, new Rng(9), 0, 64, 48, 3));
  assert.notDeepEqual(x, z);
});
