/**
 * 2-D convolution with PyTorch semantics and layouts (x NCHW, weight `[Cout, Cin/groups, KH, KW]`,
 * cross-correlation, zero padding, stride, dilation, groups), forward and backward for x, weight
 * and bias. The general case is a tiled implicit GEMM with register blocking over a zero-padded
 * input (conv2d_tiles.ts; the input gradient runs the forward tile once per stride phase on dy
 * with the phase's taps; the weight gradient is split over the output rows). The op keeps the
 * padded input for the weight gradient rather than x. Dilated input gradients use the gather
 * kernel conv2d_dx.wgsl; depthwise convolutions have their own simple kernels
 * (conv2d_depthwise.wgsl). On CPU adapters small feature maps go through im2col and the texture
 * matmul instead (conv2d_gemm.ts).
 *
 * @module
 */
import dxSrc from "./conv2d_dx.wgsl" with { type: "text" };
import dwiseSrc from "./conv2d_depthwise.wgsl" with { type: "text" };
import {
  forwardUsesTextures,
  padInput,
  tiledForward,
  tiledInputGrad,
  tiledWeightGrad,
} from "./conv2d_tiles.ts";
import { grid, kernel } from "./kernel.ts";
import { conv2dGemm, useGemmConv } from "./conv2d_gemm.ts";
import { empty, fmtShape, reshapeOwned, type Tensor } from "../core/tensor.ts";
import { isGradEnabled, record } from "../core/autograd.ts";
import { GpuError } from "../core/device.ts";
import { reduceRaw } from "./reduce.ts";

/** Options of {@link conv2d}; a number means the same value for height and width. */
export interface Conv2dOptions {
  /** Stride (default 1). */
  stride?: number | readonly [number, number];
  /** Zero padding on each side (default 0). */
  padding?: number | readonly [number, number];
  /** Dilation (default 1). */
  dilation?: number | readonly [number, number];
  /** Groups (default 1); Cin and Cout must be divisible by it. */
  groups?: number;
}

/** Fully resolved geometry of one convolution. */
export interface ConvGeometry {
  /** Batch. */
  N: number;
  /** Input channels. */
  Cin: number;
  /** Input height. */
  H: number;
  /** Input width. */
  W: number;
  /** Output channels. */
  Cout: number;
  /** Output height. */
  OH: number;
  /** Output width. */
  OW: number;
  /** Kernel height. */
  KH: number;
  /** Kernel width. */
  KW: number;
  /** Stride [h, w]. */
  stride: [number, number];
  /** Padding [h, w]. */
  padding: [number, number];
  /** Dilation [h, w]. */
  dilation: [number, number];
  /** Groups. */
  groups: number;
}

const WG = 64;

function pair(v: number | readonly [number, number] | undefined, def: number): [number, number] {
  if (v === undefined) return [def, def];
  return typeof v === "number" ? [v, v] : [v[0], v[1]];
}

/** Validates shapes and options and returns the geometry; throws `GpuError` naming the shapes. */
export function convGeometry(
  xShape: readonly number[],
  wShape: readonly number[],
  opts: Conv2dOptions = {},
): ConvGeometry {
  const stride = pair(opts.stride, 1);
  const padding = pair(opts.padding, 0);
  const dilation = pair(opts.dilation, 1);
  const groups = opts.groups ?? 1;
  const what = `conv2d: input ${fmtShape(xShape)}, weight ${fmtShape(wShape)}`;
  if (xShape.length !== 4 || wShape.length !== 4) {
    throw new GpuError(`${what}: input must be NCHW and weight [Cout, Cin/groups, KH, KW]`);
  }
  const [N, Cin, H, W] = xShape;
  const [Cout, cig, KH, KW] = wShape;
  if (!Number.isInteger(groups) || groups < 1 || Cin % groups || Cout % groups) {
    throw new GpuError(`${what}: groups ${groups} must divide Cin and Cout`);
  }
  if (cig * groups !== Cin) {
    throw new GpuError(
      `${what}: weight has ${cig} input channels, expected Cin/groups = ${Cin / groups}`,
    );
  }
  if ([...stride, ...dilation].some((v) => !Number.isInteger(v) || v < 1)) {
    throw new GpuError(`${what}: stride ${stride} and dilation ${dilation} must be >= 1`);
  }
  if (padding.some((v) => !Number.isInteger(v) || v < 0)) {
    throw new GpuError(`${what}: padding ${padding} must be >= 0`);
  }
  const OH = Math.floor((H + 2 * padding[0] - dilation[0] * (KH - 1) - 1) / stride[0]) + 1;
  const OW = Math.floor((W + 2 * padding[1] - dilation[1] * (KW - 1) - 1) / stride[1]) + 1;
  if (OH < 1 || OW < 1) throw new GpuError(`${what}: output would be empty (${OH}x${OW})`);
  return { N, Cin, H, W, Cout, OH, OW, KH, KW, stride, padding, dilation, groups };
}

