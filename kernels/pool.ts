/**
 * 2-D pooling with PyTorch semantics (NCHW, `ceil_mode=False`): `avgPool2d`,
 * `adaptiveAvgPool2d` and `maxPool2d`, forward and backward (gathers, no atomics), plus
 * plain-TS references.
 *
 * @module
 */
import avgSrc from "./pool_avg.wgsl" with { type: "text" };
import maxSrc from "./pool_max.wgsl" with { type: "text" };
import { grid, kernel } from "./kernel.ts";
import { empty, fmtShape, type Tensor } from "../core/tensor.ts";
import { record } from "../core/autograd.ts";
import { GpuError } from "../core/device.ts";

const WG = 256;

/** A size given as one number (both dims) or `[h, w]`. */
export type Size2 = number | readonly [number, number];

function pair(v: Size2): [number, number] {
  return typeof v === "number" ? [v, v] : [v[0], v[1]];
}

interface PoolGeom {
  N: number;
  C: number;
  H: number;
  W: number;
  OH: number;
  OW: number;
  k: [number, number];
  s: [number, number];
  p: [number, number];
}

function windowGeom(
  op: string,
  x: readonly number[],
  kernel: Size2,
  stride: Size2 | undefined,
  padding: Size2,
): PoolGeom {
  if (x.length !== 4) throw new GpuError(`${op}: input ${fmtShape(x)} must be NCHW`);
  const [N, C, H, W] = x;
  const k = pair(kernel), s = pair(stride ?? kernel), p = pair(padding);
  if ([...k, ...s].some((v) => !Number.isInteger(v) || v < 1) || p.some((v) => v < 0)) {
    throw new GpuError(`${op}: bad kernel ${k}, stride ${s} or padding ${p} for ${fmtShape(x)}`);
  }
  if (p[0] * 2 > k[0] || p[1] * 2 > k[1]) {
    throw new GpuError(`${op}: padding ${p} must be at most half the kernel ${k}`);
  }
  const OH = Math.floor((H + 2 * p[0] - k[0]) / s[0]) + 1;
  const OW = Math.floor((W + 2 * p[1] - k[1]) / s[1]) + 1;
  if (OH < 1 || OW < 1) {
    throw new GpuError(`${op}: input ${fmtShape(x)} is smaller than kernel ${k}`);
  }
  return { N, C, H, W, OH, OW, k, s, p };
}

function params(g: PoolGeom, countPad = 1): number[] {
  return [
    g.N * g.C,
    g.H,
    g.W,
    g.OH,
    g.OW,
    g.k[0],
    g.k[1],
    g.s[0],
    g.s[1],
    g.p[0],
    g.p[1],
    countPad,
  ];
}

function run(
  code: string,
  entry: string,
  ts: Tensor[],
  g: PoolGeom,
  n: number,
  countPad = 1,
): void {
  kernel({ name: `pool_${entry}`, code, entry, constants: { WG } })
    .dispatch(ts, params(g, countPad), grid(Math.ceil(n / WG)));
}

/**
 * Average pooling (PyTorch `F.avg_pool2d`, `ceil_mode=False`): `stride` defaults to the
 * kernel; with `countIncludePad` the padded zeros count in the divisor.
 */
export function avgPool2d(
  x: Tensor,
  kernel: Size2,
  stride?: Size2,
  padding: Size2 = 0,
  countIncludePad = true,
): Tensor {
  const g = windowGeom("avgPool2d", x.shape, kernel, stride, padding);
  const cp = countIncludePad ? 1 : 0;
  const y = empty([g.N, g.C, g.OH, g.OW], "f32", "avgPool2d");
  run(avgSrc, "avg_fwd", [x, y], g, y.size, cp);
  record("avgPool2d", [x], [y], [], ([gy]) => {
    if (!gy) return [null];
    const dx = empty(x.shape, "f32", "avgPool2d_bwd");
    run(avgSrc, "avg_bwd", [gy, dx], g, dx.size, cp);
    return [dx];
  });
  return y;
}

/**
 * Adaptive average pooling (PyTorch `F.adaptive_avg_pool2d`): output `i` along a dim of size
 * `L -> n` averages `[floor(i*L/n), ceil((i+1)*L/n))`.
 */
export function adaptiveAvgPool2d(x: Tensor, outSize: Size2): Tensor {
  if (x.shape.length !== 4) {
    throw new GpuError(`adaptiveAvgPool2d: input ${fmtShape(x.shape)} must be NCHW`);
  }
  const [N, C, H, W] = x.shape;
  const [OH, OW] = pair(outSize);
  if (OH < 1 || OW < 1 || !Number.isInteger(OH) || !Number.isInteger(OW)) {
    throw new GpuError(`adaptiveAvgPool2d: bad output size ${OH}x${OW} for ${fmtShape(x.shape)}`);
  }
  const g: PoolGeom = { N, C, H, W, OH, OW, k: [1, 1], s: [1, 1], p: [0, 0] };
  const y = empty([N, C, OH, OW], "f32", "adaptiveAvgPool2d");
  run(avgSrc, "adaptive_fwd", [x, y], g, y.size);
  record("adaptiveAvgPool2d", [x], [y], [], ([gy]) => {
    if (!gy) return [null];
    const dx = empty(x.shape, "f32", "adaptiveAvgPool2d_bwd");
    run(avgSrc, "adaptive_bwd", [gy, dx], g, dx.size);
    return [dx];
  });
  return y;
}

