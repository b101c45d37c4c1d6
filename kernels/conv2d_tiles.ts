/**
 * The tiled conv2d path: zero padding (conv2d_pad.wgsl) and weight re-layout
 * (conv2d_prep.wgsl), the tiled forward kernels (also run once per stride phase for the input
 * gradient) and the tiled weight-gradient kernels, generated per configuration by
 * conv2d_gen.ts.
 *
 * On lavapipe every storage load costs as much as dozens of multiply-adds, so the tiles are
 * chosen for multiply-adds per load: kernels of up to 3x3 use the multi-row forward tile
 * (conv2d_tiled_rows.wgsl: 2 or 4 output rows per thread, all taps unrolled, each input row and
 * weight loaded once per input channel) and the all-taps weight-gradient tile
 * (conv2d_dw_rows.wgsl); larger kernels and odd output heights use the one-row forward tile
 * (conv2d_tiled.wgsl, kernel rows in a loop) and the per-kernel-row weight-gradient tile
 * (conv2d_dw_tiled.wgsl).
 *
 * On software adapters the multi-row tiles read their inputs from textures instead
 * (conv2d_tex.ts; conv2d_tiled_rows_tex.wgsl, conv2d_dw_rows_tex.wgsl, filled by
 * conv2d_pad_tex.wgsl and conv2d_prep_tex.wgsl): a texel load costs about a quarter of a vec4
 * storage load there. Both paths compute the same sums in the same order.
 *
 * @module
 */
import prepSrc from "./conv2d_prep.wgsl" with { type: "text" };
import padSrc from "./conv2d_pad.wgsl" with { type: "text" };
import padTexSrc from "./conv2d_pad_tex.wgsl" with { type: "text" };
import prepTexSrc from "./conv2d_prep_tex.wgsl" with { type: "text" };
import sumSrc from "./conv2d_sum.wgsl" with { type: "text" };
import { grid, kernel } from "./kernel.ts";
import { empty, type Tensor } from "../core/tensor.ts";
import { GpuError } from "../core/device.ts";
import {
  acquireTexture,
  type ConvTexture,
  convTexturesEnabled,
  releaseTexture,
  texKernel,
  textureFits,
} from "./conv2d_tex.ts";
import {
  type TileConfig,
  tiledForwardSource,
  tiledRowsSource,
  tiledWeightRowsSource,
  tiledWeightSource,
  tileLoads,
  type WeightRowsConfig,
  weightRowsLoads,
  type WeightTileConfig,
  weightTileLoads,
} from "./conv2d_gen.ts";
import type { ConvGeometry } from "./conv2d.ts";

/**
 * Output channels per thread of the tiled forward kernels: 16, 8 or 4, as the group allows;
 * at most 8 when reading textures (fewer live registers; the cheaper loads allow it).
 */
function block(channels: number, tex = false): number {
  const b = channels >= 16 ? 16 : channels >= 8 ? 8 : 4;
  return tex ? Math.min(b, 8) : b;
}

const TWG = 64;

function roundUp(v: number, m: number): number {
  return Math.ceil(v / m) * m;
}

/** Copies `[planes, H, W]` planes into zero-padded `[planes, Hp, Wp]` at (top, left). */
function padPlanes(
  x: Tensor,
  planes: number,
  H: number,
  W: number,
  Hp: number,
  Wp: number,
  top: number,
  left: number,
): Tensor {
  if (Wp % 4) throw new GpuError(`conv2d: padded width ${Wp} is not a multiple of 4`);
  const xp = empty([planes, Hp, Wp], "f32", "conv2d_pad");
  const rows = planes * Hp;
  kernel({ name: "conv2d_pad", code: padSrc, constants: { WG: 64 } })
    .dispatch([x, xp], [rows, H, W, Hp, Wp / 4, top, left, 0], grid(Math.ceil(rows / 64)));
  return xp;
}

/**
 * Output rows per thread of the tiled forward kernels: several rows (taps unrolled) for
 * kernels of up to 3x3 when the rows divide evenly (4 or 2 from storage buffers, 2 from
 * textures), else 1.
 */
