/**
 * The tiled conv2d path: zero-padding and weight re-layout (conv2d_prep.wgsl), the tiled
 * forward kernel (conv2d_tiled.wgsl, also run once per stride phase for the input gradient)
 * and the tiled weight-gradient kernel (conv2d_dw_tiled.wgsl). The kernels' `//@` marker lines
 * are expanded here into fully unrolled register-tile code for one configuration: WGSL has no
 * guaranteed unrolling, and on lavapipe a loop over a private array compiles to scratch memory,
 * several times slower than named registers.
 *
 * @module
 */
import tiledSrc from "./conv2d_tiled.wgsl" with { type: "text" };
import tiledWeightSrc from "./conv2d_dw_tiled.wgsl" with { type: "text" };
import prepSrc from "./conv2d_prep.wgsl" with { type: "text" };
import sumSrc from "./conv2d_sum.wgsl" with { type: "text" };
import { grid, kernel } from "./kernel.ts";
import { empty, type Tensor } from "../core/tensor.ts";
import { GpuError } from "../core/device.ts";
import type { ConvGeometry } from "./conv2d.ts";

const COMP = "xyzw";

/** One register-tile configuration of the tiled forward kernel. */
export interface TileConfig {
  /** Output channels per thread (multiple of 4). */
  cob: number;
  /** Output pixels per thread along a row (multiple of 4). */
  px: number;
  /** Kernel width (taps along the row); 0 gives a kernel that writes zeros. */
  kw: number;
  /** Input columns per output pixel (stride). */
  sw: number;
  /** Input columns between taps (dilation). */
  dw: number;
  /** Column of the first tap inside the first loaded vec4 (0..3). */
  shift: number;
}

/** vec4 loads a thread needs for one input row segment. */
export function tileLoads(c: TileConfig): number {
  return Math.floor((c.shift + (c.px - 1) * c.sw + (c.kw - 1) * c.dw) / 4) + 1;
}

function expand(code: string, parts: Record<string, string>): string {
  let out = code;
  for (const [k, v] of Object.entries(parts)) {
    if (!new RegExp(`^[ \\t]*//@${k}$`, "m").test(out)) {
      throw new Error(`conv2d template: no //@${k} marker`);
    }
    out = out.replace(new RegExp(`^([ \\t]*)//@${k}$`, "m"), (_m, ind) => ind + v);
  }
  return out;
}

/** WGSL of the tiled forward kernel for one configuration. */
export function tiledForwardSource(c: TileConfig): string {
  const c4 = c.cob / 4;
  const consts =
    `const COB = ${c.cob}; const PX = ${c.px}; const KW = ${c.kw}; const SW = ${c.sw};`;
  const decl: string[] = [];
  for (let j = 0; j < c.px; j++) {
    for (let q = 0; q < c4; q++) decl.push(`var a${j}_${q} = vec4f(0.0);`);
  }
  const body: string[] = [];
  if (c.kw > 0) {
    const nv = tileLoads(c);
    for (let v = 0; v < nv; v++) body.push(`let x${v} = xp[row + ${v}];`);
    for (let kw = 0; kw < c.kw; kw++) {
      for (let q = 0; q < c4; q++) {
        body.push(`{ let w = wt[wb + ${kw * c4 === 0 ? "" : `${kw} * c4s + `}${q}];`);
        for (let j = 0; j < c.px; j++) {
          const e = c.shift + j * c.sw + kw * c.dw;
          body.push(`  a${j}_${q} += w * x${e >> 2}.${COMP[e & 3]};`);
        }
        body.push(`}`);
      }
    }
  }
  const store: string[] = [];
  for (let q = 0; q < c4; q++) {
    for (let k = 0; k < 4; k++) {
      for (let j = 0; j < c.px; j++) {
        store.push(`put(ybase, ohw, g, co0, ow0, ${q * 4 + k}, ${j}, a${j}_${q}.${COMP[k]});`);
      }
    }
  }
  return expand(tiledSrc, {
    consts,
    decl: decl.join("\n  "),
    body: body.join("\n      "),
    store: store.join("\n  "),
  });
}

/** One register-tile configuration of the tiled weight-gradient kernel. */
export interface WeightTileConfig {
  /** Output channels per thread (multiple of 4). */
  cob: number;
  /** Input channels per thread. */
  cib: number;
  /** Kernel width. */
  kw: number;
  /** Stride along the row. */
  sw: number;
  /** Dilation along the row. */
  dw: number;
}

/** vec4 loads of x per input channel and 4 output pixels. */
export function weightTileLoads(c: WeightTileConfig): number {
  return Math.floor((3 * c.sw + (c.kw - 1) * c.dw) / 4) + 1;
}

