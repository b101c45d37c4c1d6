/**
 * The per-view random pipeline: draws every image's parameters on the host (seeded
 * {@link Rng}), uploads them as one table per group of same-size views, and runs at most four
 * dispatches per group: resample (crop/resize/flip/rotate/channel drop), colour (jitter +
 * gray, skipped when no image needs it), horizontal blur (skipped when no image is blurred),
 * and finish (vertical blur, solarize, normalize). Views of one size run together, so DINO's
 * six local views cost the dispatches of one.
 *
 * Output: float NCHW views, normalized. Input: an {@link ImageBatch} (uint8 HWC or float NCHW).
 *
 * @module
 */
import { GpuError } from "../core/device.ts";
import type { Rng } from "../core/random.ts";
import { type Tensor, tensor } from "../core/tensor.ts";
import { stridedGatherRaw } from "../kernels/layout.ts";
import { type ImageBatch, imageSize } from "./batch.ts";
import { blurFinishRaw, colorRaw, resampleRaw } from "./kernels.ts";
import { type ImageParams, MAX_CHANNELS, packParams, STRIDE } from "./plan.ts";
import { drawImageParams, type ViewSpec } from "./sample.ts";

/** Views of one output size and normalization, computed together. */
export interface ViewGroup {
  /** Indices of the views in this group, in order. */
  views: number[];
  /** `[views.length * B, C, h, w]`, view-major (view `views[k]` is rows `k*B .. k*B+B-1`). */
  images: Tensor;
}

/** Output of a pipeline run. */
export interface ViewResult<T> {
  /** The views (per view or per group). */
  out: T;
  /** The parameters drawn for each view and image (`params[view][image]`). */
  params: ImageParams[][];
}

function outChannels(spec: ViewSpec, inChannels: number): number {
  return spec.channelDrop ? spec.channelDrop.keep : inChannels;
}

/** A multi-view augmentation pipeline for a fixed list of view specs. */
export class ViewPipeline {
  /** The views, in output order. */
  readonly specs: readonly ViewSpec[];

  constructor(specs: readonly ViewSpec[]) {
    if (!specs.length) throw new GpuError("ViewPipeline: no views");
    this.specs = specs;
  }

  /** Draws the parameters of every view and image (view-major order), on the host. */
  draw(batch: ImageBatch, rng: Rng): ImageParams[][] {
    return this.specs.map((spec) => {
      this.#check(spec, batch.channels);
      return Array.from({ length: batch.batch }, (_, i) => {
        const [h, w] = imageSize(batch, i);
        return drawImageParams(spec, rng, i, h, w, batch.channels);
      });
    });
  }

  #check(spec: ViewSpec, inC: number): void {
    const c = outChannels(spec, inC);
    if (spec.channelDrop && spec.channelDrop.weights.length !== inC) {
      throw new GpuError(
        `view ${spec.name}: channel_drop.weight_drop has ${spec.channelDrop.weights.length} ` +
          `values for ${inC}-channel images`,
      );
    }
    if (c > MAX_CHANNELS) throw new GpuError(`view ${spec.name}: ${c} channels > ${MAX_CHANNELS}`);
    if (spec.normalize.mean.length !== c || spec.normalize.std.length !== c) {
      throw new GpuError(
        `view ${spec.name}: normalize has ${spec.normalize.mean.length} means and ` +
          `${spec.normalize.std.length} stds for ${c} channels (set num_channels)`,
      );
    }
    const rgbJitter = spec.jitter && (spec.jitter.saturation > 0 || spec.jitter.hue > 0);
    if (
      c !== 3 && ((spec.jitter && (c !== 1 || rgbJitter)) || spec.grayProb > 0 || spec.solarize)
    ) {
      throw new GpuError(
        `view ${spec.name}: color_jitter, random_gray_scale and solarize need 3 channels ` +
          `(brightness and contrast jitter also work on 1), the view has ${c}`,
      );
    }
  }

  /** Groups of views that share size, channels and normalization. */
  groups(inChannels: number): number[][] {
    const keyed = new Map<string, number[]>();
    this.specs.forEach((s, v) => {
      const key = JSON.stringify([s.size, outChannels(s, inChannels), s.normalize]);
      const g = keyed.get(key);
      if (g) g.push(v);
      else keyed.set(key, [v]);
    });
    return [...keyed.values()];
  }

  /** Runs the views of one group with given parameters. */
  #runGroup(batch: ImageBatch, params: ImageParams[][], views: number[]): Tensor {
    const spec = this.specs[views[0]];
    const c = outChannels(spec, batch.channels);
    const rows = views.flatMap((v) => params[v]);
    const prm = tensor(packParams(rows), [rows.length * STRIDE]);
    const nrm = tensor([...spec.normalize.mean, ...spec.normalize.std], [2 * c]);
    const x = resampleRaw(batch, prm, rows.length, c, spec.size);
    if (rows.some((p) => p.steps.length || p.gray)) colorRaw(x, prm);
    const y = blurFinishRaw(x, prm, nrm, rows.some((p) => p.radius > 0));
    x.dispose();
    prm.dispose();
    nrm.dispose();
    return y;
  }

  /** Runs all views with given parameters, grouped by size. */
  applyGrouped(batch: ImageBatch, params: ImageParams[][]): ViewGroup[] {
    return this.groups(batch.channels).map((views) => ({
      views,
      images: this.#runGroup(batch, params, views),
    }));
  }

  /** Runs all views with given parameters, one tensor `[B, C, h, w]` per view. */
  apply(batch: ImageBatch, params: ImageParams[][]): Tensor[] {
    const out: Tensor[] = new Array(this.specs.length);
    for (const g of this.applyGrouped(batch, params)) {
      if (g.views.length === 1) {
        out[g.views[0]] = g.images;
        continue;
      }
      const [, C, h, w] = g.images.shape;
      const per = batch.batch * C * h * w;
      g.views.forEach((v, k) => {
        out[v] = stridedGatherRaw(g.images, {
          shape: [batch.batch, C, h, w],
          strides: [C * h * w, h * w, w, 1],
          offset: k * per,
        });
      });
      g.images.dispose();
    }
    return out;
  }

  /** Draws parameters from `rng` and runs the views: one tensor per view. */
  run(batch: ImageBatch, rng: Rng): ViewResult<Tensor[]> {
    const params = this.draw(batch, rng);
    return { out: this.apply(batch, params), params };
  }

  /** Draws parameters from `rng` and runs the views grouped by size (no per-view copies). */
  runGrouped(batch: ImageBatch, rng: Rng): ViewResult<ViewGroup[]> {
    const params = this.draw(batch, rng);
    return { out: this.applyGrouped(batch, params), params };
  }
}