/**
 * Max pooling (PyTorch `F.max_pool2d`, dilation 1, `ceil_mode=False`); padding is -inf. The
 * gradient goes to the argmax of each window (the first maximum in scan order).
 */
export function maxPool2d(x: Tensor, kernel: Size2, stride?: Size2, padding: Size2 = 0): Tensor {
  const g = windowGeom("maxPool2d", x.shape, kernel, stride, padding);
  const y = empty([g.N, g.C, g.OH, g.OW], "f32", "maxPool2d");
  const arg = empty(y.shape, "i32", "maxPool2d_argmax");
  run(maxSrc, "max_fwd", [x, y, arg], g, y.size);
  record("maxPool2d", [x], [y], [arg], ([gy], [a]) => {
    if (!gy) return [null];
    const dx = empty(x.shape, "f32", "maxPool2d_bwd");
    run(maxSrc, "max_bwd", [gy, dx, a], g, dx.size);
    return [dx];
  });
  arg.dispose();
  return y;
}

// ---- plain-TS references (tests, small sizes) ----

/** Reference avg_pool2d on host data (NCHW), float64. */
export function avgPool2dRef(
  x: ArrayLike<number>,
  shape: readonly number[],
  kernel: Size2,
  stride?: Size2,
  padding: Size2 = 0,
  countIncludePad = true,
): Float64Array {
  const g = windowGeom("avgPool2dRef", shape, kernel, stride, padding);
  const y = new Float64Array(g.N * g.C * g.OH * g.OW);
  for (let pl = 0; pl < g.N * g.C; pl++) {
    for (let oh = 0; oh < g.OH; oh++) {
      for (let ow = 0; ow < g.OW; ow++) {
        const hs = oh * g.s[0] - g.p[0], ws = ow * g.s[1] - g.p[1];
        const he = Math.min(hs + g.k[0], g.H + g.p[0]), we = Math.min(ws + g.k[1], g.W + g.p[1]);
        let s = 0, cnt = 0;
        for (let y = Math.max(hs, 0); y < Math.min(he, g.H); y++) {
          for (let xx = Math.max(ws, 0); xx < Math.min(we, g.W); xx++) {
            s += x[(pl * g.H + y) * g.W + xx];
            cnt++;
          }
        }
        y[(pl * g.OH + oh) * g.OW + ow] = s / (countIncludePad ? (he - hs) * (we - ws) : cnt);
      }
    }
  }
  return y;
}

/** Reference adaptive_avg_pool2d on host data (NCHW), float64. */
export function adaptiveAvgPool2dRef(
  x: ArrayLike<number>,
  shape: readonly number[],
  outSize: Size2,
): Float64Array {
  const [N, C, H, W] = shape;
  const [OH, OW] = pair(outSize);
  const y = new Float64Array(N * C * OH * OW);
  for (let pl = 0; pl < N * C; pl++) {
    for (let oh = 0; oh < OH; oh++) {
      const h0 = Math.floor((oh * H) / OH), h1 = Math.ceil(((oh + 1) * H) / OH);
      for (let ow = 0; ow < OW; ow++) {
        const w0 = Math.floor((ow * W) / OW), w1 = Math.ceil(((ow + 1) * W) / OW);
        let s = 0;
        for (let yy = h0; yy < h1; yy++) {
          for (let xx = w0; xx < w1; xx++) s += x[(pl * H + yy) * W + xx];
        }
        y[(pl * OH + oh) * OW + ow] = s / ((h1 - h0) * (w1 - w0));
      }
    }
  }
  return y;
}

/** Reference max_pool2d on host data (NCHW): values and flat argmax within each plane. */
export function maxPool2dRef(
  x: ArrayLike<number>,
  shape: readonly number[],
  kernel: Size2,
  stride?: Size2,
  padding: Size2 = 0,
): { y: Float64Array; argmax: Int32Array } {
  const g = windowGeom("maxPool2dRef", shape, kernel, stride, padding);
  const n = g.N * g.C * g.OH * g.OW;
  const y = new Float64Array(n), argmax = new Int32Array(n);
  for (let pl = 0; pl < g.N * g.C; pl++) {
    for (let oh = 0; oh < g.OH; oh++) {
      for (let ow = 0; ow < g.OW; ow++) {
        const hs = oh * g.s[0] - g.p[0], ws = ow * g.s[1] - g.p[1];
        let m = -Infinity, a = -1;
        for (let yy = Math.max(hs, 0); yy < Math.min(hs + g.k[0], g.H); yy++) {
          for (let xx = Math.max(ws, 0); xx < Math.min(ws + g.k[1], g.W); xx++) {
            const v = x[(pl * g.H + yy) * g.W + xx];
            if (a < 0 || v > m || Number.isNaN(v)) {
              m = v;
              a = yy * g.W + xx;
            }
          }
        }
        const o = (pl * g.OH + oh) * g.OW + ow;
        y[o] = m;
        argmax[o] = a;
      }
    }
  }
  return { y, argmax };
}
