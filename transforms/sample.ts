/**
 * View specifications and the host-side random draws of each image's parameters, from a
 * seeded {@link Rng} so a run is reproducible. Distributions follow torchvision 0.14
 * (`RandomResizedCrop.get_params`, `ColorJitter.get_params`) and LightlyTrain's
 * albumentations pipeline (flip/gray/blur/solarize probabilities, blur kernel size from sigma,
 * `ChannelDrop`).
 *
 * Draw order per image (each only when the op is enabled): channel drop, crop, horizontal
 * flip, vertical flip, rotation, colour jitter (apply?, order, b, c, s, h), gray, blur
 * (apply?, sigma, kernel size), solarize.
 *
 * @module
 */
import type { Rng } from "../core/random.ts";
import { identityParams, type ImageParams } from "./plan.ts";

/** One view's augmentation pipeline, fully resolved (what `config.ts` produces). */
export interface ViewSpec {
  /** Name for logs (e.g. "global_0", "local_3"). */
  name: string;
  /** Output size `[h, w]`. */
  size: [number, number];
  /** Random resized crop (area fraction and aspect-ratio ranges); null: resize the whole image. */
  crop: { scale: [number, number]; ratio: [number, number] } | null;
  /** Probability of a horizontal flip. */
  hflipProb: number;
  /** Probability of a vertical flip. */
  vflipProb: number;
  /** Random rotation by an angle uniform in [-degrees, degrees], with probability `prob`. */
  rotation: { prob: number; degrees: number } | null;
  /** Colour jitter with maximal strengths (already multiplied by `strength`). */
  jitter: {
    prob: number;
    brightness: number;
    contrast: number;
    saturation: number;
    hue: number;
  } | null;
  /** Probability of grayscale. */
  grayProb: number;
  /** Gaussian blur: sigma uniform in `sigmas`; kernel size range `blurLimit` (0: from sigma). */
  blur: { prob: number; sigmas: [number, number]; blurLimit: [number, number] } | null;
  /** Solarize with probability `prob` at `threshold` (in [0, 1]). */
  solarize: { prob: number; threshold: number } | null;
  /** Per-channel mean and std of the output channels. */
  normalize: { mean: number[]; std: number[] };
  /** Keep `keep` channels, dropping the others with probabilities proportional to `weights`. */
  channelDrop: { keep: number; weights: number[] } | null;
}

/** The default aspect-ratio range of a random resized crop. */
export const DEFAULT_RATIO: [number, number] = [3 / 4, 4 / 3];

/** Python / NumPy rounding: half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Integer uniform in [lo, hi). */
function randint(rng: Rng, lo: number, hi: number): number {
  return lo + Math.min(Math.floor(rng.next() * (hi - lo)), hi - lo - 1);
}

/** torchvision `RandomResizedCrop.get_params`: `[top, left, height, width]` of an `h x w` image. */
export function sampleCrop(
  rng: Rng,
  height: number,
  width: number,
  scale: readonly [number, number],
  ratio: readonly [number, number] = DEFAULT_RATIO,
): [number, number, number, number] {
  const area = height * width;
  const lr0 = Math.log(ratio[0]), lr1 = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(lr0, lr1));
    const w = roundHalfEven(Math.sqrt(target * aspect));
    const h = roundHalfEven(Math.sqrt(target / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      return [randint(rng, 0, height - h + 1), randint(rng, 0, width - w + 1), h, w];
    }
  }
  const inRatio = width / height;
  let w = width, h = height;
  if (inRatio < Math.min(...ratio)) h = roundHalfEven(w / Math.min(...ratio));
  else if (inRatio > Math.max(...ratio)) w = roundHalfEven(h * Math.max(...ratio));
  return [Math.floor((height - h) / 2), Math.floor((width - w) / 2), h, w];
}

/** A uniformly random permutation of `0..n-1` (Fisher-Yates). */
export function randperm(rng: Rng, n: number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = randint(rng, 0, i + 1);
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/**
 * LightlyTrain `ChannelDrop`: drops `weights.length - keep` channels without replacement,
 * each draw with probability proportional to the remaining weights; returns the kept
 * channels in ascending order.
 */
export function sampleChannelDrop(rng: Rng, weights: readonly number[], keep: number): number[] {
  const remaining = weights.map((_, i) => i);
  for (let k = 0; k < weights.length - keep; k++) {
    const total = remaining.reduce((s, c) => s + weights[c], 0);
    let u = rng.next() * total;
    let pick = remaining.findLast((c) => weights[c] > 0)!;
    for (const c of remaining) {
      if (weights[c] <= 0) continue;
      if (u < weights[c]) {
        pick = c;
        break;
      }
      u -= weights[c];
    }
    remaining.splice(remaining.indexOf(pick), 1);
  }
  return remaining;
}

/** OpenCV's Gaussian kernel size for a sigma on uint8 images: `round(6 sigma + 1) | 1`. */
export function blurKernelSize(sigma: number): number {
  return roundHalfEven(sigma * 3 * 2 + 1) | 1;
}

function bernoulli(rng: Rng, p: number): boolean {
  return p > 0 && rng.next() < p;
}

/**
 * Draws the parameters of one image of a view. `height`/`width` are the image's valid size,
 * `channels` the source channels.
 */
export function drawImageParams(
  spec: ViewSpec,
  rng: Rng,
  src: number,
  height: number,
  width: number,
  channels: number,
): ImageParams {
  const p = identityParams(src, height, width, channels);
  if (spec.channelDrop) {
    p.channels = sampleChannelDrop(rng, spec.channelDrop.weights, spec.channelDrop.keep);
  }
  if (spec.crop) p.crop = sampleCrop(rng, height, width, spec.crop.scale, spec.crop.ratio);
  p.hflip = bernoulli(rng, spec.hflipProb);
  p.vflip = bernoulli(rng, spec.vflipProb);
  if (spec.rotation && bernoulli(rng, spec.rotation.prob)) {
    const d = spec.rotation.degrees;
    p.angle = rng.uniform(-d, d);
  }
  const j = spec.jitter;
  if (j && bernoulli(rng, j.prob)) {
    const order = randperm(rng, 4);
    const factor = (s: number) => rng.uniform(Math.max(0, 1 - s), 1 + s);
    const on = [j.brightness > 0, j.contrast > 0, j.saturation > 0, j.hue > 0];
    if (on[0]) p.brightness = factor(j.brightness);
    if (on[1]) p.contrast = factor(j.contrast);
    if (on[2]) p.saturation = factor(j.saturation);
    if (on[3]) p.hue = rng.uniform(-j.hue, j.hue);
    p.steps = order.filter((id) => on[id]);
  }
  p.gray = bernoulli(rng, spec.grayProb);
  const b = spec.blur;
  if (b && bernoulli(rng, b.prob)) {
    const sigma = rng.uniform(b.sigmas[0], b.sigmas[1]);
    let k = b.blurLimit[1] > 0 ? randint(rng, b.blurLimit[0], b.blurLimit[1] + 1) : 0;
    if (k === 0) k = sigma > 0 ? blurKernelSize(sigma) : 1;
    else if (k % 2 === 0) k += 1;
    p.sigma = sigma;
    p.radius = sigma > 0 ? (k - 1) / 2 : 0;
  }
  if (spec.solarize && bernoulli(rng, spec.solarize.prob)) p.solarize = spec.solarize.threshold;
  return p;
}
