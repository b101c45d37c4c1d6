/**
 * `gatherRows`: `torch.index_select(x, 0, idx)` for DINOv2's masked patch tokens, with autograd.
 * The backward scatters the gradient rows back into a zero tensor; it needs the indices to be
 * distinct (they are: they come from `masks.flatten().nonzero()`), which the op checks on the
 * host indices it is given.
 *
 * @module
 */
import src from "./gather_rows.wgsl" with { type: "text" };
import { empty, fmtShape, type Tensor, tensor } from "../../core/tensor.ts";
import { record } from "../../core/autograd.ts";
import { GpuError } from "../../core/device.ts";
import { grid, kernel } from "../../kernels/kernel.ts";
import { zeros } from "../../kernels/elementwise.ts";

const WG = 256;

function run(entry: "gather" | "scatter", from: Tensor, idx: Tensor, to: Tensor, rows: number) {
  const [m, c] = [idx.size, from.size / (entry === "gather" ? rows : idx.size)];
  kernel({ name: `dinov2_gather_rows_${entry}`, code: src, entry, constants: { WG } })
    .dispatch([from, idx, to], [m, c, rows, 0], grid(Math.ceil((m * c) / WG)));
}

/**
 * Rows `indices` of `x [R, C]` as `[M, C]` (differentiable in `x`). `indices` are host
 * integers in `[0, R)`, distinct (they are uploaded as an int32 tensor).
 */
export function gatherRows(x: Tensor, indices: ArrayLike<number>): Tensor {
  const op = "gather_rows";
  if (x.shape.length !== 2 || x.dtype !== "f32") {
    throw new GpuError(`${op}: x must be f32 [R, C], got ${x.dtype} ${fmtShape(x.shape)}`);
  }
  const [r, c] = x.shape;
  const m = indices.length;
  const seen = new Set<number>();
  for (let i = 0; i < m; i++) {
    const v = indices[i];
    if (!Number.isInteger(v) || v < 0 || v >= r || seen.has(v)) {
      throw new GpuError(
        `${op}: index ${v} (position ${i}) is out of range for ${fmtShape(x.shape)} or repeated`,
      );
    }
    seen.add(v);
  }
  const out = empty([m, c], "f32", op);
  if (m === 0 || c === 0) return out;
  const idx = tensor(indices, [m], "i32");
  run("gather", x, idx, out, r);
  record(op, [x], [out], [idx], ([g], [ix]) => {
    if (!g) return [null];
    const dx = zeros([r, c]);
    run("scatter", g, ix, dx, r);
    return [dx];
  });
  idx.dispose();
  return out;
}

/** Reference on host data: rows `indices` of `x [r, c]` (row-major). */
export function gatherRowsRef(
  x: ArrayLike<number>,
  c: number,
  indices: ArrayLike<number>,
): Float64Array {
  const out = new Float64Array(indices.length * c);
  for (let i = 0; i < indices.length; i++) {
    for (let k = 0; k < c; k++) out[i * c + k] = x[indices[i] * c + k];
  }
  return out;
}
