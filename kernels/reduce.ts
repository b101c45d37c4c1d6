/**
 * Reductions over any set of axes (sum, mean, max), and `sumTo`, the reduction that undoes a
 * broadcast in backward passes.
 *
 * @module
 */
import reduceSrc from "./reduce.wgsl" with { type: "text" };
import { f32, grid, kernel, vec4Source } from "./kernel.ts";
import { empty, fmtShape, numel, reshapeOwned, type Tensor } from "../core/tensor.ts";
import { record } from "../core/autograd.ts";
import { device, GpuError } from "../core/device.ts";
import { binaryRaw, coalesceDims, full } from "./elementwise.ts";

function pad6(v: number[], fill: number): number[] {
  if (v.length > 6) throw new GpuError(`reduce: more than 6 dims`);
  return [...new Array(6 - v.length).fill(fill), ...v, 0, 0];
}

function normAxes(op: string, shape: readonly number[], axes: number | number[]): number[] {
  const list = (Array.isArray(axes) ? axes : [axes]).map((a) => (a < 0 ? a + shape.length : a));
  for (const a of list) {
    if (a < 0 || a >= shape.length) {
      throw new GpuError(`${op}: axis out of range for shape ${fmtShape(shape)}`);
    }
  }
  return [...new Set(list)].sort((a, b) => a - b);
}

/** Raw reduction over `axes` (kept as size 1), times `scale`; no autograd. */
export function reduceRaw(
  op: "sum" | "max",
  x: Tensor,
  axes: number[],
  scale = 1,
): Tensor {
  const strides: number[] = [];
  let s = 1;
  for (let i = x.shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= x.shape[i];
  }
  const kshape: number[] = [],
    kstride: number[] = [],
    rshape: number[] = [],
    rstride: number[] = [];
  x.shape.forEach((d, i) => {
    if (axes.includes(i)) {
      rshape.push(d);
      rstride.push(strides[i]);
    } else {
      kshape.push(d);
      kstride.push(strides[i]);
    }
  });
  const outShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const y = empty(outShape, "f32", op);
  const nout = numel(kshape);
  const nred = numel(rshape);
  const kc = coalesceDims(kshape, [kstride]), rc = coalesceDims(rshape, [rstride]);
  // 4 outputs at a time when the innermost kept dim is contiguous, comes in fours, and every
  // other stride keeps the vec4 loads aligned.
  const kr = kc.shape.length, ks = kc.strides[0];
  const lanes = ks[kr - 1] === 1 && kc.shape[kr - 1] % 4 === 0 &&
      ks.every((s, d) => d === kr - 1 || s % 4 === 0) && rc.strides[0].every((s) => s % 4 === 0)
    ? 4
    : 1;
  const groups = nout / lanes;
  // A CPU adapter does better with whole outputs per invocation once there are enough of them.
  const serial = device().report.software && groups >= 32;
  kernel({
    name: `reduce_${op}`,
    code: lanes === 4 ? vec4Source(reduceSrc) : reduceSrc,
    entry: serial ? "serial" : "main",
    constants: { OP: op === "max" ? 1 : 0, KRANK: kc.shape.length, RRANK: rc.shape.length },
  })
    .dispatch(
      [x, y],
      [
        groups,
        nred,
        f32(scale),
        0,
        ...pad6(kc.shape, 1),
        ...pad6(kc.strides[0], 0),
        ...pad6(rc.shape, 1),
        ...pad6(rc.strides[0], 0),
      ],
      grid(serial ? Math.ceil(groups / 64) : groups),
    );
  return y;
}

/** Sums a gradient of a broadcast result back to `shape` (no autograd; for backward code). */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) {
    return g;
  }
  const lead = g.shape.length - shape.length;
  const axes: number[] = [];
  g.shape.forEach((d, i) => {
    const sd = i < lead ? 1 : shape[i - lead];
    if (sd === 1 && d !== 1) axes.push(i);
    else if (sd !== d) {
      throw new GpuError(`sumTo: cannot reduce ${fmtShape(g.shape)} to ${fmtShape(shape)}`);
    }
  });
  if (axes.length === 0) return g.reshape(shape);
  return reshapeOwned(reduceRaw("sum", g, axes), shape);
}

function squeezeShape(shape: readonly number[], axes: number[], keepDim: boolean): number[] {
  return keepDim
    ? shape.map((d, i) => (axes.includes(i) ? 1 : d))
    : shape.filter((_, i) => !axes.includes(i));
}

/** Sum over `axes` (all by default). */
export function sum(x: Tensor, axes?: number | number[], keepDim = false): Tensor {
  const ax = normAxes("sum", x.shape, axes ?? x.shape.map((_, i) => i));
  return reduceWithGrad("sum", x, ax, keepDim, 1);
}

/** Mean over `axes` (all by default). */
export function mean(x: Tensor, axes?: number | number[], keepDim = false): Tensor {
  const ax = normAxes("mean", x.shape, axes ?? x.shape.map((_, i) => i));
  const n = ax.reduce((p, a) => p * x.shape[a], 1);
  return reduceWithGrad("mean", x, ax, keepDim, 1 / n);
}

function reduceWithGrad(
  name: string,
  x: Tensor,
  axes: number[],
  keepDim: boolean,
  scale: number,
): Tensor {
  const y = reshapeOwned(reduceRaw("sum", x, axes, scale), squeezeShape(x.shape, axes, keepDim));
  record(name, [x], [y], [], ([g]) => {
    if (!g) return [null];
    const kept = g.reshape(x.shape.map((d, i) => (axes.includes(i) ? 1 : d)));
    return [binaryRaw("mul", full(x.shape, scale), kept)];
  });
  return y;
}

/** Max over `axes` (values only; gradient goes to every maximal element). */
export function max(x: Tensor, axes: number | number[], keepDim = false): Tensor {
  const ax = normAxes("max", x.shape, axes);
  const r = reduceRaw("max", x, ax);
  const y = r.reshape(squeezeShape(x.shape, ax, keepDim));
  record("max", [x], [y], [x, r], ([g], [xs, rs]) => {
    if (!g) return [null];
    const mask = binaryRaw("sub", full(xs.shape, 1), binaryRaw("gt", rs, xs));
    const kept = g.reshape(rs.shape);
    return [binaryRaw("mul", mask, kept)];
  });
  r.dispose();
  return y;
}
