/**
 * Builds the example-augmentations grid (LightlyTrain's `_log_example_views`): one row per
 * image, one column per view, each view un-normalized back to RGB bytes.
 *
 * @module
 */
import { encodePng } from "./png.ts";

/** One view of a batch as host data, NCHW float32 (normalized, as fed to the model). */
export interface ViewBatch {
  /** `n*c*h*w` values. */
  data: Float32Array;
  /** Images in the batch. */
  n: number;
  /** Channels (1 or 3; more are cut to the first 3). */
  c: number;
  /** Height. */
  h: number;
  /** Width. */
  w: number;
}

/** Options of {@link exampleViewsGrid}. */
export interface GridOptions {
  /** Per-channel mean used by Normalize; default ImageNet. */
  mean?: number[];
  /** Per-channel std used by Normalize; default ImageNet. */
  std?: number[];
  /** At most this many images (rows); default 8. */
  maxImages?: number;
  /** Gap between cells in pixels; default 2. */
  pad?: number;
}

/** An RGB image: `height*width*3` bytes. */
export interface RgbImage {
  /** Pixels, row-major RGB. */
  pixels: Uint8Array;
  /** Width. */
  width: number;
  /** Height. */
  height: number;
}

/**
 * Lays out the views as a grid (rows: images, columns: views; smaller views are centred in
 * cells the size of the largest one; the background is white). Throws a `RangeError` when a
 * view's data does not match its shape.
 */
export function exampleViewsGrid(views: ViewBatch[], opts: GridOptions = {}): RgbImage {
  if (!views.length) throw new RangeError("exampleViewsGrid: no views");
  const mean = opts.mean ?? [0.485, 0.456, 0.406];
  const std = opts.std ?? [0.229, 0.224, 0.225];
  const pad = opts.pad ?? 2;
  for (const [i, v] of views.entries()) {
    if (v.data.length !== v.n * v.c * v.h * v.w) {
      throw new RangeError(
        `exampleViewsGrid: view ${i} has ${v.data.length} values, expected [${v.n},${v.c},${v.h},${v.w}]`,
      );
    }
  }
  const rows = Math.min(opts.maxImages ?? 8, ...views.map((v) => v.n));
  const cellH = Math.max(...views.map((v) => v.h));
  const cellW = Math.max(...views.map((v) => v.w));
  const width = views.length * cellW + (views.length + 1) * pad;
  const height = rows * cellH + (rows + 1) * pad;
  const px = new Uint8Array(width * height * 3).fill(255);
  for (let r = 0; r < rows; r++) {
    for (const [col, v] of views.entries()) {
      const x0 = pad + col * (cellW + pad) + ((cellW - v.w) >> 1);
      const y0 = pad + r * (cellH + pad) + ((cellH - v.h) >> 1);
      const plane = v.h * v.w;
      for (let y = 0; y < v.h; y++) {
        for (let x = 0; x < v.w; x++) {
          const o = ((y0 + y) * width + x0 + x) * 3;
          for (let ch = 0; ch < 3; ch++) {
            const src = Math.min(ch, v.c - 1);
            const val = v.data[(r * v.c + src) * plane + y * v.w + x];
            const m = mean[src] ?? 0, s = std[src] ?? 1;
            const u = Math.round((val * s + m) * 255);
            px[o + ch] = Number.isFinite(u) ? Math.max(0, Math.min(255, u)) : 0;
          }
        }
      }
    }
  }
  return { pixels: px, width, height };
}

/** {@link exampleViewsGrid} encoded as PNG bytes. */
export function exampleViewsPng(views: ViewBatch[], opts: GridOptions = {}): Uint8Array {
  const g = exampleViewsGrid(views, opts);
  return encodePng(g.pixels, g.width, g.height, 3);
}
