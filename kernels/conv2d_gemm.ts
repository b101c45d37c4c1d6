/**
 * Convolution as im2col + matrix product, for CPU adapters on small feature maps: there the
 * tiled kernels (conv2d_tiles.ts) have few pixels to block over, while the texture matmul
 * (matmul_tex.ts) runs several times faster on the same work. Pixels run along the last dim
 * throughout, so every matmul operand is copied straight into its texture and the NCHW
 * permutes move whole vec4s: the forward gathers the padded input into
 * `colT [Cin*KH*KW, N*OH*OW]` (one strided gather), computes `yT = weight @ colT` with the
 * weight as stored (`[Cout, Cin*KH*KW]`) and permutes `yT [Cout, N, P]` to NCHW. The weight
 * gradient is `gyT @ colT^T`, the input gradient `weight^T @ gyT` folded back by col2im (a
 * gather, no atomics).
 *
 * @module
 */
import col2imSrc from "./conv2d_col2im.wgsl" with { type: "text" };
import { grid, kernel } from "./kernel.ts";
import { device, readEnv } from "../core/device.ts";
import { empty, reshapeOwned, type Tensor } from "../core/tensor.ts";
import { record } from "../core/autograd.ts";
import { stridedGatherRaw } from "./layout.ts";
import { matmulRaw } from "./matmul.ts";
import { selectMatmul } from "./matmul_select.ts";
import { binaryRaw } from "./elementwise.ts";
import { conv2dBackwardBiasRaw, type ConvGeometry } from "./conv2d.ts";
import { padInput } from "./conv2d_tiles.ts";

/**
 * The largest output map (OH*OW pixels) that takes the im2col path on a CPU adapter, measured on
 * lavapipe with ResNet-18 (bench/README.md); `SINTER_CONV_GEMM_PIXELS` overrides it (0: never).
 */
export const GEMM_MAX_PIXELS = 16;

let maxPixels: number | undefined;

function gemmMaxPixels(): number {
  if (maxPixels === undefined) {
    const v = readEnv("SINTER_CONV_GEMM_PIXELS");
    maxPixels = v !== undefined && /^\d+$/.test(v) ? Number(v) : GEMM_MAX_PIXELS;
  }
  return maxPixels;
}

let forced: boolean | null = null;

/**
 * Forces the im2col path on (every ungrouped conv whose column matrix fits a binding) or off;
 * null restores the rule (tests).
 */
export function forceGemmConv(on: boolean | null): void {
  forced = on;
}

/** Whether a convolution takes the im2col path on this adapter. */
export function useGemmConv(g: ConvGeometry): boolean {
  if (g.groups !== 1 || forced === false) return false;
  const m = g.N * g.OH * g.OW, k = g.Cin * g.KH * g.KW;
  // The column matrix and its gradient must fit one storage binding.
  if (m * k * 4 > device().maxBinding) return false;
  if (forced) return true;
  if (!device().report.software || g.OH * g.OW > gemmMaxPixels()) return false;
  const dims = { batch: [], m: g.Cout, n: m, k, aBatched: false, bBatched: false };
  return selectMatmul(dims) === "tex";
}

/** `colT [Cin*KH*KW, N*OH*OW]` of the zero-padded input. */
function im2col(x: Tensor, g: ConvGeometry): Tensor {
  const padded = g.padding[0] || g.padding[1] ? padInput(x, g) : null;
  const src = padded ?? x;
  const Hp = padded ? padded.shape.at(-2)! : g.H, Wp = padded ? padded.shape.at(-1)! : g.W;
  const [sh, sw] = g.stride, [dh, dw] = g.dilation;
  const col = stridedGatherRaw(src, {
    shape: [g.Cin, g.KH, g.KW, g.N, g.OH, g.OW],
    strides: [Hp * Wp, dh * Wp, dw, g.Cin * Hp * Wp, sh * Wp, sw],
    offset: 0,
  });
  padded?.dispose();
  return reshapeOwned(col, [g.Cin * g.KH * g.KW, g.N * g.OH * g.OW]);
}

/** `[C, N*OH*OW]` (channel-major) as NCHW `[N, C, OH, OW]`, or back with `toChannels`. */
function permuteChannels(t: Tensor, g: ConvGeometry, toChannels: boolean): Tensor {
  const P = g.OH * g.OW, C = g.Cout, N = g.N;
  return toChannels
    ? reshapeOwned(
      stridedGatherRaw(t, { shape: [C, N, P], strides: [P, C * P, 1], offset: 0 }),
      [C, N * P],
    )
    : reshapeOwned(
      stridedGatherRaw(t, { shape: [N, C, P], strides: [P, N * P, 1], offset: 0 }),
      [N, C, g.OH, g.OW],
    );
}

/** The input gradient from `dcolT [Cin*KH*KW, N*OH*OW]`. */
function col2im(dcol: Tensor, g: ConvGeometry): Tensor {
  const dx = empty([g.N, g.Cin, g.H, g.W], "f32", "conv2d_col2im");
  const [SH, SW] = g.stride, [DH, DW] = g.dilation;
  kernel({
    name: "conv2d_col2im",
    code: col2imSrc,
    constants: { WG: 64, KH: g.KH, KW: g.KW, SH, SW, DH, DW },
  }).dispatch(
    [dcol, dx],
    [dx.size, g.Cin, g.H, g.W, g.OH, g.OW, ...g.padding],
    grid(Math.ceil(dx.size / 64)),
  );
  return dx;
}

/**
 * Convolution through im2col and the matmul, with autograd (x, weight and bias); the caller
 * checked {@link useGemmConv}.
 */
export function conv2dGemm(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  g: ConvGeometry,
): Tensor {
  const k = g.Cin * g.KH * g.KW;
  const w2 = weight.reshape([g.Cout, k]);
  const col = im2col(x, g);
  const yT = matmulRaw(w2, col);
  w2.dispose();
  let y = permuteChannels(yT, g, false);
  yT.dispose();
  if (bias) {
    const b3 = bias.reshape([g.Cout, 1, 1]);
    const yb = binaryRaw("add", y, b3);
    for (const t of [y, b3]) t.dispose();
    y = yb;
  }
  record("conv2d", [x, weight, bias], [y], [col, weight], ([gy], [cs, ws]) => {
    if (!gy) return [null, null, null];
    const gT = permuteChannels(gy, g, true);
    let dx: Tensor | null = null, dw: Tensor | null = null, db: Tensor | null = null;
    if (x.requiresGrad) {
      const w2b = ws.reshape([g.Cout, k]);
      const dcol = matmulRaw(w2b, gT, true, false);
      dx = col2im(dcol, g);
      for (const t of [w2b, dcol]) t.dispose();
    }
    if (ws.requiresGrad) dw = reshapeOwned(matmulRaw(gT, cs, false, true), ws.shape);
    if (bias?.requiresGrad) db = conv2dBackwardBiasRaw(gy);
    gT.dispose();
    return [dx, dw, db];
  });
  col.dispose();
  return y;
}