function rowsPerThread(OH: number, KH: number, KW: number, tex = false): number {
  if (KH * KW > 9 || KH * KW === 0) return 1;
  if (tex) return OH % 2 === 0 ? 2 : 1;
  return OH % 4 === 0 ? 4 : OH % 2 === 0 ? 2 : 1;
}

/** Forward tile: pixels per thread along a row. */
function forwardPx(OW: number): number {
  return OW <= 4 ? 4 : 8;
}

/** Rows and columns of the zero-padded input the tiled kernels read (see {@link padInput}). */
function padGeometry(g: ConvGeometry): { Hp: number; Wp: number } {
  const sw = g.stride[1], pw = g.padding[1], dw = g.dilation[1];
  const px = forwardPx(g.OW);
  const ngrp = Math.ceil(g.OW / px);
  const nv = tileLoads({ cob: 4, px, kw: g.KW, sw, dw, shift: 0 });
  const OWp4 = Math.ceil(g.OW / 4);
  const q = weightRowsConfig(g).q;
  const Wp = roundUp(
    Math.max(
      g.W + 2 * pw,
      (ngrp - 1) * px * sw + nv * 4,
      (OWp4 - 1) * 4 * sw + weightTileLoads({ cob: 4, cib: 1, kw: g.KW, sw, dw }) * 4,
      (OWp4 - q) * 4 * sw + weightRowsLoads({ sw, dw, kw: g.KW, q }) * 4,
    ),
    4,
  );
  return { Hp: g.H + 2 * g.padding[0], Wp };
}

/**
 * `x` zero-padded as the tiled forward and weight-gradient kernels read it (rows padded by
 * the padding, columns to a multiple of 4 wide enough for both kernels' tiles). The forward
 * keeps it for the weight gradient, which then needs no second padding pass.
 */
export function padInput(x: Tensor, g: ConvGeometry): Tensor {
  const { Hp, Wp } = padGeometry(g);
  return padPlanes(x, g.N * g.Cin, g.H, g.W, Hp, Wp, g.padding[0], g.padding[1]);
}

/**
 * Copies `[N, C, H, W]` into a zero-padded texture (conv2d_pad_tex.wgsl): plane (n, c) row r
 * at texel row c * Hp + r of layer n, Wp / 4 texels per row, the input at (top, left).
 */
function padToTexture(
  x: Tensor,
  N: number,
  C: number,
  H: number,
  W: number,
  Hp: number,
  Wp: number,
  top: number,
  left: number,
): ConvTexture {
  const t = acquireTexture(Wp / 4, C * Hp, N);
  const rows = N * C * Hp;
  texKernel("conv2d_pad_tex", () => padTexSrc, ["read", "tex-write"], { WG: 64 })
    .dispatch([x, t], [rows, H, W, Hp, Wp / 4, top, left, C], grid(Math.ceil(rows / 64)));
  return t;
}

/** Whether the texture path fits a padded input of `[N, C, Hp, Wp]`. */
function inputTextureFits(N: number, C: number, Hp: number, Wp: number): boolean {
  return textureFits(Wp / 4, C * Hp, N);
}

/** The layout arguments of {@link tiledWeights} after the weight. */
type WeightArgs = [
  number,
  number,
  number,
  number,
  [number, number],
  [number, number],
  [number, number],
  [number, number],
  boolean,
];

/**
 * The uniform block of conv2d_prep.wgsl / conv2d_prep_tex.wgsl (a0..a11 documented there);
 * `coutUnits` is coutP in floats (storage) or texels (texture).
 */
function weightParams(
  cinG: number,
  coutG: number,
  coutUnits: number,
  taps: [number, number],
  k: [number, number],
  start: [number, number],
  step: [number, number],
  swap: boolean,
): number[] {
  return [0, cinG, coutG, coutUnits, ...taps, ...k, ...start, ...step, swap ? 1 : 0, 0, 0, 0];
}

