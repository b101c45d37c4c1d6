// Tiled implicit-GEMM conv2d like conv2d_tiled.wgsl, but each thread computes PY output rows
// (COB output channels x PY rows x PX pixels) with the KH x KW taps unrolled: per input
// channel it loads the (PY - 1) * SH + (KH - 1) * DH + 1 input row segments the tile needs
// once and every weight vec4 once, so small maps (4x4, 8x8) and strided layers do several
// times more multiply-adds per load than one row at a time. Same parameters and output
// mapping as conv2d_tiled.wgsl; OH must be a multiple of PY. conv2d_tiles.ts expands the
// marker lines (`consts`, `decl`, `body`, `store`) for each configuration.
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
  let rows = (p.OH / PY) * p.ngrp;
  let n = t / rows;
  let rem = t - n * rows;
  let ohb = rem / p.ngrp;
  let oh0 = ohb * PY;
  let ow0 = (rem - ohb * p.ngrp) * PX;
  let wp4 = p.Wp4;
  var row = ((n * p.cinT + g * p.cinG) * p.Hp + oh0 * SH + p.rowOff) * wp4 + ow0 * SW / 4 +
    p.colOff4;
  var wb = (g * p.cinG * KH * KW) * p.coutP4 + co0 / 4;
  let planeStep = p.Hp * wp4;
  let c4s = p.coutP4;
  let wStep = KH * KW * c4s;
  //@decl
  for (var ci = 0; ci < p.cinG; ci++) {
    //@body
    row += planeStep;
    wb += wStep;
  }
  let ohw = p.YH * p.YW;
  let ybase = (n * p.coutT + g * p.coutG + co0) * ohw + (oh0 * p.osh + p.orh) * p.YW + p.orw;
  let yrow = p.osh * p.YW;
  //@store
}