function isDepthwise(g: ConvGeometry): boolean {
  return g.groups === g.Cin && g.groups === g.Cout;
}

function baseParams(g: ConvGeometry): number[] {
  return [
    g.N,
    g.Cin,
    g.H,
    g.W,
    g.Cout,
    g.OH,
    g.OW,
    0,
    g.KH,
    g.KW,
    g.stride[0],
    g.stride[1],
    g.padding[0],
    g.padding[1],
    g.dilation[0],
    g.dilation[1],
    g.Cin / g.groups,
    g.Cout / g.groups,
  ];
}

function dwiseParams(g: ConvGeometry, hasBias: boolean, npb: number): number[] {
  return [
    g.N,
    g.Cin,
    g.H,
    g.W,
    g.OH,
    g.OW,
    g.KH,
    g.KW,
    g.stride[0],
    g.stride[1],
    g.padding[0],
    g.padding[1],
    g.dilation[0],
    g.dilation[1],
    hasBias ? 1 : 0,
    npb,
  ];
}

function dwiseKernel(entry: "fwd" | "dx" | "dw") {
  return kernel({ name: `conv2d_depthwise_${entry}`, code: dwiseSrc, entry, constants: { WG } });
}

function checkBias(bias: Tensor | null | undefined, weight: Tensor, g: ConvGeometry): void {
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== g.Cout)) {
    throw new GpuError(`conv2d: bias ${fmtShape(bias.shape)} for weight ${fmtShape(weight.shape)}`);
  }
}

/** Raw forward convolution, no autograd. */
export function conv2dRaw(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null | undefined,
  opts: Conv2dOptions = {},
): Tensor {
  return conv2dForward(x, weight, bias, opts, false).y;
}

/**
 * The forward convolution; with `keepPadded` on the tiled path also returns the zero-padded
 * input it read (for the weight gradient), else `padded` is null.
 */
function conv2dForward(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null | undefined,
  opts: Conv2dOptions,
  keepPadded: boolean,
): { y: Tensor; padded: Tensor | null } {
  const g = convGeometry(x.shape, weight.shape, opts);
  checkBias(bias, weight, g);
  const y = empty([g.N, g.Cout, g.OH, g.OW], "f32", "conv2d");
  if (isDepthwise(g)) {
    const npb = Math.ceil((g.OH * g.OW) / (WG * 4));
    dwiseKernel("fwd").dispatch(
      [x, weight, bias ?? weight, y],
      dwiseParams(g, !!bias, npb),
      grid(npb * g.N * g.Cin),
    );
    return { y, padded: null };
  }
  // The texture forward pads into a texture; the weight gradient then pads x again.
  const padded = keepPadded && !forwardUsesTextures(g) ? padInput(x, g) : null;
  tiledForward(x, weight, bias ?? null, g, y, padded ?? undefined);
  return { y, padded };
}

/** Raw input gradient of a convolution (a transposed convolution, no atomics), no autograd. */
export function conv2dBackwardInputRaw(
  gy: Tensor,
  weight: Tensor,
  xShape: readonly number[],
  opts: Conv2dOptions = {},
): Tensor {
  const g = convGeometry(xShape, weight.shape, opts);
  const dx = empty(xShape, "f32", "conv2d_dx");
  if (isDepthwise(g)) {
    const npb = Math.ceil((g.H * g.W) / (WG * 4));
    dwiseKernel("dx").dispatch(
      [gy, weight, weight, dx],
      dwiseParams(g, false, npb),
      grid(npb * g.N * g.Cin),
    );
    return dx;
  }
  if (g.dilation[0] === 1 && g.dilation[1] === 1) {
    tiledInputGrad(gy, weight, g, dx);
    return dx;
  }
  const cig = g.Cin / g.groups;
  const cib = cig >= 8 ? 8 : 4;
  const nblk = Math.ceil(cig / cib);
  const [sh, sw] = g.stride;
  const Hq = Math.ceil(g.H / sh), Wq = Math.ceil(g.W / sw);
  const params = baseParams(g);
  params[7] = nblk;
  params.push(Hq, Wq);
  const [gx, gyy] = grid(Math.ceil((g.N * Hq * Wq) / (WG * 4)));
  const z = g.groups * nblk * sh * sw;
  if (z > 65535) throw new GpuError(`conv2d backward: ${z} channel blocks x phases exceed 65535`);
  kernel({ name: "conv2d_dx", code: dxSrc, constants: { WG, CIB: cib } })
    .dispatch([gy, weight, dx], params, [gx, gyy, z]);
  return dx;
}

