// conv2d_tiled_rows.wgsl reading textures (software adapters, see conv2d_tex.ts): the padded
// input as texture xt (plane (n, c) row r at texel row c * Hp + r of layer n, Wp4 texels per
// row; conv2d_pad_tex.wgsl) and the re-laid weights as texture wt (texel (o4, ic * taps + tap);
// conv2d_prep_tex.wgsl). Same parameters, tile and output mapping as conv2d_tiled_rows.wgsl.
// conv2d_tiles.ts expands the marker lines (`consts`, `decl`, `body`, `store`).
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
@group(0) @binding(1) var xt: texture_storage_2d_array<rgba32float, read>;
@group(0) @binding(2) var wt: texture_storage_2d_array<rgba32float, read>;
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
  let xc = ow0 * SW / 4 + p.colOff4;
  var xr = g * p.cinG * p.Hp + oh0 * SH + p.rowOff;
  let wc = co0 / 4;
  var wr = g * p.cinG * KH * KW;
  //@decl
  for (var ci = 0; ci < p.cinG; ci++) {
    //@body
    xr += p.Hp;
    wr += KH * KW;
  }
  let ohw = p.YH * p.YW;
  let ybase = (n * p.coutT + g * p.coutG + co0) * ohw + (oh0 * p.osh + p.orh) * p.YW + p.orw;
  let yrow = p.osh * p.YW;
  //@store
}
