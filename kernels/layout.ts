/**
 * Layout ops on contiguous tensors: strided gather/scatter (one kernel, any rank <= 6), and on
 * top of it `permute`, `transpose`, `slice`, `concat` with autograd.
 *
 * @module
 */
import stridedSrc from "./strided_copy.wgsl" with { type: "text" };
import { grid, kernel, vec4Source } from "./kernel.ts";
import { empty, fmtShape, numel, type Tensor } from "../core/tensor.ts";
import { record } from "../core/autograd.ts";
import { GpuError } from "../core/device.ts";
import { coalesceDims, zeros } from "./elementwise.ts";

const WG = 256;

/** A strided view into a tensor's storage: element `c` lives at `offset + sum(c_d * strides_d)`. */
export interface StridedView {
  /** Shape of the view (rank <= 6). */
  shape: readonly number[];
  /** Element stride of each view dim in the underlying storage. */
  strides: readonly number[];
  /** Element offset of the view's first element. */
  offset: number;
}

/** The kernel parameters of a view; `lanes` 4 when it can be copied as vec4s. */
function viewParams(
  op: string,
  view: StridedView,
): { params: number[]; rank: number; lanes: number; dims: Record<string, number> } {
  if (view.shape.length > 6 || view.strides.length !== view.shape.length) {
    throw new GpuError(
      `${op}: view ${fmtShape(view.shape)} needs rank <= 6 and one stride per dim`,
    );
  }
  const c = coalesceDims(view.shape, [view.strides, contiguousStrides(view.shape)]);
  const pad = 6 - c.shape.length;
  const r = c.shape.length, st = c.strides[0];
  const lanes = st[r - 1] === 1 && c.shape[r - 1] % 4 === 0 && view.offset % 4 === 0 &&
      st.every((s, d) => d === r - 1 || s % 4 === 0)
    ? 4
    : 1;
  const params = [
    numel(view.shape) / lanes,
    view.offset,
    0,
    0,
    ...new Array(pad).fill(0),
    ...c.strides[0],
    0,
    0,
  ];
  const dims: Record<string, number> = {};
  [...new Array(pad).fill(1), ...c.shape].forEach((v, i) => (dims[`D${i}`] = v));
  return { params, rank: c.shape.length, lanes, dims };
}

/** Copies the strided `view` of `src` into a new contiguous tensor of the view's shape; no autograd. */
export function stridedGatherRaw(src: Tensor, view: StridedView): Tensor {
  const out = empty(view.shape, "f32", "strided_gather");
  const v = viewParams("strided_gather", view);
  const code = v.lanes === 4 ? vec4Source(stridedSrc) : stridedSrc;
  kernel({ name: "strided_gather", code, constants: { MODE: 0, WG, RANK: v.rank, ...v.dims } })
    .dispatch([src, out], v.params, grid(Math.ceil(out.size / v.lanes / WG)));
  return out;
}

/** Writes the contiguous `src` into the strided `view` of `dst` (in place); no autograd. */
export function stridedScatterRaw(src: Tensor, dst: Tensor, view: StridedView): void {
  if (src.size !== numel(view.shape)) {
    throw new GpuError(`strided_scatter: ${fmtShape(src.shape)} into view ${fmtShape(view.shape)}`);
  }
  const v = viewParams("strided_scatter", view);
  const code = v.lanes === 4 ? vec4Source(stridedSrc) : stridedSrc;
  kernel({ name: "strided_scatter", code, constants: { MODE: 1, WG, RANK: v.rank, ...v.dims } })
    .dispatch([src, dst], v.params, grid(Math.ceil(src.size / v.lanes / WG)));
}

function contiguousStrides(shape: readonly number[]): number[] {
  const s: number[] = new Array(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

function normDim(op: string, rank: number, dim: number): number {
  const d = dim < 0 ? dim + rank : dim;
  if (d < 0 || d >= rank) throw new GpuError(`${op}: dim ${dim} out of range for rank ${rank}`);
  return d;
}

/** Reorders dims like `torch.permute`; returns a contiguous copy, with autograd. */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  const r = x.shape.length;
  const d = dims.map((v) => normDim("permute", r, v));
  if (d.length !== r || new Set(d).size !== r) {
    throw new GpuError(`permute: dims [${dims}] are not a permutation of rank ${r}`);
  }
  const st = contiguousStrides(x.shape);
  const view = { shape: d.map((i) => x.shape[i]), strides: d.map((i) => st[i]), offset: 0 };
  const y = stridedGatherRaw(x, view);
  record("permute", [x], [y], [], ([g]) => {
    if (!g) return [null];
    const gx = empty(x.shape, "f32", "permute_grad");
    stridedScatterRaw(g, gx, view);
    return [gx];
  });
  return y;
}

/** Swaps two dims. */
export function transpose(x: Tensor, a: number, b: number): Tensor {
  const dims = x.shape.map((_, i) => i);
  const da = normDim("transpose", dims.length, a), db = normDim("transpose", dims.length, b);
  [dims[da], dims[db]] = [dims[db], dims[da]];
  return permute(x, dims);
}

/** `x` narrowed to `start .. end-1` along `dim` (contiguous copy), with autograd. */
export function slice(x: Tensor, dim: number, start: number, end: number): Tensor {
  const d = normDim("slice", x.shape.length, dim);
  if (start < 0 || end > x.shape[d] || start >= end) {
    throw new GpuError(
      `slice: [${start}, ${end}) out of range for dim ${d} of ${fmtShape(x.shape)}`,
    );
  }
  const st = contiguousStrides(x.shape);
  const shape = x.shape.map((v, i) => (i === d ? end - start : v));
  const view = { shape, strides: st, offset: start * st[d] };
  const y = stridedGatherRaw(x, view);
  record("slice", [x], [y], [], ([g]) => {
    if (!g) return [null];
    const gx = zeros(x.shape);
    stridedScatterRaw(g, gx, view);
    return [gx];
  });
  return y;
}

/** Concatenates tensors along `dim` (all other dims equal), with autograd. */
export function concat(xs: readonly Tensor[], dim: number): Tensor {
  if (xs.length === 0) throw new GpuError("concat: no tensors");
  const r = xs[0].shape.length;
  const d = normDim("concat", r, dim);
  for (const t of xs) {
    if (t.shape.length !== r || t.shape.some((v, i) => i !== d && v !== xs[0].shape[i])) {
      throw new GpuError(
        `concat: shapes ${xs.map((t) => fmtShape(t.shape)).join(", ")} differ outside dim ${d}`,
      );
    }
  }
  const shape = xs[0].shape.map((v, i) => (i === d ? xs.reduce((a, t) => a + t.shape[d], 0) : v));
  const y = empty(shape, "f32", "concat");
  const st = contiguousStrides(shape);
  const views: StridedView[] = [];
  let off = 0;
  for (const t of xs) {
    const view = { shape: t.shape, strides: st, offset: off * st[d] };
    stridedScatterRaw(t, y, view);
    views.push(view);
    off += t.shape[d];
  }
  record("concat", [...xs], [y], [], ([g]) => {
    if (!g) return xs.map(() => null);
    return xs.map((t, i) => (t.requiresGrad ? stridedGatherRaw(g, views[i]) : null));
  });
  return y;
}