/** A weight re-laid for the tiled kernel (see conv2d_prep.wgsl `weights`). */
function tiledWeights(
  w: Tensor,
  ics: number,
  cinG: number,
  coutG: number,
  coutP: number,
  taps: [number, number],
  k: [number, number],
  start: [number, number],
  step: [number, number],
  swap: boolean,
): Tensor {
  const wt = empty([ics * taps[0] * taps[1] * coutP], "f32", "conv2d_weights");
  kernel({ name: "conv2d_prep_weights", code: prepSrc, entry: "weights", constants: { WG: 64 } })
    .dispatch(
      [w, wt],
      weightParams(cinG, coutG, coutP, taps, k, start, step, swap),
      [Math.ceil(coutP / 64), taps[0] * taps[1], ics],
    );
  return wt;
}

/** {@link tiledWeights} into a texture (conv2d_prep_tex.wgsl): texel (o / 4, ic * taps + tap). */
function tiledWeightsTexture(
  w: Tensor,
  ics: number,
  cinG: number,
  coutG: number,
  coutP: number,
  taps: [number, number],
  k: [number, number],
  start: [number, number],
  step: [number, number],
  swap: boolean,
): ConvTexture {
  const t = acquireTexture(coutP / 4, ics * taps[0] * taps[1], 1);
  texKernel("conv2d_prep_tex", () => prepTexSrc, ["read", "tex-write"], { WG: 64 }).dispatch(
    [w, t],
    weightParams(cinG, coutG, coutP / 4, taps, k, start, step, swap),
    [Math.ceil(coutP / 4 / 64), taps[0] * taps[1], ics],
  );
  return t;
}

/** Whether re-laid weights of `ics * taps` rows and `coutP` channels fit a texture. */
function weightTextureFits(ics: number, taps: number, coutP: number): boolean {
  return textureFits(coutP / 4, ics * taps, 1);
}

interface TiledRun {
  /** Padded input planes (a texture with the multi-row tile on software adapters). */
  xp: Tensor | ConvTexture;
  /** Re-laid weights (or any tensor when there are no taps). */
  wt: Tensor | ConvTexture;
  /** Bias (or any tensor). */
  bias: Tensor | null;
  /** Any tensor other than `y`, bound in place of an absent bias. */
  any: Tensor;
  /** Output. */
  y: Tensor;
  cfg: TileConfig;
  groups: number;
  params: {
    cinT: number;
    Hp: number;
    Wp: number;
    KH: number;
    sh: number;
    dh: number;
    cinG: number;
    coutG: number;
    coutP: number;
    N: number;
    OH: number;
    OW: number;
    coutT: number;
    YH: number;
    YW: number;
    osh: number;
    osw: number;
    orh: number;
    orw: number;
    rowOff: number;
    colOff4: number;
  };
}

function runTiled(r: TiledRun): void {
  const q = r.params;
  if (q.OH <= 0 || q.OW <= 0) return;
  const ngrp = Math.ceil(q.OW / r.cfg.px);
  const py = r.cfg.py ?? 1;
  if (q.OH % py) throw new GpuError(`conv2d: ${q.OH} output rows are not a multiple of ${py}`);
  const total = q.N * (q.OH / py) * ngrp;
  const nblk = q.coutP / r.cfg.cob;
  const z = r.groups * nblk;
  if (z > 65535) throw new GpuError(`conv2d: ${z} channel blocks exceed 65535`);
  const c = r.cfg;
  const [gx, gy] = grid(Math.ceil(total / TWG));
  const rowsName =
    `${c.cob}_${c.px}_${py}_${c.kw}_${c.kh}_${c.sw}_${c.sh}_${c.dw}_${c.dh}_${c.shift}`;
  const tex = isTexture(r.xp);
  if (tex !== isTexture(r.wt) || (tex && py === 1)) {
    throw new GpuError("conv2d: textures need the multi-row tile for both input and weights");
  }
  const k = tex
    ? texKernel(
      `conv2d_tiled_rows_tex_${rowsName}`,
      () => tiledRowsSource(c, true),
      ["tex-read", "tex-read", "read", "read-write"],
      { WG: TWG },
    )
    : kernel({
      ...(py > 1 ? { name: `conv2d_tiled_rows_${rowsName}`, code: tiledRowsSource(c) } : {
        name: `conv2d_tiled_${c.cob}_${c.px}_${c.kw}_${c.sw}_${c.dw}_${c.shift}`,
        code: tiledForwardSource(c),
      }),
      constants: { WG: TWG },
    });
  k.dispatch(
    [r.xp, r.wt, r.bias ?? r.any, r.y] as (Tensor & ConvTexture)[],
    [
      q.cinT,
      q.Hp,
      q.Wp / 4,
      q.KH,
      q.sh,
      q.dh,
      q.cinG,
      q.coutG,
      q.coutP / 4,
      nblk,
      q.OH,
      q.OW,
      ngrp,
      total,
      r.bias ? 1 : 0,
      q.coutT,
      q.YH,
      q.YW,
      q.osh,
      q.osw,
      q.orh,
      q.orw,
      q.rowOff,
      q.colOff4,
    ],
    [gx, gy, z],
  );
}