/** WGSL of the tiled weight-gradient kernel for one configuration. */
export function tiledWeightSource(c: WeightTileConfig): string {
  const c4 = c.cob / 4;
  const nvx = weightTileLoads(c);
  const consts = `const COB = ${c.cob}; const CIB = ${c.cib}; const KW = ${c.kw};`;
  const decl: string[] = [];
  for (let c0 = 0; c0 < c.cob; c0++) {
    decl.push(`let d${c0} = (g * p.cog + min(co0 + ${c0}, clo)) * dyPlane;`);
  }
  for (let i = 0; i < c.cib; i++) {
    decl.push(`let c${i} = (g * p.cig + min(ci0 + ${i}, cli)) * xPlane;`);
  }
  for (let i = 0; i < c.cib; i++) {
    for (let kw = 0; kw < c.kw; kw++) {
      for (let q = 0; q < c4; q++) decl.push(`var a${i}_${kw}_${q} = vec4f(0.0);`);
    }
  }
  const body: string[] = [];
  for (let c0 = 0; c0 < c.cob; c0++) body.push(`let y${c0} = dy[dyRow + d${c0} + q];`);
  body.push(`let xq = xRow + q * ${c.sw};`);
  for (let i = 0; i < c.cib; i++) {
    body.push(`{`);
    for (let v = 0; v < nvx; v++) body.push(`  let x${v} = xp[xq + c${i} + ${v}];`);
    for (let kw = 0; kw < c.kw; kw++) {
      for (let q = 0; q < c4; q++) {
        const terms: string[] = [];
        for (let j = 0; j < 4; j++) {
          const e = j * c.sw + kw * c.dw;
          const yv = `vec4f(${[0, 1, 2, 3].map((k) => `y${q * 4 + k}.${COMP[j]}`).join(", ")})`;
          terms.push(`${yv} * x${e >> 2}.${COMP[e & 3]}`);
        }
        body.push(`  a${i}_${kw}_${q} += ${terms.join(" + ")};`);
      }
    }
    body.push(`}`);
  }
  const store: string[] = [];
  for (let i = 0; i < c.cib; i++) {
    for (let kw = 0; kw < c.kw; kw++) {
      for (let q = 0; q < c4; q++) {
        for (let k = 0; k < 4; k++) {
          store.push(
            `put(base, co0, ci0, ${q * 4 + k}, ${i}, ${kw}, a${i}_${kw}_${q}.${COMP[k]});`,
          );
        }
      }
    }
  }
  return expand(tiledWeightSrc, {
    consts,
    decl: decl.join("\n  "),
    body: body.join("\n      "),
    store: store.join("\n  "),
  });
}

/** Channels per thread of the tiled kernels: 16, 8 or 4, as the group allows. */
function block(channels: number): number {
  return channels >= 16 ? 16 : channels >= 8 ? 8 : 4;
}

const TWG = 64;

function roundUp(v: number, m: number): number {
  return Math.ceil(v / m) * m;
}

function prep(entry: "pad" | "weights", src: Tensor, dst: Tensor, params: number[]): void {
  const full = [dst.size, ...params];
  while (full.length < 16) full.push(0);
  kernel({ name: `conv2d_prep_${entry}`, code: prepSrc, entry, constants: { WG: 256 } })
    .dispatch([src, dst], full, grid(Math.ceil(dst.size / 256)));
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
  const xp = empty([planes, Hp, Wp], "f32", "conv2d_pad");
  prep("pad", x, xp, [H, W, Hp, Wp, top, left]);
  return xp;
}

/** Forward tile: pixels per thread along a row. */
function forwardPx(OW: number): number {
  return OW <= 4 ? 4 : 8;
}

/** Zero-padded x as the tiled forward and weight-gradient kernels read it. */
function paddedX(x: Tensor, g: ConvGeometry): Tensor {
  const sw = g.stride[1], [ph, pw] = g.padding, dw = g.dilation[1];
  const px = forwardPx(g.OW);
  const ngrp = Math.ceil(g.OW / px);
  const nv = tileLoads({ cob: 4, px, kw: g.KW, sw, dw, shift: 0 });
  const nvx = weightTileLoads({ cob: 4, cib: 1, kw: g.KW, sw, dw });
  const Wp = roundUp(
    Math.max(
      g.W + 2 * pw,
      (ngrp - 1) * px * sw + nv * 4,
      (Math.ceil(g.OW / 4) - 1) * 4 * sw + nvx * 4,
    ),
    4,
  );
  return padPlanes(x, g.N * g.Cin, g.H, g.W, g.H + 2 * ph, Wp, ph, pw);
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
  prep("weights", w, wt, [
    cinG,
    coutG,
    coutP,
    taps[0],
    taps[1],
    k[0],
    k[1],
    start[0],
    start[1],
    step[0],
    step[1],
    swap ? 1 : 0,
  ]);
  return wt;
}

