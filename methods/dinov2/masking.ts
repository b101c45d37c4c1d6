/**
 * DINOv2's iBOT block masking (facebookresearch/dinov2 `data/masking.py` and `collate.py`, as
 * vendored by lightly-train `_methods/dinov2/utils.py`), seeded by the method's {@link Rng}.
 *
 * `MaskingGenerator(grid, max_num_patches)` masks rectangles of random area in
 * `[min_num_patches, remaining]` and log-uniform aspect ratio in `[min_aspect, 1/min_aspect]`
 * until the requested number of patches is reached or 10 tries in a row add nothing.
 * `createCollatedMasks` masks `n_masked_crops` of the `n_crops` crops with target ratios spaced
 * by `linspace(ratio_min, ratio_max, n_masked_crops + 1)` (each uniform within its interval),
 * leaves the rest unmasked, and shuffles the crops.
 *
 * Python's `random.uniform(a, b)` is `a + (b − a)·u`, `random.randint(a, b)` is inclusive and
 * `random.shuffle` is Fisher-Yates from the end; `round` is half-to-even.
 *
 * @module
 */
import type { Rng } from "../../core/random.ts";

/** Options of {@link MaskingGenerator}. */
export interface MaskingOptions {
  /** Patch grid height. */
  height: number;
  /** Patch grid width. */
  width: number;
  /** Most patches one rectangle may add (lightly-train: `0.5·h·w`). */
  maxNumPatches: number;
  /** Fewest patches of a rectangle's target area (default 4). */
  minNumPatches?: number;
  /** Smallest aspect ratio (default 0.3). */
  minAspect?: number;
  /** Largest aspect ratio (default `1 / minAspect`). */
  maxAspect?: number;
}

/** Python `round()` (half to even). */
function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** DINOv2 `MaskingGenerator`: block masks on a patch grid. */
export class MaskingGenerator {
  /** Grid height. */
  readonly height: number;
  /** Grid width. */
  readonly width: number;
  /** Patches of the grid. */
  readonly numPatches: number;
  /** Fewest patches of a rectangle's target area. */
  readonly minNumPatches: number;
  /** Most patches one rectangle may add. */
  readonly maxNumPatches: number;
  /** `[log(minAspect), log(maxAspect)]`. */
  readonly logAspectRatio: [number, number];
  readonly #rng: Rng;

  constructor(rng: Rng, opts: MaskingOptions) {
    for (const k of ["height", "width"] as const) {
      if (!Number.isInteger(opts[k]) || opts[k] < 1) {
        throw new Error(`MaskingGenerator: ${k} must be a positive integer, got ${opts[k]}`);
      }
    }
    this.#rng = rng;
    this.height = opts.height;
    this.width = opts.width;
    this.numPatches = opts.height * opts.width;
    this.minNumPatches = opts.minNumPatches ?? 4;
    this.maxNumPatches = opts.maxNumPatches;
    const minAspect = opts.minAspect ?? 0.3;
    const maxAspect = opts.maxAspect || 1 / minAspect;
    this.logAspectRatio = [Math.log(minAspect), Math.log(maxAspect)];
  }