/**
 * Whether the tiled forward of `g` reads textures (software adapters, multi-row tile, sizes
 * within the texture limits); then it pads x itself and cannot use a kept {@link padInput}.
 */
export function forwardUsesTextures(g: ConvGeometry): boolean {
  if (rowsPerThread(g.OH, g.KH, g.KW, true) === 1 || !convTexturesEnabled()) return false;
  const cog = g.Cout / g.groups, coutP = roundUp(cog, block(cog, true));
  const { Hp, Wp } = padGeometry(g);
  return inputTextureFits(g.N, g.Cin, Hp, Wp) && weightTextureFits(g.Cin, g.KH * g.KW, coutP);
}

/**
 * Tiled forward convolution into `y` (not depthwise); `padded` is a {@link padInput} of x to
 * use instead of padding again (not with {@link forwardUsesTextures}).
 */
export function tiledForward(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  g: ConvGeometry,
  y: Tensor,
  padded?: Tensor,
): void {
  const cig = g.Cin / g.groups, cog = g.Cout / g.groups;
  const tex = forwardUsesTextures(g);
  const cob = block(cog, tex);
  const coutP = roundUp(cog, cob);
  const { Hp, Wp } = padGeometry(g);
  if (tex && padded) throw new GpuError("conv2d: the texture forward pads its own input");
  const [ph, pw] = g.padding;
  const xp = tex ? padToTexture(x, g.N, g.Cin, g.H, g.W, Hp, Wp, ph, pw) : padded ?? padInput(x, g);
  const wargs: WeightArgs = [
    g.Cin,
    cig,
    cog,
    coutP,
    [g.KH, g.KW],
    [g.KH, g.KW],
    [0, 0],
    [1, 1],
    false,
  ];
  const wt = tex ? tiledWeightsTexture(weight, ...wargs) : tiledWeights(weight, ...wargs);
  runTiled({
    xp,
    wt,
    bias,
    any: x,
    y,
    cfg: {
      cob,
      px: forwardPx(g.OW),
      kw: g.KW,
      sw: g.stride[1],
      dw: g.dilation[1],
      shift: 0,
      py: rowsPerThread(g.OH, g.KH, g.KW, tex),
      kh: g.KH,
      sh: g.stride[0],
      dh: g.dilation[0],
    },
    groups: g.groups,
    params: {
      cinT: g.Cin,
      Hp,
      Wp,
      KH: g.KH,
      sh: g.stride[0],
      dh: g.dilation[0],
      cinG: cig,
      coutG: cog,
      coutP,
      N: g.N,
      OH: g.OH,
      OW: g.OW,
      coutT: g.Cout,
      YH: g.OH,
      YW: g.OW,
      osh: 1,
      osw: 1,
      orh: 0,
      orw: 0,
      rowOff: 0,
      colOff4: 0,
    },
  });
  release(xp, padded);
  release(wt);
}

/** Returns a temporary texture to the cache or disposes a temporary tensor (not `keep`). */
function release(t: Tensor | ConvTexture, keep?: Tensor): void {
  if (isTexture(t)) releaseTexture(t);
  else if (t !== keep) t.dispose();
}

function isTexture(t: Tensor | ConvTexture): t is ConvTexture {
  return "view" in t;
}

/**
 * The all-taps weight-gradient configuration for a geometry (`use`: whether the kernel is at
 * most 3x3, which it needs). Measured on lavapipe, 8 x 2 channels x 2 rows x 4 pixels was as
 * fast as any larger tile from buffers and the fastest from textures: the bigger tiles spill.
 */