interface TiledRun {
  /** Padded input planes. */
  xp: Tensor;
  /** Re-laid weights (or any tensor when there are no taps). */
  wt: Tensor;
  /** Bias (or any tensor). */
  bias: Tensor | null;
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
  const total = q.N * q.OH * ngrp;
  const nblk = q.coutP / r.cfg.cob;
  const z = r.groups * nblk;
  if (z > 65535) throw new GpuError(`conv2d: ${z} channel blocks exceed 65535`);
  const c = r.cfg;
  const [gx, gy] = grid(Math.ceil(total / TWG));
  kernel({
    name: `conv2d_tiled_${c.cob}_${c.px}_${c.kw}_${c.sw}_${c.dw}_${c.shift}`,
    code: tiledForwardSource(c),
    constants: { WG: TWG },
  }).dispatch(
    [r.xp, r.wt, r.bias ?? r.wt, r.y],
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

/** Tiled forward convolution into `y` (not depthwise). */
export function tiledForward(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  g: ConvGeometry,
  y: Tensor,
): void {
  const cig = g.Cin / g.groups, cog = g.Cout / g.groups;
  const cob = block(cog);
  const coutP = roundUp(cog, cob);
  const xp = paddedX(x, g);
  const wt = tiledWeights(weight, g.Cin, cig, cog, coutP, [g.KH, g.KW], [g.KH, g.KW], [0, 0], [
    1,
    1,
  ], false);
  runTiled({
    xp,
    wt,
    bias,
    y,
    cfg: { cob, px: forwardPx(g.OW), kw: g.KW, sw: g.stride[1], dw: g.dilation[1], shift: 0 },
    groups: g.groups,
    params: {
      cinT: g.Cin,
      Hp: xp.shape[1],
      Wp: xp.shape[2],
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
  xp.dispose();
  wt.dispose();
}

/** Tiled weight gradient (not depthwise): partial sums over row splits, then their sum. */
export function tiledWeightGrad(
  gy: Tensor,
  x: Tensor,
  wShape: readonly number[],
  g: ConvGeometry,
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
  const dyp = OWp4 * 4 === g.OW
    ? gy
    : padPlanes(gy, g.N * g.Cout, g.OH, g.OW, g.OH, OWp4 * 4, 0, 0);
  const xp = paddedX(x, g);
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
  xp.dispose();
  if (splits === 1) return out;
  const dw = empty(wShape, "f32", "conv2d_dw");
  const n = dw.size;
  kernel({ name: "conv2d_sum", code: sumSrc, constants: { WG: 256 } })
    .dispatch([out, dw], [n, splits], grid(Math.ceil(n / 256)));
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
  const cob = block(cig);
  const cigp = roundUp(cig, cob);
  const hs = Array.from({ length: sh }, (_, r) => phaseAxis(r, sh, ph, g.KH, g.H));
  const ws = Array.from({ length: sw }, (_, r) => phaseAxis(r, sw, pw, g.KW, g.W));
  const px = forwardPx(Math.ceil(g.W / sw));
  const top = Math.max(0, ...hs.filter((a) => a.m).map((a) => -a.base));
  const left = Math.max(0, ...ws.filter((a) => a.m).map((a) => -a.base));
  let Hp = g.OH + top, Wp = g.OW + left;
  for (const a of hs) if (a.m && a.n) Hp = Math.max(Hp, a.n + a.base + a.m - 1 + top);
  for (const b of ws) {
    if (!b.m || !b.n) continue;
    const at = b.base + left;
    const nv = tileLoads({ cob, px, kw: b.m, sw: 1, dw: 1, shift: at % 4 });
    Wp = Math.max(Wp, (Math.ceil(b.n / px) - 1) * px + Math.floor(at / 4) * 4 + nv * 4);
  }
  Wp = roundUp(Wp, 4);
  const direct = top === 0 && left === 0 && Hp === g.OH && Wp === g.OW;
  const dyp = direct ? gy : padPlanes(gy, g.N * g.Cout, g.OH, g.OW, Hp, Wp, top, left);
  for (let rh = 0; rh < sh; rh++) {
    for (let rw = 0; rw < sw; rw++) {
      const a = hs[rh], b = ws[rw];
      if (!a.n || !b.n) continue;
      const taps = a.m * b.m;
      const wt = taps
        ? tiledWeights(weight, g.Cout, cog, cig, cigp, [a.m, b.m], [g.KH, g.KW], [a.kmax, b.kmax], [
          -sh,
          -sw,
        ], true)
        : null;
      const at = b.base + left;
      runTiled({
        xp: dyp,
        wt: wt ?? weight,
        bias: null,
        y: dx,
        cfg: { cob, px, kw: taps ? b.m : 0, sw: 1, dw: 1, shift: taps ? at % 4 : 0 },
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
      wt?.dispose();
    }
  }
  if (dyp !== gy) dyp.dispose();
}
