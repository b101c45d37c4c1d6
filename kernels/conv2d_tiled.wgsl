// Tiled implicit-GEMM conv2d over a zero-padded input (conv2d_prep.wgsl), used for the
// forward pass and, one stride phase at a time, for the input gradient.
//
// Each thread computes COB output channels x PX consecutive output pixels of one row. Per
// (input channel, kernel row) it loads the input row segment it needs as a few aligned vec4s,
// then per kernel column the COB weights as vec4s (re-laid by conv2d_prep.wgsl `weights`), and
// does COB*PX*KW multiply-adds from registers. On software adapters every storage load costs
// as much as dozens of FMAs, so loads per FMA is what this layout minimizes.
//
// The tap loops must be fully unrolled with constant register indices, which WGSL cannot
// promise (a loop over a private array compiles to slow scratch memory on lavapipe), so
// conv2d_tiles.ts expands the marker lines for each (COB, PX, KW, SW, DW, SHIFT): `consts`
// defines the constants, `decl` declares the accumulators, `body` loads one row segment and
// does its FMAs, `store` writes the results through `put`.
//
// The output pixel (oh, ow) of this dispatch is stored at row oh*osh + orh, column
// ow*osw + orw of y (the forward uses 1, 0; a stride phase of the input gradient its phase).
override WG: u32 = 64u;
//@consts

struct P {
  cinT: i32, Hp: i32, Wp4: i32, KH: i32,
  sh: i32, dh: i32, cinG: i32, coutG: i32,
  coutP4: i32, nblk: i32, OH: i32, OW: i32,
  ngrp: i32, total: i32, hasBias: i32, coutT: i32,
  YH: i32, YW: i32, osh: i32, osw: i32,
  orh: i32, orw: i32, rowOff: i32, colOff4: i32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> xp: array<vec4f>;
@group(0) @binding(2) var<storage, read> wt: array<vec4f>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

fn put(ybase: i32, ohw: i32, g: i32, co0: i32, ow0: i32, c: i32, j: i32, v: f32) {
  let co = co0 + c;
  let ow = ow0 + j;
  if (co >= p.coutG || ow >= p.OW) { return; }
  var b = 0.0;
  if (p.hasBias != 0) { b = bias[g * p.coutG + co]; }
  y[ybase + c * ohw + ow * p.osw] = v + b;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let t = i32((wid.y * nwg.x + wid.x) * WG + lid);
  if (t >= p.total) { return; }
  let g = i32(wid.z) / p.nblk;
  let co0 = (i32(wid.z) % p.nblk) * COB;
  let rows = p.OH * p.ngrp;
  let n = t / rows;
  let rem = t - n * rows;
  let oh = rem / p.ngrp;
  let ow0 = (rem - oh * p.ngrp) * PX;
  let kk = p.KH * KW;
  var row = ((n * p.cinT + g * p.cinG) * p.Hp + oh * p.sh + p.rowOff) * p.Wp4 +
    ow0 * SW / 4 + p.colOff4;
  var wb = (g * p.cinG * kk) * p.coutP4 + co0 / 4;
  let rowStep = p.dh * p.Wp4;
  let planeStep = (p.Hp - p.KH * p.dh) * p.Wp4;
  let c4s = p.coutP4;
  //@decl
  for (var ci = 0; ci < p.cinG; ci++) {
    for (var kh = 0; kh < p.KH; kh++) {
      //@body
      row += rowStep;
      wb += KW * c4s;
    }
    row += planeStep;
  }
  let ohw = p.YH * p.YW;
  let ybase = (n * p.coutT + g * p.coutG + co0) * ohw + (oh * p.osh + p.orh) * p.YW + p.orw;
  //@store
}
