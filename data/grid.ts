/**
 * An example-views grid PNG: one row per image, one column per view, from float NCHW view
 * batches as the transforms produce them (normalized), denormalized back to pixels. Written
 * atomically (temp file + rename), so a reader never sees half a PNG.
 *
 * @module
 */
import { loadSharp } from "./sharp.ts";

/** A batch of views, float NCHW. */
export interface ViewBatch {
  /** `N * C * H * W` values, normalized with `mean` / `std`. */
  data: Float32Array;
  /** `[N, C, H, W]`. */
  shape: readonly number[];
}

/** Layout options of {@link saveViewGrid}. */
export interface GridOptions {
  /** Rows (images) at most; default 8. */
  maxImages?: number;
  /** Pixels between cells; default 2. */
  pad?: number;
  /** Background gray level 0-255; default 255. */
  background?: number;
}

/**
 * Builds the grid as RGB bytes: `{ data, width, height }`. Views may differ in size; each
 * column is as wide as its view, each row as tall as the tallest view, cells top-left.
 * `mean` / `std` have one value per channel (or one for all). One channel is shown as gray;
 * of more than three, the first three are shown.
 */
export function viewGrid(
  views: readonly ViewBatch[],
  mean: readonly number[],
  std: readonly number[],
  opts: GridOptions = {},
): { data: Uint8Array; width: number; height: number } {
  if (!views.length) throw new RangeError("saveViewGrid: no views");
  for (const v of views) {
    const [n, c, h, w] = v.shape;
    if (v.shape.length !== 4 || v.data.length !== n * c * h * w) {
      throw new RangeError(
        `saveViewGrid: view shape [${v.shape.join(", ")}] does not match ${v.data.length} values`,
      );
    }
  }
  const pad = opts.pad ?? 2;
  const rows = Math.min(opts.maxImages ?? 8, ...views.map((v) => v.shape[0]));
  if (rows < 1) throw new RangeError("saveViewGrid: views hold no images");
  const rowH = Math.max(...views.map((v) => v.shape[2]));
  const colX: number[] = [];
  let width = pad;
  for (const v of views) {
    colX.push(width);
    width += v.shape[3] + pad;
  }
  const height = pad + rows * (rowH + pad);
  const out = new Uint8Array(width * height * 3).fill(opts.background ?? 255);
  const m = (c: number) => mean[mean.length === 1 ? 0 : c] ?? 0;
  const s = (c: number) => std[std.length === 1 ? 0 : c] ?? 1;
  views.forEach((v, col) => {
    const [, C, H, W] = v.shape;
    for (let r = 0; r < rows; r++) {
      const y0 = pad + r * (rowH + pad), x0 = colX[col];
      for (let k = 0; k < 3; k++) {
        const c = C >= 3 ? k : 0;
        const src = (r * C + c) * H * W;
        for (let y = 0; y < H; y++) {
          for (let x = 0; x < W; x++) {
            const val = (v.data[src + y * W + x] * s(c) + m(c)) * 255;
            out[((y0 + y) * width + x0 + x) * 3 + k] = Math.max(0, Math.min(255, Math.round(val)));
          }
        }
      }
    }
  });
  return { data: out, width, height };
}

/**
 * Writes the example-views grid of `views` to `path` as PNG (see {@link viewGrid}), through a
 * temporary file in the same folder renamed into place. Needs sharp's permissions.
 */
export async function saveViewGrid(
  path: string,
  views: readonly ViewBatch[],
  mean: readonly number[],
  std: readonly number[],
  opts: GridOptions = {},
): Promise<void> {
  const grid = viewGrid(views, mean, std, opts);
  const sharp = await loadSharp();
  const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    const png = await sharp(grid.data, {
      raw: { width: grid.width, height: grid.height, channels: 3 },
    }).png().toBuffer();
    await Deno.writeFile(tmp, png);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}