function weightRowsConfig(g: ConvGeometry): WeightRowsConfig & { use: boolean } {
  const cig = g.Cin / g.groups, cog = g.Cout / g.groups;
  return {
    use: g.KH * g.KW <= 9,
    cob: cog >= 8 ? 8 : 4,
    cib: Math.min(cig, 2),
    kh: g.KH,
    kw: g.KW,
    sh: g.stride[0],
    sw: g.stride[1],
    dh: g.dilation[0],
    dw: g.dilation[1],
    py: g.OH % 2 === 0 ? 2 : 1,
    q: 1,
  };
}

/**
 * Tiled weight gradient (not depthwise): partial sums over row splits, then their sum. `x` is
 * the input, or with `isPadded` the {@link padInput} of it.
 */
export function tiledWeightGrad(
  gy: Tensor,
  x: Tensor,
  wShape: readonly number[],
  g: ConvGeometry,
  isPadded = false,
): Tensor {
  const cig = g.Cin / g.groups, cog = g.Cout / g.groups;
  const cfg: WeightTileConfig = {
    cob: cog >= 8 ? 8 : 4,
    cib: Math.min(cig, 4),
    kw: g.KW,
    sw: g.stride[1],
    dw: g.dilation[1],
  };
  const OWp4 = Math.ceil(g.OW / 4);
  const rc = weightRowsConfig(g);
  const { Hp, Wp } = padGeometry(g);
  // The texture path copies dy into a texture (the buffer path reads it in place): a pass that
  // does not pay off for the few multiply-adds of inputs with less than 4 channels (RGB).
  if (
    rc.use && !isPadded && cig >= 4 && convTexturesEnabled() &&
    inputTextureFits(g.N, g.Cin, Hp, Wp) && inputTextureFits(g.N, g.Cout, g.OH, OWp4 * 4)
  ) {
    const dyt = padToTexture(gy, g.N, g.Cout, g.OH, g.OW, g.OH, OWp4 * 4, 0, 0);
    const xt = padToTexture(x, g.N, g.Cin, g.H, g.W, Hp, Wp, g.padding[0], g.padding[1]);
    const out = weightGradRows(dyt, xt, wShape, g, rc, Hp, Wp);
    releaseTexture(dyt);
    releaseTexture(xt);
    return out;
  }
  const dyp = OWp4 * 4 === g.OW
    ? gy
    : padPlanes(gy, g.N * g.Cout, g.OH, g.OW, g.OH, OWp4 * 4, 0, 0);
  const xp = isPadded ? x : padInput(x, g);
  if (rc.use) {
    const out = weightGradRows(dyp, xp, wShape, g, rc, Hp, Wp);
    if (dyp !== gy) dyp.dispose();
    if (!isPadded) xp.dispose();
    return out;
  }
  const nco = Math.ceil(cog / cfg.cob), nci = Math.ceil(cig / cfg.cib);
  const perSplit = g.groups * nco * nci * g.KH;
  const nrows = g.N * g.OH;
  // Split the output rows so that there are enough threads to keep the adapter busy.
  const rowsPer = Math.ceil(nrows / Math.min(Math.ceil(4096 / perSplit), nrows));
  const splits = Math.ceil(nrows / rowsPer);
  const threads = splits * perSplit;
  const out = empty(splits > 1 ? [splits, ...wShape] : wShape, "f32", "conv2d_dw");
  kernel({
    name: `conv2d_dw_tiled_${cfg.cob}_${cfg.cib}_${cfg.kw}_${cfg.sw}_${cfg.dw}`,
    code: tiledWeightSource(cfg),
    constants: { WG: TWG },
  }).dispatch(
    [dyp, xp, out],
    [
      g.Cin,
      xp.shape[1],
      xp.shape[2] / 4,
      g.KH,
      g.stride[0],
      g.dilation[0],
      cig,
      cog,
      g.Cout,
      g.OH,
      OWp4,
      nco,
      nci,
      rowsPer,
      nrows,
      threads,
      g.groups,
      0,
      0,
      0,
    ],
    grid(Math.ceil(threads / TWG)),
  );
  if (dyp !== gy) dyp.dispose();
  if (!isPadded) xp.dispose();
  if (splits === 1) return out;
  const dw = empty(wShape, "f32", "conv2d_dw");
  const n = dw.size;
  kernel({ name: "conv2d_sum", code: sumSrc, constants: { WG: 256 } })
    .dispatch([out, dw], [n, splits], grid(Math.ceil(n / 256)));
  out.dispose();
  return dw;
}