  #uniform(a: number, b: number): number {
    return a + (b - a) * this.#rng.next();
  }

  #randint(a: number, b: number): number {
    return a + Math.floor(this.#rng.next() * (b - a + 1));
  }

  /** Adds one rectangle (up to 10 tries); returns the patches newly masked. */
  #mask(mask: Uint8Array, maxMaskPatches: number): number {
    let delta = 0;
    for (let attempt = 0; attempt < 10; attempt++) {
      const targetArea = this.#uniform(this.minNumPatches, maxMaskPatches);
      const aspect = Math.exp(this.#uniform(this.logAspectRatio[0], this.logAspectRatio[1]));
      const h = roundHalfEven(Math.sqrt(targetArea * aspect));
      const w = roundHalfEven(Math.sqrt(targetArea / aspect));
      if (w < this.width && h < this.height) {
        const top = this.#randint(0, this.height - h);
        const left = this.#randint(0, this.width - w);
        let masked = 0;
        for (let i = top; i < top + h; i++) {
          for (let j = left; j < left + w; j++) masked += mask[i * this.width + j];
        }
        if (0 < h * w - masked && h * w - masked <= maxMaskPatches) {
          for (let i = top; i < top + h; i++) {
            for (let j = left; j < left + w; j++) {
              if (mask[i * this.width + j] === 0) {
                mask[i * this.width + j] = 1;
                delta++;
              }
            }
          }
        }
        if (delta > 0) break;
      }
    }
    return delta;
  }

  /** A mask `[height·width]` (row-major, 1 = masked) with up to `numMaskingPatches` patches. */
  generate(numMaskingPatches = 0): Uint8Array {
    const mask = new Uint8Array(this.numPatches);
    let count = 0;
    while (count < numMaskingPatches) {
      const maxMask = Math.min(numMaskingPatches - count, this.maxNumPatches);
      const delta = this.#mask(mask, maxMask);
      if (delta === 0) break;
      count += delta;
    }
    return mask;
  }
}

/** What {@link createCollatedMasks} returns (host arrays). */
export interface CollatedMasks {
  /** `[nCrops · numPatches]`, crop-major, 1 = masked. */
  masks: Uint8Array;
  /** Flat indices of the masked patches (`masks.flatten().nonzero()`), ascending. */
  indices: Int32Array;
  /** Per masked patch: `1 / (#masked patches of its crop)`. */
  weights: Float32Array;
}

/** Options of {@link createCollatedMasks}. */
export interface CollateOptions {
  /** Smallest mask ratio (0.1). */
  maskRatioMin: number;
  /** Largest mask ratio (0.5). */
  maskRatioMax: number;
  /** Crops that get a mask (`int(nCrops · mask_probability)`). */
  nMaskedCrops: number;
  /** Crops in the batch (global views × batch). */
  nCrops: number;
}

/** DINOv2 `collate_data_and_cast`'s masking part (lightly-train `create_collated_masks`). */
export function createCollatedMasks(
  rng: Rng,
  gen: MaskingGenerator,
  opts: CollateOptions,
): CollatedMasks {
  const { nMaskedCrops, nCrops } = opts;
  if (!Number.isInteger(nMaskedCrops) || nMaskedCrops < 0 || nMaskedCrops > nCrops) {
    throw new Error(`createCollatedMasks: nMaskedCrops ${nMaskedCrops} must be in [0, ${nCrops}]`);
  }
  const n = gen.numPatches;
  const probs = Array.from(
    { length: nMaskedCrops + 1 },
    (_, i) =>
      nMaskedCrops === 0
        ? opts.maskRatioMin
        : opts.maskRatioMin + (opts.maskRatioMax - opts.maskRatioMin) * i / nMaskedCrops,
  );
  const list: Uint8Array[] = [];
  for (let i = 0; i < nMaskedCrops; i++) {
    const ratio = probs[i] + (probs[i + 1] - probs[i]) * rng.next();
    list.push(gen.generate(Math.trunc(n * ratio)));
  }
  for (let i = nMaskedCrops; i < nCrops; i++) list.push(gen.generate(0));
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [list[i], list[j]] = [list[j], list[i]];
  }
  const masks = new Uint8Array(nCrops * n);
  list.forEach((m, c) => masks.set(m, c * n));
  const indices: number[] = [];
  const weights: number[] = [];
  for (let c = 0; c < nCrops; c++) {
    let k = 0;
    for (let j = 0; j < n; j++) k += masks[c * n + j];
    for (let j = 0; j < n; j++) {
      if (masks[c * n + j]) {
        indices.push(c * n + j);
        weights.push(1 / Math.max(k, 1));
      }
    }
  }
  return { masks, indices: Int32Array.from(indices), weights: Float32Array.from(weights) };
}