/** Raw weight gradient of a convolution (implicit GEMM over N*OH*OW, split), no autograd. */
export function conv2dBackwardWeightRaw(
  gy: Tensor,
  x: Tensor,
  wShape: readonly number[],
  opts: Conv2dOptions = {},
): Tensor {
  const g = convGeometry(x.shape, wShape, opts);
  if (isDepthwise(g)) {
    const dw = empty(wShape, "f32", "conv2d_dw");
    dwiseKernel("dw").dispatch(
      [gy, x, x, dw],
      dwiseParams(g, false, 0),
      grid(g.Cin * g.KH * g.KW),
    );
    return dw;
  }
  return tiledWeightGrad(gy, x, wShape, g);
}

/** Raw bias gradient: the sum of `gy` over batch and pixels, as `[Cout]`. */
export function conv2dBackwardBiasRaw(gy: Tensor): Tensor {
  return reshapeOwned(reduceRaw("sum", gy, [0, 2, 3]), [gy.shape[1]]);
}

/**
 * 2-D convolution (PyTorch `F.conv2d`): `x [N, Cin, H, W]`, `weight [Cout, Cin/groups, KH, KW]`,
 * optional `bias [Cout]`; returns `[N, Cout, OH, OW]`. Differentiable in all three.
 */
export function conv2d(
  x: Tensor,
  weight: Tensor,
  bias?: Tensor | null,
  opts: Conv2dOptions = {},
): Tensor {
  const geom = convGeometry(x.shape, weight.shape, opts);
  if (useGemmConv(geom)) {
    checkBias(bias, weight, geom);
    return conv2dGemm(x, weight, bias ?? null, geom);
  }
  // The weight gradient reads the zero-padded input the forward made: keep that instead of x.
  const { y, padded } = conv2dForward(
    x,
    weight,
    bias,
    opts,
    isGradEnabled() && weight.requiresGrad,
  );
  const b = bias ?? null;
  record("conv2d", [x, weight, b], [y], [padded ?? x, weight], ([g], [xs, ws]) => {
    if (!g) return [null, null, null];
    let dw: Tensor | null = null;
    if (ws.requiresGrad) {
      dw = padded
        ? tiledWeightGrad(g, xs, ws.shape, convGeometry(x.shape, ws.shape, opts), true)
        : conv2dBackwardWeightRaw(g, xs, ws.shape, opts);
    }
    return [
      x.requiresGrad ? conv2dBackwardInputRaw(g, ws, x.shape, opts) : null,
      dw,
      b?.requiresGrad ? conv2dBackwardBiasRaw(g) : null,
    ];
  });
  padded?.dispose();
  return y;
}

// ---- plain-TS reference (tests, small sizes) ----

/**
 * Reference convolution on host arrays (float64 accumulation); returns the output and its
 * shape.
 */
export function conv2dRef(
  x: ArrayLike<number>,
  xShape: readonly number[],
  w: ArrayLike<number>,
  wShape: readonly number[],
  bias: ArrayLike<number> | null,
  opts: Conv2dOptions = {},
): { data: Float64Array; shape: number[] } {
  const g = convGeometry(xShape, wShape, opts);
  const cig = g.Cin / g.groups, cog = g.Cout / g.groups;
  const y = new Float64Array(g.N * g.Cout * g.OH * g.OW);
  for (let n = 0; n < g.N; n++) {
    for (let co = 0; co < g.Cout; co++) {
      const grp = Math.floor(co / cog);
      for (let oh = 0; oh < g.OH; oh++) {
        for (let ow = 0; ow < g.OW; ow++) {
          let s = bias ? bias[co] : 0;
          for (let ci = 0; ci < cig; ci++) {
            for (let kh = 0; kh < g.KH; kh++) {
              const ih = oh * g.stride[0] - g.padding[0] + kh * g.dilation[0];
              if (ih < 0 || ih >= g.H) continue;
              for (let kw = 0; kw < g.KW; kw++) {
                const iw = ow * g.stride[1] - g.padding[1] + kw * g.dilation[1];
                if (iw < 0 || iw >= g.W) continue;
                s += x[((n * g.Cin + grp * cig + ci) * g.H + ih) * g.W + iw] *
                  w[((co * cig + ci) * g.KH + kh) * g.KW + kw];
              }
            }
          }
          y[((n * g.Cout + co) * g.OH + oh) * g.OW + ow] = s;
        }
      }
    }
  }
  return { data: y, shape: [g.N, g.Cout, g.OH, g.OW] };
}