/**
 * The all-taps weight gradient (conv2d_dw_rows.wgsl) from padded dy and x (`Hp` x `Wp`
 * planes), or from both as textures (conv2d_dw_rows_tex.wgsl).
 */
function weightGradRows(
  dyp: Tensor | ConvTexture,
  xp: Tensor | ConvTexture,
  wShape: readonly number[],
  g: ConvGeometry,
  c: WeightRowsConfig,
  Hp: number,
  Wp: number,
): Tensor {
  const cig = g.Cin / g.groups, cog = g.Cout / g.groups;
  const OWp4 = Math.ceil(g.OW / 4);
  const nco = Math.ceil(cog / c.cob), nci = Math.ceil(cig / c.cib);
  const perSplit = g.groups * nco * nci;
  const ngroups = g.N * g.OH / c.py;
  // Split the row groups so that there are enough threads to keep the adapter busy.
  const rowsPer = Math.ceil(ngroups / Math.min(Math.ceil(4096 / perSplit), ngroups));
  const splits = Math.ceil(ngroups / rowsPer);
  const threads = splits * perSplit;
  const out = empty(splits > 1 ? [splits, ...wShape] : wShape, "f32", "conv2d_dw");
  const name = `${c.cob}_${c.cib}_${c.kh}_${c.kw}_${c.sh}_${c.sw}_${c.dh}_${c.dw}_${c.py}_${c.q}`;
  const k = isTexture(xp)
    ? texKernel(
      `conv2d_dw_rows_tex_${name}`,
      () => tiledWeightRowsSource(c, true),
      ["tex-read", "tex-read", "read-write"],
      { WG: TWG },
    )
    : kernel({
      name: `conv2d_dw_rows_${name}`,
      code: tiledWeightRowsSource(c),
      constants: { WG: TWG },
    });
  k.dispatch(
    [dyp, xp, out] as (Tensor & ConvTexture)[],
    [
      g.Cin,
      Hp,
      Wp / 4,
      cig,
      cog,
      g.Cout,
      g.OH,
      OWp4,
      nco,
      nci,
      rowsPer,
      ngroups,
      threads,
      g.groups,
      0,
      0,
    ],
    grid(Math.ceil(threads / TWG)),
  );
  if (splits === 1) return out;
  const dw = empty(wShape, "f32", "conv2d_dw");
  kernel({ name: "conv2d_sum", code: sumSrc, constants: { WG: 256 } })
    .dispatch([out, dw], [dw.size, splits], grid(Math.ceil(dw.size / 256)));
  out.dispose();
  return dw;
}

/** Taps of one stride phase along one axis of the input gradient. */
interface PhaseAxis {
  /** Number of kernel taps that reach this phase. */
  m: number;
  /** The largest such tap (taps are kmax, kmax - stride, ...). */
  kmax: number;
  /** Output offset of tap kmax: dy index = phase index + base + tap number. */
  base: number;
  /** Input pixels of this phase. */
  n: number;
}

function phaseAxis(r: number, s: number, pad: number, k: number, size: number): PhaseAxis {
  const k0 = (r + pad) % s;
  const m = k0 < k ? Math.floor((k - 1 - k0) / s) + 1 : 0;
  const kmax = k0 + (m - 1) * s;
  return {
    m,
    kmax,
    base: m ? (r + pad - kmax) / s : 0,
    n: r < size ? Math.ceil((size - r) / s) : 0,
  };
}

/**
 * Input gradient (dilation 1) as one stride-1 tiled convolution per stride phase: the input
 * pixels (rh + i*sh, rw + j*sw) of a phase receive dy[i + base + m] through taps kmax - m*s,
 * read from a zero-padded dy with the weights transposed and flipped.
 */
export function tiledInputGrad(gy: Tensor, weight: Tensor, g: ConvGeometry, dx: Tensor): void {
  const [sh, sw] = g.stride, [ph, pw] = g.padding;
  const cig = g.Cin / g.groups, cog = g.Cout / g.groups;
  const hs = Array.from({ length: sh }, (_, r) => phaseAxis(r, sh, ph, g.KH, g.H));
  const ws = Array.from({ length: sw }, (_, r) => phaseAxis(r, sw, pw, g.KW, g.W));
  const phases: [PhaseAxis, PhaseAxis, number, number][] = [];
  for (let rh = 0; rh < sh; rh++) {
    for (let rw = 0; rw < sw; rw++) if (hs[rh].n && ws[rw].n) phases.push([hs[rh], ws[rw], rh, rw]);
  }
  const px = forwardPx(Math.ceil(g.W / sw));
  const top = Math.max(0, ...hs.filter((a) => a.m).map((a) => -a.base));
  const left = Math.max(0, ...ws.filter((a) => a.m).map((a) => -a.base));
  let Hp = g.OH + top, Wp = g.OW + left;
  for (const a of hs) if (a.m && a.n) Hp = Math.max(Hp, a.n + a.base + a.m - 1 + top);
  for (const b of ws) {
    if (!b.m || !b.n) continue;
    const at = b.base + left;
    const nv = tileLoads({ cob: 4, px, kw: b.m, sw: 1, dw: 1, shift: at % 4 });
    Wp = Math.max(Wp, (Math.ceil(b.n / px) - 1) * px + Math.floor(at / 4) * 4 + nv * 4);
  }
  Wp = roundUp(Wp, 4);
  // Textures when every phase with taps takes the multi-row tile and the sizes fit.
  const cigpTex = roundUp(cig, block(cig, true));
  // (Measured slower for inputs of less than 4 channels: few outputs per loaded value.)
  const tex = cig >= 4 && convTexturesEnabled() &&
    phases.every(([a, b]) => !(a.m * b.m) || rowsPerThread(a.n, a.m, b.m, true) > 1) &&
    inputTextureFits(g.N, g.Cout, Hp, Wp) &&
    phases.every(([a, b]) => weightTextureFits(g.Cout, a.m * b.m, cigpTex));
  const cob = block(cig, tex);
  const cigp = roundUp(cig, cob);
  const direct = top === 0 && left === 0 && Hp === g.OH && Wp === g.OW;
  const dyp = tex
    ? padToTexture(gy, g.N, g.Cout, g.OH, g.OW, Hp, Wp, top, left)
    : direct
    ? gy
    : padPlanes(gy, g.N * g.Cout, g.OH, g.OW, Hp, Wp, top, left);
  for (const [a, b, rh, rw] of phases) {
    const taps = a.m * b.m;
    const wargs: WeightArgs = [g.Cout, cog, cig, cigp, [a.m, b.m], [g.KH, g.KW], [a.kmax, b.kmax], [
      -sh,
      -sw,
    ], true];
    const wt = taps
      ? (tex ? tiledWeightsTexture(weight, ...wargs) : tiledWeights(weight, ...wargs))
      : null;
    const at = b.base + left;
    runTiled({
      // A phase without taps only writes zeros and reads nothing.
      xp: taps ? dyp : gy,
      wt: wt ?? weight,
      bias: null,
      any: gy,
      y: dx,
      cfg: {
        cob,
        px,
        kw: taps ? b.m : 0,
        sw: 1,
        dw: 1,
        shift: taps ? at % 4 : 0,
        py: rowsPerThread(a.n, a.m, b.m, tex),
        kh: a.m,
        sh: 1,
        dh: 1,
      },
      groups: g.groups,
      params: {
        cinT: g.Cout,
        Hp,
        Wp,
        KH: taps ? a.m : 0,
        sh: 1,
        dh: 1,
        cinG: cog,
        coutG: cig,
        coutP: cigp,
        N: g.N,
        OH: a.n,
        OW: b.n,
        coutT: g.Cin,
        YH: g.H,
        YW: g.W,
        osh: sh,
        osw: sw,
        orh: rh,
        orw: rw,
        rowOff: taps ? a.base + top : 0,
        colOff4: taps ? Math.floor(at / 4) : 0,
      },
    });
    if (wt) release(wt);
  }
  release(dyp, gy);
}
